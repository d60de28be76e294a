"""The terminal entry point: ``python -m sct FILE:FUNCTION SHAPE ...`` prints generated code."""
import os
import subprocess
import sys
import textwrap

import pytest

from sct.cli import main


def _write(tmp_path, text):
    path = tmp_path / "user_code.py"
    path.write_text(textwrap.dedent(text))
    return path


def test_prints_forward_and_adjoint(tmp_path, capsys):
    path = _write(tmp_path, """
        import numpy as np
        from sct import dlgradient

        def loss(w, x):
            y = np.sum(np.tanh(x @ w))
            return y, dlgradient(y, w)
        """)
    assert main([f"{path}:loss", "3x2", "const:4x3"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("def loss(w, x):")
    assert "# line 6: y = np.sum(np.tanh(x @ w))" in out
    assert "def loss_dlgradient_line7(" in out


def test_errors_name_the_users_line(tmp_path, capsys):
    path = _write(tmp_path, """
        import numpy as np
        from sct import dlgradient

        def bad(x):
            y = np.sum(x)
            return dlgradient(y, np.ones(3))
        """)
    assert main([f"{path}:bad", "3"]) == 1
    err = capsys.readouterr().err
    assert "user_code.py" in err and "line 7" in err


def test_python_dash_m(tmp_path):
    path = _write(tmp_path, """
        from sct import dlgradient

        def sq(x):
            y = x * x
            return dlgradient(y, x)
        """)
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))      # this checkout's sct
    done = subprocess.run([sys.executable, "-m", "sct", f"{path}:sq", "float32:()"],
                          capture_output=True, text=True, check=True, cwd=root)
    assert "def sq(x):" in done.stdout


def test_unknown_function_is_reported(tmp_path):
    path = _write(tmp_path, "x = 1\n")
    with pytest.raises(SystemExit, match="has no 'nope'"):
        main([f"{path}:nope"])
