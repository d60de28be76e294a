"""Differential program tester: random realistic numpy programs, sct against plain Python.

``generator`` draws programs from features (what users write), ``checker`` runs
one under ``dlfeval`` and compares its value, the arguments' states after the
call and every gradient with plain Python and central differences
(tests/gradcheck.py), ``shrink`` reduces a failing program, ``runner`` is the
command line (``python scripts/progtest.py`` or ``python -m tests.progtest``).
"""

# Features (and "driver+block" pairs) whose programs hit bugs known today (issue 6), with the item.  CI
# (tests/test_program_tester.py, ``--features ci``) generates programs without them;
# delete an entry once its item is fixed (``python scripts/progtest.py --features
# FEATURE,driver_first,target_arg,elementwise`` shows whether it is).
KNOWN_BROKEN = {
    "target_dict_leaf": "item 1: dlgradient(y, p['v']) gives zeros",
    "target_attr_leaf": "item 1: dlgradient(y, net.l1.w) / dc.a gives zeros",
    "target_built_list": "item 1: dlgradient(y, [a, b]) gives zeros",
    "target_built_tuple": "item 1: dlgradient(y, (a, b)) gives zeros",
    "target_built_dict": "item 1: dlgradient(y, {'a': a}) gives zeros",
    "target_starred": "item 1: dlgradient(y, *[a, b]) crashes in rt.project",
    "target_starred_comprehension": "item 1: dlgradient(y, *[p[k] for k in ...]) crashes in rt.project",
    "target_object": "item 3: dlgradient(y, net) gives the weights for parts y does not use",
    "helper_rebind": "item 2: y = h(y, c) in a loop loses the derivative",
    "driver_reassigned": "items 4 and 13: gradient with respect to a reassigned name",
    "inplace_sort": "item 5: z.sort()",
    "inplace_other": "item 5: z.fill, out=, np.copyto",
    "repeated_index": "item 5: z[[0, 0]] = ..., np.add.at",
    "list_ops": "item 5: list.reverse()",
    "arg_mutation": "items 5/6: writes into an argument (helper a[0] = v, lst.append, alias of buf[1])",
    "self_write": "item 5: self.total = ... in a method (also run twice by second-order sweeps)",
    "alias_view": "item 6: y = x; y[0] = ... has value semantics",
    "traced_op_args": "item 8: np.linspace / np.interp with traced arguments",
    "closure": "item 9: nested def reading a traced value is refused",
    "unary_const": "item 11: (-1) ** 2 printed as -1 ** 2",
    "attr_chain": "item 12: net.l1.w.sum() taken for a module path",
    "nested_break": "item 13: break in a nested loop",
    "object_built": "item 14: constructor argument stored and never read",
    "index_tricks": "item 16: np.r_ / np.c_",
    "early_return_main": "new: `if c: return y0, dlgradient(y0, x)` not taken, then a call of a helper, "
                         "method or callable object: the final dlgradient(y, x) is zero",
    "branch_attribute": "new: `h = net.l2.b if c else h * 0.7` (an attribute chain assigned in a branch): "
                        "internal error AttributeError 'Attribute' object has no attribute 'id'",
    # "driver+block": that driver's programs leave the block out (the block alone is fine)
    "driver_second_order+break_continue": "new (near item 13): second derivative through a loop with "
                                          "continue and break: internal error (KeyError gast.Not, "
                                          "AttributeError 'Attribute' has no 'id')",
    "driver_second_order+for_loop": "new: second derivative through a for loop whose body reads net.l2.b: "
                                    "internal error (AttributeError 'Attribute' object has no attribute 'id')",
    "driver_second_order+branch": "new: second derivative through `a if c else b` reading net.l1.b: internal "
                                  "error (AttributeError 'Attribute' object has no attribute 'id')",
}
