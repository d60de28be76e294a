"""A preallocated numeric array filled row by row while the state is changed in place
(``traj[t] = state; state += ...``): the row write copies the state's numbers, so the array
holds no reference to it (sct/points_to.py, ``_surely_arrays``); values and gradients exact.
Containers that do hold the state (lists, object arrays, dicts) are still refused."""
import numpy as np
import pytest

from gradcheck import check_grads, numerical_gradient
from sct import CompileError, dlarray, dlfeval, dlgradient


def sim_loss(k, x0):
    T = 15
    traj = np.zeros((T, 2))
    state = x0.copy()
    for t in range(T):
        traj[t] = state
        state += 0.1 * np.array([state[1], -k * state[0]])
    state *= 2
    traj[0] = state
    return np.sum(traj[:, 0] ** 2) + np.sum(state)


def sim(k, x0):
    loss = sim_loss(k, x0)
    gk, gx = dlgradient(loss, k, x0)
    return loss, gk, gx


def test_trajectory_rows_then_in_place_state():
    k, x0 = 2.0, np.array([1.0, 0.5])
    y, gk, gx = dlfeval(sim, dlarray(k), dlarray(x0))
    assert float(y.data) == sim_loss(k, x0.copy())
    f = lambda k, x: sim_loss(float(k), x.copy())
    np.testing.assert_allclose(gk.data, numerical_gradient(f, [np.array(k), x0], 0), rtol=1e-6)
    np.testing.assert_allclose(gx.data, numerical_gradient(f, [np.array(k), x0], 1), rtol=1e-6)


def ring_loss(p, x):
    buf = np.empty((3, x.shape[0]))
    h = x * p["a"]
    for i in range(7):
        buf[i % 3] = h
        h -= 0.3 * np.tanh(h) * p["b"]
    return np.sum(buf * buf) + np.sum(h)


def ring(p, x):
    loss = ring_loss(p, x)
    return loss, dlgradient(loss, p)


def test_ring_buffer_with_dict_parameters():
    p = {"a": np.array(1.3), "b": np.array([0.5, -0.2, 0.8])}
    x = np.array([0.4, -1.1, 2.0])
    y, g = dlfeval(ring, {k: dlarray(v) for k, v in p.items()}, dlarray(x))
    assert float(y.data) == ring_loss({k: v.copy() for k, v in p.items()}, x.copy())
    for i, key in enumerate(["a", "b"]):
        def f(a, b):
            return ring_loss({"a": a, "b": b}, x.copy())
        num = numerical_gradient(f, [p["a"], p["b"]], i)
        np.testing.assert_allclose(g[key].data, num, rtol=1e-6, atol=1e-8)


def list_traj(k, x0):
    traj = [None] * 4
    state = x0.copy()
    for t in range(4):
        traj[t] = state
        state += 0.1 * k * state
    loss = np.sum(traj[0])
    return loss, dlgradient(loss, k)


def object_box(a, b):
    box = np.empty(2, dtype=object)
    box[0] = b
    b *= 3.0
    y = np.sum(box[0] * a)
    return y, dlgradient(y, a)


def object_arg(box, a):
    h = a.copy()
    box[0] = h
    h += 1.0
    y = np.sum(box[0] * a)
    return y, dlgradient(y, a)


@pytest.mark.parametrize("fun, args", [
    (list_traj, (dlarray(2.0), dlarray(np.array([1.0, 0.5])))),
    (object_box, (dlarray(np.ones(2)), dlarray(np.ones(2)))),
])
def test_containers_holding_the_state_are_refused(fun, args):
    try:
        out = dlfeval(fun, *args)
    except CompileError as e:
        assert "test_trajectory_dec12.py" in str(e)
        return
    # (list_traj: traj[0] is state itself, changed 4 times; object_box: box[0] is b)
    raise AssertionError(f"accepted {fun.__name__}: {out}")


def test_object_array_argument_holds_the_state():
    box = np.empty(2, dtype=object)
    box[0] = np.zeros(2)
    box[1] = np.zeros(2)
    a = np.array([1.0, 2.0])
    try:
        y, g = dlfeval(object_arg, box, dlarray(a))
    except CompileError as e:
        assert "test_trajectory_dec12.py" in str(e)
        return
    # exact if accepted: y = sum((a + 1) * a), dy/da = 2a + 1
    assert float(y.data) == float(np.sum((a + 1) * a))
    np.testing.assert_allclose(g.data, 2 * a + 1)


# --- a misspelled global is named as undefined (was: "no derivative rule for it") ---------------------
def misspelled(w):
    y = np.sum(w ** 2) + undefined_helper_xyz(w)      # noqa: F821 (the point of the test)
    return y, dlgradient(y, w)


def test_an_undefined_name_is_reported_as_undefined():
    with pytest.raises(CompileError, match=r"test_trajectory_dec12.py, line \d+: undefined_helper_xyz is not "
                                           r"defined .*NameError.*check the spelling"):
        dlfeval(misspelled, dlarray(np.ones(2)))


# --- the optimizers' updates inside dlfeval, after the dlgradient (were refused with internals) -------
from sct import adamupdate, dlupdate, rmspropupdate, sgdmupdate  # noqa: E402


def adam_step(w, x, avg, sq, it):
    loss = np.sum((w * x - 1.0) ** 2)
    g = dlgradient(loss, w)
    w, avg, sq = adamupdate(w, g, avg, sq, it, 0.05)
    return loss, w, avg, sq


def sgdm_step(p, x, vel):
    loss = np.sum((p["w"] * x - p["b"]) ** 2)
    g = dlgradient(loss, p)
    p, vel = sgdmupdate(p, g, vel, 0.1)
    return loss, p, vel


def custom_step(w, x):
    loss = np.sum(np.tanh(w * x) ** 2)
    g = dlgradient(loss, w)
    w = dlupdate(lambda a, b: a - 0.1 * b, w, g)
    return loss, w


def test_adamupdate_inside_dlfeval_matches_the_update_outside():
    w, x = np.array([0.5, -1.0, 2.0]), np.array([1.0, 2.0, 3.0])
    loss, w1, avg, sq = dlfeval(adam_step, dlarray(w), dlarray(x), [], [], 1)
    g = 2 * (w * x - 1.0) * x
    w_out, avg_out, sq_out = adamupdate(w.copy(), g, [], [], 1, 0.05)
    assert float(loss.data) == float(np.sum((w * x - 1.0) ** 2))
    np.testing.assert_allclose(w1.data, np.asarray(getattr(w_out, "data", w_out)), rtol=1e-12)
    np.testing.assert_allclose(avg.data, np.asarray(getattr(avg_out, "data", avg_out)), rtol=1e-12)
    # a second step from the returned state
    loss2, w2, avg2, sq2 = dlfeval(adam_step, w1, dlarray(x), avg, sq, 2)
    assert float(loss2.data) < float(loss.data)


def test_sgdmupdate_of_a_dict_and_dlupdate_inside_dlfeval():
    p = {"w": dlarray(np.array([0.3, 0.7])), "b": dlarray(np.array(0.2))}
    x = dlarray(np.array([1.0, -2.0]))
    loss, p1, vel = dlfeval(sgdm_step, p, x, None)
    gw = 2 * (np.array([0.3, 0.7]) * np.array([1.0, -2.0]) - 0.2) * np.array([1.0, -2.0])
    np.testing.assert_allclose(p1["w"].data, np.array([0.3, 0.7]) - 0.1 * gw, rtol=1e-12)
    w = np.array([0.4, -0.3])
    loss, w1 = dlfeval(custom_step, dlarray(w), dlarray(np.array([2.0, 1.0])))
    t = np.tanh(w * np.array([2.0, 1.0]))
    np.testing.assert_allclose(w1.data, w - 0.1 * 2 * t * (1 - t ** 2) * np.array([2.0, 1.0]), rtol=1e-12)


def through_update(w, x):
    loss = np.sum((w * x - 1.0) ** 2)
    g = dlgradient(loss, w, EnableHigherDerivatives=True)
    w2, _ = sgdmupdate(w, g, None, 0.1)
    loss2 = np.sum(w2 ** 2)
    return loss2, dlgradient(loss2, w)      # a derivative through the update: refused, never 0


def through_rmsprop(w, x):
    w2, _ = rmspropupdate(w, x, None)
    loss = np.sum(w2 ** 2)
    return loss, dlgradient(loss, w)


@pytest.mark.parametrize("fun", [through_update, through_rmsprop])
def test_a_derivative_through_an_update_is_refused(fun):
    with pytest.raises(CompileError, match=r"test_trajectory_dec12.py, line \d+: .*update has no derivative"):
        dlfeval(fun, dlarray(np.array([0.5, 1.0])), dlarray(np.array([1.0, 2.0])))


# --- the walrus operator in list/dict comprehensions (was refused); generators stay refused ------------
def walrus_filter(w, xs):
    ys = [y for x in xs if (y := np.sum(w * x)) > -10]
    return sum(ys) + y * 2.0                   # y: the last value bound, as in Python


def walrus_dict(w, xs):
    d = {i: (z := np.tanh(w * x)) * z for i, x in enumerate(xs)}
    return np.sum(d[0]) + np.sum(z)


def walrus_running(w, xs):
    out = [(s := s + np.sum(w * x)) if i else (s := np.sum(x * w * 0.5)) for i, x in enumerate(xs)]
    return sum(out) * s


def walrus_generator(w, xs):
    return sum(q for x in xs if (q := np.sum(w ** 2 * x)) > 0.5)


@pytest.mark.parametrize("loss", [walrus_filter, walrus_dict, walrus_running])
def test_walrus_in_comprehensions(loss):
    xs = [np.array([1.0, 2.0]), np.array([-0.5, 0.3]), np.array([2.0, -1.0])]
    w = np.array([0.7, -0.2])

    def f(w, xs):
        v = loss(w, xs)
        return v, dlgradient(v, w)
    v, g = dlfeval(f, dlarray(w), xs)
    assert float(v.data) == float(loss(w, xs))
    np.testing.assert_allclose(g.data, numerical_gradient(lambda w: loss(w, xs), [w], 0), rtol=1e-6)


def test_walrus_in_a_generator_is_refused():
    def f(w, xs):
        v = walrus_generator(w, xs)
        return v, dlgradient(v, w)
    with pytest.raises(CompileError, match=r"test_trajectory_dec12.py, line \d+: .*walrus operator := in a generator"):
        dlfeval(f, dlarray(np.ones(2)), [np.ones(2)])


# --- formatted dlarrays passed to functions the model function defines (were refused) ------------------
from sct import fullyconnect, relu, dims  # noqa: E402


def _fc_block(X, W, b):
    return relu(fullyconnect(X, W, b))


def nested_loss(p, X, scale):
    act = lambda Z: np.tanh(Z) * 2.0               # noqa: E731

    def head(Z, k=0.5):
        return fullyconnect(Z, p["W2"], p["b2"]) * k * scale

    H = _fc_block(X, p["W1"], p["b1"])
    H = act(H)
    labels = dims(H)
    scale = scale * 3.0                            # read by head when it is called (late binding)
    Y = head(H)
    loss = np.sum(Y ** 2) + len(labels)
    return loss, dlgradient(loss, p)


def nested_model(p, X, scale):                     # nested_loss's value, eagerly (outside dlfeval)
    H = np.tanh(_fc_block(X, p["W1"], p["b1"])) * 2.0
    Y = fullyconnect(H, p["W2"], p["b2"]) * 0.5 * (scale * 3.0)
    return np.sum(Y ** 2) + len(dims(H))


def test_formatted_data_through_nested_functions_and_lambdas():
    rng = np.random.default_rng(3)
    p = {"W1": rng.standard_normal((4, 3)), "b1": rng.standard_normal(4),
         "W2": rng.standard_normal((2, 4)), "b2": rng.standard_normal(2)}
    X = rng.standard_normal((3, 5))
    loss, g = dlfeval(nested_loss, {k: dlarray(v) for k, v in p.items()}, dlarray(X, "CB"), 0.7)
    eager = nested_model({k: dlarray(v) for k, v in p.items()}, dlarray(X, "CB"), 0.7)
    assert float(loss.data) == float(np.asarray(getattr(eager, "data", eager)))
    keys = sorted(p)

    def f(*values):
        out = nested_model({k: dlarray(v) for k, v in zip(keys, values)}, dlarray(X, "CB"), 0.7)
        return float(np.asarray(getattr(out, "data", out)))
    for i, k in enumerate(keys):
        np.testing.assert_allclose(g[k].data, numerical_gradient(f, [p[k] for k in keys], i), rtol=1e-5, atol=1e-7)


def twice_defined(p, X):
    def head(Z):
        return fullyconnect(Z, p["W"], p["b"])
    if X.shape[0] > 100:
        def head(Z):                               # noqa: F811 (bound twice: not read in place)
            return Z
    Y = head(X)
    loss = np.sum(Y ** 2)
    return loss, dlgradient(loss, p)


def test_a_nested_function_bound_twice_stays_refused_with_formats():
    p = {"W": dlarray(np.ones((2, 3))), "b": dlarray(np.zeros(2))}
    with pytest.raises(CompileError, match=r"test_trajectory_dec12.py, line \d+: .*formatted dlarray is passed"):
        dlfeval(twice_defined, p, dlarray(np.ones((3, 4)), "CB"))
