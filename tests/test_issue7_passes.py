"""Issue 7 item 4: the reverse pass is separate passes with explicit inputs and frozen plans.

The passes are objects (no mixins sharing one ``self``), each under ~300 lines; what analysis
hands the emitters is frozen; ``Transformer.build`` runs the pipeline.
"""
import ast
import dataclasses
import inspect

import numpy as np
import pytest

import sct
from sct import adjoints, calls, complex_adjoints, contributions, forward_code, generation, \
    liveness, plans, reverse, site_checks, sites, sweeps
from sct.runtime.dlarray import dlarray
from sct import dlfeval, dlgradient

from gradcheck import assert_close, numerical_gradient

PASSES = [sites.SiteFinding, site_checks.SiteChecks, liveness.Liveness, calls.CallLowering,
          complex_adjoints.ComplexProjection, contributions.Contributions,
          adjoints.StatementAdjoints, forward_code.ForwardCode, sweeps.Sweeps,
          generation.Generation, reverse.Transformer]


@pytest.mark.parametrize("cls", PASSES, ids=lambda c: c.__name__)
def test_each_pass_is_its_own_class_under_300_lines(cls):
    source = inspect.getsource(cls)
    assert len(source.splitlines()) <= 300, cls.__name__
    # no mixins: a pass inherits at most the emitting passes' small base, never another pass
    assert set(cls.__mro__[1:]) <= {object, generation.EmitPass}, cls.__mro__


def test_transformer_composes_no_passes():
    assert reverse.Transformer.__bases__ == (object,)
    tree = ast.parse(inspect.getsource(reverse.Transformer))
    methods = [n.name for n in tree.body[0].body if isinstance(n, ast.FunctionDef)]
    assert methods == ["__init__", "build", "generation"]


@pytest.mark.parametrize("cls", [plans.FunctionFacts, plans.TapePlan, plans.SweepPlan, plans.SweepScope, sites.Site,
                                 sites.SiteOptions, calls.VjpCall], ids=lambda c: c.__name__)
def test_plans_are_frozen(cls):
    assert dataclasses.is_dataclass(cls) and cls.__dataclass_params__.frozen


def _loss(w, x):
    y = 0.0
    for i in range(3):
        if i > 0:
            y = y + np.sum(np.tanh(w * x) ** 2)
    g = dlgradient(y, w)
    return y, g


def test_function_facts_and_sites_of_a_function():
    from sct.parse import function_ast
    fdef, filename, _ = function_ast(_loss)
    facts = sites.function_facts(fdef, filename)
    assert facts.params == ("w", "x") and facts.fname == "_loss"
    assert {"y", "g", "i"} <= facts.stored and facts.line == fdef.lineno
    assert "y" in facts.assigned_in_compounds and "g" not in facts.assigned_in_compounds
    with pytest.raises(dataclasses.FrozenInstanceError):
        facts.params = ()
    with pytest.raises(TypeError):
        facts.def_order["y"] = 0        # read-only mappings


def test_pipeline_output_matches_plain_python_and_its_gradient():
    w0 = np.array([0.3, -0.2, 0.5])
    x0 = np.array([1.0, 2.0, -1.5])
    y, g = dlfeval(_loss, dlarray(w0), dlarray(x0))

    def plain(w, x):
        y = 0.0
        for i in range(3):
            if i > 0:
                y = y + np.sum(np.tanh(w * x) ** 2)
        return y
    assert_close(np.asarray(y.data if hasattr(y, "data") else y), plain(w0, x0))
    assert_close(np.asarray(g.data if hasattr(g, "data") else g), numerical_gradient(plain, [w0, x0], 0),
                 rtol=1e-6)
    # the source is the same compiled twice: pass A's names are given back
    first = str(sct.source(_loss, dlarray(w0), dlarray(x0)))
    assert "_dlgradient_line" in first and first == str(sct.source(_loss, dlarray(w0), dlarray(x0)))
