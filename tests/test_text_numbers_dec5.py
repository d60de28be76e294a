"""A number read back from full-precision text of a traced value (``float(str(x))``: x itself) fed
into a traced result is refused: text carries no derivative, and the zero gradient sct would give
is not the program's derivative (was: silently 0 where finite differences give 1).  Text rounded
by its format is a step function of the value (its zero derivative is exact), and printing,
labels and values returned beside the loss stay allowed."""
import numpy as np
import pytest

from sct import CompileError, dlarray, dlfeval, dlgradient
from gradcheck import check_grads


def via_str(x):
    s = str(x[0])
    v = float(s)
    return v * x[1]


def via_fstring(x):
    return float(f"{x[0]}") * x[1] + x[0]


def via_percent_s(x):
    return float("%s" % x[0]) * x[1]


def via_format_method(x):
    v = complex("{}".format(x[0]))
    return np.real(v) * x[1]


def via_format_builtin(x):
    return float(format(x[0])) * x[1]


def via_split(x):
    line = str(x[0]) + ",2.0"
    first, second = line.split(",")
    v = float(first) * float(second)
    w = v + 1.0
    return w * x[1]


def via_repr_in_helper_value(x):
    v = np.float64(repr(float(x[0])))
    return v * x[1]


@pytest.mark.parametrize("fun", [via_str, via_fstring, via_percent_s, via_format_method, via_format_builtin,
                                 via_split, via_repr_in_helper_value])
def test_full_precision_text_read_back_is_refused(fun):
    def driver(x):
        y = fun(x)
        return y, dlgradient(y, x)
    with pytest.raises(CompileError) as info:
        dlfeval(driver, dlarray(np.array([1.5, 3.0])))
    assert info.value.filename == __file__
    assert "text carries no derivative" in str(info.value)


def rounded(x):
    s = np.sum(x ** 2)
    return (s * float("%.3f" % s) + float(format(x[0], ".2f")) * x[1] + float(f"{x[1]:.1f}")
            + float("{:.2f}".format(x[0])))


def printed_and_returned(x):
    y = np.sum(x ** 2)
    print(f"loss {y} at {x}", "%s" % y)
    best = float(f"{y}")
    return (y, best), dlgradient(y, x)


def test_rounded_text_has_its_exact_zero_derivative():
    check_grads(rounded, np.array([1.5, 3.0]))


def test_printing_and_returning_the_text_value_stay_allowed(capsys):
    (y, best), g = dlfeval(printed_and_returned, dlarray(np.array([1.5, 3.0])))
    assert float(best) == 11.25 and "loss 11.25" in capsys.readouterr().out
    np.testing.assert_allclose(np.asarray(g.data), [3.0, 6.0])
