"""Print generated code from a terminal: ``python -m sct FILE:FUNCTION SHAPE ...``.

Each SHAPE describes one argument by example: ``3`` (a vector of 3), ``2x3``
(a matrix), ``()`` or ``scalar`` (0-d), with an optional dtype prefix
``float32:2x3`` / ``complex128:4``; ``const:2x3`` passes a plain (untraced)
array.  The arguments are random dlarrays of those shapes: the generated code
depends on their kinds (dtype, rank), not on their values.

    $ python -m sct examples.py:rosenbrock 2
    def rosenbrock(x):
        # line 2: y = 100*(x[1] - x[0]**2)**2 + (1 - x[0])**2
        ...
"""
from __future__ import annotations

import argparse
import importlib.util
import os
import sys
from typing import List, Optional

import numpy as np


def example_argument(spec: str, rng: np.random.Generator):
    """A random argument described by ``[const:][dtype:]SHAPE`` (see the module docstring)."""
    from .runtime.dlarray import dlarray
    parts = spec.split(":")
    traced = True
    if parts[0] == "const":
        traced, parts = False, parts[1:]
    dtype = np.dtype(parts[0]) if len(parts) == 2 else np.dtype(np.float64)
    shape_text = parts[-1].strip()
    if shape_text in ("()", "scalar", ""):
        shape = ()
    else:
        shape = tuple(int(n) for n in shape_text.replace(",", "x").split("x") if n)
    data = rng.standard_normal(shape)
    if dtype.kind == "c":
        data = data + 1j * rng.standard_normal(shape)
    data = np.asarray(data).astype(dtype)
    return dlarray(data) if traced else data


def load_function(target: str):
    """``FILE:FUNCTION`` (``FUNCTION`` may be ``Class.method`` of a class with a no-argument constructor)."""
    path, _, name = target.rpartition(":")
    if not path or not name:
        raise SystemExit(f"sct: expected FILE:FUNCTION, got {target!r}")
    if not os.path.exists(path):
        raise SystemExit(f"sct: no file {path!r}")
    module_name = os.path.splitext(os.path.basename(path))[0]
    spec = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, os.path.dirname(os.path.abspath(path)))
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    obj = module
    for part in name.split("."):
        if not hasattr(obj, part):
            raise SystemExit(f"sct: {path} has no {name!r}")
        obj = getattr(obj, part)
        if isinstance(obj, type):
            obj = obj()
    return obj


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sct", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog=__doc__.split("\n\n", 1)[1])
    parser.add_argument("target", help="FILE:FUNCTION")
    parser.add_argument("shapes", nargs="*", help="one [const:][dtype:]SHAPE per argument")
    parser.add_argument("--callees", action="store_true",
                        help="also print the code generated for the helpers and methods it calls")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random example arguments")
    options = parser.parse_args(argv)
    from .api import source
    from .errors import SctError
    fun = load_function(options.target)
    rng = np.random.default_rng(options.seed)
    args = [example_argument(s, rng) for s in options.shapes]
    try:
        text = source(fun, *args, callees=options.callees)
    except SctError as exc:
        print(f"sct: {exc}", file=sys.stderr)
        return 1
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
