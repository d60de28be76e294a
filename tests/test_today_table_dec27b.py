"""Red-team finding (dec 27b) on today's Table row assignment inside dlfeval (rt.setitem of a Table,
TableRows): a row selected twice, ``g[[0, 0]] = rows``, holds the last row written (Python's
Table.__setitem__ writes in order), but the adjoint gave each of the value's rows the row's adjoint, so
the overwritten row's derivative was counted too: a wrong second-order gradient.  Values against the
same computation outside dlfeval, gradients against central differences."""
import numpy as np

import sct
from sct import dlarray, dlfeval, dlgradient, extractdata
from gradcheck import assert_close, numerical_gradient

rng = np.random.default_rng(2728)
X = rng.standard_normal((5, 4))


def _net():
    return sct.dlnetwork([sct.featureInputLayer(4), sct.fullyConnectedLayer(3, Name="fc"), sct.tanhLayer(),
                          sct.fullyConnectedLayer(2, Name="fc2")], Seed=2)


def duplicate_rows(net, X):
    Y, _ = sct.forward(net, X)
    g = dlgradient(np.sum(Y ** 2), net.Learnables, EnableHigherDerivatives=True)
    g[[0, 0]] = sct.Table(("fc", "fc"), ("Weights", "Weights"), [g.Value[0] * 2.0, g.Value[0] * 3.0])
    p = np.sum(g.Value[0] ** 2)
    return p, dlgradient(p, net.Learnables)


def _gradients(W):
    net = _net()
    values = list(net.Learnables.Value)
    values[0] = dlarray(W)
    net.Learnables = sct.Table(net.Learnables.Layer, net.Learnables.Parameter, values)

    def f(n, X):
        Y, _ = sct.forward(n, X)
        return dlgradient(np.sum(Y ** 2), n.Learnables)
    return extractdata(dlfeval(f, net, X).Value[0])


def test_row_written_twice_takes_the_last_value_and_its_derivative():
    net = _net()
    W = extractdata(net.Learnables["fc", "Weights"]).copy()
    p, g = dlfeval(duplicate_rows, net, X)
    ref = lambda w: np.sum((3.0 * _gradients(w)) ** 2)
    assert_close(float(p), ref(W))
    # was: off by up to 61 (the overwritten 2 * g row's derivative added)
    assert_close(extractdata(g["fc", "Weights"]), numerical_gradient(ref, [W], 0), rtol=1e-4, atol=1e-6)
