"""A custom training loop as MATLAB users write it: dlfeval + dlgradient + an update."""
import numpy as np

from sct import crossentropy, dlarray, dlfeval, dlgradient, fullyconnect, relu, softmax


def model_loss(params, x, t):
    h = relu(fullyconnect(x, params["w1"], params["b1"]))
    y = softmax(fullyconnect(h, params["w2"], params["b2"]))
    loss = crossentropy(y, t)
    gradients = dlgradient(loss, params)
    return loss, gradients


def test_a_small_classifier_learns():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 4))
    t = np.eye(2)[(x[:, 0] + x[:, 1] > 0).astype(int)]
    params = {"w1": dlarray(rng.standard_normal((16, 4)) * 0.5), "b1": dlarray(np.zeros(16)),
              "w2": dlarray(rng.standard_normal((2, 16)) * 0.5), "b2": dlarray(np.zeros(2))}
    losses = []
    for _ in range(200):
        loss, gradients = dlfeval(model_loss, params, x, t)
        params = {k: v - 0.5 * gradients[k] for k, v in params.items()}
        losses.append(float(loss))
    assert losses[-1] < 0.1 * losses[0]
    assert all(isinstance(v, dlarray) and v.dtype == np.float64 for v in params.values())
