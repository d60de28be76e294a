"""Red team H (dec 25): an independent differential random-program tester (scripts/fuzz4.py) and the
defects it found, each minimised to a reproducer.  Values are compared with plain Python, gradients
with central differences (tests/gradcheck.py)."""
import os
import subprocess
import sys

import numpy as np
import pytest

import sct
from sct import dlarray, dlfeval, extractdata

sys.path.insert(0, os.path.dirname(__file__))
from gradcheck import check_grads, numerical_gradient  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


# --- 1. jvp's transpose path gave a tuple's int/bool outputs back as float dlarrays ---------------
# sct.jvp falls back to transposing reverse code (mode="transpose") where forward mode cannot follow
# (here `max` of Python floats).  It packed every output into one float vector and split it back, so
# an output Python computes as an int (a loop counter) came back as a float dlarray, a bool as 1.0,
# and an int above 2**53 rounded: not the value plain Python computes.

def counted(x, s):
    k = 0
    acc = max(float(s), 0.1) / (1.0 + float(s * k) ** 2)
    return np.sum(x * x) + acc, k


def many_kinds(x):
    return np.sum(np.sin(x)), 2 ** 60 + 1, bool(x[0] > 0), x.astype(np.float32) * 2


def test_jvp_fallback_keeps_an_int_output():
    x, s = np.array([0.5, 0.1]), np.array(0.3)
    tx, ts = np.array([1.0, -2.0]), np.array(0.5)
    (val, k), (dval, dk) = sct.jvp(counted, (x, s), (tx, ts))
    ref = counted(x.copy(), s.copy())
    assert type(k) is int and k == ref[1] == 0
    np.testing.assert_allclose(np.asarray(extractdata(val)), ref[0], rtol=1e-13)
    # the tangent: d/dt of the loss along (tx, ts), against central differences
    h = 1e-6
    fd = (counted(x + h * tx, s + h * ts)[0] - counted(x - h * tx, s - h * ts)[0]) / (2 * h)
    np.testing.assert_allclose(float(extractdata(dval)), fd, rtol=1e-6)
    assert float(np.asarray(extractdata(dk))) == 0.0


@pytest.mark.parametrize("mode", ["forward", "transpose"])
def test_jvp_outputs_are_python_values(mode):
    x = np.array([0.3, -0.4, 1.1])
    t = np.array([1.0, 0.5, -1.0])
    vals, tans = sct.jvp(many_kinds, (x,), (t,), mode=mode)
    ref = many_kinds(x.copy())
    assert vals[1] == 2 ** 60 + 1 and type(vals[1]) is int
    assert vals[2] is True
    got32 = np.asarray(extractdata(vals[3]))
    assert got32.dtype == np.float32 and np.array_equal(got32, ref[3])
    np.testing.assert_allclose(np.asarray(extractdata(vals[0])), ref[0], rtol=1e-13)
    np.testing.assert_allclose(float(extractdata(tans[0])), float(np.sum(np.cos(x) * t)), rtol=1e-12)
    np.testing.assert_allclose(np.asarray(extractdata(tans[3])), 2 * t, rtol=1e-6)


# --- 2. the random-program tester itself runs clean on a few programs --------------------------------

def test_fuzz4_smoke(tmp_path):
    """scripts/fuzz4.py on a few seeds: every program's value equals plain Python's and every gradient
    matches central differences (it exits 1 on a wrong value or gradient or an internal error)."""
    run = subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "fuzz4.py"), "--n", "4", "--seed", "3",
                          "--out", str(tmp_path)], capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    counts = dict(line.split(": ", 1) for line in run.stdout.splitlines() if ": " in line and not line.startswith("seed"))
    assert int(counts.get("ok", 0)) >= 2 and int(counts.get("wrong", 0)) == 0
