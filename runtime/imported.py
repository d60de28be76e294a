"""numpy, math (and numpy.linalg, numpy.fft) as they were when sct's runtime was imported: what the runtime's rules
and helpers call (misc55).

A rule reads ``np.sin`` when it runs (the rule of ``np.cos``, ``rt.sinc_slope``): with the runtime's ``np`` numpy's
own module, a user's ``np.sin = np.cos`` after compiling changed what the rule computed, and a cache hit checks only
the functions the code itself reads (the derivative of cos was then -cos(x)).  The runtime's modules read these
copies instead: modules holding the same functions, classes and submodules, which nothing sets again, so replacing
a function of numpy's module changes no rule.  (sct/replaced_functions.py still refuses code compiled while one is
replaced, and the generated code's own reads of numpy are guarded, sct.compiler._guard_numpy_reads.)
"""
from __future__ import annotations

import math as _math
import types

import numpy as _numpy


def _copy(module, **submodules) -> types.ModuleType:
    """A module with ``module``'s names (its ``__getattr__`` too: numpy's lazily loaded submodules), named as it is."""
    copy = types.ModuleType(module.__name__, module.__doc__)
    copy.__dict__.update(vars(module))
    copy.__dict__.update(submodules)
    return copy


np = _copy(_numpy, linalg=_copy(_numpy.linalg), fft=_copy(_numpy.fft))
math = _copy(_math)

#: the copies, each with the module it stands for
COPIES = {id(np): _numpy, id(np.linalg): _numpy.linalg, id(np.fft): _numpy.fft, id(math): _math}


def original(module):
    """numpy's (math's) own module where ``module`` is one of the copies, else ``module``."""
    return COPIES.get(id(module), module)
