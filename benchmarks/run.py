"""Benchmark sct against hand-written numpy gradients, autograd, JAX and PyTorch.

    python benchmarks/run.py                 # full run (about 10-15 minutes)
    python benchmarks/run.py --quick         # short run (about 2-3 minutes)
    python benchmarks/run.py --out docs/benchmarks.md
    python benchmarks/run.py --cases mlp rnn --impls numpy sct torch
    python benchmarks/run.py --malloc fixed  # one allocator setting only

Every (case, implementation) pair runs in a fresh Python process
(benchmarks/worker.py), pinned to one CPU with one BLAS/OpenMP thread, so
imports, JIT caches and thread pools of one library never affect another and
no library gets more than one core.  Each pair is measured under two
allocator settings (--malloc both, the default): glibc's malloc thresholds
fixed (see MALLOC_ENV) and glibc's defaults; with --quick the defaults are
measured for numpy and sct only.  Each child checks its value
and gradients against the hand-written numpy reference before timing, then
reports the median time per call over timeit-style samples.  All ratios are
taken between numbers from the same run.  A peer that is not installed is
reported as "not installed" and skipped.
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)

from cases_data import CASES, TARGETS  # noqa: E402

IMPLS = ["numpy", "sct", "sct_fused", "autograd", "jax", "jax.jit", "torch"]
PEERS = ["autograd", "jax", "jax.jit", "torch"]

THREAD_ENV = {
    "OMP_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "VECLIB_MAXIMUM_THREADS": "1",
    "NUMEXPR_NUM_THREADS": "1",
    "JAX_PLATFORMS": "cpu",
    "XLA_FLAGS": "--xla_cpu_multi_thread_eigen=false",
    "TF_CPP_MIN_LOG_LEVEL": "2",
}


# glibc's malloc serves blocks over 128 KiB with mmap and, after a free, moves
# that threshold by the sizes it has seen: whether a 256 KiB temporary costs
# fresh zeroed pages on every call then depends on the allocation history, and
# the same numpy code measures 330 or 720 µs from one revision to the next.
# Fixed thresholds make every implementation reuse heap memory the same way.
MALLOC_ENV = {
    "MALLOC_MMAP_THRESHOLD_": str(32 * 1024 * 1024),
    "MALLOC_TRIM_THRESHOLD_": str(256 * 1024 * 1024),
}
SYSTEM_MALLOC = False     # the setting of the child being started
MALLOC_TEXT = {"fixed": "fixed malloc thresholds (MALLOC_MMAP_THRESHOLD_=32 MiB, MALLOC_TRIM_THRESHOLD_=256 MiB)",
               "system": "glibc's default malloc thresholds"}


def default_cpu() -> str:
    """The last CPU this process may run on (children are pinned to it)."""
    if hasattr(os, "sched_getaffinity"):
        return str(max(os.sched_getaffinity(0)))
    return "none"


CPU = "none"
CONTENDED = 0.9   # CPU time / wall time below this: the process was waiting for the CPU


def child_env() -> dict:
    env = dict(os.environ)
    env.update(THREAD_ENV)
    env["BENCH_CPU"] = CPU
    if SYSTEM_MALLOC:
        for name in MALLOC_ENV:
            env.pop(name, None)
    else:
        env.update(MALLOC_ENV)
    env["PYTHONPATH"] = os.pathsep.join([ROOT, HERE] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    return env


def run_child(args: list, timeout: float) -> dict:
    cmd = [sys.executable, os.path.join(HERE, "worker.py")] + args
    try:
        proc = subprocess.run(cmd, env=child_env(), cwd=ROOT, capture_output=True, text=True,
                              timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"status": "error", "error": f"timed out after {timeout:.0f} s"}
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT "):])
    tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
    return {"status": "error", "error": f"worker exited {proc.returncode}: {tail[:160]}"}


# --- formatting -------------------------------------------------------------------------------

def fmt_time(s: float) -> str:
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6), ("ns", 1e-9)):
        if s >= scale or unit == "ns":
            v = s / scale
            return f"{v:.3g} {unit}"
    return f"{s:.3g} s"


def fmt_ratio(r: float) -> str:
    if r >= 100:
        return f"{r:.0f}×"
    if r >= 10:
        return f"{r:.1f}×"
    return f"{r:.2f}×"


def cell_status(res: dict | None) -> str:
    if res is None:
        return "—"
    st = res.get("status")
    if st == "ok":
        mark = " †" if res.get("cpu_per_wall", 1.0) < CONTENDED else ""
        return fmt_time(res["median_s"]) + mark + dtype_mark(res)
    if st in ("not installed", "n/a"):
        return st
    msg = res.get("error", st).replace("|", "\\|").replace("\n", " ")
    return f"{'error' if st == 'error' else 'wrong'}: {msg}"


def dtype_mark(res: dict) -> str:
    """‡ where the gradients came back in another dtype than the inputs'."""
    return " ‡" if res.get("grad_dtypes", []) != res.get("ref_dtypes", []) else ""


def median(res: dict | None):
    return res["median_s"] if res and res.get("status") == "ok" else None


def table(header: list, rows: list) -> str:
    out = ["| " + " | ".join(header) + " |", "|" + "|".join(["---"] + ["---:"] * (len(header) - 1)) + "|"]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(out)


def report(results: dict, cases: list, impls: list, meta: dict) -> str:
    """``results`` maps (case, implementation, malloc setting) to a worker's result."""
    peers = [p for p in impls if p in PEERS]
    settings = meta["mallocs"]
    main = settings[0]
    lines = []
    lines.append(f"Run: {meta['date']}, {meta['mode']} mode, {meta['wall_s']:.0f} s wall time. "
                 f"Machine: {meta['cpu']}, {meta['cores']} cores; each process pinned to CPU {meta['pinned']} "
                 f"with one BLAS/OpenMP thread. sct at {meta['sct_rev']}. "
                 + ", ".join(f"{'Python' if k == 'python' else k} {v}"
                             for k, v in meta["versions"].items() if v) + ".")
    lines.append("")
    lines.append(f"Median time per call with {MALLOC_TEXT[main]} ({meta['samples']} samples, timeit-style "
                 f"autoranged calls per sample of at least {meta['target'] * 1e3:.0f} ms; value and gradients "
                 "checked against numpy first):")
    lines.append("")
    lines.append(table(["case"] + impls,
                       [[c] + [cell_status(results.get((c, i, main))) for i in impls] for c in cases]))
    lines.append("")

    def ratio(case, over, under, malloc):
        top, bottom = median(results.get((case, over, malloc))), median(results.get((case, under, malloc)))
        return fmt_ratio(top / bottom) if (top and bottom) else "—"

    for malloc in settings:
        measured = [i for i in impls if any((c, i, malloc) in results for c in cases)]
        lines.append(f"Time relative to the hand-written numpy gradient (t / t_numpy, lower is faster), "
                     f"{MALLOC_TEXT[malloc]}; the target is issue 8's for sct:")
        lines.append("")
        lines.append(table(["case"] + measured + ["target (sct)"],
                           [[c] + [ratio(c, i, "numpy", malloc) for i in measured] + [TARGETS.get(c, "—")]
                            for c in cases]))
        lines.append("")
    if len(settings) > 1:
        lines.append("The allocator's effect: median time and minor page faults per call under each setting "
                     "(fixed thresholds / glibc's defaults):")
        lines.append("")
        measured = [i for i in impls if any((c, i, settings[1]) in results for c in cases)]
        rows = []
        for c in cases:
            row = [c]
            for i in measured:
                a, b = results.get((c, i, settings[0])), results.get((c, i, settings[1]))
                if median(a) and median(b):
                    row.append(f"{fmt_time(a['median_s'])} / {fmt_time(b['median_s'])}; "
                               f"{a.get('page_faults_per_call', 0):.0f} / {b.get('page_faults_per_call', 0):.0f} faults")
                else:
                    row.append("—")
            rows.append(row)
        lines.append(table(["case"] + measured, rows))
        lines.append("")
    if "sct" in impls and peers:
        lines.append(f"sct against each peer (t_peer / t_sct; above 1 means sct is faster), {MALLOC_TEXT[main]}:")
        lines.append("")
        lines.append(table(["case"] + [f"vs {p}" for p in peers],
                           [[c] + [ratio(c, p, "sct", main) for p in peers] for c in cases]))
        lines.append("")
    ratios = [r["cpu_per_wall"] for r in results.values() if r.get("status") == "ok" and "cpu_per_wall" in r]
    if ratios:
        lines.append(f"Process CPU time / wall time while sampling: {min(ratios):.2f} to {max(ratios):.2f} "
                     "(1.00 = one core busy). † marks a measurement below "
                     f"{CONTENDED:.2f} even after {meta['retries']} retries: it shared its core with "
                     "another process, so its time is inflated. ‡ marks gradients returned in another dtype "
                     "than their inputs'.")
        lines.append("")
    lines.append("First call in a fresh process (includes sct's compilation and jax.jit's tracing "
                 "and XLA compilation; imports excluded):")
    lines.append("")
    rows = []
    for c in cases:
        row = [c]
        for i in impls:
            r = results.get((c, i, main))
            row.append(fmt_time(r["first_call_s"]) if r and "first_call_s" in r else "—")
        rows.append(row)
    lines.append(table(["case"] + impls, rows))
    lines.append("")
    lines.append("Cases:")
    lines.append("")
    for c in cases:
        lines.append(f"- `{c}`: {CASES[c][0]}")
    return "\n".join(lines) + "\n"


def sct_revision() -> str:
    """The commit of the sct being measured, noting uncommitted changes to it."""
    try:
        rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                             text=True, timeout=30).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "sct", "runtime"], cwd=ROOT,
                               capture_output=True, text=True, timeout=30).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown revision"
    if not rev:
        return "unknown revision"
    return f"commit {rev}" + (" plus uncommitted changes" if dirty else "")


def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="Benchmark sct against numpy, autograd, JAX and PyTorch.")
    ap.add_argument("--quick", action="store_true",
                    help="short run: 7 samples of >= 20 ms each; glibc's default malloc for numpy and sct only")
    ap.add_argument("--out", help="also write the report to this markdown file "
                                  "(replaces the text between the BENCHMARK-RESULTS markers if present)")
    ap.add_argument("--json", help="write raw results to this JSON file")
    ap.add_argument("--cases", nargs="+", choices=list(CASES), default=list(CASES))
    ap.add_argument("--impls", nargs="+", choices=IMPLS, default=IMPLS)
    ap.add_argument("--samples", type=int, help="samples per measurement (default 7 quick, 9 full)")
    ap.add_argument("--target", type=float, help="minimum seconds per sample (default 0.02 quick, 0.2 full)")
    ap.add_argument("--cpu", default=default_cpu(),
                    help="CPU to pin each child process to ('none' to not pin; default: the last one)")
    ap.add_argument("--malloc", choices=["both", "fixed", "system"], default="both",
                    help="allocator settings to measure: fixed thresholds (MALLOC_ENV), glibc's adaptive "
                         "defaults, or both (default)")
    ap.add_argument("--system-malloc", action="store_true", help="the same as --malloc system")
    ap.add_argument("--retries", type=int, default=2,
                    help="re-run a measurement whose process got less than 90%% of a core (default 2)")
    ap.add_argument("--timeout", type=float, default=180, help="seconds allowed per child process")
    args = ap.parse_args(argv)

    global CPU, SYSTEM_MALLOC
    CPU = str(args.cpu)
    mallocs = {"both": ["fixed", "system"], "fixed": ["fixed"], "system": ["system"]}[
        "system" if args.system_malloc else args.malloc]
    samples = args.samples or (7 if args.quick else 9)
    if samples < 7:
        ap.error("--samples must be at least 7")
    target = args.target or (0.02 if args.quick else 0.2)
    warmup = 0.05 if args.quick else 0.3
    impls = ["numpy"] + [i for i in args.impls if i != "numpy"]   # numpy is the reference

    t_start = time.perf_counter()
    results = {}
    # case by case, so that the numbers a ratio divides are taken close together in time
    jobs = [(case, impl, malloc) for case in args.cases for malloc in mallocs for impl in impls
            if malloc == mallocs[0] or not args.quick or impl in ("numpy", "sct")]
    for case, impl, malloc in jobs:
        SYSTEM_MALLOC = malloc == "system"
        print(f"[{case:>11} | {impl:<8} | {malloc:<6}] ", end="", file=sys.stderr, flush=True)
        child_args = [case, impl, "--target", str(target), "--samples", str(samples),
                      "--warmup", str(warmup)]
        res = run_child(child_args, args.timeout)
        for _ in range(args.retries):
            if res.get("status") != "ok" or res["cpu_per_wall"] >= CONTENDED:
                break
            print(f"(contended: {fmt_time(res['median_s'])} at {res['cpu_per_wall']:.2f} CPU/wall, "
                  "retrying) ", end="", file=sys.stderr, flush=True)
            again = run_child(child_args, args.timeout)
            if again.get("status") == "ok" and again["cpu_per_wall"] > res["cpu_per_wall"]:
                res = again
        results[(case, impl, malloc)] = res
        print(cell_status(res), file=sys.stderr, flush=True)
    versions = run_child(["--versions"], 120)
    versions.pop("status", None)
    meta = {"date": datetime.datetime.now().strftime("%Y-%m-%d %H:%M"),
            "mode": "quick" if args.quick else "full",
            "wall_s": time.perf_counter() - t_start, "cpu": cpu_name(), "cores": os.cpu_count(), "pinned": CPU,
            "versions": versions, "samples": samples, "target": target, "retries": args.retries,
            "mallocs": mallocs,
            "sct_rev": sct_revision()}
    text = report(results, args.cases, impls, meta)
    print(text)

    failures = [(k, v) for k, v in results.items() if v.get("status") in ("error", "wrong")]
    for (case, impl, malloc), res in failures:
        print(f"--- {case} / {impl} / {malloc}: {res.get('error')}", file=sys.stderr)
        if res.get("traceback"):
            print(res["traceback"], file=sys.stderr)

    if args.json:
        with open(args.json, "w") as f:
            json.dump({"meta": meta, "results": [dict(v, case=k[0], impl=k[1], malloc=k[2])
                                                 for k, v in results.items()]},
                      f, indent=1)
    if args.out:
        write_out(args.out, text)
    return 0


BEGIN, END = "<!-- BENCHMARK-RESULTS:BEGIN -->", "<!-- BENCHMARK-RESULTS:END -->"


def write_out(path: str, text: str) -> None:
    """Write the report; in an existing file with markers, replace only the marked part."""
    block = f"{BEGIN}\n{text}{END}\n"
    if os.path.exists(path):
        with open(path) as f:
            old = f.read()
        if BEGIN in old and END in old:
            head, rest = old.split(BEGIN, 1)
            tail = rest.split(END, 1)[1].lstrip("\n")
            with open(path, "w") as f:
                f.write(head + block + tail)
            return
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w") as f:
        f.write("# Benchmarks\n\n" + block)


if __name__ == "__main__":
    sys.exit(main())
