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

from typing import Any

import copy

from .imported import np
from numpy.typing import ArrayLike

from .registry import defrule, nondifferentiable
from .dlarray import dlarray as _dlarray
from . import support as _support
from .support import ZERO as _ZERO, _is_zero


class Layer:
    """Base class of custom layers: subclass it, set ``learnables``, define ``predict``.

    >>> class Scale(Layer):
    ...     learnables = ("W",)
    ...     def __init__(self):
    ...         self.W = np.array([2.0, 3.0])
    ...     def predict(self, X):
    ...         return X * self.W
    ...
    >>> Scale().predict(np.ones((1, 2)))
    array([[2., 3.]])
    """

    #: names of the learnable attributes (MATLAB's ``properties (Learnable)``)
    learnables: tuple = ()
    #: names of the state attributes (MATLAB's ``properties (State)``): a layer with state returns
    #: ``(Z, state1, ..., stateK)`` from ``predict`` and ``forward`` (used by ``dlnetwork``)
    state: tuple = ()
    #: the layer's name in a network, and its numbers of inputs and outputs (MATLAB's properties)
    Name: str = ""
    NumInputs: int = 1
    NumOutputs: int = 1

    def predict(self, X: ArrayLike) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must define predict(self, X)")

    def forward(self, X: ArrayLike) -> Any:
        """Training-time output; the same as ``predict`` unless a layer overrides it."""
        return self.predict(X)

    def __call__(self, X: ArrayLike) -> Any:
        return self.forward(X)


def has_custom_backward(obj) -> bool:
    """Does ``obj`` (a layer) have its own ``backward``: its class's, or one set on the instance
    (``layer.backward = fn``, which ``layer_backward`` calls as ``layer.backward(X, Z, dLdZ, memory)``;
    was: the class's only, so a function set on an instance of a class without one was not used)?"""
    return isinstance(obj, Layer) and callable(getattr(obj, "backward", None))


def uses_custom_backward(obj, name) -> bool:
    """Is ``obj.name(...)`` a call of a layer whose own backward gives its derivative: ``predict`` or
    ``forward`` of a layer defining ``backward``, or calling it (``layer(X)``, which is ``forward``)
    unless its class defines its own ``__call__`` (that runs as the user's code, and the predict or
    forward it calls uses the backward)."""
    if not has_custom_backward(obj):
        return False
    if name == "__call__":
        return type(obj).__call__ is Layer.__call__
    return name in ("predict", "forward")


def apply_layer(layer, x, method="forward"):
    """``layer.<method>(x)`` for a layer with a custom backward (an op whose rule is that backward)."""
    if method == "__call__":
        method = "forward"
    return _inputs_unchanged(layer, method, (x,))


def apply_layer_inputs(layer, xs, method="forward"):
    """``layer.<method>(*xs)`` for a layer with a custom backward and several inputs (MATLAB's
    ``NumInputs``): an op whose rule is that backward."""
    if method == "__call__":
        method = "forward"
    return _inputs_unchanged(layer, method, tuple(xs))


def _inputs_unchanged(layer, method, xs):
    """``layer.<method>(*xs)`` run once, as Python runs it: where second-order code recomputes the
    function, its result is replayed (runtime/effects.py), so a predict that draws random numbers or
    counts its calls (``self.calls += 1``) does so once (it ran again: a dropout mask drawn twice gave
    334.2 for Python's 106.0)."""
    from .effects import effect
    return effect(_run_with_inputs_read_only, layer, method, xs)


def _run_with_inputs_read_only(layer, method, xs):
    """``layer.<method>(*xs)`` with its input arrays read-only while it runs: a predict that writes into
    its input (``X[X < 0] = 0``, MATLAB's ``X(X<0) = 0`` ported) changes the caller's array, whose other
    uses sct differentiates as the value before (a wrong gradient): refused instead."""
    locked = [x for x in xs if type(x) is np.ndarray and x.flags.writeable]
    for x in locked:
        x.flags.writeable = False
    try:
        out = getattr(layer, method)(*xs)
    except ValueError as error:
        if locked and "read-only" in str(error):
            from .support import SctRuntimeError
            raise SctRuntimeError(
                f"{type(layer).__name__}.{method} writes into its input in place; the layer has its own "
                f"backward, so sct does not follow that change of the caller's array (its other uses would "
                f"be differentiated as the value before): write `X = X.copy()` first, or build a new array "
                f"(np.maximum(X, 0), np.where(...))") from error
        raise
    finally:
        for x in locked:
            x.flags.writeable = True
    if locked:                  # views of the inputs it returns: writeable as in Python
        for z in (out if isinstance(out, tuple) else (out,)):
            if type(z) is np.ndarray and not z.flags.writeable:
                try:
                    z.flags.writeable = True
                except ValueError:
                    pass
    return out


def output_adjoints(g, ans):
    """The adjoints of a layer's outputs ``ans`` (a tuple: MATLAB's ``NumOutputs`` > 1), zeros for
    an output nothing reached."""
    if _is_zero(g):
        return tuple([_support.zero_adjoint(z) for z in ans])
    return tuple([_support.zero_adjoint(z) if _is_zero(gi) else gi for gi, z in zip(g, ans)])


def fresh_copy(v):
    """A copy of an array given to a layer's own backward: MATLAB passes values, so a backward may
    write into its arguments (``dLdZ[X < 0] = 0``, MATLAB's ``dLdZ(X<0) = 0``); the arrays sct gives
    it are shared with the rest of the gradient (``Z = layer(h) + h``: dLdZ is h's adjoint too) or
    read-only broadcasts."""
    return np.array(v, copy=True) if isinstance(v, np.ndarray) else v


def fresh_copies(vs):
    return tuple([fresh_copy(v) for v in vs])


def layer_backward(g, ans, layer, x):
    """The layer's own backward, its results as a tuple (dLdX first): MATLAB's
    ``backward(layer, X, Z, dLdZ, memory)``; for a layer of several outputs (``NumOutputs``) or with
    state (``state``: its predict/forward returns ``(Z1, ..., Zm, S1, ..., Sk)``) MATLAB's
    ``backward(layer, X, Z1, ..., Zm, dLdZ1, ..., dLdZm, dLdSout1, ..., dLdSoutk, memory)``, whose
    results are ``(dLdX, dLdW1, ..., dLdWp, dLdSin1, ..., dLdSink)``."""
    if isinstance(ans, tuple) and (layer.NumOutputs > 1 or layer.state):
        results = layer.backward(fresh_copy(x), *fresh_copies(ans[:layer.NumOutputs]),
                                 *fresh_copies(output_adjoints(g, ans)), None)
    else:
        results = layer.backward(fresh_copy(x), fresh_copy(ans), fresh_copy(g), None)
    return backward_results(results, layer, 1, (x,))


def layer_backward_inputs(g, ans, layer, xs):
    """``layer_backward`` of a layer of several inputs: ``backward(layer, X1, ..., Xn, Z..., dLdZ...,
    memory)``, its results ``(dLdX1, ..., dLdXn, dLdW1, ...)``."""
    if isinstance(ans, tuple) and (layer.NumOutputs > 1 or layer.state):
        results = layer.backward(*fresh_copies(xs), *fresh_copies(ans[:layer.NumOutputs]),
                                 *fresh_copies(output_adjoints(g, ans)), None)
    else:
        results = layer.backward(*fresh_copies(xs), fresh_copy(ans), fresh_copy(g), None)
    return backward_results(results, layer, len(xs), xs)


def backward_results(results, layer, n, xs=None):
    """A backward's results as a tuple (a list taken as its items), checked: one derivative for each
    of the ``n`` inputs and each learnable (and optionally each state parameter), each of the size of
    the input or learnable it is for (MATLAB: "dLdX has the size of X", "dLdW the size of W"): a
    derivative of another size would be broadcast or summed into the input's shape (a dLdX summed over
    the batch, broadcast back to every observation: a silently wrong gradient)."""
    if isinstance(results, list):
        results = tuple(results)
    elif not isinstance(results, tuple):
        results = (results,)
    need = n + len(layer.learnables)
    if not need <= len(results) <= need + len(layer.state):
        from .support import SctRuntimeError
        names = ", ".join(layer.learnables)
        raise SctRuntimeError(
            f"{type(layer).__name__}.backward returned {len(results)} value{'s' if len(results) != 1 else ''}: it "
            f"must return the derivatives of the layer's {n} input{'s' if n != 1 else ''} and then of each of its "
            f"learnables ({names or 'none'})" + (f", optionally of its state ({', '.join(layer.state)})"
                                                  if layer.state else "") + ", in that order")
    if xs is not None:
        names = layer.learnables
        targets = [(f"input {i + 1}" if n > 1 else "input", x, True) for i, x in enumerate(xs)]
        targets += [(f"learnable {name!r}", getattr(layer, name, None), False) for name in names]
        fitted = [_fit_derivative(layer, what, target, result, strict)
                  for (what, target, strict), result in zip(targets, results)]
        if any(f is not r for f, r in zip(fitted, results)):
            results = tuple(fitted) + results[len(fitted):]
    return results


def _array_like(v) -> bool:
    return isinstance(v, (int, float, complex, np.number, np.ndarray, _dlarray)) and not isinstance(v, bool)


def _fit_derivative(layer, what, target, result, strict):
    """A custom backward's derivative ``result`` for ``target`` (an input or a learnable), checked
    against its size: the same shape is taken; an exact zero number stands for zeros of the target's
    shape; the same size differing by leading singleton axes ((C,) for a (1, 1, C) Alpha, np.sum(...,
    axis=0) for a (1, C) input) is taken too (an input's reshaped: its derivative flows on). None, or
    another size, is refused: the derivative would be taken as zeros, or broadcast or summed into the
    target's shape."""
    from .support import SctRuntimeError
    if result is None and target is not None:
        raise SctRuntimeError(
            f"{type(layer).__name__}.backward returned None for its {what}: return its derivative, an array "
            f"of its shape (np.zeros_like(...) where it has none)")
    if not (_array_like(target) and _array_like(result)):
        return result
    ts, rs = np.shape(target), np.shape(result)
    if ts == rs:
        return result
    data = result._data if type(result) is _dlarray else result
    if rs == () and not np.any(data):
        return np.zeros(ts, dtype=np.result_type(target, data))
    if int(np.prod(ts)) == int(np.prod(rs)) and tuple(d for d in ts if d != 1) == tuple(d for d in rs if d != 1):
        try:
            if np.broadcast_shapes(ts, rs) in (ts, rs):
                return result if not strict else np.reshape(result, ts)
        except ValueError:
            pass
    raise SctRuntimeError(
        f"{type(layer).__name__}.backward returned a derivative of shape {rs} for its {what} of shape "
        f"{ts}: each derivative must have the size of what it is the derivative of (sum over the axes "
        f"that were broadcast, e.g. np.sum(..., axis=0) over the observations)")


def layer_input_adjoints(results, xs):
    """The inputs' adjoints (a tuple) from a multi-input backward's results."""
    return tuple([results[i] for i in range(len(xs))])


def layer_learnable_adjoints(results, layer):
    """The learnables' (and the state's, where the backward returns them) adjoints from a backward's
    results, by name (a partial adjoint of the layer); the layer's other attributes that may hold
    values to differentiate get a LostAttributeAdjoint (the backward gives no derivative for them)."""
    return layer_learnable_adjoints_after(results, layer, 1)


def layer_learnable_adjoints_after(results, layer, n):
    """``layer_learnable_adjoints`` of results whose first ``n`` items are the inputs' adjoints."""
    names = layer.learnables
    states = layer.state
    out = lost_attribute_adjoints(layer, names)
    for i in range(len(names)):
        out[names[i]] = results[i + n]
    for j in range(len(states)):
        if len(results) > n + len(names) + j:
            out[states[j]] = results[n + len(names) + j]
    return out


class LostAttributeAdjoint:
    """The adjoint of an attribute of a layer with a custom ``backward`` that is not one of its
    ``learnables`` (``self.s`` of a layer built as ``Scaled(W, p["s"] * 2)``): the backward gives
    no derivative for it, so none can be given for what it was computed from.  Adding it to other
    adjoints keeps it (a layer used twice); using it in any other way (the chain rule into a traced
    value) refuses, and so does a gradient returned for a dlarray it would reach; a constant
    attribute's gradient (a dlgradient with respect to the layer) is zeros."""
    __slots__ = ("cls", "name", "learnables")
    __array_priority__ = 1000

    def __init__(self, cls, name, learnables):
        self.cls = cls
        self.name = name
        self.learnables = tuple(learnables)

    def __repr__(self):
        return f"<no derivative of {self.cls.__name__}.{self.name}>"

    def refuse(self, *args, **kwargs):
        from .support import SctRuntimeError
        listed = ", ".join(repr(n) for n in self.learnables) or "none"
        raise SctRuntimeError(
            f"the derivative reaches the attribute {self.name!r} of the layer {self.cls.__name__}, whose "
            f"custom backward gives derivatives for its input and its learnables ({listed}) only: "
            f"{self.name!r} holds a traced value (or one computed from traced inputs), and its derivative would be lost. "
            f"List {self.name!r} in the layer's learnables (and return its derivative from backward), "
            f"or use that value outside the layer")

    def __add__(self, other):
        return self                 # an accumulation (the layer used twice) is still lost

    __radd__ = __add__
    __sub__ = __rsub__ = __mul__ = __rmul__ = __truediv__ = __rtruediv__ = __matmul__ = __rmatmul__ = refuse
    __pow__ = __rpow__ = __neg__ = __pos__ = __abs__ = __getitem__ = __iter__ = __len__ = refuse
    __float__ = __complex__ = __index__ = refuse

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        if ufunc is np.add and method == "__call__" and "out" not in kwargs:
            return self
        self.refuse()

    def __array_function__(self, func, types, args, kwargs):
        self.refuse()

    def __array__(self, *args, **kwargs):
        self.refuse()

    def projected(self, x, attribute=False):
        """The gradient of ``x`` this adjoint reaches: refused for a value that may be traced (a float
        array or number, or a container holding one: a parameter stored in the attribute as it is,
        ``Scaled(p["W"], p["s"])``), except where ``x`` is the attribute of an object a gradient is
        taken with respect to (``attribute``: ``dlgradient(loss, layer)``, whose settings, constants,
        get zeros; one given to dlfeval as a dlarray is refused)."""
        if attribute:
            if type(x) is _dlarray:
                self.refuse()
            return _support.project(_ZERO, x)
        if isinstance(x, (list, tuple, dict)) or (hasattr(x, "__dict__") and not isinstance(x, type)):
            parts = x.values() if isinstance(x, dict) else x if isinstance(x, (list, tuple)) else \
                vars(x).values()
            for v in parts:
                self.projected(v)
            return _support.project(_ZERO, x)
        if _may_be_differentiated(x) and not hasattr(x, "__dict__"):
            self.refuse()
        return _support.project(_ZERO, x)


def _may_be_differentiated(v) -> bool:
    if isinstance(v, (bool, int, str)) or v is None:
        return False
    if isinstance(v, (float, complex)):
        return True
    if _support._is_array(v):
        return np.issubdtype(v.dtype, np.inexact)
    return _support._differentiable_leafy(v)


def lost_attribute_adjoints(layer, names):
    """A LostAttributeAdjoint for each attribute of ``layer`` not in ``names`` that may hold a value
    to differentiate (a float array or number, a container, an object)."""
    attrs = getattr(layer, "__dict__", None)
    if not attrs:
        return {}
    cls = type(layer)
    return {k: LostAttributeAdjoint(cls, k, names) for k, v in attrs.items()
            if k not in names and _may_be_differentiated(v)}


@defrule(apply_layer, wrt=("layer", "x"))
def _apply_layer_rule(g, ans, layer, x, method="forward"):
    return (layer_learnable_adjoints(layer_backward(g, ans, layer, x), layer),
            layer_backward(g, ans, layer, x)[0])


@defrule(backward_results, wrt=("results",), nondiff=("xs",))
def _backward_results_rule(g, ans, results, layer, n, xs=None):
    return g


@defrule(fresh_copy, wrt=("v",))
def _fresh_copy_rule(g, ans, v):
    return g


@defrule(fresh_copies, wrt=("vs",))
def _fresh_copies_rule(g, ans, vs):
    return g


@defrule(apply_layer_inputs, wrt=("layer", "xs"))
def _apply_layer_inputs_rule(g, ans, layer, xs, method="forward"):
    return (layer_learnable_adjoints_after(layer_backward_inputs(g, ans, layer, xs), layer, len(xs)),
            layer_input_adjoints(layer_backward_inputs(g, ans, layer, xs), xs))


nondifferentiable(has_custom_backward, uses_custom_backward, lost_attribute_adjoints)
_support.CUSTOM_BACKWARD[0] = has_custom_backward
_support.CUSTOM_BACKWARD_CALL[0] = uses_custom_backward
_support._LostAttributeAdjoint[0] = LostAttributeAdjoint


# --- a layer with its learnables put in (the layers of a dlnetwork) -------------------------------
# A dlnetwork keeps every learnable in its Learnables table (one list of values); running a layer
# first makes a copy of it holding its own values, an op whose adjoint reads those attributes'
# adjoints back out, so the gradient lands in the table.


_PLAIN_COPY: dict = {}          # class -> whether copy.copy of its instances is a copy of their __dict__


def _plainly_copied(cls) -> bool:
    """Whether ``copy.copy`` of an instance of ``cls`` is ``object.__new__(cls)`` given the instance's
    ``__dict__`` (what copy's default ``__reduce_ex__(4)`` path does): no ``__copy__``, reduce,
    getstate/setstate or ``__slots__`` of its own, the default ``__new__``, no copyreg entry."""
    import copyreg
    plain = _PLAIN_COPY.get(cls)
    if plain is None:
        plain = (getattr(cls, "__copy__", None) is None and cls.__reduce_ex__ is object.__reduce_ex__
                 and cls.__reduce__ is object.__reduce__
                 and getattr(cls, "__getstate__", object.__getstate__) is getattr(object, "__getstate__", None)
                 and not hasattr(cls, "__setstate__") and cls.__new__ is object.__new__
                 and cls not in copyreg.dispatch_table and type(cls) is type
                 and all("__slots__" not in vars(k) for k in cls.__mro__[:-1]))
        if len(_PLAIN_COPY) < 1024:
            _PLAIN_COPY[cls] = plain
    return plain


def bind_learnables(layer, names, values, state_names=(), state_values=()):
    """A shallow copy of ``layer`` with the attributes ``names`` set to ``values`` and
    ``state_names`` to ``state_values`` (in order)."""
    cls = type(layer)
    if _PLAIN_COPY.get(cls) or (cls not in _PLAIN_COPY and _plainly_copied(cls)):
        out = object.__new__(cls)                    # copy.copy's result, without its generic walk
        out.__dict__.update(layer.__dict__)
    else:
        out = copy.copy(layer)
    for name, value in zip(names, values):       # plain arrays: the layer's code runs at numpy's speed
        setattr(out, name, value._data if type(value) is _dlarray else value)
    for name, value in zip(state_names, state_values):
        setattr(out, name, value._data if type(value) is _dlarray else value)
    return out


def learnable_parts(grad, names):
    """The adjoints of the attributes ``names`` in the adjoint ``grad`` of a layer, as a list."""
    if _is_zero(grad):
        return [_ZERO for _ in names]
    if isinstance(grad, dict):
        return [grad.get(name, _ZERO) for name in names]
    return [getattr(grad, name, _ZERO) for name in names]


def learnable_dict(cot, names):
    """The adjoint of ``learnable_parts``: the list ``cot`` as a layer's partial adjoint (by name)."""
    from .support import ZERO, _is_zero
    if _is_zero(cot):
        return ZERO
    out = {name: c for name, c in zip(names, cot) if not _is_zero(c)}
    return out if out else ZERO


def other_attributes(grad, names, state_names=()):
    """A layer's adjoint without the attributes ``names`` and ``state_names`` (what reaches the
    layer it was bound from)."""
    from .support import ZERO, _is_zero
    if _is_zero(grad) or not isinstance(grad, dict):
        return ZERO
    out = {k: v for k, v in grad.items() if k not in names and k not in state_names}
    return out if out else ZERO


@defrule(bind_learnables, wrt=("layer", "values", "state_values"))
def _bind_learnables_rule(g, ans, layer, names, values, state_names=(), state_values=()):
    return (other_attributes(g, names, state_names), learnable_parts(g, names),
            learnable_parts(g, state_names))


@defrule(learnable_parts, wrt=("grad",))
def _learnable_parts_rule(g, ans, grad, names):
    return learnable_dict(g, names)


@defrule(learnable_dict, wrt=("cot",))
def _learnable_dict_rule(g, ans, cot, names):
    return learnable_parts(g, names)


@defrule(other_attributes, wrt=("grad",))
def _other_attributes_rule(g, ans, grad, names, state_names=()):
    return other_attributes(g, names, state_names)
