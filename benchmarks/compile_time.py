"""Compile time of sct against function size, and where the compiler spends it.

    python benchmarks/compile_time.py                      # 10, 200 and 2,000 lines, 3 runs each
    python benchmarks/compile_time.py --sizes 10 200 --runs 5
    python benchmarks/compile_time.py --out docs/benchmarks.md

A generated straight-line function of N body lines (elementwise operations,
reductions, slices, matrix-vector products over 8-element vectors, ending in one
``dlgradient``) is written to a module file and compiled by its first
``dlfeval`` call, each size in a fresh process (``--child``).  The compile time
is the first call's time minus a later call's.  The growth exponent is the slope
of log(time) over log(lines) between consecutive sizes.

For each size the compiler is also profiled, in one more fresh process: the
time of each pass (parse, normalize, closures, aliasing, formats, analysis, the
reverse pass by module, call sites, optimize, fuse, emit, Python's compile),
by sampling the main thread's stack every 0.5 ms (no profiler running; each
sample counts to the innermost module of sct that is a pass).  A cProfile of
a compilation, self time summed by module, follows for ``--cprofile-lines``
lines (default 500: cProfile slows the compiler about 3.5x, and the 2,000-line
compilation takes minutes without it).

    python benchmarks/compile_time.py --growth 100 400     # how each module's work grows

``--growth A B`` compiles A and B lines under cProfile (a fresh process each) and prints, per module
of sct, its calls and self time at both sizes and their growth against the lines' (B / A): call
counts do not depend on the machine's load, so a pass that does per-statement work over the whole
function (a walk of the function per statement, a rescan per name) shows as calls growing faster
than the lines, on a busy machine too; then the functions whose calls grow so.  (A loop inside one
call does not show in its calls: its self time's growth does, with the load's noise.)
"""
from __future__ import annotations

import argparse
import cProfile
import importlib
import json
import math
import os
import pstats
import re
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

TEMPLATES = [
    "a{i} = np.tanh(a{p}) * 0.5 + a{q}",
    "a{i} = a{p} @ W + 0.1 * x",
    "a{i} = np.sin(a{p}[::-1]) * a{q}",
    "a{i} = a{p} * a{q} - 0.25 * a{r}",
    "a{i} = np.exp(-a{p} ** 2) + np.sum(a{q}) * 0.01",
    "a{i} = np.concatenate([a{p}[4:], a{q}[:4]]) / (1.0 + a{r} ** 2)",
    "a{i} = np.maximum(a{p}, 0.0) + np.mean(a{q} * x)",
    "a{i} = np.log1p(a{p} ** 2) - W[0] * a{q}",
]


def generate(lines: int) -> str:
    """The source of a module with ``loss_grad(x, W)`` of ``lines`` body lines."""
    body = ["a0 = x * 0.5"]
    n = lines - 3                      # a0, the loss line and the return
    for i in range(1, n + 1):
        p, q, r = i - 1, max(0, i - 3), max(0, i - 7)
        body.append(TEMPLATES[i % len(TEMPLATES)].format(i=i, p=p, q=q, r=r))
    body.append(f"loss = np.sum(a{n} ** 2) / {n}")
    body.append("return loss, dlgradient(loss, x, W)")
    return ("import numpy as np\nfrom sct import dlgradient\n\n\ndef loss_grad(x, W):\n"
            + "".join(f"    {s}\n" for s in body))


def _load(lines: int, directory: str):
    name = f"generated_{lines}_lines"
    with open(os.path.join(directory, name + ".py"), "w") as f:
        f.write(generate(lines))
    sys.path.insert(0, directory)
    return importlib.import_module(name).loss_grad


def _inputs():
    import numpy as np
    from sct import dlarray
    rng = np.random.default_rng(0)
    return dlarray(0.3 * rng.standard_normal(8)), dlarray(0.3 * rng.standard_normal((8, 8)))


# --- time by pass (sampling) -----------------------------------------------------------------

# The module of sct that each pass lives in; its helpers (trees, names, errors) count to the
# pass that called them.  The reverse pass's own modules are listed one by one.
PASS_OF_MODULE = {
    "parse": "parse", "normalize": "normalize", "closures": "closures", "aliasing": "aliasing",
    "formats": "formats", "analysis": "analysis", "kinds": "analysis", "options": "analysis",
    "constant_helpers": "analysis", "compiler": "other (compiler.py glue, guards)",
    "reverse": "reverse", "sites": "reverse: sites", "liveness": "reverse: liveness",
    "calls": "reverse: calls", "contributions": "reverse: contributions",
    "adjoints": "reverse: adjoints", "sweeps": "reverse: sweeps", "forward_code": "reverse: forward_code",
    "templates": "reverse: templates", "complex_adjoints": "reverse: complex_adjoints",
    "site_checks": "reverse: site_checks", "call_sites": "call sites", "optimize": "optimize",
    "fuse": "fuse", "emit": "emit (printing)", "tangent": "tangent", "forward": "tangent",
    "api": "other (api, cache)", "cache": "other (api, cache)",
}
HELPER_MODULES = {"ir", "naming", "errors", "plans", "rules", "callables", "__init__"}
COMPILE_LABEL = "compile (CPython compile + exec)"


def _pass_of(frame) -> str:
    """The pass a sampled stack is in: its innermost frame in a pass module of sct."""
    while frame is not None:
        code = frame.f_code
        if code.co_name == "_timed_builtin" and code.co_filename == __file__:
            return COMPILE_LABEL
        norm = code.co_filename.replace("\\", "/")
        if "/sct/" in norm and "/runtime/" not in norm:
            mod = norm.rsplit("/sct/", 1)[1][:-3]
            if mod not in HELPER_MODULES:
                return PASS_OF_MODULE.get(mod, "other: sct." + mod)
        elif "/runtime/" in norm or "<sct-generated" in norm:
            return "running (runtime, generated code)"
        frame = frame.f_back
    return "outside the compiler"


def install_pass_sampler(interval: float = 0.0005):
    """Sample the main thread's stack every ``interval`` seconds (a daemon thread; CPython's
    switch interval lowered to match) and add the time since the last sample to the pass the
    stack is in.  Returns (totals, stop).  Python's compile() and exec() of the generated code
    (wrapped in sct.compiler) and the cyclic garbage collector (gc.callbacks) hold the GIL, so
    the sampler cannot see them: they are timed directly, in rows of their own."""
    import builtins
    import threading
    from sct import compiler

    main_id = threading.get_ident()
    totals: dict = {}
    timed = [0.0]       # time given to a row by a timer since the last sample (the GIL was held)

    def add(label, dt):
        totals[label] = totals.get(label, 0.0) + dt
        timed[0] += dt

    # compile(), exec() and the cyclic collector hold the GIL: the sampler cannot look while they
    # run, so they are timed directly and their time left out of the next sample's interval
    def wrap(fn):
        def _timed_builtin(*args, **kwargs):
            t0 = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                if threading.get_ident() == main_id:
                    add(COMPILE_LABEL, time.perf_counter() - t0)
        return _timed_builtin
    compiler.compile = wrap(builtins.compile)     # module globals shadow builtins
    compiler.exec = wrap(builtins.exec)
    gc_start = [0.0]

    def on_gc(phase, info):
        if threading.get_ident() != main_id:
            return
        if phase == "start":
            gc_start[0] = time.perf_counter()
        else:
            add("garbage collector", time.perf_counter() - gc_start[0])
    import gc
    gc.callbacks.append(on_gc)
    done = threading.Event()
    sys.setswitchinterval(interval)

    def sample():
        last = time.perf_counter()
        while not done.is_set():
            time.sleep(interval)
            frame = sys._current_frames().get(main_id)
            now = time.perf_counter()
            label = _pass_of(frame)
            dt, timed[0] = max(0.0, now - last - timed[0]), 0.0
            totals[label] = totals.get(label, 0.0) + dt
            last = now

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()

    def stop():
        done.set()
        thread.join()
        gc.callbacks.remove(on_gc)
        sys.setswitchinterval(0.005)
    return totals, stop


def module_of(filename: str, funcname: str) -> str:
    """A module label for cProfile's self time: sct/x.py -> sct.x, and so on."""
    norm = filename.replace("\\", "/")
    for pkg in ("sct", "runtime"):
        marker = f"/{pkg}/"
        if marker in norm:
            return f"{pkg}." + norm.rsplit(marker, 1)[1][:-3].replace("/", ".")
    if "/gast/" in norm:
        return "gast"
    if norm.endswith("/ast.py"):
        return "ast (stdlib)"
    if norm in ("~", "") or norm.startswith("<built-in"):
        if "compile" in funcname:
            return "compile (CPython)"
        return "builtins"
    if "<sct-generated" in norm:
        return "generated code"
    return os.path.basename(norm) if "site-packages" not in norm else norm.split("site-packages/")[1].split("/")[0]


def child(lines: int, mode: str) -> dict:
    directory = tempfile.mkdtemp(prefix="sct_compile_bench_")
    fn = _load(lines, directory)
    import numpy as np  # noqa: F401
    from sct import dlfeval
    args = _inputs()
    out = {"lines": lines}
    if mode == "time":
        t0, c0 = time.perf_counter(), time.process_time()
        dlfeval(fn, *args)
        first, first_cpu = time.perf_counter() - t0, time.process_time() - c0
        later, later_cpu = [], []
        for _ in range(3):
            t0, c0 = time.perf_counter(), time.process_time()
            dlfeval(fn, *args)
            later.append(time.perf_counter() - t0)
            later_cpu.append(time.process_time() - c0)
        out.update(first_s=first, call_s=min(later), compile_s=first - min(later),
                   compile_cpu_s=first_cpu - min(later_cpu))
    elif mode == "passes":
        totals, stop = install_pass_sampler()
        t0 = time.perf_counter()
        dlfeval(fn, *args)
        out["first_s"] = time.perf_counter() - t0
        stop()
        totals.pop("outside the compiler", None)
        out["passes"] = totals
    elif mode == "cprofile":
        prof = cProfile.Profile()
        t0 = time.perf_counter()
        prof.enable()
        dlfeval(fn, *args)
        prof.disable()
        out["first_s"] = time.perf_counter() - t0
        stats = pstats.Stats(prof)
        by_module, by_function, calls, function_calls = {}, [], {}, {}
        for (filename, line, func), (cc, nc, tt, ct, callers) in stats.stats.items():
            mod = module_of(filename, func)
            by_module[mod] = by_module.get(mod, 0.0) + tt
            calls[mod] = calls.get(mod, 0) + nc
            by_function.append((tt, ct, nc, f"{mod}:{func} (line {line})"))
            name = re.sub(r" at 0x[0-9a-f]+", "", f"{mod}:{func} (line {line})")    # (one name in each process)
            function_calls[name] = function_calls.get(name, 0) + nc
        by_function.sort(reverse=True)
        out["by_module"] = by_module
        out["calls_by_module"] = calls
        out["calls_by_function"] = function_calls
        out["top_functions"] = by_function[:15]
        out["profiled_total_s"] = sum(by_module.values())
    return out


def run_child(lines: int, mode: str, timeout: float) -> dict:
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    env["PYTHONPATH"] = os.pathsep.join([ROOT, HERE] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    proc = subprocess.run([sys.executable, os.path.abspath(__file__), "--child", str(lines), mode],
                          env=env, cwd=ROOT, capture_output=True, text=True, timeout=timeout)
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    raise RuntimeError(f"child for {lines} lines ({mode}) failed: {proc.stderr.strip()[-2000:]}")


def fmt_ms(s: float) -> str:
    return f"{s * 1e3:.0f} ms" if s >= 0.1 else f"{s * 1e3:.1f} ms"


def report(times: dict, passes: dict | None, prof: dict | None, meta: dict) -> str:
    sizes = sorted(times)
    lines = [f"Compile time (run {meta['date']}, sct at {meta['sct_rev']}; each size in a fresh process, "
             + (f"median of {meta['runs']} runs" if meta["runs"] > 1 else "one run")
             + "; first `dlfeval` call minus a later call):", ""]
    cpu = meta.get("cpu") or {}
    if meta.get("load") is not None:
        lines[0] = lines[0][:-2] + f"; load average {meta['load']:.1f} at the end, on {os.cpu_count()} cores; " \
            "CPU time is the process's own, which a busy machine changes much less than wall time):"
    lines.append("| lines | compile time | min–max | CPU time | growth exponent from the previous size | "
                 "issue 8's target |")
    lines.append("|---:|---:|---:|---:|---:|---:|")
    targets = {10: "≤ 50 ms", 2000: "≤ 2 s"}
    prev = None
    for n in sizes:
        ts = times[n]
        med = statistics.median(ts)
        exp = f"{math.log(med / prev[1]) / math.log(n / prev[0]):.2f}" if prev else "—"
        cpu_cell = fmt_ms(statistics.median(cpu[n])) if cpu.get(n) else "—"
        lines.append(f"| {n} | {fmt_ms(med)} | {fmt_ms(min(ts))}–{fmt_ms(max(ts))} | {cpu_cell} | {exp} | "
                     f"{targets.get(n, '—')} |")
        prev = (n, med)
    if len(sizes) >= 2:
        a, b = sizes[0], sizes[-1]
        slope = math.log(statistics.median(times[b]) / statistics.median(times[a])) / math.log(b / a)
        lines.append("")
        lines.append(f"Overall growth exponent {a} → {b} lines: {slope:.2f} (1.00 = linear).")
    lines.append("")
    if passes:
        ns = sorted(passes)
        labels = sorted({k for n in ns for k in passes[n]["passes"]}, key=lambda k: -passes[ns[-1]]["passes"].get(k, 0))
        lines.append("Where the compiler spends its time, by pass (the main thread's stack sampled every 0.5 ms "
                     "in one more fresh process per size, each sample's time given to the innermost module of "
                     "sct that is a pass; sct.ir and sct.naming count to their caller; no profiler running):")
        lines.append("")
        lines.append("| pass | " + " | ".join(f"{n} lines" for n in ns) + " |")
        lines.append("|---|" + "---:|" * len(ns))
        for label in labels:
            cells = []
            for n in ns:
                t = passes[n]["passes"].get(label, 0.0)
                total = sum(passes[n]["passes"].values())
                cells.append(f"{fmt_ms(t)} ({100 * t / total:.0f} %)" if t else "—")
            lines.append(f"| {label} | " + " | ".join(cells) + " |")
        lines.append("| **first call, sampled** | " + " | ".join(fmt_ms(passes[n]["first_s"]) for n in ns) + " |")
        lines.append("")
    if prof:
        total = prof["profiled_total_s"]
        lines.append(f"cProfile of the compilation of the {prof['lines']}-line function, self time by module "
                     f"(total {fmt_ms(total)} under the profiler; modules under 1 % left out):")
        lines.append("")
        lines.append("| module | self time | share |")
        lines.append("|---|---:|---:|")
        for mod, t in sorted(prof["by_module"].items(), key=lambda kv: -kv[1]):
            if t >= 0.01 * total:
                lines.append(f"| {mod} | {fmt_ms(t)} | {100 * t / total:.0f} % |")
        lines.append("")
        lines.append("Top functions by self time:")
        lines.append("")
        lines.append("| function | self | cumulative | calls |")
        lines.append("|---|---:|---:|---:|")
        for tt, ct, nc, name in prof["top_functions"][:10]:
            lines.append(f"| `{name}` | {fmt_ms(tt)} | {fmt_ms(ct)} | {nc} |")
        lines.append("")
    return "\n".join(lines)


def growth_report(small: dict, large: dict) -> str:
    """``--growth``: per module, calls and self time at both sizes and their growth, against the lines'."""
    a, b = small["lines"], large["lines"]
    ratio = b / a
    mods = sorted(set(small["by_module"]) | set(large["by_module"]), key=lambda m: -large["by_module"].get(m, 0.0))
    total_a, total_b = small["profiled_total_s"], large["profiled_total_s"]
    calls_a, calls_b = sum(small["calls_by_module"].values()), sum(large["calls_by_module"].values())
    lines = [f"Growth from {a} to {b} lines ({ratio:g}x the lines), each compiled once under cProfile in a fresh "
             f"process: calls (exact, whatever the load) and self time (the load's noise in it) by module, "
             f"modules under 0.5 % of the self time at {b} lines left out:", "",
             f"| module | calls at {a} | calls at {b} | calls' growth | self time at {a} | self time at {b} | "
             "self time's growth |", "|---|---:|---:|---:|---:|---:|---:|",
             f"| **all** | {calls_a} | {calls_b} | {calls_b / max(calls_a, 1):.2f}x | {fmt_ms(total_a)} | "
             f"{fmt_ms(total_b)} | {total_b / max(total_a, 1e-9):.2f}x |"]
    for mod in mods:
        tb = large["by_module"].get(mod, 0.0)
        if tb < 0.005 * total_b:
            continue
        ta = small["by_module"].get(mod, 0.0)
        ca, cb = small["calls_by_module"].get(mod, 0), large["calls_by_module"].get(mod, 0)
        lines.append(f"| {mod} | {ca} | {cb} | {cb / max(ca, 1):.2f}x | {fmt_ms(ta)} | {fmt_ms(tb)} | "
                     f"{tb / max(ta, 1e-9):.2f}x |")
    fa, fb = small["calls_by_function"], large["calls_by_function"]
    fast = sorted(((fb[f] / max(fa.get(f, 0), 1), f) for f in fb
                   if fb[f] >= 1000 and fb[f] > 1.25 * ratio * max(fa.get(f, 0), 1)), reverse=True)
    lines += ["", f"Functions called more than 1.25 x {ratio:g} times as often at {b} lines as at {a} "
              f"(at least 1,000 calls): {len(fast)}"]
    lines += [f"- `{f}`: {fa.get(f, 0)} -> {fb[f]} calls ({g:.1f}x)" for g, f in fast[:20]]
    return "\n".join(lines) + "\n"


BEGIN, END = "<!-- COMPILE-TIME:BEGIN -->", "<!-- COMPILE-TIME:END -->"


def write_out(path: str, text: str) -> None:
    block = f"{BEGIN}\n{text}{END}\n"
    old = open(path).read() if os.path.exists(path) else "# Benchmarks\n\n"
    if BEGIN in old and END in old:
        head, rest = old.split(BEGIN, 1)
        new = head + block + rest.split(END, 1)[1].lstrip("\n")
    else:
        new = old.rstrip("\n") + "\n\n" + block
    with open(path, "w") as f:
        f.write(new)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[10, 200, 2000])
    ap.add_argument("--runs", type=int, default=3, help="fresh processes per size (median)")
    ap.add_argument("--no-profile", action="store_true", help="skip the per-pass profiles")
    ap.add_argument("--cprofile-lines", type=int, default=500, help="size of the cProfile'd function (0: none)")
    ap.add_argument("--growth", type=int, nargs=2, metavar=("A", "B"),
                    help="only: calls and self time by module at A and B lines, and their growth")
    ap.add_argument("--timeout", type=float, default=1800)
    ap.add_argument("--out", help="write the section into this markdown file (between COMPILE-TIME markers)")
    ap.add_argument("--json", help="write raw results to this JSON file")
    ap.add_argument("--child", nargs=2, metavar=("LINES", "MODE"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        sys.path.insert(0, ROOT)
        res = child(int(args.child[0]), args.child[1])
        print("RESULT " + json.dumps(res))
        return 0
    if args.growth:
        small, large = (run_child(n, "cprofile", args.timeout) for n in args.growth)
        print(growth_report(small, large))
        return 0
    sys.path.insert(0, HERE)
    from run import sct_revision
    times, cpu = {}, {}
    for n in args.sizes:
        times[n] = []
        for _ in range(args.runs):
            res = run_child(n, "time", args.timeout)
            times[n].append(res["compile_s"])
            cpu.setdefault(n, []).append(res["compile_cpu_s"])
            print(f"{n:>5} lines: {fmt_ms(res['compile_s'])} compile ({fmt_ms(res['compile_cpu_s'])} CPU), "
                  f"{fmt_ms(res['call_s'])} per call", file=sys.stderr, flush=True)
    passes = prof = None
    if not args.no_profile:
        passes = {}
        for n in args.sizes:
            passes[n] = run_child(n, "passes", args.timeout)
            print(f"{n:>5} lines: {fmt_ms(passes[n]['first_s'])} first call, stack sampled", file=sys.stderr,
                  flush=True)
        if args.cprofile_lines:
            prof = run_child(args.cprofile_lines, "cprofile", args.timeout)
    meta = {"date": time.strftime("%Y-%m-%d %H:%M"), "sct_rev": sct_revision(), "runs": args.runs,
            "cpu": cpu, "load": os.getloadavg()[0] if hasattr(os, "getloadavg") else None}
    text = report(times, passes, prof, meta)
    print(text)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"meta": meta, "times": times, "cpu": cpu, "passes": passes, "cprofile": prof}, f, indent=1)
    if args.out:
        write_out(args.out, text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
