"""EnableHigherDerivatives costs nothing when no later dlgradient uses the gradient.

Run: OMP_NUM_THREADS=1 python benchmarks/higher_derivatives_cost.py
Prints the median time per call and the peak memory (tracemalloc) of a
model-loss gradient with the option true (the default) and false; the compiler
sees statically that no later dlgradient differentiates the gradient, so both
run the same generated code.
"""
from __future__ import annotations

import os
import statistics
import sys
import time
import tracemalloc

os.environ.setdefault("OMP_NUM_THREADS", "1")
sys.path.insert(0, os.path.dirname(__file__))

import numpy as np  # noqa: E402

from sct import dlarray, dlfeval  # noqa: E402
import higher_derivatives_cases as cases  # noqa: E402


def measure(fun, args, repeats: int = 7, number: int = 20):
    dlfeval(fun, *args)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(number):
            dlfeval(fun, *args)
        times.append((time.perf_counter() - start) / number)
    tracemalloc.start()
    dlfeval(fun, *args)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return statistics.median(times), peak


def main() -> None:
    rng = np.random.default_rng(0)
    w1 = dlarray(rng.standard_normal((256, 128)) * 0.1)
    w2 = dlarray(rng.standard_normal((10, 256)) * 0.1)
    x = rng.standard_normal((128, 512))
    t = rng.standard_normal((10, 512))
    rows = []
    for name, fun in (("EnableHigherDerivatives=True", cases.loss_higher_true),
                      ("EnableHigherDerivatives=False", cases.loss_higher_false)):
        seconds, peak = measure(fun, (w1, w2, x, t))
        rows.append((name, seconds, peak))
    base = rows[1]
    print("| option | median time per call | ratio | peak memory | ratio |")
    print("|---|---|---|---|---|")
    for name, seconds, peak in rows:
        print(f"| {name} | {seconds * 1e3:.2f} ms | {seconds / base[1]:.2f} | "
              f"{peak / 1e6:.2f} MB | {peak / base[2]:.2f} |")


if __name__ == "__main__":
    main()
