"""The cost of sct's dispatch on a cache hit: dlfeval and an AcceleratedFunction against the
generated function they run, and the 2-element Rosenbrock against its hand-written numpy gradient.

    OMP_NUM_THREADS=1 python benchmarks/dispatch_overhead.py [--runs 7] [--target 0.2]

Each figure is the median (and the minimum), over ``--runs`` rounds, of the time per call of a
timeit loop that takes at least ``--target`` seconds (the number of calls chosen timeit-style:
1, 2, 5, 10, ..., then doubled); each round runs one loop of every function of a group in turn.
Times are the process's CPU time (``time.process_time``; ``--clock wall`` for perf_counter), so
that on a shared machine the time spent waiting for a CPU is not counted.

(a) ``dlfeval(f, x)`` (x a 0-d dlarray) with ``f(x): y = x*2.0; return y, dlgradient(y, x)`` against calling the
    generated entry ``compiled.entry(x_data)`` directly (what a hit has to run anyway);
(b) the same function as ``sct.accelerate(f)(x)`` and as ``dlfeval(accelerate(f), x)``;
(c) ``benchmarks/cases_sct.rosenbrock_grad`` through dlfeval against
    ``benchmarks/cases_numpy.rosenbrock_grad`` on plain arrays (the 'rosenbrock' case of run.py);
(d) a training step's loss over a dict of four small parameters (the README's model, 8x4 inputs)
    through dlfeval against its generated entry, and (e) the same with keyword arguments.

The dispatch overhead is (a)/(b) minus the direct call of the generated code.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import timeit

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
for p in (ROOT, HERE):
    if p not in sys.path:
        sys.path.insert(0, p)

import numpy as np  # noqa: E402

import sct  # noqa: E402
from sct import dlarray, dlfeval, dlgradient  # noqa: E402
from sct.api import _entry  # noqa: E402


def trivial(x):
    y = x*2.0
    return y, dlgradient(y, x)


CLOCK = [time.process_time]         # CPU time of this process: a busy machine's other work left out


def model_loss(p, x, t):
    h = np.tanh(x @ p["w1"].T + p["b1"])
    y = h @ p["w2"].T + p["b2"]
    loss = np.sum((y - t) ** 2)
    return loss, dlgradient(loss, p)


def _number(fn, target: float) -> int:
    """Calls per timing loop: timeit's autorange, doubled until one loop takes ``target`` s."""
    timer = timeit.Timer(fn, timer=CLOCK[0])
    number, _ = timer.autorange()
    while number * (timer.timeit(number) / number) < target:
        number *= 2
    return number


def per_call(fns: dict, runs: int, target: float) -> dict:
    """Median seconds per call of each of ``fns`` over ``runs`` rounds; the rounds interleave the
    functions (one timing loop of each per round), so a change of the machine's load meets them
    alike (this machine is shared).  Also the minimum, as ``name + "_min"``."""
    timers = {k: (timeit.Timer(f, timer=CLOCK[0]), _number(f, target)) for k, f in fns.items()}
    samples: dict = {k: [] for k in fns}
    for _ in range(runs):
        for k, (timer, number) in timers.items():
            samples[k].append(timer.timeit(number) / number)
    out = {k: statistics.median(v) for k, v in samples.items()}
    out.update({k + "_min": min(v) for k, v in samples.items()})
    return out


def measure(runs: int = 7, target: float = 0.2) -> dict:
    import cases_numpy
    import cases_sct

    x = dlarray(3.0)                  # a 0-d dlarray: y = x*2.0 is a scalar
    xd = x._data
    out = {}

    compiled = _entry(trivial, (x,))
    dlfeval(trivial, x)
    generated = compiled.entry
    out.update(per_call({"a_generated": lambda: generated(xd),
                         "a_dlfeval": lambda: dlfeval(trivial, x)}, runs, target))

    acc = sct.accelerate(trivial)
    acc(x)
    acc_generated = acc.compiled((x,)).entry
    out.update(per_call({"b_generated": lambda: acc_generated(xd),
                         "b_accelerated": lambda: acc(x),
                         "b_dlfeval_accelerated": lambda: dlfeval(acc, x)}, runs, target))

    xn = np.array([-1.0, 2.0])
    xr = dlarray(xn.copy())
    ros = cases_sct.rosenbrock_grad
    dlfeval(ros, xr)
    ros_generated = _entry(ros, (xr,)).entry
    xrd = xr._data
    hand = cases_numpy.rosenbrock_grad
    out.update(per_call({"c_generated": lambda: ros_generated(xrd),
                         "c_sct": lambda: dlfeval(ros, xr),
                         "c_numpy": lambda: hand(xn)}, runs, target))

    rng = np.random.default_rng(0)
    xm = rng.standard_normal((8, 4))
    tm = np.eye(2)[(xm[:, 0] > 0).astype(int)]
    params = {"w1": dlarray(rng.standard_normal((16, 4))), "b1": dlarray(np.zeros(16)),
              "w2": dlarray(rng.standard_normal((2, 16))), "b2": dlarray(np.zeros(2))}
    dlfeval(model_loss, params, xm, tm)
    model_generated = _entry(model_loss, (params, xm, tm)).entry
    plain = {k: v._data for k, v in params.items()}
    out.update(per_call({"d_generated": lambda: model_generated(plain, xm, tm),
                         "d_sct": lambda: dlfeval(model_loss, params, xm, tm),
                         "e_keywords": lambda: dlfeval(model_loss, params, x=xm, t=tm)}, runs, target))
    return out


def report(t: dict) -> str:
    us = {k: v * 1e6 for k, v in t.items()}

    def row(label, key, base=None):
        over = "" if base is None else \
            f"{us[key] - us[base]:+.2f} ({us[key + '_min'] - us[base + '_min']:+.2f})"
        return f"| {label} | {us[key]:.2f} ({us[key + '_min']:.2f}) | {over} |"
    lines = [
        "| measurement | µs per call: median (min) | over the generated code: median (min) |",
        "|---|---|---|",
        row("(a) generated entry called directly", "a_generated"),
        row("(a) dlfeval(f, x)", "a_dlfeval", "a_generated"),
        row("(b) generated entry called directly", "b_generated"),
        row("(b) accelerate(f)(x)", "b_accelerated", "b_generated"),
        row("(b) dlfeval(accelerate(f), x)", "b_dlfeval_accelerated", "b_generated"),
        row("(c) Rosenbrock: generated entry called directly", "c_generated"),
        row("(c) Rosenbrock: dlfeval", "c_sct", "c_generated"),
        row("(c) Rosenbrock: hand-written numpy", "c_numpy"),
        f"| (c) sct / hand-written numpy | {t['c_sct'] / t['c_numpy']:.2f}x "
        f"({t['c_sct_min'] / t['c_numpy_min']:.2f}x) | |",
        row("(d) dict of 4 parameters (README model, tiny): generated entry directly", "d_generated"),
        row("(d) the same through dlfeval", "d_sct", "d_generated"),
        row("(e) (d) with x and t passed by keyword", "e_keywords", "d_generated"),
    ]
    return "\n".join(lines)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--target", type=float, default=0.2)
    parser.add_argument("--clock", choices=("process", "wall"), default="process",
                        help="process: CPU time of this process (default; time the process waits for "
                             "a CPU on a shared machine is not counted); wall: time.perf_counter")
    args = parser.parse_args(argv)
    CLOCK[0] = time.process_time if args.clock == "process" else time.perf_counter
    print(report(measure(args.runs, args.target)))


if __name__ == "__main__":
    main()
