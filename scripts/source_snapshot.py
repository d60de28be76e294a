"""One file holding every source sct generates, and every refusal, for a large corpus.

    PYTHONPATH=$PWD python scripts/source_snapshot.py OUT.txt [--progtest 300] [--fuzz9 100] [--seed 0]
    python scripts/source_snapshot.py BEFORE.txt --sct /work/main     # the compiler of another checkout
    diff BEFORE.txt AFTER.txt          # compile-speed work: must be empty

The process runs with PYTHONHASHSEED=0 (re-executed so where it is not): a message naming one of
several names found in a set (``lr`` or ``p``) otherwise changes from run to run.

Corpus, in this order (each item starts from an empty cache, sct.clear_cache()):
  * benchmarks/compile_time.py's functions at 10 and 200 lines (sct.source);
  * scripts/snapshot_corpus.py's user-style functions (sct.source with callees and a run, then a
    dlfeval);
  * ``--progtest N`` programs of the program tester (tests/progtest, seeds from ``--seed``), run
    as scripts/progtest.py runs them (values and gradients against plain Python);
  * ``--fuzz9 N`` programs of scripts/fuzz9.py (training loops with dlgradient in helpers);
  * with ``--benchmarks``: benchmarks/cases_sct.py's cases with the benchmarks' inputs, plain and
    numexpr-fused; with ``--examples``: the examples' training functions (a short run each); with
    ``--tests FILE ...``: those test files under pytest (each test's sources under its node id).

For each item the file gets its label, its outcome (the tester's status, kind and message: a
refusal's full text, a crash's first line) and every source the compiler emitted while it ran
(sct.compiler.source_and_lines: the text and its line map), in order.  Paths of temporary
folders are fixed (one folder under the system's temp, made afresh), and line numbers of sct's
own files in a message are written as N, so two runs of the same compiler give the same file.
"""
import argparse
import os
import re
import shutil
import sys
import tempfile
import time

if os.environ.get("PYTHONHASHSEED") != "0":     # sets of names are iterated: one order for every run
    os.environ["PYTHONHASHSEED"] = "0"
    os.execv(sys.executable, [sys.executable] + sys.argv)

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
# --sct DIR: the compiler of another checkout (its sct/ and runtime/), e.g. --sct /work/main
SCT_ROOT = ROOT
if "--sct" in sys.argv:
    _k = sys.argv.index("--sct")
    SCT_ROOT = os.path.abspath(sys.argv[_k + 1])
    del sys.argv[_k:_k + 2]
for _p in (os.path.join(ROOT, "benchmarks"), os.path.join(ROOT, "tests"), HERE, SCT_ROOT):
    if _p not in sys.path:
        sys.path.insert(0, _p)

import sct  # noqa: E402
from sct import compiler  # noqa: E402

OUT = []
_orig = compiler.source_and_lines


def _recording(nodes):
    source, lines = _orig(nodes)
    OUT.append("--- source\n" + source + "\n# LINES " + repr(lines) + "\n")
    return source, lines


compiler.source_and_lines = _recording

_SCT_LINE = re.compile(r'(File "[^"]*/(?:sct|runtime)/[^"]*", line )\d+')


def _clean(text):
    return _SCT_LINE.sub(r"\1N", str(text))


def item(label, thunk):
    sct.clear_cache()
    OUT.append(f"=== {label}\n")
    try:
        outcome = thunk()
    except Exception as exc:          # a refusal (or a crash): its message must not change either
        outcome = f"{type(exc).__name__}: {exc}"
    OUT.append("--- outcome\n" + _clean(outcome) + "\n")


def generated(d):
    import compile_time as ct
    for n in (10, 200):
        f = ct._load(n, d)
        args = ct._inputs()
        item(f"compile_time_{n}", lambda: sct.source(f, *args))


def users():
    import snapshot_corpus
    for name, f, build in snapshot_corpus.cases():
        item("user_" + name, lambda: sct.source(f, *build(), callees=True, run=True))
        item("user_" + name + "_run", lambda: repr(sct.dlfeval(f, *build()))[:0] + "ran")


def progtest(n, seed, d):
    from progtest.checker import run_program
    from progtest.generator import generate
    from progtest.runner import resolve_features
    features = resolve_features("all")

    def one(s):
        for attempt in range(6):                       # as checker.run_seed, with fixed names
            program = generate(s * 1000 + attempt, features, ())
            res = run_program(program, d, f"progtest_{s}_{attempt}", 30.0)
            if res.status != "SKIPPED":
                break
        detail = res.detail if res.status == "REFUSED" else ""
        return f"{res.status} {res.kind} attempt {attempt}\n{res.reason}\n{detail}"

    for s in range(seed, seed + n):
        item(f"progtest_{s}", lambda: one(s))


def fuzz9(n, seed, d):
    import fuzz9 as fz

    def one(s):
        path = os.path.join(d, f"prog_{s}.py")
        with open(path, "w") as fh:
            fh.write(fz.Gen9(s).program())
        r = fz.check_path(path, s)
        for k in [k for k in sys.modules if k.startswith("fz9_")]:
            del sys.modules[k]
        msg = r.msg if r.status in ("REFUSED", "WRONG") else (r.msg.splitlines() or [""])[-1]
        return f"{r.status} {r.kind}\n{msg}"

    for s in range(seed, seed + n):
        item(f"fuzz9_{s}", lambda: one(s))


def benchmarks():
    """benchmarks/cases_sct.py's cases with the benchmarks' inputs, run once, plain and numexpr-fused."""
    import cases_sct
    from cases_data import CASES, make_inputs
    for fused in (False, True):
        for case in CASES:
            if fused and case in ("train_cnn", "train_mlp", "cnn_conv"):
                continue

            def run(case=case, fused=fused):
                inputs = make_inputs(case)
                call, _ = (cases_sct.make_fused if fused else cases_sct.make)(case, inputs)
                call()
                return "ran"
            try:
                item(("fused_" if fused else "bench_") + case, run)
            finally:
                sct.set_backend("numpy")


def examples():
    """The examples' training functions, a short run each."""
    os.environ["SCT_EXAMPLES_QUICK"] = "1"
    if ROOT not in sys.path:
        sys.path.insert(0, ROOT)
    from examples import burgers_pinn, image_classifier, sequence_lstm, wgan_gp
    item("ex_burgers", lambda: burgers_pinn.train(iterations=2) and "ran")
    item("ex_image", lambda: image_classifier.train(epochs=1) and "ran")
    item("ex_lstm", lambda: sequence_lstm.train(epochs=1, num_train=100, num_test=50) and "ran")
    item("ex_wgan", lambda: wgan_gp.train(iterations=2) and "ran")


def tests(files):
    """The given test files under pytest, one process: each test's sources under its node id."""
    import pytest

    class Plugin:
        @pytest.hookimpl(hookwrapper=True)
        def pytest_runtest_call(self, item):
            OUT.append(f"=== test {item.nodeid}\n")
            yield

        def pytest_runtest_logreport(self, report):
            if report.when == "call":
                OUT.append(f"--- outcome\n{report.outcome}\n")

    pytest.main(["-q", "-n", "0", "-p", "no:cacheprovider", "-p", "no:randomly", *files], plugins=[Plugin()])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--progtest", type=int, default=300)
    ap.add_argument("--fuzz9", type=int, default=100)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--benchmarks", action="store_true", help="also benchmarks/cases_sct.py's cases, plain and fused")
    ap.add_argument("--examples", action="store_true", help="also the examples' training functions")
    ap.add_argument("--tests", nargs="+", default=(), metavar="FILE", help="also these test files under pytest")
    a = ap.parse_args()
    d = os.path.join(tempfile.gettempdir(), "sct_source_snapshot")
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    t0 = time.time()
    generated(d)
    users()
    progtest(a.progtest, a.seed, d)
    fuzz9(a.fuzz9, a.seed, d)
    if a.benchmarks:
        benchmarks()
    if a.examples:
        examples()
    if a.tests:
        tests(a.tests)
    with open(a.out, "w") as fh:
        fh.write("".join(OUT))
    items = sum(1 for s in OUT if s.startswith("=== "))
    sources = sum(1 for s in OUT if s.startswith("--- source"))
    print(f"{items} items, {sources} sources, {time.time() - t0:.0f} s -> {a.out} "
          f"(sct: {os.path.dirname(os.path.dirname(os.path.abspath(sct.__file__)))})")


if __name__ == "__main__":
    main()
