"""Forward mode over the whole op table: sct.jvp against central differences."""
import numpy as np
import pytest

import sct
from gradcheck import assert_close
import test_higher_order as higher
import test_op_rules as op_rules
from sct.runtime import numpy_ops, support


# Forward mode does not follow these yet; its fallback (transposing reverse code) needs
# their second derivative, which they do not have either.  (Cases with keywords only: the test passes
# them to eigh through a **kw helper, which sct refuses when a keyword reaches it; the case without
# keywords runs since *args/**kw parameters count as the helper's own names.)
KNOWN = {
    np.linalg.eigh: "the test passes UPLO to eigh through a **kw helper, which sct refuses",
}


def _cases():
    params = []
    for index, case in enumerate(op_rules.CASES):
        for op in case.aliases:
            if op in (support.sequence_adjoint, support.list_of_rows, support.dict_items, support.dict_values,
                      numpy_ops.stacked_arguments, numpy_ops.unstacked_arguments):
                continue          # adjoint helpers whose table case is a lambda over their list form
            if op in (dict, support.dict_source_adjoint, support.dict_source_transpose, support.dict_merged,
                      support.dict_part, support.iterated_adjoint, support.iterated_items):
                continue          # dict-valued tangents: forward mode refuses them, like dict_items'

            for p in case.wrt:
                marks = []
                if op in KNOWN and case.kwargs:
                    marks = [pytest.mark.xfail(strict=True, reason=KNOWN[op])]
                params.append(pytest.param(case, op, p, id=f"{op_rules.op_name(op)}-{index}-arg{p}",
                                           marks=marks))
    return params


@pytest.mark.parametrize("case, op, p", _cases())
def test_forward_mode_of_every_op(case, op, p):
    rng = np.random.default_rng(len(case.args) + 17)
    args = [sample(rng, False) for sample in case.args]
    args[p] = np.asarray(args[p], dtype=np.float64)
    fun, _ = higher.make_case_function(case, op, args, p)
    a = args[p]
    v = np.random.default_rng(p).standard_normal(np.shape(a))
    _, jv = sct.jvp(fun, a, v)
    step = 1e-6
    expected = (np.asarray(fun(a + step * v)) - np.asarray(fun(a - step * v))) / (2 * step)
    assert_close(np.asarray(jv.data), np.real(expected), rtol=1e-4, atol=1e-6,
                 what=f"{op_rules.op_name(op)} forward mode")


def _repeated_sine(x, n):
    y = x
    for i in range(n):
        y = np.sin(y) * 1.5
    return y


@pytest.mark.parametrize("mode", ["forward", "transpose"])
def test_jvp_with_an_integer_primal_keeps_it_an_integer(mode):
    x, v = np.array([0.3, -0.4]), np.array([1.0, 2.0])
    y, jv = sct.jvp(_repeated_sine, (x, 3), (v, 0), mode=mode)
    step = 1e-6
    expected = (_repeated_sine(x + step * v, 3) - _repeated_sine(x - step * v, 3)) / (2 * step)
    np.testing.assert_allclose(np.asarray(y), _repeated_sine(x, 3))
    np.testing.assert_allclose(np.asarray(jv), expected, rtol=1e-6, atol=1e-9)
    with pytest.raises(sct.SctError, match="integer primal"):
        sct.jvp(_repeated_sine, (x, 3), (v, 1), mode=mode)
