"""A seeded ``np.random.default_rng`` made inside the differentiated function, drawing in a loop with
a bound read from a traced array's shape (``rng.integers(0, lp.shape[0])``, REINFORCE written by
hand), then drawing again (``rng.normal()``).  Was refused at the second draw ("rng.normal(...) is
given values that earlier differentiated operations read"): ``lp.shape`` was taken for a field of a
user's object that may be traced, because the activity fixed point decided it before it knew ``lp``
held an array (the loop counter of ``range`` was not known to be a number, and ``l.max()`` is known
to give an array only once ``l``'s kind is), which made the draw's result traced and the generator
an object an adjoint reads.  Values against plain Python, gradients against finite differences,
first and second order."""
import numpy as np

from gradcheck import check_grads, check_two_inputs


def counter_scaled(theta, w):
    rng = np.random.default_rng(1)
    total = 0.0
    for t in range(3):
        l = theta * t + w
        a = rng.integers(0, l.shape[0])
        r = rng.normal()
        total = total - l[a] * r
    return total


def reinforce(theta, feats):
    rng = np.random.default_rng(1)
    total = 0.0
    for t in range(feats.shape[0]):
        l = feats[t] @ theta
        l = l - l.max()
        lp = l - np.log(np.sum(np.exp(l)))
        a = rng.integers(0, lp.shape[0])
        r = rng.normal()
        total = total - lp[a] * r
    return total


def size_of_product(x, t):
    rng = np.random.default_rng(3)
    out = 0.0
    for i in range(2):
        h = np.tanh(x * t[i])
        h = h - h.mean()
        k = rng.integers(0, h.size)
        out = out + h[k] * rng.uniform()
    return out


def test_counter_scaled_first_order():
    rng = np.random.default_rng(0)
    check_grads(counter_scaled, rng.standard_normal(3), rng.standard_normal(3))


def test_reinforce_first_order():
    rng = np.random.default_rng(0)
    check_grads(reinforce, rng.standard_normal((3, 4)), rng.standard_normal((5, 3)))


def test_reinforce_second_order():
    rng = np.random.default_rng(2)
    check_two_inputs(reinforce, rng.standard_normal((3, 4)), rng.standard_normal((5, 3)))


def test_size_of_product_second_order():
    rng = np.random.default_rng(4)
    check_two_inputs(size_of_product, rng.standard_normal(4), rng.standard_normal(2))


def size_keyword_from_shape(x, t):
    # was refused when it ran: "Generator.normal ... sct passes traced keyword arguments (size) only
    # to" functions it reads (y.shape[0] was taken for a traced value)
    rng = np.random.default_rng(3)
    acc = 0.0
    for k in range(2):
        y = x * (k + 1) - x.mean() + t[k]
        n = rng.normal(size=y.shape[0]) * y.ndim
        perm = rng.permutation(y.shape[0])
        acc = acc + np.sum(y[perm] * n)
    return acc


def test_size_keyword_from_shape_first_order():
    rng = np.random.default_rng(6)
    check_grads(size_keyword_from_shape, rng.standard_normal(4), rng.standard_normal(2))


def test_size_keyword_from_shape_second_order():
    rng = np.random.default_rng(7)
    check_two_inputs(size_keyword_from_shape, rng.standard_normal(4), rng.standard_normal(2))
