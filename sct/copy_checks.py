"""Refusals of a site's x that is a second name of a value sct cannot follow (``z = x`` in a branch
or a loop, an item of a structure filled in place, a for-loop target, a starred rest): its gradient is
with respect to that value, reached also through the other name, and the adjoint of x alone would miss
those uses.  A mixin of ``sites.SiteFinding`` (it reads its ``fdef``, ``facts``, ``act``,
``single_defs`` and ``_structure``).
"""
from __future__ import annotations

import linecache
import re
from typing import Any, Dict, List, Optional, Tuple

import gast
import numpy as np

from .runtime.origins import module_name
from .alias_state import COPY_BUILTINS
from .ir import loaded_names, root_name, walk_nodes, walk_nodes_list
from .unroll import refused_site


def _surely_runs(loop, act) -> bool:
    """Does the for loop ``loop`` run its body at least once, each pass to its end: ``range(K)`` (or
    ``range(a, b)``) of int constants with at least one item, or a display of at least one item, walked
    with no ``break``/``continue``/``return`` anywhere in its body?"""
    it = loop.iter
    if isinstance(it, (gast.List, gast.Tuple)):
        runs = bool(it.elts) and not any(isinstance(e, gast.Starred) for e in it.elts)
    elif isinstance(it, gast.Call) and isinstance(it.func, gast.Name) and it.func.id == "range" and \
            not it.keywords and 1 <= len(it.args) <= 2 and _builtin_range(it.func, act) and \
            all(isinstance(a, gast.Constant) and type(a.value) is int for a in it.args):
        bounds = [a.value for a in it.args]
        runs = len(range(*bounds)) > 0
    else:
        return False
    return runs and not loop.orelse and not any(isinstance(n, (gast.Break, gast.Continue, gast.Return, gast.Try))
                                                for st in loop.body for n in walk_nodes(st))


def _builtin_range(func, act) -> bool:
    try:
        return act.resolver.resolve(func) is range
    except Exception:           # noqa: BLE001  (not known: not the builtin)
        return False


def _new_array(value, root: str, act) -> bool:
    """Is ``value`` surely a new array (never an object some name holds): arithmetic of arrays (``root``
    known to hold arrays), or a numpy ufunc's call without ``out``?"""
    if isinstance(value, (gast.BinOp, gast.UnaryOp)) and root in act.arrays and \
            not (isinstance(value, gast.BinOp) and isinstance(value.op, (gast.Add, gast.BitOr)) and
                 not all(isinstance(o, gast.Name) and o.id in act.arrays or isinstance(o, gast.Constant)
                         for o in (value.left, value.right))):
        return True
    if isinstance(value, gast.Call) and not any(k.arg in ("out", None) for k in value.keywords) and \
            root in act.arrays:
        try:
            target = act.resolver.resolve(value.func)
        except Exception:       # noqa: BLE001  (not known: not a new value)
            return False
        return isinstance(target, np.ufunc) and len(value.args) <= target.nin
    return False


def _rebound_before_site(root: str, copy_stmt, frames, act) -> bool:
    """Is ``root``, bound at ``copy_stmt`` to a second name of another value, surely bound again before the
    site: by a statement of the site's own block between them, ``root = ...`` itself or a for loop that
    surely runs (_surely_runs) binding it at its body's top level (``h = x`` then ``for i in range(3): h =
    np.tanh(h)``: was refused, as the copy may reach the site, red team 51 FR9)?  Then the copy's value is not
    what the site differentiates by; the other bindings of ``root`` are checked on their own."""
    if not frames or not isinstance(copy_stmt, gast.Assign):
        return False
    block, s_index = frames[-1][0], frames[-1][1]
    i = next((k for k, st in enumerate(block) if st is copy_stmt), None)
    if i is None or i >= s_index:
        return False

    def binds(st) -> bool:          # (a new array: ``h = h`` would leave the copy there)
        return isinstance(st, gast.Assign) and len(st.targets) == 1 and isinstance(st.targets[0], gast.Name) and \
            st.targets[0].id == root and _new_array(st.value, root, act)

    for st in block[i + 1:s_index]:
        if binds(st):
            return True
        if isinstance(st, gast.For) and _surely_runs(st, act) and any(binds(b) for b in st.body):
            return True
    return False


class CopyChecks:
    """The checks of ``SiteFinding.make_site`` / ``origin_name`` on copies (see the module): an
    object of its own, reading the finding's function, facts, activity and single bindings."""

    def __init__(self, finding):
        self.finding = finding
        self.fdef = finding.fdef
        self.facts = finding.facts
        self.act = finding.act
        self.fail = finding.fail
        self._ancestor_map: Optional[Dict[int, Tuple]] = None
        self.structures = Structures(finding)

    def single_defs(self) -> Dict:
        return self.finding.follow.single_defs()

    def _structure(self, name: str) -> bool:
        return self.finding.follow._structure(name)

    def check_unfollowed_copy(self, root: str, stmt, what: str = "dlgradient", frames=()) -> None:
        """Refuse x whose name is bound somewhere to a second name of another value (``z = x`` in a
        branch or loop, ``v = p["w"]``, ``for v in xs``) that ``resolve_x`` did not follow: its
        gradient is with respect to that value, reached also through the other name, and the
        adjoint of ``root`` alone misses those uses (was: a wrong gradient, ``z = x if c else 2*x;
        dlgradient(sum(z * x), z)`` gave x for 2x)."""
        for n in self.finding.nodes():
            value, target = None, None
            if isinstance(n, gast.Assign) and any(isinstance(t, gast.Name) and t.id == root for t in n.targets):
                value, target = n.value, n
            elif isinstance(n, (gast.For, gast.comprehension)) and any(
                    isinstance(t, gast.Name) and t.id == root and isinstance(t.ctx, gast.Store)
                    for t in walk_nodes(n.target)):
                value, target = n.iter, n
                if not (isinstance(value, gast.Name) and self._structure(value.id)):
                    continue             # the rows of an array, a range: new values
            if value is None:
                continue
            copy_of = None
            if isinstance(value, gast.Name) and value.id in self.act.active:
                copy_of = value.id
            elif any(n in self.act.active for n in _shallow_copy_of(value)):
                # a new container holding the same values (``q = dict(p)``, ``p.copy()``, ``{**p}``,
                # ``list(xs)``): a second name of each of them (was: not a copy, so the gradient with
                # respect to ``q`` silently left out the uses through ``p``)
                copy_of = next(n for n in _shallow_copy_of(value) if n in self.act.active)
            elif isinstance(value, (gast.Subscript, gast.Attribute)) and isinstance(value.value, gast.Name) \
                    and value.value.id in self.act.active and (self.structures.built(value.value.id) or
                                                               self.structures.part_of(value.value.id)):
                copy_of = value.value.id
            elif isinstance(value, gast.Call) and isinstance(value.func, gast.Name) and \
                    value.func.id in ("max", "min", "next") and not self._shadowed(value.func.id) and \
                    any(isinstance(a, gast.Name) and a.id in self.act.active for a in value.args):
                # builtin max / min / next give one of the objects they are given, as it is
                # (``max(vs, key=...)`` of a list of arrays: the array itself; was a new value, so
                # dlgradient(y, z) missed y's uses through the list's item: x for 2x)
                copy_of = next(a.id for a in value.args if isinstance(a, gast.Name) and a.id in self.act.active)
            elif isinstance(value, gast.Call) and self.structures._may_hold(value):
                # the value of a call of the user's (``z = o.first()``, ``z = get(p)``): it may be an
                # item of the structure it is given (was: a new value, so dlgradient(y, z) missed y's
                # uses through o: x for 2x)
                given = [root_name(a) for a in list(value.args) + [k.value for k in value.keywords] +
                         ([value.func.value] if isinstance(value.func, gast.Attribute) else [])]
                held = [m for m in given if m is not None and m in self.act.active and m not in self.act.arrays]
                if held:
                    copy_of = held[0]
            elif isinstance(value, gast.Subscript) and isinstance(value.value, gast.Name) and \
                    value.value.id in self.act.active and self.structures.holds_items_of(value.value.id):
                # an item of ``t1 + t2``, ``tuple(t)``: the value an item of t holds, whose other names
                # (the item's own, t's) y may read (was: zeros)
                copy_of = value.value.id
                if copy_of != root:
                    self._refuse_copy(stmt, root, copy_of, target, what)
            if copy_of is None or copy_of == root or self._copy_read_only_here(root, n, copy_of, frames) or \
                    self._only_copied_here(n, copy_of, set()) or _rebound_before_site(root, n, frames, self.act):
                continue
            self._refuse_copy(stmt, root, copy_of, target, what)

    def _read_by_site_only(self, name: str, stmt) -> bool:
        """Is ``name`` read by the site's statement alone (a value the normalizer made for its call,
        ``dlgradient(y, [a, b])``), not by another statement written on the same line (``z = d["a"];
        y = ...; return dlgradient(y, z)``, whose names were skipped: a partial derivative)?"""
        inside = {id(n) for n in walk_nodes(stmt)}
        return not any(isinstance(n, gast.Name) and n.id == name and isinstance(n.ctx, gast.Load) and
                       id(n) not in inside for n in self.finding.nodes())

    def _shadowed(self, name: str) -> bool:
        """Is ``name`` bound in the function (not the builtin)?"""
        return any(isinstance(n, gast.Name) and n.id == name and not isinstance(n.ctx, gast.Load)
                   for n in self.finding.nodes())

    def _refuse_copy(self, stmt, root: str, copy_of: str, target, what: str) -> None:
        """``check_unfollowed_copy``'s refusal: ``root`` bound at ``target`` to a value ``copy_of`` holds."""
        line = getattr(target, "lineno", "?")
        shallow = isinstance(target, gast.Assign) and bool(_shallow_copy_of(target.value))
        copy_of = self._user_name(self._origin_structure(copy_of))
        call_text = self._call_text(root)          # (``m.params()``: said as written, before fz53's "list built")
        made = None if call_text else self._made_for_call(root, stmt)
        root = call_text or self._written_name(self._user_name(root), target)
        if copy_of == root:             # p = dict(p): the p before that line
            copy_of = f"{root} (as it was before line {line})"
        display = self._display_text(copy_of)
        # (a shallow copy filled again, ``Q = dict(P); for k in Q: Q[k] = Q[k] - lr * g[k]``: was told to
        # write ``... * 1.0`` of the dict, fuzz51 R1)
        advice = (f"build {root!r} as a new container of new values where it is made (`{root} = {{k: v - lr * g[k] "
                  f"for k, v in {copy_of}.items()}}`), not as a copy of {copy_of!r} filled again") if shallow else \
            (f"differentiate with respect to the names of {display[1]} themselves, or make the value of "
             f"{root!r} a new one where it is bound (`{root} = {root} * 1.0`)") if display else \
            (f"differentiate with respect to {copy_of!r} (and select from its gradient), or make the value of "
             f"{root!r} a new one where it is bound (... * 1.0)")
        if made is not None:
            advice = (f"differentiate with respect to {copy_of!r} (and select from its gradient), or name "
                      f"its items one by one (`{copy_of}[k]`)")
        # (a display the normalizer named, ``for x in (X0, X1)``: said as the user wrote it, was 'seq_t')
        holder = f"{display[0]} {display[1]}" if display else repr(copy_of)
        written = linecache.getline(self.facts.filename, line if type(line) is int else 0).strip()
        if not display and written and copy_of.endswith("_t") and copy_of not in self.facts.params and \
                not re.search(rf"\b{re.escape(copy_of)}\b", written):
            # (the list the normalizer collects, ``list(m.gen())``: was named as its 'out_t', red56c R1)
            holder = f"the list collected on line {line}"
            advice = ("differentiate with respect to the values themselves, named one by one (`[m.a, m.b]`), or "
                      "with respect to the object that holds them (and select from its gradient)")
        with refused_site(getattr(stmt, "lineno", None)):    # (in a loop: compiled again written out)
            self.fail(stmt, f"{what}: cannot differentiate with respect to {made or repr(root)}: on line {line} it "
                      f"is bound to a value that {holder} holds too (a second name of it, or an item of "
                      f"it), and sct cannot follow here whether {'it' if made else repr(root)} still is that value at "
                      f"this line "
                      f"(bound more than once, in a loop, or taken from a structure filled in place); "
                      f"the gradient would miss the uses through {holder}. {advice[0].upper()}{advice[1:]}",
                      what)

    def _written_name(self, name: str, target) -> str:
        """``x`` for the normalizer's ``x_1`` (a comprehension's variable renamed) where the user's line
        ``target`` is on spells ``x`` but not ``x_1``."""
        m = re.fullmatch(r"(\w+?)_\d+", name)
        if m is None:
            return name
        from .parse import source_line
        text = source_line(self.facts.filename, getattr(target, "lineno", 0) or 0) or ""
        words = set(re.findall(r"\w+", text))
        return m.group(1) if m.group(1) in words and name not in words else name

    def _display_text(self, name: str):
        """("the tuple", "(X0, X1)") where ``name`` is the normalizer's name of a tuple or list display of
        the user's (``seq_t = (X0, X1)`` of ``for x in (X0, X1)``), else None."""
        if not name.startswith(("seq_", "out_")):
            return None
        v = self.single_defs().get(name)
        if not isinstance(v, (gast.Tuple, gast.List)) or not v.elts:
            return None
        try:
            import astunparse
            text = astunparse.unparse(gast.gast_to_ast(v)).strip()
        except Exception:       # noqa: BLE001  (not shown: the name)
            return None
        return ("the tuple" if isinstance(v, gast.Tuple) else "the list", text)

    def _copy_read_only_here(self, root: str, copy_stmt, src: str, frames) -> bool:
        """Is the copy ``root = src`` (or an item of it) the only way the site's y reaches that value:
        the copy is in the site's own block before it (other bindings of ``root`` make new values or
        are checked on their own), and ``src`` is
        not read from its binding to the site, nor anywhere its version could flow into y
        (``w = p["w"]; y = f(w); g = dlgradient(y, w); p = {"w": p["w"] - g}`` in a training loop)?
        Then the adjoint of ``root`` is the gradient of the value."""
        if not frames or not isinstance(copy_stmt, gast.Assign):
            return False
        if self._is_copy(src) or self.structures.filled_from(src, set()) is not None:
            return False                   # src is itself a second name of a value, or holds one
        block, s_index = frames[-1][0], frames[-1][1]
        i = next((k for k, st in enumerate(block) if st is copy_stmt), None)
        if i is None or i >= s_index:
            return False

        field = copy_stmt.value
        if isinstance(field, gast.Attribute):
            other = lambda n: isinstance(n, gast.Attribute) and n.attr != field.attr      # noqa: E731
        elif isinstance(field, gast.Subscript) and isinstance(field.slice, gast.Constant):
            other = lambda n: isinstance(n, gast.Subscript) and isinstance(n.slice, gast.Constant) and \
                n.slice.value != field.slice.value                                      # noqa: E731
        else:
            other = lambda n: False                                                      # noqa: E731

        def reads(st) -> bool:
            """Does ``st`` read src, other than another field of it (``model.calls``)?"""
            if src not in loaded_names(st) or _structure_check(st):
                return False
            total = sum(1 for m in walk_nodes(st) if isinstance(m, gast.Name) and m.id == src and
                        isinstance(m.ctx, gast.Load))
            elsewhere = sum(1 for m in walk_nodes(st) if other(m) and isinstance(m.value, gast.Name) and
                            m.value.id == src)
            elsewhere += sum(1 for m in walk_nodes(st) if _is_len_of(m, src))
            return total > elsewhere

        def loads(stmts) -> bool:
            return any(reads(st) for st in stmts)

        def stores(st) -> bool:
            return any(isinstance(m, gast.Name) and m.id == src and isinstance(m.ctx, gast.Store)
                       for m in walk_nodes(st))
        if loads(block[i + 1:s_index]):
            return False
        bound_before = [k for k in range(i) if stores(block[k])]
        if bound_before:
            if loads(block[bound_before[-1] + 1:i]):
                return False
        elif loads(block[:i]):
            return False
        in_loop = any(isinstance(f[2], (gast.For, gast.While)) for f in frames[:-1])
        after = block[s_index + 1:]
        if in_loop and loads(after):
            last_load = max(k for k, st in enumerate(after) if reads(st))
            if not any(stores(st) for st in after[last_load:]):
                return False               # the next iteration reads this value through src
        # the blocks around: a read of src in them (or in a loop's test or iterable) may see this value
        for k, (outer, index, compound, _) in enumerate(frames[:-1]):
            header = [getattr(compound, "test", None), getattr(compound, "iter", None)]
            if any(h is not None and reads(gast.Expr(value=h)) for h in header):
                return False
            if not bound_before and loads(outer[:index]):
                return False
            outer_loop = any(isinstance(f[2], (gast.For, gast.While)) for f in frames[:k])
            if (outer_loop or isinstance(compound, (gast.For, gast.While))) and loads(outer[index + 1:]):
                return False
        return True

    def _ancestors(self) -> Dict[int, Tuple]:
        """Each statement's enclosing compounds, outermost first: (compound, field) pairs."""
        if self._ancestor_map is None:
            out: Dict[int, Tuple] = {}

            def walk(block, chain):
                for st in block:
                    out[id(st)] = chain
                    for field in ("body", "orelse"):
                        inner = getattr(st, field, None)
                        if isinstance(inner, list) and not isinstance(st, (gast.FunctionDef, gast.Lambda)):
                            walk(inner, chain + ((st, field),))
            walk(self.fdef.body, ())
            self._ancestor_map = out
        return self._ancestor_map

    def _exclusive(self, a, b) -> bool:
        """Do statements ``a`` and ``b`` sit in the two branches of one ``if`` that no loop encloses
        (never both run in one call)?"""
        chains = self._ancestors()
        ca, cb = chains.get(id(a)), chains.get(id(b))
        if ca is None or cb is None:
            return False
        for (sa, fa), (sb, fb) in zip(ca, cb):
            if sa is not sb:
                return False
            if isinstance(sa, (gast.For, gast.While)):
                return False
            if fa != fb:
                return isinstance(sa, gast.If)
        return False

    def _only_copied_here(self, copy_stmt, src: str, seen: set) -> bool:
        """Is ``copy_stmt`` (``root = src``, or a field of it) the only statement that can read the
        copied value in a call: ``src`` is read nowhere else (other fields of it aside, and reads in
        the other branch of an ``if`` outside loops), and where ``src`` is itself a field of another
        structure, the same holds for that one (``v = net.l2.b`` in a branch)?"""
        if src in seen or not isinstance(copy_stmt, gast.Assign):
            return False
        seen.add(src)
        field = copy_stmt.value
        if isinstance(field, gast.Attribute):
            def other(m):
                return isinstance(m, gast.Attribute) and m.attr != field.attr
        elif isinstance(field, gast.Subscript) and isinstance(field.slice, gast.Constant):
            def other(m):
                return isinstance(m, gast.Subscript) and isinstance(m.slice, gast.Constant) and \
                    m.slice.value != field.slice.value
        else:
            def other(m):
                return False
        defs = self.single_defs()
        for st in _in_order(self.fdef.body):
            if isinstance(st, (gast.If, gast.For, gast.While, gast.With)):
                header = [getattr(st, "test", None), getattr(st, "iter", None)] + \
                    [item.context_expr for item in getattr(st, "items", [])]
                nodes = [m for h in header if h is not None for m in walk_nodes(h)]
            else:
                nodes = walk_nodes_list(st)
            total = sum(1 for m in nodes if isinstance(m, gast.Name) and m.id == src and isinstance(m.ctx, gast.Load))
            if not total or st is copy_stmt or _fills_itself(st, src, defs) or _structure_check(st):
                continue
            elsewhere = sum(1 for m in nodes if other(m) and isinstance(m.value, gast.Name) and m.value.id == src)
            elsewhere += sum(1 for m in nodes if _is_len_of(m, src))
            if total > elsewhere and not self._exclusive(st, copy_stmt):
                return False
        if src in self.facts.params or src in (self.facts.vararg, self.facts.kwarg):
            return True
        binds = [n for n in self.finding.nodes() if isinstance(n, gast.Assign) and
                 any(isinstance(t, gast.Name) and t.id == src for t in n.targets) and not _fills_itself(n, src, defs)]
        if len(binds) != 1:
            return False
        v = binds[0].value
        if isinstance(v, gast.Name) and v.id in self.act.active:
            return self._only_copied_here(binds[0], v.id, seen)
        if isinstance(v, (gast.Subscript, gast.Attribute)) and isinstance(v.value, gast.Name) and \
                v.value.id in self.act.active and v.value.id not in self.act.arrays:
            return self._only_copied_here(binds[0], v.value.id, seen)
        if isinstance(v, gast.Call) and isinstance(v.func, gast.Attribute) and \
                v.func.attr in ("as_sequence", "listed", "items", "values") and \
                [a for a in v.args if isinstance(a, gast.Name)]:
            # the items of what a for loop walks (``for v in xs``): those of xs
            base = v.func.value if v.func.attr in ("items", "values") else v.args[0]
            return isinstance(base, gast.Name) and self._only_copied_here(binds[0], base.id, seen)
        if isinstance(v, (gast.Tuple, gast.List)) and v.elts and all(isinstance(e, gast.Name) for e in v.elts) and \
                any(e.id in self.act.active for e in v.elts):
            # a display of names (``for x in (X0, X1)``, made ``seq_t = (X0, X1)``): each item's value is
            # read through the display alone where each name is read nowhere else (was: refused as a value
            # ``seq_t`` holds too, a name of the normalizer's, red team 53h FR4)
            return all(self._only_copied_here(binds[0], e.id, seen) for e in v.elts if e.id in self.act.active)
        return self.structures.filled_from(src, set()) is None     # a value made here: held by src alone

    def _is_copy(self, name: str) -> bool:
        """Is some binding of ``name`` a second name of another value (a name, an item or attribute
        of a structure)?"""
        for n in self.finding.nodes():
            if isinstance(n, gast.Assign) and any(isinstance(t, gast.Name) and t.id == name for t in n.targets):
                v = n.value
                if isinstance(v, gast.Name) and v.id in self.act.active or \
                        isinstance(v, (gast.Subscript, gast.Attribute)) and isinstance(v.value, gast.Name) and \
                        v.value.id in self.act.active and self.structures.built(v.value.id):
                    return True
        return False

    def _origin_structure(self, name: str) -> str:
        """The structure of the user's that the normalizer's ``name`` takes its items from
        (``seq_as_sequence = rt.as_sequence(xs)``: xs)."""
        seen = set()
        while name not in seen and name not in self.facts.params:
            seen.add(name)
            v = self.single_defs().get(name)
            if v is None:
                for n in self.finding.nodes():
                    if isinstance(n, gast.Assign) and isinstance(n.targets[0], gast.Name) and \
                            n.targets[0].id == name and isinstance(n.value, gast.Call):
                        v = n.value
                        break
            if isinstance(v, (gast.Subscript, gast.Attribute)) and isinstance(v.value, gast.Name) and \
                    name.startswith("seq_"):
                name = v.value.id
            elif isinstance(v, gast.Call) and isinstance(v.func, gast.Attribute) and \
                    v.func.attr in ("as_sequence", "listed", "items", "values"):
                base = v.func.value if v.func.attr in ("items", "values") else (v.args[0] if v.args else None)
                if not isinstance(base, gast.Name):
                    break
                name = base.id
            else:
                break
        return name

    def _call_text(self, name: str):
        """The user's call whose result the normalizer named ``name`` (``m.params()`` of ``out_params``,
        was shown as 'out_params'), or None."""
        if not name.startswith("out_"):
            return None
        values = [n.value for n in self.finding.nodes() if isinstance(n, gast.Assign) and len(n.targets) == 1
                  and isinstance(n.targets[0], gast.Name) and n.targets[0].id == name]
        if len(values) != 1 or not isinstance(values[0], gast.Call) or values[0].args or values[0].keywords:
            return None
        try:
            import astunparse
            return f"{astunparse.unparse(gast.gast_to_ast(values[0].func)).strip()}()"
        except Exception:
            return None

    def _made_for_call(self, name: str, stmt) -> Optional[str]:
        """Where ``name`` is one the normalizer made for the site's line (not written there): the list
        it stands for, shown by that line (``*[v for k, v in p.items()]``, ``*list(p.values())``: were
        shown as 'out_t', 'out_list', fuzz53 R3); else None."""
        written = linecache.getline(self.facts.filename, getattr(stmt, "lineno", 0) or 0).strip()
        if not written or not name.startswith("out_") or re.search(rf"\b{re.escape(name)}\b", written):
            return None
        return f"the list built for the call on line {getattr(stmt, 'lineno', '?')} (`{written}`)"

    def _fields_read(self) -> bool:
        """Does the function read an object's fields as a dict (``vars(m)``, ``m.__dict__``)?"""
        return any(isinstance(n, gast.Call) and isinstance(n.func, gast.Name) and n.func.id == "vars" or
                   isinstance(n, gast.Attribute) and n.attr == "__dict__" for n in self.finding.nodes())

    def _user_name(self, name: str) -> str:
        """The user's name of a version the normalizer made (``p_1`` of ``p["w"] = x``)."""
        base, _, suffix = name.rpartition("_")
        return base if (suffix.isdigit() or suffix == "listed") and base in self.facts.stored else name

    def check_filled_structure(self, sel: Any, stmt, inside: bool, line: int) -> None:
        """Refuse x that selects (or is) a list, dict or object made in this function and filled
        from other names (``p = {}; p["w"] = x``, ``t.append(x)``, ``b = Box(x)``): an item may be
        the value another name holds, whose gradient also has the uses through that name, and the
        adjoint of the structure alone misses them (was: 2x for 2x + 1, ``p["w"] = x; y =
        sum(p["w"]**2) + sum(x); dlgradient(y, p["w"])``).  A literal ``{"w": x}`` is followed into
        its names instead; arguments' items are values only the argument holds."""
        if sel.kind in ("item", "attr"):
            self.check_filled_structure(sel.of, stmt, True, line)
            return
        if sel.kind != "root":
            for part in sel.parts + ((sel.of,) if sel.of is not None else ()):
                self.check_filled_structure(part, stmt, inside, line)
            return
        r = sel.name
        if r in self.act.arrays or not (inside or self.structures.built(r)) or \
                self.facts.defined_line.get(r) == line and self._read_by_site_only(r, stmt):
            return                  # (made for the site's call: site_checks.check_roots_reached)
        plain = self._plain_item(r, set())
        if plain is not None:
            key, where = plain
            self.fail(stmt, f"dlgradient: cannot differentiate with respect to {self._user_name(r)!r} or what it "
                      f"holds: its item {key!r}, written on line {where}, is a plain array (not a dlarray "
                      "passed to dlfeval, nor computed from one), a constant that sct would give a gradient "
                      "here; pass it to dlfeval as a dlarray, or differentiate with respect to the traced "
                      "items only", "dlgradient")
        found = self.structures.filled_from(r, set())
        if found is not None:
            culprit, line = found
            # (the normalizer's names said as the user's: ``seq_as_sequence`` as what the loop walks, ``p_1``
            # as ``p``; was named as generated, red team 53h)
            r = self._written_name(self._user_name(self._origin_structure(r) if r.startswith("seq_") else r), stmt)
            culprit = self._written_name(self._user_name(culprit), stmt)
            r = self._made_for_call(r, stmt) or repr(r)
            self.fail(stmt, f"dlgradient: cannot differentiate with respect to {r} or what it holds: "
                      f"it is a list, dict or object made in {self.facts.fname}() and filled on line "
                      f"{line} from {culprit!r}, which may hold the same value; its gradient would also "
                      f"have the uses through {culprit!r}, which sct does not follow here. Differentiate "
                      f"with respect to {culprit!r}, or " + (
                          f"name its items (`*{culprit}.values()` of a dict argument, or `{culprit}[k]` by key)"
                          if r.startswith("the list built") else
                          f"build it as a literal of names (p = {{'k': {culprit}}})") +
                      (" (for the fields of an object m read with vars(m) or m.__dict__: differentiate with "
                       "respect to m itself, `g = dlgradient(loss, m)`, an object of m's class holding "
                       "the gradients, whose vars(g) are a dict of them)" if self._fields_read() else ""),
                      "dlgradient")

    def _plain_item(self, r: str, seen: set):
        """(the key, the line) of an item ``r`` (a dict made here, through the versions the normalizer
        makes of it) was given by ``r[key] = v`` with ``v`` a plain float array that is not traced
        (``p = dict(p0); p["z"] = x`` with ``x`` a plain argument, or ``np.ones(4)``), or None.  (Was: such
        an item had the gradient of a variable, where ``{"z": x}`` is refused and a plain array in a dict
        passed to dlfeval gets zeros.)"""
        if r in seen:
            return None
        seen.add(r)
        for n in self.finding.nodes():
            if not (isinstance(n, gast.Assign) and len(n.targets) == 1 and isinstance(n.targets[0], gast.Name) and
                    n.targets[0].id == r):
                continue
            v = n.value
            if isinstance(v, gast.Call) and isinstance(v.func, gast.Attribute) and v.func.attr == "setitem" and \
                    isinstance(v.func.value, gast.Name) and v.func.value.id.startswith("rt") and \
                    len(v.args) == 3 and not v.keywords:
                item = v.args[2]
                kind = self.act.kinds.get(item.id) if isinstance(item, gast.Name) else None
                if isinstance(item, gast.Name) and item.id not in self.act.active and (
                        isinstance(kind, tuple) and len(kind) == 3 and kind[0] == "nd" and _float_dtype(kind[1]) or
                        kind is None and self._made_plain(item.id)):
                    key = v.args[1].value if isinstance(v.args[1], gast.Constant) else "..."
                    return key, getattr(n, "lineno", "?")
                if isinstance(v.args[0], gast.Name):
                    found = self._plain_item(v.args[0].id, seen)
                    if found is not None:
                        return found
        return None

    def _made_plain(self, name: str) -> bool:
        """Is ``name`` bound once, to ``np.zeros(...)`` / ``np.ones`` / ``np.full`` / ``np.eye`` /
        ``np.linspace`` / ``np.empty`` (``_like``) of values that are not traced (a float constant)?"""
        import numpy as np
        binds = [n.value for n in self.finding.nodes() if isinstance(n, gast.Assign) and
                 any(isinstance(t, gast.Name) and t.id == name for t in n.targets)]
        value = binds[0] if len(binds) == 1 else None
        if not isinstance(value, gast.Call) or any(m in self.act.active for m in loaded_names(value)):
            return False
        try:
            obj = self.act.call_info(value).obj
        except Exception:       # noqa: BLE001  (not known: not refused)
            return False
        return any(obj is f for f in (np.zeros, np.ones, np.full, np.eye, np.linspace, np.empty, np.zeros_like,
                                      np.ones_like, np.full_like, np.empty_like)) and \
            not any(k.arg == "dtype" for k in value.keywords)


def _float_dtype(dtype) -> bool:
    try:
        import numpy as np
        return np.dtype(dtype).kind in "fc"
    except TypeError:
        return False


# the normalizer's functions whose value is a new container holding its arguments' items
# (sct/alias_state.py's CONTAINER_COPIES but arrays' bit_or, and ``t op= v``'s result)
_BUILT_BY_RT = frozenset(("dict_or", "dict_merged", "inplace_result", "extended", "inserted", "tupled",
                          "copy_list", "reversed_value", "sorted_value", "without_position", "without_key",
                          "dataclass_replaced", "namedtuple_replaced"))


def _merged_containers(value) -> bool:
    """Is ``value`` one of the containers ``Structures.built`` reads since stop 44 (the normalizer's
    ``rt.dict_or`` / ``dict_merged`` / ``extended`` ... of others, ``+`` / ``*`` of tuples and names)?
    Their parts are followed: an argument read there only is reached through the container alone."""
    if isinstance(value, gast.Call) and isinstance(value.func, gast.Attribute) and \
            isinstance(value.func.value, gast.Name) and value.func.value.id.startswith("rt"):
        return value.func.attr in _BUILT_BY_RT
    return isinstance(value, gast.BinOp) and isinstance(value.op, (gast.Add, gast.Mult)) and \
        not any(isinstance(o, gast.List) for o in (value.left, value.right))


def _items_passing(act, call) -> bool:
    """Is ``call`` one of the standard library's (itertools, functools, operator, collections, copy,
    a builtin; runtime/iter_ops.py's) whose value may be (or hold) items of what it is given?"""
    try:
        obj = act.call_info(call).obj
    except Exception:       # noqa: BLE001  (unsure: not followed, as before)
        return False
    module = module_name(obj) or ""
    if getattr(obj, "__name__", None) in COPY_BUILTINS:
        return False            # (dict(p), list(xs): copies, which check_unfollowed_copy reads)
    return module.split(".")[0].lstrip("_") in ("itertools", "functools", "operator", "collections", "copy",
                                                "builtins") or module.endswith("iter_ops")     # (sct's itertools)


def _structure_check(stmt) -> bool:
    """Is ``stmt`` ``rt.dlupdate_structure(...)`` (sct/dlupdates.py): a check of the structures it is
    given that returns nothing and keeps nothing, a read of no value that could reach y?"""
    v = stmt.value if isinstance(stmt, gast.Expr) else None
    return isinstance(v, gast.Call) and isinstance(v.func, gast.Attribute) and \
        isinstance(v.func.value, gast.Name) and v.func.value.id == "rt" and v.func.attr == "dlupdate_structure"


def _is_len_of(node, name: str) -> bool:
    """Is ``node`` ``len(name)`` (a read of the count, not of the items)?"""
    return isinstance(node, gast.Call) and isinstance(node.func, gast.Name) and node.func.id == "len" and \
        len(node.args) == 1 and isinstance(node.args[0], gast.Name) and node.args[0].id == name


def _in_order(block: List):
    """Statements of a body in source order, entering compound statements (as ``sites``')."""
    for s in block:
        yield s
        for field_name in ("body", "orelse"):
            yield from _in_order(getattr(s, field_name, []) or [])


class Structures:
    """What ``CopyChecks`` asks about the lists, dicts and objects of the function: built here,
    part of one, filled in place from which name."""

    def __init__(self, finding):
        self.finding = finding
        self.fdef = finding.fdef
        self.facts = finding.facts
        self.act = finding.act

    def single_defs(self) -> Dict:
        return self.finding.follow.single_defs()

    def _structure(self, name: str) -> bool:
        return self.finding.follow._structure(name)

    def built(self, name: str, seen: Optional[set] = None) -> bool:
        """Is ``name`` known to be a list, dict or object built here (not an array), or a second name
        of one (``r = t``)?"""
        if self._structure(name) or name in getattr(self.act, "objects", ()):
            return True
        seen = {name} if seen is None else seen | {name}
        for n in self.finding.nodes():
            if isinstance(n, gast.Assign) and any(isinstance(t, gast.Name) and t.id == name for t in n.targets):
                v = n.value
                if isinstance(v, gast.Name) and v.id not in seen and self.built(v.id, seen) or \
                        isinstance(v, (gast.List, gast.Dict, gast.Tuple)) or (
                        isinstance(v, gast.Call) and isinstance(v.func, gast.Attribute) and
                        # (simple_namespace: types.SimpleNamespace(x=x); was not a structure, so
                        # dlgradient(y, p.x) missed y's uses through x: x for 2x)
                        v.func.attr in ("setitem", "setattr", "listed", "as_sequence", "items", "values",
                                        "simple_namespace")) or (
                        isinstance(v, gast.BinOp) and isinstance(v.op, (gast.Add, gast.Mult)) and
                        any(isinstance(o, (gast.List, gast.Tuple)) or isinstance(o, gast.Name) and
                            o.id not in seen and o.id not in self.act.arrays and self.built(o.id, seen)
                            for o in (v.left, v.right))) or (
                        # the normalizer's containers made of others' items: ``a | b`` and ``{**a, "z": x}``
                        # of dicts, ``d.update(z=x)``, ``t += [x]``, ``t.extend(..)``, ``t.insert(..)``,
                        # ``(*t, x)`` (was: not a structure, so dlgradient(y, p) of p = {"w": w} | {"z": x}
                        # missed y's uses through x: x for w + 2x)
                        isinstance(v, gast.Call) and isinstance(v.func, gast.Attribute) and
                        isinstance(v.func.value, gast.Name) and v.func.value.id.startswith("rt") and
                        v.func.attr in _BUILT_BY_RT) or (
                        # dict(a=x), list(vs), sorted(vs, key=...): a new container of the same items
                        # (was: a new value, so dlgradient(y, dict(a=x)["a"]) missed y's uses of x)
                        isinstance(v, gast.Call) and isinstance(v.func, gast.Name) and
                        v.func.id in ("dict", "list", "tuple", "sorted", "set", "frozenset", "reversed") and
                        (v.args or v.keywords) and not _shallow_copy_of(v)) or \
                        isinstance(v, gast.Call) and isinstance(v.func, gast.Name) and \
                        v.func.id in ("list", "tuple") and \
                        any(c not in seen and self.built(c, seen) for c in _shallow_copy_of(v)):
                    # (dict(p) of an argument: a copy, followed as one; list(vs) / tuple(vs) of a list built
                    # here is one too, holding its items (only those: dict(p0) of an argument was refused, CI): was not, so dlgradient(y, sorted(list(vs), key=k)[0]), and
                    # sorted(vs, key=k), which the normalizer gives list(vs), missed y's uses through x)
                    return True
        return False

    def holds_items_of(self, name: str) -> bool:
        """Is ``name`` bound to a tuple or list made of the items of ones built here (``t1 + t2``,
        ``t * 2``, ``tuple(t)``, ``list(t)``): an item of it is a value those hold too?"""
        for n in self.finding.nodes():
            if isinstance(n, gast.Assign) and any(isinstance(t, gast.Name) and t.id == name for t in n.targets):
                v = n.value
                if isinstance(v, gast.BinOp) and isinstance(v.op, (gast.Add, gast.Mult)) and \
                        any(isinstance(o, (gast.List, gast.Tuple)) or isinstance(o, gast.Name) and o.id != name and
                            o.id not in self.facts.params and self.built(o.id) for o in (v.left, v.right)) or \
                        any(c != name and c not in self.facts.params and self.built(c) for c in _shallow_copy_of(v)):
                    return True
        return False

    def part_of(self, name: str) -> bool:
        """Is ``name`` bound to a slice, item or attribute of a structure (``xs[1:]`` of a list: the
        same items)?"""
        value = self.single_defs().get(name)
        return isinstance(value, (gast.Subscript, gast.Attribute)) and isinstance(value.value, gast.Name) and \
            value.value.id in self.act.active and value.value.id not in self.act.arrays and \
            (self.built(value.value.id) or value.value.id in self.facts.params or
             self.part_of(value.value.id))

    def _may_hold(self, call) -> bool:
        """A call of the user's function, class or callable object (``P(x)`` of a namedtuple class):
        its value may hold its arguments (was: read as a new value, so dlgradient(y, p.x) of p = P(x)
        missed y's uses through x: x for 2x)."""
        from .helper_sites import may_hold_arguments
        return may_hold_arguments(call, self.act)

    def filled_from(self, r: str, seen: set, merged_part: bool = False):
        """(an active name whose value may be an item of ``r``, the line) or None: ``r`` is not an
        argument, and one of its bindings reads such a name (an array read again elsewhere, or an
        argument), directly or through the structures it was made from."""
        if r in seen or r in self.facts.params or r in (self.facts.vararg, self.facts.kwarg):
            return None
        seen.add(r)
        counts = self.facts.name_counts
        for n in self.finding.nodes():
            values, held = [], []
            if isinstance(n, gast.Assign):
                for t in n.targets:
                    if isinstance(t, (gast.Subscript, gast.Attribute)) and isinstance(t.value, gast.Name) \
                            and t.value.id == r:
                        values.append(n.value)
                    elif isinstance(t, gast.Name) and t.id == r and not (
                            isinstance(n.value, gast.Call) and not self.built(r)):
                        values.append(n.value)
                    elif isinstance(t, gast.Name) and t.id == r and self._may_hold(n.value):
                        held.append(n.value)
            elif isinstance(n, gast.Call) and isinstance(n.func, gast.Attribute) and \
                    isinstance(n.func.value, gast.Name) and n.func.value.id == r and \
                    n.func.attr in ("append", "extend", "insert", "update", "setdefault"):
                values.extend(n.args)
            for v in held:
                # (the value of a call of the user's: a name it reads counts where it is read again
                # elsewhere, as an array's does; was: not followed)
                for m in loaded_names(v):
                    if m != r and m in self.act.active and counts.get(m, (0, 0))[1] > 1:
                        return m, getattr(n, "lineno", "?")
            for v in values:
                # (``merged_part``: r is a part of such a container, read there only: ``{"w": w}`` of
                # ``p = {"w": w} | {"b": b}``)
                merged = _merged_containers(v) or merged_part and counts.get(r, (0, 0))[1] <= 1
                for m in loaded_names(_held_part(v)):
                    if m == r or m not in self.act.active:
                        continue
                    if merged and counts.get(m, (0, 0))[1] > 1:
                        # (a part of ``a | b``, ``a + b``, ``{**a, ...}`` read elsewhere too: its values
                        # may be read through it)
                        return m, getattr(n, "lineno", "?")
                    if m in self.facts.params or m in (self.facts.vararg, self.facts.kwarg):
                        if merged:
                            continue        # an argument (or its items) read there only: through r alone
                        return m, getattr(n, "lineno", "?")     # its items are the argument's too
                    if m not in self.act.arrays and (self.built(m) or self.part_of(m)):
                        inner = self.filled_from(m, seen, merged)
                        if inner is not None:
                            return inner
                        continue
                    if m not in self.act.arrays:
                        # a value that is not an array, bound from others (``v = item[1]`` of a pair
                        # ``("x", x)`` a dict comprehension reads): what it was bound from (was: not
                        # followed, so dlgradient(y, p["x"]) of p = {k: v for k, v in [("x", x)]}
                        # missed y's uses through x: x for 2x)
                        # (one read elsewhere too: a copy of an argument's dict, {k: v for k, v in
                        # p0.items()}, reads p0 once, and its items are p0's only)
                        inner = self.filled_from(m, seen)
                        if inner is not None and counts.get(inner[0], (0, 0))[1] > 1:
                            return inner
                    if counts.get(m, (0, 0))[1] > 1 and self._value_reads().get(m, 0) > 1:
                        # (a read by the normalizer's check, ``rt.unformatted_outside('f(a)', p_f)``, is not
                        # a use: was counted, so ``p["w"] = f(p["w"])`` of a helper returning a new array
                        # was refused as filled from a name read elsewhere)
                        return m, getattr(n, "lineno", "?")
                    second = self.second_name_of(m)
                    if second is not None:
                        # a name bound in some branch to another array read elsewhere too (``{k: (w if
                        # k == "a" else w * 3) ...}``: ``d_item = w`` in one branch; was: not followed,
                        # so dlgradient(y, d["a"]) missed y's uses through w: 3w for 6w)
                        return second, getattr(n, "lineno", "?")
                    else:
                        source = self.argument_item(m)
                        if source is not None:
                            # an item of an argument read by a loop (``ys = [x for x in xs]``): the
                            # argument holds it too (was: not followed, the gradient with respect to
                            # ys silently without the uses through xs)
                            return source, getattr(n, "lineno", "?")
        return None

    def second_name_of(self, m: str, seen: Optional[set] = None):
        """An active name read more than once whose value ``m`` may be, bound to it by name in one of
        its bindings (a branch's ``m = w``), through such names, or None."""
        seen = set() if seen is None else seen
        if m in seen:
            return None
        seen.add(m)
        for n in self.finding.nodes():
            if isinstance(n, gast.Assign) and isinstance(n.value, gast.Name) and \
                    any(isinstance(t, gast.Name) and t.id == m for t in n.targets):
                v = n.value.id
                if v in self.act.active and self._value_reads().get(v, 0) > 1:
                    return v
                found = self.second_name_of(v, seen)
                if found is not None:
                    return found
        return None

    def _value_reads(self) -> Dict[str, int]:
        """name -> its reads in the function but those of the normalizer's checks (a statement
        ``rt.check(...)`` that returns nothing: ``rt.unformatted_outside('p[k]', v)``)."""
        if getattr(self, "_reads", None) is None:
            reads: Dict[str, int] = {}
            todo = [self.fdef]
            while todo:
                n = todo.pop()
                if isinstance(n, gast.Expr) and isinstance(n.value, gast.Call) and \
                        isinstance(n.value.func, gast.Attribute) and isinstance(n.value.func.value, gast.Name) \
                        and n.value.func.value.id.startswith("rt"):
                    continue
                if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Load):
                    reads[n.id] = reads.get(n.id, 0) + 1
                todo.extend(gast.iter_child_nodes(n))
            self._reads = reads
        return self._reads

    def argument_item(self, m: str, depth: int = 0):
        """The argument whose item (or value, or element of its ``values()``) the name ``m`` is, bound
        once through names, items and a loop's sequence, or None."""
        if depth > 12:
            return None
        if m in self.facts.params or m in (self.facts.vararg, self.facts.kwarg):
            return m
        defs = [n.value for n in self.finding.nodes() if isinstance(n, gast.Assign) and
                any(isinstance(t, gast.Name) and t.id == m for t in n.targets)]
        if len(defs) != 1:
            return None
        v = defs[0]
        if isinstance(v, gast.Name):
            return self.argument_item(v.id, depth + 1)
        if isinstance(v, gast.Subscript) and isinstance(v.value, gast.Name):
            return self.argument_item(v.value.id, depth + 1)
        if isinstance(v, gast.Call) and len(v.args) == 1 and isinstance(v.args[0], gast.Name) and \
                isinstance(v.func, gast.Attribute) and v.func.attr == "as_sequence":
            return self.argument_item(v.args[0].id, depth + 1)
        if isinstance(v, gast.Call) and not v.args and isinstance(v.func, gast.Attribute) and \
                v.func.attr == "values" and isinstance(v.func.value, gast.Name):
            return self.argument_item(v.func.value.id, depth + 1)
        if isinstance(v, gast.Call) and _items_passing(self.act, v):
            # what ``itertools.chain(xs, [x])``, ``zip(..)``, ``filter(..)`` give: the items of what
            # they are given
            for a in v.args:
                if isinstance(a, gast.Name):
                    found = self.argument_item(a.id, depth + 1)
                    if found is not None:
                        return found
        if isinstance(v, (gast.Tuple, gast.List)):
            # an item of a display of names (``for v in (w, x)``, ``(("z", x), ...)`` a comprehension walks):
            # the names' values (was: not followed, so dlgradient(y, p) of p = [v for v in (w, x)] missed
            # y's uses through x)
            for e in v.elts:
                if isinstance(e, gast.Name):
                    found = self.argument_item(e.id, depth + 1)
                    if found is not None:
                        return found
        return None


def _shallow_copy_of(value) -> list:
    """The names whose containers ``value`` copies shallowly: ``dict(p)``, ``list(p)``, ``tuple(p)``,
    ``copy.copy(p)``, ``p.copy()``, ``{**p}`` (``rt.dict_merged(..., p)`` once normalized)."""
    if isinstance(value, gast.Dict) and value.keys and all(k is None for k in value.keys):
        return [v.id for v in value.values if isinstance(v, gast.Name)]
    if not isinstance(value, gast.Call) or value.keywords:
        return []
    func, args = value.func, value.args
    names = [a.id for a in args if isinstance(a, gast.Name)]
    if isinstance(func, gast.Name) and func.id in ("dict", "list", "tuple") and len(args) == 1:
        return names
    if isinstance(func, gast.Attribute) and func.attr == "copy" and not args and isinstance(func.value, gast.Name):
        return [func.value.id]
    if isinstance(func, gast.Attribute) and isinstance(func.value, gast.Name) and (
            (func.value.id == "copy" and func.attr == "copy" and len(args) == 1) or
            (func.attr == "dict_merged" and func.value.id.startswith("rt"))):
        return names
    return []


def _held_part(value):
    """What of a value bound into a structure the structure may hold: all of it, but the key of the
    normalizer's ``rt.setitem(d, key, v)`` (a dict's key is hashable, never an array or a structure
    holding one; was: ``p = {k: v - lr * g[k] for k, v in p.items()}`` in a loop refused, the new
    dict's string keys read as items of the old p)."""
    if isinstance(value, gast.Call) and isinstance(value.func, gast.Attribute) and \
            isinstance(value.func.value, gast.Name) and value.func.value.id == "rt" and \
            value.func.attr in ("setitem", "setitem_owned") and len(value.args) == 3 and not value.keywords:
        return gast.Tuple(elts=[value.args[0], value.args[2]], ctx=gast.Load())
    if isinstance(value, gast.BinOp) and (isinstance(value.op, _NEW_VALUE_OPS) or isinstance(
            value.op, (gast.Add, gast.Mult)) and any(_float_constant(v) for v in (value.left, value.right))) or \
            isinstance(value, gast.UnaryOp) and not isinstance(value.op, gast.Not):
        # numbers' and arrays' arithmetic: a new value (a user class's operator is refused where it
        # runs, sct/operand_checks; ``+`` and ``*`` of lists and tuples hold their items)
        return gast.Tuple(elts=[], ctx=gast.Load())
    return value


def _fills_itself(stmt, name: str, defs) -> bool:
    """Is ``stmt`` the normalizer's ``name = rt.setitem(name, key, v)`` (``name[key] = v`` of a structure
    being built), reading ``name`` only to give it the new item: no second name of its value?  ``defs``:
    the function's single bindings (sites' ``single_defs``)."""
    if not (isinstance(stmt, gast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], gast.Name) and
            stmt.targets[0].id == name):
        return False
    v = stmt.value
    right = v.right if isinstance(v, gast.BinOp) else None
    if isinstance(right, gast.Name) and isinstance(defs.get(right.id), gast.List):
        right = defs[right.id]
    if isinstance(v, gast.BinOp) and isinstance(v.op, gast.Add) and isinstance(right, gast.List):
        # a list comprehension's ``name = name + [item]`` (``t = [item]; name = name + t``)
        first, rest = v.left, right.elts
    elif isinstance(v, gast.Call) and _held_part(v) is not v:
        first, rest = v.args[0], v.args[1:]
    else:
        return False
    return isinstance(first, gast.Name) and first.id == name and \
        name not in loaded_names(gast.Tuple(elts=list(rest), ctx=gast.Load()))


def _float_constant(node) -> bool:
    """A float or complex literal (``v * 1.0``: lists and tuples cannot be added to or multiplied by
    one, so the result is a number's or an array's)."""
    if isinstance(node, gast.UnaryOp) and isinstance(node.op, (gast.USub, gast.UAdd)):
        node = node.operand
    return isinstance(node, gast.Constant) and type(node.value) in (float, complex)


_NEW_VALUE_OPS = (gast.Sub, gast.Div, gast.FloorDiv, gast.Pow, gast.MatMult, gast.Mod)
