"""Derivative rules for your own functions: :func:`defrule`."""
from __future__ import annotations

from typing import Callable, Optional, Sequence

from .runtime import registry


def defrule(*ops: Callable, wrt: Optional[Sequence[str]] = None, nondiff: Sequence[str] = (),
            linear: Sequence[str] = (), joint_linear: Sequence[str] = (), elementwise: Optional[bool] = None,
            many_outputs: bool = False, real_output: bool = False, complex_output: bool = False,
            method: Sequence[str] = ()) -> Callable:
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

    The op's *facts*, all optional, are registered with the rule (the compiler reads them;
    a parameter name must be one of the op's).  Give only what is true of the op:

    * ``nondiff=("idx",)``: parameters that carry no derivative (indices, counts, flags);
      a traced value passed to a parameter neither in ``wrt`` nor here is refused.
    * ``linear=("x",)``: the op is linear in each named parameter (the others fixed), so
      forward mode applies the op to the tangent (``op(dot_x, w)``) instead of transposing
      the rule; for several names, the sum over the traced ones (the product rule, as for
      ``a @ b``).
    * ``joint_linear=("a", "b")``: linear in the named parameters together
      (``op(dot_a, dot_b)``).
    * ``elementwise=True``: each result element depends only on the same element of each
      argument (numpy's ufuncs and ``math``'s functions are by default); a rule of the form
      ``g * conj(partial)`` then gives the forward tangent ``dot * partial``.
    * ``many_outputs=True``: the op returns (or may return) a tuple or list of arrays.
    * ``real_output=True``: the result is real even for a complex argument.
    * ``complex_output=True``: the result may be complex for real arguments (an FFT).
    * ``method="name"`` (or a tuple of names): ``x.name(...)`` of a traced ``x`` means
      ``op(x, ...)``.

    Compiled functions are recompiled after a rule is added or replaced.
    """
    if not ops:
        raise TypeError("defrule needs the function(s) the rule is for: @sct.defrule(myop)")
    return registry.defrule(*ops, wrt=wrt, nondiff=nondiff, linear=linear, joint_linear=joint_linear,
                            elementwise=elementwise, many_outputs=many_outputs, real_output=real_output,
                            complex_output=complex_output, method=method)
