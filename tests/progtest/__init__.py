"""Differential program tester: random realistic numpy programs, sct against plain Python.

``generator`` draws programs from features (what users write; ``prealloc``: arrays
preallocated and filled in loops, ``--features prealloc``; ``userpat``: matrix algebra,
indexing, containers of parameters, helpers, closures, classes..., ``--features userpat``), ``checker`` runs
one under ``dlfeval`` and compares its value, the arguments' states after the
call and every gradient with plain Python and central differences
(tests/gradcheck.py), ``shrink`` reduces a failing program, ``runner`` is the
command line (``python scripts/progtest.py`` or ``python -m tests.progtest``).
"""

# Features (and "driver+block" pairs) whose programs hit bugs known today (issue 6), with the item.  CI
# (tests/test_program_tester.py, ``--features ci``) generates programs without them;
# delete an entry once its item is fixed (``python scripts/progtest.py --features
# FEATURE,driver_first,target_arg,elementwise`` shows whether it is).
KNOWN_BROKEN = {
    # empty: every item of issue 6 is fixed or refused by design (10,000 programs, all features:
    # 0 wrong, 0 crashed, 0 internal failures); a feature added here is left out of CI with its reason
}
