"""The op table: each differentiable op next to its derivative rule.

A rule is an ordinary, runnable Python function written in differentiable ops::

    @defrule(np.sin)
    def sin(g, ans, x):
        return g * np.conj(np.cos(x))

Its parameters are ``g`` (the adjoint of the op's output), ``ans`` (the output)
and then the op's own parameters, under the names numpy gives them, with the
same defaults.  Its single ``return`` gives one expression per parameter named
in ``wrt`` (default: the first op parameter), in that order.  The compiler
inlines those expressions into the generated adjoint, substituting the names
of the user's variables, so the rule is also the template of the code a user
reads.  Because the expressions use only registered ops, the generated code
can be differentiated again: that is how higher derivatives work.

Complex numbers follow MATLAB's convention (the gradient is
dL/dRe(x) + i dL/dIm(x)): a rule multiplies by the *conjugate* of a
holomorphic partial.  The compiler drops ``np.conj`` where it can prove the
operand real and projects every adjoint back onto its input's realness, so
rules never special-case real inputs.
"""
from __future__ import annotations

import inspect
import textwrap
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Optional, Sequence, Tuple

import gast

__all__ = ["Rule", "defrule", "DISCRETE_PARAMS", "uncovered_params", "nondifferentiable", "lookup", "is_nondifferentiable",
           "RULES", "NONDIFF", "METHODS", "ATTRIBUTES", "rules_version", "registered_ops"]


@dataclass
class Rule:
    op: Any
    fn: Callable
    wrt: Tuple[str, ...]
    signature: inspect.Signature          # the op's parameters (without g, ans)
    # parameters that carry no derivative by nature (indices, counts, flags) beyond DISCRETE_PARAMS;
    # a traced value passed to any other parameter not in ``wrt`` is refused by the compiler
    nondiff: Tuple[str, ...] = ()
    _templates: Optional[Dict[str, Any]] = field(default=None, repr=False)

    @property
    def name(self) -> str:
        return getattr(self.op, "__name__", self.fn.__name__)

    def templates(self) -> Dict[str, Any]:
        """Parameter name -> gast expression of its adjoint contribution."""
        if self._templates is None:
            src = textwrap.dedent(inspect.getsource(self.fn))
            fdef = gast.parse(src).body[0]
            returns = [s for s in fdef.body if isinstance(s, gast.Return)]
            others = [s for s in fdef.body
                      if not isinstance(s, gast.Return)
                      and not (isinstance(s, gast.Expr) and isinstance(s.value, gast.Constant))]
            if len(returns) != 1 or others:
                raise TypeError(f"rule {self.fn.__name__} must consist of a single return")
            value = returns[0].value
            if len(self.wrt) == 1:
                exprs = [value]
            else:
                if not isinstance(value, gast.Tuple) or len(value.elts) != len(self.wrt):
                    raise TypeError(f"rule {self.fn.__name__} must return {len(self.wrt)} expressions")
                exprs = value.elts
            self._templates = dict(zip(self.wrt, exprs))
        return self._templates


RULES: Dict[Any, Rule] = {}
NONDIFF: set = set()
# Array methods and attributes, mapped onto the op that implements them.
METHODS: Dict[str, Any] = {}
ATTRIBUTES: Dict[str, Any] = {}
NONDIFF_ATTRIBUTES = {"shape", "ndim", "size", "dtype", "itemsize", "nbytes"}
# ``x.data`` of a traced value means dlarray's data: the value as a constant (like extractdata).
STOP_ATTRIBUTES = {"data"}
# Methods whose results carry no derivative (indices, Python values, copies to lists).
NONDIFF_METHODS = {"argmax", "argmin", "argsort", "nonzero", "keys",
                   "__len__", "index", "count"}
# Ops whose result is a list or tuple (their adjoints accumulate as containers).
CONTAINER_OPS = set()
# Ops whose result may be complex for real arguments (np.fft.fft, np.linalg.eig): activity analysis
# must not treat their results as real (it would drop conjugates and project adjoints onto reals).
COMPLEX_RESULT_OPS = set()
# Rules registered on first need, for modules sct must not import itself (scipy.special):
# module name -> function registering them; run by ``lookup`` once that module is imported.
LAZY_RULES: Dict[str, Callable] = {}
_version = [0]


def rules_version() -> int:
    """Changes whenever the rule set changes (part of the compile-cache key)."""
    return _version[0]


def _key(op):
    return op


# Parameter names that never carry a derivative: axes, flags, dtypes, shapes, integer indices and
# counts.  Any other parameter of an op that its rule does not differentiate (``wrt``) or declare
# ``nondiff`` must not receive a traced value: the compiler refuses the call (issue 6, item 8).
DISCRETE_PARAMS = frozenset({
    "axis", "axes", "axis1", "axis2", "axisa", "axisb", "axisc", "keepdims", "dtype", "order",
    "shape", "newshape", "copy", "subok", "ndmin", "ndmax", "like", "device", "casting", "kind",
    "stable", "mode", "k", "offset", "n", "UPLO", "upper", "full_matrices", "compute_uv",
    "hermitian", "deg", "indices", "indices_or_sections", "repeats", "reps", "shift", "source",
    "destination", "pad_width", "condition", "returned", "optimize", "subscripts", "key",
    "method", "reduction", "num", "endpoint", "retstep", "reflect_type",
})


def uncovered_params(rule: "Rule"):
    """The parameters of ``rule``'s op a traced value may not be passed to."""
    return [p for p in rule.signature.parameters
            if p not in rule.wrt and p not in rule.nondiff and p not in DISCRETE_PARAMS]


def defrule(*ops, wrt: Optional[Sequence[str]] = None, nondiff: Sequence[str] = ()):
    """Register ``fn`` as the derivative rule of each op in ``ops``."""
    def register(fn):
        sig = inspect.signature(fn)
        params = list(sig.parameters.values())
        if [p.name for p in params[:2]] != ["g", "ans"]:
            raise TypeError(f"rule {fn.__name__} must start with parameters (g, ans, ...)")
        op_sig = sig.replace(parameters=params[2:])
        names = wrt if wrt is not None else (params[2].name,)
        for op in ops:
            RULES[_key(op)] = Rule(op=op, fn=fn, wrt=tuple(names), signature=op_sig,
                                   nondiff=tuple(nondiff))
        _version[0] += 1
        return fn
    return register


def alias(op, existing_op) -> None:
    """Give ``op`` the rule of ``existing_op`` (same parameters), e.g. ``math.sin`` -> ``np.sin``."""
    rule = RULES[_key(existing_op)]
    RULES[_key(op)] = Rule(op=op, fn=rule.fn, wrt=rule.wrt, signature=rule.signature,
                           nondiff=rule.nondiff)
    _version[0] += 1


def nondifferentiable(*ops):
    """Declare ops whose outputs carry no derivative (comparisons, shapes, rounding)."""
    for op in ops:
        NONDIFF.add(_key(op))
    _version[0] += 1


def lookup(op) -> Optional[Rule]:
    try:
        rule = RULES.get(_key(op))
    except TypeError:          # unhashable callables are never ops
        return None
    if rule is None and LAZY_RULES:
        _register_lazy()
        rule = RULES.get(_key(op))
    return rule


def _register_lazy() -> None:
    """Register the rules of optional modules that the user's program has imported by now."""
    import sys
    for module in [m for m in LAZY_RULES if m in sys.modules]:
        LAZY_RULES.pop(module)()


def is_nondifferentiable(op) -> bool:
    try:
        return _key(op) in NONDIFF
    except TypeError:
        return False


def registered_ops():
    return list(RULES.values())
