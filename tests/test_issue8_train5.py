"""Issue 8, training steps (fifth round): the CNN training step's kernels and glue made cheaper without
changing a value.  The convolution and pooling geometries are kept per shapes and options (a network
asks for each one in the forward and again in the adjoint, every step): every answer is the one the
options give computed afresh, an option that is refused is refused every time (a bool PaddingValue
after an equal int was kept)."""
from __future__ import annotations

import itertools

import numpy as np
import pytest

from sct.runtime import dlfun


def _outcome(fn, *args):
    try:
        return "value", fn(*args)
    except (ValueError, TypeError) as e:
        return type(e).__name__, str(e)


CONV_OPTIONS = [
    dict(Stride=1, DilationFactor=1, Padding=0, PaddingValue=0),
    dict(Stride=[2, 1], DilationFactor=(1, 2), Padding="same", PaddingValue=0.0),
    dict(Stride=(2, 2), DilationFactor=1, Padding=[1, 2], PaddingValue=-0.0),
    dict(Stride=1.0, DilationFactor=True, Padding=[[1, 0], [2, 1]], PaddingValue=2.5),
    dict(Stride=1, DilationFactor=1, Padding=np.array([[1, 0], [2, 1]]), PaddingValue="replicate"),
    dict(Stride=1, DilationFactor=1, Padding=1, PaddingValue=False),           # refused: a bool
    dict(Stride=1, DilationFactor=1, Padding=1, PaddingValue=True),            # refused: a bool
    dict(Stride=1, DilationFactor=1, Padding=1, PaddingValue=1),
    dict(Stride=1, DilationFactor=1, Padding=1, PaddingValue=1.0),
    dict(Stride=np.int64(2), DilationFactor=1, Padding="same", PaddingValue=np.float32(0)),
    dict(Stride=1, DilationFactor=1, Padding="causal", PaddingValue=0),         # refused in 2-D
    dict(Stride=[1, 2, 3], DilationFactor=1, Padding=0, PaddingValue=0),       # refused: three strides
    dict(Stride=1, DilationFactor=1, Padding=0, PaddingValue="mirror"),        # refused: no such mode
]
SHAPES = [((2, 9, 8, 3), (3, 2, 3, 4)), ((2, 9, 8, 6), (3, 3, 3, 4)), ((2, 9, 8, 3), (3, 2, 1, 4)),
          ((2, 10, 3), (3, 3, 4))]


@pytest.mark.parametrize("order", ["forward", "reversed"])
def test_conv_geometry_kept_is_computed_afresh(order):
    dlfun._GEOMETRIES.clear()
    cases = list(itertools.product(SHAPES, CONV_OPTIONS))
    if order == "reversed":
        cases.reverse()
    for _ in range(2):                                  # the second round reads what the first one kept
        for (x_shape, w_shape), o in cases:
            args = (x_shape, w_shape, o["Stride"], o["DilationFactor"], o["Padding"], o["PaddingValue"])
            assert _outcome(dlfun.conv_geometry, *args) == _outcome(dlfun._conv_geometry, *args), (args,)
    assert _outcome(dlfun.conv_geometry, (2, 9, 8, 3), (3, 2, 3, 4), 1, 1, 1, False)[0] == "ValueError"
    assert dlfun.conv_geometry((2, 9, 8, 3), (3, 2, 3, 4), 1, 1, 1, 0) == ((1, 1), ((1, 1), (1, 1)), (1, 1), 1)


POOL_OPTIONS = [(2, 2, 0, 0), ([2, 2], [2, 2], [0, 0], None), ((3, 2), 1, "same", "mean"), ("global", 1, 0, 0),
                (2, 1, 1, "mean"), (2, 1, 1, 0.0), (2, 1, 1, 1), (2, 1, 1, "max"), (2.0, 1, 0, 0), ([2, 2, 2], 1, 0, 0)]


@pytest.mark.parametrize("order", ["forward", "reversed"])
def test_pool_geometry_kept_is_computed_afresh(order):
    dlfun._GEOMETRIES.clear()
    cases = list(itertools.product([(2, 8, 6, 3), (2, 9, 3)], POOL_OPTIONS))
    if order == "reversed":
        cases.reverse()
    for _ in range(2):
        for x_shape, options in cases:
            args = (x_shape,) + options
            assert _outcome(dlfun.pool_geometry, *args) == _outcome(dlfun._pool_geometry, *args), (args,)


def test_geometries_kept_are_bounded_and_unhashable_options_are_computed():
    dlfun._GEOMETRIES.clear()
    for n in range(dlfun._GEOMETRIES_KEEP + 10):
        dlfun.pool_geometry((1, n + 2, 4, 1), 2)
    assert 0 < len(dlfun._GEOMETRIES) <= dlfun._GEOMETRIES_KEEP
    dlfun._GEOMETRIES.clear()
    padding = np.array([1, 2])                          # an array: computed each time, never kept
    assert dlfun.conv_geometry((1, 5, 5, 1), (3, 3, 1, 1), 1, 1, padding, 0) == \
        ((1, 1), ((1, 1), (2, 2)), (1, 1), 1)
    padding[:] = [0, 0]
    assert dlfun.conv_geometry((1, 5, 5, 1), (3, 3, 1, 1), 1, 1, padding, 0) == \
        ((1, 1), ((0, 0), (0, 0)), (1, 1), 1)
    assert not dlfun._GEOMETRIES
