"""The cases of red team R's corpus run (tests/test_redteam_dec16r.py): function, differentiable
arguments, constant arguments (appended after them)."""
import numpy as np

import redteam_dec16r_corpus as C

R = np.random.default_rng(16)


def arr(*shape, lo=-1.0, hi=1.0):
    return R.uniform(lo, hi, shape)


def pos(*shape):
    return R.uniform(0.5, 1.5, shape)


S = [1.3, -0.7]           # scalar inputs: both signs
CASES = []


def add(fn, xs, cs=(), tag=""):
    CASES.append((fn, xs, tuple(cs), tag))


def scalar_and_array(fn, values=S, extra=(), cs=()):
    for v in values:
        add(fn, [v] + list(extra), cs, f"s{v}")
    add(fn, [arr(3)] + [arr(3) for _ in extra], cs, "arr")


for f in (C.ident, C.neg, C.hyp_tan, C.copy_name, C.plus_one, C.named_like_grad, C.mul_c_right,
          C.mul_c_left, C.mul_self, C.div_c_right, C.div_c_left, C.div_self, C.sub_c_right, C.sub_c_left,
          C.sub_self, C.add_c_right, C.add_c_left, C.add_self, C.np_multiply_c, C.pair_out,
          C.rebind_arg, C.rebind_copy, C.cube_mul, C.cube_pow, C.cube_loop_from_one, C.cube_loop_from_a,
          C.square_three_times, C.double_loop, C.cube_three_times, C.np_exp, C.np_exp_exp,
          C.aug_square, C.stack_like, C.square_square, C.chain_mults, C.chain_mul_calls, C.unused_stack,
          C.rebind_to_list, C.aug_inplace_self, C.aug_chain, C.while_counter, C.while_break,
          C.lambda_inline, C.call_default, C.int_power, C.nested_closure, C.horner, C.kwargs_call,
          C.int_mod_loop, C.global_const_use, C.myia_closure_grad, C.tuple_return_loop,
          C.list_literal_sum, C.list_then_index, C.list_item_overwrite):
    scalar_and_array(f)

for f in (C.branch_scale, C.nested_branch, C.many_branches, C.two_ifs, C.inner_else, C.elif_chain,
          C.square_while_small, C.square_if_small, C.halve_while_big, C.early_return, C.ternary,
          C.abs_branch, C.for_else):
    for v in (1.3, -0.7, 4.0, 0.05, 12.0):
        add(f, [v], (), f"s{v}")

for f in (C.np_sqrt, C.newton_sqrt, C.math_calls):
    add(f, [1.7], (), "s")
add(C.np_sqrt, [pos(3)], (), "arr")
add(C.newton_sqrt, [pos(3)], (), "arr")

for f in (C.axpy, C.axpy_by_calls, C.axpy_steps, C.axpy_rebind):
    add(f, [1.3, -0.4, 2.0], (), "s")
    add(f, [arr(3), arr(3), arr(3)], (), "arr")
for f in (C.times, C.plus, C.call_helper, C.call_call, C.tuple_swap, C.star_args_call):
    add(f, [1.3, -0.4], (), "s")
    add(f, [arr(3), arr(3)], (), "arr")
for f in (C.compare_two, C.branch_call, C.max_builtin):
    add(f, [1.3, -0.4], (), "s>")
    add(f, [-0.4, 1.3], (), "s<")
add(C.to_polar, [1.3, -0.4], (), "s")
add(C.to_polar, [arr(3), arr(3)], (), "arr")
add(C.power_ab, [1.3, 2.5], (), "s")
add(C.power_ab, [pos(3), arr(3)], (), "arr")

for f in (C.two_loops, C.if_then_loop, C.loop_then_if, C.square_n_times, C.loop_call, C.loop_nested_def,
          C.fib_loop, C.mutual_even, C.recursive_pow, C.factorial_like, C.myia_fact):
    for n in (0, 1, 3):
        add(f, [0.9], (n,), f"n{n}")
        add(f, [-0.8], (n,), f"n{n}neg")
for f in (C.square_n_times, C.loop_call, C.fib_loop, C.recursive_pow):
    add(f, [arr(3)], (2,), "arr")
for m in ("sq", "cube", "id"):
    add(C.string_dispatch, [1.2], (m,), m)

for f in (C.total, C.total_of_array, C.sum_then_square, C.np_mean, C.comp_sum, C.copy_by_items,
          C.rows_from_items, C.tail_sum, C.list_of_products, C.items_product, C.item_write_own,
          C.item_write_arg, C.item_write_from_square, C.list_append_loop, C.list_pop_loop,
          C.enumerate_sum, C.cumulative, C.continue_loop, C.bool_mask_arith, C.myia_while_sum,
          C.jax_tanh_sum, C.ag_cumsum, C.ag_clip, C.ag_where, C.ag_abs, C.ag_roll, C.ag_flip, C.ag_sort,
          C.ag_logsumexp, C.ag_softplus, C.ag_norm, C.ag_expand_squeeze, C.ag_mod_floor,
          C.ag_fancy_index, C.ag_bool_index, C.ag_index_add, C.ag_astype, C.ag_cos_sin_tan,
          C.ag_arcfuncs, C.ag_hyperbolic, C.ag_exp_family, C.ag_sign, C.ag_max, C.ag_min, C.ag_prod):
    add(f, [arr(4)], (), "vec")
add(C.slice_assign, [arr(4)], (), "vec")
add(C.ag_log_family, [pos(4)], (), "vec")
add(C.ag_square_reciprocal, [pos(4)], (), "vec")
add(C.strided_newaxis, [arr(5, 3)], (), "mat")
for f in (C.ag_sum_axis, C.ag_mean_axis, C.ag_var, C.ag_std, C.ag_prod, C.ag_transpose, C.ag_reshape,
          C.ag_max, C.ag_tril_triu, C.ag_diag, C.ag_trace, C.total, C.tail_sum):
    add(f, [arr(3, 3)], (), "mat")
add(C.ag_inv, [np.eye(3) * 2 + arr(3, 3) * 0.3], (), "mat")
add(C.ag_det, [np.eye(3) * 2 + arr(3, 3) * 0.3], (), "mat")
add(C.ag_solve, [np.eye(3) * 2 + arr(3, 3) * 0.3, arr(3)], (), "mat")
add(C.ag_dot_mv, [arr(3, 4), arr(4)], (), "mv")
for f in (C.ag_dot_mm, C.ag_matmul, C.ag_einsum, C.ag_tensordot):
    add(f, [arr(3, 4), arr(4, 2)], (), "mm")
for f in (C.ag_outer, C.ag_inner, C.ag_concatenate, C.ag_stack, C.ag_maximum, C.ag_hypot_arctan2,
          C.zip_dot):
    add(f, [arr(3), arr(3)], (), "vv")
add(C.ag_power_array, [pos(3), arr(3)], (), "vv")
add(C.ag_array_list, [1.3, -0.4], (), "s")
add(C.ag_linspace_grid, [1.3], (), "s")
add(C.logreg, [arr(5, 3), (arr(5) > 0).astype(float), arr(3), arr(1)[0]], (), "")
add(C.tiny_rnn, [arr(3, 2), arr(2, 3)], (), "")
add(C.bilinear_layer, [arr(2, 3), arr(2, 4), arr(4, 5), arr(3, 5), arr(5)], (), "")
add(C.jax_loss, [arr(3), 0.1, arr(4, 3)], (), "")
add(C.jax_mlp, [[(arr(3, 4), arr(4)), (arr(4, 2), arr(2))], arr(5, 3)], (), "")
add(C.unpack_tuple, [(1.3, -0.4, 2.0)], (), "tuple")
add(C.first_of_tuple, [(1.3, -0.4, 2.0)], (), "tuple")
add(C.build_dict_call, [(1.3, -0.4, 2.0)], (), "tuple")
add(C.dict_axpy, [{"a": 1.3, "b": -0.4, "c": 2.0}], (), "dict")
add(C.nested_dict_prod, [{"i": {"j": 1.3, "k": -0.4}}], (), "dict")
add(C.dict_loop, [{"u": arr(3), "v": arr(2)}], (), "dict")
for i in range(3):
    add(C.pick_from_tuple, [1.3, -0.4, 2.0], (i,), f"i{i}")


# --- autograd numpy tests -------------------------------------------------------------------------
RN = np.random.default_rng(1).standard_normal
add(C.an_dot, [RN((4, 5)), RN(5)], (), "mv")
add(C.an_dot, [RN((4, 5)), RN((5, 3))], (), "mm")
add(C.an_dot, [RN(4), RN((4, 5))], (), "vm")
add(C.an_dot, [RN(5), RN(5)], (), "vv")
add(C.an_dot, [RN((4, 5)), 0.7], (), "mf")
add(C.an_dot, [0.7, RN((4, 5))], (), "fm")
add(C.an_dot, [RN(4), 0.7], (), "vf")
add(C.an_outer, [RN(5), RN(4)], (), "")
for f in (C.an_max_axis, C.an_max_keep, C.an_min_axis, C.an_min_keep, C.an_sum_axes, C.an_trace_extradims,
          C.an_index_ints, C.an_index_slice, C.an_index_lists, C.an_index_mixed, C.an_slice_fanout,
          C.an_repeat1, C.an_transpose_axes):
    add(f, [RN((5, 6, 4))], (), "3d")
for f in (C.an_sum_axis0, C.an_sum_keep, C.an_flipud, C.an_fliplr, C.an_rot90, C.an_cumsum0, C.an_cumsum1,
          C.an_cumsum_flat, C.an_mean0, C.an_mean_keep, C.an_trace_offset, C.an_T, C.an_roll_axis,
          C.an_roll_flat, C.an_triu_k, C.an_tril_k, C.an_clip_kw, C.an_var_ddof, C.an_std_ddof, C.an_repeat0,
          C.an_diagonal):
    add(f, [RN((5, 6))], (), "2d")
add(C.an_diag, [RN((5, 5))], (), "2d")
add(C.an_diagonal, [RN((3, 4, 4))], (), "3d")
add(C.an_var_ddof, [RN((1, 3))], (), "1x3")
add(C.an_std_ddof, [RN((3, 4))], (), "3x4")
add(C.an_builtin_sum, [RN((3, 4)), RN((3, 4))], (), "")
for f in (C.an_vector_slice, C.an_slice_of_slice, C.an_split_first):
    add(f, [RN(8)], (), "1d")
for f in (C.an_reshape_method, C.an_reshape_call, C.an_reshape_nolist, C.an_ravel_method, C.an_ravel_call,
          C.an_flatten, C.an_concat_axis1, C.an_concat_axis1_pos, C.an_concat_const):
    add(f, [RN((5, 6, 4))], (), "3d")
add(C.an_concat_const, [RN((4, 6, 4))], (), "3d4")
add(C.an_append, [RN(3), 0.4], (), "")
add(C.an_prod_all, [RN((2, 3)) ** 2 / 10 + 0.1], (), "")
add(C.an_prod_axis, [RN((2, 3)) ** 2 + 0.1], (), "")
add(C.an_prod_keep, [RN((2, 3)) ** 2 + 0.1], (), "")
add(C.an_prod_all, [RN(7) ** 2 + 0.1], (), "1d")
for f in (C.an_array_1d, C.an_array_2d, C.an_array_fanout, C.an_array_scalar, C.an_tensordot_pos,
          C.an_max_tie, C.an_max_tie_2d, C.an_min_tie3, C.an_maximum_self, C.an_maximum_tie_2d, C.an_atleast):
    for v in (1.0, -1.0, 2.0):
        add(f, [v], (), f"s{v}")
for f in (C.an_array_of_arrays, C.an_array_nested, C.an_len, C.an_r_basic, C.an_r_double, C.an_no_relation,
          C.an_r_mixed, C.an_c_mixed, C.an_squeeze_fn, C.an_squeeze_method, C.an_expand):
    add(f, [RN((3, 2))], (), "3x2")
add(C.an_squeeze_fn, [RN((5, 1, 4))], (), "5x1x4")
add(C.an_squeeze_method, [RN((5, 1, 4))], (), "5x1x4")
add(C.an_expand, [RN((5, 1, 4))], (), "5x1x4")
add(C.an_where_mask, [RN((4, 5)), RN((4, 5))], (), "")
add(C.an_multi_index, [RN(3)], (), "")
add(C.an_multi_index2, [RN(3)], (), "")
add(C.an_index_dot, [RN(4)], (), "")
add(C.an_cast_int, [RN((5, 10))], (), "")
add(C.an_nan_to_num, [RN(4)], (), "")
for ab in ((1.2, 3.4), (1.2, -3.4), (1.2, 1.2)):
    add(C.an_linspace5, list(ab), (), str(ab))
    add(C.an_linspace1, list(ab), (), str(ab))
add(C.an_einsum_three, [RN((3, 4, 4)), RN((4, 4, 3)), RN((4, 4, 3))], (), "")
add(C.an_einsum_ellipsis, [RN((3, 4, 4)), RN((3, 4, 4))], (), "")
add(C.an_tensordot_axes, [RN((2, 3)), RN((1, 2, 3))], (), "")
add(C.an_tensordot_axes, [RN((2, 3, 4)), RN((2, 2, 3, 4))], (), "4d")
add(C.an_partition, [RN(7)], (), "")
add(C.an_atleast, [RN(4)], (), "4")
for sa, sb in (((), ()), ((3,), ()), ((), (3,)), ((2, 3), (3,)), ((2, 1), (1, 3)), ((3,), (2, 3))):
    a = RN(sa) if sa else float(RN())
    b = RN(sb) if sb else float(RN())
    add(C.an_logaddexp, [a, b], (), f"{sa}{sb}")
    add(C.an_minimum_bcast, [a, b], (), f"{sa}{sb}")
    add(C.an_remainder, [np.asarray(a) * 0.9, np.abs(np.asarray(b)) * 0.6 + 0.7 if sb else abs(b) * 0.6 + 0.7],
        (), f"{sa}{sb}")
    add(C.an_true_divide, [a, np.abs(np.asarray(b)) + 0.3 if sb else abs(b) + 0.3], (), f"{sa}{sb}")
    add(C.an_pow_op, [np.abs(np.asarray(a)) * 0.5 + 0.7 if sa else abs(a) * 0.5 + 0.7, b], (), f"{sa}{sb}")
    add(C.an_maximum_self, [a], (), f"{sa}")
add(C.an_unary_misc, [RN(6) * 0.9], (), "")
add(C.an_arccosh, [np.abs(RN(4))], (), "")
add(C.an_real_imag, [RN(4)], (), "")


# --- tangent's later corpus, myia's gradient tests ---------------------------------------------------
add(C.implicit_iter, [arr(4)], (), "vec")
add(C.implicit_iter, [arr(3, 2)], (), "mat")
for v in (1.3, -0.7):
    add(C.sqrt_either_sign, [v], (), f"s{v}")
    add(C.np_trig, [v], (), f"s{v}")
    add(C.np_arctrig, [v * 0.5], (), f"s{v}")
    add(C.pow_either_sign, [v, 2.5], (), f"s{v}")
add(C.np_trig, [arr(3)], (), "arr")
add(C.atleast_sums, [1.3], (), "s")
add(C.atleast_sums, [arr(3)], (), "vec")
add(C.atleast_sums, [arr(2, 3)], (), "mat")
add(C.det_square, [np.eye(3) + arr(3, 3) * 0.4], (), "mat")
add(C.polar_out_positional, [arr(3), arr(3)], (), "arr")
add(C.my_null, [13.0, 14.0], (), "")
add(C.my_expr, [3.0, 4.0], (), "")
add(C.my_expr, [0.3, 0.4], (), "small")
add(C.my_quadruple, [0.9], (), "")
add(C.my_tuples, [3.0, 5.0], (), "")
add(C.my_dataclass, [C.Point(3.0, 5.0)], (), "")
add(C.my_dataclass_method, [C.Point(3.0, 5.0)], (), "")
add(C.my_hof, [0.4, 0.5], (), "")
add(C.my_hof_tup, [0.4, 0.5], (), "")
add(C.my_simple_closure, [0.4, 0.5], (), "")
add(C.my_closure_of_closure, [0.4], (), "")
for ab in ((4.0, 5.0), (6.4, -7.8)):
    add(C.my_if_return, list(ab), (), str(ab))
    add(C.my_if2, list(ab), (), str(ab))
add(C.my_fact_traced, [4.1], (), "")
add(C.my_while_square, [4.0], (), "")
add(C.my_while_square, [1.5], (), "1.5")
add(C.my_while_2, [4.0, 5.0, 2.0], (), "")
add(C.my_pow10, [1.1], (), "")
add(C.my_list_while, [[1.0, 2.0, 3.0, 4.0]], (), "")
add(C.my_list_for, [[1.0, 2.0, 3.0, 4.0]], (), "")
add(C.my_nested_closure, [4.5], (), "")
add(C.my_nested_closure, [-0.5], (), "neg")
add(C.my_functions_in_tuples, [4.5, 6.7], (), "")
add(C.my_closures_in_tuples, [4.5, 6.7], (), "")
add(C.my_array_div, [arr(2, 3), pos(2, 3)], (), "")
add(C.my_distribute, [3.1, 7.6], (), "")
add(C.my_reshape_div, [arr(2, 3), pos(2, 3)], (), "")
add(C.my_transpose_dot, [arr(3, 4), arr(2, 3)], (), "")
