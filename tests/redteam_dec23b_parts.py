"""Red team B (Dec 23): partials and lambdas given to helpers (tests/test_redteam_dec23b.py)."""
import numpy as np
from functools import partial
from scipy.stats import norm
from scipy.special import logsumexp

def gaussian_logpdf(x, mean, log_std):
    return np.sum(norm.logpdf(x, mean, np.exp(log_std)))

def kernel(x, y, ls=1.0):
    return np.exp(-np.sum((x - y) ** 2) / (2 * ls ** 2))

def gram(kfn, xs):
    return np.array([[kfn(a, b) for b in xs] for a in xs])

def kernel_ridge(w, xs, ys):
    k = partial(kernel, ls=0.7)
    K = gram(k, xs)
    pred = K @ w
    return np.sum((pred - ys) ** 2) + 0.1 * w @ K @ w

def advi_partial(params, eps):
    mean, log_std = params[:2], params[2:]
    logp = partial(gaussian_logpdf, mean=np.zeros(2), log_std=np.zeros(2))
    zs = mean + np.exp(log_std) * eps
    return -(np.mean([logp(z) for z in zs]) + np.sum(log_std))

def mixture_partial(theta, xs):
    comps = [partial(norm.logpdf, loc=theta[0], scale=1.0), partial(norm.logpdf, loc=theta[1], scale=0.5)]
    lp = np.stack([c(xs) for c in comps])
    return -np.sum(logsumexp(lp + np.log(0.5), axis=0))

def vmap_like(w, xs):
    f = lambda x: np.tanh(x @ w)
    return np.sum(np.stack(list(map(f, xs))) ** 2)
