"""Custom layers (MATLAB's nnet.layer.Layer), with an optional custom ``backward``.

A layer is a Python class with learnable parameters as attributes, a
``predict`` (and optionally ``forward``) method, and optionally
``backward(self, X, Z, dLdZ, memory)`` returning ``dLdX`` or
``(dLdX, dLdW1, ..., dLdWn)`` for the learnables in ``learnables`` order.
When ``backward`` is defined, differentiated code uses it instead of the
derivative of ``predict``/``forward`` (the call becomes the op ``apply_layer``,
whose rule calls ``backward``).  ``backward`` is ordinary Python of registered
ops, so it is differentiated again for higher derivatives.

>>> class PReLU(Layer):
...     learnables = ("Alpha",)
...     def __init__(self, alpha):
...         self.Alpha = alpha
...     def predict(self, X):
...         return np.maximum(X, 0) + self.Alpha * np.minimum(0, X)
"""
from __future__ import annotations

import numpy as np

from .registry import defrule, nondifferentiable


class Layer:
    """Base class of custom layers: subclass it, set ``learnables``, define ``predict``."""

    #: names of the learnable attributes (MATLAB's ``properties (Learnable)``)
    learnables: tuple = ()

    def predict(self, X):
        raise NotImplementedError(f"{type(self).__name__} must define predict(self, X)")

    def forward(self, X):
        """Training-time output; the same as ``predict`` unless a layer overrides it."""
        return self.predict(X)

    def __call__(self, X):
        return self.forward(X)


def has_custom_backward(obj) -> bool:
    """Does ``obj`` (a layer) define its own ``backward``?"""
    return isinstance(obj, Layer) and callable(getattr(type(obj), "backward", None))


def apply_layer(layer, x, method="forward"):
    """``layer.<method>(x)`` for a layer with a custom backward (an op whose rule is that backward)."""
    if method == "__call__":
        method = "forward"
    return getattr(layer, method)(x)


def layer_backward(g, ans, layer, x):
    """The layer's own backward, its results as a tuple (dLdX first)."""
    results = layer.backward(x, ans, g, None)
    return results if isinstance(results, tuple) else (results,)


def layer_learnable_adjoints(results, layer):
    """The learnables' adjoints from a backward's results, by name (a partial adjoint of the layer)."""
    names = layer.learnables
    out = {}
    for i in range(len(names)):
        out[names[i]] = results[i + 1]
    return out


@defrule(apply_layer, wrt=("layer", "x"))
def _apply_layer_rule(g, ans, layer, x, method="forward"):
    return (layer_learnable_adjoints(layer_backward(g, ans, layer, x), layer),
            layer_backward(g, ans, layer, x)[0])


nondifferentiable(has_custom_backward)
