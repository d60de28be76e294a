"""A write into the result of a call that numpy gives as a view (``np.einsum("ii->i", K)[...] += v``,
the jitter-on-the-diagonal idiom of GP code; ``y.reshape(2, 3)[1] = x``) is refused, as before, but the
refusal named the normalizer's temporary and advised copying it ("Write `t_einsum = t_einsum.copy()`"),
a name the user never wrote and a copy that would not change K as the line means to.  It now quotes
the call as written and names the array viewed.  The indexing form it advises is differentiated
(values against plain Python, gradients against finite differences)."""
import numpy as np
import pytest

from sct import CompileError, dlarray, dlfeval, dlgradient
from gradcheck import check_grads


def jitter_einsum_view(X, s):
    K = np.exp(-(X[:, None] - X[None, :]) ** 2)
    np.einsum("ii->i", K)[...] += s[0] ** 2
    return np.sum(np.linalg.solve(K, np.ones(len(X))))


def reshape_view_write(x):
    y = np.zeros(6)
    y.reshape(2, 3)[1] = x
    return np.sum(y * np.arange(6))


def jitter_einsum_view_of_transpose(X, s):
    K = np.exp(-(X[:, None] - X[None, :]) ** 2)
    np.einsum("ij->ji", K)[...] += s[0] ** 2
    return np.sum(np.linalg.solve(K, np.ones(len(X))))


def reshape_view_write_of_transpose(x):
    y = np.zeros((3, 2)).T
    y.reshape(2, 3)[1] = x
    return np.sum(y * np.arange(6).reshape(2, 3))


def jitter_diag_indices(X, s):
    K = np.exp(-(X[:, None] - X[None, :]) ** 2)
    K[np.diag_indices_from(K)] += s[0] ** 2
    return np.sum(np.linalg.solve(K, np.ones(len(X))))


def _grad(f, *args):
    def run(*a):
        y = f(*a)
        return y, dlgradient(y, a[0])
    return dlfeval(run, *args)


# (s53: einsum's diagonal view and a reshape of a new C-contiguous array are followed, sct/copy_aliases.py:
# the two idioms run, exact; the refusal's message is checked on views sct still does not follow)

def test_einsum_view_write_refusal_names_the_call():
    with pytest.raises(CompileError) as info:
        _grad(jitter_einsum_view_of_transpose, dlarray(np.array([0.1, 0.5, 1.3])), dlarray(np.array([0.7])))
    message = str(info.value)
    assert 'np.einsum("ij->ji", K)' in message and "t_einsum" not in message
    assert "memory of K" in message
    assert info.value.lineno == jitter_einsum_view_of_transpose.__code__.co_firstlineno + 2


def test_reshape_view_write_refusal_names_the_call():
    with pytest.raises(CompileError) as info:
        _grad(reshape_view_write_of_transpose, dlarray(np.array([0.1, 0.5, 1.3])))
    message = str(info.value)
    assert "y.reshape(2, 3)" in message and "t_reshape" not in message
    assert info.value.lineno == reshape_view_write_of_transpose.__code__.co_firstlineno + 2


def test_einsum_diagonal_and_reshape_view_writes_run():
    check_grads(jitter_einsum_view, np.array([0.1, 0.5, 1.3, -0.4]), np.array([0.7]))
    check_grads(reshape_view_write, np.array([0.1, 0.5, 1.3]))


def test_advised_diag_indices_form_is_differentiated():
    check_grads(jitter_diag_indices, np.array([0.1, 0.5, 1.3, -0.4]), np.array([0.7]))
