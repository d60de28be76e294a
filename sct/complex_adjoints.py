"""Complex handling of adjoints, once for every rule.
"""
from __future__ import annotations

import gast

from .generation import EmitPass
from .ir import attr, call, load, rewrite_children, walk_nodes


class ComplexProjection(EmitPass):
    """Complex values, once for every rule: a real value's adjoint is projected on the reals,
    and ``conj`` of a real expression is dropped."""

    # --- complex handling, once for every rule ------------------------------------------------
    def expr_is_real(self, node) -> bool:
        for n in walk_nodes(node):
            if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Load):
                base = self.gen.primal_of(n.id)
                if base in self.act.complex:
                    return False
            if isinstance(n, gast.Constant) and isinstance(n.value, complex):
                return False
        return True

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
                        isinstance(f.value, gast.Name) and f.value.id == np_name and \
                        len(node.args) == 1 and self.expr_is_real(node.args[0]):
                    return node.args[0]
            return node
        result = elide(expr)
        del elide       # (a recursive closure: freed now rather than by the cyclic collector)
        return result

    def project_realness(self, name: str, contribution):
        if self.expr_is_real(contribution) or (name in self.act.lists and not self.gen.may_be_array(name)):
            return contribution
        # (a name bound to a list at one assignment and to a real array at another took a complex
        # contribution as it was where it held the array: a silently wrong gradient; decided below
        # when the sweep runs, as rt.real_if_real leaves a list's adjoint alone)
        if name not in self.act.complex and self.gen.adds_as_array(name):
            return call(attr(load(self.gen.np), "real"), [contribution])
        # a value of a kind not known here (a helper's residual, a runtime helper's result), or one
        # that only MAY be complex (an item of a list holding complex and real values, as the tape of
        # generated code read back for a higher derivative): its realness is checked when the sweep
        # runs (was: a may-be-complex value kept a complex adjoint, so a real item of such a list got
        # a complex cotangent: a wrong second derivative of |z| in a loop)
        return call(attr(load(self.gen.rt_name), "real_if_real"), [contribution, load(name)])
