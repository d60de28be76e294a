"""The cases of tests/test_domains_dec6.py: (name, function, arguments, k = how many leading arguments are
differentiated)."""
import numpy as np

import domains_dec6_progs as G

CASES = []

# ---- run_dom.py
rng = np.random.default_rng(1)
def R(*s): return rng.standard_normal(s)

A2 = np.array([[1.0, 0.1], [0.0, 0.9]]); B2 = np.array([[0.0], [0.1]])
Scov = np.array([[0.1, 0.02, 0.01], [0.02, 0.2, 0.03], [0.01, 0.03, 0.15]])
pos5 = R(5, 3) * 1.2
bonds = np.array([[0, 1], [1, 2], [2, 3], [3, 4], [0, 2]])
triples = np.array([[0, 1, 2], [1, 2, 3], [2, 3, 4]])
Cmat = np.abs(R(4, 5)); av = np.full(4, .25); bv = np.full(5, .2)
hier = {"mu": np.array(0.3), "log_tau": np.array(-0.2), "theta": R(3)}
y_h = R(9); g_h = np.array([0, 1, 2, 0, 1, 2, 0, 1, 2])

CASES += [  # name, fun, args, nwrt
 ("bs_call", G.bs_call, [100.0, 95.0, 0.5, 0.03, 0.2], 5),
 ("bs_call_np", G.bs_call_np, [np.array([100., 90.]), 95.0, 0.5, 0.03, np.array([.2, .3])], 1),
 ("portfolio", G.portfolio_obj, [np.array([.3, .5, .2]), Scov, np.array([.05, .1, .07])], 1),
 ("portfolio_neg", G.portfolio_obj, [np.array([-.3, .8, .5]), Scov, np.array([.05, .1, .07])], 1),
 ("cvar", G.cvar, [np.array([.3, .5, .2]), R(20, 3)], 1),
 ("var_quantile", G.var_quantile, [np.array([.3, .5, .2]), R(21, 3)], 1),
 ("garch", G.garch_ll, [np.array([.1, .1, .8]), R(15)], 2),
 ("garch_list", G.garch_ll_list, [np.array([.1, .1, .8]), R(15)], 2),
 ("fir", G.fir, [R(8), R(3)], 2),
 ("iir", G.iir, [R(8), np.array([.3, -.2])], 2),
 ("conv_same", G.conv_loss, [R(8), R(3)], 2),
 ("conv_valid", G.conv_valid, [R(8), R(3)], 2),
 ("power_spectrum", G.power_spectrum, [R(16)], 1),
 ("autocorr", G.autocorr, [R(10)], 1),
 ("autocorr_correlate", G.autocorr_correlate, [R(10)], 1),
 ("ema", G.ema, [R(6), 0.3], 2),
 ("moving_avg", G.moving_avg_cumsum, [R(8)], 1),
 ("lqr", G.lqr_cost, [R(5, 1), A2, B2, np.array([1.0, 0.0])], 4),
 ("lqr_inplace", G.lqr_traj_inplace, [R(5, 1), A2, B2, np.array([1.0, 0.0])], 4),
 ("mpc", G.mpc_penalty, [R(5, 1), A2, B2, np.array([1.0, 0.0])], 1),
 ("fk2", G.fk2, [np.array([.3, .4]), np.array([1.0, .8])], 2),
 ("fk3_points", G.fk3_points, [np.array([.3, .4, -.2]), np.array([1.0, .8, .5])], 2),
 ("ik_jt", G.ik_jt_loss, [np.array([.3, .4, -.2]), np.array([1.0, .8, .5])], 2),
 ("fk_homog", G.fk_homog, [np.array([.3, .4, -.2]), np.array([1.0, .8, .5])], 2),
 ("ray_sphere", G.ray_sphere, [np.array([0., 0., 5.]), 1.3, np.zeros((4, 3)), np.array([[0, 0, 1.], [0.1, 0, .995], [0.6, 0, .8], [0, .2, .98]])], 2),
 ("barycentric", G.barycentric, [np.array([.2, .3]), np.array([[0., 0], [1, 0.1], [0.2, 1]])], 2),
 ("soft_raster", G.soft_raster, [np.array([[0., 0], [1, 0.1], [0.2, 1]]), rng.uniform(0, 1, (10, 2))], 1),
 ("lj", G.lj, [pos5], 1),
 ("lj_where", G.lj_where, [pos5], 1),
 ("morse", G.morse, [pos5], 1),
 ("harmonic_bonds", G.harmonic_bonds, [pos5, bonds], 1),
 ("coulomb", G.coulomb, [pos5, np.array([1., -1, .5, -.5, 1])], 2),
 ("forces_add_at", G.forces_add_at, [pos5, bonds], 1),
 ("angle_energy", G.angle_energy, [pos5, triples], 1),
 ("verlet", G.verlet, [R(3), R(3)], 2),
 ("hier_logjoint", G.hier_logjoint, [hier, y_h, g_h], 1),
 ("elbo", G.elbo, [{"m": R(3), "log_s": R(3) * .1}, R(3)], 1),
 ("mixture_ll", G.mixture_ll, [R(3), R(3), R(7)], 3),
 ("logsumexp_manual", G.logsumexp_manual, [R(3, 4)], 1),
 ("dataclass", G.dataclass_loss, [R(3), 0.5, R(6, 3), R(6)], 2),
 ("class_call", G.class_loss, [R(3, 4), R(4), R(5, 3)], 2),
 ("projected_gd", G.projected_gd, [rng.uniform(0.1, .9, 3), R(4, 3), R(4)], 3),
 ("attention_pool", G.attention_pool, [R(4), R(5, 4), R(5, 3)], 3),
 ("sinkhorn", G.sinkhorn, [Cmat, av, bv], 3),
 ("sinkhorn_log", G.sinkhorn_log, [Cmat, av, bv], 3),
 ("huber", G.huber_irls, [R(3), R(8, 3), R(8) * 2], 1),
 ("kmeans_soft", G.kmeans_soft, [R(3, 2), R(8, 2)], 2),
 ("newton_sqrt", G.newton_sqrt, [np.array([2., 3., 5.])], 1),
 ("while_converge", G.while_converge, [0.7], 1),
 ("triu_cov", G.triu_cov, [np.array([1., .2, 1.3, -.1, .3, 1.1])], 1),
 ("median_loss", G.median_loss, [R(7)], 1),
 ("bool_mask_update", G.bool_mask_update, [R(7)], 1),
 ("argsort_rank", G.argsort_rank, [R(6), R(6)], 2),
 ("dict_accum", G.dict_accum, [{"a": R(3), "b": R(3)}, R(3)], 1),
 ("kalman", G.kalman_ll, [0.3, R(6)], 2),
 ("einsum_bilinear", G.einsum_bilinear, [R(3, 3), R(4, 3)], 2),
 ("rk4", G.rk4, [0.7, R(3)], 2),
]

# ---- run_dom3.py
rng = np.random.default_rng(3)
def R(*s): return rng.standard_normal(s)
S3 = np.array([[0.1, 0.02, 0.01], [0.02, 0.2, 0.03], [0.01, 0.03, 0.15]])
CASES += [
 ("max_drawdown", G.max_drawdown, [R(10) * .05], 1),
 ("sortino", G.sortino, [R(10) * .05], 1),
 ("sharpe", G.sharpe_std, [R(10) * .05], 1),
 ("markowitz", G.markowitz_solve, [S3, np.array([.05, .1, .07])], 2),
 ("cov_corr", G.cov_corr, [R(6, 3)], 1),
 ("vol_interp", G.vol_interp, [np.array([.3, .25, .2, .22, .27]), np.array([85., 97., 113.])], 2),
 ("minimum_image", G.minimum_image, [rng.uniform(0, 3, (4, 3))], 1),
 ("periodic_roll", G.periodic_roll, [R(7)], 1),
 ("bincount_w", G.bincount_w, [R(6), np.array([0, 1, 1, 3, 0, 2])], 1),
 ("take_along", G.take_along, [R(4, 3)], 1),
 ("cholesky_nll", G.cholesky_nll, [np.array([1., .2, 1.3, -.1, .3, 1.1]), R(3)], 2),
 ("slogdet", G.slogdet_loss, [np.eye(3) * 2 + R(3, 3) * .3], 1),
 ("lstsq", G.lstsq_fit, [R(6, 3), R(6)], 2),
 ("fft_lowpass", G.fft_lowpass, [R(12)], 1),
 ("complex_phase", G.complex_phase, [R(5)], 1),
 ("polyval", G.polyval_fit, [R(3), R(5)], 2),
 ("reduceat", G.reduceat_seg, [R(7)], 1),
 ("partition", G.partition_topk, [R(7)], 1),
 ("std_axis", G.np_std_axis, [R(6, 2)], 1),
 ("inplace_views", G.lerp_inplace_views, [R(7)], 1),
 ("newton_logreg", G.outer_hessian_newton, [R(3) * .1, R(8, 3), (R(8) > 0).astype(float)], 1),
 ("mat_power", G.mat_power_loop, [R(3, 3) * .5], 1),
 ("expm_taylor", G.expm_taylor, [R(2, 2) * .5], 1),
 ("ode_list", G.ode_euler_state_list, [np.array([1.0, 0.2])], 1),
 ("tuple_swap", G.tuple_swap_loop, [R(3), R(3)], 2),
 ("vectorize_erf", G.frompyfunc_erf, [R(4)], 1),
 ("nanmean", G.mean_nan, [R(6)], 1),
 ("ptp", G.ptp_range, [R(6)], 1),
 ("gae", G.gae, [R(6), R(6)], 2),
 ("disc_returns", G.discounted_returns, [R(6)], 1),
 ("ce_int", G.logits_ce_int, [R(3, 4), R(5, 3), np.array([0, 3, 1, 2, 1])], 2),
 ("gp_nll", G.gauss_kernel_gp, [np.array([0.8]), R(5, 2), R(5)], 1),
 ("arm_axis", G.arm_cumsum_axis, [R(4, 3)], 1),
 ("scalar_accum", G.float_loop_scalar_accum, [R(5)], 1),
 ("zip_pairs", G.zip_pairs, [R(4), R(4)], 2),
 ("max_pairs", G.max_pairs, [np.array([0.7, -1.2, 0.3])], 1),
 ("stacked_dict", G.stacked_dict_params, [{"W0": R(3, 4), "b0": R(4), "W1": R(4, 2), "b1": R(2)}, R(5, 3)], 1),
 ("shoelace", G.triangle_area_signed, [R(5, 2)], 1),
 ("norm_ord", G.np_linalg_norm_ord, [R(3, 3)], 1),
 ("welch", G.hanning_welch, [R(20)], 1),
]

# ---- run_dom4.py
rng = np.random.default_rng(4)
def R(*s): return rng.standard_normal(s)
P0 = R(5, 3)
CASES += [
 ("kabsch", G.kabsch_rmsd, [P0, P0 @ np.linalg.qr(R(3, 3))[0] + 0.1 * R(5, 3)], 2),
 ("normal_modes", G.normal_modes, [np.array([1.0, 2.0])], 1),
 ("fill_diag_gp", G.fill_diag_gp, [np.array([1.3]), R(4, 2)], 1),
 ("diag_indices", G.diag_indices_jitter, [np.array([1.3]), R(4, 2)], 1),
 ("atan2_ik", G.atan2_ik, [np.array([1.2, 0.6])], 1),
 ("np_atan2_hypot", G.np_atan2_hypot, [R(4, 2)], 1),
 ("cross_torque", G.cross_torque, [R(4, 3), R(4, 3)], 2),
 ("quat", G.quat_rotate, [R(4), R(3)], 2),
 ("alias_copy", G.alias_copy_write, [R(4)], 1),
 ("ravel_view", G.ravel_view_write, [R(2, 3)], 1),
 ("reshape_view", G.reshape_view_write, [R(2, 3)], 1),
 ("transpose_view", G.transpose_view_write, [R(2, 3)], 1),
 ("row_view", G.row_view_inplace, [R(3, 3)], 1),
 ("out_kw", G.out_kw, [R(4), R(4)], 2),
 ("sort_inplace", G.sort_inplace, [R(5)], 1),
 ("normalize_rows", G.normalize_rows_inplace, [R(3, 3)], 1),
 ("matmul_inplace", G.matmul_inplace, [R(2, 2), R(2, 2)], 2),
 ("tensordot", G.tensordot_loss, [R(2, 3, 4), R(3, 4, 2)], 2),
 ("state_class", G.state_class_rollout, [1.7], 1),
 ("pca_var", G.pca_var, [R(8, 3)], 1),
 ("bezier", G.bezier, [R(4, 2), np.array([0.2, 0.7])], 1),
 ("arc_length", G.catmull_arc_length, [R(5, 2)], 1),
 ("lambert", G.shading_lambert, [R(6, 3), np.array([0.3, 0.5, 0.8])], 2),
 ("gamma_correct", G.gamma_correct, [rng.uniform(0, 1, 6)], 1),
 ("bond_pairs_loop", G.fma_bond_list, [R(4, 3), [(0, 1), (1, 2), (2, 3)]], 1),
 ("neighbor_cutoff", G.neighbor_list_cutoff, [R(5, 2)], 1),
 ("heat", G.heat_explicit, [R(8), np.array([0.2])], 2),
 ("wave2d", G.wave_2d, [R(5, 5)], 1),
 ("poisson", G.loglik_poisson, [R(3) * .3, R(6, 3), np.array([1., 0, 2, 3, 1, 0])], 1),
 ("student_t", G.student_t_ll, [{"mu": np.array(0.1), "log_s": np.array(0.2), "log_nu": np.array(1.5)}, R(6)], 1),
]

# ---- run_dom5.py
rng = np.random.default_rng(6)
def R(*s): return rng.standard_normal(s)
CASES += [
 ("binomial_american", G.binomial_american, [97.3, 0.25], 2),
 ("binomial_inplace", G.binomial_inplace, [97.3, 0.25], 2),
 ("mc_call", G.mc_call, [100.0, 0.25], 2),
 ("asian_barrier", G.asian_barrier, [100.0, 0.25], 2),
 ("implied_vol", G.implied_vol_newton, [9.0], 1),
 ("bond_price", G.bond_price, [0.04], 1),
 ("select_tax", G.piecewise_tax, [rng.uniform(0, 5, 6)], 1),
 ("np_piecewise", G.np_piecewise, [R(6)], 1),
 ("sliding_window", G.sliding_window, [R(7), R(3)], 2),
 ("apply_along", G.apply_along, [R(3, 4)], 1),
 ("meshgrid", G.meshgrid_image, [np.array([0.2, -0.1])], 1),
 ("linspace_end", G.linspace_endpoint, [np.array([1.3])], 1),
 ("logaddexp", G.logaddexp_red, [R(5)], 1),
 ("np_gradient", G.np_gradient_energy, [R(7)], 1),
 ("outer_kron", G.outer_kron, [R(3), R(2)], 2),
 ("block", G.block_aug, [R(2, 2) * .5, R(2, 1)], 2),
 ("pad_conv", G.pad_conv, [R(6), R(3)], 2),
 ("pad_reflect", G.pad_reflect, [R(6)], 1),
 ("unique_group", G.unique_group, [R(6), np.array([3, 1, 3, 7, 1, 1])], 1),
 ("methods_chain", G.methods_chain, [R(3, 3)], 1),
 ("reversed_cumsum", G.reversed_cumsum, [R(5)], 1),
 ("heaviside", G.heaviside, [R(5)], 1),
 ("goertzel", G.goertzel, [R(8)], 1),
 ("biquad", G.biquad_state, [R(8), R(3)], 2),
 ("dft_matrix", G.dft_matrix, [R(8)], 1),
 ("zero_cross", G.zero_crossings_energy, [R(8)], 1),
 ("spring_mass", G.spring_mass_matrix, [np.array([1., 2., 1.5, 1.]), np.array([1., 2., 1.5])], 2),
]

# ---- run_dom6.py
rng = np.random.default_rng(8)
def R(*s): return rng.standard_normal(s)
CASES += [
 ("float_scale", G.float_scale, [R(5)], 1),
 ("item_scale", G.item_scale, [R(5)], 1),
 ("tolist_rebuild", G.tolist_rebuild, [R(5)], 1),
 ("builtin_sum2d", G.builtin_sum2d, [R(3, 3)], 1),
 ("astype32", G.astype32, [R(4)], 1),
 ("asarray_float", G.asarray_float, [R(4)], 1),
 ("where1", G.where1, [R(6)], 1),
 ("nonzero2d", G.nonzero2d, [R(3, 3)], 1),
 ("newaxis_ellipsis", G.newaxis_ellipsis, [R(3, 2)], 1),
 ("subtract_outer", G.subtract_outer, [R(4)], 1),
 ("maximum_reduce", G.maximum_reduce, [R(3, 4)], 1),
 ("sum_where", G.sum_where, [R(6)], 1),
 ("safe_sqrt", G.safe_sqrt, [R(6)], 1),
 ("safe_div", G.safe_div, [R(5), np.array([1., 0, 2, 0, -1])], 1),   # (b = 0: FD flips the where)
 ("vdot_inner", G.vdot_inner, [R(4), R(4)], 2),
 ("batched_matmul", G.batched_matmul, [R(2, 3, 3), R(2, 3)], 2),
 ("isfinite_guard", G.isfinite_guard, [R(6)], 1),
 ("round_trick", G.round_trick, [R(5) + 0.05], 1),
 ("int_index", G.int_index_from_value, [R(5)], 1),
 ("divmod", G.divmod_py, [2.3], 1),
 ("fsum", G.math_fsum, [R(3)], 1),
 ("norm_keepdims", G.norm_keepdims, [R(3, 4)], 1),
 ("cumsum_dtype", G.cumsum_dtype, [R(5)], 1),
 ("ddof_var", G.ddof_var, [R(4, 3)], 1),
 ("average_w", G.average_weights, [R(4), rng.uniform(0.5, 1, 4)], 2),
 ("clip_array_bounds", G.clip_method_array_bounds, [R(5), R(5) * 0.5], 2),
 ("minmax_norm", G.minmax_normalize, [R(5)], 1),
 ("softplus", G.softplus_stable, [R(5)], 1),
 ("expm1_log1p", G.expm1_log1p, [R(5)], 1),
 ("complex_abs", G.complex_abs_grad, [R(4), R(4)], 2),
 ("string_dispatch_l1", G.string_dispatch, [R(4), "l1"], 1),
 ("string_dispatch_l2", G.string_dispatch, [R(4), "l2"], 1),
 ("kwargs", G.call_kwargs, [R(4)], 1),
 ("star_args", G.call_star, [R(4), R(4)], 2),
 ("global_cache", G.global_cache, [R(3)], 1),
 ("lambda_map", G.lambda_map, [R(4)], 1),
 ("sorted_key", G.sorted_key, [R(5)], 1),
 ("reversed_enum", G.reversed_enum, [R(5)], 1),
]

# ---- run_dom7.py
rng = np.random.default_rng(9)
def R(*s): return rng.standard_normal(s)
CASES += [
 ("inherit", G.inherit_loss, [R(4)], 1),
 ("dc_replace", G.dc_replace_loss, [R(3) * .5], 1),
 ("namedtuple", G.nt_loss, [R(3), R(4, 3)], 2),
 ("partial", G.partial_loss, [R(3), R(4, 3), R(4)], 1),
 ("reduce", G.reduce_loss, [[R(2, 2), R(2, 2)]], 1),
 ("closure", G.closure_loss, [R(3)], 1),
 ("lru", G.lru_loss, [R(4)], 1),
 ("generator", G.gen_loss, [R(4)], 1),
 ("recursive_tree", G.fk_tree, [R(4)], 1),
 ("try_except", G.try_except_loss, [R(3)], 1),
 ("assert", G.assert_loss, [R(3)], 1),
 ("errstate", G.errstate_loss, [np.array([0.0, 0.5, -1.2])], 1),
 ("global_counter", G.global_counter_loss, [R(3)], 1),
 ("nonlocal", G.nonlocal_loss, [R(3)], 1),
 ("print", G.print_loss, [R(3)], 1),
 ("logging_list", G.logging_list_loss, [R(3)], 1),
 ("static_class", G.staticmethod_cls, [R(4, 2)], 1),
 ("arm_property", G.arm_property, [R(3), np.array([1.0, .8, .5])], 2),
 ("dict_comp", G.dict_comp_update, [{"a": R(3), "b": R(2)}], 1),
 ("setattr_loop", G.setattr_loop, [R(3)], 1),
]

# ---- run_dom8.py
rng = np.random.default_rng(11)
def R(*s): return rng.standard_normal(s)
A4 = R(4, 4) + 4 * np.eye(4)
SPD = A4 @ A4.T
CASES += [
 ("dup_iadd", G.dup_iadd, [R(4, 3), np.array([[0, 1], [0, 2], [1, 3], [2, 3], [0, 3]])], 1),
 ("dup_assign", G.dup_assign, [R(5), R(3)], 2),
 ("dup_imul", G.dup_imul, [R(4), R(3)], 2),
 ("mask_imul", G.mask_imul, [R(7)], 1),
 ("row_col_fancy", G.row_col_fancy, [R(3, 3), R(2)], 2),
 ("put_take", G.put_take, [R(5), R(2)], 2),
 ("scatter_grid", G.scatter_grid, [np.array([0.3, 1.7, 1.2, 3.9]), R(4)], 2),
 ("chained_index", G.chained_index_write, [R(3, 3)], 1),
 ("bool2d_assign", G.bool2d_assign, [R(3, 3)], 1),
 ("ellipsis_write", G.ellipsis_write, [R(3, 2)], 1),
 ("neg_step_write", G.negative_step_write, [R(6)], 1),
 ("swap_rows", G.loop_swap_rows, [R(3, 2)], 1),
 ("gauss_elim", G.gauss_elim, [A4, R(4)], 2),
 ("thomas", G.thomas, [R(5), R(5) + 4, R(5), R(5)], 4),
 ("cholesky_manual", G.cholesky_manual, [SPD], 1),
 ("viterbi_soft", G.viterbi_soft, [R(3, 3), R(5, 3)], 2),
 ("ctc_dp", G.ctc_like_dp, [R(5, 3)], 1),
 ("soft_dtw", G.dtw_soft, [R(4), R(3)], 2),
]

# ---- run_dom9.py
rng = np.random.default_rng(12)
def R(*s): return rng.standard_normal(s)
CASES += [
 ("ac_circuit", G.ac_circuit, [np.array([1.0, 0.5, 0.2]), np.linspace(0.5, 5, 6)], 1),
 ("analytic_signal", G.analytic_signal, [R(8)], 1),
 ("fft_ortho_shift", G.fft_ortho_shift, [R(8)], 1),
 ("fft2_blur", G.fft2_blur, [R(4, 4), R(2, 2)], 2),
 ("spectrogram", G.spectrogram, [R(16)], 1),
 ("phasor_sum", G.phasor_sum, [R(4), R(4)], 2),
 ("transfer_fn", G.transfer_fn_mag, [R(3), np.array([0.3, 0.1])], 2),
 ("complex_solve", G.complex_matrix_solve, [R(2)], 1),
 ("conj_inner", G.conj_inner, [R(4), R(4)], 2),
]

# ---- run_dom10.py
rng = np.random.default_rng(13)
def R(*s): return rng.standard_normal(s)
CASES += [
 ("chained_assign", G.chained_assign, [R(2)], 1),
 ("list_repeat_alias", G.list_repeat_alias, [R(2)], 1),
 ("unpack_rows_iadd", G.unpack_rows_iadd, [R(2, 3)], 1),
 ("for_row_imul", G.for_row_imul, [R(3, 2)], 1),
 ("overlap_reverse", G.overlap_reverse, [R(5)], 1),
 ("overlap_shift", G.overlap_shift, [R(5)], 1),
 ("copyto_where", G.copyto_where, [R(5), R(5)], 2),
 ("alias_iadd", G.alias_iadd, [R(3)], 1),
 ("view_across_iters", G.view_across_iters, [R(2)], 1),
 ("dict_inplace", G.dict_of_arrays_inplace, [R(2)], 1),
 ("object_inplace", G.object_state_inplace, [R(2)], 1),
]

# ---- run_dom11.py (Python control flow and builtins on traced elements)
rng = np.random.default_rng(14)
def R(*s): return rng.standard_normal(s)
CASES += [
 ("half_shape", G.half_shape, [R(5)], 1),
 ("ternary_abs", G.ternary_abs, [np.array([-0.7, 0.4])], 1),
 ("ternary_abs2", G.ternary_abs, [np.array([0.7, 1.4])], 1),
 ("builtin_min_sorted", G.builtin_min_sorted, [R(5)], 1),
 ("any_gen", G.any_gen, [np.array([0.5, 2.5, 1.0])], 1),
 ("any_gen2", G.any_gen, [np.array([0.5, 1.5, 1.0])], 1),
 ("round_index", G.round_index, [np.array([0.8, 1.1, 0.33, -0.4])], 1),
 ("bool_branch", G.bool_branch, [np.array([0.8, 0.1])], 1),
 ("math_on_elems", G.math_on_elems, [R(3)], 1),
 ("pow_frac_scalar", G.pow_frac_scalar, [R(3)], 1),
 ("int_power_loop", G.int_power_loop, [R(3)], 1),
 ("while_else", G.while_with_else, [np.array([0.3, 0.5, 2.0, 0.1])], 1),
 ("while_else2", G.while_with_else, [np.array([0.3, 0.5, 0.1])], 1),
 ("for_else_continue", G.for_else_continue, [np.array([0.3, -1.5, 0.1])], 1),
 ("nested_default", G.nested_func_default, [R(3)], 1),
 ("walrus", G.walrus, [R(4)], 1),
 ("starred_unpack", G.starred_unpack, [R(5)], 1),
 ("slice_obj", G.slice_obj, [R(6)], 1),
 ("list_comp_matrix", G.matrix_from_list_comp, [R(3)], 1),
 ("fstring_key", G.fstring_key_dict, [R(3)], 1),
 ("enumerate_zip", G.enumerate_start_zip_strict, [R(3), R(3)], 2),
]
