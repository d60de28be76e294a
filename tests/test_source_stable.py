"""Generated source is stable: the same in every process (no dependence on str hashing)."""
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

PROGRAM = """
import numpy as np, sct
from sct import dlarray, dlgradient
import helper_module
src = sct.source(helper_module.outer_loss, dlarray(np.ones(3)), dlarray(np.ones((3, 3))))
print(src)
"""

MODULE = '''
import numpy as np
from sct import dlgradient


def outer_loss(x, y):
    z = np.sum(np.outer(x, x) * y)         # the rule's two contributions share calls of x
    return z, dlgradient(z, x, y)
'''


@pytest.mark.heavy      # (CI skips it: tests/conftest.py; 10-50 s)
def test_generated_source_is_the_same_for_every_hash_seed(tmp_path):
    (tmp_path / "helper_module.py").write_text(MODULE)
    outputs = set()
    for seed in ("0", "1", "2", "3"):
        env = dict(os.environ, PYTHONHASHSEED=seed, PYTHONPATH=os.pathsep.join([str(tmp_path), ROOT]))
        out = subprocess.run([sys.executable, "-c", PROGRAM], cwd=str(tmp_path), env=env,
                             capture_output=True, text=True, check=True).stdout
        assert "def outer_loss" in out
        outputs.add(out)
    assert len(outputs) == 1
