"""Run the suite in parallel by default when pytest-xdist is installed (the ``test`` extra has it).

``python -m pytest`` then runs as ``python -m pytest -n auto --dist loadfile``: one worker
per core, each test file whole on one worker (a file's module-scoped fixtures are built
once).  Pass ``-n 0`` (or ``-p no:xdist``) to run in this process, or ``-n N`` / ``--dist``
to choose; without pytest-xdist the suite runs serially as before.
"""
import os

import pytest

from ci_mode import ON_CI

# the workers run side by side on the cores: a second BLAS thread per worker only contends
# (the models in the tests are small); set before the workers start, so numpy reads it
_BLAS_THREADS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


@pytest.hookimpl(tryfirst=True)
def pytest_cmdline_main(config):
    # runs before xdist's own pytest_cmdline_main (a conftest registers after the plugin),
    # which turns numprocesses="auto" into workers
    if not config.pluginmanager.hasplugin("xdist") or hasattr(config, "workerinput"):
        return None
    option = config.option
    if getattr(option, "numprocesses", None) is None and not (
            option.usepdb or getattr(option, "collectonly", False) or getattr(option, "tx", None)):
        option.numprocesses = "auto"
        if getattr(option, "dist", "no") == "no":
            option.dist = "loadfile"
    if getattr(option, "numprocesses", None) not in (None, 0):
        for name in _BLAS_THREADS:
            os.environ.setdefault(name, "1")
    return None


# --- CI: a stable sample of each large parametrised family ----------------------------------------
# CI (.ci/run sets CI=true) must finish in 10 minutes on a 2-core machine.  There a test function
# with more than _CI_FAMILY cases runs its first case and a stable 1/_CI_KEEP of the others (a
# 1/_CI_KEEP_LARGE where it has more than _CI_LARGE cases: the op tables and corpora), chosen by a hash
# of the test's id, the same on every machine and run; every other test runs whole.  Without CI=true
# (a developer's `python -m pytest`) every case runs.  (s53: _CI_FAMILY 2, was 4.  s56: CI had reached
# 753 s; families of more than 50 cases were 55 % of its time at an eighth; then a fresh clone's CI
# still took 758 s here with this stop's checks: an eighth became a 72nd, and a 216th for families of
# more than 20 cases, each a subset of what CI ran before (216 and 72 are multiples of 72, 24 and 8).
# Tests outside families are two thirds of CI's time now: the next cut is their compile time.)
_CI_FAMILY = 2
_CI_KEEP = 72
_CI_LARGE = 20
_CI_KEEP_LARGE = 216


def _ci_sampled(items):
    import zlib
    families: dict = {}
    for item in items:
        families.setdefault(item.nodeid.split("[", 1)[0], []).append(item)
    kept, dropped = [], []
    for item in items:
        family = families[item.nodeid.split("[", 1)[0]]
        keep = _CI_KEEP_LARGE if len(family) > _CI_LARGE else _CI_KEEP
        if len(family) <= _CI_FAMILY or item is family[0] or zlib.crc32(item.nodeid.encode()) % keep == 0:
            kept.append(item)
        else:
            dropped.append(item)
    return kept, dropped


def pytest_configure(config):
    config.addinivalue_line("markers", "heavy: a single test of more than ~10 s (a third-order compile, a random-program sweep); "
                                       "CI (CI=true) skips it, every other run runs it")


def pytest_collection_modifyitems(config, items):
    if not ON_CI:
        return
    kept, dropped = _ci_sampled([item for item in items if item.get_closest_marker("heavy") is None])
    dropped += [item for item in items if item.get_closest_marker("heavy") is not None]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


# --- shared fixtures --------------------------------------------------------------------------------
@pytest.fixture
def fresh_cache():
    """An empty compilation cache before and after the test (a file opts in with
    ``pytestmark = pytest.mark.usefixtures("fresh_cache")``)."""
    import sct
    sct.clear_cache()
    yield
    sct.clear_cache()
