"""Whether the suite runs as CI (``.ci/run`` sets CI=true): CI must finish in 10 minutes on a 2-core
machine, so it runs a stable sample of large parametrised families (conftest.py), skips the tests
marked ``heavy`` and runs fewer programs in the random-program sweeps; without CI=true everything runs."""
import os

ON_CI = os.environ.get("CI", "").lower() in ("true", "1", "yes")
