"""Red team (dec5f): helpers of the same file read in place (sct/inline_helpers.py) attacked the
way users write them; values against plain numpy, gradients against central differences."""
import numpy as np

from sct import dlarray, dlfeval, dlgradient, extractdata
from gradcheck import assert_close, numerical_gradient

X = np.array([0.3, -0.7, 1.1])


def _np(v):
    return np.asarray(extractdata(v))


def hvp_helper(x, v):
    y = np.sum(np.sin(x) * x ** 2)
    g = dlgradient(y, x, EnableHigherDerivatives=True)
    return dlgradient(np.sum(g * v), x)


def hvp_at_argument_and_intermediate(x):
    v = np.ones(3)
    a = hvp_helper(x, v)
    b = hvp_helper(x * 2, v)        # differentiates by the caller's intermediate value x * 2
    return np.sum(a), np.sum(b)


def _hess_diag(x):
    return 2 * np.sin(x) + 4 * x * np.cos(x) - x ** 2 * np.sin(x)


def test_a_helper_taking_gradients_by_an_intermediate_value_stays_a_call():
    # read in place, its site differentiated by the caller's b_mul: refused ("not modelled");
    # before helpers were read in place it was a call with its own pair, exact
    a, b = dlfeval(hvp_at_argument_and_intermediate, dlarray(X))
    assert_close(_np(a), np.sum(_hess_diag(X)), 1e-10, 1e-10)
    assert_close(_np(b), np.sum(_hess_diag(2 * X)), 1e-10, 1e-10)


def gh(y, w):
    return dlgradient(y, w, EnableHigherDerivatives=True)


def through_an_alias(x):
    p = {"w": x}
    w = p["w"]
    y = np.sum(w ** 3)
    g = gh(y, w)                       # one site: read in place, by the caller's w
    return np.sum(g), dlgradient(np.sum(g), x)


def hvp_through_an_alias(x):
    w = x
    return np.sum(hvp_helper(w, np.ones(3)))


def test_a_helper_by_an_alias_of_the_argument():
    s, g = dlfeval(through_an_alias, dlarray(X))
    assert_close(_np(s), np.sum(3 * X ** 2), 1e-12, 1e-12)
    assert_close(_np(g), 6 * X, 1e-12, 1e-12)
    assert_close(_np(dlfeval(hvp_through_an_alias, dlarray(X))), np.sum(_hess_diag(X)), 1e-10, 1e-10)


def g_off(y, x):
    g = dlgradient(y, x, EnableHigherDerivatives=False)
    return g


def off_twice(x):
    y = np.sum(x ** 3)
    g = g_off(y, x)                     # 3x^2, a constant
    h = g_off(np.sum(g * x ** 2), x)    # 2x * g = 6x^3, a constant
    L = np.sum(h * x)
    return L, dlgradient(L, x)


def test_an_untraced_gradient_helper_called_twice():
    L, g = dlfeval(off_twice, dlarray(X))
    assert_close(_np(L), np.sum(6 * X ** 4), 1e-12, 1e-12)
    assert_close(_np(g), 6 * X ** 3, 1e-12, 1e-12)


def resid(u, x):
    du = dlgradient(np.sum(u), x, EnableHigherDerivatives=True)
    return du - u


def pinn(x):
    u = np.sin(x) * x
    r = resid(u, x)
    L = np.mean(r ** 2)
    return L, dlgradient(L, x)


def _pinn_plain(x):
    return np.mean((np.cos(x) * x + np.sin(x) - np.sin(x) * x) ** 2)


def test_a_pinn_residual_helper():
    L, g = dlfeval(pinn, dlarray(X))
    assert_close(_np(L), _pinn_plain(X), 1e-12, 1e-12)
    assert_close(_np(g), numerical_gradient(_pinn_plain, [X.copy()], 0), 1e-6, 1e-6)


def fmt_helper(w, x, s=1.0):
    return s * w * x


def fmt_helper3(w, x, s=1.0):
    return 3 * s * w * x


def formatted_caller(w, x):
    xf = dlarray(x, "CB")
    y = fmt_helper(w, xf)
    L = np.sum(y)
    return L, dlgradient(L, w)


def test_a_helper_read_in_place_whose_code_is_replaced_recompiles():
    # IPython's autoreload replaces a function's __code__ (and __defaults__) in place: the name
    # still holds the same object, so the name guard alone kept the stale inlined body
    W, XX = np.array([[0.3], [-0.7], [1.1]]), np.ones((3, 2))
    code, defaults = fmt_helper.__code__, fmt_helper.__defaults__
    try:
        L, g = dlfeval(formatted_caller, dlarray(W), dlarray(XX))
        assert_close(_np(L), 2 * np.sum(W), 1e-12, 1e-12)
        fmt_helper.__code__ = fmt_helper3.__code__
        L, g = dlfeval(formatted_caller, dlarray(W), dlarray(XX))
        assert_close(_np(L), 6 * np.sum(W), 1e-12, 1e-12)
        assert_close(_np(g), np.full((3, 1), 6.0), 1e-12, 1e-12)
        fmt_helper.__defaults__ = (2.0,)
        L, g = dlfeval(formatted_caller, dlarray(W), dlarray(XX))
        assert_close(_np(L), 12 * np.sum(W), 1e-12, 1e-12)
    finally:
        fmt_helper.__code__, fmt_helper.__defaults__ = code, defaults
    L, g = dlfeval(formatted_caller, dlarray(W), dlarray(XX))
    assert_close(_np(L), 2 * np.sum(W), 1e-12, 1e-12)


# --- sct/text_checks.py: full-precision text read back as a number is refused ---------------------
import pytest                                            # noqa: E402
from sct import CompileError                             # noqa: E402


def via_format_map(x):
    y = np.sum(x ** 2)
    v = float("{a}".format_map({"a": y}))     # was: a silent half gradient (v taken as a constant)
    L = v * y
    return L, dlgradient(L, x)


def via_template_name(x):
    y = np.sum(x ** 2)
    fmt = "{}"
    v = float(fmt.format(y))
    L = v * y
    return L, dlgradient(L, x)


def via_percent_name(x):
    y = np.sum(x ** 2)
    fmt = "%s"
    v = float(fmt % y)
    L = v * y
    return L, dlgradient(L, x)


def via_17_digits(x):
    y = np.sum(x ** 2)
    v = float(f"{y:.17g}")                    # reads back as y itself
    L = v * y
    return L, dlgradient(L, x)


def via_padding(x):
    y = np.sum(x ** 2)
    v = float(f"{y:>30}")                     # padded, every digit kept
    L = v * y
    return L, dlgradient(L, x)


def via_percent_17(x):
    y = np.sum(x ** 2)
    v = float("%.17g" % y)
    L = v * y
    return L, dlgradient(L, x)


def via_format_16e(x):
    y = np.sum(x ** 2)
    v = float("{:.16e}".format(y))
    L = v * y
    return L, dlgradient(L, x)


@pytest.mark.parametrize("fn", [via_format_map, via_template_name, via_percent_name, via_17_digits,
                                via_padding, via_percent_17, via_format_16e])
def test_full_precision_text_read_back_is_refused(fn):
    with pytest.raises(CompileError) as e:
        dlfeval(fn, dlarray(X))
    assert e.value.filename == __file__ and "read back from text" in str(e.value)
    import inspect
    lines, first = inspect.getsourcelines(fn)
    read = first + next(i for i, t in enumerate(lines) if "float(" in t)
    assert f"(line {read})" in str(e.value) and read < e.value.lineno < first + len(lines)


def rounded_and_printed(x):
    y = np.sum(x ** 2)
    a = float("%.3f" % y)
    b = float("{:.4g}".format(y))
    c = float(f"{y:8.2f}")
    print("%d%% done, loss %s" % (50, y), "{:>10}".format(y), f"{y}")
    L = (a + b + c) * y
    return L, dlgradient(L, x)


def test_rounded_text_and_printing_stay_allowed(capsys):
    L, g = dlfeval(rounded_and_printed, dlarray(X))
    y = np.sum(X ** 2)
    k = float("%.3f" % y) + float("{:.4g}".format(y)) + float(f"{y:8.2f}")
    assert_close(_np(L), k * y, 1e-12, 1e-12)
    assert_close(_np(g), k * 2 * X, 1e-12, 1e-12)
    assert "50% done" in capsys.readouterr().out


def rounded_through_a_template_name(x):
    y = np.sum(x ** 2)
    fmt = "%.2e"
    d = float(fmt % y)           # was: EvaluationError, `%` differentiated as numpy's mod
    L = d * y
    return L, dlgradient(L, x)


def test_a_percent_template_held_in_a_name_is_text():
    L, g = dlfeval(rounded_through_a_template_name, dlarray(X))
    d = float("%.2e" % np.sum(X ** 2))
    assert_close(_np(L), d * np.sum(X ** 2), 1e-12, 1e-12)
    assert_close(_np(g), d * 2 * X, 1e-12, 1e-12)


def via_list_append(x):
    y = np.sum(x ** 2)
    parts = []
    parts.append(str(y))                      # was: a silent half gradient
    v = float("".join(parts))
    L = v * y
    return L, dlgradient(L, x)


def via_astype_str(x):
    y = x ** 2
    s = y.astype(str)                         # was: a silent half gradient
    v = s.astype(float)
    L = np.sum(v * y)
    return L, dlgradient(L, x)


@pytest.mark.parametrize("fn", [via_list_append, via_astype_str])
def test_text_grown_in_a_list_or_cast_to_str_is_refused(fn):
    with pytest.raises(CompileError) as e:
        dlfeval(fn, dlarray(X))
    assert e.value.filename == __file__ and "read back from text" in str(e.value)


def logs_and_casts(x):
    y = x ** 2
    log = []
    log.append(str(np.sum(y)))
    log.append(f"{np.sum(y):.3f}")
    z = y.astype(np.float32).astype(float)
    L = np.sum(z * y)
    return L, dlgradient(L, x), log


def test_logging_into_a_list_and_numeric_casts_stay_allowed():
    L, g, log = dlfeval(logs_and_casts, dlarray(X))
    assert_close(_np(L), np.sum(X ** 4), 1e-6, 1e-6)
    assert_close(_np(g), 4 * X ** 3, 1e-6, 1e-6)
    assert len(log) == 2


def _to_text(y):
    return str(y)


def _from_text(s):
    return float(s)


def _roundtrip(y):
    s = str(y)
    return float(s)


def through_a_reading_helper(x):
    y = np.sum(x ** 2)
    s = str(y)
    v = _from_text(s)                         # was: a silent half gradient
    L = v * y
    return L, dlgradient(L, x)


def through_a_roundtrip_helper(x):
    y = np.sum(x ** 2)
    v = _roundtrip(y)                         # was: a silent half gradient
    L = v * y
    return L, dlgradient(L, x)


def through_a_text_making_helper(x):
    y = np.sum(x ** 2)
    v = float(_to_text(y))
    L = v * y
    return L, dlgradient(L, x)


@pytest.mark.parametrize("fn", [through_a_reading_helper, through_a_roundtrip_helper])
def test_text_read_back_across_a_helper_is_refused(fn):
    with pytest.raises(CompileError) as e:
        dlfeval(fn, dlarray(X))
    assert e.value.filename == __file__ and "read back from text" in str(e.value)


def test_text_made_in_a_helper_and_read_back_by_the_caller_is_refused():
    # was: a silent half gradient (the text made where the caller's check did not look)
    with pytest.raises(CompileError) as e:
        dlfeval(through_a_text_making_helper, dlarray(X))
    assert e.value.filename == __file__ and "read back from text" in str(e.value)


def _label(y):
    return f"loss {y}"


def labels_through_a_helper(x):
    y = np.sum(x ** 2)
    print(_label(y))
    tag = _label(y)
    L = 2 * y
    return L, dlgradient(L, x), tag


def test_a_labelling_helper_stays_allowed():
    L, g, tag = dlfeval(labels_through_a_helper, dlarray(X))
    assert_close(_np(g), 4 * X, 1e-12, 1e-12)
    assert tag.startswith("loss ")
