"""Differential program tester: random realistic numpy programs, sct against plain Python.

``generator`` draws programs from features (what users write), ``checker`` runs
one under ``dlfeval`` and compares its value, the arguments' states after the
call and every gradient with plain Python and central differences
(tests/gradcheck.py), ``shrink`` reduces a failing program, ``runner`` is the
command line (``python scripts/progtest.py`` or ``python -m tests.progtest``).
"""

# Features whose programs hit bugs known today (issue 6).  CI (tests/test_program_tester.py and
# ``--features ci``) generates programs without them; remove a name once its item is fixed.
KNOWN_BROKEN = {
}
