"""Issue 10: type hints on the whole public API (every public callable annotated, every annotation
resolvable), checked with inspect; mypy is not required (checked only if installed)."""
import inspect
import os
import subprocess
import sys
import typing

import pytest

import sct

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def public_callables():
    """(label, function) for every public name of sct: functions, and the public methods,
    properties and constructors of the public classes (exceptions excepted)."""
    out = []
    for name in sorted(set(sct.__all__) | set(dir(sct))):
        obj = getattr(sct, name)
        if inspect.isclass(obj):
            if issubclass(obj, BaseException):
                continue
            for attr, value in vars(obj).items():
                if attr.startswith("_") and attr not in ("__init__", "__call__"):
                    continue
                if isinstance(value, property):
                    value = value.fget
                elif isinstance(value, (staticmethod, classmethod)):
                    value = value.__func__
                if inspect.isfunction(value):
                    out.append((f"{name}.{attr}", value))
        elif inspect.isfunction(obj):
            out.append((name, obj))
    return out


CALLABLES = public_callables()


def test_the_public_api_is_found():
    labels = {label for label, _ in CALLABLES}
    for expected in ("dlfeval", "dlgradient", "fullyConnectedLayer", "adamupdate", "dlnetwork.__init__",
                     "dlarray.shape", "Table.rows", "minibatchqueue.next", "AcceleratedFunction.__call__",
                     "jvp", "hvp", "Layer.forward", "load_digits"):
        assert expected in labels
    assert len(CALLABLES) > 100


@pytest.mark.parametrize("label, fn", CALLABLES, ids=[label for label, _ in CALLABLES])
def test_every_parameter_and_return_is_annotated(label, fn):
    sig = inspect.signature(fn)
    missing = [p.name for i, p in enumerate(sig.parameters.values())
               if p.annotation is inspect.Parameter.empty and not (i == 0 and p.name in ("self", "cls"))]
    assert not missing, f"{label}: parameters without annotations: {missing}"
    assert sig.return_annotation is not inspect.Signature.empty, f"{label}: no return annotation"


@pytest.mark.parametrize("label, fn", CALLABLES, ids=[label for label, _ in CALLABLES])
def test_every_annotation_resolves(label, fn):
    hints = typing.get_type_hints(fn)       # raises NameError for a name its module lacks
    assert "return" in hints


def test_py_typed_marker_is_shipped():
    assert os.path.isfile(os.path.join(os.path.dirname(sct.__file__), "py.typed"))


def test_mypy_if_installed():
    pytest.importorskip("mypy")
    proc = subprocess.run([sys.executable, "-m", "mypy", "--ignore-missing-imports", "--follow-imports=silent",
                           "-c", "import sct\nx = sct.dlarray([1.0])\nreveal_type(sct.dlfeval)\n"],
                          cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert "error" not in proc.stdout.replace("0 errors", ""), proc.stdout
