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

import ast
import inspect
import linecache
import operator
import os
import textwrap
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Optional, Sequence, Tuple

import gast
from .imported import math
from .imported import np

__all__ = ["Rule", "OpFacts", "defrule", "declare", "facts_of", "DISCRETE_PARAMS", "uncovered_params",
           "nondifferentiable", "lookup", "is_nondifferentiable", "RULES", "NONDIFF", "FACTS", "METHODS",
           "ATTRIBUTES", "rules_version", "registered_ops", "equivalent", "readable", "EQUIVALENTS"]


@dataclass(frozen=True)
class OpFacts:
    """What the compiler knows of an op besides its rule; registered with it (``defrule``).

    Reverse mode, forward mode (``sct/tangent.py``) and the activity analysis read these facts
    and nothing else about an op: there is no other table of ops in the compiler.
    """
    # linear in each of these parameters separately (the others fixed): its tangent is the sum,
    # over the traced ones, of the op applied with that argument replaced by its tangent
    # (``np.sum``: ("a",); ``a @ b``: ("a", "b"), the product rule)
    linear: Tuple[str, ...] = ()
    # linear in these parameters together: its tangent is the op of their tangents (``add_grad``)
    joint_linear: Tuple[str, ...] = ()
    # each output element depends only on the same element of each input (after broadcasting):
    # an elementwise rule ``g * conj(partial)`` gives the tangent ``dot * partial``
    elementwise: bool = False
    # the result is (or may be, for some arguments) a tuple or list of arrays
    many_outputs: bool = False
    # the result is real whatever its input (``abs``, ``np.real``, ``np.angle``)
    real_output: bool = False
    # the result may be complex for real arguments (``np.fft.fft``, ``np.linalg.eig``): the
    # analysis must not treat it as real (it would drop conjugates and project adjoints onto reals)
    complex_output: bool = False
    # the array methods this op implements (``x.sum()`` is ``np.sum(x)``)
    methods: Tuple[str, ...] = ()
    # parameters that carry no derivative by nature (indices, counts, flags) beyond
    # DISCRETE_PARAMS; a traced value passed to any other parameter not in the rule's ``wrt``
    # is refused by the compiler
    nondiff: Tuple[str, ...] = ()


def code_source_lines(code, module_globals=None):
    """``inspect.getsourcelines`` of ``code`` (its lines and first line), read from its file from its first
    line to the last line any of its instructions (or its nested functions') comes from, without
    tokenizing the file from the first line on (inspect's way: the time grows with the function); None
    where those lines cannot be read or do not begin a def (take inspect's answer then).  A statement
    without instructions after the last one (``pass``) may be left out: the same code."""
    def last_line(c) -> int:
        end = max((p[1] for p in c.co_positions() if p[1] is not None), default=0)
        for k in c.co_consts:
            if isinstance(k, type(c)):
                end = max(end, last_line(k))
        return end
    try:
        linecache.checkcache(code.co_filename)      # (a file edited since: its new lines, as inspect reads)
        lines = linecache.getlines(code.co_filename, module_globals)
        start, end = code.co_firstlineno, last_line(code)
    except Exception:
        return None
    if not lines or start < 1 or end < start or end > len(lines) or \
            not lines[start - 1].lstrip().startswith(("def ", "async def ", "@")):
        return None
    # the body's lines after the last with instructions: statements Python compiled to none, code after
    # a return or raise (``raise ValueError(...)`` then ``return y, dlgradient(y, x)``), whose names are
    # still the code's co_names (was: left out, so the text compiled again had other names and the
    # function was refused as edited after it was defined)
    indent = len(lines[start - 1]) - len(lines[start - 1].lstrip())
    k = end
    while k < len(lines):
        text = lines[k]
        if text.strip() and not text.lstrip().startswith("#"):
            if len(text) - len(text.lstrip()) <= indent:
                break
            end = k + 1
        k += 1
    return lines[start - 1:end], start


def _rule_tree(fn):
    """The FunctionDef of the rule ``fn`` as Python's ``ast`` (its lines by ``code_source_lines``, in
    half inspect's time, a cost of every rule's first use); inspect's where those lines do not parse
    as ``fn``'s def.  (Only the expressions the templates keep are made gast nodes: converting the
    whole def took twice as long.)"""
    code = getattr(fn, "__code__", None)
    found = code_source_lines(code, getattr(fn, "__globals__", None)) if code is not None else None
    if found is not None:
        try:
            tree = ast.parse(textwrap.dedent("".join(found[0])))
        except SyntaxError:
            tree = None
        if tree is not None and len(tree.body) == 1 and isinstance(tree.body[0], ast.FunctionDef) and \
                tree.body[0].name == fn.__name__:
            _check_rule_source(fn, "".join(found[0]), found[1])
            return tree.body[0]
    lines, start = inspect.getsourcelines(fn)
    _check_rule_source(fn, "".join(lines), start)
    return ast.parse(textwrap.dedent("".join(lines))).body[0]


def _check_rule_source(fn, text: str, start: int) -> None:
    """Refuse a rule whose file was changed after it was defined: its text, read from the file as
    it is now (at the line its code starts), would be another function's (a rule edited, or lines
    added above it, after its module was imported; sct's own rules after an upgrade in a running
    session) and the derivative taken from it silently wrong.  The text is compiled again and
    compared with the rule's code, as a user's function is (sct/parse.py)."""
    code = getattr(fn, "__code__", None)
    if code is None:
        return
    stamp = _STAMPS.get(code.co_filename)
    if stamp is not None and stamp == _file_stamp(code.co_filename):
        return      # the file as it was when the rule was defined (the check compiles the text again)
    for check in CHECK_SOURCE:      # (the compiler's: the runtime does not import it)
        check(fn, textwrap.dedent(text), start, code.co_filename)


#: file name -> (modification time, size) when its first rule was defined (as its module ran)
_STAMPS: Dict[str, Tuple[int, int]] = {}


def _file_stamp(filename: str):
    try:
        st = os.stat(filename)
    except (OSError, ValueError, TypeError):
        return None
    return st.st_mtime_ns, st.st_size


def _stamp_source(fn) -> None:
    code = getattr(fn, "__code__", None)
    if code is not None and code.co_filename not in _STAMPS:
        stamp = _file_stamp(code.co_filename)
        if stamp is not None:
            _STAMPS[code.co_filename] = stamp


#: ``check(fn, text, start, filename)`` raising where ``text`` is not ``fn``'s code: set by the
#: compiler when it is imported (sct/parse.py ``check_source_matches``)
CHECK_SOURCE: list = []


@dataclass
class Rule:
    op: Any
    fn: Callable
    wrt: Tuple[str, ...]
    signature: inspect.Signature          # the op's parameters (without g, ans)
    _templates: Optional[Dict[str, Any]] = field(default=None, repr=False)

    @property
    def facts(self) -> OpFacts:
        return facts_of(self.op)

    @property
    def nondiff(self) -> Tuple[str, ...]:
        return self.facts.nondiff

    @property
    def name(self) -> str:
        return getattr(self.op, "__name__", self.fn.__name__)

    def templates(self) -> Dict[str, Any]:
        """Parameter name -> gast expression of its adjoint contribution."""
        if self._templates is None:
            fdef = _rule_tree(self.fn)
            returns = [s for s in fdef.body if isinstance(s, ast.Return)]
            others = [s for s in fdef.body
                      if not isinstance(s, ast.Return)
                      and not (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant))]
            if len(returns) != 1 or others or returns[0].value is None:
                raise TypeError(f"rule {self.fn.__name__} must consist of a single return")
            value = returns[0].value
            if len(self.wrt) == 1:
                exprs = [value]
            else:
                if not isinstance(value, ast.Tuple) or len(value.elts) != len(self.wrt):
                    raise TypeError(f"rule {self.fn.__name__} must return {len(self.wrt)} expressions")
                exprs = value.elts
            self._templates = dict(zip(self.wrt, map(gast.ast_to_gast, exprs)))
        return self._templates


RULES: Dict[Any, Rule] = {}
NONDIFF: set = set()
FACTS: Dict[Any, OpFacts] = {}
_NO_FACTS = OpFacts()
# Array methods (an index of the ``methods`` facts) and attributes, mapped onto the op that
# implements them.
METHODS: Dict[str, Any] = {}
ATTRIBUTES: Dict[str, Any] = {}
NONDIFF_ATTRIBUTES = {"shape", "ndim", "size", "dtype", "itemsize", "nbytes", "strides", "flags"}
# ``x.data`` of a traced value means dlarray's data: the value as a constant (like extractdata).
STOP_ATTRIBUTES = {"data"}
# Methods whose results carry no derivative (indices, Python values, copies to lists).
NONDIFF_METHODS = {"argmax", "argmin", "argsort", "argpartition", "nonzero", "searchsorted", "any", "all",
                   "keys", "__len__", "index", "count",
                   "is_integer", "hex", "as_integer_ratio"}     # (a float's: a bool, text, two ints)


def reads_lists_as_arrays(op) -> bool:
    """Does ``op`` (a numpy function, or ``@``) read a list or tuple argument of numbers as the array
    numpy makes of it (``np.hypot([a, b], 1.0)``, ``[a, b] @ x``)?  Not the functions that read a list
    as pieces (``np.stack``, ``np.concatenate``, ``np.einsum``...)."""
    module = getattr(op, "__module__", None) or ""
    if not (module == "numpy" or module.startswith("numpy.") or op is operator.matmul):
        return False
    return op not in _SEQUENCE_OPS


# numpy functions whose rules read a list argument's items as pieces (np.block's nesting,
# np.concatenate's arrays): their lists are kept
_SEQUENCE_OPS = frozenset((np.block, np.concatenate, np.stack, np.vstack, np.hstack, np.dstack, np.column_stack,
                           np.array, np.asarray, np.asanyarray, np.ascontiguousarray, np.select, np.choose,
                           np.einsum, np.meshgrid, np.atleast_1d, np.atleast_2d, np.atleast_3d))


# Rules registered on first need, for modules sct must not import itself (scipy.special):
# module name -> function registering them; run by ``lookup`` once that module is imported.
LAZY_RULES: Dict[str, Callable] = {}
_version = [0]


# Functions written in C that sct differentiates through a Python equivalent it can read
# (``functools.reduce``): the op -> the equivalent, called and differentiated in its place.
EQUIVALENTS: Dict[Any, Callable] = {}


def equivalent(op, fn) -> None:
    """Differentiate calls of ``op`` (not a Python function) as calls of the Python function
    ``fn``, which computes the same."""
    EQUIVALENTS[_key(op)] = fn
    _version[0] += 1


# per class: a Python function ``f(obj, *args)`` that computes what calling ``obj`` computes
# (``np.vectorize`` objects: their Python function on each element)
CALL_EQUIVALENTS: Dict[type, Callable] = {}


def readable(fn):
    """``fn``, or the Python equivalent registered for it (:func:`equivalent`); an object of a
    class in ``CALL_EQUIVALENTS``: that function bound to it."""
    by_class = CALL_EQUIVALENTS.get(type(fn))
    if by_class is not None:
        import types
        return types.MethodType(by_class, fn)
    try:
        return EQUIVALENTS.get(_key(fn), fn)
    except TypeError:          # unhashable callables have none
        return fn


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


def facts_of(op) -> OpFacts:
    """The facts registered for ``op`` (all false/empty for an op with none)."""
    try:
        return FACTS.get(_key(op), _NO_FACTS)
    except TypeError:          # unhashable callables are never ops
        return _NO_FACTS


def _names(value) -> Tuple[str, ...]:
    return (value,) if isinstance(value, str) else tuple(value)


def declare(*ops, linear: Sequence[str] = (), joint_linear: Sequence[str] = (),
            elementwise: Optional[bool] = None, many_outputs: bool = False, real_output: bool = False,
            complex_output: bool = False, method: Sequence[str] = (), nondiff: Sequence[str] = ()) -> None:
    """Record facts of ``ops`` (see :class:`OpFacts`); ``defrule`` and ``nondifferentiable`` take
    the same keywords.  Facts given add to those already recorded for an op, so a plain
    ``defrule`` of an op declared before keeps them.  ``elementwise`` defaults to True for numpy's
    ufuncs and the functions of ``math``.  ``method`` names the array methods the first op
    implements (``x.name(...)`` is ``op(x, ...)``)."""
    methods = _names(method)
    for i, op in enumerate(ops):
        old = facts_of(op)
        inferred = isinstance(op, np.ufunc) or getattr(op, "__module__", None) == "math" or \
            getattr(op, "__self__", None) is math
        FACTS[_key(op)] = OpFacts(
            linear=_names(linear) or old.linear,
            joint_linear=_names(joint_linear) or old.joint_linear,
            elementwise=(old.elementwise or inferred) if elementwise is None else elementwise,
            many_outputs=many_outputs or old.many_outputs,
            real_output=real_output or old.real_output,
            complex_output=complex_output or old.complex_output,
            methods=tuple(dict.fromkeys(old.methods + (methods if i == 0 else ()))),
            nondiff=_names(nondiff) or old.nondiff)
    for name in methods:
        METHODS[name] = ops[0]
    _version[0] += 1


def defrule(*ops, wrt: Optional[Sequence[str]] = None, nondiff: Sequence[str] = (),
            linear: Sequence[str] = (), joint_linear: Sequence[str] = (), elementwise: Optional[bool] = None,
            many_outputs: bool = False, real_output: bool = False, complex_output: bool = False,
            method: Sequence[str] = ()):
    """Register ``fn`` as the derivative rule of each op in ``ops``, with the ops' facts
    (keywords as :func:`declare`; ``nondiff``: the parameters that carry no derivative)."""
    def register(fn):
        if getattr(fn, "__name__", None) == "<lambda>":
            # its expression is read from the source as a def's single return (a lambda's line
            # is no def: an AttributeError inside sct at the first use)
            raise TypeError("a derivative rule must be a def whose body is one return statement, "
                            "not a lambda: def rule(g, ans, x): return ...")
        sig = inspect.signature(fn)
        params = list(sig.parameters.values())
        if [p.name for p in params[:2]] != ["g", "ans"]:
            raise TypeError(f"rule {fn.__name__} must start with parameters (g, ans, ...)")
        op_sig = sig.replace(parameters=params[2:])
        _stamp_source(fn)
        names = wrt if wrt is not None else (params[2].name,)
        for fact, given in (("linear", linear), ("joint_linear", joint_linear), ("nondiff", nondiff)):
            unknown = [n for n in _names(given) if n not in op_sig.parameters]
            if unknown:
                raise TypeError(f"rule {fn.__name__}: {fact}={unknown} names no parameter of the op")
        for op in ops:
            RULES[_key(op)] = Rule(op=op, fn=fn, wrt=tuple(names), signature=op_sig)
        declare(*ops, linear=linear, joint_linear=joint_linear, elementwise=elementwise,
                many_outputs=many_outputs, real_output=real_output, complex_output=complex_output,
                method=method, nondiff=nondiff)
        return fn
    return register


def alias(op, existing_op) -> None:
    """Give ``op`` the rule and facts of ``existing_op`` (same parameters), e.g. ``math.sin`` ->
    ``np.sin``."""
    rule = RULES[_key(existing_op)]
    RULES[_key(op)] = Rule(op=op, fn=rule.fn, wrt=rule.wrt, signature=rule.signature)
    f = rule.facts
    declare(op, linear=f.linear, joint_linear=f.joint_linear, elementwise=f.elementwise or None,
            many_outputs=f.many_outputs, real_output=f.real_output, nondiff=f.nondiff)


def nondifferentiable(*ops, **facts):
    """Declare ops whose outputs carry no derivative (comparisons, shapes, rounding); ``facts``
    as :func:`declare` (``method=``, ``many_outputs=``)."""
    for op in ops:
        NONDIFF.add(_key(op))
    if facts:
        declare(*ops, **facts)
    _version[0] += 1


class _ManyOutputs(set):
    """``CONTAINER_OPS.add(op)`` / ``.update(ops)``: the older spelling of
    ``declare(op, many_outputs=True)`` (kept so such registrations still work)."""

    def add(self, op):
        declare(op, many_outputs=True)
        super().add(op)

    def update(self, *iterables):
        for ops in iterables:
            for op in ops:
                self.add(op)


CONTAINER_OPS = _ManyOutputs()


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


# Runtime functions run as they are inside differentiated code (the optimizers' updates, called after
# dlgradient in a model-gradients function): their outputs depend on their inputs, but no rule says
# how, so sct refuses a derivative that would pass through them (never a zero).
RUN_AS_IS: set = set()


def run_as_is(*ops) -> None:
    """Declare runtime functions that differentiated code runs as they are, without a derivative
    rule: a derivative through one is refused (``no derivative rule``), a call after the last
    ``dlgradient`` runs."""
    for op in ops:
        RUN_AS_IS.add(_key(op))
    _version[0] += 1


def is_run_as_is(op) -> bool:
    try:
        return _key(op) in RUN_AS_IS
    except TypeError:
        return False


# sct's deep-learning functions without a rule of their own (differentiated through their source) whose every
# result is new: a new array or number, or for MATLAB's several outputs (``sct_asked_outputs``) a new tuple of
# new arrays and shapes, no two sharing memory -- never an argument, a view of one, nor anything the function
# keeps.  The aliasing analysis reads it (sct/points_to.py, sct/callee_effects.py, sct/number_returns.py): a
# write into the result in place changes nothing else (``h = layernorm(x, o, s); h += x``: was refused as a
# change of o, which Python leaves as it was, red54o F1).  A function with any path handing back an argument
# or a view of one must not be declared (the write would be taken to change nothing else: a wrong value and
# gradient); each declared one is checked over its argument forms in tests/test_dl_results_fresh_s54.py.
NEW_RESULTS: set = set()


def new_results(*ops) -> None:
    """Declare runtime functions whose results are always new (see ``NEW_RESULTS``)."""
    for op in ops:
        NEW_RESULTS.add(_key(op))
    _version[0] += 1


def has_new_results(op) -> bool:
    try:
        return _key(op) in NEW_RESULTS
    except TypeError:
        return False


def is_nondifferentiable(op) -> bool:
    try:
        return _key(op) in NONDIFF
    except TypeError:
        return False


def registered_ops():
    return list(RULES.values())
