"""dlfeval's hit with the compiled entry's body (and its dlgradient sweep's, and the small scalar
helpers') written into the call (sct/entry_inline.py): one Python frame per hit, and every value,
gradient, warning and error as before (the user's line; "computing the gradient of" for the
sweep's lines)."""
import sys
import warnings

import numpy as np
import pytest

import sct
from sct import dlarray, dlfeval, dlgradient
from sct.api import _ENTRY_SITES


def rosen(x):
    y = 100*(x[1] - x[0]**2)**2 + (1 - x[0])**2
    return y, dlgradient(y, x)


def rooted(x):
    y = np.sqrt(x[0]) + x[1]
    return y, dlgradient(y, x)


def logged(x):
    y = np.log(x[0]) + x[1]
    return y, dlgradient(y, x)


def clashing(x):
    o = x[0] * x[1]          # a name the call uses itself: the usual call, not the inlined one
    d = o + x[0]
    return d, dlgradient(d, x)


def data(v):
    return np.asarray(v._data)


def rosen_ref(v):
    a, b = v
    return 100*(b - a**2)**2 + (1 - a)**2, np.array([-400*a*(b - a**2) - 2*(1 - a), 200*(b - a**2)])


def _line(fn, text):
    import inspect
    lines, first = inspect.getsourcelines(fn)
    return first + next(i for i, l in enumerate(lines) if text in l)


def test_a_hit_runs_one_python_frame_below_dlfeval():
    x = dlarray(np.array([0.5, 1.5]))
    dlfeval(rosen, x)
    dlfeval(rosen, x)
    calls = []

    def profile(frame, event, arg):
        if event == "call":
            calls.append(frame.f_code.co_name)
    sys.setprofile(profile)
    try:
        y, g = dlfeval(rosen, x)
    finally:
        sys.setprofile(None)
    # was: dlfeval, the call, the entry, rt.scalar_elements, the sweep, rt.scalar_seed,
    # rt.scalar_elements_gradient (seven frames)
    assert calls == ["dlfeval", "rosen"], calls
    ref_y, ref_g = rosen_ref([0.5, 1.5])
    assert float(data(y)) == pytest.approx(ref_y, rel=1e-15)
    np.testing.assert_allclose(data(g).ravel(), ref_g, rtol=1e-15)
    assert data(g).flags.writeable


def test_values_and_gradients_over_hits_and_kinds():
    for v in ([1.5, -0.5], [-1.0, 2.0], [np.inf, 1.0], [1e200, 1.0], [0.0, 0.0]):
        for _ in range(3):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                y, g = dlfeval(rosen, dlarray(np.array(v)))
                ref_y, ref_g = rosen_ref(np.array(v))
            np.testing.assert_array_equal(np.asarray(data(y)).ravel(), [ref_y])
            np.testing.assert_allclose(data(g).ravel(), ref_g, rtol=1e-15)
    for _ in range(2):                  # another dtype, length, rank: compiled for them, right values
        y, g = dlfeval(rosen, dlarray(np.array([1.0, 2.0], np.float32)))
        assert data(g).dtype == np.float32
        y, g = dlfeval(rosen, dlarray(np.array([1.0, 2.0, 3.0])))
        np.testing.assert_allclose(data(g).ravel(), [-400.0, 200.0, 0.0])


def test_errors_on_hits_at_the_users_line_forward_and_gradient():
    with np.errstate(all="raise"):
        for _ in range(3):
            with pytest.raises(sct.EvaluationError) as info:
                dlfeval(rooted, dlarray(np.array([0.0, 1.0])))
            assert info.value.lineno == _line(rooted, "np.sqrt")
            assert "computing the gradient of `y = np.sqrt(x[0]) + x[1]`" in str(info.value)
            with pytest.raises(sct.EvaluationError) as info:
                dlfeval(rosen, dlarray(np.array([1e200, 1.0])))
            assert info.value.lineno == _line(rosen, "y = 100")
            assert "while evaluating" in str(info.value)
    for _ in range(3):
        with pytest.raises(sct.EvaluationError) as info:
            dlfeval(rosen, dlarray(np.array([[1.0, 2.0]])))
        assert info.value.lineno == _line(rosen, "y = 100") and "IndexError" in str(info.value)


def test_warnings_on_hits_at_the_users_line_with_and_without_the_hook():
    for replaced in (False, True):
        saved = warnings._showwarnmsg
        if replaced:                    # another library's hook: the run without the inlined body
            warnings._showwarnmsg = lambda msg: saved(msg)
        try:
            for _ in range(3):
                with warnings.catch_warnings(record=True) as seen:
                    warnings.simplefilter("always")
                    y, g = dlfeval(logged, dlarray(np.array([-1.0, 2.0])))
                assert np.isnan(data(y))
                np.testing.assert_array_equal(data(g).ravel(), [-1.0, 1.0])
                assert [(w.filename, w.lineno) for w in seen] == [(__file__, _line(logged, "np.log"))]
        finally:
            warnings._showwarnmsg = saved


def test_a_name_the_call_uses_keeps_the_usual_call():
    for _ in range(3):
        d, g = dlfeval(clashing, dlarray(np.array([2.0, 3.0])))
        assert float(data(d)) == 8.0
        np.testing.assert_array_equal(data(g).ravel(), [4.0, 2.0])
    site = _ENTRY_SITES[id(clashing.__code__)]
    assert site[2].__code__.co_filename == "<sct-entry-call>"
