"""Run the second random-program tester (tests/fuzz2): expression/statement trees over many kinds.

    python scripts/fuzz2.py --n 500 --seed 7000000 --out /tmp/fuzz2_out
    python scripts/fuzz2.py --check /tmp/fuzz2_out/WRONG_7000012.py

Each failing program (WRONG, CRASHED, UNLOCATED refusal, INTERNAL refusal) is written to OUT as a
self-contained module: run it with python to check it again.
"""
from __future__ import annotations

import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "tests"))

from fuzz2.cli import main  # noqa: E402
from fuzz2.gen import generate  # noqa: E402
from fuzz2.runner import FINDINGS, check_file, repro_text  # noqa: E402

if __name__ == "__main__":
    sys.exit(main(("fuzz2", generate, check_file, repro_text, FINDINGS)))
