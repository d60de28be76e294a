"""The house: the runtime is a leaf inside the package (sct.runtime) and never imports the compiler."""
import ast
import os
import pathlib
import subprocess
import sys

import sct

ROOT = pathlib.Path(__file__).resolve().parent.parent


def _imports(path: pathlib.Path):
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            yield ("." * node.level) + (node.module or "")


def test_no_module_under_runtime_imports_the_compiler():
    for path in sorted((ROOT / "runtime").glob("*.py")):
        for name in _imports(path):
            assert not name.startswith("sct") and not name.startswith(".."), \
                f"{path.name} imports {name}: the runtime must not import the compiler"


def test_the_compiler_imports_the_runtime_as_sct_runtime():
    for path in sorted((ROOT / "sct").glob("*.py")):
        for name in _imports(path):
            assert name != "runtime" and not name.startswith("runtime."), \
                f"sct/{path.name} imports {name}: use sct.runtime (relative: .runtime)"


def test_only_sct_is_importable_at_top_level_and_public_classes_report_sct():
    assert sct.runtime.__name__ == "sct.runtime"
    assert "runtime" not in sys.modules
    for cls in (sct.dlarray, sct.SctError, sct.CompileError, sct.EvaluationError, sct.Layer,
                sct.AcceleratedFunction, sct.Table):
        assert cls.__module__ == "sct", cls


def test_no_test_or_script_imports_the_runtime_folder_as_a_top_level_module():
    # `from runtime import network` loads a second copy of the runtime (as "runtime") whenever the
    # checkout is on sys.path; which test sees it depends on the order tests run in
    for folder in ("tests", "scripts", "benchmarks", "examples"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            for name in _imports(path):
                assert name != "runtime" and not name.startswith("runtime."), \
                    f"{path.relative_to(ROOT)} imports {name}: use sct.runtime"


def test_importing_sct_does_not_load_a_top_level_runtime(tmp_path):
    # a user's own runtime.py must not break import sct, nor be loaded by it
    (tmp_path / "runtime.py").write_text("raise ImportError('the user runtime.py was imported')\n")
    # this checkout's sct (not whatever is installed): its folder after the cwd on sys.path
    path = os.pathsep.join([str(ROOT)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p])
    done = subprocess.run([sys.executable, "-c", "import sct, sys; print('runtime' in sys.modules, sct.__file__)"],
                          cwd=tmp_path, capture_output=True, text=True, env=dict(os.environ, PYTHONPATH=path))
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["False", str(ROOT / "sct" / "__init__.py")]


def test_a_regular_install_has_sct_runtime_inside_sct(tmp_path):
    """pip install . (not editable): the runtime is installed as sct/runtime and works.  Installed
    into a folder of its own (``--target``), run with this environment's numpy and gast; built
    without build isolation where this environment can build wheels, else with it."""
    target = tmp_path / "site"
    base = [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target)]
    done = subprocess.run(base + ["--no-build-isolation", str(ROOT)], capture_output=True, text=True)
    if done.returncode != 0:        # (an old setuptools without bdist_wheel: let pip fetch a new one)
        done = subprocess.run(base + [str(ROOT)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    python = sys.executable
    code = ("import sct, os; from sct import dlarray, dlfeval, dlgradient\n"
            "assert os.path.isdir(os.path.join(os.path.dirname(sct.__file__), 'runtime')), sct.__file__\n"
            f"assert sct.__file__.startswith({str(target)!r}), sct.__file__\n"
            "def f(x):\n    y = (x ** 3).sum()\n    return dlgradient(y, x)\n")
    script = tmp_path / "use.py"
    script.write_text(code + "print(dlfeval(f, dlarray([1.0, 2.0])).data.tolist())\n")
    env = dict(os.environ, PYTHONPATH=str(target))
    done = subprocess.run([python, str(script)], cwd=tmp_path, capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[3.0, 12.0]"
