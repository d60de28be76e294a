"""Per-call cost of helpers called from differentiated code (issue 7 item 3, issue 8 item 2).

    python benchmarks/helper_calls.py                       # this checkout
    python benchmarks/helper_calls.py /path/to/other/checkout /path/to/this   # side by side

Each case is one ``dlfeval`` of a function that calls a user helper: 100 times in a loop
(a 4x4 matrix-vector layer; a scalar), and 3 times in straight-line code.  Each checkout runs in
its own process (``--child``), alternately, three rounds; the best time per call is reported.
"""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time

CASES = '''
import numpy as np
from sct import dlgradient


def layer(W, x):
    return np.tanh(W @ x)


def hundred(W, x):
    h = x
    for _ in range(100):
        h = layer(W, h)
    L = np.sum(h)
    return L, dlgradient(L, W)


def scal(a, b):
    return a * b + 1.0


def scalar_loop(w):
    y = w
    for _ in range(100):
        y = scal(y, w)
    return y, dlgradient(y, w)


def straight(W, x):
    a = layer(W, x)
    b = layer(W, x)
    c = layer(W, x)
    L = np.sum(a + b + c)
    return L, dlgradient(L, W)
'''


def child(root: str, folder: str) -> None:
    sys.path[:0] = [root, folder]
    import numpy as np
    import sct
    import helper_cases as cases
    from sct import dlarray, dlfeval
    rng = np.random.default_rng(0)
    W, x = dlarray(rng.random((4, 4)) * 0.3), dlarray(rng.random(4))
    w = dlarray(np.array(0.5))
    for name, fn, args, n in (("loop of 100 calls, 4x4 layer", cases.hundred, (W, x), 100),
                              ("loop of 100 calls, scalar", cases.scalar_loop, (w,), 100),
                              ("3 calls, straight line", cases.straight, (W, x), 1500)):
        start = time.perf_counter()
        dlfeval(fn, *args)
        first = time.perf_counter() - start
        best = float("inf")
        for _ in range(5):
            start = time.perf_counter()
            for _ in range(n):
                dlfeval(fn, *args)
            best = min(best, (time.perf_counter() - start) / n)
        print(f"{name}\t{best * 1e6:.1f}\t{first * 1e3:.1f}")
    sys.stdout.flush()
    assert sct


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(sys.argv[2], sys.argv[3])
        return
    roots = sys.argv[1:] or [os.path.dirname(os.path.dirname(os.path.abspath(__file__)))]
    folder = tempfile.mkdtemp()
    with open(os.path.join(folder, "helper_cases.py"), "w") as f:
        f.write(CASES)
    best: dict = {}
    for _ in range(3):
        for root in roots:
            out = subprocess.run([sys.executable, __file__, "--child", root, folder], capture_output=True,
                                 text=True, check=True, env=dict(os.environ, OPENBLAS_NUM_THREADS="1")).stdout
            for line in out.strip().splitlines():
                name, per_call, first = line.split("\t")
                old = best.get((root, name))
                best[(root, name)] = (min(float(per_call), old[0]) if old else float(per_call),
                                      min(float(first), old[1]) if old else float(first))
    names = sorted({n for _, n in best}, key=lambda n: [k[1] for k in best].index(n))
    print("case | " + " | ".join(f"{r} (us/dlfeval; first call ms)" for r in roots))
    for name in names:
        print(name + " | " + " | ".join(f"{best[(r, name)][0]:.1f}; {best[(r, name)][1]:.0f}" for r in roots))


if __name__ == "__main__":
    main()
