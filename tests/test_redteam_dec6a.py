"""Red team (Dec 6a): programs written the way users write them -- parameters in dicts, lists of dicts,
objects, dataclasses (frozen and not), NamedTuples; layers calling layers (``__call__``, inheritance,
``super()``); closures and factories; lambdas stored in dicts; default arguments; in-place writes;
globals changed between calls; recursion; generators; several outputs; gradients with respect to
nested structures; nested dlfeval; dlaccelerate; second derivatives.  The programs live in
tests/redteam_dec6a_progs.py.  For each: sct's value equals plain Python's (the same function run on
numpy arrays), the gradient with respect to every float leaf of the parameter structure matches
central differences (tests/gradcheck.py), and the Hessian along a direction (nested dlgradient)
matches the central difference of sct's checked gradient.
"""
from __future__ import annotations

import copy
import functools

import numpy as np
import pytest

import sct
from sct import dlarray, dlfeval, dlgradient, extractdata
from gradcheck import numerical_gradient

import redteam_dec6a_progs as P
from redteam_dec6a_tree import leaves, mirror, paired_leaves, replace_leaves, tmap


pytestmark = pytest.mark.usefixtures("fresh_cache")   # tests/conftest.py


def _k1(f, params, *consts):
    y = f(params, *consts)
    return y, dlgradient(y, params)


def _k2(f, vs, params, *consts):
    y = f(params, *consts)
    g = dlgradient(y, params, EnableHigherDerivatives=True)
    return dlgradient(P.vdot(g, vs), params)


def _dl(params):
    return tmap(lambda a: dlarray(np.array(a, copy=True)), copy.deepcopy(params))


def _data(v):
    return np.asarray(extractdata(v)) if type(v).__name__ == "dlarray" else np.asarray(v)


def sct_value_grad(f, params, consts):
    y, g = dlfeval(_k1, f, _dl(params), *copy.deepcopy(consts))
    return float(_data(y)), [_data(v) for v in paired_leaves(params, g)]


def plain_value(f, params, consts):
    return float(np.real(f(copy.deepcopy(params), *copy.deepcopy(consts))))


def numeric_grads(f, params, consts, step=1e-6):
    flat = [np.array(v, dtype=np.float64) for v in leaves(params)]

    def at(*vs):
        return plain_value(f, replace_leaves(params, [np.asarray(v, dtype=np.asarray(o).dtype) if np.ndim(o)
                                                      else type(o)(v) for v, o in zip(vs, leaves(params))]),
                           consts)
    return [numerical_gradient(at, flat, k, step) for k in range(len(flat))]


def check_first(name):
    f, build, opts = P.CASES[name]
    params, consts = build()
    want = plain_value(f, params, consts)
    got, grads = sct_value_grad(f, params, consts)
    np.testing.assert_allclose(got, want, rtol=opts.get("rtol", 1e-10), atol=1e-12, err_msg=f"{name}: value")
    num = numeric_grads(f, params, consts, opts.get("step", 1e-6))
    assert len(grads) == len(num), f"{name}: {len(grads)} gradient leaves, {len(num)} parameters"
    for k, (g, n) in enumerate(zip(grads, num)):
        assert g.shape == n.shape, f"{name}: leaf {k} shape {g.shape} != {n.shape}"
        np.testing.assert_allclose(g, n, rtol=opts.get("grtol", 1e-5), atol=opts.get("gatol", 1e-6),
                                   err_msg=f"{name}: gradient leaf {k}")
    # the cached code, again with other values
    params2 = tmap(lambda a: (a * 0.9 + 0.05).astype(np.asarray(a).dtype) if np.ndim(a)
                   else type(a)(a * 0.9 + 0.05), params)
    got2, _ = sct_value_grad(f, params2, consts)
    np.testing.assert_allclose(got2, plain_value(f, params2, consts), rtol=opts.get("rtol", 1e-10), atol=1e-12,
                               err_msg=f"{name}: value, second call")


def check_second(name):
    f, build, opts = P.CASES[name]
    params, consts = build()
    rng = np.random.default_rng(7)
    vs = [rng.standard_normal(np.shape(v)) for v in leaves(params)]
    h = dlfeval(_k2, f, mirror(params, vs), _dl(params), *copy.deepcopy(consts))
    got = [_data(v) for v in paired_leaves(params, h)]
    eps = 1e-5

    def moved(sign):
        return replace_leaves(params, [np.asarray(a + sign * eps * v) if np.ndim(a) else type(a)(a + sign * eps * v)
                                       for a, v in zip(leaves(params), vs)])
    up = sct_value_grad(f, moved(1), consts)[1]
    down = sct_value_grad(f, moved(-1), consts)[1]
    for k, (g, u, d) in enumerate(zip(got, up, down)):
        np.testing.assert_allclose(g, (u - d) / (2 * eps), rtol=1e-4, atol=1e-4, err_msg=f"{name}: Hv leaf {k}")


FIRST = sorted(n for n, (_, _, o) in P.CASES.items() if "refused" not in o)
SECOND = sorted(n for n in FIRST if P.CASES[n][2].get("second", True))
REFUSED = sorted(n for n, (_, _, o) in P.CASES.items() if "refused" in o)


@pytest.mark.parametrize("name", FIRST)
def test_value_and_gradient(name):
    check_first(name)


@pytest.mark.parametrize("name", SECOND)
def test_hessian_vector(name):
    check_second(name)


def _line_of(fn, text):
    import inspect
    lines, start = inspect.getsourcelines(fn)
    return next(start + i for i, line in enumerate(lines) if text in line and not line.lstrip().startswith("@"))


@pytest.mark.parametrize("name", REFUSED)
def test_refused_at_the_users_line(name):
    f, build, opts = P.CASES[name]
    params, consts = build()
    fn, text = opts["refused"]
    fn = fn or f
    with pytest.raises((sct.CompileError, sct.EvaluationError)) as info:
        sct_value_grad(f, params, consts)
    assert info.value.filename == P.__file__, str(info.value)
    assert info.value.lineno == _line_of(fn, text), str(info.value)
    assert "positionally" not in str(info.value) and "rt." not in str(info.value), str(info.value)


# ================================================================================ tests of their own
def _fd(fun, arrays, k, step=1e-6):
    return numerical_gradient(lambda *vs: float(fun(*vs)), [np.array(a, dtype=float) for a in arrays], k, step)


def _globals_kernel(x):
    y = P.uses_globals(x)
    return y, dlgradient(y, x)


_CHANGES = [
    ("SCALE", lambda: setattr(P, "SCALE", 3.0)),
    ("ACT", lambda: setattr(P, "ACT", np.sin)),
    ("TABLE item", lambda: P.TABLE.__setitem__("f", lambda z: z ** 3)),
    ("WEIGHTS item", lambda: P.WEIGHTS.__setitem__(1, 5.0)),
    ("SHIFT in place", lambda: P.SHIFT.__setitem__(slice(None), [1.0, -2.0, 0.5])),
    ("SCALE back", lambda: setattr(P, "SCALE", 2.0)),
]


def test_globals_changed_between_calls():
    saved = (P.SCALE, P.ACT, dict(P.TABLE), list(P.WEIGHTS), P.SHIFT.copy())
    x = R = np.random.default_rng(300).uniform(-1, 1, 3)
    try:
        for what, change in [("start", lambda: None)] + _CHANGES:
            change()
            y, g = dlfeval(_globals_kernel, dlarray(x.copy()))
            np.testing.assert_allclose(float(_data(y)), float(P.uses_globals(x.copy())), rtol=1e-12,
                                       err_msg=f"after {what}: value")
            np.testing.assert_allclose(_data(g), _fd(P.uses_globals, [x], 0), rtol=1e-5, atol=1e-6,
                                       err_msg=f"after {what}: gradient")
    finally:
        P.SCALE, P.ACT = saved[0], saved[1]
        P.TABLE.clear()
        P.TABLE.update(saved[2])
        P.WEIGHTS[:] = saved[3]
        P.SHIFT[:] = saved[4]


@pytest.mark.parametrize("make", [
    lambda: 0.7, lambda: np.float64(0.7), lambda: np.array(0.7), lambda: np.array([0.7, -0.2]),
    lambda: np.array([[0.7, -0.2], [0.1, 0.4]]), lambda: np.array([0.7, -0.2], dtype=np.float32),
    lambda: np.float32(0.3)], ids=["float", "np.float64", "0-d", "1-d", "2-d", "float32 1-d", "np.float32"])
def test_one_function_many_argument_kinds(make):
    # one cache, several kinds of x: each value and gradient that of its own kind
    for x0 in (make(), make()):
        x = np.asarray(x0)
        y, g = dlfeval(P.typed_kernel, dlarray(x0))
        want = P.typed_poly(x.astype(np.float64))
        rtol = 1e-6 if x.dtype == np.float32 else 1e-12
        np.testing.assert_allclose(float(_data(y)), float(want), rtol=rtol)
        np.testing.assert_allclose(_data(g), 6.0 * x + np.cos(x), rtol=rtol * 10, atol=1e-6)
        assert _data(g).shape == x.shape and _data(g).dtype == x.dtype


@pytest.mark.parametrize("kind", [list, tuple])
def test_list_and_tuple_of_arrays_argument(kind):
    xs = kind([np.array([0.5, -1.0]), np.array([[0.3, 0.2], [0.1, -0.4]]), np.array(0.8)])
    y, g = dlfeval(P.list_arg_kernel, kind(dlarray(v.copy()) for v in xs))
    plain = lambda a, b, c: sum([np.sum(v ** 2) for v in (a, b, c)]) * a[0]
    np.testing.assert_allclose(float(_data(y)), plain(*xs), rtol=1e-12)
    assert type(g) is kind and len(g) == 3
    for k in range(3):
        np.testing.assert_allclose(_data(g[k]), _fd(plain, list(xs), k), rtol=1e-5, atol=1e-6)


def test_several_outputs_and_structures_as_x():
    rng = np.random.default_rng(301)
    p = {"W": rng.uniform(-1, 1, (3, 2)), "b": rng.uniform(-1, 1, 2)}
    x = rng.uniform(-1, 1, (4, 3))
    y1, y2, g1, g2W, g2b, g3, g4 = dlfeval(P.several_outputs, {k: dlarray(v.copy()) for k, v in p.items()}, x)
    v1, v2 = P._several_plain(p, x)
    np.testing.assert_allclose([float(_data(y1)), float(_data(y2))], [v1, v2], rtol=1e-12)
    f1 = lambda W, b: P._several_plain({"W": W, "b": b}, x)[0]
    f2 = lambda W, b: P._several_plain({"W": W, "b": b}, x)[1]
    f12 = lambda W, b: f1(W, b) + f2(W, b)
    fm = lambda W, b: f1(W, b) * f2(W, b)
    A = [p["W"], p["b"]]
    close = functools.partial(np.testing.assert_allclose, rtol=1e-5, atol=1e-6)
    close(_data(g1["W"]), _fd(f1, A, 0)); close(_data(g1["b"]), _fd(f1, A, 1))
    close(_data(g2W), _fd(f2, A, 0)); close(_data(g2b), _fd(f2, A, 1))
    assert isinstance(g3, list)
    close(_data(g3[0]), _fd(f12, A, 0)); close(_data(g3[1]), _fd(f12, A, 1))
    close(_data(g4["bias"]), _fd(fm, A, 1))
    close(_data(g4["both"][0]), _fd(fm, A, 0)); close(_data(g4["both"][1]), _fd(fm, A, 1))


def test_dlfeval_inside_dlfeval():
    w = np.array([0.3, -0.8, 1.1])
    x = np.array([1.5, 0.4, -0.7])
    z, g = dlfeval(P.outer_with_inner_dlfeval, dlarray(w.copy()), x)
    # the inner gradient of sum(sin(w x)^2) is sin(2 w x) x, a function of w when traced through
    inner_g = lambda w: np.sin(2 * w * x) * x
    plain = lambda w: np.sum(w ** 3) + np.sum(inner_g(w) * x)
    np.testing.assert_allclose(float(_data(z)), plain(w), rtol=1e-12)
    np.testing.assert_allclose(_data(g), _fd(plain, [w], 0), rtol=1e-5, atol=1e-6)


def test_dlaccelerate_inside_and_around():
    rng = np.random.default_rng(302)
    w, x = rng.uniform(-1, 1, (3, 2)), rng.uniform(-1, 1, (4, 3))
    plain = lambda w: np.sum(np.tanh(x @ w) ** 2)
    for fun in (P.accelerated_loss, sct.dlaccelerate(P.accelerated_loss)):
        for _ in range(2):
            y, g = dlfeval(fun, dlarray(w.copy()), x)
            np.testing.assert_allclose(float(_data(y)), plain(w), rtol=1e-12)
            np.testing.assert_allclose(_data(g), _fd(plain, [w], 0), rtol=1e-5, atol=1e-6)


def test_gradient_penalty_with_respect_to_a_dict():
    rng = np.random.default_rng(303)
    p = {"W": rng.uniform(-1, 1, (3, 2)), "s": np.float64(0.7)}
    x = rng.uniform(-1, 1, (4, 3))
    pen, g = dlfeval(P.gradient_penalty, {"W": dlarray(p["W"].copy()), "s": dlarray(p["s"])}, x)
    f = lambda W, s: P._penalty_plain_grad({"W": W, "s": s}, x)
    np.testing.assert_allclose(float(_data(pen)), f(p["W"], p["s"]), rtol=1e-12)
    np.testing.assert_allclose(_data(g["W"]), _fd(f, [p["W"], p["s"]], 0), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(_data(g["s"]), _fd(f, [p["W"], p["s"]], 1), rtol=1e-5, atol=1e-6)


def test_maml_second_order_through_a_dict_comprehension():
    rng = np.random.default_rng(304)
    W, b = rng.uniform(-1, 1, (3, 2)), rng.uniform(-1, 1, 2)
    x, t = rng.uniform(-1, 1, (4, 3)), rng.uniform(-1, 1, (4, 2))
    outer, g = dlfeval(P.maml, {"W": dlarray(W.copy()), "b": dlarray(b.copy())}, x, t)
    np.testing.assert_allclose(float(_data(outer)), P.maml_plain(W, b, x, t), rtol=1e-12)
    f = lambda W, b: P.maml_plain(W, b, x, t)
    np.testing.assert_allclose(_data(g["W"]), _fd(f, [W, b], 0), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(_data(g["b"]), _fd(f, [W, b], 1), rtol=1e-5, atol=1e-6)


def test_class_attribute_counter_runs_as_often_as_in_python():
    w, x = np.array([0.3, -0.2]), np.array([1.0, 2.0])
    before = P.Adder.count
    y, g = dlfeval(P.stateful_class_counter, dlarray(w.copy()), x)
    assert P.Adder.count - before == 3
    plain = lambda w: np.sum((x + w) ** 2) + np.sum(x + 2 * w)
    np.testing.assert_allclose(float(_data(y)), plain(w), rtol=1e-12)
    np.testing.assert_allclose(_data(g), _fd(plain, [w], 0), rtol=1e-5, atol=1e-6)


def test_dlgradient_in_a_dict_comprehension_is_exact():
    """``{k: dlgradient(y, v) for k, v in p.items()}``: refused at its line until s53, where the loop's value is
    taken as the item ``p[k]`` (ho53, red team 53h FR4): each gradient is the closed form's."""
    rng = np.random.default_rng(305)
    p = {"W": rng.uniform(-1, 1, (3, 2)), "b": rng.uniform(-1, 1, 2)}
    x = rng.uniform(-1, 1, (4, 3))
    g = dlfeval(P.grads_in_comprehension_kernel, {k: dlarray(v.copy()) for k, v in p.items()}, x)
    assert list(g) == ["W", "b"]
    t = np.tanh(x @ p["W"])
    np.testing.assert_allclose(_data(g["W"]), x.T @ ((1 - t ** 2) * p["b"]), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(_data(g["b"]), t.sum(0), rtol=1e-12, atol=1e-14)


SECOND_REFUSED = sorted(n for n, (_, _, o) in P.CASES.items() if "second_refused" in o)


@pytest.mark.parametrize("name", SECOND_REFUSED)
def test_second_order_refused_at_the_users_line(name):
    f, build, opts = P.CASES[name]
    with pytest.raises(sct.CompileError) as info:
        check_second(name)
    assert info.value.filename == P.__file__, str(info.value)
    assert info.value.lineno == _line_of(f, opts["second_refused"]), str(info.value)
    assert "sct-generated" not in str(info.value)


@pytest.mark.parametrize("sizes", [[(3, 4, 2), (3, 4, 4, 2), (3, 2), (3, 4, 2)]])
def test_one_loss_many_structures(sizes):
    # the same loss, its list of layers changing length between calls (and back): each its own value
    f = P.CASES["list_of_dicts_mlp"][0]
    for k, s in enumerate(sizes):
        params, consts = P._layers_build(s, seed=700 + 10 * k)
        got, grads = sct_value_grad(f, params, consts)
        np.testing.assert_allclose(got, plain_value(f, params, consts), rtol=1e-12)
        for g, n in zip(grads, numeric_grads(f, params, consts)):
            np.testing.assert_allclose(g, n, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("wrap", [dict, list, tuple], ids=["dict", "list", "tuple"])
def test_generic_helper_over_container_kinds(wrap):
    rng = np.random.default_rng(306)
    leaves_ = [rng.uniform(-1, 1, 3) for _ in range(3)]
    params = {f"k{i}": v for i, v in enumerate(leaves_)} if wrap is dict else wrap(leaves_)
    f = P.generic_sum_of_squares
    got, grads = sct_value_grad(f, params, ())
    np.testing.assert_allclose(got, plain_value(f, params, ()), rtol=1e-12)
    for g, n in zip(grads, numeric_grads(f, params, ())):
        np.testing.assert_allclose(g, n, rtol=1e-5, atol=1e-6)
