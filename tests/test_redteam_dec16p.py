"""Red team, Dec 16 (P): an independent random program generator (straight-line numpy with
broadcasting over (n,1)/(1,m)/() shapes, reductions with axis/keepdims, kinks avoided, for/while
loops with data-dependent trip counts, if/else on Python and array values, module-level and nested
helpers, closures, list/dict accumulation, tuple unpacking, augmented assignment on arrays and
slices, names rebound to other shapes, concatenate/stack/reshape/transpose, matmul, index arrays,
math on floats, early returns; each program run through dlfeval and dlaccelerate, the latter with
other inputs of the same and of other shapes of the same rank), checked for values against plain
Python and gradients against central differences (also under the numexpr backend with every chain
fused, bit for bit, with float32 arguments, and through a dlaccelerate'd f called inside dlfeval).
About 3500 programs; none gave a silently wrong value or gradient from a compile of an unchanged
source.  What was found (fixed):

- (silently wrong gradient) a derivative rule is read from its file at its op's first use; a file
  changed after import (lines added above a user's sct.defrule; sct's own runtime/numpy_ops.py
  edited while a long process ran) gave the rule of the function now at the rule's old line:
  np.diff's gradient came from np.roll's rule (NameError 'shift', and in other programs plainly
  wrong numbers), a user's rule gave another function's derivative (100 for 2 cos x).  The text read
  is now compiled and compared with the rule's code, as a user's function is, and refused otherwise
  (runtime/registry.py _check_rule_source).
- (silently wrong gradient) a rule made in a factory (its closure read by its expression) read the
  module's global of the same name, or raised a NameError inside sct (sct/templates.py
  rule_namespace); and a user's rule's module global rebound after its caller was compiled left the
  compiled gradient with the old value (now guarded: sct/contributions.py guard_rule_globals).
- (internal error) a lambda registered as a rule: an AttributeError inside sct at its op's first use;
  now a TypeError when registered (runtime/registry.py).
- (silently ignored rule) sct.defrule(op, rule) took the rule for a second op and registered nothing;
  now a TypeError (sct/rules.py _looks_like_rule).  tests/test_issue10_errors2.py used that form (its
  "through defrule" programs ran without the rules): now decorators.

- np.triu / np.tril of a 1-d array (numpy makes the (n, n) matrix whose rows are the vector): the
  rule returned an (n, n) gradient for the (n,) input, a ValueError inside sct reported at the
  line before (runtime/numpy_ops.py triu/tril: the rows summed for a 1-d input).
- np.pad of a 0-d array (numpy returns its value, no axis padded): the rule indexed the 0-d
  cotangent, a ValueError inside sct (runtime/numpy_ops.py pad: the cotangent itself).
"""
import os
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(__file__))
from gradcheck import assert_close, numerical_gradient  # noqa: E402
from test_redteam_dec14i import check  # noqa: E402

import sct  # noqa: E402
from sct import dlarray, dlfeval, dlgradient, extractdata  # noqa: E402


def _value_and_grads(x, y, fun):
    loss = fun(x, y)
    gx, gy = dlgradient(loss, x, y)
    return loss, gx, gy


def check2(fun, x, y, accelerate=False):
    """Value against plain Python, both gradients against central differences."""
    x = np.array(x, dtype=float)
    y = np.array(y, dtype=float)
    if accelerate:
        run = sct.dlaccelerate(_value_and_grads)
        loss, gx, gy = run(dlarray(x.copy()), dlarray(y.copy()), fun)
    else:
        loss, gx, gy = dlfeval(_value_and_grads, dlarray(x.copy()), dlarray(y.copy()), fun)
    assert_close(extractdata(loss), fun(x.copy(), y.copy()), rtol=1e-12, atol=1e-12, what="value")
    plain = lambda a, b: fun(a.copy(), b.copy())
    assert_close(extractdata(gx), numerical_gradient(plain, [x.copy(), y.copy()], 0), what="d/dx")
    assert_close(extractdata(gy), numerical_gradient(plain, [x.copy(), y.copy()], 1), what="d/dy")


# --- np.triu / np.tril of a vector -----------------------------------------------------------------

def triu_of_row(x, y):
    v = x[-1] * 2.0
    return np.sum(np.triu(v) * np.arange(9).reshape(3, 3)) + np.sum(y)


def tril_of_row(x, y):
    v = x[-1] * 2.0
    return np.sum(np.tril(v, -1) * np.arange(9).reshape(3, 3)) + np.sum(y) * np.sum(v)


def triu_after_slice_write(x, y):
    # the generated program it was found in: the error was reported at the write's line
    v = x[-1]
    w = v.copy()
    w[::2] -= 1.0
    t = np.triu(w, 1)
    return np.sum(t * t) + np.sum(np.sin(y))


def triu_vector(x):
    return np.sum(np.sin(np.triu(x * x, 1)) * np.arange(16).reshape(4, 4))


@pytest.mark.parametrize("fun", [triu_of_row, tril_of_row, triu_after_slice_write])
@pytest.mark.parametrize("accelerate", [False, True])
def test_triu_tril_of_vector(fun, accelerate):
    rng = np.random.default_rng(3)
    check2(fun, rng.standard_normal((2, 3)), rng.standard_normal((1, 4)), accelerate)


def test_triu_vector_second_order():
    check(triu_vector, np.array([0.3, -0.7, 1.1, 0.4]))


# --- np.pad of a 0-d array ---------------------------------------------------------------------------

def pad_of_scalar(x, y):
    s = np.sum(x * y)
    p = np.pad(s, 1)
    return np.sum(p * p) + np.sum(np.pad(np.sum(y), 2, mode="edge")) * 3.0


def pad_scalar_one(x):
    return np.sum(np.pad(np.sum(x ** 2), 1) ** 3)


@pytest.mark.parametrize("accelerate", [False, True])
def test_pad_of_0d(accelerate):
    check2(pad_of_scalar, [0.3, -0.2, 0.8], [1.1, 0.4, -0.6], accelerate)


def test_pad_of_0d_second_order():
    check(pad_scalar_one, np.array([0.3, -0.7, 1.1]))


# --- a derivative rule read from a file changed after its module was imported -----------------------
# Found while the generator ran in a long process during an edit of runtime/numpy_ops.py (lines
# added above np.diff's rule): np.diff's gradient was then read from the text now at its old line,
# np.roll's rule (NameError 'shift', and elsewhere a silently wrong gradient).  Rules are read
# lazily, at their op's first use, so the same happens to a user's sct.defrule whose file is
# edited (lines added above it) after import: the derivative of another function, silently.
# Now the text read is compiled and compared with the rule's code, as a user's function is.

_RULE_MODULE = '''import numpy as np
import sct

def {op}(x):
    return np.sin(x) * 2.0

def unrelated(g, ans, x):
    return g * 100.0

@sct.defrule({op})
def {op}_rule(g, ans, x):
    return g * np.cos(x) * 2.0
'''

_USER_MODULE = '''import numpy as np
from sct import dlgradient
import {mod}

def f(x):
    y = np.sum({mod}.{op}(x))
    return y, dlgradient(y, x)
'''


def _load(path, name):
    import importlib.util
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("edit", ["none", "lines_above", "rule_body"])
def test_defrule_file_edited_after_import(tmp_path, edit):
    op = f"myop_{edit}"
    mod = f"redteam16p_rules_{edit}"
    rules = tmp_path / f"{mod}.py"
    rules.write_text(_RULE_MODULE.format(op=op))
    user = tmp_path / f"redteam16p_user_{edit}.py"
    user.write_text(_USER_MODULE.format(mod=mod, op=op))
    _load(str(rules), mod)
    try:
        used = _load(str(user), f"redteam16p_user_{edit}")
        text = rules.read_text()
        if edit == "lines_above":       # an editor adding lines above the rule, no reload
            rules.write_text(text.replace(f"def {op}(x):", f"# one\n# two\n# three\ndef {op}(x):"))
        elif edit == "rule_body":
            rules.write_text(text.replace("g * np.cos(x) * 2.0", "g * np.cos(x) * 3.0"))
        x = np.array([0.3, 1.0])
        if edit == "none":
            _, g = dlfeval(used.f, dlarray(x))
            assert_close(extractdata(g), 2.0 * np.cos(x), rtol=1e-12, what="rule")
        else:
            # was [100, 100] (lines above: the function three lines up) or 3 cos(x) (the new text)
            with pytest.raises(sct.SctError, match="not the code that runs"):
                dlfeval(used.f, dlarray(x))
    finally:
        sys.modules.pop(mod, None)
        sys.modules.pop(f"redteam16p_user_{edit}", None)


# --- a derivative rule reading a variable of the function that made it -------------------------------
# The rule's expression is put into the generated code; a name it reads was looked up in the rule's
# module globals only: a rule made in a factory read the module's global of that name (the gradient of
# make_scaled(3.0) came out with k = 1.0, a third of the right one) or raised a NameError inside sct.
# Now the rule's closure is read first (sct/templates.py rule_namespace).

k = 1.0            # a module global of the same name as the factory's parameter


def make_scaled(k):
    def scaled_sin(x):
        return np.sin(x) * k

    @sct.defrule(scaled_sin)
    def scaled_sin_rule(g, ans, x):
        return g * np.cos(x) * k
    return scaled_sin


scaled3 = make_scaled(3.0)


def make_shifted(c):
    def shifted_cube(x):
        return (x + c) ** 3

    @sct.defrule(shifted_cube)
    def shifted_cube_rule(g, ans, x):
        return g * 3 * (x + c) ** 2
    return shifted_cube


shifted = make_shifted(0.5)


def closure_rule_loss(x, y):
    return np.sum(scaled3(x) * y) + np.sum(shifted(y) * x)


def closure_rule_single(x):
    return np.sum(np.sin(scaled3(x))) + np.sum(shifted(x) ** 2)


@pytest.mark.parametrize("accelerate", [False, True])
def test_closure_rule(accelerate):
    # was: d/dx a third of the right one (the global k), and a NameError for c
    check2(closure_rule_loss, [0.3, -0.7, 1.1], [0.4, 0.9, -0.2], accelerate)


def scaled_only_loss(x, y):
    return np.sum(scaled3(x) * y)


def test_closure_rule_shadowing_global():
    # was silently wrong: 1 * cos(x) * y (the module's k) for 3 * cos(x) * y
    check2(scaled_only_loss, [0.3, -0.7, 1.1], [0.4, 0.9, -0.2])


def test_closure_rule_second_order():
    check(closure_rule_single, np.array([0.3, -0.7, 1.1]))


def test_closure_rule_jvp():
    x = np.array([0.3, -0.7, 1.1])
    v = np.array([1.0, -2.0, 0.5])
    _, tangent = sct.jvp(closure_rule_single, (x,), (v,))
    want = numerical_gradient(closure_rule_single, [x.copy()], 0) @ v
    assert_close(np.asarray(extractdata(tangent) if hasattr(tangent, "data") else tangent), want, what="jvp")


# --- a derivative rule reading a module global that is rebound later -----------------------------------
# The global's value is put into the compiled code when the caller is compiled (rt.user_K); the
# caller's guards checked the globals the caller reads, not those its ops' rules read: after K = 5.0 the
# value was 5 sin x, the gradient still 3 cos x (dlaccelerate's new entry was right).  Now a user's
# rule's globals are guarded like the caller's own (sct/contributions.py guard_rule_globals).

K_RULE = 3.0


def k_scaled(x):
    return np.sin(x) * K_RULE


@sct.defrule(k_scaled)
def _k_scaled_rule(g, ans, x):
    return g * np.cos(x) * K_RULE


def k_scaled_loss(x):
    return np.sum(k_scaled(x))


@pytest.mark.parametrize("accelerate", [False, True])
def test_rule_global_rebound(accelerate):
    global K_RULE
    x = np.array([0.3, 1.0])
    run = sct.dlaccelerate(_gradient_of) if accelerate else (lambda a: dlfeval(_gradient_of, a))
    try:
        _, g = run(dlarray(x))
        assert_close(extractdata(g), 3.0 * np.cos(x), rtol=1e-12, what="before")
        K_RULE = 5.0
        _, g = run(dlarray(x))
        assert_close(extractdata(g), 5.0 * np.cos(x), rtol=1e-12, what="after K_RULE = 5.0")
    finally:
        K_RULE = 3.0


def _gradient_of(x):
    y = k_scaled_loss(x)
    return y, dlgradient(y, x)


def test_rule_global_rebound_forward_mode():
    # (forward mode reads the same rule: its tangent kept K_RULE = 3 after the rebinding too)
    global K_RULE
    x, v = np.array([0.3, 1.0]), np.array([1.0, -2.0])
    try:
        _, t = sct.jvp(k_scaled_loss, (x,), (v,))
        assert_close(np.asarray(extractdata(t)), 3.0 * np.cos(x) @ v, rtol=1e-12, what="before")
        K_RULE = 5.0
        _, t = sct.jvp(k_scaled_loss, (x,), (v,))
        assert_close(np.asarray(extractdata(t)), 5.0 * np.cos(x) @ v, rtol=1e-12, what="after K_RULE = 5.0")
    finally:
        K_RULE = 3.0


# --- a lambda given as a derivative rule -----------------------------------------------------------------
# Its expression is read from the source as a def's single return: a lambda gave an AttributeError
# inside sct ("'Expr' object has no attribute 'body'") at its op's first use.  Now refused when registered.

def test_lambda_rule_refused_when_registered():
    def cube(x):
        return x ** 3
    with pytest.raises(TypeError, match="not a lambda"):
        sct.defrule(cube)(lambda g, ans, x: g * 3 * x ** 2)


# --- sct.defrule(op, rule): both taken for ops ------------------------------------------------------------
# defrule takes the ops and returns the decorator; sct.defrule(op, rule) registered no rule (the rule was
# taken for a second op), silently: a Python op was differentiated from its source instead (a
# straight-through estimator's round gave zero gradients, not the identity the rule says).  Now refused.

def test_defrule_given_the_rule_as_an_argument_refused():
    def qround(x):
        return np.round(x * 4.0) / 4.0

    def ste(g, ans, x):
        return g

    with pytest.raises(TypeError, match="takes \\(g, ans, ...\\) like a rule"):
        sct.defrule(qround, ste)
    assert sct.runtime.registry.lookup(qround) is None
