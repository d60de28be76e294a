"""Where sct's generated code spends its time, case by case (a sampling profiler).

    python benchmarks/profile_sct.py                     # every case, 3 CPU seconds each
    python benchmarks/profile_sct.py --cases hvp cnn_slices --seconds 5
    python benchmarks/profile_sct.py --out /tmp/profile.md

Each case runs in a fresh process (one BLAS thread, fixed malloc thresholds as
run.py), is warmed up, then profiled twice:

- Lines: a trace function on generated frames only (``sys.settrace``) charges
  the time between two events to the line of generated code that was running,
  the innermost generated frame's: a line's share includes the runtime helpers
  and numpy calls it makes.  Time outside any generated frame (``dlfeval``'s
  dispatch, wrapping, the cache look-up) is "outside generated code".  Tracing
  costs about a microsecond per line executed, which inflates the shares of
  cheap lines in the small cases (rosenbrock, the scalar loops).
- Helpers: every function of the ``rt`` namespace the generated code calls
  (``rt.unbroadcast``, ``rt.index_adjoint``, ``rt.vjp``, ...) is wrapped with a
  timer (untraced run): its inclusive time, as a share of the whole call, and
  how often it is called per call.  The timers' own cost, calibrated on a
  no-op, is subtracted; for helpers called thousands of times per call (the
  scalar loops) the shares are estimates within a few percent.
"""
from __future__ import annotations

import argparse
import json
import linecache
import os
import subprocess
import sys
import time
from collections import Counter

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def child(case: str, seconds: float) -> dict:
    sys.path[:0] = [ROOT, HERE]
    import cases_data
    import cases_sct
    from sct.parse import LINE_MAPS

    call, _ = cases_sct.make(case, cases_data.make_inputs(case))
    t_end = time.perf_counter() + 0.3
    while time.perf_counter() < t_end:
        call()
    lines = _trace_lines(call, seconds)
    helpers, counts, calls, cpu = _time_helpers(call, seconds)
    top_lines = []
    traced = sum(lines.values()) or 1.0
    for (filename, lineno, func), t in lines.most_common(8):
        text = linecache.getline(filename, lineno).strip() if filename else ""
        user = ""
        line_map = LINE_MAPS.get(filename)
        if line_map:
            user_file, per_line = line_map if isinstance(line_map, tuple) else (None, line_map)
            try:
                user_line = per_line[lineno] if isinstance(per_line, dict) else per_line[lineno - 1]
                user = f"user line {user_line}" if user_line else ""
            except (IndexError, KeyError, TypeError):
                user = ""
        top_lines.append({"share": t / traced, "function": func, "line": lineno, "code": text[:160],
                          "user": user})
    top_helpers = [{"share": t / cpu, "helper": h, "per_call": counts[h] / calls}
                   for h, t in helpers.most_common(12)]
    return {"case": case, "calls": calls, "cpu_s": cpu,
            "per_call_s": cpu / max(calls, 1), "lines": top_lines, "helpers": top_helpers}


def _time_helpers(call, seconds: float):
    """Inclusive time and number of calls of each ``rt.*`` helper called by generated code.

    The generated code looks its helpers up on the ``rt`` namespace at each call,
    so wrapping the namespace's functions times exactly the calls it makes (from
    the moment the arguments are evaluated); helpers called by other helpers are
    not counted separately.  Time inside a wrapped helper called from another
    wrapped one counts for both (inclusive).
    """
    import functools
    import types
    from sct.compiler import RT
    perf = time.perf_counter
    spent, counts = Counter(), Counter()

    def wrap(name, fn):
        @functools.wraps(fn)
        def timed(*args, **kwargs):
            t0 = perf()
            try:
                return fn(*args, **kwargs)
            finally:
                spent[name] += perf() - t0
                counts[name] += 1
        return timed

    # calibration: what the wrapper adds to a call (outer) and to the time it measures (inner)
    def noop(a, b):
        return a

    wrapped = wrap("calibration", noop)
    n = 20000
    best_plain = best_wrapped = float("inf")
    for _ in range(5):
        t0 = perf()
        for _ in range(n):
            noop(1, 2)
        best_plain = min(best_plain, (perf() - t0) / n)
        t0 = perf()
        for _ in range(n):
            wrapped(1, 2)
        best_wrapped = min(best_wrapped, (perf() - t0) / n)
    spent.clear()
    counts.clear()
    for _ in range(n):
        wrapped(1, 2)
    inner = max(spent["calibration"] / n - best_plain, 0.0)
    outer = max(best_wrapped - best_plain, 0.0)
    spent.clear()
    counts.clear()

    originals = {}
    for name, value in vars(RT).items():
        if isinstance(value, (types.FunctionType, types.BuiltinFunctionType)):
            originals[name] = value
            setattr(RT, name, wrap("rt." + name, value))
    try:
        for _ in range(3):
            call()
        spent.clear()
        counts.clear()
        calls = 0
        t0 = perf()
        c0 = time.process_time()
        while time.process_time() - c0 < seconds:
            call()
            calls += 1
        elapsed = perf() - t0
    finally:
        for name, value in originals.items():
            setattr(RT, name, value)
    # take the timers' own cost out (estimated by the calibration above)
    corrected = Counter({h: max(t - counts[h] * inner, 0.0) for h, t in spent.items()})
    elapsed = max(elapsed - sum(counts.values()) * outer, 1e-12)
    return corrected, counts, calls, elapsed


def _trace_lines(call, seconds: float) -> Counter:
    """Seconds per (generated file, line, function), innermost generated frame, by tracing."""
    perf = time.perf_counter
    spent = Counter()
    outside = ("", 0, "outside generated code")
    state = {"key": outside, "t": perf()}

    def charge(new_key):
        now = perf()
        spent[state["key"]] += now - state["t"]
        state["key"] = new_key
        state["t"] = perf()

    def local(frame, event, arg):
        code = frame.f_code
        if event == "line":
            charge((code.co_filename, frame.f_lineno, code.co_name))
        elif event == "return":
            back = frame.f_back
            while back is not None and not back.f_code.co_filename.startswith("<sct-generated"):
                back = back.f_back
            charge((back.f_code.co_filename, back.f_lineno, back.f_code.co_name) if back else outside)
        return local

    def global_trace(frame, event, arg):
        if frame.f_code.co_filename.startswith("<sct-generated"):
            charge((frame.f_code.co_filename, frame.f_lineno, frame.f_code.co_name))
            return local
        return None

    t0 = time.process_time()
    sys.settrace(global_trace)
    try:
        while time.process_time() - t0 < seconds:
            call()
            charge(outside)
    finally:
        sys.settrace(None)
    return spent


def run_child(case: str, seconds: float) -> dict:
    sys.path.insert(0, HERE)
    from run import MALLOC_ENV, THREAD_ENV
    env = dict(os.environ, **THREAD_ENV, **MALLOC_ENV)
    env["PYTHONPATH"] = os.pathsep.join([ROOT, HERE] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    proc = subprocess.run([sys.executable, os.path.abspath(__file__), "--child", case, str(seconds)],
                          env=env, cwd=ROOT, capture_output=True, text=True, timeout=600)
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    return {"case": case, "error": proc.stderr.strip()[-1500:]}


def report(results: list) -> str:
    out = []
    for res in results:
        case = res["case"]
        if "error" in res:
            out.append(f"### {case}\n\nerror: {res['error']}\n")
            continue
        out.append(f"### {case}\n")
        out.append(f"{res['calls']} calls, {res['per_call_s'] * 1e3:.3g} ms per call (helper timers' "
                   "own cost taken out).\n")
        out.append("| share of time | generated line (innermost generated frame; inclusive of the helpers it calls) |")
        out.append("|---:|---|")
        for ln in res["lines"][:6]:
            where = f"`{ln['function']}`:{ln['line']}" + (f" ({ln['user']})" if ln["user"] else "")
            code = ln["code"].replace("|", "\\|")
            out.append(f"| {100 * ln['share']:.0f} % | {where} `{code}` |" if code else
                       f"| {100 * ln['share']:.0f} % | {ln['function']} |")
        out.append("")
        out.append("| share of time (inclusive) | calls per call | rt helper called by generated code |")
        out.append("|---:|---:|---|")
        for h in res["helpers"][:8]:
            out.append(f"| {100 * h['share']:.1f} % | {h['per_call']:.0f} | `{h['helper']}` |")
        out.append("")
    return "\n".join(out)


def main(argv=None) -> int:
    sys.path[:0] = [HERE]
    from cases_data import CASES
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", nargs="+", default=[c for c in CASES])
    ap.add_argument("--seconds", type=float, default=3.0, help="CPU seconds per case for each of the two profiles")
    ap.add_argument("--out", help="write the markdown report to this file")
    ap.add_argument("--json", help="write raw results to this JSON file")
    ap.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        print("RESULT " + json.dumps(child(args.child[0], float(args.child[1]))))
        return 0
    results = []
    for case in args.cases:
        print(f"profiling {case} ...", file=sys.stderr, flush=True)
        results.append(run_child(case, args.seconds))
    text = report(results)
    print(text)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
