"""The differentiation sites of a function (``dlgradient``, ``dljacobian``, ``dldivergence``).

Each site is found once, its options read and checked, and what each of its x selects resolved
into a tree of selections; the result is a frozen :class:`Site` that the sweeps only read.
"""
from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any, Dict, List, Optional, Tuple

import gast

from types import MappingProxyType

from .plans import CallKind, FunctionFacts
from .ir import loaded_names, walk_nodes


class SiteKind(str, Enum):
    """Which function a site calls (its value is the function's name)."""
    DLGRADIENT = "dlgradient"
    DLJACOBIAN = "dljacobian"
    DLDIVERGENCE = "dldivergence"
    DLLAPLACIAN = "dllaplacian"

    def __str__(self) -> str:
        return self.value

    __format__ = str.__format__


@dataclass(frozen=True)
class SiteOptions:
    """The options of a dlgradient call (literal True/False, read once)."""
    retain_data: bool = False
    enable_higher_derivatives: bool = True
    allow_complex: bool = True


OPTION_NAMES = {"RetainData": "retain_data", "EnableHigherDerivatives": "enable_higher_derivatives",
                "AllowComplex": "allow_complex"}


@dataclass(frozen=True)
class Selection:
    """What an x of a site selects (``SiteFinding.resolve_x``), as a tree: ``root`` (a name's
    current value: ``name``), ``item`` (``of[index]``), ``attr`` (``of.name``), ``list`` /
    ``tuple`` (of ``parts``), ``dict`` (``keys`` -> ``parts``), ``star`` (``*of``)."""
    kind: str
    name: Optional[str] = None
    of: Optional["Selection"] = None
    index: Any = None
    parts: Tuple["Selection", ...] = ()
    keys: Tuple[Any, ...] = ()


@dataclass(frozen=True)
class Site:
    """One differentiation site, as the sweeps read it."""
    stmt: gast.Assign
    frames: Tuple[Tuple[List, int, Any, int], ...]   # (block, index, parent compound, depth of block)
    y: str
    xs: Tuple[gast.AST, ...]
    options: SiteOptions
    line: int
    kind: SiteKind = SiteKind.DLGRADIENT
    dim: Any = None
    in_loop: bool = False
    sels: Optional[Tuple[Selection, ...]] = None     # what each x selects


class SiteFinding:
    """Finding the dlgradient / dljacobian / dldivergence sites of a function, reading their
    options and what each x selects: ``find_sites`` returns them, frozen."""

    def __init__(self, fdef: gast.FunctionDef, facts: FunctionFacts, act):
        self.fdef = fdef
        self.facts = facts
        self.act = act
        self.fail = facts.fail
        self._single_defs: Optional[Dict[str, Any]] = None
        self._in_loops: Optional[set] = None

    # --- sites ---------------------------------------------------------------------------------
    def find_sites(self) -> Tuple[Site, ...]:
        sites: List[Site] = []

        def walk(block, frames, depth, in_loop):
            for i, s in enumerate(block):
                if isinstance(s, gast.Assign) and isinstance(s.value, gast.Call) and \
                        self.act.call_info(s.value).kind == CallKind.SITE:
                    sites.append(self.make_site(s, frames + [(block, i, None, depth)], in_loop))
                elif isinstance(s, gast.Expr) and isinstance(s.value, gast.Call) and \
                        self.act.call_info(s.value).kind == CallKind.SITE:
                    self.fail(s, "the result of dlgradient is not used: assign it, "
                              "e.g. dydx = dlgradient(y, x)", "dlgradient")
                elif isinstance(s, gast.If):
                    walk(s.body, frames + [(block, i, s, depth)], depth + 1, in_loop)
                    walk(s.orelse, frames + [(block, i, s, depth)], depth + 1, in_loop)
                elif isinstance(s, gast.With):
                    walk(s.body, frames + [(block, i, s, depth)], depth + 1, in_loop)
                elif isinstance(s, (gast.For, gast.While)):
                    walk(s.body, frames + [(block, i, s, depth)], depth + 1, True)
        walk(self.fdef.body, [], 0, False)
        del walk        # (a recursive closure holding self: freed now, not by the cyclic collector)
        return tuple(sites)

    def make_site(self, stmt: gast.Assign, frames, in_loop: bool) -> Site:
        node = stmt.value
        line = getattr(stmt, "lineno", self.facts.line)
        kind = SiteKind(self.act.call_info(node).obj.__name__)
        options = self.site_options(stmt)
        if kind != SiteKind.DLGRADIENT:
            if len(node.args) != 3:
                self.fail(stmt, f"{kind} takes (u, x, dim): dim is the batch axis of u and x",
                          kind.value)
            u, x, dim = node.args
            if not isinstance(u, gast.Name) or u.id not in self.act.active:
                self.fail(stmt, f"{kind}: u does not depend on any traced input", kind.value)
            if not isinstance(x, gast.Name) or x.id not in self.act.active:
                self.fail(stmt, f"{kind}: x must be a traced dlarray (an argument of dlfeval or "
                          "computed from one)", kind.value)
            x = self.origin_name(x, frames, line, stmt, kind.value)
            # a selection of x's root, as dlgradient's: a name assigned in a loop or branch, or more
            # than once, is read as at the site (was: the adjoint the sweep left after undoing its
            # binding, zeros, projected on an older value)
            return Site(stmt, tuple(frames), u.id, (x,), options, line, kind, dim, in_loop,
                        sels=(Selection("root", x.id),))
        if len(node.args) < 2:
            self.fail(stmt, "dlgradient needs y and at least one x: dlgradient(y, x1, ..., xk)",
                      "dlgradient")
        y, xs = node.args[0], node.args[1:]
        if not isinstance(y, gast.Name) or y.id not in self.act.active:
            constant = self.constant_gradient_in(y)
            if constant is not None:
                self.fail(stmt, f"dlgradient: y depends on the traced inputs only through the gradient "
                          f"computed on line {constant} with EnableHigherDerivatives=False, which makes "
                          "that gradient a constant, so this derivative would be zero. Remove "
                          "EnableHigherDerivatives=False (the default, True, lets it be differentiated "
                          "again)", "dlgradient")
            self.fail(stmt, "dlgradient: y does not depend on any traced input. y must be computed "
                      "from the dlarray arguments passed to dlfeval (plain arrays and numbers are "
                      "constants)", "dlgradient")
        line_defs = self.site_line_defs(frames, line)
        defs = {k: v for k, v in self.single_defs().items() if k not in line_defs and self._follows(v)}
        defs.update(line_defs)
        sels = [self.resolve_x(x, defs, stmt, top=True) for x in xs]
        for root in _roots(sels):
            self.check_copy_of_rebound(root, defs, stmt)
            self.check_unfollowed_copy(root, stmt, frames=frames)
        for sel in sels:
            self.check_filled_structure(sel, stmt, False, line)
            if root not in self.act.active:
                where = self.facts.defined_line.get(root)
                if self.created_by_dlarray(root):
                    self.fail(stmt, f"dlgradient: cannot differentiate with respect to {root!r}: it is a "
                              f"dlarray created inside {self.facts.fname}() (line {where}), and only the arguments "
                              "passed to dlfeval are traced (as in MATLAB). Create it outside and pass it "
                              f"to dlfeval as an argument: dlfeval({self.facts.fname}, ..., {root})", "dlgradient")
                origin = (f"it is created on line {where} and does not depend on the inputs of dlfeval"
                          if root not in self.facts.params else "it is not a dlarray argument of dlfeval")
                self.fail(stmt, f"dlgradient: cannot differentiate with respect to {root!r}: {origin}; "
                          "only dlarrays passed to dlfeval, and values computed from them, are traced",
                          "dlgradient")
            if root in self.act.complex and not options.allow_complex:
                self.fail(stmt, f"dlgradient: {root!r} is complex but AllowComplex is False",
                          "dlgradient")
        return Site(stmt, tuple(frames), y.id, tuple(xs), options, line, in_loop=in_loop, sels=tuple(sels))

    def site_options(self, stmt: gast.Assign) -> SiteOptions:
        """The options of a site's call: literal True or False, by MATLAB's or Python's name."""
        options = {"RetainData": False, "EnableHigherDerivatives": True, "AllowComplex": True}
        aliases = {"retain_data": "RetainData", "enable_higher_derivatives": "EnableHigherDerivatives",
                   "allow_complex": "AllowComplex"}
        for k in stmt.value.keywords:
            key = aliases.get(k.arg, k.arg)
            if key not in options:
                self.fail(stmt, f"dlgradient has no option {k.arg!r}; the options are RetainData, "
                          "EnableHigherDerivatives and AllowComplex", "dlgradient")
            if not isinstance(k.value, gast.Constant):
                self.fail(stmt, f"the dlgradient option {k.arg} must be the literal True or False",
                          "dlgradient")
            options[key] = bool(k.value.value)
        return SiteOptions(**{OPTION_NAMES[k]: v for k, v in options.items()})

    def created_by_dlarray(self, name: str) -> bool:
        """Is ``name`` assigned ``dlarray(...)`` in this function (a constant inside dlfeval)?"""
        for n in walk_nodes(self.fdef):
            if isinstance(n, gast.Assign) and any(isinstance(t, gast.Name) and t.id == name for t in n.targets):
                v = n.value
                if isinstance(v, gast.Call) and self.act.call_info(v).kind == CallKind.CREATE:
                    return True
        return False

    def constant_gradient_in(self, y) -> Optional[int]:
        """The line of a gradient taken with EnableHigherDerivatives=False that ``y`` is computed
        from (so y is a constant because of it), or None."""
        if not isinstance(y, gast.Name):
            return None
        defs: Dict[str, List] = {}
        for n in walk_nodes(self.fdef):
            if isinstance(n, gast.Assign):
                for t in n.targets:
                    for m in walk_nodes(t):
                        if isinstance(m, gast.Name):
                            defs.setdefault(m.id, []).append(n)
        seen, todo = set(), [y.id]
        while todo:
            name = todo.pop()
            if name in seen:
                continue
            seen.add(name)
            for st in defs.get(name, ()):
                v = st.value
                if isinstance(v, gast.Call) and self.act.call_info(v).kind == CallKind.SITE and any(
                        k.arg in ("EnableHigherDerivatives", "enable_higher_derivatives") and
                        isinstance(k.value, gast.Constant) and not k.value.value for k in v.keywords):
                    return getattr(st, "lineno", None)
                todo.extend(m.id for m in walk_nodes(v) if isinstance(m, gast.Name))
        return None

    # --- what x denotes at a site ----------------------------------------------------------
    def site_line_defs(self, frames, line: int) -> Dict[str, Any]:
        """The values of the names the normalizer made for the site's own line (``p["w"]``
        in ``dlgradient(y, p["w"])`` becomes a name assigned just before the site)."""
        block, index = frames[-1][0], frames[-1][1]
        defs: Dict[str, Any] = {}
        j = index - 1
        while j >= 0 and getattr(block[j], "lineno", None) == line:
            st = block[j]
            if isinstance(st, gast.Assign) and isinstance(st.targets[0], gast.Name):
                defs.setdefault(st.targets[0].id, st.value)
            j -= 1
        return defs

    def single_defs(self) -> Dict[str, Any]:
        """The value of each name bound once in the function (a Python copy ``x0 = x``, an item
        ``w = p["w"]``, an attribute, a container ``p = {"x": x}``): dlgradient with respect to it
        is with respect to the value it names, reached through every name holding it (the adjoint
        of ``x0`` alone misses the uses of ``x``).  ``resolve_x`` follows one only into names
        bound once too, so each name in the chain holds the same value at the site."""
        if self._single_defs is None:
            counts = self.facts.name_counts
            defs: Dict[str, Any] = {}
            for n in walk_nodes(self.fdef):
                if isinstance(n, gast.Assign) and len(n.targets) == 1 and \
                        isinstance(n.targets[0], gast.Name) and counts.get(n.targets[0].id, (0, 0))[0] == 1 \
                        and isinstance(n.value, (gast.Name, gast.Subscript, gast.Attribute, gast.List,
                                                 gast.Tuple, gast.Dict)):
                    defs[n.targets[0].id] = n.value
            self._single_defs = defs
        return self._single_defs

    def origin_name(self, x: gast.Name, frames, line: int, stmt, what: str) -> gast.Name:
        """The x of a dljacobian / dldivergence / dllaplacian site that is a second name for
        another (``x0 = x``, each bound once) as that name: the derivative is with respect to
        the value, reached through both (was: through ``x0`` alone, zeros)."""
        line_defs = self.site_line_defs(frames, line)
        seen = set()
        while x.id not in seen:
            seen.add(x.id)
            value = line_defs.get(x.id)
            if value is None:
                value = self.single_defs().get(x.id)
                if value is None or not self._follows(value):
                    self.check_copy_of_rebound(x.id, {}, stmt, what)
                    self.check_unfollowed_copy(x.id, stmt, what, frames)
                    break
            if not (isinstance(value, gast.Name) and self._once(x.id) and value.id in self.act.active):
                break
            x = gast.Name(id=value.id, ctx=gast.Load(), annotation=None, type_comment=None)
        return x

    def check_copy_of_rebound(self, root: str, defs: Dict[str, Any], stmt, what: str = "dlgradient") -> None:
        """Refuse x that holds (at the top level of the function) the value of a name assigned
        again elsewhere: its gradient is with respect to that value, reached also through the
        other name, whose later versions sct cannot tell apart here (was: the uses of x only,
        a zero where the value is used through the other name)."""
        value = self.single_defs().get(root)
        if value is None or root in defs or not any(value is getattr(st, "value", None)
                                                    for st in self.fdef.body):
            return
        if isinstance(value, (gast.Subscript, gast.Attribute)) and not (
                isinstance(value.value, gast.Name) and self._structure(value.value.id)):
            return                            # an array's item or attribute: a new value
        again = [n for n in loaded_names(value) if not self._once(n, True) and n in self.facts.stored]
        if again:
            self.fail(stmt, f"{what}: cannot differentiate with respect to {root!r}: it holds the value "
                      f"{again[0]!r} had on line {getattr(self.facts, 'defined_line', {}).get(root, '?')}, "
                      f"and {again[0]!r} is assigned again in {self.facts.fname}(); the gradient would "
                      f"miss what that value reaches through {again[0]!r}. Give the new values of "
                      f"{again[0]!r} another name", what)

    def check_unfollowed_copy(self, root: str, stmt, what: str = "dlgradient", frames=()) -> None:
        """Refuse x whose name is bound somewhere to a second name of another value (``z = x`` in a
        branch or loop, ``v = p["w"]``, ``for v in xs``) that ``resolve_x`` did not follow: its
        gradient is with respect to that value, reached also through the other name, and the
        adjoint of ``root`` alone misses those uses (was: a wrong gradient, ``z = x if c else 2*x;
        dlgradient(sum(z * x), z)`` gave x for 2x)."""
        for n in walk_nodes(self.fdef):
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
            elif isinstance(value, (gast.Subscript, gast.Attribute)) and isinstance(value.value, gast.Name) \
                    and value.value.id in self.act.active and (self._built_structure(value.value.id) or
                                                               self._part_of_structure(value.value.id)):
                copy_of = value.value.id
            if copy_of is None or copy_of == root or self._copy_read_only_here(root, n, copy_of, frames) or \
                    self._only_copied_here(n, copy_of, set()):
                continue
            line = getattr(target, "lineno", "?")
            copy_of = self._user_name(self._origin_structure(copy_of))
            self.fail(stmt, f"{what}: cannot differentiate with respect to {root!r}: on line {line} it is "
                      f"bound to a value that {copy_of!r} holds too (a second name of it, or an item of "
                      f"it), and sct cannot follow here whether {root!r} still is that value at this line "
                      f"(bound more than once, in a loop, or taken from a structure filled in place); "
                      f"the gradient would miss the uses through {copy_of!r}. Differentiate with respect "
                      f"to {copy_of!r} (and select from its gradient), or make the value of {root!r} a new "
                      f"one where it is bound (... * 1.0)", what)

    def _copy_read_only_here(self, root: str, copy_stmt, src: str, frames) -> bool:
        """Is the copy ``root = src`` (or an item of it) the only way the site's y reaches that value:
        the copy is in the site's own block before it (other bindings of ``root`` make new values or
        are checked on their own), and ``src`` is
        not read from its binding to the site, nor anywhere its version could flow into y
        (``w = p["w"]; y = f(w); g = dlgradient(y, w); p = {"w": p["w"] - g}`` in a training loop)?
        Then the adjoint of ``root`` is the gradient of the value."""
        if not frames or not isinstance(copy_stmt, gast.Assign):
            return False
        if self._is_copy(src) or self._filled_from(src, set()) is not None:
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
            if src not in loaded_names(st):
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
        if getattr(self, "_ancestor_map", None) is None:
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
        for st in _in_order(self.fdef.body):
            if isinstance(st, (gast.If, gast.For, gast.While, gast.With)):
                header = [getattr(st, "test", None), getattr(st, "iter", None)] + \
                    [item.context_expr for item in getattr(st, "items", [])]
                nodes = [m for h in header if h is not None for m in walk_nodes(h)]
            else:
                nodes = list(walk_nodes(st))
            total = sum(1 for m in nodes if isinstance(m, gast.Name) and m.id == src and isinstance(m.ctx, gast.Load))
            if not total or st is copy_stmt:
                continue
            elsewhere = sum(1 for m in nodes if other(m) and isinstance(m.value, gast.Name) and m.value.id == src)
            elsewhere += sum(1 for m in nodes if _is_len_of(m, src))
            if total > elsewhere and not self._exclusive(st, copy_stmt):
                return False
        if src in self.facts.params or src in (self.facts.vararg, self.facts.kwarg):
            return True
        binds = [n for n in walk_nodes(self.fdef) if isinstance(n, gast.Assign) and
                 any(isinstance(t, gast.Name) and t.id == src for t in n.targets)]
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
        return self._filled_from(src, set()) is None     # a value made here: held by src alone

    def _is_copy(self, name: str) -> bool:
        """Is some binding of ``name`` a second name of another value (a name, an item or attribute
        of a structure)?"""
        for n in walk_nodes(self.fdef):
            if isinstance(n, gast.Assign) and any(isinstance(t, gast.Name) and t.id == name for t in n.targets):
                v = n.value
                if isinstance(v, gast.Name) and v.id in self.act.active or \
                        isinstance(v, (gast.Subscript, gast.Attribute)) and isinstance(v.value, gast.Name) and \
                        v.value.id in self.act.active and self._built_structure(v.value.id):
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
                for n in walk_nodes(self.fdef):
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

    def _user_name(self, name: str) -> str:
        """The user's name of a version the normalizer made (``p_1`` of ``p["w"] = x``)."""
        base, _, suffix = name.rpartition("_")
        return base if (suffix.isdigit() or suffix == "listed") and base in self.facts.stored else name

    def check_filled_structure(self, sel: Selection, stmt, inside: bool, line: int) -> None:
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
        if r in self.act.arrays or not (inside or self._built_structure(r)) or \
                self.facts.defined_line.get(r) == line:
            return                  # (made on the site's line: site_checks.check_roots_reached)
        found = self._filled_from(r, set())
        if found is not None:
            culprit, line = found
            r = self._user_name(r)
            self.fail(stmt, f"dlgradient: cannot differentiate with respect to {r!r} or what it holds: "
                      f"it is a list, dict or object made in {self.facts.fname}() and filled on line "
                      f"{line} from {culprit!r}, which may hold the same value; its gradient would also "
                      f"have the uses through {culprit!r}, which sct does not follow here. Differentiate "
                      f"with respect to {culprit!r}, or build it as a literal of names "
                      f"(p = {{'k': {culprit}}})", "dlgradient")

    def _built_structure(self, name: str) -> bool:
        """Is ``name`` known to be a list, dict or object built here (not an array)?"""
        if self._structure(name) or name in getattr(self.act, "objects", ()):
            return True
        for n in walk_nodes(self.fdef):
            if isinstance(n, gast.Assign) and any(isinstance(t, gast.Name) and t.id == name for t in n.targets):
                v = n.value
                if isinstance(v, (gast.List, gast.Dict, gast.Tuple)) or (
                        isinstance(v, gast.Call) and isinstance(v.func, gast.Attribute) and
                        v.func.attr in ("setitem", "setattr", "listed", "as_sequence", "items", "values")) or (
                        isinstance(v, gast.BinOp) and isinstance(v.op, gast.Add) and
                        any(isinstance(o, gast.List) for o in (v.left, v.right))):
                    return True
        return False

    def _part_of_structure(self, name: str) -> bool:
        """Is ``name`` bound to a slice, item or attribute of a structure (``xs[1:]`` of a list: the
        same items)?"""
        value = self.single_defs().get(name)
        return isinstance(value, (gast.Subscript, gast.Attribute)) and isinstance(value.value, gast.Name) and \
            value.value.id in self.act.active and value.value.id not in self.act.arrays and \
            (self._built_structure(value.value.id) or value.value.id in self.facts.params or
             self._part_of_structure(value.value.id))

    def _filled_from(self, r: str, seen: set):
        """(an active name whose value may be an item of ``r``, the line) or None: ``r`` is not an
        argument, and one of its bindings reads such a name (an array read again elsewhere, or an
        argument), directly or through the structures it was made from."""
        if r in seen or r in self.facts.params or r in (self.facts.vararg, self.facts.kwarg):
            return None
        seen.add(r)
        counts = self.facts.name_counts
        for n in walk_nodes(self.fdef):
            values = []
            if isinstance(n, gast.Assign):
                for t in n.targets:
                    if isinstance(t, (gast.Subscript, gast.Attribute)) and isinstance(t.value, gast.Name) \
                            and t.value.id == r:
                        values.append(n.value)
                    elif isinstance(t, gast.Name) and t.id == r and not (
                            isinstance(n.value, gast.Call) and not self._built_structure(r)):
                        values.append(n.value)
            elif isinstance(n, gast.Call) and isinstance(n.func, gast.Attribute) and \
                    isinstance(n.func.value, gast.Name) and n.func.value.id == r and \
                    n.func.attr in ("append", "extend", "insert", "update", "setdefault"):
                values.extend(n.args)
            for v in values:
                for m in loaded_names(v):
                    if m == r or m not in self.act.active:
                        continue
                    if m in self.facts.params or m in (self.facts.vararg, self.facts.kwarg):
                        return m, getattr(n, "lineno", "?")     # its items are the argument's too
                    if m not in self.act.arrays and (self._built_structure(m) or self._part_of_structure(m)):
                        inner = self._filled_from(m, seen)
                        if inner is not None:
                            return inner
                    elif counts.get(m, (0, 0))[1] > 1:
                        return m, getattr(n, "lineno", "?")
        return None

    def _once(self, name: str, top: bool = False) -> bool:
        """Bound once, and outside every loop (one value for the whole call) unless ``top``: read
        by a top-level statement, after the loop binding it has ended."""
        if self._in_loops is None:
            loops = [n for n in walk_nodes(self.fdef) if isinstance(n, (gast.For, gast.While))]
            parts = [p for n in loops for p in ([n.target] if isinstance(n, gast.For) else []) + n.body + n.orelse]
            self._in_loops = {n.id for p in parts for n in walk_nodes(p)
                              if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Store)}
        return self.facts.name_counts.get(name, (0, 0))[0] == 1 and (top or name not in self._in_loops)

    def _structure(self, name: str) -> bool:
        """Does ``name`` hold a list, tuple, dict or object (whose items are values of their own),
        not an array (whose item or attribute is a new value)?"""
        kind = self.act.kinds.get(name)
        if isinstance(kind, tuple) and kind and kind[0] in ("obj", "seq", "map"):
            return True
        value = self.single_defs().get(name)
        return isinstance(value, (gast.List, gast.Tuple, gast.Dict)) or name in self.act.lists

    def _follows(self, value) -> bool:
        """Whether a name bound once to ``value`` (before the site's line) names the same value as
        ``value`` at the site: every name it reads is bound once (outside loops, unless the binding
        is a top-level statement), and an item or attribute is of a structure."""
        top = any(value is getattr(st, "value", None) for st in self.fdef.body)
        if isinstance(value, gast.Name):
            return self._once(value.id, top)
        if isinstance(value, gast.Attribute) and any(
                isinstance(n, gast.Attribute) and isinstance(n.ctx, gast.Store) for n in walk_nodes(self.fdef)):
            return False      # fields that change are not followed (site_checks refuses them at a site)
        if isinstance(value, (gast.Subscript, gast.Attribute)):
            return isinstance(value.value, gast.Name) and self._once(value.value.id, top) and \
                self._structure(value.value.id) and \
                all(self._once(n, top) for n in loaded_names(value))
        if isinstance(value, (gast.List, gast.Tuple)):
            elts = value.elts
        elif isinstance(value, gast.Dict):
            if not all(isinstance(k, gast.Constant) for k in value.keys):
                return False
            elts = value.values
        else:
            return False
        return all(isinstance(e, gast.Name) and self._once(e.id, top) for e in elts)

    def resolve_x(self, node, defs: Dict[str, Any], stmt, top: bool = False):
        """What the x of a site selects, as a ``Selection`` tree."""
        what = "dlgradient"
        if isinstance(node, gast.Starred) and top:
            return Selection("star", of=self.resolve_x(node.value, defs, stmt))
        if isinstance(node, gast.Name):
            value = defs.get(node.id)
            if value is None or self.facts.name_counts.get(node.id, (0, 0))[0] != 1:
                return Selection("root", node.id)
            if isinstance(value, gast.Name):
                return self.resolve_x(value, defs, stmt)
            if isinstance(value, gast.Subscript) and isinstance(value.value, gast.Name):
                base = self.resolve_x(value.value, defs, stmt)
                if base.kind in ("list", "tuple", "dict"):      # an item of a container built here
                    item = _literal_item(base, value.slice)
                    return item if item is not None else Selection("root", node.id)
                return Selection("item", of=base, index=value.slice)
            if isinstance(value, gast.Attribute) and isinstance(value.value, gast.Name):
                return Selection("attr", value.attr, of=self.resolve_x(value.value, defs, stmt))
            if isinstance(value, (gast.List, gast.Tuple)) and \
                    not any(isinstance(e, gast.Starred) for e in value.elts):
                return Selection("list" if isinstance(value, gast.List) else "tuple",
                                 parts=tuple(self.resolve_x(e, defs, stmt) for e in value.elts))
            if isinstance(value, gast.Dict) and all(k is not None for k in value.keys):
                return Selection("dict", keys=tuple(value.keys),
                                 parts=tuple(self.resolve_x(v, defs, stmt) for v in value.values))
            return Selection("root", node.id)   # a value: check_roots_reached refuses one made here
        if isinstance(node, gast.Constant):
            self.fail(stmt, f"dlgradient: cannot differentiate with respect to the constant "
                      f"{node.value!r}: x must be a traced value", what)
        if isinstance(node, gast.Starred):
            self.fail(stmt, "dlgradient: a starred x is only allowed as an argument of dlgradient itself "
                      "(dlgradient(y, *xs))", what)
        self.fail(stmt, "dlgradient: x must be a name, an element or attribute of one, or a list, "
                  "tuple or dict of them", what)


def _literal_item(sel: Selection, index) -> Optional[Selection]:
    """The selection of item ``index`` (a constant) of a list, tuple or dict built in the
    function, or None."""
    if not isinstance(index, gast.Constant):
        return None
    if sel.kind == "dict":
        found = None                   # the last of repeated keys, as Python's dict display
        for key, item in zip(sel.keys, sel.parts):
            if isinstance(key, gast.Constant) and type(key.value) is type(index.value) and \
                    key.value == index.value:
                found = item
        return found
    if type(index.value) is int and -len(sel.parts) <= index.value < len(sel.parts):
        return sel.parts[index.value]
    return None


def _roots(sels) -> List[str]:
    """The root names a site's selections read, in order."""
    out: List[str] = []

    def walk(sel: Selection):
        if sel.kind == "root":
            if sel.name not in out:
                out.append(sel.name)
        elif sel.of is not None:
            walk(sel.of)
        for e in sel.parts:
            walk(e)
    for sel in sels:
        walk(sel)
    return out


def _is_len_of(node, name: str) -> bool:
    """Is ``node`` ``len(name)`` (a read of the count, not of the items)?"""
    return isinstance(node, gast.Call) and isinstance(node.func, gast.Name) and node.func.id == "len" and \
        len(node.args) == 1 and isinstance(node.args[0], gast.Name) and node.args[0].id == name


def _in_order(block: List):
    """Statements of a body in source order, entering compound statements."""
    for s in block:
        yield s
        for field_name in ("body", "orelse"):
            yield from _in_order(getattr(s, field_name, []) or [])


def function_facts(fdef: gast.FunctionDef, filename: str) -> FunctionFacts:
    """What the passes read of the function itself (see ``plans.FunctionFacts``)."""
    params = tuple(a.id for a in fdef.args.args)
    kwonly = tuple(a.id for a in fdef.args.kwonlyargs)
    vararg = fdef.args.vararg.id if fdef.args.vararg is not None else None
    kwarg = fdef.args.kwarg.id if fdef.args.kwarg is not None else None
    stored = set(params) | set(kwonly) | {n for n in (vararg, kwarg) if n}
    counts: Dict[str, List[int]] = {}
    for n in walk_nodes(fdef):
        if isinstance(n, gast.Name):
            if isinstance(n.ctx, gast.Store):
                stored.add(n.id)
            c = counts.setdefault(n.id, [0, 0])
            c[0 if isinstance(n.ctx, (gast.Store, gast.Param)) else 1] += 1
        elif isinstance(n, gast.FunctionDef) and n is not fdef:
            stored.add(n.name)      # a nested def (a lambda) binds its name: a sweep may read it
    defined_line: Dict[str, int] = {}
    def_order: Dict[str, int] = {p: i for i, p in enumerate(params)}
    for n in _in_order(fdef.body):
        if isinstance(n, gast.Assign) and isinstance(n.targets[0], gast.Name):
            defined_line.setdefault(n.targets[0].id, getattr(n, "lineno", fdef.lineno))
        for m in walk_nodes(n) if isinstance(n, gast.Assign) else ():
            if isinstance(m, gast.Name) and isinstance(m.ctx, gast.Store):
                def_order.setdefault(m.id, len(def_order))
    bound: set = set()              # assigned at the top level before any compound assigns it
    seen_in_compound: set = set()   # every name a top-level compound assigns
    for s in fdef.body:
        if isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Name):
            if s.targets[0].id not in seen_in_compound:
                bound.add(s.targets[0].id)
        elif isinstance(s, (gast.If, gast.For, gast.While, gast.With)):
            for n in walk_nodes(s):
                if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Store):
                    seen_in_compound.add(n.id)
    return FunctionFacts(fdef.name, filename, fdef.lineno, params, kwonly, vararg, kwarg, frozenset(stored),
                         MappingProxyType(defined_line), MappingProxyType(def_order),
                         MappingProxyType({k: (v[0], v[1]) for k, v in counts.items()}),
                         frozenset(seen_in_compound), frozenset(bound))
