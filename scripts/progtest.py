#!/usr/bin/env python
"""Differential program tester: run N random programs under sct against plain Python.

    python scripts/progtest.py --n 10000 --seed 0 --jobs 2 --out progtest_out --shrink
    python scripts/progtest.py --help
"""
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
for path in (ROOT, os.path.join(ROOT, "tests")):
    if path not in sys.path:
        sys.path.insert(0, path)

from progtest.runner import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
