"""Red team of today's two speed changes: tape entries read for shape only pushed as
``rt.shape_proxy`` (sct/optimize.py ``shape_only_tapes`` / ``shape_residuals``) and row writes
``n = rt.setitem_owned(n, i, v)`` written into n's own array where its reference count shows that
nothing else holds it (runtime/support.py, ``_OWNED_REFS`` calibrated at import).

Found: the reference counts ``setitem_owned`` and ``into_temporary`` compare with were measured
under whatever trace function was active at import.  A tracer that reads a frame's locals (a
debugger stepping, pysnooper, a line tracer showing variables) keeps a dict of each frame's locals:
measured so, the counts were higher (owned: 5, not 3), and once the tracer was off an array that a
tape entry still held looked free to write into: the tape's copies of a trajectory were overwritten
and the gradient of a weight read against them was wrong.  Now measured with tracing off.

The rest: programs writing into preallocated arrays in loops (rows, columns, slices, fancy indices
with repeats, masks, ``+=``, 2-D/3-D, complex), views and copies between writes, helpers in loops
(forward/adjoint pairs with residuals), several gradient sites, trajectories returned: values
against plain Python, gradients against finite differences (first and second order, hvp, jvp)."""
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import sct
from gradcheck import D, check_two_inputs, numerical_gradient
from sct import dlarray, dlfeval, dlgradient

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
T = 600             # T * 4 >= 2048 items: shape proxies stand in for the array


def _locals_tracer(frame, event, arg):
    frame.f_locals          # what a tracer that shows variables does: a dict of the frame's locals
    return _locals_tracer


# --- the calibration of the reference counts -------------------------------------------------------

def test_reference_counts_measured_under_a_tracer_are_those_without():
    import sct.runtime.support as support
    plain = (support._refs_of_a_rebound_name(), support._refs_of_a_temporary())
    assert plain == (support._OWNED_REFS, support._INTO_REFS)
    previous = sys.gettrace()
    sys.settrace(_locals_tracer)
    try:
        traced = (support._refs_of_a_rebound_name(), support._refs_of_a_temporary())
        assert sys.gettrace() is _locals_tracer          # the tracer put back
    finally:
        sys.settrace(previous)
    assert traced == plain


_IMPORTED_UNDER_A_TRACER = textwrap.dedent("""
    import sys
    def tracer(frame, event, arg):
        frame.f_locals
        return tracer
    sys.settrace(tracer)
    import sct                      # the runtime's reference counts measured at import
    sys.settrace(None)
    import numpy as np
    from sct import dlarray, dlfeval, dlgradient
    T = 600
    def rollout_values(x, W, w):
        traj = np.zeros((T, 4))
        s = x
        acc = 0.0
        for t in range(T):
            s = np.tanh(W @ s)
            traj[t] = s             # the tape keeps each version whole: the loop reads traj * w
            if t % 150 == 0:
                acc = acc + np.sum(traj * w)
        return acc / T + np.sum(traj[-1] ** 2)
    def grad(x, W, w):
        y = rollout_values(x, W, w)
        return y, dlgradient(y, w)
    rng = np.random.default_rng(0)
    x, W = rng.standard_normal(4), rng.standard_normal((4, 4)) * 0.6
    w = np.linspace(-1, 1, T * 4).reshape(T, 4)
    y, gw = dlfeval(grad, dlarray(x), dlarray(W), dlarray(w))
    expected, s, traj = np.zeros((T, 4)), x, np.zeros((T, 4))
    for t in range(T):
        s = np.tanh(W @ s)
        traj[t] = s
        if t % 150 == 0:
            expected += traj / T
    assert float(y.data) == rollout_values(x, W, w)
    np.testing.assert_allclose(np.asarray(gw.data), expected, rtol=1e-12, atol=1e-15)
    print("exact")
""")


def test_gradient_exact_when_sct_was_imported_under_a_tracer(tmp_path):
    script = tmp_path / "imported_under_a_tracer.py"      # (sct reads the functions' source: a file)
    script.write_text(_IMPORTED_UNDER_A_TRACER)
    env = dict(os.environ, PYTHONPATH=ROOT)
    done = subprocess.run([sys.executable, str(script)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 and "exact" in done.stdout, done.stderr[-3000:]


# --- programs writing into preallocated arrays ------------------------------------------------------

def view_kept_across_writes(x, t):
    a = np.zeros((T, 4))
    v = a[0]                     # a view of row 0, read after every later write
    s = x
    acc = 0.0
    for i in range(T):
        s = np.tanh(s * t)
        a[i] = s
        acc = acc + np.sum(v * s)
    return acc + np.sum(a ** 2) / T


def rows_added_twice(x, t):
    a = np.zeros((T, 4))
    s = x
    for i in range(T):
        s = np.tanh(s * t)
        a[i] += s
        a[(i * 7) % T] += 0.5 * s
    return np.sum(a ** 2)


def fancy_repeats_and_masks(x, t):
    a = np.zeros((T, 4))
    idx = np.array([1, 5, 1, 7, 5])
    s = x
    for i in range(20):
        s = np.tanh(s * t)
        a[idx] = np.outer(np.arange(5.0), s)
        a[idx + i] = s
        m = a > 0.3
        a[m] = a[m] * 0.5
    return np.sum(a ** 2) + np.sum(a[idx] * 3)


def columns_and_slices(x, t):
    a = np.zeros((4, T))
    s = x
    for i in range(0, T - 3, 3):
        s = np.tanh(s * t + 0.01 * i)
        a[:, i] = s
        a[:2, i + 1:i + 3] = np.stack([s[:2], -s[2:]], axis=1)
    return np.sum(a[:, ::3] ** 2) + np.sum(a)


def cube_nested_break(x, t):
    a = np.zeros((30, 80, 4))
    s = x
    for i in range(30):
        for j in range(80):
            s = np.tanh(s * t + 0.05)
            a[i, j] = s
            if j > 40 + i:
                break
        a[i, -1] = a[i, 0] - a[i, j]
    return np.sum(a ** 2)


def while_break_and_copies(x, t):
    a = np.zeros((T, 4))
    s = x
    i = 0
    snaps = []
    while True:
        s = np.tanh(s * t)
        a[i] = s
        if i % 25 == 0:
            snaps.append(a.copy())
        i += 1
        if i >= 100:
            break
    return np.sum(a ** 2) + sum(np.sum(q * q) for q in snaps)


def alias_then_write(x, t):
    a = np.zeros((T, 4))
    s = x
    for i in range(T):
        s = np.tanh(s * t)
        a[i] = s
    b = a                        # the same array: b sees the write below
    a[0] = 0.0
    d = a[1:] - a[:-1]
    return np.sum(b ** 2) + np.sum(a[1:3] * t) + np.sum(d ** 2)


def _rows_of(s, t, n):
    buf = np.zeros((n, 4))
    for i in range(n):
        s = np.tanh(s * t + 0.1 * i)
        buf[i] = s
    return buf, s


def helper_in_loop(x, t):
    s = x
    total = 0.0
    for k in range(3):
        buf, s = _rows_of(s, t, T)
        total = total + np.sum(buf ** 2) + np.sum(buf[-1] * buf[0])
    return total


def complex_rows(x, t):
    a = np.zeros((T, 4), dtype=complex)
    s = x + 0j
    for i in range(T):
        s = np.tanh(s * t) + 0.1j
        a[i] = s
    return np.real(np.sum(a * np.conj(a))) + np.sum(np.real(a) ** 3)


def small_rows(x, t):
    a = np.zeros((5, 4))
    s = x
    v = a[1]
    for i in range(5):
        s = np.tanh(s * t)
        a[i] = s + v
    return np.sum(a ** 2)


def global_and_default(x, t, buf=np.zeros((T, 4))):
    a = buf.copy()
    s = x
    for i in range(T):
        s = np.tanh(s * t)
        a[i] = s
    return np.sum(a ** 2) + np.sum(buf) + np.sum(_GLOBAL)


_GLOBAL = np.zeros((T, 4))

CASES = [view_kept_across_writes, rows_added_twice, fancy_repeats_and_masks, columns_and_slices,
         cube_nested_break, while_break_and_copies, alias_then_write, helper_in_loop, complex_rows,
         small_rows, global_and_default]


def _inputs():
    rng = np.random.default_rng(1)
    return rng.standard_normal(4) * 0.5, rng.standard_normal(4) * 0.7 + 0.5


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.__name__)
def test_rows_written_first_and_second_order(case):
    x, t = _inputs()
    check_two_inputs(case, x, t)
    assert not _GLOBAL.any() and not global_and_default.__defaults__[0].any()


@pytest.mark.parametrize("case", [view_kept_across_writes, fancy_repeats_and_masks, helper_in_loop,
                                  alias_then_write], ids=lambda c: c.__name__)
def test_rows_written_hvp_and_jvp(case):
    x, t = _inputs()
    v = np.array([0.3, -0.2, 0.5, 0.1])

    def f(z):
        return case(z, t.copy())

    def gradient(z):        # sct's exact first-order gradient (checked above): its differences
        return D(dlfeval(lambda_free_gradient, case, dlarray(z), dlarray(t)))
    eps = 1e-5
    expected = (gradient(x + eps * v) - gradient(x - eps * v)) / (2 * eps)
    np.testing.assert_allclose(D(sct.hvp(f, x.copy(), v)), expected, rtol=1e-5, atol=1e-7)
    value, tangent = sct.jvp(f, x.copy(), v)
    assert float(D(value)) == f(x.copy())
    np.testing.assert_allclose(float(D(tangent)), float(numerical_gradient(f, [x.copy()], 0) @ v), rtol=1e-6)


def lambda_free_gradient(case, x, t):
    return dlgradient(case(x, t), x)


# --- trajectories returned, two gradient sites --------------------------------------------------------

def _roll(x, t, n):
    a = np.zeros((n, 4))
    s = x
    for i in range(n):
        s = np.tanh(s * t)
        a[i] = s
    return a


def two_sites_returning_trajectories(x, t):
    a = _roll(x, t, T)
    b = _roll(x * 2, t, T)
    y = np.sum(a ** 2) + np.sum(a * b)
    g = dlgradient(y, x)
    a = a * 1.0
    a[0] = 5.0
    y2 = np.sum(a[:3] * t)
    g2 = dlgradient(y2, t)
    return a, b, y, g, y2, g2


def _plain_two_sites(x, t):
    a = _roll(x, t, T)
    b = _roll(x * 2, t, T)
    y = np.sum(a ** 2) + np.sum(a * b)
    a = a * 1.0
    a[0] = 5.0
    return a, b, y, np.sum(a[:3] * t)


def test_trajectories_returned_to_the_user_and_two_gradient_sites():
    x, t = _inputs()
    for _ in range(2):          # the second run reuses the compiled code (and the runtime's buffers)
        a, b, y, g, y2, g2 = dlfeval(two_sites_returning_trajectories, dlarray(x), dlarray(t))
        pa, pb, py, py2 = _plain_two_sites(x, t)
        np.testing.assert_array_equal(D(a), pa)
        np.testing.assert_array_equal(D(b), pb)
        assert float(D(y)) == py and float(D(y2)) == py2
        np.testing.assert_allclose(D(g), numerical_gradient(lambda z: _plain_two_sites(z, t)[2], [x], 0),
                                   rtol=1e-6, atol=1e-9)
        np.testing.assert_allclose(D(g2), numerical_gradient(lambda z: _plain_two_sites(x, z)[3], [t], 0),
                                   rtol=1e-6, atol=1e-9)
