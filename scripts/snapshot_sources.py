"""Snapshot of every source sct generates for a corpus (compile-speed work must not change a byte).

    PYTHONPATH=$PWD python scripts/snapshot_sources.py OUTDIR [--tests tests/a.py ...]
    diff -r BEFORE AFTER

Every source the compiler emits (sct.compiler.source_and_lines: the text and its line map) is
written, in order, under the label of the corpus item that made it; refusals and other errors
are written too (their messages).  Corpus: benchmarks/cases_sct.py's cases with the benchmarks'
inputs (run once, plain and numexpr-fused), benchmarks/compile_time.py's functions at 10, 200
and 500 lines, scripts/snapshot_corpus.py's user-style functions (sct.source with callees,
and a run), the examples' model-loss functions (a short training run), and with --tests the given
test files run under pytest (each test's sources under its node id).
"""
import os
import sys
import tempfile
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "benchmarks"))
sys.path.insert(0, HERE)

import numpy as np  # noqa: E402
import sct  # noqa: E402
from sct import compiler  # noqa: E402

OUT = None
LABEL = ["start"]
COUNT = {}


def _write(kind, text):
    label = LABEL[0].replace("/", "_").replace("::", "__").replace(" ", "_")[:150]
    n = COUNT.get(label, 0)
    COUNT[label] = n + 1
    with open(os.path.join(OUT, f"{label}.{n:03d}.{kind}"), "w") as f:
        f.write(text)


_orig = compiler.source_and_lines


def _recording(nodes):
    source, lines = _orig(nodes)
    _write("py", source + "\n# LINES " + repr(lines) + "\n")
    return source, lines


compiler.source_and_lines = _recording


def item(label, thunk):
    LABEL[0] = label
    try:
        out = thunk()
        if isinstance(out, str):
            _write("src", out)
    except Exception as exc:      # a refusal: its message must not change either
        _write("err", f"{type(exc).__name__}: {exc}\n")


def benchmarks():
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
            item(("fused_" if fused else "bench_") + case, run)
            sct.set_backend("numpy")
            sct.clear_cache()


def generated():
    import compile_time as ct
    d = tempfile.mkdtemp()
    for n in (10, 200, 500):
        f = ct._load(n, d)
        args = ct._inputs()
        item(f"gen{n}", lambda: sct.source(f, *args))


def users():
    import snapshot_corpus
    for name, f, build in snapshot_corpus.cases():
        item("user_" + name, lambda: sct.source(f, *build(), callees=True, run=True))
        item("user_" + name + "_run", lambda: repr(sct.dlfeval(f, *build()))[:0])
        sct.clear_cache()


def examples():
    os.environ["SCT_EXAMPLES_QUICK"] = "1"
    from examples import burgers_pinn, image_classifier, sequence_lstm, wgan_gp
    item("ex_burgers", lambda: burgers_pinn.train(iterations=2) and None)
    item("ex_image", lambda: image_classifier.train(epochs=1) and None)
    item("ex_lstm", lambda: sequence_lstm.train(epochs=1, num_train=100, num_test=50) and None)
    item("ex_wgan", lambda: wgan_gp.train(iterations=2) and None)


def tests(files):
    import pytest

    class Plugin:
        @pytest.hookimpl(hookwrapper=True)
        def pytest_runtest_call(self, item):
            LABEL[0] = "test_" + item.nodeid
            yield

        def pytest_runtest_logreport(self, report):
            if report.when == "call":
                _write("outcome", report.outcome + "\n")

    pytest.main(["-q", "-x", "-n", "0", "-p", "no:cacheprovider", "-p", "no:randomly", *files], plugins=[Plugin()])


def main():
    global OUT
    OUT = sys.argv[1]
    os.makedirs(OUT, exist_ok=True)
    rest = sys.argv[2:]
    if "--tests" in rest:
        tests(rest[rest.index("--tests") + 1:])
        return
    for part in (generated, users, benchmarks, examples):
        try:
            part()
        except Exception:
            LABEL[0] = "driver_" + part.__name__
            _write("err", traceback.format_exc())


if __name__ == "__main__":
    main()
