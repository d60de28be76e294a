"""Red team of the Dec 12 changes (wt-S2): object arrays made without ``dtype=object`` written
(np.full(n, None), np.array([None, None]), dtype=np.dtype('O'), a dtype held in a name,
np.empty_like/zeros_like of an object array) hold the state a row write stores: `state *= ...`
afterwards changes the stored item too (was: taken as a numeric array's copy, silently wrong)."""
import numpy as np
import pytest

from gradcheck import check_grads, numerical_gradient
from sct import CompileError, dlarray, dlfeval, dlgradient


def _full_none(a, b):
    box = np.full(2, None)
    b = b * 1.0
    box[0] = b
    b *= 3.0
    return np.sum(box[0] * a)


def _array_of_nones(a, b):
    box = np.array([None, None])
    b = b * 1.0
    box[0] = b
    b *= 3.0
    return np.sum(box[0] * a)


def _dtype_object_call(a, b):
    box = np.empty(2, dtype=np.dtype("O"))
    b = b * 1.0
    box[0] = b
    b *= 3.0
    return np.sum(box[0] * a)


def _dtype_in_a_name(a, b):
    dt = object
    box = np.empty(2, dtype=dt)
    b = b * 1.0
    box[0] = b
    b *= 3.0
    return np.sum(box[0] * a)


def _empty_like_objects(a, b):
    proto = np.empty(2, dtype=object)
    box = np.empty_like(proto)
    b = b * 1.0
    box[0] = b
    b *= 3.0
    return np.sum(box[0] * a)


def _zeros_like_objects(a, b):
    proto = np.full(2, None)
    box = np.zeros_like(proto)
    b = b * 1.0
    box[0] = b
    b *= 3.0
    return np.sum(box[0] * a)


def _copy_of_objects(a, b):
    proto = np.full(2, None)
    box = proto.copy()
    b = b * 1.0
    box[0] = b
    b *= 3.0
    return np.sum(box[0] * a)


def _list_appended_none(a, b):
    values = []
    values.append(1.0)
    values.append(None)
    box = np.array(values)
    b = b * 1.0
    box[0] = b
    b *= 3.0
    return np.sum(box[0] * a)


def _fill_from_a_dict(a, b):
    d = {"k": None}
    box = np.full(2, d["k"])
    b = b * 1.0
    box[0] = b
    b *= 3.0
    return np.sum(box[0] * a)


def _fill_from_a_call(a, b):
    box = np.full(2, print())
    b = b * 1.0
    box[0] = b
    b *= 3.0
    return np.sum(box[0] * a)


def _fill_from_a_list_item(a, b):
    options = [None, 0.0]
    box = np.full(2, options[0])
    b = b * 1.0
    box[0] = b
    b *= 3.0
    return np.sum(box[0] * a)


def _gradient_of(case):
    def wrapper(a, b):
        y = case(a, b)
        return y, dlgradient(y, a)
    return wrapper


@pytest.mark.parametrize("case", [_full_none, _array_of_nones, _dtype_object_call, _dtype_in_a_name,
                                  _empty_like_objects, _zeros_like_objects, _copy_of_objects,
                                  _list_appended_none, _fill_from_a_dict, _fill_from_a_call, _fill_from_a_list_item])
def test_object_arrays_made_without_dtype_object_hold_the_state(case):
    a, b = np.array([1.0, 2.0]), np.array([1.0, 1.0])
    expected = case(a.copy(), b.copy())          # 9.0: box[0] is b, tripled
    try:
        y, g = dlfeval(_gradient_of(case), dlarray(a), dlarray(b))
    except CompileError as e:
        assert "test_redteam_dec12s.py" in str(e)
        return
    assert float(y.data) == expected
    np.testing.assert_allclose(g.data, numerical_gradient(lambda x: case(x, b.copy()), [a.copy()], 0), rtol=1e-6)


def _numeric_dtypes_still_copy(k, x0):
    traj = np.zeros((3, 2), dtype=np.float64)
    buf = np.empty_like(traj)
    s = x0 * 1.0
    for t in range(3):
        traj[t] = s
        buf[t] = s * k
        s += 0.1 * k * s
    return np.sum(traj ** 2) + np.sum(buf) + np.sum(s)


def test_numeric_arrays_with_written_dtypes_still_accepted():
    check_grads(_numeric_dtypes_still_copy, np.array(2.0), np.array([1.0, 0.5]))


# --- a read-only view passed through numpy's function of a method's name (np.swapaxes(w, ...),
# np.transpose, np.squeeze, np.reshape) stays read-only; np.diagonal's view is read-only too:
# numpy raises on the write (was: sct computed a value) ---------------------------------------------
from numpy.lib.stride_tricks import sliding_window_view  # noqa: E402


def _ro_swapaxes(x, t):
    w = sliding_window_view(x * t, 2, axis=0)
    v = np.swapaxes(w, 0, 1)
    v[0] = 1.0
    return np.sum(v ** 2)


def _ro_transpose(x, t):
    w = sliding_window_view(x * t, 2, axis=0)
    v = np.transpose(w)
    v *= 2.0
    return np.sum(v ** 2)


def _ro_squeeze(x, t):
    w = sliding_window_view(x * t, 1, axis=0)
    v = np.squeeze(w)
    v[0] = 1.0
    return np.sum(v ** 2)


def _ro_broadcast_transpose(x, t):
    b = np.broadcast_to(t[0] * 1.0, (3, 2))
    v = np.transpose(b)
    v[0] = 1.0
    return np.sum(v ** 2)


def _diagonal_write(x, t):
    a = np.outer(x[:, 0], t[:, 0])
    d = np.diagonal(a)
    d[0] = 1.0
    return np.sum(d * x[:, 1])


def _diagonal_method_write(x, t):
    a = np.outer(x[:, 0], t[:, 0])
    d = a.diagonal()
    d *= 2.0
    return np.sum(d * x[:, 1])


@pytest.mark.parametrize("case", [_ro_swapaxes, _ro_transpose, _ro_squeeze, _ro_broadcast_transpose,
                                  _diagonal_write, _diagonal_method_write])
def test_writes_into_read_only_views_refused_as_numpy_raises(case):
    x, t = np.arange(6.0).reshape(3, 2) - 2.5, np.linspace(-1.0, 1.0, 6).reshape(3, 2)
    with pytest.raises(ValueError, match="read-only"):
        case(x.copy(), t.copy())
    with pytest.raises(CompileError, match=r"test_redteam_dec12s.py, line \d+: .*read-only view"):
        dlfeval(_gradient_of(case), dlarray(x), dlarray(t))


def _diagonal_read(x, t):
    a = np.outer(x[:, 0], t[:, 0])
    d = np.diagonal(a).copy()
    d[0] = 1.0
    return np.sum(d * x[:, 1]) + np.sum(a.diagonal() ** 2)


def test_a_copy_of_a_diagonal_is_writeable():
    check_grads(_diagonal_read, np.arange(6.0).reshape(3, 2) - 2.5, np.linspace(-1.0, 1.0, 6).reshape(3, 2))


# --- np.divmod (a rule since Dec 12) given out=(None, None), literally or by names bound to None:
# numpy's default (was: rt.into(the tuple, ...), an AttributeError); real output arrays refused --------
def _divmod_out_nones(a, b):
    q, r = np.divmod(a, b, out=(None, None))
    return np.sum(r ** 3 + q * r)


def _divmod_out_none_names(a, b):
    o = None
    q, r = np.divmod(a * 2.0, b, out=(o, o))
    return np.sum(r ** 3 + q * r)


@pytest.mark.parametrize("case", [_divmod_out_nones, _divmod_out_none_names])
def test_divmod_with_out_of_nones(case):
    check_grads(case, np.array([2.1, -3.9, 0.7]), np.array([0.4, 0.9, -1.3]))


def _divmod_out_arrays(a, b):
    q0 = np.zeros(3)
    r0 = np.zeros(3)
    np.divmod(a, b, out=(q0, r0))
    return np.sum(r0 ** 3)


def test_divmod_into_output_arrays_refused():
    with pytest.raises(CompileError, match=r"test_redteam_dec12s.py, line \d+"):
        dlfeval(_gradient_of(_divmod_out_arrays), dlarray(np.array([2.1, -3.9, 0.7])), dlarray(np.ones(3)))


# --- numeric arrays shaped by parameters or globals still copy the state's numbers (accepted) --------
N_ROWS = 2


def _shaped_by_arguments(k, x0, T, shape):
    traj = np.zeros((T, 2))
    buf = np.zeros(shape)
    ring = np.empty((N_ROWS, 2), dtype=x0.dtype)
    state = x0.copy()
    for t in range(T):
        traj[t] = state
        buf[t % 2] = state
        ring[t % N_ROWS] = state * k
        state += 0.1 * np.array([state[1], -k * state[0]])
    return np.sum(traj[:, 0] ** 2) + np.sum(state) + np.sum(buf) + np.sum(ring ** 2)


def _shaped(k, x0, T, shape):
    y = _shaped_by_arguments(k, x0, T, shape)
    gk, gx = dlgradient(y, k, x0)
    return y, gk, gx


def test_numeric_arrays_shaped_by_arguments_still_accepted():
    k, x0 = 2.0, np.array([1.0, 0.5])
    y, gk, gx = dlfeval(_shaped, dlarray(k), dlarray(x0), 5, (2, 2))
    assert float(y.data) == _shaped_by_arguments(k, x0.copy(), 5, (2, 2))
    f = lambda k, x: _shaped_by_arguments(float(k), x.copy(), 5, (2, 2))
    np.testing.assert_allclose(gk.data, numerical_gradient(f, [np.array(k), x0], 0), rtol=1e-6)
    np.testing.assert_allclose(gx.data, numerical_gradient(f, [np.array(k), x0], 1), rtol=1e-6)
