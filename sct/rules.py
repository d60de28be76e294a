"""Derivative rules for your own functions: :func:`defrule`."""
from __future__ import annotations

from typing import Callable, Optional, Sequence

from .runtime import registry


def defrule(*ops: Callable, wrt: Optional[Sequence[str]] = None) -> Callable:
    """Register the decorated function as the derivative rule of each op in ``ops``.

    Use it for a function sct cannot read (a compiled extension, a SciPy special
    function) or whose derivative you want to give yourself.  The rule's
    parameters are ``g`` (the adjoint of the op's result), ``ans`` (its result),
    then the op's own parameters; its single ``return`` gives the adjoint of each
    parameter named in ``wrt`` (default: the first), in that order.  The rule is
    written in differentiable code (numpy ops, or your own functions, which sct
    reads), so second derivatives work through it too.  Complex inputs follow
    MATLAB's convention: multiply by the conjugate of a holomorphic derivative.

    >>> import numpy as np, sct
    >>> def softplus(x):                       # sct would read this; the rule replaces it
    ...     return np.log1p(np.exp(x))
    >>> def logistic(x):
    ...     return 1 / (1 + np.exp(-x))
    >>> @sct.defrule(softplus)
    ... def softplus_rule(g, ans, x):
    ...     return g * logistic(x)
    >>> def f(x):
    ...     y = np.sum(softplus(x))
    ...     return sct.dlgradient(y, x)
    >>> sct.dlfeval(f, sct.dlarray([0.0])).data.tolist()   # doctest: +SKIP
    [0.5]

    Compiled functions are recompiled after a rule is added or replaced.
    """
    if not ops:
        raise TypeError("defrule needs the function(s) the rule is for: @sct.defrule(myop)")
    return registry.defrule(*ops, wrt=wrt)
