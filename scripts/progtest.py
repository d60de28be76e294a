#!/usr/bin/env python
"""Differential program tester: run N random programs under sct against plain Python.

    python scripts/progtest.py --sct /work/main --n 2000      # the compiler of another checkout

    python scripts/progtest.py --n 10000 --seed 0 --jobs 2 --out progtest_out --shrink
    python scripts/progtest.py --help

    SCT_BACKEND=numexpr SCT_FUSE_MIN_SIZE=0 SCT_FUSE_MEASURE=0 python scripts/progtest.py --n 300 --jobs 1
                         # with the fused backend on, every array of a fused chain through numexpr
    SCT_BACKEND=numexpr SCT_FUSE_COST_MODEL=0 SCT_FUSE_MIN_SIZE=0 python scripts/progtest.py --n 300 --jobs 1
                         # ... and every chain of two operations fused (sct.set_backend)
"""
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# --sct DIR tests the compiler of another checkout (its sct/ and runtime/), e.g. --sct /work/main
SCT_ROOT = ROOT
if "--sct" in sys.argv:
    k = sys.argv.index("--sct")
    SCT_ROOT = os.path.abspath(sys.argv[k + 1])
    del sys.argv[k:k + 2]
for path in (os.path.join(ROOT, "tests"), SCT_ROOT):
    if path not in sys.path:
        sys.path.insert(0, path)

from progtest.runner import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
