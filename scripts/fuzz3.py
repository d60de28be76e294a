"""Run the third random-program tester (tests/fuzz3): execution-guided programs with data-shaped control flow.

    python scripts/fuzz3.py --n 500 --seed 0 --out /tmp/fuzz3_out -v
    python scripts/fuzz3.py --check /tmp/fuzz3_out/WRONG_12.py

Each failing program (WRONG, CRASHED, UNLOCATED refusal, INTERNAL refusal) is written to OUT as a
self-contained module: run it with python to check it again.  Refusals are counted by reason;
SIGTERM stops the run and reports what ran.
"""
from __future__ import annotations

import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "tests"))

from fuzz2.cli import main  # noqa: E402
from fuzz3.gen import generate  # noqa: E402
from fuzz3.runner import FINDINGS, check_file, repro_text  # noqa: E402

if __name__ == "__main__":
    sys.exit(main(("fuzz3", generate, check_file, repro_text, FINDINGS)))
