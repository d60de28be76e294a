"""The pipeline, one pass per module:

    parse -> normalize -> analysis (activity, renaming) -> reverse -> emit -> compile

``compile_function`` turns a user function and the kinds of its arguments into
generated Python functions, with the guards that say when they must be
rebuilt.
"""
from __future__ import annotations

import builtins
import copy
import gc
import hashlib
import threading
import types
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import gast
import numpy as np

from . import fuse as _fuse

from .analysis import (Activity, Guard, Resolver, functionalize, tree_fingerprint, kind_complex, kind_traced,
                       rename_straight_line, _MISSING)
from .aliasing import AliasAnalysis, check_writes, inplace_updates, lower_mutations
from .closures import constant_rebinds
from .copy_aliases import rebind_copies
from .local_classes import local_class_copies, run_local_classes
from .log_numbers import detach_log_numbers
from .ordered_dicts import rewrite_ordered_dicts
from .emit import source_and_lines
from .errors import CompileError
from .operand_checks import check_operands
from .unpack_objects import unpack_objects
from .namespaces import rewrite_namespaces
from .global_statements import check_global_readers, check_global_stores, rewrite_global_statements
from . import hooks, ir
from .hooks import API
from .ir import BY_NAME, call, child_nodes, fields_read, shared_walks, tree_changed, walk_nodes
from .unroll import NotUnrolled, known_param, site_line_of, unroll_loops_around
from .dlupdates import dlupdate_line_of, rewrite_dlupdates
from .naming import Namer, names_in
from .implicit_hooks import index_parameters, plain_parameters
from .normalize import Normalizer
from .normalize_stmts import check_entered_values
from .normalize_try import check_raised_values
from .properties import compile_property_reads
from .user_operators import compile_user_operators
from .partials import PartialRewriter
from .base_inits import inline_base_inits, inline_generator_methods, inline_super_calls, inline_type_of_parameters
from .none_branches import fold_none_parameters
from .inline_helpers import class_guards, inline_helpers
from .recomputed import draws_all_seen, drop_recomputed, unwatched_replays
from .stale_reads import outside_roots, stale_read_checks
from .write_checks import spelled_names
from .optimize import (optimize, keep_outputs, prune_dead, reuse_temporaries, type_only_values, wide_products,
                       enabled as optimize_enabled)
from .optimize import direct_index_adjoints, direct_matmul_adjoints, expand_in_place, fold_broadcast_factors, \
    has_in_place, known_products, shared_statements, shift_invariant_maxima
from .optimize import indexed_sums, owned_setitems, owned_zero_at, released_views, unread_parameters, BodyNodes
from .tape_entries import unpopped_pushes, unread_tapes, walks as tape_walks
from .network_outputs import given_outputs
from .plans import NO_ADJOINT
from .parse import copied_user_def, function_ast, register_line_map, register_source
from .reverse import Transformer
from .tangent import TangentTransformer
from .call_sites import attach_sites
from .cse import readers
from .plans import CallKind
from .rt_namespace import RT, RT_NAMES
from .normalize_generators import generator_items
from .scalars import specialise
from .replaced_functions import guard_module_reads, refuse_replaced
from .runtime.imported import original
from .global_writes import check_attribute_rebinds, check_global_rebinds
from . import cache
from .callee_effects import ABSENT as ABSENT_CALLEE, begin_callee_reads, callee_reads, end_callee_reads
from .constant_helpers import check_sites
from .text_checks import check_text_numbers
from .key_checks import check_traced_keys
from .io_checks import check_written_and_read
from .helper_sites import check_helper_sites
from .formats import follow_formats
from .kinds import instance_field, kind_of
from .argument_deletes import argument_deletes_as_pops
from .plain_leaves import Described, Entered, PlainFill, check_first_pass_calls, check_plain_leaf_sites, \
    describe, entered, plain_fill
from .options import canonicalize_sites
from .outside_holders import note_outside_reads
# (imported with sct, not at the first compilation: the modules the passes import where they run)
from . import outside_formats as _outside_formats, recompute_writes as _recompute_writes  # noqa: F401,E402


@dataclass
class Compiled:
    """Generated code for one function and one signature of argument kinds."""
    entry: Callable
    fwd: Optional[Callable]
    bwd: Optional[Callable]
    source: str
    guards: List[Guard]
    filename: str
    check: Optional[Callable] = None     # check(fn): the guards, for fn (sct.cache.make_check)
    formats: Any = None                  # the data formats of the outputs (sct.formats), None: none
    calls: Any = ()                      # its call sites' records (sct.call_tree.CallRecord)
    opaque: bool = True                  # may run user code sct did not compile (sct.call_tree)
    draws_seen: bool = False             # no random draw escapes the effects log (sct.recomputed)
    recheck: bool = False                # opaque by calls alone: its guards checked after a run (sct.api)
    result_kind: Any = None              # the kind of its value, where its code says (sct.call_tree)
    joint_sites: Any = ()                # its dlgradients of a parameter that its caller checks (sct.helper_sites)
    call_targets: Any = ()               # (base, attr, value): functions called as base.attr(...), chosen now
    recheck_all: bool = False            # recheck: every guard (else only call_targets), sct.call_tree
    post_check: Optional[Callable] = None  # recheck's check where it differs: without the callees' reads
    writes_args: Optional[bool] = None    # the function may change an argument in place (sct.api; None: not asked)
    dlupdates: tuple = ()                # the lines of the dlupdate calls written out (sct/dlupdates.py)
    # ((position, parameter, (file, line)), ...): the arguments whose objects it sets traced attributes of,
    # followed by name (sct.write_checks._note_argument_write; checked by sct.api._refuse_aliased_writes)
    written_args: tuple = ()
    # ((position, parameter, (file, line)), ...): of those, the dicts whose items' dicts it writes into
    # (``state["bn"]["TrainedMean"] = m``: sct.write_checks._argument_item_write), each held once (sct.api)
    nested_written_args: tuple = ()
    output_types: object = None          # the outputs Python gives as no dlarray (sct.api.kept_outputs)
    dict_written_args: tuple = ()        # the positions of the dict arguments whose items it writes into (sct.api)
    outside_values: Optional[tuple] = None   # the globals and closure values it reads that may hold objects (sct.api)
    outside_reads: Any = None            # the globals the code it may call reads (sct.outside_reads.Reads; sct.api)
    adjoint_reads: tuple = ()            # ((name, value), ...): the plain arrays and lists its adjoint reads by name

    def __post_init__(self):
        if self.check is None:
            self.check = lambda fn: self.valid()

    def valid(self, fn=None) -> bool:
        """Whether this code is still right for ``fn`` (a function of the same code and globals:
        see sct.cache); without ``fn``, for the function it was compiled from."""
        if fn is not None:
            return self.check(fn)
        for guard in self.guards:
            if not guard.holds():
                return False
        return True


_FIXED_MODULES = ("numpy", "math", "cmath", "sct")


def _fixed_module(base, modules=_FIXED_MODULES) -> bool:
    """Attributes of numpy, math and sct's own modules are not rebound by a call of user code (the
    checks of Compiled.call_targets leave them out); a user's modules and classes may be
    (``helpers.act = np.cos`` recompiles)."""
    if base is RT:
        return True
    if type(base) is not types.ModuleType:
        return False
    name = base.__name__
    return name.split(".", 1)[0] in modules


def _unguarded(guard) -> bool:
    """Attributes a cache hit does not check: sct's own, but for its functions the code reads (``sct.relu``,
    ``sct.nn.relu``), checked with numpy's, math's and cmath's (one tuple compare a module,
    sct.cache._module_function_checks): a function replaced after compiling (``np.sin = np.cos``,
    ``sct.relu = my_relu``) compiles again, where sct.replaced_functions refuses numpy's and a replaced sct
    function is the user's own (was: the cached code ran the replacement and differentiated the original)."""
    return _fixed_module(guard[0], ("sct",)) and not cache._module_function(*guard)


def use_custom_backwards(fdef, activity, rt_name: str, resolver=None) -> None:
    """``layer.predict(X)`` on a layer that defines ``backward`` becomes ``rt.apply_layer``,
    an op whose rule is that backward (MATLAB uses a custom backward when present).  The code is
    compiled again once the class's ``backward`` is deleted or replaced (a guard of ``resolver``; was:
    ``del Scale.backward`` after a call left the cached code calling it, an AttributeError, red54c C1)."""
    from .runtime.layers import Layer
    from .ir import walk_no_defs
    import inspect
    from .analysis import Guard
    from .options import _Lookup

    def guard(cls) -> None:
        if resolver is None:
            return
        key = f"__sct_backward_{id(cls)}"
        if key not in resolver.guards:
            resolver.guards[key] = Guard(_Lookup(lambda cls=cls: inspect.getattr_static(cls, "backward")), key,
                                         inspect.getattr_static(cls, "backward", None))

    def custom(name: str) -> bool:
        kind = activity.kinds.get(name)
        cls = kind[1] if isinstance(kind, tuple) and len(kind) > 1 and kind[0] == "obj" else None
        # (a ``backward`` set on the instance, a field of its kind: the call is left to the run, where
        # runtime/layers.has_custom_backward reads the object, sct.call_tree's "a layer with its own backward")
        return isinstance(cls, type) and issubclass(cls, Layer) and callable(getattr(cls, "backward", None)) and \
            not instance_field(kind, "backward")

    for node in walk_no_defs(fdef):
        if not (isinstance(node, gast.Assign) and isinstance(node.value, gast.Call)):
            continue
        value = node.value
        func = value.func
        if isinstance(func, gast.Attribute) and isinstance(func.value, gast.Name) and \
                func.attr in ("predict", "forward") and custom(func.value.id):
            receiver, method = func.value, func.attr
        elif isinstance(func, gast.Name) and custom(func.id) and \
                activity.kinds[func.id][1].__call__ is Layer.__call__:      # (not a __call__ of its own)
            receiver, method = func, "forward"
        else:
            continue
        if len(value.args) != 1 or value.keywords:
            continue
        guard(activity.kinds[receiver.id][1])
        node.value = gast.Call(func=gast.Attribute(value=gast.Name(id=rt_name, ctx=gast.Load(), annotation=None,
                                                                  type_comment=None),
                                                   attr="apply_layer", ctx=gast.Load()),
                               args=[gast.Name(id=receiver.id, ctx=gast.Load(), annotation=None,
                                               type_comment=None), value.args[0],
                                     gast.Constant(value=method, kind=None)], keywords=[])
        ir.tree_changed(fdef)       # (a node replaced: sct.ir.shared_walks walks it again)


def check_nested_functions(nested, activity, filename: str, outer: str) -> None:
    """A nested function may use the enclosing function's traced values only as arguments
    (a value it reads from the enclosing scope would be a constant to its derivative)."""
    from .closures import free_names
    for node in nested:
        free = free_names(node)
        for n in walk_nodes(node):
            if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Load) and n.id in free and \
                    n.id in activity.active:
                raise CompileError(f"the nested function {node.name}() reads {n.id!r}, a traced value of "
                                   f"{outer}(): pass it to {node.name}() as an argument so its "
                                   "derivative is followed", filename, getattr(n, "lineno", node.lineno),
                                   "nested function")
        kw = [d for d in node.args.kw_defaults if d is not None]
        used = kw + (list(node.args.defaults) if getattr(node, "_sct_defaults_used", False) else [])
        for d in used:
            if isinstance(d, gast.Name) and d.id in activity.active:
                raise CompileError(f"a default value of {node.name}() is a traced value that sct cannot "
                                   "pass where it is used (a keyword-only parameter, or a call with * or **): "
                                   "pass it as a positional argument", filename, node.lineno,
                                   "nested function default")


def walk_no_defs_but(node):
    """The nodes of ``node`` and the nested defs it holds, not what those defs hold."""
    todo = [node]
    while todo:
        n = todo.pop()
        yield n
        if isinstance(n, gast.FunctionDef):
            continue
        todo.extend(child_nodes(n))        # (no context or operator leaf: a def is looked for)


def imported_names(fdef, attribute_guards: Optional[Dict[Any, tuple]] = None,
                   imports: Optional[List] = None) -> Dict[str, Any]:
    """What the import statements inside a function bind (resolved when it is compiled;
    ``from m import a`` guarded in ``attribute_guards``, like ``m.a``).  ``imports``: its import
    statements in ``walk_nodes``' order, where already found."""
    import importlib
    found: Dict[str, Any] = {}
    for node in (walk_nodes(fdef) if imports is None else imports):
        try:
            if isinstance(node, gast.Import):
                for alias in node.names:
                    module = importlib.import_module(alias.name)
                    if alias.asname:
                        found[alias.asname] = module
                    else:
                        top = alias.name.split(".")[0]
                        found[top] = importlib.import_module(top)
            elif isinstance(node, gast.ImportFrom) and node.level == 0 and node.module:
                module = importlib.import_module(node.module)
                for alias in node.names:
                    if alias.name != "*":
                        found[alias.asname or alias.name] = getattr(module, alias.name)
                        if attribute_guards is not None:
                            attribute_guards[(id(module), alias.name)] = (module, alias.name,
                                                                          found[alias.asname or alias.name])
        except (ImportError, AttributeError):
            continue
    return found


def module_aliases(fdef, resolver: Resolver, params, stores: Optional[Dict[str, int]] = None) -> None:
    """``xp = np`` (a local assigned once, from a module): the module, as ``import numpy as xp``
    would bind it, so that ``xp.sum(a)`` is numpy's sum (not the array method ``sum`` of ``xp``).
    ``stores``: how many times each name is stored in ``fdef``, where already counted."""
    import types
    if stores is None:
        stores = _stores_and_imports(fdef)[0]
    for node in fdef.body:
        if isinstance(node, gast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], gast.Name) \
                and isinstance(node.value, (gast.Name, gast.Attribute)):
            name = node.targets[0].id
            if stores.get(name) != 1 or name in params:
                continue
            value = resolver.resolve(node.value)
            if isinstance(value, types.ModuleType):
                resolver.aliases[name] = value


def expand_laplacians(body: List, resolver: Resolver, namer: Namer, rt_name: str) -> None:
    """``lap = dllaplacian(u, x, dim)`` becomes the divergence of the gradient of u.

    (Where points are independent along ``dim``, the gradient of the sum of u gives every point's
    gradient at once; the gradient and the Laplacian of a sum weighted point by point check that they
    are: a coupling whose gradient is zero at the points, a mean of x ** 2 at x = 0, passes the first.)
    """
    from .ir import assign, call, load
    for i in range(len(body) - 1, -1, -1):
        s = body[i]
        for field_name in ("body", "orelse"):
            if isinstance(getattr(s, field_name, None), list):
                expand_laplacians(getattr(s, field_name), resolver, namer, rt_name)
        if not (isinstance(s, gast.Assign) and isinstance(s.value, gast.Call) and
                resolver.resolve(s.value.func) is API.dllaplacian):
            continue
        node = s.value
        if len(node.args) != 3:
            raise CompileError("dllaplacian takes (u, x, dim): dim is the batch axis of u and x",
                               None, getattr(s, "lineno", None), "dllaplacian")
        base = s.targets[0].id if isinstance(s.targets[0], gast.Name) else "lap"
        held, args = [], []     # (u, x and dim are read by several statements below: evaluated once)
        for arg, hint in zip(node.args, ("u", "x", "dim")):
            if not isinstance(arg, (gast.Name, gast.Constant)):
                name = namer.fresh(f"{base}_{hint}")
                held.append(assign(name, arg, s.lineno))
                arg = load(name)
            args.append(arg)
        u, x, dim = (lambda a=a: copy.deepcopy(a) for a in args)     # a fresh node for each use
        total = namer.fresh(base + "_total")
        grad = namer.fresh(base + "_grad")
        weighted, weighted_grad = namer.fresh(base + "_weighted"), namer.fresh(base + "_weighted_grad")
        weighted_lap, lap = namer.fresh(base + "_weighted_lap"), namer.fresh(base + "_own")

        def higher(flag):
            return [gast.keyword(arg="EnableHigherDerivatives", value=gast.Constant(value=flag, kind=None))]
        checked = namer.fresh(base + "_checked")
        # (the Laplacian first: its sweeps recompute what precedes them, so the checks' sweeps come
        # after it, and read it only through the last statement)
        new = held + [
            assign(total, call(f"{rt_name}.point_total", [u(), x(), dim()]), s.lineno),
            assign(grad, call("__sct_dlgradient", [load(total), x()], higher(True)), s.lineno),
            assign(lap, call("__sct_dldivergence", [load(grad), x(), dim()], node.keywords), s.lineno),
            assign(weighted, call(f"{rt_name}.point_weighted_total", [u(), x(), dim()]), s.lineno),
            assign(weighted_grad, call("__sct_dlgradient", [load(weighted), x()], higher(True)), s.lineno),
            # (points coupled through second derivatives only, a mean of x ** 2 at x = 0, pass the
            # gradients' check: the weighted sum's Laplacian is compared with each point's too)
            assign(weighted_lap, call("__sct_dldivergence", [load(weighted_grad), x(), dim()], higher(False)),
                   s.lineno),
            assign(checked, call(f"{rt_name}.after_check", [load(lap), call(
                f"{rt_name}.independent_point_gradient", [load(grad), load(weighted_grad), x(), dim()])]),
                   s.lineno),
            gast.Assign(targets=s.targets, value=call(f"{rt_name}.after_check", [load(checked), call(
                f"{rt_name}.independent_point_laplacian", [load(lap), load(weighted_lap), x(), dim()])]),
                        type_comment=None)]
        new[-1].lineno = s.lineno
        body[i:i + 1] = new


# One compilation at a time: CPython's ast module is not thread-safe (3.11 raises "AST constructor
# recursion depth mismatch" when threads parse at once); compiled code runs in parallel as before.
_COMPILING = threading.RLock()


def compile_function(fn, kinds: Sequence, mode: str = "entry",
                     active_mask: Optional[Sequence[bool]] = None, returns_self: bool = False,
                     called: bool = False, primal_calls: bool = True, keep=None) -> Compiled:
    """Generate, print and compile the differentiated form of ``fn``.

    ``mode`` is "entry" (the function dlfeval runs: its dlgradient sites get
    sweeps) or "vjp" (a function called from differentiated code: a forward
    that keeps what its adjoint needs, and the adjoint).  ``called``: an entry run for a
    call from generated code (its writes to arguments are checked as a helper's);
    ``primal_calls``: False where the entry's code is differentiated again.  ``keep``: for sct's
    own generated code, which parts of the entry's returned value the caller reads (see
    ``sct.optimize.keep_outputs``); what only the others needed is not computed.  In "vjp" mode,
    how the caller reads the forward's value (sct.call_tree ``_value_keep``), any function.
    """
    where = None
    if mode == "entry" and not called and primal_calls:     # dlfeval's plain items (sct/plain_leaves.py)
        code = getattr(fn, "__code__", None)
        if code is not None:
            where = describe(code.co_varnames[:code.co_argcount], kinds, getattr(fn, "__name__", "?"))
    try:
        # (given such an argument: compiled in the context only where a value that may hold its plain
        # item reaches a helper that may take a derivative, plain_fill; ``p = state["params"]`` of
        # dlarrays only beside ``state["lr"]`` does not)
        with Described(where):
            return _compile_in_context(fn, kinds, mode, active_mask, returns_self, called, primal_calls, keep)
    except PlainFill as fill:       # (its body makes such a structure: compiled again in the context)
        described, where = where, fill.where
    refused = None
    try:
        with Entered(where):
            compiled = _compile_in_context(fn, kinds, mode, active_mask, returns_self, called, primal_calls, keep)
        lines = compiled.dlupdates
    except CompileError as error:
        lines, refused = tuple(_dlupdate_call_lines(fn)), error
        if not lines:
            raise
    if lines:
        # dlupdate calls written out (sct/dlupdates.py): the structure found above came from the code with
        # the calls as they are (their fun given on as a closure), so compiled again from the start with
        # them written out; a refusal of the code as it was is kept where that does not compile either
        try:
            try:
                with Described(described):
                    return _compile_in_context(fn, kinds, mode, active_mask, returns_self, called, primal_calls,
                                               keep, lines)
            except PlainFill as fill:
                where = fill.where
                with Entered(where):
                    compiled = _compile_in_context(fn, kinds, mode, active_mask, returns_self, called,
                                                   primal_calls, keep, lines)
        except (PlainFill, CompileError):
            if refused is not None:
                raise refused from None
            raise
    compiled.entry = entered(compiled.entry, where)
    return compiled


def _compile_in_context(fn, kinds, mode, active_mask, returns_self, called, primal_calls, keep,
                        dlupdates: tuple = ()) -> Compiled:
    try:
        with _COMPILING:
            # No cyclic garbage collection while compiling: the passes allocate many small tree
            # nodes that live until the end, and the collector's full passes over them made the
            # compile time of a long function grow faster than its length (a 2,000-line
            # function: about a third of the time in the collector).  Restored after; a
            # nested compilation (a helper) leaves it to the outermost.
            collecting = gc.isenabled()
            if collecting:
                gc.disable()
            reads = begin_callee_reads()     # what sct/callee_effects.py reads of the callees
            try:
                return _compile_unrolling(fn, kinds, mode, active_mask, returns_self, called, primal_calls,
                                          keep, dlupdates=dlupdates)
            finally:
                end_callee_reads(reads)
                if collecting:
                    gc.enable()
    except (CompileError, PlainFill):
        raise
    except Exception as exc:
        # A bug in sct, not in the user's code: still say which function it was.
        code = getattr(fn, "__code__", None)
        raise CompileError(
            f"internal error while differentiating {getattr(fn, '__qualname__', fn)!r} "
            f"({type(exc).__name__}: {exc}); please report it with this function's source. "
            "Meanwhile, moving the construct into an sct.Layer with its own backward method, "
            "or computing it before dlfeval, avoids it",
            code.co_filename if code else None, code.co_firstlineno if code else None,
            "def " + getattr(fn, "__name__", "?")) from exc


def _compile_unrolling(fn, *options, dlupdates: tuple = ()) -> Compiled:
    """_compile_function, compiled again with the loops around a gradient that is differentiated again
    written out step by step where it refuses one in a loop of ``fn`` (sct/unroll.py: a few steps of
    gradient descent differentiated through); its refusal where they cannot be."""
    unroll: tuple = ()      # (dlupdates: the lines of dlupdate calls written out, sct/dlupdates.py)
    refusal = None          # (the last refusal: raised where its loops cannot be written out)
    first = None            # the refusal before every dlupdate was written out
    while True:
        try:
            compiled = _compile_function(fn, *options, unroll=unroll, dlupdates=dlupdates)
            compiled.dlupdates = dlupdates
            return compiled
        except NotUnrolled:
            raise _loop_noted(refusal if first is None else first) from None
        except CompileError as error:
            written = dlupdate_line_of(error)
            code = getattr(fn, "__code__", None)
            if written is not None and written not in dlupdates and len(dlupdates) < 32 and code is not None and \
                    error.filename == code.co_filename:
                dlupdates = dlupdates + (written,)
                continue
            line = site_line_of(error)
            if line is None or line in unroll or len(unroll) >= 8 or code is None or \
                    error.filename != code.co_filename or not _range_is_builtin(fn, code):
                if first is not None:
                    raise first from None
                # another refusal met first (a check that reads the call as it is, before the refusal of a
                # derivative through it): compiled again with every dlupdate call written out where it can
                # be, its own refusal kept where that does not compile either
                more = tuple(sorted(set(_dlupdate_call_lines(fn)) - set(dlupdates)))
                if not more:
                    raise
                first, dlupdates = error, dlupdates + more
                continue
            refusal, unroll = error, unroll + (line,)


def _loop_noted(error):
    """A copy refusal of a gradient with EnableHigherDerivatives=True in a loop sct cannot write out, with
    the loop's own limit said too: following the copy advice alone (``fast = {k: P[k] * 1.0 ...}``) only
    met that refusal next (red team 53h FR3, MAML over ``for task in tasks``)."""
    from .parse import source_line
    message = str(error)
    if error is None or "sct cannot follow here whether" not in message or not error.filename or \
            "EnableHigherDerivatives=True" not in (source_line(error.filename, error.lineno or 0) or ""):
        return error
    prefix = f"{error.filename}, line {error.lineno}: "
    body = message[len(prefix):] if message.startswith(prefix) else message
    return CompileError(body + ". Note too: a gradient computed inside a loop can be differentiated again only where "
                        "the loop is `for i in range(n)` (Python's own range) with n a literal int, a global or "
                        "closure int, or an int argument of the function dlfeval runs, of at most 64 steps and no "
                        "break, continue or return; compute it after the loop, or loop over `range(n)` with n a "
                        "global", error.filename, error.lineno,
                        error.construct)


def _dlupdate_call_lines(fn) -> List[int]:
    """The lines of the calls of ``fn`` spelled ``dlupdate(...)`` or ``module.dlupdate(...)``."""
    try:
        fdef = function_ast(fn)[0]
    except Exception:
        return []
    return [n.lineno for n in walk_nodes(fdef) if isinstance(n, gast.Call) and isinstance(getattr(n, "lineno", None), int)
            and (isinstance(n.func, gast.Name) and n.func.id == "dlupdate" or
                 isinstance(n.func, gast.Attribute) and n.func.attr == "dlupdate")]


def _known_int(fn, fdef, bounds: Dict[str, int], entry: bool = False):
    """``known(name)`` for sct/unroll.py: the int a global or closure value of ``fn`` that ``fdef`` does
    not bind holds (``for k in range(STEPS)``), recorded in ``bounds`` (the compiled code is guarded on
    it); None for any other name.  ``entry``: the function dlfeval runs, whose int arguments may be known
    too (sct/unroll.py compile_entry)."""
    code = fn.__code__
    bound = {n.id for n in walk_nodes(fdef) if isinstance(n, gast.Name) and not isinstance(n.ctx, gast.Load)} | \
        {n.name for n in walk_nodes(fdef) if isinstance(n, (gast.FunctionDef, gast.ClassDef))} | \
        {(al.asname or al.name).split(".")[0] for n in walk_nodes(fdef) if isinstance(n, (gast.Import, gast.ImportFrom))
         for al in n.names} | set(code.co_varnames) | set(code.co_cellvars)

    params = code.co_varnames[:code.co_argcount]
    stored = {n.id for n in walk_nodes(fdef) if isinstance(n, gast.Name) and isinstance(n.ctx, (gast.Store, gast.Del))}

    def known(name: str):
        if entry and name in params and name not in stored:    # an int argument: dlfeval's entry for its value
            return known_param(fn, name)                # (sct/unroll.py compile_entry)
        if name in bound:
            return None
        if name in code.co_freevars:
            try:
                value = fn.__closure__[code.co_freevars.index(name)].cell_contents
            except ValueError:
                return None
        elif isinstance(getattr(fn, "__globals__", None), dict) and name in fn.__globals__:
            value = fn.__globals__[name]
        else:
            return None
        if not isinstance(value, (int, np.integer)) or isinstance(value, (bool, np.bool_)):
            return None
        bounds[name] = int(value)
        return int(value)
    return known


def _range_is_builtin(fn, code) -> bool:
    """Does ``range`` in ``fn`` name Python's own (sct/unroll.py writes ``for i in range(3)`` out as
    i = 0, 1, 2)?  Not where ``fn`` binds the name (a parameter, a local, a closure's) or its module
    has a ``range`` of its own (was: unrolled as the builtin's steps, a silent wrong value)."""
    if "range" in code.co_varnames or "range" in code.co_cellvars or "range" in code.co_freevars:
        return False
    glob = getattr(fn, "__globals__", None)
    if not isinstance(glob, dict):
        return False
    if "range" in glob:
        return glob["range"] is builtins.range
    spaces = glob.get("__builtins__", builtins)
    found = spaces.get("range") if isinstance(spaces, dict) else getattr(spaces, "range", None)
    return found is builtins.range


def _compile_function(fn, kinds: Sequence, mode: str, active_mask: Optional[Sequence[bool]],
                      returns_self: bool, called: bool = False, primal_calls: bool = True,
                      keep=None, unroll: tuple = (), dlupdates: tuple = ()) -> Compiled:
    """The pipeline: one line per pass, in order (the module that does it named beside it)."""
    fdef, filename = _parse(fn, returns_self)                                   # sct/parse.py
    class_copies = local_class_copies(fdef)      # (class statements as written: sct/local_classes.py)
    renamed = _rename_builtin_locals(fn, fdef)
    RENAMED_LOCALS.update(((filename, new), old) for new, old in renamed.items())
    bounds: Dict[str, int] = {}     # the globals and closure values a range written out stands for
    entry_ints = mode == "entry" and not called      # (its int arguments known too: sct/unroll.py compile_entry)
    unroll_loops_around(fdef, unroll, _known_int(fn, fdef, bounds, entry_ints) if unroll else None)   # sct/unroll.py
    supers: list = []
    fdef.sct_made = {}              # (classes without a global name super() finds: sct/base_inits.py)
    with shared_walks(fdef):        # (one walk of the tree for the four; each marks a tree it changes)
        inline_base_inits(fn, fdef, kinds)                                      # sct/base_inits.py
        inline_super_calls(fn, fdef, kinds, supers)                             # sct/base_inits.py
        inline_type_of_parameters(fn, fdef, kinds)                              # sct/base_inits.py
        inline_generator_methods(fn, fdef, kinds, supers)                       # sct/base_inits.py
    made_classes = fdef.sct_made
    namer, rt_name = _namer(fdef)                                               # sct/naming.py
    global_namespace = rewrite_global_statements(fn, fdef, namer, rt_name)       # sct/global_statements.py
    global_names = getattr(fdef, "sct_global_names", None)
    if global_names:
        check_global_readers(fn, fdef, filename)
    user_names = frozenset(namer.taken)          # (messages: the names the user wrote, sct/points_to.py)
    local_classes = run_local_classes(fn, fdef, class_copies, namer, rt_name) if class_copies else {}  # sct/local_classes.py
    ordered_reads = rewrite_ordered_dicts(fn, fdef, rt_name)                    # sct/ordered_dicts.py
    fold_none_parameters(fn, fdef, kinds, entry=not called and mode == "entry" and   # sct/none_branches.py
                         not filename.startswith("<sct-generated"))
    argument_deletes_as_pops(fdef, kinds)                                      # sct/argument_deletes.py
    namer.bases.update(renamed)                                                 # (messages: the user's name)
    given_outputs(fn, fdef, namer)                                              # sct/network_outputs.py
    written = rewrite_dlupdates(fn, fdef, kinds, dlupdates, namer, rt_name) if dlupdates else []  # sct/dlupdates.py
    partials = PartialRewriter(fn) if isinstance(fn, types.FunctionType) else None
    normalizer = Normalizer(fdef, filename, namer, rt_name, partials)
    normalizer.keywords_reach = called or mode != "entry"     # (dlfeval's function: its **kwargs checked empty)
    normalizer.index_parameters = index_parameters(fdef, kinds)                 # sct/implicit_hooks.py
    normalizer.plain_parameters = plain_parameters(fdef, kinds)                 # sct/implicit_hooks.py
    fdef = normalizer.run()                                                     # sct/normalize.py, sct/partials.py
    fdef.sct_user_names = user_names
    methods: list = []
    fdef.sct_dlupdate_lines, fdef.sct_dlupdate_written = dlupdates, written    # (helpers read in place too)
    inlined = inline_helpers(fn, fdef, filename, namer, rt_name, kinds, methods,      # sct/inline_helpers.py
                             final=mode == "entry" and not called and primal_calls)
    sig = _signature(fn, fdef, kinds, active_mask, mode, filename)              # sct/kinds.py
    resolver, nested = _resolver(fn, fdef, sig.params, rt_name)                 # sct/analysis.py
    resolver.made.update(local_classes)
    resolver.made.update(global_namespace or {})
    resolver.made.update(made_classes)
    for how, name in ordered_reads:          # (OrderedDict's name read: rebinding it recompiles)
        found = resolver.resolve_name(name)
        if how == "attribute":
            resolver.attribute(found, "OrderedDict")
    _builtins_of_generated_code(fn, fdef, inlined, resolver, filename)
    for name in sorted(inlined | (partials.functions if partials is not None else set())):
        # a helper read in place, a partial's function: redefining it recompiles
        helper = resolver.resolve_name(name)
        for attr in ("__code__", "__defaults__", "__kwdefaults__"):    # so does replacing its code (IPython's autoreload)
            resolver.attribute(helper, attr)
    if unroll:
        # loops written out as builtin range's steps (sct/unroll.py): the code no longer reads `range`,
        # so guard it here; a global `range` defined after the first call ran the old steps (was: Python's
        # one step of a shadowing range, sct's three of the builtin's, a wrong value and gradient)
        resolver.resolve_name("range")
        for name in bounds:         # (range(STEPS): STEPS rebound recompiles)
            resolver.resolve_name(name)
    for func in written:            # dlupdate written out: the name no longer read (rebinding it recompiles)
        resolver.resolve(func)
    for cls, name in supers:        # what super().name(...) found along the MRO: a change recompiles
        resolver.attribute(cls, name)
    for cls, name in methods:       # a method read in place: replacing it on its class recompiles
        method = resolver.attribute(cls, name)
        for attr in ("__code__", "__defaults__", "__kwdefaults__"):
            resolver.attribute(method, attr)
    for cls in {cls for cls, _ in methods}:      # so does changing the class's other code (sct/inline_helpers.py)
        for base, attr in class_guards(cls):
            resolver.attribute(base, attr)
    for name in sorted(partials.used if partials is not None else ()):
        resolver.resolve_name(name)
    for name, func in (partials.generator_items.items() if partials is not None else ()):
        gen = resolver.resolve(func)          # (guarded: gen redefined recompiles; so does its code replaced)
        for attr in ("__code__", "__defaults__", "__kwdefaults__"):
            resolver.attribute(gen, attr)
        resolver.made[name] = generator_items(gen)          # sct/normalize_generators.py
    canonicalize_sites(fn, fdef, resolver, filename, sig.given)                 # sct/options.py
    expand_laplacians(fdef.body, resolver, namer, rt_name)                      # dllaplacian (below)
    unpack_objects(fdef, resolver, sig.param_kinds, namer, rt_name, filename)   # sct/unpack_objects.py
    compile_property_reads(fdef, resolver, sig.param_kinds, namer, rt_name, filename)  # sct/properties.py
    compile_user_operators(fdef, resolver, sig.param_kinds, namer, rt_name, filename)  # sct/user_operators.py
    rewrite_namespaces(fdef, resolver, rt_name)                                 # sct/namespaces.py
    trusted = _trusted(fn)
    alias_mode = "vjp" if called else mode      # a helper's writes are its caller's business
    owned = {sig.params[0]} if returns_self and sig.params else set()     # __init__'s new object
    first, force, first_tree = _mutations(fdef, resolver, sig, alias_mode, owned, trusted, rt_name, filename)  # sct/aliasing.py
    fdef.body = functionalize(fdef.body, first.active, first.lists, rt_name, force)  # sct/analysis.py
    rename_straight_line(fdef, namer)                                           # sct/analysis.py
    out_formats = None if trusted else \
        follow_formats(fdef, resolver, sig.param_kinds, filename, namer, rt_name, mode)  # sct/formats.py
    with shared_walks(fdef):            # (these read the tree, none changes it: one walk of each kind)
        activity, _ = _activity(fdef, resolver, sig, first, first_tree, nested, trusted, filename,
                                          called or mode == "vjp")  # sct/analysis.py
        activity.given_as_is = mode == "entry" and not called   # (its arguments' kinds are Python's: type tests)
        activity.traced_as_kinds = mode == "jvp"   # (forward mode's "dl" kinds: traced, a numpy array or a dlarray)
        numpy_name = _numpy_name(resolver, namer)
        jvp_of_sites = mode == "jvp" and any(info.kind == CallKind.SITE for info in activity.calls.values())
        joint_sites = ()
        if not jvp_of_sites and (called or mode == "vjp"):   # a helper's (or nested function's) dlgradient
            vararg = fdef.args.vararg.id if fdef.args.vararg is not None else None
            joint_sites = check_helper_sites(fdef, activity, sig.params, filename,    # of a y the caller made:
                                             vararg, len(sig.param_kinds.get(vararg, (0, 0, ()))[2]))  # helper_sites.py
        if not jvp_of_sites and mode in ("entry", "vjp"):   # dlfeval's plain items traced: sct/plain_leaves.py
            check_first_pass_calls(fdef, activity, sig.params, filename)
            check_plain_leaf_sites(fdef, activity, sig.params, sig.param_kinds, called or mode == "vjp", filename,
                                   getattr(fn, "__sct_generated__", False))
            if mode == "entry" and not called and primal_calls:
                plain_fill(fdef, activity, fdef.name, sig.params, sig.param_kinds)
            elif called or mode == "vjp":       # a helper making such a structure: refused there
                plain_fill(fdef, activity, fdef.name, helper_of=filename)
    if global_names:
        check_global_stores(fdef, activity.active, rt_name)           # sct/global_statements.py
    constant_rebinds(fdef, activity.active, rt_name)                            # sct/closures.py
    if jvp_of_sites:
        # forward over reverse: forward-differentiate the code dlfeval would run
        entry = compile_function(fn, sig.kinds, mode="entry", called=called, primal_calls=False)
        compiled = compile_function(entry.entry, sig.kinds, mode="jvp", active_mask=active_mask)
        compiled.written_args = entry.written_args      # (its writes are the entry's)
        return compiled
    with shared_walks(fdef):            # (the user's function is read, not changed: one walk of each kind)
        generated = _generate(fdef, filename, activity, resolver, namer, mode, numpy_name, rt_name,
                              primal_calls, sig)                                # sct/reverse.py, sct/tangent.py
    _bound_builtin_calls(fn, generated, inlined, resolver, filename)
    if mode == "jvp" and getattr(fn, "__sct_adjoint__", False):
        generated.tangents = None       # (sct.hvp's adjoint code: every statement is sct's own)
    scalars = mode == "entry" and primal_calls and not called and not trusted and \
        not filename.startswith("<sct-generated")     # dlfeval's own entries, not differentiated again
    if mode == "vjp":       # the forward returns (value, residuals): the caller's keep is the value's
        keep = None if keep is None else (keep, True)
    elif not trusted:
        keep = None
    with ExitStack() as walks:      # one walk of each function for the last passes of _rewrite (they mark a
        # tree they change: sct.ir.tree_changed), the call tree's test of user code (after its callees are
        # resolved) and the two tests of its reads (nothing between them changes the generated code)
        sites, site_calls = _rewrite(generated, rt_name, namer, numpy_name,
                                     keep, resolver,
                                     sig.param_kinds if scalars else None, walks)   # call_sites, optimize, scalars, fuse
        if not trusted:     # a global it reads, rebound by a function it calls (sct/global_writes.py)
            check_global_rebinds(fn, resolver.guards, filename)
            check_attribute_rebinds(fdef, resolver, filename)
        _guard_callee_reads(fn, resolver)      # the helpers the analyses of its calls read (callee_effects)
        namespace = _namespace(fn, resolver, sites, rt_name, numpy_name)
        for generated_fn in generated.functions:
            if isinstance(generated_fn, gast.FunctionDef):
                walks.enter_context(shared_walks(generated_fn))
        # the callees' code, made now, called by name from the generated code (sct/call_tree.py: a call
        # it rewrites, tree_changed)
        tree = hooks.CALL_TREE.resolve(fn, site_calls, namespace, activity.kinds, generated, namer, rt_name,
                                       sig.param_kinds)
        _check_targets_kept(fn, generated, tree, resolver, namespace, rt_name, filename)   # (adds: tree_changed)
        if optimize_enabled():          # what only a self-contained sweep needs, and it runs again
            if drop_recomputed(generated, tree, rt_name, sig.param_kinds,
                               numpy_name):            # sct/recomputed.py
                for generated_fn in generated.functions:
                    tree_changed(generated_fn)
        # (before the sweeps' rt.replay_from calls change: read by the callers compiled with this one)
        draws_seen = draws_all_seen(generated, tree, rt_name)
        calls_known = optimize_enabled() and unwatched_replays(generated, tree, rt_name, sig.param_kinds,
                                                               namespace, draws_seen)   # (changes: tree_changed)
        # (after the passes above read the code: its checks are no library object's reads; it reads the
        # shared walk first, then adds its checks: tree_changed)
        _check_context_kept(fn, generated, resolver, namespace, rt_name, filename)
        if not trusted:     # the globals it reads by name that may hold a traced argument's dlarray
            note_outside_reads(fn, generated, resolver, namespace, rt_name, filename, mode, called)  # sct/outside_holders.py
    unseen_writes, adjoint_reads, residual_reads = True, (), ()
    if mode in ("entry", "vjp"):    # plain arrays an adjoint reads, changed by a call sct cannot look into
        unseen_writes, adjoint_reads, residual_reads = stale_read_checks(
            generated, fdef, activity.active, rt_name, numpy_name, spelled_names(fdef), filename, namer,
            mode == "vjp", getattr(tree, "records", ()), sig.param_kinds, namespace, fn)   # sct/stale_reads.py
    _into_arguments(generated.functions, getattr(fdef, "sct_argument_item_writes", ()))
    refuse_replaced(resolver, fdef, filename)                                   # sct/replaced_functions.py
    _fields_through(generated.functions, fdef, rt_name)
    source, line_table = source_and_lines(generated.functions)                  # sct/emit.py
    compiled = _load(fn, generated, source, line_table, filename, fdef.lineno, namespace, resolver,
                     out_formats)                                               # compile, sct/cache.py
    if called or mode == "vjp":     # and those of the helpers it passes its parameters to
        joint_sites = joint_sites + tree.forwarded_joint_sites(sig.params)
        tree.keep_forwards(sig.params, getattr(fn, "__name__", "a helper"))
    elif mode == "entry":       # dlfeval's function: its *args items are the arguments dlfeval was given
        tree.keep_entry_links()
    compiled.joint_sites = joint_sites
    compiled.unseen_writes = unseen_writes      # (its callers' stale-read checks: sct/stale_reads.py)
    compiled.adjoint_reads = adjoint_reads
    if adjoint_reads and isinstance(compiled.bwd, types.FunctionType):   # (a caller's pair made at run time)
        compiled.bwd.__sct_adjoint_reads__ = adjoint_reads
    if residual_reads and isinstance(compiled.bwd, types.FunctionType):  # (what it reads of its arguments' objects)
        compiled.bwd.__sct_residual_reads__ = residual_reads
    if mode == "vjp" and isinstance(compiled.bwd, types.FunctionType):    # (what its residuals may share)
        compiled.bwd.__sct_outside_roots__ = outside_roots(generated, fn)
    written = getattr(fdef, "sct_written_arguments", None)
    if written and mode == "entry" and not called:
        compiled.written_args = tuple((sig.params.index(p), p, where) for p, where in written.items()
                                      if p in sig.params)
        nested = getattr(fdef, "sct_nested_argument_writes", ())
        compiled.nested_written_args = tuple(w for w in compiled.written_args if w[1] in nested)
        dicts = getattr(fdef, "sct_argument_dicts", ())
        compiled.dict_written_args = tuple(w[0] for w in compiled.written_args if w[1] in dicts)
    kept = getattr(fdef, "sct_output_types", None)
    if kept is not None and mode == "entry" and not called:     # (sct.api.kept_outputs)
        compiled.output_types = _output_positions(kept, sig.params)
    hooks.CALL_TREE.finish(tree, compiled, namespace)
    compiled.draws_seen = draws_seen and calls_known     # the values it reads, the calls it makes
    return compiled


def _output_positions(kept, params):
    """sct/argument_writes.py output_types with each argument's name as its position (None where one is not a
    parameter dlfeval gives)."""
    def position(t):
        if type(t) is tuple and t[0] == "arg":
            return ("arg", params.index(t[1])) if t[1] in params else None
        if type(t) is tuple and t[0] == "field":
            return (t[0], params.index(t[1]), t[2], t[3]) if t[1] in params else t[3]
        if type(t) is tuple and t[0] == "display":
            items = [None if e is None else position(e) for e in t[2]]
            return (t[0], t[1], items) if any(e is not None for e in items) else None
        if type(t) is tuple and t[0] == "record":
            fields = {f: position(e) for f, e in t[2].items()}
            fields = {f: e for f, e in fields.items() if e is not None}
            return (t[0], t[1], fields) if fields else None
        return t
    if kept[0] == "one":
        found = position(kept[1])
        return ("one", found) if found is not None else None
    found = {i: position(t) for i, t in kept[2].items()}
    found = {i: t for i, t in found.items() if t is not None}
    return ("tuple", kept[1], found) if found else None


def _into_arguments(functions, writes) -> None:
    """The ``rt.setitem`` of each write into a dict dlfeval was given (sct.write_checks._argument_item_write),
    written as ``rt.setitem_through(d, k, v, python_type, fmt)``: a new version, as setitem, and the write made into
    the caller's dict too, once every pass reading setitem's versions of a container has read them (whether
    the value is a dlarray in Python: sct/argument_writes.py; its labels: sct.formats written_into)."""
    if not writes:
        return
    for f in functions:
        for n in walk_nodes(f):
            if isinstance(n, gast.Call) and getattr(n, "sct_into_argument", False) and \
                    isinstance(n.func, gast.Attribute) and n.func.attr in ("setitem", "setitem_owned") and \
                    len(n.args) == 3:
                n.func.attr = "setitem_through"
                n.args = n.args + [gast.Constant(value=getattr(n, "sct_through_type", "") or "", kind=None),
                                   gast.Constant(value=getattr(n, "sct_through_format", "") or "", kind=None)]


def _fields_through(functions, fdef, rt_name) -> None:
    """``obj.h = v`` of a traced ``v`` on an object from outside the function dlfeval runs
    (sct.write_checks._attribute_write's ``sct_field_type``), whose Python value is a dlarray, written as
    ``obj.h = rt.field_through(v, "dl", "")``: the object gets the dlarray plain Python leaves there (was the code's
    ndarray, red55r W1).  Only where the function reads no field of that name (nor fields by name: getattr,
    vars, ``__dict__``), so that its code keeps computing on its own arrays, and where its labels are known
    (sct.formats: ``sct_field_formats``)."""
    stores = [n for f in functions for n in walk_nodes(f) if isinstance(n, gast.Assign) and len(n.targets) == 1
              and isinstance(n.targets[0], gast.Attribute) and getattr(n, "sct_field_type", "") == "dl"]
    if not stores:
        return
    read = fields_read(fdef)
    if BY_NAME in read:
        return
    for n in stores:
        formats = getattr(n, "sct_field_formats", frozenset({""}))     # (sct.formats: its labels)
        if n.targets[0].attr not in read and len(formats) == 1 and isinstance(next(iter(formats)), str):
            n.value = call(f"{rt_name}.field_through", [n.value, gast.Constant(value="dl", kind=None),
                                                         gast.Constant(value=next(iter(formats)), kind=None)])


def _guard_callee_reads(fn, resolver) -> None:
    """Guard what sct/callee_effects.py read while deciding what the calls of this code do to their
    arguments: each helper a called function calls by its global name (one not read by the code
    itself: one more check per call, none for code calling only its own helpers).  Redefining one
    (a notebook cell run again: ``helper`` now writing into its argument) compiles anew (was: the
    old helper's answer, its write unseen: a gradient from the changed array)."""
    added = resolver.callee_guards = getattr(resolver, "callee_guards", None) or set()   # (not rechecked
    # after a run: sct.api._read_values_kept; sct/forward_code.py may have added the guards of its scans)
    for namespace, name, value, code in callee_reads():
        held = cache._MISSING if value is ABSENT_CALLEE else value
        key = name if namespace is fn.__globals__ else f"{name} (in {namespace.get('__name__', '?')})"
        known = resolver.guards.get(key)
        if known is not None and (known.namespace is not namespace or known.value is not held):
            key = f"{key} (callee {len(resolver.guards)})"
            known = None
        if known is None:
            resolver.guards[key] = Guard(namespace, name, held)
            added.add(key)


@dataclass
class _Signature:
    """A function's named parameters and what is known of the arguments they receive."""
    params: List[str]
    kinds: List                      # one per named parameter (a default's kind where none was given)
    given: int                       # how many of those the caller gave
    param_kinds: Dict[str, Any]      # per parameter, *args and **kwargs included
    mask: List                       # per named parameter: True, False or NO_ADJOINT
    active: set                      # the parameters holding traced values
    complex_: set                    # and those holding complex values


def _stored_names(fdef) -> set:
    """The names ``fdef`` stores (not those a nested def or lambda binds for itself: ``helper = 3.0`` in
    ``def g(v)`` leaves the caller's ``helper(x)`` the module's function)."""
    return set(_stores_and_imports(fdef)[0])


def _inside(nested) -> set:
    """The ids of the nodes inside the bodies of the defs and lambdas ``nested``."""
    out = set()
    for d in nested:
        for part in ([d.body] if isinstance(d, gast.Lambda) else d.body):
            out |= {id(n) for n in walk_nodes(part)}
    return out


def _stores_and_imports(fdef, defs: Optional[List] = None):
    """How many times each name is stored in ``fdef``, and its import statements (in
    ``walk_nodes``' order): one walk for ``_stored_names``, ``imported_names`` and ``module_aliases``.
    ``defs``: a list that receives the function definitions in ``fdef`` (any depth; for
    ``_nested_functions``), from the same walk."""
    stored: List = []
    imports: List = []
    nested: List = []
    Name, Store, imports_, scopes = gast.Name, gast.Store, (gast.Import, gast.ImportFrom), (gast.FunctionDef, gast.Lambda)
    for node in walk_nodes(fdef):
        if isinstance(node, Name):
            if isinstance(node.ctx, Store):
                stored.append(node)
        elif isinstance(node, imports_):
            imports.append(node)
        elif isinstance(node, scopes) and node is not fdef:
            nested.append(node)
            if defs is not None and isinstance(node, gast.FunctionDef):
                defs.append(node)
    inner = _inside(nested) if nested else set()     # (a nested def's own locals are not the function's)
    stores: Dict[str, int] = {}
    for node in stored:
        if id(node) not in inner:
            stores[node.id] = stores.get(node.id, 0) + 1
    return stores, imports


def _parse(fn, returns_self: bool):
    """The tree of ``fn`` and its file name (sct's own fused code read back as plain numpy)."""
    fdef, filename, _ = function_ast(fn)
    if filename.startswith("<sct-generated") and _fuse.has_fused(fdef):   # read back: plain numpy
        _fuse.unfuse(fdef, fn.__globals__)
    if filename.startswith("<sct-generated") and has_in_place(fdef):     # the ops written in place: plain ops
        expand_in_place(fdef, {k for k, v in fn.__globals__.items() if v is RT})
    if fdef.args.posonlyargs:   # positional-only parameters: every call passes them by position
        fdef.args.args = fdef.args.posonlyargs + fdef.args.args
        fdef.args.posonlyargs = []
    if returns_self:       # __init__ builds its first argument: differentiate it as the result
        _returns_self(fdef.body, fdef.args.args[0].id, filename, fn)
        fdef.body.append(gast.Return(value=gast.Name(id=fdef.args.args[0].id, ctx=gast.Load(),
                                                     annotation=None, type_comment=None)))
        fdef.body[-1].lineno = fdef.body[-2].lineno if len(fdef.body) > 1 else fdef.lineno
    return fdef, filename


def _returns_self(stmts, me: str, filename: str = None, fn=None) -> None:
    """An early ``return`` (or ``return None``) of ``__init__`` returns its new object too (was: the
    object built by ``A(x)`` was None where ``__init__`` returned early).  A ``return`` of anything
    else is refused: Python raises TypeError there, "__init__() should return None" (was: ``return
    self`` ran, and ``return 5`` made ``A(x)`` the number 5)."""
    todo = list(stmts)
    while todo:
        node = todo.pop()
        if isinstance(node, (gast.FunctionDef, gast.AsyncFunctionDef, gast.ClassDef, gast.Lambda, gast.expr)):
            continue
        if isinstance(node, gast.Return) and (node.value is None or isinstance(node.value, gast.Constant) and
                                              node.value.value is None):
            node.value = gast.Name(id=me, ctx=gast.Load(), annotation=None, type_comment=None)
            gast.copy_location(node.value, node)
        elif isinstance(node, gast.Return):
            name = getattr(fn, "__qualname__", "__init__")
            raise CompileError(f"{name}() returns a value: Python raises TypeError there (__init__() should "
                               "return None); return nothing (`return`), the object is what the class call gives",
                               filename, getattr(node, "lineno", None), "return")
        todo.extend(gast.iter_child_nodes(node))


def _namer(fdef):
    """Fresh names that clash with none of the user's, and the name of the runtime module."""
    user_names = names_in(fdef)
    reserved = set(dir(builtins)) | {"rt", "np"}
    namer = Namer(user_names | reserved)
    rt_name = "rt" if "rt" not in user_names else namer.fresh_global("sct_rt")
    return namer, rt_name


def _signature(fn, fdef, kinds: Sequence, active_mask: Optional[Sequence[bool]], mode: str,
               filename: str) -> _Signature:
    """The kinds of the (normalized) function's parameters: given, or its defaults'."""
    params = [a.id for a in fdef.args.args]
    vararg = fdef.args.vararg.id if fdef.args.vararg is not None else None
    kwarg = fdef.args.kwarg.id if fdef.args.kwarg is not None else None
    kinds = list(kinds)
    extra_kinds = tuple(kinds[len(params):]) if vararg else ()
    extra_mask = tuple(active_mask[len(params):]) if (vararg and active_mask is not None) else \
        (True,) * len(extra_kinds)
    kinds = kinds[:len(params)] if vararg else kinds
    given = len(kinds)
    if len(kinds) < len(params):
        defaults = fn.__defaults__ or ()
        missing = params[len(kinds):]
        offset = len(params) - len(defaults)
        for i, p in enumerate(missing, start=len(kinds)):
            kinds.append(kind_of(defaults[i - offset]) if i >= offset else ("const", type(None)))
    param_kinds = dict(zip(params, kinds))
    mask = list(active_mask) if active_mask is not None else [True] * len(params)
    mask += [False] * (len(params) - len(mask))
    active = {p for p, k, m in zip(params, kinds, mask) if m and kind_traced(k)}
    complex_ = {p for p, k in zip(params, kinds) if kind_complex(k)}
    if vararg:                     # *args: a tuple of the extra arguments
        param_kinds[vararg] = ("seq", tuple, tuple(k if m else ("const", object)
                                                   for k, m in zip(extra_kinds, extra_mask)))
        if kind_traced(param_kinds[vararg]):
            active.add(vararg)
        if kind_complex(param_kinds[vararg]):
            complex_.add(vararg)
        if mode == "jvp":
            raise CompileError(f"forward mode does not follow *{vararg} parameters yet", filename,
                               fdef.lineno, "*args")
    if kwarg:
        param_kinds[kwarg] = ("const", dict)
    return _Signature(params, kinds, given, param_kinds, mask, active, complex_)


def _nested_functions(fdef, any_defs: bool = True) -> List:
    """The functions defined in ``fdef`` (not those defined in them).  ``any_defs``: False where
    ``fdef`` is known to hold no function definition at any depth (then none is looked for)."""
    if not any_defs:
        return []
    return [n for n in fdef.body if isinstance(n, gast.FunctionDef)] + \
        [n for s in fdef.body if not isinstance(s, gast.FunctionDef)
         for n in walk_no_defs_but(s) if isinstance(n, gast.FunctionDef)]


def _other_parameters(fdef) -> set:
    """The function's parameters besides its positional ones (keyword-only, ``*args``, ``**kw``):
    local names, never the module's globals of the same name (a keyword-only ``act=np.tanh``
    left to its default was resolved as a global ``act = np.sin`` of the module, its derivative
    taken for sin's while Python ran tanh; with no such global, refused as undefined)."""
    a = fdef.args
    return {p.id for p in list(a.kwonlyargs) + list(getattr(a, "posonlyargs", []) or []) + [a.vararg, a.kwarg]
            if isinstance(p, gast.Name)}


#: the builtins sct's passes write calls of into the code they generate (a loop's ``len(seq)``, a map's
#: ``zip(...)``, unrolled ``range``...), meaning Python's own
_GENERATED_BUILTINS = ("len", "zip", "range", "slice", "set", "list", "tuple", "min", "hasattr")


#: {(the user's file, a fresh name): the user's name} of the locals renamed by _rename_builtin_locals,
#: so that Python's message about one (UnboundLocalError) names it as the user wrote it
RENAMED_LOCALS: Dict[Tuple[str, str], str] = {}

_SCOPES = (gast.FunctionDef, gast.AsyncFunctionDef, gast.Lambda, gast.ClassDef, gast.ListComp, gast.SetComp,
           gast.DictComp, gast.GeneratorExp)


def _rename_builtin_locals(fn, fdef) -> Dict[str, str]:
    """A local of the function named like a builtin the generated code calls
    (``_GENERATED_BUILTINS``: ``def range(n): ...``, ``list = [...]``, ``min = np.minimum``) renamed, in
    the function and the code nested in it that reads it, to a fresh name (``range_``), before any pass
    writes its own calls of the builtin: those then mean Python's builtin, and the user's the user's (was:
    the reverse pass's ``for _ in range(n)`` and the tape's ``list(tape)`` called the user's; the check
    counting such calls missed a call sct writes another way, ``rt.unnamed_call(range, 3)``, or drops as
    dead, and gave wrong gradients).  Left as it was (and checked as before) where a nested scope binds the
    name itself, the function declares it global or nonlocal, or it is a parameter.  Returns {fresh
    name: the user's}."""
    code = getattr(fn, "__code__", None)
    if code is not None and getattr(fn, "__sct_positional_of__", None) is None and \
            not set(_GENERATED_BUILTINS) & (set(code.co_varnames) | set(code.co_cellvars)):
        return {}                   # (the code of fdef binds no local of such a name: no walk)
    candidates = set(_GENERATED_BUILTINS)
    a = fdef.args
    # (a parameter keeps its name: a helper's compiled code is called with keywords by it)
    others = {p.id for p in list(a.args) + list(a.kwonlyargs) + list(getattr(a, "posonlyargs", []) or []) +
              [a.vararg, a.kwarg] if isinstance(p, gast.Name)}
    own: set = set()
    declared: set = set()
    nested: List = []
    todo = list(fdef.body)
    while todo:                     # the function's own scope (a comprehension's walrus binds it too)
        node = todo.pop()
        if isinstance(node, (gast.FunctionDef, gast.AsyncFunctionDef, gast.ClassDef)):
            own.add(node.name)
            nested.append(node)
            todo.extend(node.decorator_list)
            continue
        if isinstance(node, _SCOPES):
            nested.append(node)
            continue
        if isinstance(node, gast.Name) and isinstance(node.ctx, (gast.Store, gast.Del)):
            own.add(node.id)
        elif isinstance(node, (gast.Import, gast.ImportFrom)):
            own.update((al.asname or al.name).split(".")[0] for al in node.names)
        elif isinstance(node, (gast.Global, gast.Nonlocal)):
            declared.update(node.names)
        todo.extend(gast.iter_child_nodes(node))
    candidates &= own
    candidates -= others | declared
    if not candidates or not isinstance(getattr(fn, "__globals__", None), dict):
        return {}
    for scope in nested:            # a nested scope binding the name itself: left as it was
        for node in gast.walk(scope):
            if node is not scope and isinstance(node, (gast.FunctionDef, gast.AsyncFunctionDef, gast.ClassDef)) \
                    or node is scope and isinstance(node, gast.ClassDef):
                candidates.discard(node.name)
            if isinstance(node, gast.Name) and isinstance(node.ctx, (gast.Store, gast.Del, gast.Param)):
                if not (isinstance(scope, (gast.ListComp, gast.SetComp, gast.DictComp, gast.GeneratorExp)) and
                        _walrus_target(scope, node)):
                    candidates.discard(node.id)
            elif isinstance(node, (gast.Import, gast.ImportFrom, gast.Global, gast.Nonlocal)):
                names = node.names if isinstance(node, (gast.Global, gast.Nonlocal)) else \
                    [(al.asname or al.name).split(".")[0] for al in node.names]
                candidates.difference_update(names)
    if any(isinstance(n, gast.Call) and isinstance(n.func, gast.Name) and n.func.id in ("locals", "vars", "eval", "exec")
           for n in walk_nodes(fdef)):
        return {}
    if not candidates:
        return {}
    taken = names_in(fdef) | set(fn.__globals__) | set(dir(builtins))
    fresh: Dict[str, str] = {}
    for name in sorted(candidates):
        new = name + "_"
        k = 1
        while new in taken:
            new = f"{name}_{k}"
            k += 1
        taken.add(new)
        fresh[name] = new
    for node in walk_nodes(fdef):
        if isinstance(node, gast.Name) and node.id in fresh:
            node.id = fresh[node.id]
        elif isinstance(node, (gast.FunctionDef, gast.AsyncFunctionDef, gast.ClassDef)) and node is not fdef and \
                node.name in fresh:
            node.name = fresh[node.name]
        elif isinstance(node, (gast.Import, gast.ImportFrom)):
            for al in node.names:
                if (al.asname or al.name) in fresh:
                    al.asname = fresh[al.asname or al.name]
    return {new: old for old, new in fresh.items()}


def _walrus_target(scope, name) -> bool:
    """``name`` the target of a ``:=`` in the comprehension ``scope`` (it binds the enclosing function)."""
    return any(isinstance(n, gast.NamedExpr) and n.target is name for n in gast.walk(scope))


def _code_names(code, out: set) -> set:
    """The global and free names ``code`` and the code nested in it read."""
    out.update(code.co_names)
    out.update(code.co_freevars)
    for c in code.co_consts:
        if isinstance(c, types.CodeType):
            _code_names(c, out)
    return out


def _name_loads(tree, names) -> Dict[str, int]:
    counts = dict.fromkeys(names, 0)
    for n in gast.walk(tree):
        if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Load) and n.id in counts:
            counts[n.id] += 1
    return counts


def _builtins_of_generated_code(fn, fdef, inlined, resolver, filename) -> None:
    """A builtin the generated code calls (``_GENERATED_BUILTINS``) that the function's module defines
    again (``len = 5`` or ``def len(x)`` in a notebook), where the user's own code (the function's and
    the helpers read in place) never reads that name: the generated calls are Python's builtin's (was:
    resolved as the module's, so every for loop of a module with its own ``len`` ran once, a silently
    wrong value and gradient; a ``len`` defined after the first call the same on the next compile)."""
    glob = getattr(fn, "__globals__", None)
    code = getattr(fn, "__code__", None)
    if not isinstance(glob, dict) or code is None:
        return
    shadowed = [n for n in _GENERATED_BUILTINS if n in glob and glob[n] is not getattr(builtins, n)]
    # a local or parameter of that name (`list = [...]`, `def f(x, range=3.0)`): the generated calls in
    # the same function would read it (was: "'list' object is not callable" at the user's return line)
    bound = [n for n in _GENERATED_BUILTINS if n in resolver.locals or n in code.co_freevars]
    if not shadowed and not bound:
        return
    read = _code_names(code, set())
    for name in inlined:
        helper = resolver.globals.get(name)
        if isinstance(getattr(helper, "__code__", None), types.CodeType):
            _code_names(helper.__code__, read)
    for name in shadowed:
        if name not in read and name not in resolver.known:
            resolver.known[name] = getattr(builtins, name)
    conflicts = [n for n in shadowed if n in read] + [n for n in bound if n not in shadowed]
    if not conflicts:
        return
    _refuse_more_reads(fn, [fdef], inlined, resolver, filename, conflicts, bound, _name_loads)


def _bound_builtin_calls(fn, generated, inlined, resolver, filename) -> None:
    """A local of a builtin's name (``list = [...]``) that the code written after the reverse pass
    calls: the tape handed to a gradient site is ``list(tape)`` (was: "'list' object is not
    callable" at the user's return line, a TypeError taken for the user's).  Calls are counted, not
    loads: the sweeps read the user's own ``list`` again as a residual."""
    code = getattr(fn, "__code__", None)
    if code is None:
        return
    bound = [n for n in _GENERATED_BUILTINS if n in resolver.locals or n in code.co_freevars]
    # a global of that name the function (or a helper read in place) reads, as the reverse pass's own
    # `for _ in range(n)` reads it too (was: checked before the reverse pass was written, a module's
    # `def range(n)` read by `for i in range(4)` gave a wrong gradient)
    glob = getattr(fn, "__globals__", None)
    shadowed = []
    if isinstance(glob, dict):
        shadowed = [n for n in _GENERATED_BUILTINS if n not in bound and n in glob and
                    glob[n] is not getattr(builtins, n) and resolver.known.get(n) is not getattr(builtins, n)]
    if bound or shadowed:
        trees = [f for f in generated.functions if isinstance(f, gast.FunctionDef)]
        _refuse_more_reads(fn, trees, inlined, resolver, filename, bound + shadowed, bound, _name_calls)


def _name_calls(tree, names) -> Dict[str, int]:
    """The calls of each name: ``name(...)``, and the name given to a method or module function
    (``rt.unnamed_call(name, 3)``, how the generated code writes some of the user's calls: counted
    there as in the user's code, where it was ``name(3)``; was missed, a call sct added passed)."""
    counts = dict.fromkeys(names, 0)
    for n in gast.walk(tree):
        if not isinstance(n, gast.Call):
            continue
        if isinstance(n.func, gast.Name) and n.func.id in counts:
            counts[n.func.id] += 1
        elif isinstance(n.func, gast.Attribute) and n.func.attr in _CALLING:
            k = _CALLING[n.func.attr]
            if len(n.args) > k and isinstance(n.args[k], gast.Name) and n.args[k].id in counts:
                counts[n.args[k].id] += 1
    return counts


#: the runtime's functions that call the function given them (at this position) as the user's code did
_CALLING = {"unnamed_call": 0, "user_call": 0, "effect": 0, "maybe_effect": 0, "vjp_at": 1, "primal_call_at": 1,
            "jvp_at": 1, "jvp_call": 0}


def _refuse_more_reads(fn, after_trees, inlined, resolver, filename, conflicts, bound, count) -> None:
    # the user's code reads the module's own name too: one name cannot be both in the generated code.
    # Where the code sct wrote reads it more often than the user's source does, it is refused (was: the
    # generated calls were the module's, `len = lambda x: 1` read by the function made its loops run once)
    from .parse import function_ast
    try:
        sources = [function_ast(fn)[0]] + [function_ast(resolver.globals[h])[0] for h in inlined
                                           if isinstance(getattr(resolver.globals.get(h), "__code__", None),
                                                         types.CodeType)]
    except Exception:
        return
    before = dict.fromkeys(conflicts, 0)
    for tree in sources:
        for name, found in count(tree, conflicts).items():
            before[name] += found
    after = dict.fromkeys(conflicts, 0)
    for tree in after_trees:
        for name, found in count(tree, conflicts).items():
            after[name] += found
    for name in conflicts:
        if after[name] > before[name]:
            owner = f"{fn.__qualname__}() binds a variable" if name in bound else \
                f"the module of {fn.__qualname__}() defines its own {name!r}, which the function reads"
            if name in bound:
                owner += f" named {name!r}"
            raise CompileError(
                f"{owner}, and the code sct writes for it calls Python's builtin {name}() (for a loop, a comprehension or "
                f"the tape a gradient reads): one name cannot be both. Rename yours (or import builtins and call "
                f"builtins.{name} in your code)", filename, fn.__code__.co_firstlineno)


def _resolver(fn, fdef, params: List[str], rt_name: str):
    """What the function's names refer to (guarded), and its nested functions."""
    defs: List = []
    stores, imports = _stores_and_imports(fdef, defs)
    local_names = set(params) | set(stores) | _other_parameters(fdef)
    nested = _nested_functions(fdef, bool(defs))          # (no def anywhere: no walk of each statement)
    local_names |= {n.name for n in nested}
    known = {rt_name: RT, "__sct_dlgradient": API.dlgradient, "__sct_dldivergence": API.dldivergence}
    imported_guards: Dict[Any, tuple] = {}
    known.update(imported_names(fdef, imported_guards, imports))
    resolver = Resolver(fn, local_names, known=known)
    resolver.attribute_guards.update(imported_guards)
    module_aliases(fdef, resolver, params, stores)
    return resolver, nested


def _trusted(fn) -> bool:
    """sct's own generated code and runtime manage their writes (the tape) themselves (not a
    user's nested def that generated code holds: sct.parse.copied_user_def)."""
    if copied_user_def(fn):
        return False
    return getattr(fn, "__sct_generated__", False) or \
        (getattr(fn, "__module__", "") or "").startswith(("sct.runtime.", "sct_generated"))


def _mutations(fdef, resolver: Resolver, sig: _Signature, alias_mode: str, owned: set, trusted: bool,
               rt_name: str, filename: str):
    """Writes through names lowered and checked (sct/aliasing.py): the first activity, the
    names whose writes must be made functional, and what the first activity was found for
    (the tree and the local names: ``_activity`` reuses it where neither changed)."""
    if not trusted:
        # c = z where c surely is z, after each write into z in place (sct/copy_aliases.py)
        def analysis_of():
            # (with the activity: which locals hold arrays, so that w = z[1:] is surely a view)
            saved = resolver.locals
            resolver.locals = resolver.locals | _stored_names(fdef)
            try:
                act = Activity(fdef, resolver, sig.param_kinds, sig.active, sig.complex_, filename)
            except Exception:       # (what lower_mutations rewrites yet, such as out=: known without it)
                act = None
                missing.append(True)
            finally:
                resolver.locals = saved
            return AliasAnalysis(fdef, resolver, alias_mode, sig.param_kinds, owned, act)
        missing: List[bool] = []
        memo: Dict = {}             # (what the first run followed: the second leaves it)
        for _ in range(4):
            # again while it adds: the view a write takes again (w = v[::2] after `w *= 3.0`) is one the next
            # write through it follows (was: `w += 1.0` after it refused, fuzz50 mini3)
            if not rebind_copies(fdef, analysis_of, rt_name, memo):
                break
        lowered = lower_mutations(fdef, resolver, alias_mode, sig.param_kinds, owned, rt_name)
        # (again after lowering: r = d.setdefault(k, []) became r = d[k], an item write-backs follow)
        if (missing or lowered) and rebind_copies(fdef, analysis_of, rt_name, memo):
            # once more with the activity the lowered function has (the views it tells of)
            lower_mutations(fdef, resolver, alias_mode, sig.param_kinds, owned, rt_name)
    resolver.locals = resolver.locals | _stored_names(fdef)
    with shared_walks(fdef):        # (use_custom_backwards marks a tree it changes: walked again after)
        first = Activity(fdef, resolver, sig.param_kinds, sig.active, sig.complex_, filename)
        if alias_mode == "entry" and not trusted and \
                detach_log_numbers(fdef, first, getattr(resolver, "globals", None) or {}, resolver.locals, rt_name):
            # (float(y) kept only in a logger's fields: Python's number, no derivative; sct/log_numbers.py)
            tree_changed(fdef)      # (the tree rewritten: the activity walks it again, not the walk before)
            first = Activity(fdef, resolver, sig.param_kinds, sig.active, sig.complex_, filename)
        first_tree = (tree_fingerprint(fdef), frozenset(resolver.locals))
        use_custom_backwards(fdef, first, rt_name, resolver)
        force = set() if trusted else check_writes(fdef, resolver, alias_mode, sig.param_kinds, owned, first,
                                                   filename, rt_name)
    if not trusted:
        inplace_updates(fdef, rt_name)
    return first, force, first_tree


def _activity(fdef, resolver: Resolver, sig: _Signature, first: Activity, first_tree, nested: List,
              trusted: bool, filename: str, helper: bool = False):
    """The activity of the rewritten function, checked, and its local names (every global it
    reads guarded).  Where the rewrites changed nothing (the same nodes, the same leaves, the
    same local names), the first activity is that of this function: it is used again."""
    stored: set = set()
    fingerprint = tree_fingerprint(fdef, stored)        # (one walk for both)
    if any(isinstance(n, (gast.FunctionDef, gast.Lambda)) and n is not fdef for n in walk_nodes(fdef)):
        stored = _stored_names(fdef)        # (not the names a nested def binds for itself)
    local_names = set(sig.params) | stored | _other_parameters(fdef)
    local_names |= {n.name for n in nested}
    resolver.locals = local_names
    if first_tree == (fingerprint, frozenset(local_names)):
        activity = first
    else:
        activity = Activity(fdef, resolver, sig.param_kinds, sig.active, sig.complex_, filename)
        activity.lists |= first.lists
    # operators on objects of the user's classes (their __mul__, ...): refused, or checked at run time
    activity.operand_checks = check_operands(activity)
    if not trusted:                 # y traced only through helpers returning constant gradients
        check_sites(fdef, activity, filename)
        check_text_numbers(fdef, activity, filename, helper)
        activity.key_checks = check_traced_keys(fdef, activity, filename)
        check_written_and_read(fdef, activity, filename)
    check_nested_functions(nested, activity, filename, fdef.name)
    check_entered_values(fdef, activity.active, filename)                       # sct/normalize_stmts.py
    check_raised_values(fdef, activity.active, filename)                        # sct/normalize_try.py
    for name in names_in(fdef) - local_names:      # every global the code reads, guarded
        resolver.resolve_name(name)
    return activity, local_names


def _numpy_name(resolver: Resolver, namer: Namer) -> str:
    """The name numpy has in the generated code: ``np`` where the user's ``np`` is numpy or unbound."""
    user_np = resolver.resolve_name("np")
    # (a user's global np that is not numpy: another name for numpy, also where the function never reads np,
    # since the derivative rules' code does: was the user's np.sin in cos's rule, a wrong gradient)
    # (the runtime's copy of numpy, runtime/imported.py, where sct compiles its own rules: numpy too)
    return "np" if original(user_np) is np or user_np is _MISSING else namer.fresh("numpy")


def _generate(fdef, filename: str, activity: Activity, resolver: Resolver, namer: Namer, mode: str,
              numpy_name: str, rt_name: str, primal_calls: bool, sig: _Signature):
    """The generated functions: tangent code (mode "jvp"), else forward and adjoint code."""
    if mode == "jvp":
        tangent = TangentTransformer(fdef, filename, activity, namer, numpy_name, RT_NAMES, rt_name)
        tangent_fn = tangent.build()
        # (tangents: the names only sct's tangent statements assign; prune_dead trusts those alone)
        return types.SimpleNamespace(functions=[tangent_fn], entry=tangent_fn.name, fwd=None, bwd=None,
                                     tangents=frozenset(tangent.tangents.values()))
    transformer = Transformer(fdef, filename, activity, resolver, namer, mode, numpy_name,
                              RT_NAMES, rt_name)
    transformer.primal_calls = transformer.primal_calls and primal_calls
    if mode == "vjp":
        transformer.no_adjoint = {p for p, m in zip(sig.params, sig.mask) if m == NO_ADJOINT and p in sig.active}
    return transformer.build()


def _runtime_as(functions, rt_name: str, resolver: Resolver) -> None:
    """Generated code read back (differentiated again) names the runtime ``rt``, the new code
    ``rt_name``: its ``rt`` read as ``rt_name`` (the same object, ``RT``), so that the optimiser's
    rewrites (sct/optimize.py, which find runtime calls by ``rt_name``) see its runtime calls too.
    Nothing where ``rt`` is assigned in the code or is not the runtime."""
    names = [n for fn in functions if isinstance(fn, gast.FunctionDef)
             for n in walk_nodes(fn) if isinstance(n, gast.Name) and n.id == "rt"]
    if not names or any(not isinstance(n.ctx, gast.Load) for n in names) or resolver.resolve_name("rt") is not RT:
        return
    for n in names:
        n.id = rt_name


def _rewrite(generated, rt_name: str, namer: Namer, numpy_name: str, keep,
             resolver: Resolver, scalar_kinds: Optional[Dict[str, Any]], kept_walks: Optional[ExitStack] = None):
    """The generated functions' call sites attached, then optimized: ``keep`` (sct's own code: the
    parts of the entry's value its caller reads), ``scalar_kinds`` (specialise scalars: the
    parameters' kinds), fused where numexpr is the backend.  Returns the call sites' objects and
    records.  ``kept_walks``: the caller's, open after this returns: the last passes walk each
    function once (sct.ir.shared_walks, entered on it) and the caller's passes read that walk."""
    site_calls: List = []
    found_readers = None
    with ExitStack() as walks:      # one walk of each function for these three (sct.ir.shared_walks)
        for generated_fn in generated.functions:
            if isinstance(generated_fn, gast.FunctionDef):
                walks.enter_context(shared_walks(generated_fn))
        if rt_name != "rt" and optimize_enabled():
            _runtime_as(generated.functions, rt_name, resolver)     # (renames: no node added or removed)
        sites = attach_sites(generated.functions, rt_name, namer, site_calls)      # sct/call_sites.py
        if optimize_enabled():      # the functions that only read their arguments (sct/cse.py)
            scopes: Dict[int, bool] = {}
            found_readers = (readers(generated.functions, rt_name, numpy_name, scopes),
                             scopes)
    optimize(generated.functions, rt_name, (generated.fwd, generated.bwd),   # sct/optimize.py (SCT_OPTIMIZE=0: off)
             numpy_name=numpy_name, found_readers=found_readers,
             dead=(getattr(generated, "prunable", ()), getattr(generated, "adjoint_names", frozenset()),
                   getattr(generated, "dict_params", frozenset())))
    if keep is not None and optimize_enabled():    # only the parts the caller reads
        runtime_names = {rt_name} | ({"rt"} if resolver.resolve_name("rt") is RT else set())
        for generated_fn in generated.functions:
            if isinstance(generated_fn, gast.FunctionDef) and generated_fn.name == generated.entry:
                keep_outputs(generated_fn, keep, rt_name)
                tangents = getattr(generated, "tangents", frozenset())    # (None: all sct's own code)
                prune_dead(generated_fn, runtime_names, numpy_name, tangents)
                if type_only_values(generated_fn, runtime_names, rt_name, numpy_name):
                    prune_dead(generated_fn, runtime_names, numpy_name, tangents)
    specialised = set()
    with ExitStack() as walks:      # one walk of each function for both (where specialise changes none)
        for generated_fn in generated.functions:
            if isinstance(generated_fn, gast.FunctionDef):
                walks.enter_context(shared_walks(generated_fn))
        if scalar_kinds is not None:
            specialised = specialise(generated.functions, generated.entry, scalar_kinds, rt_name,  # sct/scalars.py
                                     numpy_name)
        plain_rewrites = optimize_enabled() and _fuse.plain_rewrites()
        if plain_rewrites:
            shared = shared_statements(generated.functions)
    # the code on numpy arrays (not the functions specialised to Python floats)
    on_arrays = [fn for fn in generated.functions if not isinstance(fn, gast.FunctionDef) or fn.name not in specialised]
    if plain_rewrites:    # temporaries overwritten, slice adjoints written directly
        shift_invariant_maxima(on_arrays, rt_name, numpy_name,
                               (generated.fwd, generated.bwd), shared)
        for generated_fn in generated.functions:
            if isinstance(generated_fn, gast.FunctionDef) and generated_fn.name not in specialised:
                fold_broadcast_factors(generated_fn, rt_name, shared, numpy_name)
        known_products(on_arrays, rt_name, numpy_name, (generated.fwd, generated.bwd), shared)
        for generated_fn in generated.functions:
            if isinstance(generated_fn, gast.FunctionDef) and generated_fn.name not in specialised:
                if direct_index_adjoints(generated_fn, rt_name, shared):    # (False: no matmul adjoint in it)
                    direct_matmul_adjoints(generated_fn, rt_name, shared)
                indexed_sums(generated_fn, rt_name, shared)
                reuse_temporaries(generated_fn, rt_name, shared)
                # one walk for the three that follow where none changes a node of it (owned_setitems
                # renames a call, walking only the statements)
                body = BodyNodes(generated_fn)
                if wide_products(generated_fn, rt_name, shared, body):
                    body.changed()
                owned_setitems(generated_fn, rt_name, shared)
                if released_views(generated_fn, rt_name, shared, body):
                    body.changed()
                owned_zero_at(generated_fn, rt_name, shared, body)
    if _fuse.active():      # sct.set_backend("numexpr")
        _fuse.fuse_functions(on_arrays, rt_name, numpy_name)
    if optimize_enabled():      # each sweep takes only what it still reads
        if kept_walks is not None:      # (each marks a tree it changes: sct.ir.tree_changed)
            for generated_fn in generated.functions:
                if isinstance(generated_fn, gast.FunctionDef):
                    kept_walks.enter_context(shared_walks(generated_fn))
        entries = {generated.entry, generated.fwd, generated.bwd}
        unpopped_pushes(generated.functions, rt_name)                # sct/tape_entries.py
        tape_walks(generated.functions, rt_name, entries)
        unread_parameters(generated.functions, rt_name, entries)
        unpopped_pushes(generated.functions, rt_name)
        for generated_fn in generated.functions:
            if isinstance(generated_fn, gast.FunctionDef):
                unread_tapes(generated_fn, rt_name)
    return sites, site_calls


def runtime_code(fn) -> bool:
    """Is ``fn`` the runtime's own code, or generated from it (sct/forward_code.py type_test)?"""
    return (getattr(fn, "__module__", "") or "").startswith("sct.runtime.") or \
        bool(getattr(fn, "__globals__", {}).get("__sct_runtime_code__"))


def _namespace(fn, resolver: Resolver, sites: Dict[str, Any], rt_name: str, numpy_name: str) -> Dict[str, Any]:
    """The globals of the generated code: what the user's names referred to, the runtime, the sites."""
    namespace: Dict[str, Any] = {numpy_name: np, "__name__": f"sct_generated.{fn.__name__}"}
    if runtime_code(fn):        # (the runtime's own code, differentiated again: its type tests as they ran)
        namespace["__sct_runtime_code__"] = True
    for name, guard in resolver.guards.items():
        if guard.value is not cache._MISSING:      # (a name absent when compiling, guarded to stay
            namespace[name] = guard.value          # absent: a callee's read of ``range`` left to builtins)
    namespace.update(resolver.made)
    namespace[rt_name] = RT
    namespace.update(sites)
    namespace[numpy_name] = np
    return namespace


def _check_targets_kept(fn, generated, tree, resolver, namespace, rt_name: str, filename: str) -> None:
    """A helper's forward that runs user code sct did not compile (``tree.opaque``) and calls
    functions as ``base.attr(...)`` of a user's module or class, chosen now with their derivatives:
    ``rt.targets_kept(...)`` before each of its returns refuses a run in which that user code rebound
    one (``cls.act = np.cos`` in a classmethod it calls).  The entry dlfeval runs is checked by sct.api."""
    targets = tuple(t[:3] for t in resolver.call_targets.values() if not _fixed_module(t[0]))
    if not targets or not generated.fwd or not getattr(tree, "opaque", False) or \
            str(filename).startswith("<sct-generated") and not copied_user_def(fn):
        return
    fdef = next((f for f in generated.functions if isinstance(f, gast.FunctionDef) and f.name == generated.fwd),
                None)
    if fdef is None:
        return
    name = f"{generated.fwd}_call_targets"
    namespace[name] = targets
    message = (f"{fn.__qualname__}() calls {{}}(...), which code it ran rebound during the call (sct chooses the "
               "function called there when it compiles the code, so its derivative would be the old one's): "
               "pass the function in as an argument, or make the change before calling dlfeval")
    check = ir.expr_stmt(ir.call(ir.attr(ir.load(rt_name), "targets_kept"),
                                 [ir.load(name), ir.const(message), ir.const(filename),
                                  ir.const(fn.__code__.co_firstlineno)]))

    def insert(body):
        out = []
        for stmt in body:
            for field in ("body", "orelse", "finalbody"):
                if isinstance(stmt, (gast.If, gast.For, gast.While, gast.With, gast.Try)) and getattr(stmt, field, None):
                    setattr(stmt, field, insert(getattr(stmt, field)))
            if isinstance(stmt, gast.Return):
                out.append(copy.deepcopy(check))
            out.append(stmt)
        return out
    fdef.body = insert(fdef.body)
    tree_changed(fdef)          # (statements added: sct.ir.shared_walks walks it again)


def _calls_other_code(fdef, rt_name: str) -> bool:
    """Whether ``fdef`` calls a runtime function running code sct did not compile (``rt.user_call``,
    ``rt.effect``...) or a call site's code (``rt.vjp_at``, ``rt.primal_call_at``, ...): without
    one, no statement of it is ``opaque`` (below; the names of a site's pair are bound by such a call)."""
    from .recomputed import USER_CODE_RT
    for n in walk_nodes(fdef):
        if n.__class__ is gast.Call:
            func = n.func
            if func.__class__ is gast.Attribute and func.value.__class__ is gast.Name and \
                    func.value.id == rt_name and (func.attr in USER_CODE_RT or func.attr.endswith("_at")):
                return True
    return False


def _global_statement_access(func, rt_name: str) -> bool:
    """``rt.global_value`` / ``rt.set_global``: the effects sct/global_statements.py writes, which run no
    user code."""
    return isinstance(func, gast.Attribute) and func.attr in ("global_value", "set_global") and \
        isinstance(func.value, gast.Name) and func.value.id == rt_name


def _check_context_kept(fn, generated, resolver, namespace, rt_name: str, filename: str) -> None:
    """Where the generated code runs code sct did not compile in the middle of its own: a ``with``
    block's context manager (entered and left) and the walk of a for loop's iterable (an object's
    ``__iter__``, an iterator, a generator: walked whole before the loop's body runs, where Python runs
    the body between its items).  Such code may set a global the code reads for the block and restore
    it after (``@contextmanager def scaled(s): global SCALE; ...; SCALE = s; yield; SCALE = old``), or
    set a global or a field of the walked object for each item (``self.step = i``); the generated code
    reads globals as they were when the call began (and the check after the run saw them restored), and
    the loop's body read what the whole walk left: a wrong value and gradient.
    ``rt.globals_kept(...)`` as a with block's first statement and after it, and ``rt.walk_context(...)``
    before a loop's ``rt.as_sequence(...)`` (checked after each item), refuse such a run."""
    from .emit import COMMENT, LINE
    # the globals the code holds as values (not read again), the functions it calls as base.attr(...)
    # (chosen with their derivatives), and the proofs of realness (a value set complex for the block)
    import functools
    # (not the globals its callees read: each callee's own check runs at its call, sct/call_tree.py)
    callees = getattr(resolver, "callee_guards", None) or ()
    reads = [(guard.namespace, guard.name, guard.value, None) for key, guard in resolver.guards.items()
             if type(guard.namespace) is dict and guard.namespace is not builtins.__dict__ and key not in callees]
    reads += [tuple(t[:3]) + (None,) for t in resolver.call_targets.values() if not _fixed_module(t[0])]
    for guard in resolver.guards.values():
        proof_reads = getattr(guard.namespace, "proof_reads", None)
        for read in proof_reads or ():       # (still the same, or a value the proof holds for too)
            reads.append((None, read[1], None, functools.partial(guard.namespace.holds, read)))
    name = "__sct_context_reads"
    used = []
    message = (f"the context manager of this with statement rebinds a global {fn.__qualname__}() reads ({{}}): "
               "sct reads a global's value once per call, so the change made for the block would not be seen; "
               "pass the value in as an argument, or set it before calling dlfeval")
    walk_message = (f"{fn.__qualname__}() reads {{}}, which walking the loop's iterable changes (sct walks an "
                    "object's __iter__, an iterator or a generator whole before the loop's body runs, so the "
                    "body would read what the whole walk left): loop over a list of the items, each with "
                    "the value it needs, or pass the value in as an argument")

    def reads_value():
        used.append(True)
        return ir.load(name)

    call_message = (f"code called at this line (code sct did not compile) rebinds a global {fn.__qualname__}() "
                    "reads ({}): sct reads a global's value once per call, so the change made during the call "
                    "would not be seen; pass the value in as an argument, or make the change before calling dlfeval")

    write_message = (f"this line rebinds a global {fn.__qualname__}() reads after it ({{}}), through its module "
                     "object: sct reads a global's value once per call, so the new value would not be seen; keep "
                     "the value in a local variable, or pass it in as an argument and return its new value")

    def check(line, why="with", only=None):
        return ir.expr_stmt(ir.call(ir.attr(ir.load(rt_name), "globals_kept"),
                                    [reads_value(), ir.const(why), ir.const(line or fn.__code__.co_firstlineno)] +
                                    ([] if only is None else [ir.const(tuple(sorted(only)))])))

    site_pairs: set = set()        # names bound to the code of a call site (``(f, b) = rt.vjp_at(...)``)
    may_call = [True]              # whether the function being checked may hold an opaque statement

    def opaque(stmt) -> bool:
        """A simple statement calling code sct did not compile (rt.user_call, rt.unnamed_call, rt.effect...:
        a function passed in, called through a dict, a print) or the code of a call site (a callee known at
        run time only, which may call such code in turn); it may rebind a global and restore it later
        (the check after the run sees the value restored: a later read here would be stale)."""
        if not isinstance(stmt, (gast.Assign, gast.Expr, gast.AugAssign, gast.AnnAssign)):
            return False
        from .recomputed import USER_CODE_RT
        found = False
        for n in walk_nodes(stmt):
            if not isinstance(n, gast.Call):
                continue
            if isinstance(n.func, gast.Name) and n.func.id in site_pairs:
                found = True
            elif isinstance(n.func, gast.Attribute) and isinstance(n.func.value, gast.Name) and \
                    n.func.value.id == rt_name:
                if n.func.attr == "effect" and n.args and _global_statement_access(n.args[0], rt_name):
                    continue        # (a global the function declares, read or written: sct/global_statements.py)
                if n.func.attr in USER_CODE_RT or n.func.attr in ("primal_call_at", "primal_method_at"):
                    found = True
                elif n.func.attr.endswith("_at") and isinstance(stmt, gast.Assign):
                    # (the pair is bound here; the statement calling its forward is the one to check)
                    site_pairs.update(t.id for target in stmt.targets for t in walk_nodes(target)
                                      if isinstance(t, gast.Name))
        return found

    def walk(line, watch):
        return ir.expr_stmt(ir.call(ir.attr(ir.load(rt_name), "walk_context"),
                                    [reads_value(), ir.const(line or fn.__code__.co_firstlineno),
                                     ir.const(watch)]))

    def comment_line(stmt):
        value = getattr(getattr(stmt, "value", None), "value", None)
        if isinstance(stmt, gast.Expr) and isinstance(value, str) and value.startswith(COMMENT + LINE):
            try:
                return int(value[len(COMMENT) + 1:].split(LINE, 1)[0])
            except ValueError:
                return None
        return None

    def walked(stmt):
        """The iterable of ``seq = rt.as_sequence(items)``, else None."""
        value = getattr(stmt, "value", None)
        if isinstance(stmt, gast.Assign) and isinstance(value, gast.Call) and \
                isinstance(value.func, gast.Attribute) and value.func.attr == "as_sequence" and \
                isinstance(value.func.value, gast.Name) and value.func.value.id == rt_name and \
                len(value.args) == 1 and not value.keywords:
            return value.args[0]
        return None

    def body_reads(items, rest):
        """What the for loop after ``seq = rt.as_sequence(items)`` reads of a name ``items`` reads: False
        (nothing), the attributes it reads of it (a tuple), or True (it is read otherwise: passed on,
        a method called)."""
        names = {n.id for n in walk_nodes(items) if isinstance(n, gast.Name)}
        loop = next((s for s in rest if isinstance(s, (gast.For, gast.While))), None)
        if loop is None:
            return False
        attributes, through = [], set()
        for stmt in loop.body:
            for n in walk_nodes(stmt):
                if isinstance(n, gast.Attribute) and isinstance(n.value, gast.Name) and n.value.id in names:
                    if not isinstance(n.ctx, gast.Load):
                        return True
                    through.add(id(n.value))
                    if n.attr not in attributes:
                        attributes.append(n.attr)
        for stmt in loop.body:
            for n in walk_nodes(stmt):
                if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Load) and n.id in names and \
                        id(n) not in through:
                    return True
        return tuple(attributes) or False

    def insert(body, line):
        out = []
        for k, stmt in enumerate(body):
            line = comment_line(stmt) or line
            for field in ("body", "orelse", "finalbody"):
                inner = getattr(stmt, field, None)
                if isinstance(stmt, (gast.If, gast.For, gast.While, gast.With, gast.Try, gast.FunctionDef)) and inner:
                    setattr(stmt, field, insert(inner, line))
            items = walked(stmt)
            if items is not None:
                watch = body_reads(items, body[k + 1:])
                if reads or watch:
                    out.append(walk(line, watch))
            out.append(stmt)
            if isinstance(stmt, gast.With) and reads:
                stmt.body.insert(0, check(line))
                out.append(check(line))
            elif reads and may_call[0] and opaque(stmt):
                out.append(check(line, "call"))
            elif written[0] and written_then_read(stmt):
                out.append(check(line, "write", attribute_writes(stmt)))
        return out

    # a global the code reads, rebound through an alias of its module (``m = THIS; m.Q = 5.0``,
    # ``setattr(m, "Q", v)``) and read after: checked after the write (was: read stale, red54c W3; the
    # plain forms are refused when compiling, sct/global_writes.py _own_module_writes)
    read_names = {r[1] for r in reads if type(r[0]) is dict}
    written = [None]            # (positions of the function's nodes, loads of read_names) or None

    def attribute_writes(stmt) -> set:
        found = set()
        for n in walk_nodes(stmt):
            if isinstance(n, gast.Attribute) and isinstance(n.ctx, (gast.Store, gast.Del)) and n.attr in read_names:
                found.add(n.attr)
            elif isinstance(n, gast.Call):
                names = {a.id for a in [n.func] + list(n.args) if isinstance(a, gast.Name)}
                if isinstance(n.func, gast.Attribute):
                    names.add(n.func.attr)
                if names & {"setattr", "delattr", "__setattr__", "__delattr__"}:
                    found.update(a.value for a in n.args if isinstance(a, gast.Constant) and a.value in read_names)
        return found

    def positions(function):
        """``(id(node) -> (start, end, enclosing loops), name -> positions of its loads)``."""
        where, loads, counter = {}, {}, [0]

        def visit(node, loops):
            start = counter[0]
            counter[0] += 1
            if isinstance(node, gast.Name) and isinstance(node.ctx, gast.Load) and node.id in read_names:
                loads.setdefault(node.id, []).append(start)
            inner = loops + (node,) if isinstance(node, (gast.For, gast.While)) else loops
            for child in gast.iter_child_nodes(node):
                visit(child, inner)
            where[id(node)] = (start, counter[0], loops)
        visit(function, ())
        return where, loads

    def written_then_read(stmt) -> bool:
        if not isinstance(stmt, (gast.Assign, gast.Expr, gast.AugAssign, gast.AnnAssign, gast.Delete)):
            return False
        names = attribute_writes(stmt)
        if not names:
            return False
        where, loads = written[0]
        start, end, loops = where.get(id(stmt), (0, 0, ()))
        spans = [where[id(loop)][:2] for loop in loops]
        return any(at >= end or any(a <= at < b for a, b in spans) for name in names for at in loads.get(name, ()))
    for function in generated.functions:
        if isinstance(function, gast.FunctionDef):
            site_pairs.clear()
            # (a function calling no such runtime function, nor a call site's code: none of its
            # statements is opaque, each left unwalked; one walk of it, shared with the passes before)
            may_call[0] = bool(reads) and _calls_other_code(function, rt_name)
            # (one walk of the function, shared with the passes before; its statements walked one by one
            # only where it writes such an attribute)
            written[0] = positions(function) if read_names and attribute_writes(function) else None
            function.body = insert(function.body, None)
            tree_changed(function)      # (checks added: sct.ir.shared_walks walks it again)
    if used:        # (what the checks read, and what they say where it changed: by ``why``)
        namespace[name] = (tuple(reads), cache.same_attribute, cache._MISSING,
                           {"with": message, "call": call_message, "walk": walk_message,
                            "write": write_message}, filename)


def _load(fn, generated, source: str, line_table, filename: str, lineno: int, namespace: Dict[str, Any],
          resolver: Resolver, out_formats) -> Compiled:
    """Compile ``source`` and run it in ``namespace``: its functions, under a file name whose source
    and line map sct keeps while they live, with the guards that say when to rebuild them."""
    digest = hashlib.sha1(source.encode()).hexdigest()[:10]
    gen_filename = f"<sct-generated {fn.__module__}.{fn.__qualname__} {digest}>"
    cache.acquire_generated(gen_filename)      # source and line map kept while its code lives
    register_source(gen_filename, source)
    register_line_map(gen_filename, filename, line_table)
    try:
        code = compile(source, gen_filename, "exec")
    except SyntaxError as exc:        # a bug of sct, not of the user: say so plainly
        raise CompileError(f"internal error: generated code for {fn.__qualname__} does not compile "
                           f"({exc}); please report this with the function's source",
                           filename, lineno, "generated code") from None
    exec(code, namespace)
    entry = namespace[generated.entry]
    for generated_fn in (entry, namespace.get(generated.fwd or "")):
        if generated_fn is not None:
            generated_fn.__defaults__ = fn.__defaults__
            generated_fn.__kwdefaults__ = fn.__kwdefaults__
    fwd = namespace[generated.fwd] if generated.fwd else None
    bwd = namespace[generated.bwd] if generated.bwd else None
    for value in list(namespace.values()):
        if isinstance(value, types.FunctionType) and value.__code__.co_filename == gen_filename:
            value.__sct_generated__ = True
    if bwd is not None:     # (adjoint code alone: sct's own statements, prune_dead trusts all of it)
        bwd.__sct_adjoint__ = True
    if generated.entry in resolver.guards:      # the entry keeps the user's name: a recursive
        namespace[generated.entry] = resolver.guards[generated.entry].value   # call reads the user's
    cache.release_generated(gen_filename, entry)
    guard_module_reads(generated.functions, namespace, resolver)     # (np.sin in cos's adjoint: replaced, compiled again)
    attribute_guards = [g for g in resolver.attribute_guards.values() if not _unguarded(g)]
    compiled = Compiled(entry, fwd, bwd, source, list(resolver.guards.values()), gen_filename,
                        cache.make_check(fn, resolver.guards.values(), attribute_guards), out_formats)
    compiled.call_targets = tuple(t[:3] for t in resolver.call_targets.values() if not _fixed_module(t[0]))
    added = getattr(resolver, "callee_guards", None)
    if added:
        # a helper a callee calls, rebound during the run before that callee's own checked call (set_act()
        # then uses_act(x)): checked on the next call, not refused after this one
        compiled.post_check = cache.make_check(fn, [g for k, g in resolver.guards.items() if k not in added],
                                               attribute_guards, default_kinds=False)
    elif cache.has_default_kinds(fn):   # (after a run: not the kinds of its defaults, which it may fill)
        compiled.post_check = cache.make_check(fn, resolver.guards.values(), attribute_guards, default_kinds=False)
    return compiled

