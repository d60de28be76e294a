"""Red team W (dec 21): this session's changes (helper-argument kind prediction, unwatched replays,
matmul adjoints as fresh arrays, adamupdate's flat arrays read without copying).

Findings (fixed):
1. A recomputation for a second derivative skipped the global random-state watch
(sct/recomputed.unwatched_replays) wherever the compiled code ran no *user* code sct did not compile,
but a library's code counts as not user code there (scipy, numpy's objects): ``scipy.stats.norm.rvs``
(the example the refusal itself names) or a global Generator's ``bit_generator.random_raw`` drew again
in the recomputation, silently: the second derivative used other noise than the value (and numpy's
global generator ended one draw further than Python's).  Before the change the watch refused it.  Now
``draws_all_seen`` also requires every global or closure value the generated code reads to be numpy's
(not numpy.random's), math's, builtins', sct's, generated code, a user function (its call site's
record says what it runs) or plain data, and every callee compiled with it to say the same; else the
watch stays (the draw is refused as before).
2. (Older than this session) the watch looked for generators only in the recomputing sweep's own
arguments and globals: a closure's Generator read by a helper called by name
(``_noise_of(G)`` whose ``noisy`` draws ``rng.bit_generator.random_raw``) drew again unseen, watched or
not.  runtime/effects._generators_given now follows the generated code of the callees it calls by name
(their globals, and theirs).
3. (Older) ``n = np.zeros(3); G.random(out=n)`` before a dlgradient differentiated again: the recomputation
replayed the draw's value but left its own buffer as made (zeros): the second derivative was 6 x for
6 (x + n), silently.  rt.effect's replay now copies the logged draw into the ``out=`` buffer it is given, or
into the argument the first run's value was (``G.random(None, np.float64, n)``).

Checked and found right (values against plain Python, gradients against finite differences): kinds
predicted wrongly (np.abs of a complex array predicted complex: the guard falls back), lists mutated
between calls, helpers returning other kinds per branch, loop-carried kinds; matmul adjoints in loops,
branches, vector @ vector, batched and broadcast matmuls, complex; Adam on a network kept, edited in
place, or updated twice from one object.
"""
import random

import numpy as np
import pytest
import scipy.stats

import sct
from sct import dlarray, dlfeval, dlgradient
from sct.errors import SctError

from gradcheck import check_grads

G = np.random.default_rng(0)


def scipy_noise_second(x):
    n = scipy.stats.norm.rvs(size=3)
    y = np.sum((x + n) ** 3)
    g = dlgradient(y, x, EnableHigherDerivatives=True)
    return dlgradient(np.sum(g), x), n


def bitgen_noise_second(x):
    n = G.bit_generator.random_raw(3) / 2.0 ** 64
    y = np.sum((x + n) ** 3)
    g = dlgradient(y, x, EnableHigherDerivatives=True)
    return dlgradient(np.sum(g), x), n


def noisy_helper(x):
    return x + scipy.stats.norm.rvs(size=3)


def helper_noise_second(x):
    y = np.sum(noisy_helper(x) ** 3)
    g = dlgradient(y, x, EnableHigherDerivatives=True)
    return dlgradient(np.sum(g), x)


def _noise_of(rng):
    def noisy(x):
        return x + rng.bit_generator.random_raw(3) / 2.0 ** 64
    return noisy


closure_noisy = _noise_of(G)


def closure_noise_second(x):
    y = np.sum(closure_noisy(x) ** 3)
    g = dlgradient(y, x, EnableHigherDerivatives=True)
    return dlgradient(np.sum(g), x)


def closure_known_draw_second(x):
    y = np.sum(closure_known(x) ** 3)
    g = dlgradient(y, x, EnableHigherDerivatives=True)
    return dlgradient(np.sum(g), x), closure_known(x) - x


def _known_of(rng):
    def noisy(x):
        return x + rng.standard_normal(3)      # a Generator's method: a known draw, replayed
    return noisy


closure_known = _known_of(G)


def filled_noise_second(x):
    n = np.zeros(3)
    G.random(out=n)                 # a known draw into a buffer the function made
    y = np.sum((x + n) ** 3)
    g = dlgradient(y, x, EnableHigherDerivatives=True)
    return dlgradient(np.sum(g), x), n


def filled_by_position_second(x):
    n = np.zeros(3)
    G.random(None, np.float64, n)   # the buffer given by position
    y = np.sum((x + n) ** 3)
    g = dlgradient(y, x, EnableHigherDerivatives=True)
    return dlgradient(np.sum(g), x), n


def plain_second(x):
    y = np.sum(np.tanh(x) ** 3)
    g = dlgradient(y, x, EnableHigherDerivatives=True)
    return dlgradient(np.sum(g), x)


@pytest.mark.parametrize("fn", [scipy_noise_second, bitgen_noise_second, helper_noise_second,
                                closure_noise_second])
def test_library_draws_keep_the_watch(fn):
    x = np.array([0.3, -0.2, 0.5])
    assert "replay_from(effects_start, False)" not in str(sct.source(fn, dlarray(x)))
    np.random.seed(1)
    G.bit_generator.state = np.random.default_rng(0).bit_generator.state
    with pytest.raises(SctError, match="drew random numbers"):
        dlfeval(fn, dlarray(x))          # refused (was: a second derivative of other noise, silently)


def test_known_draws_of_a_closure_generator_are_replayed():
    # the watch follows the generated code of helpers called by name to the generators they read; a
    # draw sct knows is replayed, so the generator is where it was: no refusal, the same noise
    x = np.array([0.3, -0.2, 0.5])
    G.bit_generator.state = np.random.default_rng(5).bit_generator.state
    h, n = dlfeval(closure_known_draw_second, dlarray(x))
    rng = np.random.default_rng(5)
    first, second = rng.standard_normal(3), rng.standard_normal(3)
    np.testing.assert_allclose(h.data, 6 * (x + first), rtol=1e-12)
    np.testing.assert_allclose(n.data, second, rtol=1e-12)
    assert G.random() == rng.random()


@pytest.mark.parametrize("fn", [filled_noise_second, filled_by_position_second])
def test_a_draw_into_a_buffer_is_replayed_into_the_recomputed_buffer(fn):
    x = np.array([0.3, -0.2, 0.5])
    G.bit_generator.state = np.random.default_rng(3).bit_generator.state
    h, n = dlfeval(fn, dlarray(x))
    rng = np.random.default_rng(3)
    expected = rng.random(3)
    np.testing.assert_array_equal(n.data, expected)
    np.testing.assert_allclose(h.data, 6 * (x + expected), rtol=1e-12)     # was 6 * x: the buffer's zeros
    assert G.random() == rng.random()


def test_plain_code_still_skips_the_watch():
    x = np.array([0.3, -0.2, 0.5])
    assert "replay_from(effects_start, False)" in str(sct.source(plain_second, dlarray(x)))
    h = dlfeval(plain_second, dlarray(x))
    t = np.tanh(x)                  # d/dx of 3 t^2 (1 - t^2)
    np.testing.assert_allclose(h.data, (6 * t - 12 * t ** 3) * (1 - t ** 2), rtol=1e-12)


def sq(v):
    return np.sum(v * v)


def abs_chain(x):
    a = np.abs(x)                   # complex in, float out: predicted complex, the guard falls back
    return sq(a) + sq(np.maximum(a, 0.1))


def test_wrong_prediction_falls_back():
    x = np.array([[0.3, -0.2, 0.5], [0.1, 0.7, -0.4]]) * (1 + 0.5j)
    assert "guard_holds" in str(sct.source(abs_chain, dlarray(x)))
    check_grads(abs_chain, x)


def batched(A, B):
    T = np.stack([A, B, A * B])
    U = T @ A
    return np.sum(U ** 2) + np.sum(np.cos(A @ T)) + np.sum((T @ T) * U) + (A[0] @ B[1]) ** 2


def looped(A, B):
    x = A[0]
    for i in range(4):
        x = x @ A if i % 2 else B @ x + x
    return np.sum(x ** 2)


@pytest.mark.parametrize("fn", [batched, looped])
def test_matmul_adjoints(fn):
    rng = np.random.default_rng(1)
    check_grads(fn, rng.standard_normal((3, 3)) * 0.5, rng.standard_normal((3, 3)) * 0.5)
