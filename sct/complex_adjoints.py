"""Complex handling of adjoints, once for every rule.
"""
from __future__ import annotations

import gast

from .generation import EmitPass
from .ir import attr, call, load, rewrite_children, walk_nodes, walk_nodes_list


#: numpy's functions whose result is an array's metadata (an int or a tuple of ints)
_METADATA = ("size", "shape", "ndim")


class ComplexProjection(EmitPass):
    """Complex values, once for every rule: a real value's adjoint is projected on the reals,
    and ``conj`` of a real expression is dropped."""

    # --- complex handling, once for every rule ------------------------------------------------
    def expr_is_real(self, node, adjoints_follow: bool = False, target: str = "") -> bool:
        """Is the expression proven real (``Activity.maybe_complex``)?  (The functions it calls
        are not values: ``rt``, ``np``.)  ``adjoints_follow``: an adjoint in it counts as real
        unless its value is known complex: it is complex only where its value is (each adjoint
        is projected on its value's realness), so a contribution made of adjoints and values
        proven real is as real as the value it goes to (``t[0]``'s adjoint to ``t``), and so is
        ``target`` (the value it goes to) read in it."""
        from .optimize import SHAPE_ARGUMENTS
        modules = (self.gen.rt_name, self.gen.np)
        callees = set()
        nodes = walk_nodes_list(node)      # (one walk for both loops)
        for c in nodes:
            if isinstance(c, gast.Call):
                callees.add(id(c.func))         # f(...), and rt / np in rt.f(...), np.f(...)
                base = getattr(c.func, "value", None)
                if isinstance(base, gast.Name) and base.id in modules:
                    callees.add(id(base))
                    positions = SHAPE_ARGUMENTS.get(c.func.attr, ()) if adjoints_follow else ()
                    if c.func.attr in _METADATA and base.id == self.gen.np:
                        positions = range(len(c.args))      # np.size(y): a number
                    for i in (positions,) if isinstance(positions, int) else positions:
                        if i < len(c.args) and isinstance(c.args[i], gast.Name):
                            callees.add(id(c.args[i]))      # read for its shape (rt.index_adjoint(g, t, 0))
        temps = getattr(self.gen, "adjoint_temps", {})      # (a generation without the contributions pass: none)
        for n in nodes:
            if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Load) and id(n) not in callees:
                if n.id in temps:
                    # a temporary of the rule's (rt.einsum_adjoints(g, ...), a shared call): as real as
                    # what it holds (was: a generated name, taken for real)
                    if not self.expr_is_real(temps[n.id], adjoints_follow, target):
                        return False
                    continue
                primal = self.gen.primal_of(n.id)
                if adjoints_follow and primal != n.id:
                    if primal in self.act.complex:
                        return False
                elif primal != target and not self.act.name_real(primal):
                    return False
            if isinstance(n, gast.Constant) and isinstance(n.value, complex):
                return False
            if isinstance(n, gast.BinOp) and isinstance(n.op, gast.Pow) and not self.act.power_real(n.left, n.right):
                return False            # (-0.5) ** 0.5 of Python floats: complex
            if isinstance(n, gast.Call) and isinstance(n.func, gast.Attribute) and n.func.attr == "base_power" and \
                    len(n.args) == 2 and not self.act.power_real(n.args[0], n.args[1]):
                return False            # (rt.base_power: a power's adjoint on a Python number, sct/templates.py)
        return True

    def keeps_parts_apart(self, value) -> bool:
        """Does the statement's value keep its operands apart (a tuple, list or dict built, an item
        or field read, a helper's call, whose adjoint projects its arguments itself), so that each
        operand's adjoint is as real as that operand?"""
        if isinstance(value, (gast.Tuple, gast.List, gast.Dict, gast.Subscript, gast.Attribute, gast.Name,
                              gast.Starred, gast.Constant)):
            return True
        if isinstance(value, gast.Call):
            from .plans import CallKind
            info = self.act.call_info(value)
            return info.kind in (CallKind.FUNCTION, CallKind.METHOD, CallKind.SITE) and info.rule is None
        return False

    def operand_names(self, value) -> set:
        """The names a statement's value reads as values (not the functions it calls)."""
        nodes = walk_nodes_list(value)     # (one walk for the three)
        callees = {id(c.func) for c in nodes if isinstance(c, gast.Call)} | \
            {id(c.func.value) for c in nodes if isinstance(c, gast.Call) and
             isinstance(c.func, gast.Attribute) and isinstance(c.func.value, gast.Name) and
             c.func.value.id in (self.gen.rt_name, self.gen.np)}
        return {n.id for n in nodes if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Load)
                and id(n) not in callees}

    def expr_is_complex(self, node) -> bool:
        """Is the expression known to be complex (not only possibly)?"""
        return any(isinstance(n, gast.Name) and self.gen.primal_of(n.id) in self.act.complex or
                   isinstance(n, gast.Constant) and isinstance(n.value, complex) for n in walk_nodes(node))

    def elide_conj(self, expr):
        conj_names = {"conj", "conjugate"}
        if not any(isinstance(n, gast.Attribute) and n.attr in conj_names for n in walk_nodes(expr)):
            return expr     # nothing to elide (the transformer below would return expr unchanged)
        np_name = self.gen.np

        def elide(node):    # a NodeTransformer's visit (children first, in place), without its dispatch
            rewrite_children(node, elide)       # (not the context and operator leaves: no call)
            if type(node) is gast.Call:
                f = node.func
                if isinstance(f, gast.Attribute) and f.attr in conj_names and \
                        isinstance(f.value, gast.Name) and f.value.id == np_name and len(node.args) == 1:
                    if self.expr_is_real(node.args[0]):
                        return node.args[0]
                    if not self.expr_is_complex(node.args[0]):
                        # may be complex: decided when it runs (no copy of a real array)
                        return call(attr(load(self.gen.rt_name), "conj_of"), node.args)
            return node
        result = elide(expr)
        del elide       # (a recursive closure: freed now rather than by the cyclic collector)
        return result

    def project_realness(self, name: str, contribution, value=None):
        """``contribution`` as an adjoint of ``name`` (from the statement whose value is ``value``):
        projected on the reals where ``name`` may be real and it may not be."""
        # an adjoint in the contribution is as real as ``name`` only where every other operand of
        # the statement is proven real (``v = m + w``: with ``w`` complex, ``v``'s adjoint is complex
        # for a real ``m``: was not projected, a silently wrong gradient through np.abs's rule)
        follow = value is None or self.keeps_parts_apart(value) or \
            all(self.act.name_real(n) for n in self.operand_names(value) if n != name)
        if self.expr_is_real(contribution, adjoints_follow=follow, target=name):
            return contribution
        if name in self.act.lists and not self.gen.may_be_array(name):
            # a list's adjoint, projected item by item when the sweep runs, as any other adjoint is, so
            # that its items' adjoints read from it are as real as they (was: left as it was, and a
            # real item's adjoint, taken for real, stayed complex: np.select(..., [np.abs(y)], default=c))
            return call(attr(load(self.gen.rt_name), "real_if_real"), [contribution, load(name)])
        # (a name bound to a list at one assignment and to a real array at another took a complex
        # contribution as it was where it held the array: a silently wrong gradient; decided below
        # when the sweep runs, as rt.real_if_real projects a list's adjoint item by item)
        if name not in self.act.maybe_complex and self.gen.adds_as_array(name):
            return call(attr(load(self.gen.np), "real"), [contribution])
        # a value of a kind not known here (a helper's residual, a runtime helper's result), or one
        # that only MAY be complex (an item of a list holding complex and real values, as the tape of
        # generated code read back for a higher derivative): its realness is checked when the sweep
        # runs (was: a may-be-complex value kept a complex adjoint, so a real item of such a list got
        # a complex cotangent: a wrong second derivative of |z| in a loop)
        return call(attr(load(self.gen.rt_name), "real_if_real"), [contribution, load(name)])
