"""fuzz2: a second, independent random-program tester (expression/statement trees over many kinds of
values and a broad op table). See gen.py (the generator), runner.py (the checks), scripts/fuzz2.py."""
