"""The third random-program tester: execution-guided programs (see gen.py)."""
