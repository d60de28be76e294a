"""Issue 10: every public name has a docstring with a runnable example; dir(sct) lists no internal module."""
import doctest

import numpy as np
import pytest

import sct

INTERNAL = ["aliasing", "analysis", "api", "cache", "callables", "compiler", "emit", "errors", "ir", "kinds",
            "naming", "normalize", "parse", "reverse", "rules", "runtime", "transform_calls"]


def _globs():
    return {"np": np, "sct": sct, **{name: getattr(sct, name) for name in sct.__all__}}


@pytest.mark.parametrize("name", sct.__all__)
def test_public_name_has_docstring_with_example(name):
    doc = getattr(sct, name).__doc__
    assert doc and ">>>" in doc, f"sct.{name} has no docstring example"


def test_dir_lists_no_internal_module():
    listed = dir(sct)
    assert not [name for name in INTERNAL if name in listed]
    assert set(sct.__all__) <= set(listed) and "__version__" in listed
    assert sct.cache is not None and sct.runtime is not None  # still importable as attributes


@pytest.mark.parametrize("name", sct.__all__)
def test_public_doctests_pass(name):
    if name == "load_digits":
        pytest.importorskip("sklearn")
    obj = getattr(sct, name)
    finder = doctest.DocTestFinder(recurse=False)
    runner = doctest.DocTestRunner(optionflags=doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS)
    tests = finder.find(obj, f"sct.{name}", globs=_globs())
    assert tests and any(t.examples for t in tests)
    for test in tests:
        runner.run(test)
    result = runner.summarize(verbose=False)
    assert result.failed == 0, f"doctest of sct.{name} failed"
