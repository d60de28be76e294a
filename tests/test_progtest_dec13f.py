"""The program tester's preallocated-array features (tests/progtest/prealloc.py): arrays made by
np.zeros / np.empty / np.ones (1-D, 2-D, 3-D; float64 and float32; small and >= 2048 items, so
sct keeps tape entries as shape proxies and writes rows in place) filled in for / while loops by
rows, columns, slices and ``+=``, reading earlier rows, several arrays, nested loops, branches,
helpers, breaks; then a loss of the whole array.  A fixed-seed run keeps them covered in CI, and
the minimal programs the tester found wrong or crashing are kept here as tests."""
import collections

import numpy as np
import pytest

from progtest.checker import internal, run_seed
from progtest.generator import DRIVER_FEATURES, TARGET_FEATURES, generate
from progtest.prealloc import PREALLOC_FEATURES
from progtest.runner import resolve_features

FEATURES = PREALLOC_FEATURES + TARGET_FEATURES + DRIVER_FEATURES


def test_prealloc_programs_are_valid_python_and_cover_every_feature():
    seen = set()
    for seed in range(150):
        p = generate(seed, FEATURES)
        compile(p.source(), "<program>", "exec")
        seen.update(p.features)
    assert set(PREALLOC_FEATURES) <= seen, set(PREALLOC_FEATURES) - seen
    assert resolve_features("prealloc") == FEATURES
    # float32 and arrays of at least 2048 items are drawn
    sources = "\n".join(generate(seed, FEATURES).source() for seed in range(60))
    assert "dtype=np.float32" in sources and "np.empty(" in sources and "(512, 4)" in sources


@pytest.mark.heavy      # (CI skips it: tests/conftest.py; 10-50 s)
def test_prealloc_programs_fixed_seeds(tmp_path):
    counts, failures = collections.Counter(), []
    for seed in range(20):
        r = run_seed(seed, str(tmp_path), FEATURES)
        counts[r.status] += 1
        if r.status in ("WRONG", "CRASHED") or (r.status == "REFUSED" and internal(r.detail)):
            failures.append(f"seed {r.seed}: {r.status} {r.kind}\n{r.reason}\n{r.source}")
    assert not failures, "\n\n".join(failures[:2])
    assert counts["PASSED"] >= 12, dict(counts)


# --- float32 arrays: the checker's reference -----------------------------------------------------

def rollout32(s, W, n):
    traj = np.zeros((n, s.shape[0]), dtype=np.float32)
    for k in range(n):
        s = np.tanh(W @ s) * 0.52 + 0.1 * s + 0.01 * k
        traj[k] = s
    return traj


def loss32(x, W):
    h = x * 1.0
    traj = rollout32(h, W, 5)
    h = h * (1.0 + 0.1 * np.mean(np.cos(traj)))
    return np.sum(h ** 2)


def test_float32_trajectory_gradient_is_the_float64_programs():
    """A float32 trajectory rounds the loss to about 1e-7 of itself: central differences of it
    are noise at steps of 1e-6 (the tester reported sct's right gradient as wrong).  sct's
    gradient is the float64 program's; the checker now differentiates that twin."""
    import sct
    from gradcheck import numerical_gradient
    rng = np.random.default_rng(50)
    x, W = rng.uniform(-1, 1, 4), rng.uniform(-1, 1, (4, 4)) * 0.6

    def g(x, W):
        y = loss32(x, W)
        return y, sct.dlgradient(y, x)
    y, gx = sct.dlfeval(g, sct.dlarray(x), sct.dlarray(W))
    assert float(np.asarray(y.data)) == pytest.approx(float(loss32(x, W)), rel=1e-6)

    def loss64(x):
        h = x * 1.0
        traj = np.zeros((5, 4))
        s = h
        for k in range(5):
            s = np.tanh(W @ s) * 0.52 + 0.1 * s + 0.01 * k
            traj[k] = s
        return np.sum((h * (1.0 + 0.1 * np.mean(np.cos(traj)))) ** 2)
    np.testing.assert_allclose(np.asarray(gx.data), numerical_gradient(loss64, [x], 0), rtol=1e-5, atol=1e-6)


def test_checker_differentiates_a_float32_programs_float64_twin(tmp_path):
    from progtest.checker import run_program
    from progtest.generator import Block, Program, make_target
    import random
    rollout = ("def rollout_1(s, W, b, n):\n    traj = np.zeros((n, s.shape[0]), dtype=np.float32)\n"
               "    for k in range(n):\n        s = np.tanh(W @ s) * 0.52 + 0.1 * s + 0.01 * k\n"
               "        traj[k] = s\n    return traj")
    block = Block("prealloc_rollout", ['A_{t} = rollout_1({h}, p["W"], p["s"], 5)',
                                       "{h} = {h} * (1.0 + 0.1 * np.mean(np.cos(A_{t})))"], [("rollout_1", rollout)])
    program = Program(50000, [block], make_target("target_arg", random.Random(0)), "driver_first",
                      "np.sum({h} ** 2)")
    assert program.low_precision
    r = run_program(program, str(tmp_path))
    assert r.status == "PASSED", (r.status, r.reason)


# --- rows written through a view: refused, naming the row as the user wrote it -------------------

def row_view_write(x):
    A = np.zeros((3, 4))
    s = x
    for t in range(3):
        s = np.sin(s)
        A[t][:] = s
    return np.sum(A ** 2)


def row_copyto(x):
    A = np.zeros((3, 4))
    s = x
    for t in range(3):
        s = np.sin(s)
        np.copyto(A[t], s)
    return np.sum(A ** 2)


@pytest.mark.parametrize("fun", [row_view_write, row_copyto])
def test_row_written_through_a_view_is_exact(fun):
    """The tester's prealloc_index_kinds: ``A[t][:] = s`` and ``np.copyto(A[t], s)`` were refused (the
    message first named the normalizer's temporary, then ``A[t]``); since the item write-backs of wt-w
    (1a045be) they are followed: values and gradients as plain Python's and finite differences."""
    import sct
    from gradcheck import numerical_gradient

    def g(x):
        y = fun(x)
        return y, sct.dlgradient(y, x)
    x = np.array([0.1, 0.2, 0.3, 0.4])
    y, gx = sct.dlfeval(g, sct.dlarray(x))
    assert float(np.asarray(y.data)) == fun(x)
    np.testing.assert_allclose(np.asarray(gx.data), numerical_gradient(fun, [x], 0), rtol=1e-6, atol=1e-9)
