"""Red team (Dec 5b): a peer corpus of functions (tests/redteam_dec5b_funcs.py) through sct.

For each function: sct's value equals plain Python's; the gradient with respect to every float
argument (scalars as 0-d dlarrays, arrays) matches central differences (tests/gradcheck.py); the
forward-mode ``sct.jvp`` matches the directional derivative; second order (nested dlgradient with
EnableHigherDerivatives) matches the central difference of sct's gradient along a direction.
"""
from __future__ import annotations

import functools

import numpy as np
import pytest

import sct
from sct import dlarray, dlfeval, dlgradient
from gradcheck import numerical_gradient

import redteam_dec5b_funcs as F


pytestmark = pytest.mark.usefixtures("fresh_cache")   # tests/conftest.py


def _r(seed, *shape, lo=-1.0, hi=1.0):
    return np.random.default_rng(seed).uniform(lo, hi, shape)


def _s(v):
    return np.float64(v)


# name -> (float arguments, integer keyword arguments)
CORPUS = {
    "t_identity": ((_s(0.7),), {}), "t_negate": ((_s(0.7),), {}), "t_sum_of_array_call": ((_r(1, 4),), {}),
    "t_rebind_to_sum": ((_r(2, 4),), {}), "t_alias_only": ((_s(-0.4),), {}),
    "t_saxpy": ((_s(0.3), _s(-1.2), _s(0.8)), {}), "t_saxpy_helpers": ((_s(0.3), _s(-1.2), _s(0.8)), {}),
    "t_saxpy_rebind": ((_s(0.3), _s(-1.2), _s(0.8)), {}), "t_adjoint_like_names": ((_s(0.6),), {}),
    "t_if_else_scale": ((_s(0.6),), {}), "t_binops": ((_s(0.8),), {}), "t_nested_if": ((_s(1.5),), {}),
    "t_many_branches": ((_s(0.4),), {}), "t_np_multiply": ((_s(0.4),), {}), "t_list_sum": ((_s(0.4),), {}),
    "t_list_of_products": ((_r(3, 3),), {}), "t_subscript_read": ((_r(4, 3),), {}),
    "t_subscript_write": ((_r(5, 3),), {}), "t_subscript_write_after_square": ((_r(6, 3),), {}),
    "t_list_literal_subscript": ((_s(0.9),), {}), "t_list_item_overwrite": ((_s(0.9),), {}),
    "t_serial_if": ((_s(0.9),), {}), "t_two_arg_if": ((_s(0.9), _s(0.4)), {}),
    "t_serial_for": ((_s(0.9),), {"n": 2}), "t_if_then_for": ((_s(0.9),), {"n": 2}),
    "t_for_then_if": ((_s(-0.9),), {"n": 1}), "t_nested_if_inside": ((_s(0.9),), {}),
    "t_elif_reversed_compare": ((_s(-0.9),), {}), "t_overwrite_non_arg": ((_s(-0.9),), {}),
    "t_third_powers": ((_s(1.1),), {}), "t_iterpower_static": ((_s(1.1),), {}),
    "t_cond_in_loop": ((_s(1.3),), {}), "t_loop_in_cond": ((_s(1.1),), {}), "t_double_loop": ((_s(1.01),), {}),
    "t_triple_product_loop": ((_s(1.05),), {}), "t_exp_exp_sqrt": ((_s(0.5),), {}),
    "t_logistic_regression": ((_r(7, 3, 2), _r(8, 2, 3), _r(9, 3)), {}),
    "t_if_helper": ((_s(0.3), _s(0.8)), {}), "t_loop_helper": ((_s(1.2),), {"n": 3}),
    "t_nested_helper": ((_s(0.3), _s(0.8)), {}), "t_nested_def_shadow": ((_s(1.2),), {"n": 2}),
    "t_pack_index": ((_s(0.3), _s(0.8), _s(-0.5)), {"i": 2}), "t_cart2polar": ((_s(0.3), _s(0.8)), {}),
    "t_listcomp_over_array": ((_r(10, 5),), {}), "t_while_halve": ((_s(1.7),), {}),
    "t_copy_loop": ((_r(11, 4),), {}), "t_row_broadcast_write": ((_r(12, 4),), {}),
    "t_slice_sum": ((_r(13, 4),), {}), "t_rnn": ((_r(14, 3, 2), _r(15, 2, 3)), {}),
    "t_augassign": ((_s(0.7),), {}), "t_bilinear": ((_r(16, 2), _r(17, 3), _r(18, 3, 4), _r(19, 2, 4), _r(20, 4)), {}),
    "t_pow_both": ((_s(1.3), _s(0.7)), {}), "t_square_twice": ((_s(1.3),), {}),
    "t_chain_of_mults": ((_s(1.1),), {}), "t_chain_of_calls": ((_s(1.1),), {}), "t_unused_work": ((_s(1.1),), {}),
    "t_redefine_as_list": ((_s(1.1),), {}), "t_extended_slice": ((_r(21, 6, 3),), {}),
    "t_divide_future": ((_s(1.3), _s(0.7)), {}),
    # autograd test_numpy
    "ag_dot_mat_vec": ((_r(22, 3, 4), _r(23, 4)), {}), "ag_dot_vec_mat": ((_r(24, 3), _r(25, 3, 4)), {}),
    "ag_dot_mat_matT": ((_r(26, 3, 4), _r(27, 3, 4)), {}), "ag_dot_with_float": ((_r(28, 3, 4), _s(0.7)), {}),
    "ag_outer": ((_r(29, 4), _r(30, 4)), {}), "ag_max_axis_keepdims": ((_r(31, 3, 4, 2),), {}),
    "ag_min_axis": ((_r(32, 3, 4, 2),), {}), "ag_sum_axis_tuple": ((_r(33, 3, 4, 2),), {}),
    "ag_flips": ((_r(34, 3, 4),), {}), "ag_cumsum_axes": ((_r(35, 3, 4),), {}),
    "ag_builtin_sum": ((_r(36, 3, 4), _r(37, 3, 4)), {}), "ag_mean_keepdims": ((_r(38, 3, 4),), {}),
    "ag_index_variants": ((_r(39, 5, 6, 4),), {}), "ag_slice_fanout": ((_r(40, 5, 6, 4),), {}),
    "ag_reshapes": ((_r(41, 5, 6, 4),), {}), "ag_append": ((_r(42, 3), _s(0.4)), {}),
    "ag_concatenate": ((_r(43, 2, 3, 2),), {}), "ag_trace_offsets": ((_r(44, 4, 5),), {}),
    "ag_trace_4d": ((_r(45, 3, 4, 2, 2),), {}), "ag_split_diag": ((_r(46, 6),), {}),
    "ag_diag_2d": ((_r(47, 4, 4),), {}), "ag_transpose_T": ((_r(48, 3, 4),), {}), "ag_roll": ((_r(49, 3, 4),), {}),
    "ag_tri": ((_r(50, 4, 4),), {}), "ag_clip_kw": ((_r(51, 3, 4) * 1.5,), {}),
    "ag_prod_axes": ((_r(52, 2, 3, lo=0.2, hi=1.5),), {}), "ag_array_from_scalar": ((_s(0.8),), {}),
    "ag_array_from_arrays": ((_r(53, 3, 2),), {}), "ag_len_assert": ((_r(54, 3, 2),), {}),
    "ag_r_c": ((_r(55, 3, 2),), {}), "ag_r_slicing": ((_r(56, 4),), {}), "ag_var_std_ddof": ((_r(57, 3, 4),), {}),
    "ag_where_two": ((_r(58, 3, 4), _r(59, 3, 4)), {}), "ag_squeeze_repeat_expand": ((_r(60, 3, 1, 2),), {}),
    "ag_tensordot_scalar": ((_s(0.8),), {}), "ag_repeated_index": ((_r(61, 3),), {}),
    "ag_cast_to_int_index": ((_r(62, 5, 3),), {}), "ag_diagonal_batched": ((_r(63, 2, 3, 3),), {}),
    "ag_nan_to_num": ((_r(64, 4),), {}), "ag_max_scalar": ((_r(65, 3, 4),), {}),
    # autograd test_systematic
    "sys_stats": ((_r(66, 3, 4, lo=0.3, hi=1.2),), {}), "sys_unary_a": ((_r(67, 3, 4, lo=0.1, hi=1.0),), {}),
    "sys_unary_b": ((_r(68, 3, 4, lo=-1.4, hi=1.4),), {}), "sys_unary_log": ((_r(69, 3, 4, lo=0.2, hi=2.0),), {}),
    "sys_unary_inverse": ((_r(70, 3, 4, lo=-0.9, hi=0.9),), {}),
    "sys_real_if_close_angle": ((_r(71, 4) + 1j * _r(72, 4),), {}),
    "sys_binary": ((_r(73, 3, 4), _r(74, 3, 4, lo=0.3, hi=2.0)), {}),
    "sys_remainder": ((_r(75, 3, 4, lo=-0.9, hi=0.9), _r(76, 3, 4, lo=0.7, hi=1.9)), {}),
    "sys_remainder_neg": ((_r(77, 3, 4, lo=-0.9, hi=0.9), _r(78, 3, 4, lo=0.7, hi=1.9)), {}),
    "sys_pow": ((_r(79, 3, 4, lo=0.7, hi=2.0), _r(80, 3, 4)), {}), "sys_transpose_axes": ((_r(81, 2, 3, 4),), {}),
    "sys_dot_shapes": ((_r(82, 2, 3), _r(83, 3), _r(84, 3, 4)), {}),
    "sys_tensordots": ((_r(85, 2, 3), _r(86, 3, 2)), {}),
    "sys_tensordot_pairs": ((_r(87, 2, 3), _r(88, 2, 2, 3, 4)), {}),
    "sys_max_min_broadcast": ((_r(89, 1), _r(90, 1, 4), _r(91, 3, 4)), {}),
    "sys_sort_partition": ((_r(92, 7),), {}), "sys_atleast": ((_r(93, 2, 4),), {}),
    "sys_atleast_scalar": ((_s(0.6),), {}), "sys_einsum_cases": ((_r(94, 3, 4, 4), _r(95, 4, 4, 3), _r(96, 4, 4, 3)), {}),
    "sys_einsum_matmul": ((_r(97, 2, 3), _r(98, 3, 4)), {}), "sys_trace_rect": ((_r(99, 5, 4),), {}),
    # autograd test_linalg
    "la_inv_batched": ((_r(100, 2, 3, 3),), {}), "la_det_batched": ((_r(101, 2, 3, 3),), {}),
    "la_solve_vec": ((_r(102, 3, 3), _r(103, 3)), {}), "la_solve_batched_mat": ((_r(104, 2, 3, 3), _r(105, 2, 3, 2)), {}),
    "la_norm_axes": ((_r(106, 3, 4),), {}), "la_norm_vector_ords": ((_r(107, 5),), {}),
    "la_eigh_uplo": ((_r(108, 3, 3),), {}), "la_eigvalsh": ((_r(109, 3, 3),), {}),
    "la_cholesky_logdet": ((_r(110, 3, 3),), {}), "la_svd_invariants": ((_r(111, 4, 3),), {}),
    "la_matrix_power_pinv": ((_r(112, 3, 3),), {}), "la_qr_full": ((_r(113, 4, 3),), {}),
    # autograd test_scalar_ops
    "sc_math_module": ((_s(0.4),), {}), "sc_numpy_scalar": ((_s(0.4),), {}),
    "sc_abs_builtin": ((_s(-0.4), _s(0.9)), {}), "sc_int_float_mix": ((_s(0.4),), {"n": 4}),
    # scientific
    "sci_kalman_filter": ((np.array([-1.0, -0.5]),), {}), "sci_unrolled_gd": ((np.array([0.3, 0.1, -0.2]),), {}),
    "sci_adam_unrolled": ((_r(114, 3),), {}), "sci_lotka_volterra": ((np.array([1.1, 0.4, 0.4, 0.1]),), {}),
    "sci_nbody_energy": ((_r(115, 8),), {}), "sci_spring_chain": ((_r(116, 5),), {}),
    "sci_heat_explicit": ((_r(117, 7),), {}), "sci_van_der_pol": ((np.array([1.2, 0.5]),), {}),
    "sci_rbf_kernel_gp": ((np.array([0.2]),), {}), "sci_mvn_logpdf": ((_r(118, 2),), {}),
    "sci_kl_gaussians": ((np.array([0.3, -0.2, -0.1, 0.4]),), {}), "sci_poisson_nll": ((_r(119, 2),), {}),
    "sci_softmax_regression": ((_r(120, 2, 3),), {}), "sci_conv1d_valid": ((_r(121, 3),), {}),
    "sci_batchnorm_np": ((_r(122, 4, 3),), {}), "sci_maxpool_np": ((_r(123, 4, 6),), {}),
    "sci_em_gmm_step": ((np.array([-0.5, 0.5]),), {}), "sci_bisection_root": ((_s(2.0),), {}),
    "sci_trapezoid_integral": ((np.array([0.7, 2.0]),), {}), "sci_logsumexp_b": ((_r(124, 2, 3),), {}),
    "sci_pendulum_energy_loop": ((np.array([0.5, 0.1]),), {}), "sci_cross_entropy_onehot": ((_r(125, 3, 4),), {}),
    "sci_attention_np": ((_r(126, 4, 3),), {}), "sci_lstm_loop": ((_r(127, 8, 5) * 0.5,), {}),
    # batch 2: semantics
    "b_names_like_generated": ((_r(130, 3),), {}), "b_name_np_shadow": ((_r(131, 3),), {}),
    "b_tolist_float_item": ((_r(132, 3),), {}), "b_late_binding_lambdas": ((_r(133, 3),), {}),
    "b_default_binding_lambdas": ((_r(134, 3),), {}), "b_copy_alias_augassign": ((_r(135, 3),), {}),
    "b_view_augassign": ((_r(136, 3),), {}), "b_out_keyword": ((_r(137, 3),), {}),
    "b_fill_diagonal": ((_r(138, 3, 3),), {}), "b_mask_assign": ((np.array([-0.3, 0.2, 0.7, 0.4, -0.9]),), {}),
    "b_prod_with_zero": ((_r(139, 3),), {}), "b_cumprod_with_zero": ((_r(140, 4),), {}),
    "b_det_singular": ((_r(141, 6),), {}), "b_prod_exact_zero": ((np.array([0.5, 0.0, -1.2, 0.7]),), {}),
    "b_swap_recurrence": ((_r(142, 2),), {}), "b_star_unpack": ((_r(143, 4),), {}),
    "b_chained_compare": ((np.array([0.1, -0.3, 0.7, 0.95, -0.8]),), {}), "b_try_except": ((_r(144, 3),), {}),
    "b_for_else_search": ((_r(145, 4),), {}), "b_generators": ((_r(146, 4),), {}),
    "b_enumerate_zip_reversed": ((_r(147, 3), _r(148, 3)), {}), "b_list_augassign": ((_r(149, 5),), {}),
    "b_dict_augassign": ((_r(150, 3),), {}), "b_attribute_augassign": ((_r(151, 6),), {}),
    "b_recursion_memo": ((_r(152, 4),), {}), "b_methods_galore": ((_r(153, 6),), {}),
    "b_stack_family": ((_r(154, 6),), {}), "b_splits": ((_r(155, 8),), {}), "b_poly_conv": ((_r(156, 5),), {}),
    "b_ifft_eig": ((_r(157, 4),), {}), "b_where_one_arg_select": ((np.array([-0.7, -0.2, 0.3, 0.8]),), {}),
    "b_index_forms": ((_r(158, 12),), {}), "b_einsum_diag_out": ((_r(159, 3, 3),), {}),
    "b_power_forms": ((_r(160, 4, lo=0.5, hi=1.5),), {}), "b_float32_mix": ((_r(161, 3),), {}),
    "b_side_effect_global": ((_r(162, 3),), {}), "b_math_fsum_prod": ((_r(163, 3),), {}),
    "b_sorted_lambda": ((_r(164, 4),), {}), "b_lstsq_eig": ((_r(165, 4, 3),), {}),
    # batch 3
    "c_list_ops": ((_r(170, 3),), {}), "c_dict_ops": ((_r(171, 3),), {}), "c_tuple_ops": ((_r(172, 3),), {}),
    "c_list_insert": ((_r(186, 3),), {}), "c_list_insert_forms": ((_r(188, 3),), {}), "c_dict_pop": ((_r(187, 3),), {}),
    "c_del_item": ((_r(184, 3),), {}), "c_dict_update": ((_r(185, 3),), {}),
    "c_builtin_shadow": ((_r(173, 4),), {}), "c_introspection": ((_r(174, 2, 3),), {}),
    "c_isinstance_branch": ((_r(175, 3), _s(0.7)), {}), "c_mutable_default": ((_r(176, 3),), {}),
    "c_nested_structures": ((_r(177, 6),), {}), "c_zip_dict_grad_like": ((_r(178, 4),), {}),
    "c_comprehension_nested": ((_r(179, 6),), {}), "c_while_counter": ((_r(180, 5),), {}),
    "c_walrus_ternary": ((np.array([0.3, -0.4, 0.8]),), {}), "c_global_constant": ((_r(181, 3),), {}),
    "c_calls_module_helper": ((_r(182, 3),), {}), "c_loop_count": ((_r(183, 3),), {"n": 3}),
    # batch 4
    "d_ufunc_methods": ((_r(210, 6),), {}), "d_index_helpers": ((_r(211, 9),), {}),
    "d_matmul_broadcast": ((_r(212, 24), _r(213, 8)), {}), "d_axis_tuples": ((_r(214, 12),), {}),
    "d_rot_roll": ((_r(215, 12),), {}), "d_matrix_norms": ((_r(216, 3, 4),), {}),
    "d_reparam_generator": ((_r(217, 6),), {}), "d_dropout_mask": ((_r(218, 6),), {}),
    "d_sampling_loop": ((_r(219, 3),), {}), "d_integer_outputs": ((_r(220, 6),), {}),
    "d_ufunc_methods_more": ((_r(221, 6),), {}), "d_piecewise_forms": ((np.array([-0.7, -0.2, 0.3, 0.8, 0.1]),), {}),
    "e_vectorize_lambda": ((np.array([0.3, -0.7, 0.5]),), {}),
    "e_vectorize_decorated_broadcast": ((_r(250, 6),), {}), "e_vectorize_otypes": ((_r(251, 4),), {}),
    "e_vectorize_first_int": ((np.array([-0.3, 0.52, 0.71]),), {}),
    # batch 5: autograd-examples-style programs
    "ex_fluidsim": ((_r(260, 32),), {}), "ex_neural_net_flat": ((_r(261, 26),), {}),
    "ex_gmm_loglik": ((_r(262, 14),), {}), "ex_black_box_svi": ((_r(263, 4),), {}),
    "ex_rnn_sequence": ((_r(264, 21),), {}), "ex_sinusoid_fit": ((np.array([0.7, 1.1, 0.3]),), {}),
    "ex_ode_net": ((_r(265, 16),), {}),
    "b_interp_grid": ((_r(166, 5),), {}), "b_piecewise": ((np.array([-0.7, -0.2, 0.3, 0.8]),), {}),
}


REFUSED = {
    # (c_dict_pop: differentiated since Dec 18, d.pop(key) of a dict no other name shares:
    # tests/test_redteam_dec18w.py)
    "c_del_item": ((_r(184, 3),), "del l[0]"),
    # (b_attribute_augassign: differentiated since s51, frc51: the object made in the function holds only
    # what its __init__ was given, so `self.h += ...` in its method changes nothing from outside; checked)
    # (b_fill_diagonal: compiled since Dec 12, np.fill_diagonal of an unshared local array)
    # (b_generators: filter(lambda ...) differentiated since dec23, the builtin as its generator expression)
    "b_recursion_memo": ((_r(152, 4),), "def f(k):"),
    # (b_try_except: differentiated since Dec 20, a probe decides the branch: tests/test_try_dec20.py)
    # (b_view_augassign, `y = x.copy(); v = y[1:]; v *= 2.0`: differentiated since Dec 18, the copy
    # of an array holds no objects, so the view is followed into y: tests/test_redteam_dec18w.py)
    # name: (arguments, text on the refused line); each a real limitation, refused at the user's line
    # np.r_ with a slice among its items (the slice part makes the index tuple traced)
    "ag_r_slicing": ((_r(56, 4),), "np.r_[x, c, 1:10]"),
    # an in-place write into an argument: the caller's array would change too
    "t_subscript_write": ((_r(5, 3),), "x[0] = a * b"),
    "t_subscript_write_after_square": ((_r(6, 3),), "x[0] = y[1] * y[2]"),
}


# float32 inside: a larger step (the function is quadratic, central differences are exact)
STEP = {"b_float32_mix": 1e-2}


def _kernel(f, *args):
    y = f(*args)
    return y, dlgradient(y, *args)


def _kernel_int(f, n, *args):
    # the integer argument last, positionally (sct refuses **kwargs in a call)
    y = f(*args, n)
    return y, dlgradient(y, *args)


def _sct_value_grads(f, args, kw):
    if kw:
        (n,) = kw.values()
        out = dlfeval(_kernel_int, f, n, *[dlarray(np.array(a, copy=True)) for a in args])
    else:
            out = dlfeval(_kernel, f, *[dlarray(np.array(a, copy=True)) for a in args])
    y, grads = out[0], out[1:]
    if len(args) == 1 and not isinstance(grads[0], tuple):
        grads = (grads[0],)
    elif len(grads) == 1 and isinstance(grads[0], (tuple, list)):
        grads = tuple(grads[0])
    return np.asarray(y.data), [np.asarray(g.data) for g in grads]


def _plain(f, kw):
    def call(*zs):
        return f(*[np.array(z, copy=True) for z in zs], **kw)
    return call


@pytest.mark.parametrize("name", sorted(set(CORPUS) - set(REFUSED)))
def test_value_and_gradients(name):
    f = getattr(F, name)
    args, kw = CORPUS[name]
    expected = _plain(f, kw)(*args)
    value, grads = _sct_value_grads(f, args, kw)
    np.testing.assert_allclose(value, np.real(expected), rtol=1e-10, atol=1e-12, err_msg=f"{name}: value")
    assert len(grads) == len(args)
    for k, (a, g) in enumerate(zip(args, grads)):
        numeric = numerical_gradient(_plain(f, kw), list(args), k, step=STEP.get(name, 1e-6))
        np.testing.assert_allclose(g, numeric, rtol=1e-5, atol=1e-6, err_msg=f"{name}: gradient {k}")
        assert g.shape == np.shape(a), f"{name}: gradient {k} shape"


def _line_of(fn, text):
    import inspect
    lines, start = inspect.getsourcelines(fn)
    return next(start + i for i, line in enumerate(lines) if text in line)


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_refused_at_the_users_line(name):
    f = getattr(F, name)
    args, text = REFUSED[name]
    with pytest.raises((sct.CompileError, sct.EvaluationError)) as info:
        _sct_value_grads(f, args, {})
    assert info.value.filename == F.__file__
    where = F._State.step if name == "b_attribute_augassign" else f   # (the method read in place:
    assert info.value.lineno == _line_of(where, text), str(info.value)  # refused at its own write)
    # no generated names in the message (was "v is the result of inplace_result()" for `v = y[1:]; v *= 2`)
    assert "inplace_result" not in str(info.value) and "rt." not in str(info.value), str(info.value)


def test_refused_writes_work_on_a_copy():
    # the refusal's advice, followed: x = x.copy() first
    x = _r(5, 3)

    def fixed(x):
        x = x.copy()
        a = x[0]
        b = x[1]
        x[0] = a * b
        return np.sum(x)
    value, (g,) = _sct_value_grads(_fixed_subscript_write, (x,), {})
    assert np.isclose(value, fixed(x.copy()))
    np.testing.assert_allclose(g, numerical_gradient(fixed, [x.copy()], 0), rtol=1e-6, atol=1e-8)


def _fixed_subscript_write(x):
    x = x.copy()
    a = x[0]
    b = x[1]
    x[0] = a * b
    return np.sum(x)


# forward mode and second order refuse these (at the user's line): nested functions passed as values
# (a list of lambdas), and state outside the function changed by it (recomputed for second order)
NO_FORWARD = set()        # (late binding followed since dec 7; lambdas in a list to any order since dec 9)
NO_SECOND = {"b_side_effect_global"}

FORWARD = sorted(n for n in CORPUS if n not in REFUSED
                 and not any(np.iscomplexobj(a) for a in CORPUS[n][0]))
# d.update is read as {**d, **other} (reverse mode since dec 6, forward mode since dec 12)
JVP = FORWARD


def _fixed_int(f, kw):
    if not kw:
        return f
    (n,) = kw.values()

    def call(*args):
        return f(*args, n)
    return call


@pytest.mark.parametrize("name", JVP)
def test_jvp(name):
    f = getattr(F, name)
    args, kw = CORPUS[name]
    rng = np.random.default_rng(5)
    vs = tuple(np.asarray(rng.standard_normal(np.shape(a))) for a in args)
    if name in NO_FORWARD:
        with pytest.raises((sct.CompileError, sct.EvaluationError)) as info:
            sct.jvp(_fixed_int(f, kw), tuple(np.array(a, copy=True) for a in args), vs)
        assert info.value.filename == F.__file__ and info.value.lineno
        return
    y, dot = sct.jvp(_fixed_int(f, kw), tuple(np.array(a, copy=True) for a in args), vs)
    np.testing.assert_allclose(np.asarray(getattr(y, "data", y)), _plain(f, kw)(*args), rtol=1e-10, atol=1e-12)
    expected = sum(np.sum(numerical_gradient(_plain(f, kw), list(args), k, step=STEP.get(name, 1e-6)) * v)
                   for k, v in enumerate(vs))
    np.testing.assert_allclose(np.asarray(getattr(dot, "data", dot)), expected, rtol=1e-5, atol=1e-5,
                               err_msg=f"{name}: jvp")


def _second(f, vs, *args):
    y = f(*args)
    grads = dlgradient(y, *args, EnableHigherDerivatives=True)
    if len(args) == 1:
        grads = (grads,)
    s = 0.0
    for g, v in zip(grads, vs):
        s = s + np.sum(g * v)
    return dlgradient(s, *args)


def _second_int(f, n, vs, *args):
    y = f(*args, n)
    grads = dlgradient(y, *args, EnableHigherDerivatives=True)
    if len(args) == 1:
        grads = (grads,)
    s = 0.0
    for g, v in zip(grads, vs):
        s = s + np.sum(g * v)
    return dlgradient(s, *args)


@pytest.mark.parametrize("name", FORWARD)
def test_second_order(name):
    f = getattr(F, name)
    args, kw = CORPUS[name]
    rng = np.random.default_rng(6)
    vs = tuple(np.asarray(rng.standard_normal(np.shape(a))) for a in args)
    darg = [dlarray(np.array(a, copy=True)) for a in args]
    if name in NO_SECOND:
        with pytest.raises((sct.CompileError, sct.EvaluationError)) as info:
            dlfeval(_second, f, vs, *darg)
        assert info.value.filename == F.__file__ and info.value.lineno
        return
    if kw:
        (n,) = kw.values()
        out = dlfeval(_second_int, f, n, vs, *darg)
    else:
        out = dlfeval(_second, f, vs, *darg)
    out = (out,) if len(args) == 1 else tuple(out)

    def directional(*zs):
        _, grads = _sct_value_grads(f, zs, kw)
        return float(sum(np.sum(g * v) for g, v in zip(grads, vs)))
    for k, h in enumerate(out):
        numeric = numerical_gradient(directional, list(args), k, step=STEP.get(name, 1e-5))
        np.testing.assert_allclose(np.asarray(h.data), numeric, rtol=1e-4, atol=1e-4,
                                   err_msg=f"{name}: second order {k}")


# ---------------------------------------------------------------- regression: second derivatives of det at
# singular matrices (sct.hvp raised numpy's LinAlgError 'Singular matrix' from the adjugate's rule; at a
# numerically singular matrix, uu^T + vv^T, the second derivative lost every digit: 1.05 where it is 0)
def _cofactor(A):
    n = A.shape[-1]
    C = np.zeros_like(A)
    for i in range(n):
        for j in range(n):
            minor = np.delete(np.delete(A, i, -2), j, -1)
            C[..., i, j] = (-1) ** (i + j) * np.linalg.det(minor)
    return C


def _det_sum(A):
    return np.sum(np.linalg.det(A))


def _det_hessian_along(A, V):
    y = np.sum(np.linalg.det(A))
    g = dlgradient(y, A, EnableHigherDerivatives=True)
    return dlgradient(np.sum(g * V), A)


_rng = np.random.default_rng(11)
_u, _v = _rng.standard_normal(3), _rng.standard_normal(3)
SINGULAR = {
    "rank2_exact": np.array([[1.0, 2.0, 3.0], [2.0, 4.0, 6.0], [1.0, 0.0, 1.0]]),
    "rank2_rounded": np.outer(_u, _u) + np.outer(_v, _v),
    "rank1": np.outer(_u, _v),
    "zero": np.zeros((3, 3)),
    "diag_zero": np.diag([1.0, 0.0, 2.0]),
    "batched": np.stack([np.outer(_u, _u) + np.outer(_v, _v), np.eye(3), _rng.standard_normal((3, 3))]),
    "invertible": _rng.standard_normal((4, 4)),
}


@pytest.mark.parametrize("case", sorted(SINGULAR))
def test_det_second_derivative_at_singular_matrices(case):
    A = SINGULAR[case]
    V = np.random.default_rng(12).standard_normal(A.shape)
    h = 1e-4      # the cofactors are polynomials of degree n-1 <= 3: central differences are exact to rounding
    exact = (_cofactor(A + h * V) - _cofactor(A - h * V)) / (2 * h)
    np.testing.assert_allclose(np.asarray(sct.hvp(_det_sum, A.copy(), V).data), exact, rtol=1e-6, atol=1e-7)
    got = dlfeval(_det_hessian_along, dlarray(A.copy()), V)
    np.testing.assert_allclose(np.asarray(got.data), exact, rtol=1e-6, atol=1e-7)


def _det_third(A, V):
    y = np.linalg.det(A)
    g = dlgradient(y, A, EnableHigherDerivatives=True)
    s = dlgradient(np.sum(g * V), A, EnableHigherDerivatives=True)
    return dlgradient(np.sum(s * V), A)


@pytest.mark.parametrize("case", ["identity", "singular"])
def test_det_third_derivative(case):
    # det(A + tV) is a cubic in t for 3x3: d3/dt3 = 6 det(V); the third derivative along V, V, e_ij
    A = np.eye(3) if case == "identity" else SINGULAR["rank2_exact"]
    V = np.random.default_rng(13).standard_normal((3, 3))
    if case == "singular":
        # the third derivative at a singular matrix goes through the SVD's vectors at a zero singular
        # value: refused at the user's line (not modelled), never a wrong number
        with pytest.raises(sct.EvaluationError) as info:
            dlfeval(_det_third, dlarray(A.copy()), V)
        assert info.value.filename == __file__ and "singular values" in str(info.value)
        return
    got = np.asarray(dlfeval(_det_third, dlarray(A.copy()), V).data)
    # d/dA_ij of the second directional derivative along V: 2 * cofactor-of-V-style term, by differences
    h = 1e-3

    def second(M):
        return (np.linalg.det(M + h * V) - 2 * np.linalg.det(M) + np.linalg.det(M - h * V)) / h ** 2
    numeric = numerical_gradient(second, [A.copy()], 0, step=1e-3)
    np.testing.assert_allclose(got, numeric, rtol=1e-4, atol=1e-5)
    assert np.isclose(np.sum(got * V), 6 * np.linalg.det(V))


# ---------------------------------------------------------------- no stale results: what a cached
# compilation read changes between calls (globals, a global array's contents, a module's helper, a
# closure's values, class and instance attributes, defaults, loop counts, shapes and dtypes)
def _vg(f, *args):
    value, grads = _sct_value_grads(f, args, {})
    return float(value), grads[0]


def _check_fresh(f, x):
    value, g = _vg(f, x)
    assert np.isclose(value, f(x.copy()), rtol=1e-12)
    np.testing.assert_allclose(g, numerical_gradient(f, [x.copy()], 0), rtol=1e-6, atol=1e-8)
    y, dot = sct.jvp(f, (x.copy(),), (np.ones_like(x),))
    np.testing.assert_allclose(np.asarray(getattr(dot, "data", dot)), np.sum(g), rtol=1e-10, atol=1e-12)
    hv = sct.hvp(f, x.copy(), np.ones_like(x))
    assert np.all(np.isfinite(np.asarray(hv.data)))


def test_global_number_rebound_between_calls(monkeypatch):
    x = _r(190, 3)
    _check_fresh(F.c_global_constant, x)
    monkeypatch.setattr(F, "SCALE", -5.0)
    _check_fresh(F.c_global_constant, x)
    assert np.isclose(_vg(F.c_global_constant, x)[0], np.sum(x * -5.0) + np.sum(F._TABLE * x))


def test_global_array_changed_in_place_between_calls():
    x = _r(191, 3)
    saved = F._TABLE.copy()
    try:
        _check_fresh(F.c_global_constant, x)
        F._TABLE[1] = 40.0
        _check_fresh(F.c_global_constant, x)
        np.testing.assert_allclose(_vg(F.c_global_constant, x)[1], F.SCALE + F._TABLE)
    finally:
        F._TABLE[:] = saved


def test_module_helper_replaced_between_calls(monkeypatch):
    x = _r(192, 3)
    _check_fresh(F.c_calls_module_helper, x)
    monkeypatch.setattr(F, "_helper_value", lambda z: np.sin(z) * 3.0)
    _check_fresh(F.c_calls_module_helper, x)
    np.testing.assert_allclose(_vg(F.c_calls_module_helper, x)[1], 3.0 * np.cos(x), rtol=1e-12)


def test_closures_with_other_values():
    x = _r(193, 3, lo=0.5, hi=1.5)
    for k in (2, 3, 2, 5):
        loss = F.make_loss(k)
        _check_fresh(loss, x)
        np.testing.assert_allclose(_vg(loss, x)[1], k * k * x ** (k - 1), rtol=1e-10)


def test_callable_object_attributes_changed(monkeypatch):
    x = _r(194, 3)
    s = F.Scaler(np.array([0.1, 0.2, 0.3]))
    _check_fresh(s, x)
    s.offset = np.array([1.0, -1.0, 0.5])
    _check_fresh(s, x)
    np.testing.assert_allclose(_vg(s, x)[1], 2 * (x - s.offset) * 3.0, rtol=1e-12)
    monkeypatch.setattr(F.Scaler, "factor", 7.0)
    _check_fresh(s, x)
    np.testing.assert_allclose(_vg(s, x)[1], 2 * (x - s.offset) * 7.0, rtol=1e-12)


def test_defaults_changed(monkeypatch):
    x = _r(195, 3)
    monkeypatch.setattr(F.sci_poisson_nll, "__defaults__", F.sci_poisson_nll.__defaults__)
    f = F.sci_poisson_nll
    w = _r(196, 2)
    _check_fresh(f, w)
    X2 = np.array([[1.0, 2.0], [0.5, -0.4], [1.0, 0.1], [0.3, 0.7]])
    f.__defaults__ = (X2, np.array([2.0, 1.0, 0.0, 5.0]))
    _check_fresh(f, w)
    np.testing.assert_allclose(_vg(f, w)[1], X2.T @ (np.exp(X2 @ w) - np.array([2.0, 1.0, 0.0, 5.0])), rtol=1e-12)
    del x


def test_loop_counts_shapes_dtypes_between_calls():
    for n in (2, 4, 1, 0, 3):
        x = _r(197, 3)
        value, (g,) = _sct_value_grads(F.c_loop_count, (x,), {"n": n})
        assert np.isclose(value, F.c_loop_count(x.copy(), n))
        np.testing.assert_allclose(g, numerical_gradient(lambda z: F.c_loop_count(z, n), [x.copy()], 0),
                                   rtol=1e-6, atol=1e-8)
    for x in (_r(198, 5), _r(199, 2, 3), _r(200, 3).astype(np.float32), _r(201, 3)):
        value, g = _vg(F.t_slice_sum, x)
        assert g.dtype == x.dtype and g.shape == x.shape
        expected = np.zeros_like(x)
        expected[1:] = 2 * x[1:]
        np.testing.assert_allclose(g, expected, rtol=1e-6)


def test_mutable_default_grows_each_call():
    x = _r(202, 3)
    F.c_mutable_default.__defaults__[0].clear()
    _vg(F.c_mutable_default, x)
    _vg(F.c_mutable_default, x)
    # Python's meaning: the default list is appended to once per call
    assert len(F.c_mutable_default.__defaults__[0]) == 2


# ---------------------------------------------------------------- ufunc methods, math.dist, np.piecewise
# (were refused 'no derivative rule for ufunc.reduce' / math.dist / np.piecewise; now read as numpy code)
def test_ufunc_reduce_positional_arguments():
    x = _r(230, 6)
    value, (g,) = _sct_value_grads(F.d_reduce_positional, (x,), {})
    assert np.isclose(value, F.d_reduce_positional(x.copy()), rtol=1e-12)
    np.testing.assert_allclose(g, numerical_gradient(F.d_reduce_positional, [x.copy()], 0), rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("name,error", [("d_reduce_out", "assign"), ("d_dist_mismatch", "same number of dimensions")])
def test_ufunc_out_and_dist_mismatch_are_errors_at_the_line(name, error):
    with pytest.raises((sct.CompileError, sct.EvaluationError)) as info:
        _sct_value_grads(getattr(F, name), (_r(231, 6),), {})
    assert info.value.filename == F.__file__ and error in str(info.value)
    if name == "d_dist_mismatch":
        with pytest.raises(ValueError):          # as plain Python
            F.d_dist_mismatch(_r(231, 6))


# ---------------------------------------------------------------- randomness: the same draws as plain Python
def _reparam_second(p, v):
    y = F.d_reparam_global(p)
    g = dlgradient(y, p, EnableHigherDerivatives=True)
    return dlgradient(np.sum(g * v), p)


def test_global_random_state_draws_like_python():
    p = _r(240, 6)
    np.random.seed(5)
    expected = F.d_reparam_global(p.copy())
    np.random.seed(5)
    eps = np.random.randn(3)
    np.random.seed(5)
    value, (g,) = _sct_value_grads(F.d_reparam_global, (p,), {})
    assert np.isclose(value, expected, rtol=1e-12)
    z = p[:3] + np.exp(p[3:]) * eps
    dz = 2 * z + np.cos(z)
    np.testing.assert_allclose(g, np.concatenate([dz, dz * np.exp(p[3:]) * eps]), rtol=1e-12)
    # one draw per call, as Python: the state moved on by exactly three normals
    assert np.isclose(np.random.randn(), (np.random.seed(5), np.random.randn(4))[1][3])
    np.random.seed(5)
    v = np.ones(6)
    h = dlfeval(_reparam_second, dlarray(p.copy()), v)
    d2 = 2 - np.sin(z)
    dzdt = 1 + np.exp(p[3:]) * eps                     # z along v = 1: d mu + d log_sigma * sigma * eps
    expected_h = np.concatenate([d2 * dzdt, d2 * dzdt * np.exp(p[3:]) * eps + dz * np.exp(p[3:]) * eps])
    np.testing.assert_allclose(np.asarray(h.data), expected_h, rtol=1e-10)


def test_refused_container_methods_advise_what_works():
    # d.update / d.pop(key) on a dict the function built: the advice was `d = d.copy()`, refused the same
    # way; it now names a rewrite sct reads (and that rewrite is differentiated)
    # (d.update on a dict no other name shares is differentiated since dec 6: tests/test_idioms_dec6.py)
    # (d.pop(key) of such a dict is differentiated since Dec 18: tests/test_redteam_dec18w.py)
    x = _r(185, 3)
    value, (g,) = _sct_value_grads(F.c_dict_pop, (x,), {})
    assert np.isclose(value, F.c_dict_pop(x.copy()))
    np.testing.assert_allclose(g, numerical_gradient(F.c_dict_pop, [x.copy()], 0), rtol=1e-6, atol=1e-8)
    value, (g,) = _sct_value_grads(F.c_dict_update, (x,), {})
    assert np.isclose(value, F.c_dict_update(x.copy()))
    np.testing.assert_allclose(g, numerical_gradient(F.c_dict_update, [x.copy()], 0), rtol=1e-6, atol=1e-8)
    value, (g,) = _sct_value_grads(F.c_dict_update_rewritten, (x,), {})
    assert np.isclose(value, F.c_dict_update_rewritten(x.copy()))
    np.testing.assert_allclose(g, numerical_gradient(F.c_dict_update_rewritten, [x.copy()], 0), rtol=1e-6, atol=1e-8)
