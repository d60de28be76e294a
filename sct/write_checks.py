"""The write checks of sct/aliasing.py: every write into an item or attribute, and every call
that may change its arguments or object in place, is proved exact (nothing else sees the old
object, and no adjoint reads it) or refused with the user's line; ``check_writes`` names the
writes that must become new values because an adjoint reads the old one.
"""
from __future__ import annotations

import ast
import copy
import dataclasses

import re
import types
from typing import Dict, FrozenSet, Optional, Set

import gast
import numpy as np

from .runtime.origins import module_top
from .alias_state import ARRAY_MUTATORS, EXT, MUTATORS, WRITING_FUNCTIONS, _dotted, _mutating_call, \
    _resolved, _statements, LOOP_WALK
from .augmented_writes import NumberGuard, _check_augmented
from .callee_effects import _generated_dataclass_init, _pure, _pure_source, local_def, nested_pure
from .errors import CompileError
from .none_branches import folded_copy
from .logged_values import detach_logged, logged_number, number_source, why_not_logged
from .dead_fields import dead_end_field, field_as_python
from .ir import BY_NAME, const, def_own_names, fields_read, loaded_names, pattern_captures, tree_changed, walk_no_defs, walk_nodes
from .plans import CallKind
from .runtime import registry
from .kinds import _holds_traced, child_kind, kind_traced, leaf_kind
from .points_to import AliasAnalysis, _local_facts, _parameter_names, read_only_view, written_in_place


# a float's (numpy's scalar's) methods with no derivative that arrays lack: x.astype(np.float32)[0].is_integer(),
# float(v).is_integer() of a traced value (were refused as a call that may change its object in place)
_NUMBER_METHODS = frozenset({"is_integer", "hex", "as_integer_ratio"})

def check_writes(fdef, resolver, mode, param_kinds, owned_params, activity, filename: str,
                 rt_name: str = "rt") -> Set[int]:
    """Refuse writes sct cannot prove exact; return the ids of in-place writes that must become
    new values because an adjoint reads the old value."""
    check = _WriteCheck(fdef, resolver, mode, param_kinds, owned_params, activity, filename)
    check.logged, check.kept_fields = [], []
    force = check.run()
    for s, node in check.logged:        # (after the walk over the statements: one is added before each)
        detach_logged(fdef, s, node, rt_name)
        tree_changed(fdef)              # (sct.ir.shared_walks: the next walk walks it again)
    for s, python_type in check.kept_fields:
        field_as_python(fdef, s, python_type, rt_name)
        tree_changed(fdef)
    return force


# the methods of lists, dicts and sets that keep their arguments (history.append(loss))
_KEEPERS = frozenset(("append", "extend", "insert", "add", "update", "setdefault"))
# a name the normalizer made of another's stem (``cfg_inner``, ``p_item``, ``xs0``): the stem, then this
_STEM, _SUFFIX = re.compile(r"\w+"), re.compile(r"\d+(?:_\d+)?|_\w+")



def spelled_names(fdef) -> Dict[str, str]:
    """The names the normalizer made for the user's ``cfg.inner`` / ``p["w"]`` / ``xs[0]``
    (cfg_inner, p_item, xs0: bound once, to that read), spelled as the user wrote them."""
    reads: Dict[str, list] = {}
    for n in walk_no_defs(fdef):
        if isinstance(n, gast.Assign) and isinstance(n.targets[0], gast.Name):
            reads.setdefault(n.targets[0].id, []).append(n.value)
    spelled: Dict[str, str] = {}

    def written(index):
        """``index`` with the names the normalizer gave ``np.newaxis`` (np_newaxis, bound once to
        it) spelled as written (was: ``t[..., np_newaxis]`` in a message, fuzz52 m05)."""
        out = None
        for n in gast.walk(index):
            values = reads.get(n.id, ()) if isinstance(n, gast.Name) else ()
            dotted = _dotted(values[0]) if len(values) == 1 and isinstance(values[0], gast.Attribute) else None
            if dotted and dotted.replace(".", "_") == n.id:
                out = out or copy.deepcopy(index)
                for m in gast.walk(out):
                    if isinstance(m, gast.Name) and m.id == n.id:
                        m.id = dotted
        return out or index

    def spell(name, depth=0):
        if name in spelled or depth > 8:
            return spelled.get(name, name)
        values = reads.get(name, ())
        if len(values) != 1 and (not values or len({gast.dump(v) for v in values}) != 1):
            return name         # (one read bound again where it is read again: h_item = h[:2], twice)
        v = values[0]
        base = v.value.id if isinstance(v, (gast.Attribute, gast.Subscript)) and \
            isinstance(v.value, gast.Name) else None
        if base is None:
            return name
        of = spell(base, depth + 1)
        stem = _STEM.match(of).group()
        # (was: re.fullmatch(re.escape(stem) + suffix, name), a pattern per name: past re's cache of
        # 512, compiled anew for each, 0.2 s of a 2,000-line function's compilation)
        if not (name.startswith(stem) and _SUFFIX.fullmatch(name, len(stem))):
            return name          # (a name of the user's own, such as inner = cfg.inner)
        if isinstance(v, gast.Attribute):
            spelled[name] = f"{of}.{v.attr}"
        elif isinstance(v.slice, gast.Constant) and isinstance(v.slice.value, (int, str)):
            spelled[name] = f"{of}[{v.slice.value!r}]"
        elif _plain_index(v.slice):
            spelled[name] = f"{of}[{_index_text(written(v.slice))}]"     # a row: traj[t], traj[t - 1]; h[:2]
        return spelled.get(name, name)
    for name in reads:
        spell(name)
    del spell       # (a recursive closure holding the function's values: freed now, not by the cyclic collector)
    return spelled


def _nested_def_statements(body) -> Set[int]:
    """The ids of the statements (as ``_statements`` walks them) inside defs nested in ``body``."""
    found: Set[int] = set()
    for s in _statements(body):
        if isinstance(s, (gast.FunctionDef, gast.AsyncFunctionDef)):
            found.update(id(t) for t in _statements(s.body))
    return found


def _declared_global(d) -> Set[str]:
    return {n for x in walk_no_defs(d) if isinstance(x, gast.Global) for n in x.names}


def _nested_own_names(body) -> Dict[int, FrozenSet[str]]:
    """For each statement (as ``_statements`` walks them) inside defs nested in ``body``, the names
    that one of those defs binds as its own (a parameter or a local, not ``nonlocal`` there; a name
    declared ``global`` left out): a write into such a name is one into the nested def's object, which
    its own compilation checks, never into this function's name of the same spelling (was: ``v = u.copy();
    v[0] = ...`` in ``def hw(u)`` nested in f was refused as a write into f's v, or in a helper as a
    write into the helper's caller's v, fuzz53 R4/R6)."""
    out: Dict[int, FrozenSet[str]] = {}

    def walk(stmts, owned: FrozenSet[str]):
        for s in stmts:
            if isinstance(s, (gast.FunctionDef, gast.AsyncFunctionDef)):
                walk(s.body, frozenset(owned | def_own_names(s)) - _declared_global(s))
                continue
            if owned:
                out[id(s)] = owned
            for field in ("body", "orelse"):
                inner = getattr(s, field, None)
                if isinstance(inner, list) and not isinstance(s, gast.ClassDef):
                    walk(inner, owned)
    walk(body, frozenset())
    return out


class _WriteCheck:
    """``check_writes`` for one function: one method per kind of write (into an item, into an
    attribute, by a call); ``force`` collects the writes that must become new values."""

    def __init__(self, fdef, resolver, mode, param_kinds, owned_params, activity, filename: str):
        self.fdef, self.resolver, self.mode, self.param_kinds = fdef, resolver, mode, param_kinds
        self.activity, self.filename = activity, filename
        self.owned_params = owned_params
        self._analysis = None           # the points-to states: built when a check first asks
        self.locals = _local_facts(fdef, _parameter_names(fdef))[0]
        self.active = activity.active
        self.fname = fdef.name
        # objects an adjoint may read, per statement: see _scan (when first asked)
        self.saved_at: Optional[Dict[int, "_SavedView"]] = None
        self.force: Set[int] = set()
        self._untraced: list = []       # (statement, name, why) of the untraced writes into a dict argument
        self._kept_in_place: list = []  # of those, the ones left in place beside writes made through (run)
        self._stored: list = []         # (statement, name) of the values stored into a dict argument
        self._in_nested_def = False     # is the statement checked one of a nested def's (run)

    @property
    def analysis(self) -> AliasAnalysis:
        """The alias analysis of the function, built at the first question (a function whose
        calls all have rules and that writes into nothing asks none: a straight-line numpy
        function's checks need only its local names)."""
        if self._analysis is None:
            self._analysis = AliasAnalysis(self.fdef, self.resolver, self.mode, self.param_kinds,
                                           self.owned_params, self.activity)
        return self._analysis

    def run(self) -> Set[int]:
        self.fdef.sct_number_guards = []
        self.fdef.sct_written_arguments = {}     # see _note_argument_write
        self.fdef.sct_argument_item_writes = []  # see _argument_item_write
        self.fdef.sct_nested_argument_writes = set()
        self.fdef.sct_argument_dicts = set()
        nested = _nested_def_statements(self.fdef.body)
        own = _nested_own_names(self.fdef.body)
        for s in _statements(self.fdef.body):
            self._read_only_write(s)
            self._implicit_resets(s)
            if getattr(s, "sct_augmented", None) is not None:
                guards = len(self.fdef.sct_number_guards)
                _check_augmented(s, self.analysis, self.param_kinds, self.mode, self.fail)
                # (a check the run makes names what the user wrote too: was `g_Value_1[...] *= ...`)
                self.fdef.sct_number_guards[guards:] = [
                    dataclasses.replace(g, message=self.spell(g.message)) for g in self.fdef.sct_number_guards[guards:]]
            if isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Subscript) and \
                    isinstance(s.targets[0].value, gast.Name) and s.targets[0].value.id in own.get(id(s), ()):
                continue            # (a nested def's own name: checked where that def is compiled)
            if isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Subscript) and \
                    isinstance(s.targets[0].value, gast.Name):
                self._item_write(s, s.targets[0].value.id)
            elif isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Attribute) and \
                    isinstance(s.targets[0].value, gast.Name):
                if not self._attribute_write(s, s.targets[0].value.id, s.targets[0].attr):
                    continue        # nothing traced is stored: nothing more to check
            node, result = _mutating_call(s)
            if node is not None:
                self._in_nested_def = id(s) in nested
                self._call(s, node, result)
        if self.fdef.sct_argument_item_writes:
            # beside writes made into the caller's dict as new values, an untraced one is made so too (the
            # caller's dict gets it, with Python's type), or refused where another name reads the dict later
            self._kept_in_place = [s for s, name, why in self._untraced if not self._argument_dict_write(s, name, why)]
        self._refuse_stored_then_changed()
        for name in sorted(self._analysis.none_assumed if self._analysis is not None else ()):
            # (a write into the new value bound to a parameter taken for None: the run checks it is None)
            self.fdef.sct_number_guards.append(NumberGuard(
                self.fdef.body[0], name, f"{self.fname}() is given {name} that is not None, where sct compiled it "
                f"for {name} None (writing into its own new array, not into one it was given); pass {name} "
                "by position, or make the call outside the differentiated function", check="require_none"))
        self._refuse_changes_beside_through()
        if self._kept_in_place:
            s = self._kept_in_place[0]
            name = s.targets[0].value.id
            self.fail(s, f"writing into {name}[...], a dict {self.fname}() was given, in place while another name "
                      f"reads it later, where other writes into its dicts are made into the caller's dict as new "
                      f"values: the caller's dict would miss this one. Read the dict through one name", f"write "
                      f"into {name}")
        if self.mode == "entry":        # (what dlfeval gives back as Python has it: sct/argument_writes.py)
            from .argument_writes import output_types
            self._python_type(None)
            self.fdef.sct_output_types = output_types(self.fdef, self._type_facts)
        return self.force

    def _read_only_write(self, s) -> None:
        """A write in place into a read-only view (``w = sliding_window_view(x, 2); w[0] = v``):
        numpy raises, where sct would compute a new value (refused)."""
        for node in ([s.value] if isinstance(s, (gast.Assign, gast.Expr, gast.Return)) and s.value is not None
                     else []):
            for call_node in (n for n in walk_nodes(node) if isinstance(n, gast.Call)):
                f = call_node.func
                fname = f.attr if isinstance(f, gast.Attribute) else getattr(f, "id", "")
                writeable = [k.value for k in call_node.keywords if k.arg == "writeable"]
                if fname == "sliding_window_view" and writeable and not (
                        isinstance(writeable[0], gast.Constant) and writeable[0].value is False):
                    self.fail(s, "sliding_window_view(..., writeable=True) gives windows that overlap in "
                              "memory and write into the array they view, which sct does not follow; "
                              "drop writeable= (a read-only view), and build new arrays from the windows",
                              "sliding_window_view(..., writeable=...)")
        written = written_in_place(s)
        if written is None:
            return
        z, what = written
        made_by = read_only_view(self.analysis, s, z)
        if made_by:
            self.fail(s, f"{what} writes into {z} in place, but {z} may be a read-only view (the result "
                      f"of {' or '.join(sorted(made_by))}, or a view of it), and numpy raises ValueError "
                      f"(assignment destination is read-only) there; write `{z} = {z}.copy()` first to "
                      f"write into a copy", what)

    def fail(self, s, message, construct):
        message, construct = self.user_words(self.spell(message)), self.user_words(self.spell(construct))
        raise CompileError(message, self.filename, getattr(s, "lineno", self.fdef.lineno), construct)

    def user_words(self, text: str) -> str:
        """``text`` with the names sct made (``t_t`` for ``list(u)[0]``, ``h0_3`` for ``h[0]``) written as the
        user's expressions they hold (``AliasAnalysis.user_text``), or, where there is none, as "the value
        of this line's expression": a message names what the user wrote only."""
        # (a loop walking the very value written: said once, as the names are spelled the same now)
        text = re.sub(r"walks (\S+), which holds \1 or views of it,", r"walks \1", text)
        text = re.sub(r"(or views of it),(?=[;,.])", r"\1", text)   # (the phrase's comma before ";": red56d R2)
        users = getattr(self.fdef, "sct_user_names", None)
        if users is None:
            return text
        made = {n.id for n in walk_no_defs(self.fdef) if isinstance(n, gast.Name) and
                not isinstance(n.ctx, gast.Load)} - users
        found = sorted({m.group(1) for m in re.finditer(r"(?<![\w.'\"])([A-Za-z_]\w*)\b", text)} & made,
                       key=len, reverse=True)
        for name in found:
            if not re.search(r"[_\d]", name):
                continue        # (a plain word: advice such as `item = ...`)
            try:
                shown = self.analysis.user_text(gast.Name(id=name, ctx=gast.Load(), annotation=None, type_comment=None))
            except Exception:
                shown = None
            if shown is None:
                shown = "the value of this line's expression"
            else:
                try:
                    tree = ast.parse(shown, mode="eval").body
                    shown = ast.unparse(tree)       # (the parentheses user_text puts around its parts)
                except SyntaxError:
                    tree = None
                if not isinstance(tree, (ast.Name, ast.Attribute, ast.Subscript, ast.Call)):
                    shown = f"({shown})"
            # (advice to copy the name: a name of the user's own for the copy)
            text = text.replace(f"`{name} = {name}.copy()`", f"`new = {shown}.copy()`")
            text = re.sub(r"(?<![\w.'\"])" + re.escape(name) + r"\b", lambda _: shown, text)
        return text

    def spell(self, text: str) -> str:
        """``text`` with the normalizer's names (g_Value) spelled as the user wrote them (g.Value)."""
        spelled = self._spelled()
        if not spelled:
            return text
        pattern = re.compile(r"(?<![\w.])(" + "|".join(map(re.escape, spelled)) + r")\b")
        return pattern.sub(lambda m: spelled[m.group(1)], text)

    def _spelled(self) -> Dict[str, str]:
        return spelled_names(self.fdef)

    def _row_of(self, name: str):
        """(array, index) as the user wrote them where ``name`` is the normalizer's name for the
        user's ``array[index]`` (``traj[t]``): a view of a row, written through; else None."""
        m = re.fullmatch(r"(.+)\[([^\[\]]+)\]", self._spelled().get(name, ""))
        return (m.group(1), m.group(2)) if m else None

    def _scan(self, block, saved: "_Saved") -> "_Saved":
        """Objects an adjoint may read: what active statements before a write read (in a loop,
        anywhere in its body: the next iteration's write comes after this iteration's read).
        (A snapshot per statement is taken only when asked for: copying the growing set at every
        statement made this pass quadratic in the function's length.)"""
        for s in block:
            self.saved_at[id(s)] = saved.view()
            if isinstance(s, gast.If):
                saved = self._scan(s.body, saved.copy()).union(self._scan(s.orelse, saved.copy()))
            elif isinstance(s, (gast.For, gast.While)):
                saved = self._scan(s.body, saved.copy())
                saved = self._scan(s.body, saved.copy())
            elif isinstance(s, gast.With):
                saved = self._scan(s.body, saved)
            elif isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Name) and \
                    s.targets[0].id in self.active:
                state = self.analysis.before.get(id(s))
                if state is not None:
                    for n in loaded_names(s.value):
                        objs = state.env.get(n, frozenset())
                        saved.add_all(objs)
                        saved.add_all(state.contents(objs))
        return saved

    def is_active(self, node) -> bool:
        return any(n in self.active for n in loaded_names(node))

    def saved(self, s) -> frozenset:
        if self.saved_at is None:
            self.saved_at = {}
            self._scan(self.fdef.body, _Saved())
        return self.saved_at[id(s)].frozen() if id(s) in self.saved_at else frozenset()

    def written_saved(self, s, name) -> bool:
        objs = self.analysis.objects(s, name)
        saved = self.saved(s)
        return bool(objs & saved) or (EXT in objs and any(o == EXT or o[0] == "arg" for o in saved)) or \
            self.aliases_traced(s, name)

    def aliases_traced(self, s, name) -> bool:
        """Whether ``name``, not traced itself, may hold the numbers of a traced value that is read
        after ``s`` (``w = extractdata(z)``: z's own array, without its derivative).  A write into
        ``w`` there changes ``z`` in Python, where sct would keep z's derivative as it was (red team L,
        dec 26: `w = extractdata(z); w[0] = 7.5` then `z` read gave z[0]'s old derivative, a silently
        wrong gradient): such a write is checked as a write into a traced value."""
        if name in self.active:
            return False
        analysis = self.analysis
        state = analysis.before.get(id(s))
        if state is None:
            return False
        objs = state.env.get(name, frozenset()) - {EXT}
        if not objs:
            return False
        for other in analysis.live_after.get(id(s), frozenset()) | analysis.captured:
            if other == name or other not in self.active or other not in state.env:
                continue
            if objs & state.env[other] or objs & frozenset(state.reach(state.env[other])):
                return True
        return False

    def _item_write(self, s, name: str) -> None:
        """``name[...] = value``."""
        analysis, fail = self.analysis, self.fail
        tracked = name in self.active or self.is_active(s.value)
        needs_value = tracked or self.written_saved(s, name)
        if needs_value and not tracked and self.mode == "entry" and self._outside_untraced_write(s, name):
            return      # (``METRICS["n"] += 1`` after an operation: run in place, as in a helper; red57a F1)
        if needs_value and not tracked and self.mode == "entry" and self._outside_array_write(s, name):
            return      # (``RV[:] = 0.9 * RV + 0.1 * extractdata(var)``: running statistics, red57b F4)
        if not needs_value and self.mode == "entry":
            why = analysis.sharing(s, name)
            if why is not None and self._argument_dict(s, name, why):
                if self._python_type(s.value) == "dl" and self._argument_dict_write(s, name, why):
                    return      # (a dlarray in Python, an ndarray or a number in the code: made through, with
                    #            Python's type; was the code's ndarray stored as it is, red54u W2)
                self._untraced.append((s, name, why))   # (in place, as Python, unless others are made through)
                return
        if needs_value:
            why = analysis.sharing(s, name)
            if self._argument_dict_write(s, name, why):
                return
            if why is not None and why.startswith(LOOP_WALK):
                fail(s, f"writing into {name}[...] while {why} is not differentiated (Python's loop sees the "
                     "new values of the items it has not reached yet). Loop over the keys or positions and read "
                     f"each value in the body (`for key in {name}: {name}[key] = ... {name}[key] ...`, for a list "
                     f"`for i in range(len({name}))`), or build a new one (`{name} = {{key: ... for key, value in "
                     f"{name}.items()}}`)", f"write into {name}")
            if why is not None:
                what = "a traced value" if tracked else \
                    f"a traced value through {name}, which holds its numbers without their derivative" \
                    if self.aliases_traced(s, name) else "a value an earlier differentiated operation read"
                call = self._unnamed_call_result(s, name)
                if call is not None:
                    # ``np.einsum("ii->i", K)[...] += v``, ``y.reshape(2, 3)[1] = x``: the normalizer's
                    # name for the call's result is no name of the user's (red team sci, dec 27: the
                    # advice was "Write `t_einsum = t_einsum.copy()`", a name the user never wrote and
                    # a copy that would not change K as the line means to)
                    bases = self._view_bases(s, name)
                    a = bases if re.fullmatch(r"\w+", bases) else "A"
                    fail(s, f"writing into the result of `{call}` in place changes {what}: it may be a "
                         f"view sharing the memory of {bases} (numpy's einsum, reshape, ravel, transpose "
                         "and slices give views), and sct does not follow a write through a view into "
                         f"the array it views. Compute the new array instead (`{a} = {a} + ...`, "
                         f"`np.where`, or index {a} itself: `{a}[np.diag_indices_from({a})] += v` for "
                         "a diagonal)", f"write into {call}")
                row = self._row_of(name)
                spelled = self._spelled().get(name, "")
                advice = self._container_advice(s, name, row) if row and self._holds_containers(s, name, row) \
                    else (f"Write into {row[0]} with one index instead (`{row[0]}[{row[1]}, ...] = value` for "
                          f"`{row[0]}[{row[1]}][...] = value`)") if row else \
                    (f"Write into {spelled[:-5]} by its indices instead (`{spelled[:-5]}[np.unravel_index(i, "
                     f"{spelled[:-5]}.shape)] = value` for `{spelled}[i] = value`)") if spelled.endswith(".flat") else \
                    (f"{spelled} is a view of {spelled.rsplit('.', 1)[0]}, sharing its memory: write into "
                     f"{spelled.rsplit('.', 1)[0]} itself with the indices that reach the same elements, or "
                     "build a new array") if re.fullmatch(r"[\w.]+\.(T|mT|real|imag)", spelled) else \
                    self._argument_list_advice(s, name) or \
                    f"Write `{name} = {name}.copy()` before writing into it (or build a new array)" \
                    if name in analysis.locals else \
                    (f"{name} is not a local of the function (a global or a closure value), and a copy bound to "
                     f"its name would make it one: record such values outside the differentiated function "
                     f"(after dlfeval returns), or keep them in a local and return it")
                fail(s, f"writing into {name}[...] in place changes {what}, and {why}; sct "
                     f"differentiates this write as a new value of {name} only. {advice}",
                     f"write into {name}")
            if not tracked:
                self.force.add(id(s))
        elif self.mode == "vjp" and _not_owned(analysis, s, name) and not self._outside_untraced_write(s, name):
            if analysis.objects(s, name) == frozenset({EXT}):       # (was: "belongs to its caller" of a global)
                fail(s, f"{self.fname}() writes into {name}[...] in place, an object from outside it (a global, a "
                     f"closure value, or what one holds), which differentiated code may read as it is when the "
                     f"gradient runs; in a function called from the differentiated one, sct runs such a write "
                     f"only into a global list or dict that no differentiated operation of {self.fname}() reads "
                     f"(a counter: `calls[0] += 1`). Return the new value instead, or make the change in the "
                     f"function given to dlfeval", f"write into {name}")
            fail(s, f"{self.fname}() writes into {name}[...] in place, but {name} belongs to its caller, "
                 f"whose derivative may need the old value; return the new value instead "
                 f"(`{name} = {name}.copy()`, write, `return {name}`)", f"write into {name}")

    def _argument_list_advice(self, s, name: str) -> Optional[str]:
        """The advice for ``ps[i] = w - lr * gs[i]`` into a list dlfeval was given (None: not one): a copy bound to
        the name would leave the caller's list as it was, where Python changes it (red55u F1: the advice was
        "Write `ps = ps.copy()`"); a dict's items are written through (_argument_dict_write), a list's not."""
        objs = self.analysis.objects(s, name)
        if self.mode != "entry" or not objs or not all(o != EXT and o[0] == "arg" and self.analysis.is_sequence(o)
                                                       for o in objs):
            return None
        spelled = self.spell(name)
        return (f"sct writes the items of a dict dlfeval was given through to the caller's dict, not those of a "
                f"list: give the parameters as a dict (`{spelled}[key] = ...`), or return the new values and "
                f"write them into the caller's list there (`return loss, new` and, after dlfeval, "
                f"`{spelled}[:] = new`)")

    def _outside_untraced_write(self, s, name: str) -> bool:
        """``calls[0] += 1`` or ``stats["n"] = k`` in a helper: a plain value written into a global's (or a closure
        value's) list or dict, which this function's differentiated operations never read: run in place as
        Python runs it (was: refused as writing into what "belongs to its caller", red55h F3).  Nothing traced
        moves (needs_value is False here); the item replaced is no array an adjoint holds (an item written
        with ``+=`` must be a number: rt.require_number); no adjoint of this function holds an outside object
        (a second call would change what the first call's adjoint reads: ``cnt[0] += 1; return np.sum(x *
        cnt)``); an adjoint of the caller that read it is checked after the call (rt.stale_kept,
        sct/stale_reads.py).  An array is not taken: its numbers change in place, and an argument may be it."""
        analysis = self.analysis
        written = self.resolver.resolve_name(name)      # (guarded: rebinding it recompiles)
        if analysis.objects(s, name) != frozenset({EXT}) or name in analysis.locals or type(written) not in (list, dict):
            return False
        for st in walk_nodes(self.fdef):        # (what an adjoint holds: the objects its statement reads, by name)
            if isinstance(st, (gast.Assign, gast.Return, gast.Expr, gast.AugAssign)) and st.value is not None and \
                    self.is_active(st.value) and not any(st is t for t, _ in self.logged) and \
                    not (isinstance(st, gast.Assign) and len(st.targets) == 1 and isinstance(st.targets[0], gast.Name)
                         and st.targets[0].id not in self.active):     # (a log, an untraced result: no adjoint)
                state = analysis.before.get(id(st))
                if state is None or any(not self._not_holding(n, state, written) for n in loaded_names(st.value)):
                    return False
        if not self._number_item(s.targets[0], written):
            return False
        augmented = getattr(s, "sct_augmented", None)
        guards = getattr(self.fdef, "sct_number_guards", None)
        if augmented is not None and augmented[0] is not None and augmented[1] == name and guards is not None:
            # (the old item rebound, as a number is; an array there would change in place, and an adjoint may
            # hold it: the run checks it is a number)
            guards.append(NumberGuard(s, augmented[0], f"`{self.spell(name)}[...] op= ...` changes the array "
                                      f"(or list) the item of {self.spell(name)} holds in place, and an earlier "
                                      f"differentiated operation may read it; sct runs such a write in place only "
                                      f"where the item is a number (a counter). Write `{self.spell(name)}[key] = "
                                      f"{self.spell(name)}[key] + ...` for a new value"))
        return True

    def _outside_array_write(self, s, name: str) -> bool:
        """``RV[...] = v`` of an untraced ``v`` into a global numeric array that no adjoint reads (no differentiated
        statement before it read an outside object, nor anything holding RV), where the arguments an adjoint reads
        could share its memory only as dlfeval's caller gave them (``dlfeval(f, dlarray(RV))``): run in place as
        Python runs it, the run checking first that none does (rt.require_unshared; was refused as changing "a value
        an earlier differentiated operation read")."""
        analysis = self.analysis
        written = self.resolver.resolve_name(name)
        if name in analysis.locals or analysis.objects(s, name) != frozenset({EXT}) or \
                type(written) is not np.ndarray or written.dtype.kind not in "biufc" or \
                getattr(s, "sct_augmented", None) is not None or self.aliases_traced(s, name):
            return False
        guards = getattr(self.fdef, "sct_number_guards", None)
        if guards is None:
            return False
        params: Set[str] = set()
        for st in walk_nodes(self.fdef):        # (what an adjoint reads: the names its statement reads)
            if not (isinstance(st, (gast.Assign, gast.Return, gast.Expr, gast.AugAssign)) and st.value is not None
                    and self.is_active(st.value)) or any(st is t for t, _ in self.logged) or \
                    isinstance(st, gast.Assign) and len(st.targets) == 1 and isinstance(st.targets[0], gast.Name) \
                    and st.targets[0].id not in self.active:
                continue
            state = analysis.before.get(id(st))
            if state is None:
                return False
            for n in loaded_names(st.value):
                if n in self.param_kinds:
                    params.add(n)           # (an argument: its memory checked when it runs)
                elif n not in analysis.locals:
                    v = self.resolver.resolve_name(n)
                    library = isinstance(v, (types.FunctionType, types.BuiltinFunctionType, np.ufunc)) and \
                        (getattr(v, "__module__", None) or "").split(".")[0] in ("sct", "numpy", "math", "builtins")
                    if not (library or isinstance(v, (types.ModuleType, int, float, complex, bool, str)) or v is None):
                        return False        # (a global the adjoint may read: RV itself, what holds it, a helper
                        #                      reading it: `y = part(x)` of `np.sum(x * RV)`)
                elif not state.env.get(n, frozenset()) or \
                        not all(o != EXT and o[0] in ("new", "old") for o in state.env[n]):
                    if not all(o != EXT and o[0] == "arg" and o[1] in self.param_kinds for o in state.env[n]):
                        return False
                    params.update(o[1] for o in state.env[n])
        params = tuple(sorted(params))
        guards.append(NumberGuard(s, name, f"writing into "
                                  f"{self.spell(name)}[...] in place changes the numbers of an argument that "
                                  f"shares its memory (dlarray({self.spell(name)}) given to dlfeval), which earlier "
                                  f"differentiated operations read; pass a copy (dlarray({self.spell(name)}.copy()))",
                                  check="require_unshared", values=params))
        return True

    @staticmethod
    def _number_item(target, written) -> bool:
        """May the item ``target`` (``written[k]``) replaced be a number (a counter; not an array an adjoint may
        hold, which ``written[k] += v`` would change in place)?  Where ``k`` is a constant, ``written[k]`` now
        tells (none there yet: a new item); else the run checks it before an augmented write (rt.require_number)."""
        if not isinstance(target, gast.Subscript) or not isinstance(target.slice, gast.Constant):
            return True
        try:
            item = written[target.slice.value]
        except Exception:
            return True
        return isinstance(item, (bool, int, float, complex, np.number))

    def _not_holding(self, n: str, state, written) -> bool:
        """Is the name ``n``, read by a differentiated statement, neither the outside list or dict ``written``
        nor a holder of it: objects of its own (_own_objects), arrays or numbers (its kind, an op's result, an
        argument's numeric item), a global number or numeric array, or an item of an outside container that is
        a number or numeric array now (``lr = CFG["lr"]``: red57a F1, where ``METRICS["n"] += 1`` after
        ``y = np.sum(x * W) * CFG["lr"]`` was refused)?"""
        if n not in self.analysis.locals:
            return _plain_global(self.resolver.resolve_name(n)) or _numeric_value(self.resolver.resolve_name(n))
        if self._own_objects(n, state.env.get(n, frozenset()), written) or self._op_valued(n, set()) or \
                self._argument_leaf(n, set()):
            return True
        binds = self._name_values().get(n)
        if not binds or len(binds) != 1 or not isinstance(binds[0], gast.Subscript) or \
                not isinstance(binds[0].value, gast.Name) or binds[0].value.id in self.analysis.locals or \
                not isinstance(binds[0].slice, gast.Constant):
            return False
        try:
            return _numeric_value(self.resolver.resolve_name(binds[0].value.id)[binds[0].slice.value])
        except Exception:
            return False

    def _own_objects(self, name: str, objs, written) -> bool:
        """Are the objects ``name`` holds (what an adjoint reading it may hold) not the outside list or dict
        ``written``, nor hold it: made here, or the parameter ``name`` of a kind with no list (dict) in it (a
        list argument may be the global itself: ``f(x, W)`` with ``W[0] += 1``; a dict of parameters holds
        arrays; the outside object the analysis adds to a parameter is that argument)."""
        root = _item_root(self.fdef, name)      # (params_item = params['w'], self_w = self.w: what params holds)
        if root in self.param_kinds and objs <= {("arg", root), EXT}:
            return not _kind_may_hold(self.param_kinds[root], type(written))
        return all(o[0] == "new" for o in objs)

    def _refuse_stored_then_changed(self) -> None:
        """A value stored into a dict argument (rt.setitem_through gives the caller's dict its own copy) and
        changed in place afterwards (``h = np.zeros(3); s["h"] = h; h[0] = 5.0``): Python's caller's dict holds
        that object, changed too; refused at the change (a change before the store, outside a loop around
        both, is the value stored)."""
        if not self._stored:
            return
        from .recompute_writes import _statements as ordered
        order, loops = {}, {}
        for i, (t, around) in enumerate(ordered(self.fdef.body)):
            order[id(t)], loops[id(t)] = i, set(around)
        for t, w in _in_place_writes(self.fdef.body):
            for s, v in self._stored:
                objs = self.analysis.objects(s, v) - {EXT}
                if t is s or id(t) not in order or id(s) not in order or not objs or \
                        not self.analysis.objects(t, w) & objs:
                    continue
                if order[id(t)] < order[id(s)] and not loops[id(t)] & loops[id(s)]:
                    continue
                self.fail(t, f"{w} is changed in place here, and its value was stored into a dict "
                          f"{self.fname}() was given at line {getattr(s, 'lineno', '?')}: in Python the caller's "
                          f"dict holds that object and changes too, where sct stored the value as it was. Change "
                          f"a copy (`{w} = {w}.copy()` first), or store the value after its last change",
                          f"change of {w}")

    def _refuse_changes_beside_through(self) -> None:
        """A dict dlfeval was given whose item writes are made into the caller's dict as new values (the run
        gives the code a copy: rt.setitem_through), changed in place another way too (``lr = cfg.pop("lr")``,
        ``cfg.setdefault(k, v)`` used as a value, ``cfg.update(...)``, ``del cfg[k]``, ``p = cfg.pop``, a helper
        given ``cfg`` that may change it): that change reached the copy only, and the caller's dict missed it
        (red57a W7: Python's ``{'lr': 0.1, 'last': 1.0}`` left as ``{'last': 1.0}``).  Refused at the change."""
        through = self.fdef.sct_argument_dicts
        if self.mode != "entry" or not through:
            return
        first = min(line for line, _ in self.fdef.sct_argument_item_writes)

        def holds(t, node) -> bool:
            return isinstance(node, gast.Name) and any(
                o != EXT and o[0] == "arg" and o[1] in through for o in self.analysis.objects(t, node.id))
        for t in _statements(self.fdef.body):
            if not isinstance(t, (gast.Assign, gast.Expr, gast.Return, gast.AugAssign)) or t.value is None:
                continue
            for node in walk_no_defs(t.value):
                if isinstance(node, gast.Attribute) and node.attr in _DICT_CHANGES and holds(t, node.value):
                    shown = self.spell(node.value.id)
                    deleted = (getattr(t, "lineno", None), shown) in getattr(self.fdef, "sct_deleted_items", ())
                    self._changed_beside_through(t, f"del {shown}[...]" if deleted else f"{shown}.{node.attr}(...)",
                                                 shown, first)
                if not isinstance(node, gast.Call):
                    continue
                given = [a.value if isinstance(a, gast.Starred) else a for a in node.args] + \
                    [k.value for k in node.keywords]
                name = next((a.id for a in given if holds(t, a)), None)
                if name is not None and _may_change_dict(self._callee(node)):
                    self._changed_beside_through(t, f"{_dotted(node.func)}(...)", self.spell(name), first)

    def _callee(self, node):
        """The function ``node`` calls: by its global name chain, else as the activity knows it (a method of an
        argument's object); None where not known."""
        target = _resolved(self.resolver, node.func)
        if target is None:
            try:
                target = self.activity.call_info(node).obj
            except Exception:
                return None
        return target

    def _changed_beside_through(self, t, spelled: str, shown: str, first: int) -> None:
        self.fail(t, f"{spelled} may change {shown}, a dict {self.fname}() was given, in place, while sct makes the "
                  f"writes of its items (line {first}) into the caller's dict as new values, from a copy that this "
                  f"change would reach alone: the caller's dict would miss it. Read items with `{shown}.get(key, "
                  f"default)`, write them with `{shown}[key] = value`, and remove keys after dlfeval returns", spelled)

    def _argument_dict_write(self, s, name: str, why) -> bool:
        """MATLAB's model function storing batchnorm's statistics in its state struct, a dict of dlfeval's
        (``state["TrainedMean"] = trainedMean``): a new version of the dict, which sct follows as a dict the
        function made, written into the caller's dict too (rt.setitem_through), where no other name reads the
        dict later (was: refused as "state is an argument ... and would change too", where a
        SimpleNamespace's field ran; mat51's F4 wrote into one dict all versions shared, whose derivative
        through the item was lost under a branch or a loop: redfix51b W1, W2).  Done?"""
        if why is None or not self._argument_dict(s, name, why):
            return False
        objs = self.analysis.objects(s, name)
        if objs != frozenset({EXT}) and self.analysis.other_name_of(s, name, objs) is not None:
            return False
        self._argument_item_write(s, name)
        self.force.add(id(s))           # (a new version of it, traced or not)
        return True

    def _argument_dict(self, s, name: str, why: str) -> bool:
        """Is ``name[k] = v`` at ``s`` a write into a dict dlfeval was given (every object ``name`` may hold
        one of the arguments, each surely a dict), refused only as an argument's change?"""
        if self.mode != "entry" or not isinstance(s.targets[0], gast.Subscript):
            return False
        objs = self.analysis.objects(s, name)
        if objs == frozenset({EXT}):
            return "did not create" in why and self._argument_item(s, name) is not None
        return "is an argument of" in why and bool(objs) and \
            all(o != EXT and o[0] == "arg" and self.analysis.is_mapping(o) for o in objs)

    def _argument_item(self, s, name: str) -> Optional[str]:
        """The argument (a dict dlfeval was given) whose item ``name`` is, written back into it right after
        ``s`` (``state["bn"]["TrainedMean"] = m``: sct/copy_aliases.py sets ``state["bn"]`` back), where no other
        name read later may hold an item of an argument (``bn = state["bn"]`` kept); else None."""
        analysis = self.analysis
        state = analysis.before.get(id(s))
        rebound = getattr(s, "sct_rebound", frozenset())
        roots = [r for r in sorted(rebound) if analysis.objects(s, r) and all(
            o != EXT and o[0] == "arg" and analysis.is_mapping(o) for o in analysis.objects(s, r))]
        if state is None or not roots:
            return None
        for other in analysis.live_after.get(id(s), frozenset()) | analysis.captured:
            if other == name or other in rebound or other not in state.env:
                continue
            held = state.env[other]
            if all(o != EXT and o[0] == "arg" for o in held) or self._op_valued(other, set()) or \
                    self._argument_leaf(other, set()):
                continue        # (another argument holding it too: refused when called, sct.api; arrays)
            if EXT in held or EXT in frozenset(state.reach(held)):
                return None
        return next(o[1] for o in analysis.objects(s, roots[0]))

    def _argument_leaf(self, name: str, seen: Set[str], kind=None) -> bool:
        """Does ``name`` hold an item of dlfeval's dict argument that its kind says is an array or a number at
        entry (every binding of it ``name = base["k"]``, base a parameter or such a name: ``tm =
        state["bn"]["TrainedMean"]``), which holds no dict a write could change?  (was: any item of an argument
        kept past a write into its dicts refused, so ``tm = state["bn"]["TrainedMean"]`` read, then
        ``state["bn"]["TrainedMean"] = mu``, red53u FR3; an item replaced leaves the old array as it was, in
        Python as in sct; a dict stored into them is refused at its store.)"""
        if name in seen:
            return False
        seen = seen | {name}
        binds = self._name_values().get(name)
        if name in _parameter_names(self.fdef):
            return kind is not None and not binds and name in self.param_kinds and kind(self.param_kinds[name])
        if not binds or len(binds) != 1 or not isinstance(binds[0], gast.Subscript) or \
                not isinstance(binds[0].value, gast.Name) or not isinstance(binds[0].slice, gast.Constant) or \
                type(binds[0].slice.value) not in (str, int):
            return False
        key = binds[0].slice.value

        def item(outer_kind):
            inner = child_kind(outer_kind, key) if isinstance(outer_kind, tuple) and outer_kind[:1] == ("map",) \
                else None
            return inner is not None and (kind(inner) if kind is not None else _numeric_leaf(inner))
        return self._argument_leaf(binds[0].value.id, seen, item)

    def _op_valued(self, name: str, seen: Set[str]) -> bool:
        """Does ``name`` hold arrays or numbers only (never a dict): an array's kind, or every binding of it
        the result of an op (``Y, m, v = batchnorm(...)``), an item of one, or a tuple of such names?"""
        if self.activity.array_receiver(name):
            return True
        if name in seen:
            return True
        seen.add(name)
        binds = self._name_values().get(name)
        if not binds:
            return False
        for value in binds:
            if isinstance(value, gast.Subscript):
                value = value.value
            if isinstance(value, gast.Tuple):
                if not all(isinstance(e, gast.Name) and self._op_valued(e.id, seen) for e in value.elts):
                    return False
            elif isinstance(value, gast.Name):
                if not self._op_valued(value.id, seen):
                    return False
            elif not (isinstance(value, gast.Call) and self._array_op(self.activity.call_info(value))):
                return False
            elif _passes_objects(self.activity.call_info(value).obj) and \
                    leaf_kind(self.activity.value_kind(value)) is None and not self._op_args(value, seen):
                return False    # (was: ``vs = list(state.values())``, tuple/zip/map/enumerate/reversed/next of
                #   the state's items, ``for v in state.values()`` (rt.as_sequence), ``v, = state.values()``
                #   (rt.listed) taken for arrays: a name holding state["rnn"] kept past its write read the old
                #   item, a wrong value and gradient, red2st53 F7)
        return True

    def _op_args(self, call, seen: Set[str]) -> bool:
        """Are the arguments of ``call`` (one that may hand back an object it was given) constants or names
        holding arrays or numbers only?"""
        args = [a.value if isinstance(a, gast.Starred) else a for a in call.args] + [k.value for k in call.keywords]
        return all(isinstance(a, gast.Constant) or (isinstance(a, gast.Name) and self._op_valued(a.id, seen))
                   for a in args)

    @staticmethod
    def _array_op(info) -> bool:
        """Does the call return arrays or numbers (never an object it was given): an op, or a layer function of
        sct's runtime (``batchnorm``, differentiated through)?"""
        if info.kind in (CallKind.OP, CallKind.NONDIFF, CallKind.STOP, CallKind.CREATE):
            return True
        module = (getattr(info.obj, "__module__", None) or "").replace("sct.runtime.", "runtime.", 1)
        return info.kind == CallKind.FUNCTION and module in ("runtime.dlfun", "runtime.nn", "runtime.more_ops")

    def _name_values(self) -> Dict[str, list]:
        """name -> the values of its bindings ``name = value`` (None among them: bound another way)."""
        found = getattr(self, "_values_of", None)
        if found is None:
            found = self._values_of = {}
            plain = set()
            for n in walk_nodes(self.fdef):
                if isinstance(n, gast.Assign) and len(n.targets) == 1 and isinstance(n.targets[0], gast.Name):
                    found.setdefault(n.targets[0].id, []).append(n.value)
                    plain.add(id(n.targets[0]))
            for n in walk_nodes(self.fdef):
                if isinstance(n, gast.Name) and isinstance(n.ctx, (gast.Store, gast.Del)) and id(n) not in plain:
                    found.setdefault(n.id, []).append(None)
        return found

    def _python_type(self, value) -> str:
        """Is ``value`` a dlarray in plain Python ("dl"), surely not one ("plain"), or not known ("")?"""
        from .argument_writes import item_types, key_writes, name_bindings, once, python_type, reaching_bindings, \
            restored_keys, root_writes
        from .contents_written import contents_written
        if getattr(self, "_type_facts", None) is None:
            bindings, all_keys, restored = name_bindings(self.fdef), key_writes(self.fdef), restored_keys(self.fdef)
            # (a key known only when it runs: any item may hold what it writes)
            keys = None if None in all_keys else all_keys
            self._type_facts = types.SimpleNamespace(activity=self.activity, bindings=lambda: bindings,
                                                     key_writes=lambda: keys, all_key_writes=lambda: all_keys,
                                                     params=set(_parameter_names(self.fdef)),
                                                     restored=lambda: restored,
                                                     contents=once(contents_written, self.fdef))
            if self.mode == "entry":
                roots = root_writes(self.fdef)
                self._type_facts.root_writes = lambda: roots
                fdef = self.fdef        # (not self: a lambda on self._type_facts reading self is a cycle holding the tree)
                self._type_facts.through = lambda: fdef.sct_argument_dicts
            self._type_facts.reaching = reaching_bindings(self.fdef, self._type_facts)
            item_types(self.fdef, self._type_facts)     # (sets _type_facts.item_types)
        return python_type(value, self._type_facts) if value is not None else ""

    def _argument_item_write(self, s, name: str) -> None:
        """``name[k] = v`` into dlfeval's dict argument that no other name reads later: a new version of the
        dict, as for a dict the function made (its derivative followed through the versions, under branches and
        loops too), whose write is made into the caller's dict as well (``s.sct_into_argument``:
        sct.analysis.functionalize marks the ``rt.setitem`` it makes, written as ``rt.setitem_through`` by
        sct.compiler._into_arguments), with what plain Python stores there (``s.sct_through_type``:
        sct/argument_writes.py).  Noted with the attribute writes so that a second path to the object among the
        arguments is refused (sct.api._refuse_aliased_writes), and on the function for the guard of its
        recomputation (sct/forward_code.py)."""
        s.sct_into_argument = True
        objs = self.analysis.objects(s, name)
        if objs != frozenset({EXT}):        # (written through: no other argument is this dict, sct.api)
            self.fdef.sct_argument_dicts.update(o[1] for o in objs)
        s.sct_through_type = self._python_type(s.value)      # (what the caller's dict gets: rt.setitem_through)
        if not s.sct_through_type and len(s.targets) == 1:   # (a loop's carried value or the item itself)
            from .argument_writes import kept_or_dl
            s.sct_through_type = kept_or_dl(s.targets[0], s.value, self._type_facts, self.fdef)
        if isinstance(s.value, gast.Name):
            self._stored.append((s, s.value.id))
        objs = self.analysis.objects(s, name)
        if objs == frozenset({EXT}):        # an item of the argument: its dicts checked when called
            root = self._argument_item(s, name)
            objs = frozenset({("arg", root)})
            self.fdef.sct_nested_argument_writes.add(root)
        self._note_argument_write(s, objs)
        self.fdef.sct_argument_dicts.update(o[1] for o in objs)
        self.fdef.sct_argument_item_writes.append((getattr(s, "lineno", self.fdef.lineno), self.spell(name)))

    def _holds_containers(self, s, name: str, row) -> bool:
        """Is ``name`` (the user's ``row[0][row[1]]``) an item of a dict or a list (a string key, or an
        object known to be a dict or list), not a row of an array?"""
        if row[1][:1] in ("'", '"'):
            return True
        holder = self._spelled_name(row[0])
        objs = self.analysis.objects(s, holder) if holder else frozenset()
        return bool(objs) and all(o != EXT and (self.analysis.is_mapping(o) or self.analysis.is_sequence(o))
                                  for o in objs)

    def _spelled_name(self, spelled: str):
        """The normalizer's name of the user's plain name ``spelled`` (None: not a plain name)."""
        if not spelled.isidentifier():
            return None
        return next((k for k, v in self._spelled().items() if v == spelled), spelled)

    @staticmethod
    def _container_advice(s, name: str, row) -> str:
        """What to write for ``holder[k][j] = value`` into a dict or list ``holder[k]`` that sct cannot
        prove the function's own: a new one, stored into a new holder (was: the advice for an array's
        row, ``holder[k, ...] = value``, which a dict or a list does not take)."""
        holder, key = row
        target = s.targets[0] if isinstance(s, gast.Assign) and len(s.targets) == 1 else None
        inner = "j"
        if isinstance(target, gast.Subscript):
            try:
                from .emit import expr_source
                inner = expr_source(target.slice)
            except Exception:
                pass
        # (was: `{holder} = {{**{holder}, {key}: item}}`, which rebinds the name here and leaves the caller's
        # state as it was: the caller's optimiser state no longer updated, red57a R1)
        return (f"Write into a copy the function makes and return it, and store it in the caller: "
                f"`item = {holder}[{key}].copy()` (before any loop), `item[{inner}] = value`, `return ..., item`, "
                f"then `{holder}[{key}] = item` after dlfeval returns (rebinding {holder} here, "
                f"`{holder} = {{**{holder}, ...}}`, would leave the caller's {holder} as it was): sct follows "
                f"writes into dicts, lists and arrays the function made itself")

    def _attribute_write(self, s, name: str, attr_name: str) -> bool:
        """``name.attr_name = value``; whether the value is traced."""
        analysis, fail, mode = self.analysis, self.fail, self.mode
        tracked = name in self.active or self.is_active(s.value)
        if not tracked:
            return False
        check = getattr(s, "sct_write_check", None)    # (sct/properties.py: rt.attribute_write_here)
        if check is not None:
            check.args[2].value = True     # a traced write: refused at run time through a setter (a leaf changed in place: sct.ir.shared_walks)
        setter = getattr(s, "sct_setter", None)        # (sct/properties.py)
        if setter is not None and getattr(s, "sct_descriptor", False):
            fail(s, f"setting {name}.{attr_name} runs the descriptor {setter}'s __set__, which sct does not "
                 f"differentiate (the derivative of what it stores would be lost): set the fields it sets "
                 f"directly, or call a method that sets them (def set_{attr_name}(self, value): ...)",
                 f"{name}.{attr_name} = ...")
        if setter is not None:
            # (was: taken for a write of the field; the setter stored another field, whose derivative
            # was lost: a gradient of 0 through ``self.w = w`` in __init__ with a setter of w)
            fail(s, f"setting {name}.{attr_name} runs the property {setter}'s setter, which sct does not "
                 f"differentiate (the derivative of what it stores would be lost): set the fields it sets "
                 f"directly, or call a method that sets them (def set_{attr_name}(self, value): ...)",
                 f"{name}.{attr_name} = ...")
        if attr_name in ("shape", "dtype", "strides") and not self.activity.user_receiver(name):
            fail(s, f"setting {name}.{attr_name} changes the array {name} in place, which sct does not "
                 f"follow; write `{name} = {name}.reshape(...)` (or astype, np.real, ...) for a new value",
                 f"{name}.{attr_name} = ...")
        if attr_name in ("real", "imag") and not self.activity.user_receiver(name):
            # (was: "sets z.imag ... on an object its caller passed in" for an array made here)
            fail(s, f"setting {name}.{attr_name} changes the array {name} in place, which sct does not "
                 f"follow; build a new value instead (`{name} = "
                 + (f"v + 1j * {name}.imag`)" if attr_name == "real" else f"{name}.real + 1j * v`)"),
                 f"{name}.{attr_name} = ...")
        if attr_name == "flat" and not self.activity.user_receiver(name):
            # (was: a TypeError from the generated gradient code)
            fail(s, f"setting {name}.flat changes the array {name} in place, which sct does not follow; "
                 f"build a new value instead (`{name} = np.broadcast_to(v, {name}.shape) * 1.0`, or "
                 f"`np.resize(v, {name}.shape)`)", f"{name}.flat = ...")
        if mode == "entry" and self._constant_field_write(s, name, attr_name):
            # (was: refused on an object reached through an argument, ``self = net.bn`` of a layer read in
            # place: "self may be an object loss_fn() did not create", for a running mean of constants)
            return True
        if mode == "entry" and self._leaf_gradients() and dead_end_field(self.fdef, attr_name, self.activity):
            # (a running mean of traced values nothing reads back: sct/dead_fields.py; stored as Python has it)
            self._stored_as_python(s, attr_name)
            return True
        objs = analysis.objects(s, name)
        if mode == "vjp" and any(o[0] == "arg" for o in objs if o != EXT):
            # (was: "sets self.n to a traced value" for a count ``self.n += 1`` on an object holding traced values)
            traced = self.is_active(s.value) and not self._constant_value(s.value, self._constant_fields())
            what = "to a traced value on an object its caller passed in" if traced else \
                "on an object its caller passed in that holds traced values (sct counts such an object's " \
                "fields as traced here)"
            fail(s, f"{self.fname}() sets {name}.{attr_name} {what}; sct follows values, not changes of "
                 "the caller's objects: return the "
                 f"new value (or a new object) instead of storing it on {name}",
                 f"{name}.{attr_name} = ...")
        if mode == "vjp" and EXT in objs:
            # (was "to a traced value" for an extractdata'd one too: the README's batch-norm running mean under
            # a gradient differentiated again, red53u FR1; the method is compiled on its own there, a call)
            traced = self.is_active(s.value) and not self._constant_value(s.value, self._constant_fields())
            what = "to a traced value" if traced and not self._reads_extracted(s.value, set()) else \
                "to a value sct counts as traced here (extractdata's numbers with a field of an object holding " \
                "traced values: sct proves such a value constant only in the function dlfeval runs and the " \
                "methods read in place there, not in one compiled on its own, as methods are where a gradient " \
                "is differentiated again)" if traced else \
                "(a value sct does not differentiate, but compiled on its own here, as a call, " \
                f"{self.fname}() changes an object it was not given back)"
            fail(s, f"{self.fname}() sets {name}.{attr_name} {what} on an object sct cannot "
                 f"prove is new here ({name} comes from a call sct does not look into, a global, or a "
                 "class whose __init__ passes self on); sct follows values, not changes of objects "
                 "others may hold: build it with a class whose __init__ only sets attributes of self "
                 f"(or a dataclass), set the attribute in the caller, or return the new value instead of "
                 f"storing it on {name}", f"{name}.{attr_name} = ...")
        why = analysis.sharing(s, name)
        if why is not None and mode == "entry" and objs and all(o[0] == "arg" for o in objs) and \
                "is an argument" in why:
            why = analysis.other_name_of(s, name, objs)   # dlfeval's argument: only another name
        if why is not None and f"({name} is an attribute of " in why:
            # state kept by an object reached through a field (an RNN cell ``net.cell`` setting self.h):
            # say what runs instead (was only "build a new object, or set the attribute through the one
            # name you read it with", which a method of the cell cannot do)
            owner = why.split(f"({name} is an attribute of ", 1)[1].split(")", 1)[0]
            given = "x" if attr_name != "x" else "inp"     # (was `def forward(self, x, x)` for a field x)
            fail(s, f"setting {name}.{attr_name} changes the object in place, and {why}; sct "
                 f"follows the new value through {name} only. Pass the state in and return it "
                 f"(`def forward(self, {given}, {attr_name}): return ...`, called as `{attr_name} = "
                 f"layer({given}, {attr_name})`), keep it on {owner} itself (set by {owner}'s own method from "
                 f"what the layer returns), or give the object that keeps it to {self.fname}() as an "
                 f"argument of its own", f"{name}.{attr_name} = ...")
        if why is not None:
            fail(s, f"setting {name}.{attr_name} changes the object in place, and {why}; sct "
                 f"follows the new value through {name} only. Build a new object, or set the "
                 "attribute through the one name you read it with", f"{name}.{attr_name} = ...")
        if mode == "entry":
            self._note_argument_write(s, objs)
            self._stored_as_python(s, attr_name, before=False)
        return True

    def _stored_as_python(self, s, attr: str, before: bool = True) -> None:
        """``o.f = v`` into an object from outside stores what plain Python stores (a dlarray where v surely is
        one): where the function reads no field of that name (nor fields by name), the generated store wraps the
        code's own array with its labels (``s.sct_field_type``: sct.compiler._fields_through, red55r W1); where
        it reads one, v is made a dlarray before the store, with its derivative (``kept_fields``:
        sct/dead_fields.py field_as_python: the running mean a layer reads and writes, refuse55a)."""
        python_type = self._python_type(s.value)
        read = fields_read(self.fdef)
        if attr in read or BY_NAME in read:
            if before:      # (a dead-end field, sct/dead_fields.py; elsewhere the read-back field stays the code's
                #             value: made a dlarray before the store it lost its labels, test_redteam_dec13c, and a
                #             second derivative through it was refused, test_redteam_dec1c)
                self.kept_fields.append((s, python_type))
        else:
            s.sct_field_type = python_type

    def _reads_extracted(self, value, seen: Set[str]) -> bool:
        """Is ``value`` computed (through the names it reads, their bindings) with ``extractdata(...)``'s numbers?"""
        for n in walk_nodes(value):
            if isinstance(n, gast.Call) and self.activity.call_info(n).kind == CallKind.STOP:
                return True
            if isinstance(n, gast.Name) and n.id not in seen and len(seen) < 64:
                seen.add(n.id)
                if any(b is not None and self._reads_extracted(b, seen) for b in self._name_values().get(n.id) or []):
                    return True
        return False

    def _note_argument_write(self, s, objs) -> None:
        """A traced write into dlfeval's argument's object (``a.h = np.tanh(x @ a.W)``, a method read in place
        setting ``self.h``), followed by the argument's name: noted on the function
        (``fdef.sct_written_arguments``: parameter -> (file, line) of its first such write), so that the call
        refuses arguments under which that object is also reached another way (``dlfeval(f, c, c, x)``,
        ``dlfeval(f, c, [c], x)``, ``c.other = c``), where reads through the other path are of the value it had at
        entry (was: ``b.h`` read as a constant after ``a.h = ...``, a gradient of 0; sct.api._refuse_aliased_writes)."""
        written = self.fdef.sct_written_arguments
        for o in objs:
            if o != EXT and o[0] == "arg" and o[1] not in written:
                written[o[1]] = (self.filename, getattr(s, "lineno", self.fdef.lineno))

    def _constant_field_write(self, s, name: str, attr_name: str) -> bool:
        """``self.running_mean = 0.9 * self.running_mean + 0.1 * extractdata(mu)``, ``self.n = self.n + 1``,
        ``self.x = x`` of a constant ``x``, where ``self`` is an object the arguments hold (a batch-norm layer
        ``net.bn`` whose ``gamma`` is traced, read in place): a value with no derivative stored in a field that
        holds none when the function begins (``name``'s kind, read from the arguments' kinds along every
        binding of ``name``) and is given none anywhere in the function (every store of ``.attr_name``, on any
        object, a constant).  Every value that field holds while the function runs is then a constant, so a
        read of it through any name (``net.bn.running_mean`` after the call, an alias bound before) has no
        derivative to lose, and what it would send back lands on a field holding a constant, which no gradient
        selects; the object checks below (who else may see the object) guard derivatives only: Python's values
        are the code's own, which runs the write."""
        fields = self._constant_fields()
        if attr_name not in fields or not self._constant_value(s.value, fields) or not self._leaf_gradients():
            return False
        kinds = self._object_kinds(name)
        return bool(kinds) and all(_untraced_field(k, attr_name) for k in kinds)

    def _leaf_gradients(self) -> bool:
        """Is every gradient the function takes with respect to single traced arrays (``net.W``, ``x``), none
        by a whole object, list or dict (``dlgradient(y, net.bn)``, whose field ``running_mean`` the
        derivative of a read of the new value would be credited to: refused, was 1 for 0.9)?"""
        from .inline_helpers import _SITE_NAMES
        for n in walk_nodes(self.fdef):          # (a nested function's too)
            if not isinstance(n, gast.Call):
                continue
            f = n.func
            name = f.id if isinstance(f, gast.Name) else f.attr if isinstance(f, gast.Attribute) else None
            target = _resolved(self.resolver, f)
            if name not in _SITE_NAMES and getattr(target, "__name__", None) not in _SITE_NAMES:
                continue
            for x in n.args[1:] + [k.value for k in n.keywords if k.arg not in (
                    "EnableHigherDerivatives", "RetainData", "AllowUnusedVariable")]:
                if isinstance(x, gast.Constant) and isinstance(x.value, (str, bool)) or x is None:
                    continue
                kinds = self._kinds(x.id) if isinstance(x, gast.Name) else None
                if not kinds or not all(isinstance(k, tuple) and k[:1] == ("dl",) for k in kinds):
                    return False
        return True

    def _constant_fields(self) -> FrozenSet[str]:
        """The attribute names every store of which in the function (on any object) is a constant (up to
        reads of such fields themselves, that hold none when the function begins): a fixed point."""
        if getattr(self, "_fields_memo", None) is not None:
            return self._fields_memo
        stores = [(n.targets[0].attr, n.value) for n in walk_no_defs(self.fdef) if isinstance(n, gast.Assign) and
                  len(n.targets) == 1 and isinstance(n.targets[0], gast.Attribute)]
        fields = frozenset(a for a, _ in stores)
        # (stored any other way, an augmented or deleted attribute, a tuple target: not one)
        for n in walk_no_defs(self.fdef):
            if isinstance(n, gast.Attribute) and isinstance(n.ctx, (gast.Store, gast.Del)) and \
                    not any(n is t for t in self._assign_targets()):
                fields = fields - {n.attr}
        self._fields_memo = frozenset()          # (a recursive question while it is computed: none)
        while True:
            self._constant_memo = {}
            smaller = frozenset(a for a in fields
                                if all(self._constant_value(v, fields) for b, v in stores if b == a))
            if smaller == fields:
                break
            fields = smaller
        self._fields_memo = fields
        return fields

    def _assign_targets(self) -> list:
        return [n.targets[0] for n in walk_no_defs(self.fdef) if isinstance(n, gast.Assign) and len(n.targets) == 1]

    def _changed_layout(self):
        """``(the attribute names the function sets or deletes, whether it writes an item or calls a method
        that may change a list or dict)``: where the arguments' kinds may no longer say what a field or an
        item holds."""
        memo = getattr(self, "_layout_memo", None)
        if memo is None:
            attrs, items = set(), False
            for n in walk_no_defs(self.fdef):
                if isinstance(n, gast.Attribute) and isinstance(n.ctx, (gast.Store, gast.Del)):
                    attrs.add(n.attr)
                elif isinstance(n, gast.Subscript) and isinstance(n.ctx, (gast.Store, gast.Del)):
                    items = True
                elif isinstance(n, gast.Call) and isinstance(n.func, gast.Attribute) and n.func.attr in MUTATORS:
                    items = True
            memo = self._layout_memo = (frozenset(attrs), items)
        return memo

    def _bindings(self, name: str) -> Optional[list]:
        """The values ``name`` is bound to in the function (None: bound some other way too)."""
        values = []
        for n in walk_no_defs(self.fdef):
            if isinstance(n, gast.Assign) and any(isinstance(m, gast.Name) and m.id == name and isinstance(m.ctx, gast.Store)
                                                  for t in n.targets for m in gast.walk(t)):
                if len(n.targets) != 1 or not isinstance(n.targets[0], gast.Name):
                    return None
                values.append(n.value)
            elif isinstance(n, gast.Name) and n.id == name and isinstance(n.ctx, (gast.Store, gast.Del)) and \
                    not any(n is t for t in self._assign_targets()):
                return None           # (a for loop's target, a deletion, ...)
            elif any(name == bound for _, bound in pattern_captures(n)):
                return None           # (a match pattern's capture: was read as the name's only binding)
        return values

    def _constant_value(self, value, fields, depth: int = 0) -> bool:
        """Has ``value`` no derivative, shown by its form alone (not by the activity the analysis reads of
        names, which a value bound or written some other way passes by: was a traced value taken for a
        constant after ``t = {}; t["m"] = mu``, ``with ... as c``, a ``match`` capture, a comprehension's
        list)?  Numbers; arithmetic, comparisons and if-expressions of such values; ``extractdata(...)``;
        numpy's functions of such values; an item of one by such keys; a field in ``fields`` (or one the
        function never sets) of objects whose kinds say it holds no traced value; a name of the
        function's own bound only to such values and read only as an operand (:meth:`_operand_only`); a
        parameter holding a plain number or array, never bound again; a global or closure value."""
        if depth > 12:
            return False
        again = lambda v: v is None or self._constant_value(v, fields, depth + 1)      # noqa: E731
        if isinstance(value, gast.Constant):
            return True
        if isinstance(value, gast.BinOp):
            return again(value.left) and again(value.right)
        if isinstance(value, gast.UnaryOp):
            return again(value.operand)
        if isinstance(value, gast.Compare):
            return again(value.left) and all(map(again, value.comparators))
        if isinstance(value, gast.IfExp):
            return again(value.test) and again(value.body) and again(value.orelse)
        if isinstance(value, gast.Slice):
            return again(value.lower) and again(value.upper) and again(value.step)
        if isinstance(value, gast.Tuple) and isinstance(value.ctx, gast.Load):
            return all(map(again, value.elts))              # (an index's: x[0, 1:])
        if isinstance(value, gast.Subscript):
            return again(value.value) and again(value.slice)
        if isinstance(value, gast.Attribute):
            if not isinstance(value.value, gast.Name) or \
                    value.attr not in fields and value.attr in self._changed_layout()[0]:
                return False
            kinds = self._object_kinds(value.value.id)
            return bool(kinds) and all(_untraced_field(k, value.attr) for k in kinds)
        if isinstance(value, gast.Call):
            from .runtime.dlarray import extractdata
            from .runtime import support
            target = _resolved(self.resolver, value.func)
            if target is extractdata:
                return True
            if target is support.inplace_result or _reading_method(value) and again(value.func.value):
                # (``t += v`` of numbers or arrays: ``t_add = t + v; t = rt.inplace_result(t_add, t)``;
                # ``c.mean(axis=0)`` of a constant ``c``)
                return all(again(a) for a in value.args) and all(again(k.value) for k in value.keywords)
            plain = target in (float, int, abs, round, min, max, len) or isinstance(target, np.ufunc) or \
                callable(target) and str(getattr(target, "__module__", None) or "").split(".")[0] == "numpy"
            return plain and not any(k.arg == "out" for k in value.keywords) and \
                all(again(a) for a in value.args) and all(again(k.value) for k in value.keywords)
        if not isinstance(value, gast.Name):
            return False
        name = value.id
        if name in self.param_kinds:
            kind = self.param_kinds[name]
            return self._bindings(name) == [] and isinstance(kind, tuple) and kind[:1] in (("nd",), ("num",)) \
                and self._operand_only(name)
        if name not in self.locals:
            return True                     # (a global's or a closure's value: a constant in sct)
        memo = getattr(self, "_constant_memo", None)
        if memo is None:
            memo = self._constant_memo = {}
        if name not in memo:
            memo[name] = False              # (a name bound from itself, in a loop: not proved)
            bound = self._bindings(name)
            memo[name] = bool(bound) and self._operand_only(name) and all(map(again, bound))
        return memo[name]

    def _operand_only(self, name: str) -> bool:
        """Is ``name`` read only as an operand of arithmetic or a comparison, or as the whole value bound
        to a name or stored in a field?  Then no write reaches the value it holds (was: ``t = {}`` then
        ``t["m"] = mu``, a list filled by a comprehension, ``box[0] = mu``, ``put(box, mu)``: a traced value
        written into what ``t``'s bindings said was a constant, stored on a layer, its derivative lost)."""
        allowed = set()
        for n in walk_nodes(self.fdef):          # (a nested function's too)
            if isinstance(n, gast.BinOp):
                allowed.update((id(n.left), id(n.right)))
            elif isinstance(n, gast.UnaryOp):
                allowed.add(id(n.operand))
            elif isinstance(n, gast.Compare):
                allowed.update(id(c) for c in [n.left] + list(n.comparators))
            elif isinstance(n, gast.Assign) and len(n.targets) == 1 and \
                    isinstance(n.targets[0], (gast.Name, gast.Attribute)):
                allowed.add(id(n.value))
            elif isinstance(n, gast.Call) and (_reading_method(n) or isinstance(n.func, gast.Attribute) and
                                               n.func.attr == "inplace_result"):
                allowed.update(id(a) for a in n.args)
                if _reading_method(n):
                    allowed.add(id(n.func.value))
        return all(id(n) in allowed for n in walk_nodes(self.fdef)
                   if isinstance(n, gast.Name) and n.id == name and isinstance(n.ctx, gast.Load))

    def _object_kinds(self, name: str) -> Optional[list]:
        """The kinds (from the arguments' kinds) of every object ``name`` may hold: an argument never bound
        again, or a name every binding of which is such a name or a field of one (``self = net.bn``);
        None where not known, or not all objects."""
        kinds = self._kinds(name)
        return kinds if kinds and all(isinstance(k, tuple) and k[:1] == ("obj",) for k in kinds) else None

    def _kinds(self, name: str, depth: int = 0) -> Optional[list]:
        """The kinds of every value ``name`` may hold, read as ``_object_kinds`` says (None: not known)."""
        if depth > 8:
            return None
        bound = self._bindings(name)
        if bound is None:
            return None
        if name in self.param_kinds:
            if bound:
                return None
            return [self.param_kinds[name]]
        if not bound:
            return None
        out = []
        for v in bound:
            if isinstance(v, gast.Name):
                inner = self._kinds(v.id, depth + 1)
            elif isinstance(v, gast.Attribute) and isinstance(v.value, gast.Name):
                inner = self._kinds(v.value.id, depth + 1)
                if inner is None or not all(isinstance(k, tuple) and k[:1] == ("obj",) for k in inner) or \
                        v.attr in self._changed_layout()[0]:
                    return None          # (``net.bn = BN2()`` in the function: the kind is the old field's)
                inner = [child_kind(k, v.attr) for k in inner]
            elif isinstance(v, gast.Call) and isinstance(v.func, gast.Attribute) and v.func.attr == "as_sequence" and \
                    len(v.args) == 1 and isinstance(v.args[0], gast.Name) and not v.keywords:
                # (what a for loop walks: a list or tuple as it is)
                inner = self._kinds(v.args[0].id, depth + 1)
                if inner is None or not all(isinstance(k, tuple) and k[:1] == ("seq",) for k in inner):
                    return None
            elif isinstance(v, gast.Subscript) and isinstance(v.value, gast.Name):
                # an item of a list or dict of layers: at a constant key, or any item
                inner = self._kinds(v.value.id, depth + 1)
                if inner is None or not all(isinstance(k, tuple) and k[:1] in (("seq",), ("map",)) for k in inner) or \
                        self._changed_layout()[1]:
                    return None          # (a list or dict changed in the function: its items' kinds may not hold)
                key = v.slice.value if isinstance(v.slice, gast.Constant) and \
                    isinstance(v.slice.value, (int, str)) and not isinstance(v.slice.value, bool) else None
                if key is None and not isinstance(v.slice, gast.Name):
                    return None
                items = []
                for k in inner:
                    children = dict(enumerate(k[2])) if k[0] == "seq" else \
                        dict(f for f in k[2] if isinstance(f, tuple) and len(f) == 2)
                    if key is None:
                        items.extend(children.values())
                    elif key in children:
                        items.append(children[key])
                    else:
                        return None
                inner = items
            else:
                return None
            if inner is None or not all(isinstance(k, tuple) for k in inner):
                return None
            out.extend(inner)
        return out

    def _call(self, s, node, result) -> None:
        """A call that may change its arguments or object in place (``result``: the name its
        value is assigned to, or None)."""
        func = node.func
        target = _resolved(self.resolver, func) if not (isinstance(func, gast.Attribute) and
                                                        isinstance(func.value, gast.Name) and
                                                        func.value.id in self.locals) else None
        args_active = any(self.is_active(a) for a in node.args) or \
            any(self.is_active(k.value) for k in node.keywords)
        if isinstance(target, np.ufunc) and len(node.args) > target.nin:
            # np.divmod(a, b, q, r), np.add(a, b, z): outputs given by position, written in place
            extra = len(node.args) - target.nin
            self.fail(s, f"{_dotted(func)}() is given {extra} output array{'s' if extra > 1 else ''} by position "
                      f"(after its {target.nin} input{'s' if target.nin > 1 else ''}) and writes into "
                      f"{'them' if extra > 1 else 'it'} in place, which sct does not follow; assign the "
                      f"result instead (`r = {_dotted(func)}(...)` with the inputs only)", _dotted(func))
        outs = [k for k in node.keywords if k.arg == "out" and not self._none_given(k.value)]
        method = func.attr if isinstance(func, gast.Attribute) and isinstance(func.value, gast.Name) and \
            func.value.id in self.locals and hasattr(np.ndarray, func.attr) else None
        # (no numpy function takes ``out`` first: a call with one argument passes none by position,
        # and its signature, read by inspect's tokenizer for a C function, is not needed)
        position = _out_position(target, method) if not outs and (
            len(node.args) > 1 or any(isinstance(a, gast.Starred) for a in node.args)) else None
        if not outs and position is not None and len(node.args) > position and \
                not self._none_given(node.args[position]):
            # np.sum(a, 0, None, z), np.dot(a, b, z), t.cumsum(0, None, z): out given by position (was:
            # not seen, the result written into z with no derivative, a silently zero gradient)
            outs = [gast.keyword(arg="out", value=node.args[position])]
            outs[0].sct_by_position = True
        if outs:
            # (an array method's own array is an input too: t.sum(out=z) with t traced)
            self._out_write(s, outs[0], args_active or (method is not None and self.is_active(func.value)))
            return
        if target is np.nan_to_num and args_active and _copy_not_true(node):
            # (was: z's NaN entries replaced in place, their derivative kept: a wrong gradient)
            self.fail(s, f"{_dotted(func)}(..., copy=False) replaces the entries of its argument in place, "
                      f"which sct does not follow; write `z = {_dotted(func)}(z)` (a new array) instead",
                      f"{_dotted(func)}")
        if target is not None and args_active and _overwrite_input_given(target, node):
            # np.median(x, overwrite_input=True) (np.quantile, np.percentile, the nan ones): numpy
            # reorders x in place, and the rule and later reads of x saw it reordered (red team K,
            # dec 25: a silently wrong gradient)
            self.fail(s, f"{_dotted(func)}(..., overwrite_input=...) may reorder the entries of its argument "
                      f"in place, which sct does not follow; leave overwrite_input out (numpy then works "
                      f"on a copy)", f"{_dotted(func)}")
        overwritten = _overwrite_given(target, node) if target is not None and args_active else None
        if overwritten:
            # scipy.linalg.solve(A, b, overwrite_b=True) (inv, cholesky, lu_factor, solve_triangular,
            # scipy.fft's overwrite_x...): scipy may write its results into the array given, where its
            # layout allows, and sct followed neither the change nor its derivative (red team L, dec 26:
            # `s = solve(A, b, overwrite_b=True)` then b read gave a silently wrong gradient)
            self.fail(s, f"{_dotted(func)}(..., {overwritten}=...) may write into its argument in place (scipy "
                      f"does where the array's layout allows), which sct does not follow; leave {overwritten} "
                      f"out (the argument is then left as it is)", f"{_dotted(func)}")
        fname_called = getattr(target, "__name__", "") if target is not None else ""
        writes_first = target is not None and (
            (fname_called in WRITING_FUNCTIONS and _is_numpy(target)) or _is_ufunc_method(target))
        if writes_first and node.args and isinstance(node.args[0], gast.Name):
            self._first_argument_write(s, func, node.args[0].id, args_active)
            return
        if target is not None and id(target) in _OPERATOR_WRITES and node.args:
            self._operator_write(s, func, node, target, args_active)
            return
        if isinstance(func, gast.Attribute) and isinstance(func.value, gast.Name) and \
                func.value.id in self.locals:
            if self._method_write(s, node, result, func.value.id, func.attr, args_active):
                return
        self._library_container_write(s, node, target, args_active)
        self._user_call(s, node, result, args_active)

    def _none_given(self, arg) -> bool:
        """Whether ``arg`` is None written out, a global (or closure) name holding None, or a local
        whose only binding is ``name = None`` (``out = None; np.cumsum(a, 0, None, out)``)."""
        if isinstance(arg, gast.Constant):
            return arg.value is None
        if isinstance(arg, gast.Name) and arg.id in self.resolver.locals:
            return _bound_to_none_only(self.fdef, arg.id)
        if not isinstance(arg, gast.Name):
            return False
        try:
            return self.resolver.resolve_name(arg.id) is None
        except Exception:
            return False

    def _library_container_write(self, s, node, target, args_active: bool) -> None:
        """A function sct runs as it is (a library's: ``heapq.heappush(h, x[0])``,
        ``random.shuffle(xs)``, ``bisect.insort(h, v)``) given a local list, dict or set together
        with traced values, or one holding them: it may store them into the container or reorder
        it, which sct does not follow (was: heappush's list read as constants, a zero gradient)."""
        info = self.activity.call_info(node)
        if info.kind != CallKind.PLAIN or target is None or _reads_only(target):
            return
        changer = _container_changer(target)
        for arg in list(node.args) + [k.value for k in node.keywords]:
            if isinstance(arg, (gast.Attribute, gast.Subscript)):
                # ``heapq.heappush(s.h, v)``, ``heapq.heappush(d["h"], v)``: a container reached
                # through a local object, list or dict (was: not checked, the item's derivative lost)
                root = arg
                while isinstance(root, (gast.Attribute, gast.Subscript)):
                    root = root.value
                if not isinstance(root, gast.Name) or root.id not in self.locals or \
                        not self._read_elsewhere(s, root.id):
                    continue
                if root.id in self.active or args_active or self.written_saved(s, root.id):
                    what = self._as_written(s, _dotted(node.func) or "this call")
                    spelled = _unparse(arg)
                    self.fail(s, f"{what}(...) is given {spelled} (part of {root.id}) and traced values, and it "
                              f"may store them into {spelled} or reorder it in place (sct cannot read it: it "
                              f"runs as it is), which sct does not follow; build the new value and assign it "
                              f"({spelled} = sorted({spelled} + [v]), {spelled} = {spelled} + [v])", what)
                continue
            if not isinstance(arg, gast.Name) or arg.id not in self.locals:
                continue
            z = arg.id
            kind = self.analysis.kinds.get(z)
            # a list the analysis does not know as one (``l = sorted(...)``, ``list(x)``,
            # ``list(map(float, x))``: kind None) is a container too unless z surely holds an array
            # or a number (was: bisect.insort(l, x[2]) / heapq.heappush(l, x[2]) into such a list
            # ran unseen, the new item's derivative silently lost)
            if not (self.activity.lists and z in self.activity.lists or
                    isinstance(kind, tuple) and kind[:1] in (("seq",), ("map",)) or
                    changer and (kind is None and not self.activity.array_receiver(z) or
                                 changer == "array")):
                continue
            if not self._read_elsewhere(s, z) and self.analysis.sharing(s, z) is None:
                continue          # (a list made for this call only: `bisect.bisect([0.0, 0.5], v)`;
                #                    not one another name holds too: `s_h = s.h`, an object's field)
            if z in self.active or args_active or self.written_saved(s, z):
                what = self._as_written(s, _dotted(node.func) or "this call")
                self.fail(s, f"{what}(...) is given the {('list' if z in self.activity.lists else 'container')} "
                          f"{z} and traced values, and it may store them into {z} or reorder it in place "
                          f"(sct cannot read it: it runs as it is), which sct does not follow; build the new "
                          f"value instead ({z} = sorted({z} + [v]), {z} = {z} + [v])", what)

    def _out_write(self, s, out, args_active: bool) -> None:
        """``f(..., out=z)``."""
        spelled = "out=" if not getattr(out, "sct_by_position", False) else "out (given by position)"
        for z in loaded_names(out.value):
            if z in self.active or args_active or self.written_saved(s, z):
                self.fail(s, f"{spelled.replace('out=', f'out={z}')} writes the result into {z} in place, "
                          f"which sct does not follow here; write `{z} = ...` with the result instead", spelled)
            if self.mode == "vjp" and _not_owned(self.analysis, s, z):
                self.fail(s, f"{self.fname}() writes into its caller's {z} with out=; return the new value "
                          "instead", "out=")

    def _first_argument_write(self, s, func, z: str, args_active: bool) -> None:
        """``np.copyto(z, ...)``, ``np.add.at(z, ...)``: numpy functions that write into their first
        argument."""
        if z in self.active or args_active or self.written_saved(s, z):
            name = func.attr if isinstance(func, gast.Attribute) else getattr(func, "id", "")
            if name == "fill_diagonal":
                # (np.fill_diagonal(z, v) of an unshared local z was made a new value before this)
                if not isinstance(s, gast.Expr):
                    self.fail(s, f"{_dotted(func)}() writes into {z} in place; sct follows it written as a "
                              f"statement of its own, `{_dotted(func)}({z}, v)` (or with wrap=), into a "
                              f"local array: write it so (it returns None)", f"{_dotted(func)}")
                why = self.analysis.sharing(s, z) or \
                    f"{z} may be a view of another array or an object this function did not make"
                self.fail(s, f"{_dotted(func)}() writes into {z} in place, and {why}; sct follows this write "
                          f"only into an array this function made that no other name, view or container "
                          f"shares: if nothing else need see the change, write `{z} = {z}.copy()` before "
                          f"it; else compute the new values (np.where, indexing)", f"{_dotted(func)}")
            if name in WRITING_FUNCTIONS and name != "copyto":
                # (np.copyto and np.add.at of an unshared array were made new values before this)
                instead = "a new array (np.where, indexing)"
                self.fail(s, f"{_dotted(func)}() writes into {z} in place, and sct does not "
                          f"differentiate that write; compute {instead} instead", f"{_dotted(func)}")
            row = self._row_of(z) if name == "copyto" else None
            if row:
                self.fail(s, f"{_dotted(func)}() changes {z} in place, a view of {row[0]}, which sct does not "
                          f"follow into {row[0]}; write `{row[0]}[{row[1]}] = value` instead of "
                          f"`{_dotted(func)}({z}, value)`", f"{_dotted(func)}")
            why = self.analysis.sharing(s, z)
            dotted = _dotted(func)
            if why is None and name == "at" and dotted.rsplit(".", 2)[-2:-1] not in (["add"], ["subtract"]):
                # (np.multiply.at, np.maximum.at of an unshared local: was told to copy it first, which
                # is refused the same way)
                self.fail(s, f"{dotted}() changes {z} in place, and sct follows np.add.at and np.subtract.at "
                          f"only; compute the new values instead (np.where, indexing, a loop of `{z}[i] = ...`)",
                          dotted)
            self.fail(s, f"{dotted}() changes {z} in place{f', and {why}' if why else ''}, which sct "
                      f"models only for a {z} this function created and no other name shares; write "
                      f"`{z} = {z}.copy()` first, or compute a new array", dotted)
        if self.mode == "vjp" and _not_owned(self.analysis, s, z):
            self.fail(s, f"{self.fname}() changes its caller's {z} with {_dotted(func)}(); return the new "
                      "value instead", f"{_dotted(func)}")

    def _operator_write(self, s, func, node, target, args_active: bool) -> None:
        """``operator.iadd(z, v)``, ``operator.setitem(z, i, v)``: the operator module's functions
        that change their first argument in place (an array, a list), which sct does not follow as
        it follows ``z += v`` and ``z[i] = v``: refused where anything traced takes part."""
        z = node.args[0]
        if not (args_active or (isinstance(z, gast.Name) and (z.id in self.active or self.written_saved(s, z.id)))):
            return
        spelled = _OPERATOR_WRITES[id(target)]
        self.fail(s, f"{_dotted(func)}() changes its first argument in place (an array's or a list's "
                  f"items), which sct does not differentiate through; write it as `{spelled}`",
                  _dotted(func))

    def _method_write(self, s, node, result, z: str, method: str, args_active: bool) -> bool:
        """``z.method(...)`` on a local: whether it is a mutator of a builtin or array (checked here)."""
        analysis, fail = self.analysis, self.fail
        if not (method in MUTATORS and analysis.builtin(s, z)):
            return False
        tracked = z in self.active or args_active
        modelled = method in ("append",) and len(node.args) == 1 and result is None or \
            method == "pop" and not node.args and not node.keywords
        if tracked and self.mode == "entry" and method == "append" and result is None and z in analysis.locals and \
                logged_number(self.fdef, s, node, z, analysis.locals, self.activity,
                              getattr(self.resolver, "globals", None) or {}):
            # log.losses.append(float(L)), self.history.append(float(loss)) with nothing after it that could
            # read the item: the number appended as a constant, as HIST.append(float(L)) (sct/logged_values.py)
            self.logged.append((s, node))
            self.activity.lists.discard(z)
            self.activity.active.discard(z)
            return True
        if tracked or self.written_saved(s, z):
            why = analysis.sharing(s, z)
            if not modelled:
                if why is None:
                    # an unshared value: a copy would be refused the same way; say what sct reads
                    instead = _NEW_VALUE_FOR.get(method, f"build the new value and assign it to {z}")
                    held = "an array, list or dict" if hasattr(np.ndarray, method) else "a list or dict"
                    fail(s, f"{z}.{method}(...) changes {z} in place, and sct does not differentiate "
                         f"{method}() on {held} holding traced values; {instead.format(z=z)}",
                         f"{z}.{method}")
                if method in ("pop", "popitem", "clear") and "is an argument of" in why and \
                        all(analysis.is_mapping(o) for o in analysis.objects(s, z)):
                    # (removing a key of the caller's dict: a copy would not remove it there; was told to
                    # copy it first. `del state[k]` is `state.pop(k)` here: sct/argument_deletes.py)
                    deleted = (getattr(s, "lineno", None), self.spell(z)) in getattr(self.fdef, "sct_deleted_items", ())
                    shown = self.spell(z)
                    spelled = f"del {shown}[...]" if deleted else f"{shown}.{method}(...)"
                    fail(s, f"{spelled} removes an item of {shown}, a dict {self.fname}() was given and writes traced values "
                         f"into; sct follows writes of items into such a dict, not removing them. Keep "
                         f"the temporary value in a local name instead of an item of {shown}, or remove the key "
                         f"after dlfeval returns (`{shown}.pop(key, None)`)", spelled)
                fail(s, f"{z}.{method}(...) changes {z} in place, and {why}; write "
                     f"`{z} = {z}.copy()` (or `list({z})`) before changing it, or build "
                     "a new value", f"{z}.{method}")
            if why is not None and method == "append" and args_active and "did not create" in why:
                # (a log of the loss kept on an object from outside: a copy would not reach the caller's list;
                # was told to copy the list first)
                shown = self.spell(z)
                reason = why_not_logged(self.fdef, s, node, self.activity,
                                        getattr(self.resolver, "globals", None) or {})
                if reason is not None:
                    fail(s, f"{shown}.append(...) logs float() (int()) of a traced value into {shown}, a list from "
                         f"outside {self.fname}(): sct differentiates float(), and logs its number as a constant only "
                         f"where nothing later in the call can read the list; here {reason}. Append a number with "
                         f"no derivative, `{shown}.append(float(extractdata(x)))` (`{shown}.append(extractdata(x))` "
                         f"for an array), or collect the numbers in a list of the function's own and return it",
                         f"{shown}.append")
                fail(s, f"{shown}.append(...) stores a traced value in {shown}, a list from outside "
                     f"{self.fname}(), whose items sct does not follow; append a plain value, "
                     f"`{shown}.append(extractdata(x))` (`{shown}.append(float(extractdata(x)))` for a number), "
                     f"which carries no gradient, or keep the traced values in a list of the function's own "
                     f"and return it (`float(x)` is logged as it is only where nothing after the append reads "
                     f"or changes an outside object)", f"{shown}.append")
            if why is not None and method in ("append", "extend", "insert") and args_active and \
                    "is an argument of" in why:
                # (a log into the caller's list: a copy would no longer fill it, which is the point of the
                # code; was told to copy it first, red58b R2)
                shown = self.spell(z)
                reason = why_not_logged(self.fdef, s, node, self.activity,
                                        getattr(self.resolver, "globals", None) or {})
                if reason is not None and method == "append":
                    fail(s, f"{shown}.append(...) logs float() (int(), .item()) of a traced value into {shown}, a "
                         f"list the caller gave {self.fname}(): sct differentiates float(), and logs its number as "
                         f"a constant only where nothing later in the call can read the list; here {reason}. "
                         f"Append a number with no derivative, `{shown}.append(float(extractdata(x)))` (a copy, "
                         f"`{shown} = list({shown})`, would no longer fill the caller's list), or return the "
                         f"values and extend the list after dlfeval", f"{shown}.append")
                fail(s, f"{shown}.{method}(...) stores a traced value in {shown}, a list the caller gave "
                     f"{self.fname}(), whose items sct does not follow (a copy, `{shown} = list({shown})`, would "
                     f"no longer fill the caller's list); append Python numbers, `{shown}.{method}(float(v))` "
                     f"(or `float(extractdata(v))`, `extractdata(v)` for an array), or return the values and "
                     f"extend the list after dlfeval", f"{shown}.{method}")
            if why is not None:
                fail(s, f"{z}.{method}(...) changes {z} in place, and {why}; sct follows the "
                     f"new value through {z} only. Write `{z} = list({z})` (or "
                     f"`{z}.copy()`) first", f"{z}.{method}")
            if not tracked:
                self.force.add(id(s))
        elif self.mode == "vjp" and method in ARRAY_MUTATORS and _not_owned(analysis, s, z):
            fail(s, f"{self.fname}() changes its caller's {z} with {z}.{method}(); return the new "
                 "value instead", f"{z}.{method}")
        return True

    def _user_call(self, s, node, result, args_active: bool) -> None:
        """A call of the user's function or method that is not differentiated through its pair."""
        activity, active = self.activity, self.active
        info = activity.call_info(node)
        if info.kind not in (CallKind.FUNCTION, CallKind.METHOD) or info.rule is not None:
            return
        analysis = self.analysis
        if info.kind == CallKind.METHOD and info.method in registry.NONDIFF_METHODS and \
                activity.array_receiver(info.receiver):
            return          # x.argmax(), x.argsort(), x.nonzero() of an array: nothing changed in place
        if info.kind == CallKind.METHOD and info.method in registry.NONDIFF_METHODS and \
                (hasattr(np.ndarray, info.method) or info.method in _NUMBER_METHODS) and \
                info.method not in ("keys", "index", "count") and \
                info.receiver is not None and info.receiver in active and \
                not activity.user_receiver(info.receiver) and \
                getattr(self.fdef, "sct_number_guards", None) is not None:
            # t.any(), t.argmax() of a traced value not known to be an array when compiling (t = q.w * q.b
            # of a namedtuple q): numpy's method, with no derivative, when the run finds an array or a
            # number there; an object of the user's class with such a method is refused then
            what = self._as_written(s, f"{info.receiver}.{info.method}")
            self.fdef.sct_number_guards.append(NumberGuard(
                s, info.receiver,
                f"{what}(...) of an object of the user's class {{type}}, whose method sct does not follow "
                f"(it may change the object in place); return the new values from it and assign them, "
                f"or call it on an array", check="require_array_value"))
            return
        if info.kind == CallKind.METHOD and info.method in ("keys", "count", "index") and \
                info.receiver is not None and analysis.builtin(s, info.receiver):
            return          # p.keys() of a dict (sorted(p.keys())), xs.count(v): read only, no traced result
        # (a statement of a def nested in this one: its names are the nested def's, not in this
        # function's activity; its traced value is a pair's as this function's would be. Was: a
        # nested def's `log_qs = helper(vmp, samples)` refused as a call 'that may change its
        # arguments', autograd's mixture_variational_inference.py)
        through_pair = result is not None and (result in active or self._in_nested_def) and \
            activity.value_active(node)
        if through_pair:
            return
        receiver_active = info.receiver is not None and info.receiver in active or \
            self._function_value_of_active(node.func)
        touches_saved = any(self.written_saved(s, n) for n in loaded_names(node)
                            if n in analysis.locals and not self._immutable_parameter(s, n) and
                            not self._library_function_name(n))
        if not (args_active or receiver_active or touches_saved):
            return
        callee = _callee(info, node, activity, self.resolver, analysis, s)
        if callee is None and not args_active and not receiver_active and \
                not _reaches_saved_locals(analysis, s, node, self.saved(s)):
            # a method of an object that is not of the user's classes (rng.random(3)), given
            # no traced value and nothing an adjoint reads: it changes nothing sct follows
            return
        # with no traced argument, a callee may set attributes of its object to what it
        # computes from its arguments (super().__init__(), counters): nothing traced moves
        if callee is None and info.kind == CallKind.FUNCTION and info.obj is None and \
                isinstance(node.func, gast.Name) and self._pure_local_def(node.func.id):
            return          # f = lambda v: np.tanh(v) * w; f(t): its source shows it changes nothing
        if callee is None and info.kind == CallKind.FUNCTION and info.obj is None and \
                _pure_item_call(self.fdef, node.func, self._pure_local_def):
            return          # fs[1](1.5) of fs = [lambda u, k=k: u * k for k in ...] (fuzz52 R4)
        if callee is not None and info.kind == CallKind.FUNCTION and \
                self._pure_given_none(s, node, callee, self_attributes=not args_active):
            return          # show(ax, x) with ax None: its plotting under ``if ax:`` never runs
        if not receiver_active and self._logging_call(s, node):
            return          # log.info("%f", loss): logging's own code reads the values (checked when it runs)
        if not args_active and info.kind == CallKind.FUNCTION and _storing_dataclass(info.obj):
            return          # TrainState(state.step + 1, state.lr): its __init__ stores them in the new object
            #                 (was: "may change its arguments or its object in place", red56c F5)
        if not (args_active or receiver_active) and self._counting_getter(node, callee):
            pass                # cfg["sched"].lr of a getter counting its steps (sct/properties.py counting_getter)
        elif callee is None or not _pure(callee, self_attributes=not args_active):
            if callee is None and not (args_active or receiver_active) and \
                    self._str_method_guarded(s, node, info):
                return          # name.startswith("kl") of `for name, wt in d.items()`: checked a str when it runs
            what = _dotted(node.func) or "this call"
            if info.kind == CallKind.METHOD and _super_class(info.receiver, analysis, self.resolver) is not None:
                what = f"super().{info.method}"      # (not the name normalizing gave the proxy)
            given = "is called with traced values" if args_active or receiver_active else \
                "is given values that earlier differentiated operations read"
            # (as written before the advice names it: was the normalizer's out_bump.bump in the advice for
            # ``bf.bump(b).bump(0.1)``, fuzz51 F4)
            what = self._as_written(s, what)
            hint = (" (sct reads a base __init__ in place where it only sets attributes of self from "
                    "its parameters: self.w = w, self.b = 2 * b)") if what.endswith("__init__") else ""
            advice = f"return the new values from {what}() and assign them{hint}"
            if self.mode == "entry" and info.kind == CallKind.METHOD and \
                    result is None and info.receiver is not None and \
                    logged_number(self.fdef, s, node, info.receiver, analysis.locals, activity,
                                  getattr(self.resolver, "globals", None) or {}):
                # HIST.append(float(L)) with nothing after it that could read the item (was: refused
                # as "called with traced values", the everyday log of the loss; red team 51): the number
                # appended as a constant (sct/logged_values.py), the call then run as any call for its
                # effect on an outside object (rt.effect, replayed where code is recomputed)
                self.logged.append((s, node))
                activity.lists.discard(info.receiver)       # (holds no traced value: the next activity's too)
                activity.active.discard(info.receiver)
                return
            if info.kind == CallKind.METHOD and info.method in _KEEPERS and args_active and \
                    info.receiver not in analysis.locals and \
                    (callee is None or getattr(callee, "__module__", None) is None):
                # history.append(loss) into a list or dict from outside (a log of the losses)
                advice = (f"keep a plain value there (`{what}(float(extractdata(x)))` or "
                          f"`{what}(extractdata(x))`, which carry no gradient), or return the traced "
                          "value from the function")
                number = number_source(self.fdef, node, activity, getattr(self.resolver, "globals", None) or {})
                if number is not None:
                    # history.append(float(y)) where sct cannot prove no read of the item follows (was the
                    # advice above alone, which reads as what the user wrote: red55h F2)
                    where = (f"in {self.fdef.name}(), a function the differentiated code calls (or given to "
                             f"sct.hvp or sct.jvp), sct cannot prove that no code reads the item back before the "
                             f"gradient (its caller's is not seen here)") if self.mode != "entry" else \
                        f"code after it in {self.fdef.name}() may read the item back before the gradient"
                    src = number[:-7] if number.endswith(".item()") else number[number.index("(") + 1:-1]
                    advice = (f"{number} of a traced value is that value as a Python number, which sct "
                              f"differentiates, and {where}, where its derivative would be lost. Append a "
                              f"number without derivative: `{what}(float(extractdata({src})))`, or log it in the "
                              f"function given to dlfeval, after nothing but arithmetic, dlgradient and return")
            elif getattr(node, "sct_recomputed_setter", False):
                # m.step(g, lr) setting m.W between two dlgradient calls (was: "return the new values from
                # m.step()", which is not why, fuzz51 R2): as the same write made inline is refused
                written = self._as_written(s, what)
                receiver = written.rsplit(".", 1)[0]
                self.fail(s, f"{written}() sets attributes of {receiver}, an object from outside {self.fdef.name}(), "
                          f"in a function that takes more than one gradient: sct reads such a method in place "
                          f"there only on an object {self.fdef.name}() builds itself, and does not follow an "
                          f"outside object's fields as they change between gradients (as `{receiver}.field = ...` "
                          f"written inline is refused). Keep the values in names (`v = {receiver}.field`, "
                          f"`v = v - lr * g`) and differentiate with respect to those names, or update "
                          f"{receiver} outside the differentiated function", written)
            elif self._property_read(node) is not None:
                # (was: "__sct_property_3_Sched_lr(...) is given values ...; return the new values from
                # __sct_property_3_Sched_lr()", sct's internal name for a getter, red57a F4)
                prop, receiver = self._property_read(node, s)
                self.fail(s, f"reading {receiver}.{prop} runs the getter of the property {prop} of its class, "
                          f"which may change {receiver} in place, and {receiver} may hold values that earlier "
                          f"differentiated operations read, which sct does not follow; read {receiver}.{prop} "
                          f"before the differentiated operations, or pass the object to the function as an "
                          f"argument of its own", f"{receiver}.{prop}")
            elif _library_callee(callee) or callee is None and self._library_receiver(info):
                # (a library's function or method: logging, a formatter: the user cannot change it)
                advice = ("give it plain values (extractdata(x), float(extractdata(x))), which carry "
                          "no gradient, or make the call outside the differentiated function")
            self.fail(s, f"{what}(...) {given}{' and its result is not used' if result is None else ''}, "
                      f"and it may change its arguments or its object in place, which sct does not follow; "
                      f"{advice}", what)
        if callee is not None and not args_active:
            self._fields_reset(s, node, info, callee)

    def _fields_reset(self, s, node, info, callee) -> None:
        """A method left as a call that sets a field the function follows by name between a traced write of it
        and a read (was: the read's adjoint went on into the value written before, a wrong gradient; red team
        52 F1, sct/fields_reset.py): refused."""
        from .fields_reset import reset_field
        receivers = [info.receiver if info.kind == CallKind.METHOD else None] + \
            [a.id for a in node.args[:1] if isinstance(a, gast.Name)]
        field = reset_field(self, s, receivers, callee)
        if field is None:
            return
        what = self._as_written(s, _dotted(node.func) or "this call")
        field = self.spell(field)
        owner = field.rsplit(".", 1)[0]
        self.fail(s, f"{what}() is a method sct does not read in place, and it may set fields of {owner}, whose "
                  f"fields {self.fname}() follows by name: it sets {field}, which this function writes a traced "
                  f"value to before the call and reads after it (sct would send the derivative of that read on "
                  f"into the value the call replaced). Set the field in the function itself "
                  f"(`{field} = ...`), or make the call before the first write or after the last read", what)

    def _implicit_resets(self, s) -> None:
        """``if cell:``, ``with cell:``, ``len(cell)``, ``print(cell)``, ``f"{cell}"``, ``3 in cell``... where the
        object's class has a dunder of its own that sct does not read in place (Python runs it: another module's
        mixin) that may set a field the function follows by name, between a traced write of it and a read (was: no
        call node, so no check: the read's derivative went on into the value the dunder replaced, a wrong
        gradient; red team 52 F14, sct/fields_reset.py): refused."""
        from .fields_reset import ANY, classes_run, dunder_fields, implicit_calls, reset_field
        for name, construct, dunders in implicit_calls(s):
            kind = self.activity.kinds.get(name)
            for cls, dunder in classes_run(kind, self._built_class(name) if kind is None else None, dunders):
                fields = dunder_fields(cls, dunder)
                field = reset_field(self, s, [name], fields=fields) if fields is ANY or fields else None
                if field is None:
                    continue
                field = self.spell(field)
                sets = f"it sets {field}" if fields is not ANY else \
                    f"it may set any field of {self.spell(name)} or of the objects it reaches, {field} among them"
                self.fail(s, f"{construct} runs {cls.__name__}.{dunder}() (of "
                          f"{getattr(getattr(cls, dunder), '__module__', '?')}), Python code sct does not read in "
                          f"place, on {self.spell(name)}, whose fields {self.fname}() follows by name: {sets}, which "
                          f"this function writes a traced value to before and reads after (sct would send the "
                          f"derivative of that read on into the value {dunder}() may have replaced). Set the field "
                          f"in the function itself (`{field} = ...`), or do this before the first write or after "
                          f"the last read", construct)

    def _built_class(self, name: str):
        """The class every binding of the local ``name`` builds (``c = Cell()``), or None."""
        built = getattr(self, "_built", None)
        if built is None:
            found: dict = {}
            for st in _statements(self.fdef.body):
                for t in (st.targets if isinstance(st, gast.Assign) else [getattr(st, "target", None)]):
                    for n in (gast.walk(t) if t is not None else ()):
                        if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Store):
                            cls = None
                            if n is t and isinstance(getattr(st, "value", None), gast.Call):
                                try:
                                    cls = self.resolver.resolve(st.value.func)
                                except Exception:
                                    cls = None
                            found.setdefault(n.id, set()).add(cls if isinstance(cls, type) else None)
            built = self._built = {k: next(iter(v)) for k, v in found.items() if len(v) == 1}
        return built.get(name)

    def _str_method_guarded(self, s, node, info) -> bool:
        """``k.startswith("kl")``, ``k.upper()`` on a local ``k`` that may share an object with what an
        adjoint reads only as the key beside a value (``for name, wt in weights.items()``, the pair's
        items not told apart: was refused as a call that may change ``wt``, red team 52 FR2), given
        nothing else an adjoint reads: a str's method changes nothing, so the run checks that ``k``
        is a str (``type(k) is str``; anything else is refused there) and the call is left as it is."""
        func = node.func
        if info.kind != CallKind.METHOD or not isinstance(func, gast.Attribute) or \
                not isinstance(func.value, gast.Name) or func.value.id != info.receiver or \
                not hasattr(str, func.attr) or func.attr.startswith("_") or \
                getattr(self.fdef, "sct_number_guards", None) is None or \
                any(g.stmt is s for g in self.fdef.sct_number_guards) or not _in_blocks(self.fdef.body, s) or \
                getattr(s, "sct_loop_test", False):
            # (a while loop's test: was guarded once before the loop, its re-test after the body rebound
            # the name left unchecked, a user object's startswith run unfollowed: redfix52 F4)
            return False
        analysis = self.analysis
        for arg in list(node.args) + [k.value for k in node.keywords]:
            if any(self.written_saved(s, n) for n in loaded_names(arg)
                   if n != info.receiver and n in analysis.locals and not self._immutable_parameter(s, n)):
                return False            # (an argument an adjoint reads: "{}".format(w) may run w's code)
        # (named by the method: the receiver may be a name the normalizer made, k_1 for a comprehension's k)
        self.fdef.sct_number_guards.append(NumberGuard(
            s, info.receiver,
            f".{func.attr}() is called on a {{type}} here, not on a str: a method of another class may change "
            f"values that earlier differentiated operations read, which sct does not follow; use str keys, or "
            f"return the new values from the method and assign them", check="require_str"))
        return True

    def _library_function_name(self, name: str) -> bool:
        """Is the local ``name`` bound once, to a numpy, scipy or math function, a numpy ufunc or an op
        sct has a rule for, read from its module (``np_sin = np.sin``, the name normalizing gives ``make_scaled(np.sin, 3.0)``'s
        argument)?  Such a function is no array an adjoint reads: given to a helper (a closure
        factory, autograd's ``symmetrize_matrix_arg(mvn.pdf, 2)``) it changes nothing sct saved (was:
        taken for any outside object, which may be the function's argument, and the factory's call
        refused after the first differentiated operation)."""
        import types
        from .ir import store_counts
        if store_counts(self.fdef).get(name) != 1:
            return False
        values = [n.value for n in walk_no_defs(self.fdef) if isinstance(n, gast.Assign) and
                  len(n.targets) == 1 and isinstance(n.targets[0], gast.Name) and n.targets[0].id == name]
        if len(values) != 1 or not isinstance(values[0], gast.Attribute):
            return False
        value = _resolved(self.resolver, values[0])
        owner = _resolved(self.resolver, values[0].value) if value is None else None
        if owner is not None and (type(owner).__module__ or "").startswith("scipy.stats"):
            value = getattr(owner, values[0].attr, None)     # mvn.logpdf: a method of scipy's object
        if isinstance(value, (np.ufunc, types.BuiltinFunctionType)) or \
                type(value).__module__ == "numpy" and type(value).__name__ == "_ArrayFunctionDispatcher":
            return True         # (np.dot, np.sum: numpy's dispatchers of its functions)
        module = getattr(value, "__module__", None) or ""
        if isinstance(value, types.FunctionType) and module.split(".")[0] in ("numpy", "scipy", "math"):
            return True
        from .rules import EFFECTFUL_OPS
        try:        # an op sct has a rule for (scipy.stats' mvn.logpdf, a bound method of its object)
            return value is not None and registry.lookup(value) is not None and id(value) not in EFFECTFUL_OPS
        except Exception:
            return False

    def _pure_given_none(self, s, node, callee, self_attributes: bool) -> bool:
        """Does the plain function ``callee`` change nothing in place once the tests on its parameters
        this call gives None (a literal None, or a parameter of this function given None, holding its
        argument only: sct/none_branches.py) are folded?"""
        code = getattr(callee, "__code__", None)
        if code is None or not hasattr(callee, "__globals__") or \
                any(isinstance(a, gast.Starred) for a in node.args):
            return False
        params = code.co_varnames[:code.co_argcount + code.co_kwonlyargcount]
        given = list(zip(params[:code.co_argcount], node.args)) + \
            [(k.arg, k.value) for k in node.keywords if k.arg in params]
        mine = getattr(self.fdef, "sct_none_parameters", frozenset())
        defaulted = getattr(self.fdef, "sct_none_checked", frozenset())
        none, checked = set(), []
        for p, a in given:
            if isinstance(a, gast.Constant) and a.value is None:
                none.add(p)
            elif isinstance(a, gast.Name) and (a.id in mine or a.id in defaulted) and \
                    self._immutable_parameter(s, a.id):
                none.add(p)
                if a.id not in mine:
                    checked.append(a.id)
        if not none or len(checked) > 1 or getattr(self.fdef, "sct_number_guards", None) is None:
            return False
        from .parse import function_ast
        try:
            gdef = function_ast(callee)[0]
        except Exception:       # noqa: BLE001  (no source: unsure)
            return False
        folded = folded_copy(gdef, none)
        if folded is None or not _pure_source(callee, folded, self_attributes=self_attributes):
            return False
        for name in checked:
            # (None where this code was compiled, left to its default or given by a caller: the run
            # checks it is None still, as another call may give it by keyword)
            what = self._as_written(s, _dotted(node.func) or "this call")
            self.fdef.sct_number_guards.append(NumberGuard(
                s, name, f"{what}(...) is given {name} that is not None, where sct compiled "
                f"{self.fname}() for {name} None (so that the code of {what}() run only when it is given "
                f"a value was left out); pass {name} by position, or make the call outside the "
                "differentiated function", check="require_none"))
        return True

    def _immutable_parameter(self, s, name: str) -> bool:
        """Does ``name`` hold, at ``s``, only the value of a parameter of a kind nothing changes in place
        (None, a bool, int, float, complex, str or bytes: ``xtest=None`` given on to a helper)?  A callee
        cannot change such a value (was: ``cov_map(k, xtest)`` with xtest None, read by an earlier call's
        adjoint, refused as a call that may change its argument)."""
        kind = self.activity.kinds.get(name)
        if not (isinstance(kind, tuple) and len(kind) == 2 and kind[0] == "const" and
                kind[1] in (type(None), bool, int, float, complex, str, bytes)):
            return False
        objs = self.analysis.objects(s, name)
        return all(isinstance(o, tuple) and o and o[0] == "arg" and o[1] == name for o in objs)

    def _pure_local_def(self, name: str) -> bool:
        """Is ``name`` bound to a def (or lambda) nested in this function, and nothing else, whose
        source shows it changes nothing in place?"""
        d = local_def(self.fdef, name)
        fn = getattr(self.resolver, "fn", None)
        return d is not None and nested_pure(d, fn, set(self.locals) | set(_parameter_names(self.fdef)))

    def _function_value_of_active(self, func) -> bool:
        """Is ``func`` a local name bound to a value made from a traced one (``f = c.double``,
        ``f = partial(C.double, c)``, ``for f in [c.double]``): calling it may change that object,
        given no traced argument (``f()``: was not checked, and c.h's change lost)."""
        while isinstance(func, gast.Subscript):          # fs["d"](): the container's binding
            func = func.value
        if not isinstance(func, gast.Name) or func.id not in self.analysis.locals:
            return False
        for n in walk_no_defs(self.fdef):
            if isinstance(n, gast.Assign) and any(isinstance(t, gast.Name) and t.id == func.id for t in n.targets):
                value = n.value
            elif isinstance(n, (gast.For, gast.comprehension)) and \
                    func.id in {m.id for m in gast.walk(n.target) if isinstance(m, gast.Name)}:
                value = n.iter
            else:
                continue
            if any(name in self.active for name in loaded_names(value)):
                return True
        return False

    def _read_elsewhere(self, s, z: str) -> bool:
        """Whether ``z`` is read by a statement other than ``s`` (so a change in place would show)."""
        inside = {id(n) for n in walk_no_defs(s)}
        return any(isinstance(n, gast.Name) and n.id == z and isinstance(n.ctx, gast.Load) and id(n) not in inside
                   for n in walk_no_defs(self.fdef))

    def _logging_call(self, s, node) -> bool:
        """Is ``node`` ``log.info("%f", loss)`` (debug, warning, error, critical, exception) of logging's
        module or of a ``logging.Logger`` (a global one, or one made here by ``logging.getLogger(...)``),
        given arrays and numbers (was: refused as a call that may change its arguments, the loss printed
        by MATLAB's users with logging)?  logging's own code only formats them; the run checks
        (rt.require_logger) that the logger is logging's and that no handler, formatter or filter of the
        user's, which could change an array in place, is on its way."""
        import logging
        func = node.func
        if not (isinstance(func, gast.Attribute) and isinstance(func.value, gast.Name)) or \
                func.attr not in _LOG_METHODS or self.resolver is None or \
                getattr(self.fdef, "sct_number_guards", None) is None:
            return False
        receiver, method = func.value.id, func.attr
        if any(not isinstance(a, (gast.Name, gast.Constant)) for a in node.args) or \
                any(k.arg not in ("exc_info", "stack_info", "stacklevel") or
                    self.activity.value_active(k.value) for k in node.keywords) or receiver in self.active:
            return False
        owner = _resolved(self.resolver, func.value)
        known = owner is logging or type(owner) in (logging.Logger, logging.RootLogger)
        if not known and owner is None:
            values = [n.value for n in walk_no_defs(self.fdef) if isinstance(n, gast.Assign) and
                      len(n.targets) == 1 and isinstance(n.targets[0], gast.Name) and
                      n.targets[0].id == receiver]
            known = len(values) == 1 and isinstance(values[0], gast.Call) and \
                _resolved(self.resolver, values[0].func) is logging.getLogger
        if not known:
            return False
        traced = [a.id for a in node.args if isinstance(a, gast.Name) and a.id in self.active]
        displays = (gast.List, gast.Tuple, gast.Dict, gast.Set, gast.ListComp, gast.DictComp, gast.SetComp)
        if any(self.activity.user_receiver(n) or kind_traced(self.param_kinds.get(n)) and
               not self.activity.array_receiver(n) for n in traced) or \
                any(isinstance(n, gast.Assign) and isinstance(n.value, displays) and
                    any(isinstance(t, gast.Name) and t.id in traced for t in n.targets)
                    for n in walk_no_defs(self.fdef)):
            return False        # (a list, an object of the user's class: its repr may be the user's code)
        what = self._as_written(s, f"{receiver}.{method}")
        self.fdef.sct_number_guards.append(NumberGuard(
            s, receiver,
            f"{what}(...) is given {{part}}, which may change the logged values in place, which sct does not "
            f"follow; log numbers (`float(extractdata(x))`) or `extractdata(x).copy()`, or make the call "
            f"outside the differentiated function",
            check="require_logger", values=tuple(traced)))
        return True

    def _library_receiver(self, info) -> bool:
        """Whether the object of a method call was made by a library's function or class
        (``logging.getLogger("t").warning(...)``, ``csv.writer(f).writerow(...)``)."""
        import inspect
        if info.kind != CallKind.METHOD or not info.receiver:
            return False
        values = [n.value for n in walk_no_defs(self.fdef) if isinstance(n, gast.Assign) and
                  len(n.targets) == 1 and isinstance(n.targets[0], gast.Name) and n.targets[0].id == info.receiver]
        if len(values) != 1 or not isinstance(values[0], gast.Call) or self.resolver is None:
            return False
        maker = self.resolver.resolve(values[0].func)
        module = inspect.getmodule(maker) if callable(maker) else None
        return _library_callee(maker) or module is not None and \
            _library_file_of(getattr(module, "__file__", None))

    def _unnamed_call_result(self, s, name: str) -> Optional[str]:
        """The user's text of the call whose result the normalizer named ``name`` for a write into it
        (``np.einsum("ii->i", K)[...] += v``: ``t_einsum``), where the user's line does not name it
        and the name is bound once, to a call; else None."""
        from .parse import source_line
        text = source_line(self.filename, getattr(s, "lineno", 0)) or ""
        if not text or re.search(r"(?<![\w.])" + re.escape(name) + r"\b", text):
            return None
        values = self._values_bound(name)
        if len(values) != 1 or not isinstance(values[0], gast.Call):
            return None
        target = text.strip()
        m = re.match(r"(.*?)\s*(\[.*\])?\s*(\+|-|\*|/|\*\*|//)?=[^=]", target)
        if m is None:
            return None
        head = m.group(1)
        # the call's text: the written target without its last index (``np.einsum("ii->i", K)``)
        depth = 0
        for i in range(len(head) - 1 if head.endswith("]") else -1, -1, -1):
            c = head[i]
            if c == "]":
                depth += 1
            elif c == "[":
                depth -= 1
                if depth == 0:
                    head = head[:i]
                    break
        return head if head.endswith(")") else None

    def _values_bound(self, name: str) -> list:
        """The values the function's assignments ``name = value`` bind (in order)."""
        return [n.value for n in walk_no_defs(self.fdef) if isinstance(n, gast.Assign) and
                len(n.targets) == 1 and isinstance(n.targets[0], gast.Name) and n.targets[0].id == name]

    def _view_bases(self, s, name: str) -> str:
        """The user's arrays the call bound to ``name`` reads (its receiver and arguments)."""
        values = self._values_bound(name)
        names = [n for n in loaded_names(values[0]) if n in self.analysis.locals] if values else []
        names = [self._spelled().get(n, n) for n in dict.fromkeys(names)]
        return " or ".join(names) if names else "the array it was called on"

    def _property_read(self, node, at=None):
        """(the property's name, its object as the user wrote it) for the getter's call sct/properties.py wrote for
        the read ``obj.name`` of a property (``__sct_property_3_Sched_lr(cfg_sched)``), else None."""
        func = node.func
        if not (isinstance(func, gast.Name) and func.id.startswith("__sct_property_") and len(node.args) == 1):
            return None
        made = getattr(self.resolver, "__dict__", {}).get("property_getters") or {}
        prop = next((name for (_, name), key in made.items() if key == func.id), None)
        if prop is None:
            return None
        arg = node.args[0]
        receiver = self.spell(arg.id) if isinstance(arg, gast.Name) else "the object"
        users = getattr(self.fdef, "sct_user_names", None)
        if users is not None and receiver not in users and not re.search(r"[.\[]", receiver):
            # (a name sct made, ``s_1`` for the ``s`` of ``sum(y * s.lr for s in scheds)``: the receiver as the
            # line writes it, where it writes one; was "the value of this line's expression.lr", red57b R2)
            from .parse import source_line
            text = source_line(self.filename, getattr(node, "lineno", None) or getattr(at, "lineno", 0) or 0) or ""
            found = set(re.findall(r"(?<![\w.])([A-Za-z_][\w.]*(?:\[[^\]\[]*\])*)\s*\.\s*" + re.escape(prop) +
                                   r"\b", text))
            receiver = found.pop() if len(found) == 1 else receiver
        return prop, receiver

    def _counting_getter(self, node, callee) -> bool:
        """Is ``node`` the call of a property's getter (``_property_read``) that changes only number fields of its
        object, of a known kind (sct/properties.py ``counting_getter``)?"""
        if callee is None or self._property_read(node) is None:
            return False
        from .argument_writes import argument_kind, closed_object
        from .properties import counting_getter
        self._python_type(None)         # (the type facts, made once)
        # (its number fields still numbers when it runs: the function sets no field and calls nothing else of the
        # user's, and reads the object only for its fields and by this getter; its kind says what they were)
        return isinstance(node.args[0], gast.Name) and \
            counting_getter(callee, argument_kind(node.args[0], self._type_facts, fields=True)) and \
            closed_object(self.fdef, node.args[0].id, self.activity, callee)

    def _as_written(self, s, what: str) -> str:
        """``what`` (a dotted callee) as the user wrote it where the normalizer named a part
        (``out_getLogger.warning`` for ``logging.getLogger("t").warning``): the call's text."""
        from .parse import source_line
        head = what.split(".")[0]
        text = source_line(self.filename, getattr(s, "lineno", 0)) or ""
        if not head or re.search(r"(?<![\w.])" + re.escape(head) + r"\b", text) or "(" not in text or \
                ";" in text or re.match(r"\s*(def|lambda|async)\b", text):
            return what
        call = text.strip()
        call = call.split("=", 1)[1].strip() if re.match(r"[\w.\[\]'\", ]+=[^=]", call) else call
        return call[:call.rindex("(")] if call.endswith(")") and "(" in call else what



# what to write for a list or dict method sct does not differentiate in place
_NEW_VALUE_FOR = {
    "update": "write `{z} = {{**{z}, **other}}`",
    "pop": "read the item and build the rest: `v = {z}[key]; {z} = {{k: w for k, w in {z}.items() if k != key}}` "
           "(a list: `v = {z}[i]; {z} = {z}[:i] + {z}[i + 1:]`)",
    "setdefault": "write `{z}[key] = {z}.get(key, default)`",
    "remove": "build the list without the item: `{z} = [v for v in {z} if v is not item]`",
    "clear": "write `{z} = []` (or `{z} = {{}}`)",
    "sort": "write `{z} = sorted({z})` for a list, `{z} = np.sort({z})` for an array (a view of another "
            "array: assign the sorted values into that array, `a[i:j] = np.sort(a[i:j])`)",
    "popitem": "read the item by its key and build the rest as a new dict",
}


def _pure_item_call(fdef, func, pure_def) -> bool:
    """Is ``func`` (``g`` of ``g = fs[1]; g(1.5)``, as ``fs[1](1.5)`` is normalised) bound only to items
    of lists ``fs`` that hold only defs and lambdas nested here whose source shows they change nothing
    (``pure_def``): ``fs`` bound only to lists of such functions written out, or to ``fs + t`` of such a
    list ``t`` (a comprehension ``[lambda u, k=k: u * k for k in ...]``), read only by ``fs[...]``, and
    seen by no nested def?  (was: refused as a call that may change its arguments, fuzz52 R4)"""
    def bindings(name):
        """The values of the Assigns binding ``name``: None where something else binds it too, or
        a nested def reads or binds it."""
        values = [n.value for n in walk_no_defs(fdef) if isinstance(n, gast.Assign) and len(n.targets) == 1 and
                  isinstance(n.targets[0], gast.Name) and n.targets[0].id == name]
        stores = sum(1 for n in walk_no_defs(fdef) if isinstance(n, gast.Name) and n.id == name and
                     not isinstance(n.ctx, gast.Load))
        every = sum(1 for n in gast.walk(fdef) if isinstance(n, gast.Name) and n.id == name)
        mine = sum(1 for n in walk_no_defs(fdef) if isinstance(n, gast.Name) and n.id == name)
        params = {a.id for a in fdef.args.posonlyargs + fdef.args.args + fdef.args.kwonlyargs} | \
            {a.id for a in (fdef.args.vararg, fdef.args.kwarg) if a is not None}
        return values if values and stores == len(values) and every == mine and name not in params else None

    def pure_function(e) -> bool:
        if not isinstance(e, gast.Name):
            return False
        if pure_def(e.id):
            return True
        values = bindings(e.id)      # f_closure = rt.bind_closure(f, env, ...) of a pure nested f
        return values is not None and len(values) == 1 and isinstance(values[0], gast.Call) and \
            isinstance(values[0].func, gast.Attribute) and values[0].func.attr == "bind_closure" and \
            bool(values[0].args) and isinstance(values[0].args[0], gast.Name) and pure_def(values[0].args[0].id)

    def pure_list(e) -> bool:
        return isinstance(e, gast.List) and all(pure_function(v) for v in e.elts)

    if not isinstance(func, gast.Name):
        return False
    items = bindings(func.id)
    if not items or not all(isinstance(v, gast.Subscript) and isinstance(v.value, gast.Name) for v in items):
        return False
    for container in {v.value.id for v in items}:
        values = bindings(container)
        if values is None:
            return False
        allowed = len(values)        # its binding targets
        for v in values:
            if isinstance(v, gast.BinOp) and isinstance(v.op, gast.Add) and isinstance(v.left, gast.Name) and \
                    v.left.id == container and isinstance(v.right, gast.Name):
                added = bindings(v.right.id)
                if added is None or len(added) != 1 or not pure_list(added[0]):
                    return False
                allowed += 1
            elif not pure_list(v):
                return False
        allowed += sum(1 for n in walk_no_defs(fdef) if isinstance(n, gast.Subscript) and
                       isinstance(n.ctx, gast.Load) and isinstance(n.value, gast.Name) and n.value.id == container)
        if allowed != sum(1 for n in walk_no_defs(fdef) if isinstance(n, gast.Name) and n.id == container):
            return False             # another use: fs.append(h), fs[0] = h, gs = fs, a call given fs
    return True


def _numeric_leaf(kind) -> bool:
    """Is ``kind`` (sct.kinds) an array or a number of numbers (not of objects)?"""
    if not (isinstance(kind, tuple) and kind and kind[0] in ("dl", "nd", "num")):
        return False
    try:
        return (np.dtype(kind[1]) if kind[1] is not None else np.dtype(float)).kind in "biufc"
    except TypeError:
        return False


def _in_place_writes(body):
    """``(statement, name)`` of the writes into what ``name`` holds in place: ``name[i] = v``, ``name.a = v``,
    ``name += v`` (normalized: ``sct_augmented``), ``name.append(v)`` and the other mutators."""
    for t in _statements(body):
        if isinstance(t, gast.Assign):
            target = t.targets[0]
            if isinstance(target, (gast.Subscript, gast.Attribute)) and isinstance(target.value, gast.Name):
                yield t, target.value.id
            augmented = getattr(t, "sct_augmented", None)
            if augmented is not None and augmented[1] is None and augmented[0]:
                yield t, augmented[0]
        call = t.value if isinstance(t, (gast.Expr, gast.Assign)) else None
        if isinstance(call, gast.Call) and isinstance(call.func, gast.Attribute) and \
                isinstance(call.func.value, gast.Name) and call.func.attr in MUTATORS:
            yield t, call.func.value.id


def _reading_method(call) -> bool:
    """Is ``call`` a method of an array that reads it into a new value (``c.mean(axis=0)``, ``c.copy()``),
    given no ``out=``?"""
    return isinstance(call.func, gast.Attribute) and call.func.attr in _ARRAY_READS and \
        not any(k.arg == "out" for k in call.keywords)


_ARRAY_READS = frozenset(("sum", "mean", "max", "min", "prod", "std", "var", "any", "all", "argmax", "argmin",
                          "cumsum", "cumprod", "flatten", "copy", "item", "round", "clip", "repeat", "take"))
# (new arrays only: not a view, ``c.reshape(...)``, ``c.T``, ``c.astype(t, copy=False)``, through which a
# write would reach ``c``)


def _untraced_field(kind, attr: str) -> bool:
    """Does the object of ``kind`` hold no traced value in its field ``attr`` (or no such field)?"""
    if not (isinstance(kind, tuple) and kind[:1] == ("obj",) and isinstance(kind[2], tuple)):
        return False
    fields = dict(f for f in kind[2] if isinstance(f, tuple) and len(f) == 2)
    return attr not in fields or not _holds_traced(fields[attr]) and not kind_traced(fields[attr]) and \
        fields[attr][:1] != ("back",)


class _Saved:
    """A set that only grows between copies, kept with the order its members came in, so that
    the set as it was at a statement is (this log, its length then), materialised on demand."""
    __slots__ = ("log", "members")

    def __init__(self, log=None):
        self.log = list(log) if log else []
        self.members = set(self.log)

    def add_all(self, objs) -> None:
        members, log = self.members, self.log
        for o in objs:
            if o not in members:
                members.add(o)
                log.append(o)

    def copy(self) -> "_Saved":
        return _Saved(self.log)

    def union(self, other: "_Saved") -> "_Saved":
        out = self.copy()
        out.add_all(other.log)
        return out

    def view(self) -> "_SavedView":
        return _SavedView(self, len(self.log))


class _SavedView:
    __slots__ = ("saved", "size", "_frozen")

    def __init__(self, saved: _Saved, size: int):
        self.saved, self.size, self._frozen = saved, size, None

    def frozen(self) -> FrozenSet:
        if self._frozen is None:
            self._frozen = frozenset(self.saved.log[:self.size])
        return self._frozen


def _in_blocks(body, s) -> bool:
    """Is the statement ``s`` in ``body`` or a ``body``/``orelse`` nested in it (where a NumberGuard's
    check is put before it: sct/augmented_writes.py _insert_number_guards)?"""
    return any(st is s or any(isinstance(getattr(st, f, None), list) and _in_blocks(getattr(st, f), s)
                              for f in ("body", "orelse")) for st in body)


def _reaches_saved_locals(analysis: AliasAnalysis, s, node: gast.Call, saved) -> bool:
    """Do the call's arguments or receiver reach an object this function made that an
    adjoint reads?"""
    state = analysis.before.get(id(s))
    if state is None:
        return True
    objs = frozenset()
    for n in loaded_names(node):
        if n in analysis.locals:
            objs |= state.env.get(n, frozenset())
    return any(o in saved and o[0] in ("new", "old") for o in state.reach(objs))



def _bound_to_none_only(fdef, z: str, tuples: int = 0) -> bool:
    """Whether the local ``z`` of ``fdef`` is bound once, by ``z = None``, and by nothing else: not a
    parameter, not rebound (``for``, ``with``, ``except``, an import, a def, ``del``), not declared
    global or nonlocal here or nonlocal in a nested function (which could rebind it). ``tuples``: a
    tuple of so many Nones (or names bound only to None) too, ``z = (None, None)``: a ufunc's outputs."""
    if z in _parameter_names(fdef):
        return False
    bindings = by_none = 0
    for n in walk_no_defs(fdef):
        if isinstance(n, gast.Name) and n.id == z and not isinstance(n.ctx, gast.Load):
            bindings += 1
        elif isinstance(n, gast.Assign) and len(n.targets) == 1 and isinstance(n.targets[0], gast.Name) and \
                n.targets[0].id == z:
            if not (isinstance(n.value, gast.Constant) and n.value.value is None or
                    tuples and isinstance(n.value, gast.Tuple) and len(n.value.elts) == tuples and all(
                        isinstance(e, gast.Constant) and e.value is None or
                        isinstance(e, gast.Name) and e.id != z and _bound_to_none_only(fdef, e.id)
                        for e in n.value.elts)):
                return False
            by_none += 1
        elif n is not fdef and isinstance(n, (gast.FunctionDef, gast.AsyncFunctionDef, gast.ClassDef)) \
                and n.name == z:
            return False
        elif isinstance(n, gast.alias) and (n.asname or n.name.split(".")[0]) == z:
            return False
        elif isinstance(n, gast.ExceptHandler) and n.name is not None and \
                (n.name == z or isinstance(n.name, gast.Name) and n.name.id == z):
            return False
    if bindings != 1 or by_none != 1:
        return False
    for n in gast.walk(fdef):
        if isinstance(n, (gast.Global, gast.Nonlocal)) and z in n.names:
            return False
        if hasattr(n, "name") and isinstance(getattr(n, "name"), str) and n.name == z and \
                not isinstance(n, (gast.FunctionDef, gast.AsyncFunctionDef, gast.ClassDef)):
            return False        # (a match pattern's capture, say)
    return True


def _item_root(fdef, name: str) -> str:
    """The parameter whose item or attribute ``name`` is (bound once, to ``p[k]`` or ``p.a`` of a name), else
    ``name``."""
    binds = [n for n in walk_nodes(fdef) if isinstance(n, gast.Name) and n.id == name and not isinstance(n.ctx, gast.Load)]
    value = next((st.value for st in walk_nodes(fdef) if isinstance(st, gast.Assign) and len(st.targets) == 1 and
                  st.targets[0] is (binds[0] if len(binds) == 1 else None)), None)
    while isinstance(value, (gast.Subscript, gast.Attribute)):
        value = value.value
    return value.id if isinstance(value, gast.Name) and value.id != name else name


_SAFE_CONSTS = (bool, str, bytes, type(None), type, slice, range, types.FunctionType, types.BuiltinFunctionType,
                types.MethodType, np.ufunc)


_DICT_CHANGES = frozenset(MUTATORS | {"__setitem__", "__delitem__", "__ior__", "__init__"})


def _may_change_dict(target) -> bool:
    """May a call of ``target`` (None: not known) change a dict it is given in place?  numpy's, sct's and
    Python's functions do not (but ``dict.pop``, ``operator.setitem`` and their kin); a user's function does
    where its source may change an argument (callee_effects.changes_arguments)."""
    if target is None:
        return True
    name = getattr(target, "__name__", "")
    if name in _DICT_CHANGES or name.strip("_") in ("setitem", "delitem", "ior", "setattr", "exec", "eval"):
        return True
    module = getattr(target, "__module__", None) or getattr(type(target), "__module__", "") or ""
    if module.split(".")[0] in ("builtins", "numpy", "math", "sct", "runtime", "scipy", "operator", "_operator") or \
            isinstance(target, (types.BuiltinFunctionType, types.MethodDescriptorType, np.ufunc)):
        return False
    if isinstance(target, type) and target.__module__ == "builtins":
        return False
    from .callee_effects import changes_arguments
    return changes_arguments(target)


def _kind_may_hold(kind, cls) -> bool:
    """May a value of this kind (sct/kinds.py) be or hold an object of class ``cls`` (a list, a dict)?"""
    if not isinstance(kind, tuple) or not kind:
        return False
    tag = kind[0]
    if tag in ("dl", "nd", "num"):
        return False
    if tag == "const":
        return not (isinstance(kind[1], type) and issubclass(kind[1], _SAFE_CONSTS))
    if tag in ("seq", "map", "obj") and isinstance(kind[1], type):
        if issubclass(kind[1], cls) or issubclass(cls, kind[1]):
            return True
        parts = kind[2] if len(kind) == 3 and isinstance(kind[2], tuple) else None
        if parts is None:
            return True
        return any(_kind_may_hold(part if tag == "seq" else part[1], cls) for part in parts)
    return True             # (a cycle back to an owner, a module, what else: may hold it)


def _numeric_value(value) -> bool:
    """A number, or an array of numbers (no object holding a list or dict)."""
    return isinstance(value, (bool, int, float, complex, np.number)) or \
        type(value) is np.ndarray and value.dtype.kind in "biufc"


def _plain_global(value) -> bool:
    """An outside value no adjoint reads numbers of that may change: a module, function, class or number."""
    return isinstance(value, (types.ModuleType, types.FunctionType, types.BuiltinFunctionType, type, np.ufunc,
                              int, float, complex, str)) or value is None


def _not_owned(analysis: AliasAnalysis, s, name: str) -> bool:
    objs = analysis.objects(s, name)
    return any(o == EXT or o[0] == "arg" for o in objs)


def _operator_writes():
    import operator
    forms = {"iadd": "z += v", "isub": "z -= v", "imul": "z *= v", "itruediv": "z /= v",
             "ifloordiv": "z //= v", "imod": "z %= v", "ipow": "z **= v", "imatmul": "z @= v",
             "iand": "z &= v", "ior": "z |= v", "ixor": "z ^= v", "ilshift": "z <<= v", "irshift": "z >>= v",
             "iconcat": "z += v", "setitem": "z[i] = v", "delitem": "del z[i]"}
    return {id(getattr(operator, name)): form for name, form in forms.items()}


_OPERATOR_WRITES = _operator_writes()


def _is_numpy(obj) -> bool:
    return module_top(obj) == "numpy"


def _is_ufunc_method(obj) -> bool:
    """``np.add.at`` and the other ufuncs' ``at``: they write into their first argument."""
    return isinstance(getattr(obj, "__self__", None), np.ufunc) and getattr(obj, "__name__", "") == "at"




# logging's methods that only log (logging.info, Logger.info...): see _logging_call
_LOG_METHODS = frozenset(("debug", "info", "warning", "error", "critical", "exception"))

# functions sct runs as they are that only read their arguments
_READ_ONLY_BUILTINS = frozenset(("print", "len", "isinstance", "issubclass", "id", "repr", "str", "format",
                                 "sorted", "reversed", "enumerate", "zip", "range", "list", "tuple", "dict",
                                 "set", "frozenset", "any", "all", "sum", "min", "max", "abs", "round", "hash",
                                 "type", "iter", "getattr", "hasattr", "callable", "bool", "int", "float",
                                 "complex", "map", "filter", "ascii", "divmod", "pow", "vars", "dir"))


def _container_changer(target):
    """Whether ``target`` is a library function known to change a container it is given: heapq's
    and bisect's writers, list.append, dict.update, np.ndarray.__setitem__... called unbound
    ("array" where it changes an array: np.ndarray's); None for other functions."""
    import types
    from .runtime.effects import _CHANGING_METHODS, _changing_first
    if isinstance(target, (types.MethodDescriptorType, types.WrapperDescriptorType,
                           types.ClassMethodDescriptorType)) and \
            getattr(target, "__name__", "") in _CHANGING_METHODS:
        return "array" if getattr(target, "__objclass__", None) is np.ndarray else "container"
    if id(target) in _changing_first() and target not in (next, setattr, delattr):
        return "container"
    return None


def _read_only_library():
    """Library functions sct runs as they are that only read their arguments (bisect's searches)."""
    import bisect
    return (bisect.bisect, bisect.bisect_left, bisect.bisect_right)


def _reads_only(target) -> bool:
    """Whether a function sct runs as it is surely changes none of its arguments: the read-only
    builtins, and numpy's and math's functions (numpy's in-place writers are checked before)."""
    module = getattr(target, "__module__", None) or ""
    if module == "builtins" and module_top(target):
        return getattr(target, "__name__", "") in _READ_ONLY_BUILTINS
    if any(target is f for f in _read_only_library()):
        return True
    return isinstance(target, np.ufunc) or module.split(".")[0] in ("numpy", "math", "cmath", "sct")


def _library_file_of(filename) -> bool:
    from .parse import library_file
    return library_file(filename)


def _library_callee(callee) -> bool:
    """A Python function of the standard library or an installed package."""
    code = getattr(callee, "__code__", None)
    return code is not None and _library_file_of(code.co_filename)


def _storing_dataclass(cls) -> bool:
    """Is ``cls`` a dataclass whose ``__init__`` is the one ``@dataclass`` wrote, with no ``__post_init__``
    and no ``__setattr__`` of its own: building one only stores the arguments in the new object?"""
    params = getattr(cls, "__dataclass_params__", None)
    return isinstance(cls, type) and params is not None and _generated_dataclass_init(cls) and \
        not hasattr(cls, "__post_init__") and cls.__new__ is object.__new__ and \
        (cls.__setattr__ is object.__setattr__ or params.frozen)


def _callee(info, node, activity, resolver=None, analysis=None, s=None):
    import types
    obj = info.obj
    if info.kind == CallKind.METHOD:
        kind = activity.kinds.get(info.receiver)
        cls = kind[1] if isinstance(kind, tuple) and len(kind) > 1 and kind[0] == "obj" else None
        parent = _super_class(info.receiver, analysis, resolver)
        if parent is not None:           # super().method(...): the next class in the MRO
            obj = parent
        elif cls is None:
            return None
        else:
            obj = getattr(cls, info.method, None)
        if parent is not None:
            obj = getattr(parent, info.method, None)
    if isinstance(obj, type):
        obj = getattr(obj, "__init__", None)
    if not isinstance(obj, types.FunctionType) and callable(obj) and \
            isinstance(getattr(type(obj), "__call__", None), types.FunctionType):
        obj = type(obj).__call__
    if isinstance(obj, types.MethodType):
        obj = obj.__func__
    return obj if isinstance(obj, types.FunctionType) else None


def _super_class(receiver, analysis, resolver):
    """For ``r = super(__class__, self)``: the class after ``__class__`` in ``self``'s MRO
    (the one that defines the method is found by getattr on a ``super`` proxy type)."""
    if analysis is None or resolver is None or receiver is None:
        return None
    for st in _statements(analysis.fdef.body):
        if isinstance(st, gast.Assign) and isinstance(st.targets[0], gast.Name) and \
                st.targets[0].id == receiver and isinstance(st.value, gast.Call) and \
                isinstance(st.value.func, gast.Name) and st.value.func.id == "super" and st.value.args:
            first = st.value.args[0]
            if not isinstance(first, gast.Name):
                return None
            try:
                cls = resolver.resolve_name(first.id)
            except Exception:
                return None
            if not isinstance(cls, type):
                return None
            mro = cls.__mro__
            return _MROProxy(mro[1:])
    return None


class _MROProxy:
    """getattr through a list of classes, like super() does."""

    def __init__(self, classes):
        self.classes = classes

    def __getattr__(self, name):
        for c in self.classes:
            if name in vars(c):
                return vars(c)[name]
        raise AttributeError(name)


def _out_position(target, method: Optional[str]) -> Optional[int]:
    """The position of the ``out`` parameter of a numpy function (``target``, not a ufunc: their
    outputs by position are refused above) or of the ndarray method ``method`` (numpy's function of
    that name less its array: ``t.sum(axis, dtype, out)`` as ``np.sum(a, axis, dtype, out)``), or None."""
    name = getattr(target, "__name__", None)
    if method is None and target is not None and isinstance(name, str) and getattr(np.ndarray, name, None) is target:
        # np.ndarray.sum(t, axis, dtype, out): the method with its array first (np.sum's positions)
        position = _out_position(None, name)
        return None if position is None else position + 1
    function = getattr(np, method, None) if method is not None else target
    if function is None or isinstance(function, np.ufunc) or \
            (method is None and not _is_numpy(function)):
        return None
    parameters = _parameters(function)
    if parameters is None:
        return None
    for k, p in enumerate(parameters):
        if p.kind in (p.VAR_POSITIONAL, p.KEYWORD_ONLY, p.VAR_KEYWORD):
            return None
        if p.name == "out":
            return k - 1 if method is not None else k
    return None


def _overwrite_input_position(target):
    """Where ``overwrite_input`` is by position for numpy's median and quantile functions, else None."""
    for fn, position in ((np.median, 3), (np.nanmedian, 3), (np.quantile, 4), (np.percentile, 4),
                         (np.nanquantile, 4), (np.nanpercentile, 4)):
        if target is fn:
            return position
    return None


def _overwrite_input_given(target, node) -> bool:
    """Whether the call ``np.median(x, ..., overwrite_input)`` (or quantile, ...) passes an
    ``overwrite_input`` that may be true."""
    position = _overwrite_input_position(target)
    if position is None:
        return False
    given = [k.value for k in node.keywords if k.arg == "overwrite_input"] + list(node.args[position:position + 1])
    return any(not (isinstance(v, gast.Constant) and v.value is False) for v in given) or \
        any(k.arg is None for k in node.keywords) or any(isinstance(a, gast.Starred) for a in node.args)


#: id(callee) -> (callee, its __code__, its signature's parameters or None): numpy's, scipy's and Python's
#: own callees (whose signatures nothing rebinds), each read once
_LIBRARY_PARAMETERS: Dict[int, tuple] = {}


def _parameters(target) -> Optional[tuple]:
    """``inspect.signature(target)``'s parameters, None where it has none; a library callee's read once
    (was: read again at each call, numpy's C functions parsing their text signature each time:
    ``np.concatenate`` about 0.1 ms a call, a few percent of a long function's compile)."""
    import inspect
    library = module_top(target) in ("numpy", "scipy", "builtins")
    code = getattr(target, "__code__", None)
    if library:
        hit = _LIBRARY_PARAMETERS.get(id(target))
        if hit is not None and hit[0] is target and hit[1] is code:
            return hit[2]
    try:
        parameters = tuple(inspect.signature(target).parameters.values())
    except (TypeError, ValueError):
        parameters = None
    if library:
        if len(_LIBRARY_PARAMETERS) > 4096:
            _LIBRARY_PARAMETERS.clear()
        _LIBRARY_PARAMETERS[id(target)] = (target, code, parameters)
    return parameters


def _overwrite_given(target, node) -> Optional[str]:
    """The name of an ``overwrite_*`` parameter (scipy's ``overwrite_a``, ``overwrite_b``,
    ``overwrite_x``) that the call passes a value that may be true, else None (numpy's median and
    quantile's ``overwrite_input`` are checked on their own)."""
    if _overwrite_input_position(target) is not None:
        return None
    parameters = _parameters(target)
    if parameters is None:
        return None
    names = [p.name for p in parameters if p.name.startswith("overwrite")]
    if not names:
        return None
    if any(k.arg is None for k in node.keywords) or any(isinstance(a, gast.Starred) for a in node.args):
        return names[0]
    for k, p in enumerate(parameters):
        if not p.name.startswith("overwrite"):
            continue
        if p.kind == p.VAR_POSITIONAL:
            break
        given = [kw.value for kw in node.keywords if kw.arg == p.name]
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and k < len(node.args):
            given.append(node.args[k])
        if any(not (isinstance(v, gast.Constant) and v.value is False) for v in given):
            return p.name
    return None


def _copy_not_true(node) -> bool:
    """Whether the call ``np.nan_to_num(x, copy, ...)`` passes a ``copy`` that may be false."""
    given = [k.value for k in node.keywords if k.arg == "copy"] + list(node.args[1:2])
    return any(not (isinstance(v, gast.Constant) and v.value is True) for v in given) or \
        any(k.arg is None for k in node.keywords)


def _plain_index(index) -> bool:
    """An index of names, numbers and arithmetic on them (``t``, ``t - 1``, ``i, j``): spelled in
    messages as the user wrote it."""
    nodes = list(gast.walk(index))
    return len(nodes) <= 12 and all(isinstance(n, (gast.Name, gast.Constant, gast.BinOp, gast.UnaryOp, gast.Tuple,
                                                   gast.Slice, gast.Load, gast.operator, gast.unaryop))
                                    for n in nodes) and \
        not (isinstance(index, gast.Constant) and not isinstance(index.value, int))


def _index_text(index) -> str:
    """``index`` as written between the brackets (``t - 1``, ``:2``, ``i, 1:``)."""
    if isinstance(index, gast.Tuple):
        return ", ".join(gast.unparse(e).strip() for e in index.elts)
    return gast.unparse(index).strip()


def _unparse(node) -> str:
    """The source text of an expression of the normalized code (for messages)."""
    try:
        import astunparse
        return astunparse.unparse(gast.gast_to_ast(node)).strip()
    except Exception:
        return "it"


_NEW_VALUE_BUILTINS = frozenset({"len", "int", "float", "bool", "abs", "round", "complex", "str", "range", "sum",
                                 "isinstance", "hash", "id", "divmod", "pow", "repr", "format", "type"})


def _passes_objects(obj) -> bool:
    """May a call of ``obj`` (an op by its CallKind) hand back an object it was given, a dict among them
    (``list(state.values())``, ``next(...)``, ``zip``, ``copy.copy``, rt.as_sequence)?  numpy's, math's and
    sct's array ops (not runtime.support's sequence helpers) and a few builtins of numbers make new values."""
    module = (getattr(obj, "__module__", None) or "").replace("sct.runtime.", "runtime.", 1)
    if module in ("builtins", ""):
        return getattr(obj, "__name__", None) not in _NEW_VALUE_BUILTINS
    if module.split(".")[0] in ("numpy", "math", "cmath") or isinstance(obj, np.ufunc):
        return False
    return not module.startswith("runtime.") or module == "runtime.support"
