"""Red team B (Dec 23): the arguments each ported peer program is run with.  ``CASES`` holds
(name, fn, xs, cs, plain): ``fn(*xs, *cs)`` is differentiated with respect to every leaf of ``xs``;
``plain`` (or None: ``fn`` itself) computes the same value in plain Python, for the programs that call
dlgradient themselves."""
from __future__ import annotations

import numpy as np

import redteam_dec23b_corpus as C

rs = np.random.RandomState(3)


def r(*shape):
    return rs.randn(*shape)


def one_hot(idx, k):
    return np.eye(k)[idx]


NN_PARAMS = [(r(3, 4) * 0.5, r(4) * 0.5), (r(4, 3) * 0.5, r(3) * 0.5)]
NN_IN = r(5, 3)
NN_T = one_hot([0, 1, 2, 1, 0], 3)

RNN_PARAMS = {"init hiddens": r(1, 3) * 0.3, "change": r(2 + 3 + 1, 3) * 0.5, "predict": r(3 + 1, 2) * 0.5}
SEQ = rs.randn(4, 2, 2)
SEQ_T = one_hot(np.array([[0, 1], [1, 1], [0, 0], [1, 0]]), 2)
LSTM_PARAMS = {"init cells": r(1, 3) * 0.3, "init hiddens": r(1, 3) * 0.3,
               "change": r(6, 3) * 0.5, "forget": r(6, 3) * 0.5, "ingate": r(6, 3) * 0.5,
               "outgate": r(6, 3) * 0.5, "predict": r(4, 2) * 0.5}
SEQ5_T = one_hot(np.array([[0, 1], [1, 1], [0, 0], [1, 0], [0, 1]]), 2)

VAE_GEN = [(r(2, 4) * 0.5, r(4) * 0.1), (r(4, 3) * 0.5, r(3) * 0.1)]
VAE_REC = [(r(3, 4) * 0.5, r(4) * 0.1), (r(4, 4) * 0.5, r(4) * 0.1)]
VAE_DATA = np.sign(r(5, 3))
VAE_EPS = r(5, 2)

GMM_PARAMS = {"log proportions": r(3) * 0.3, "means": r(3, 2), "lower triangles": np.zeros((3, 2, 2)) + np.eye(2)
              + 0.1 * r(3, 2, 2)}
GMM_DATA = r(6, 2)

HMM_PROBS = [C.hmm_normalize(np.abs(r(3)) + 0.2), C.hmm_normalize(np.abs(r(3, 3)) + 0.2),
             C.hmm_normalize(np.abs(r(3, 4)) + 0.2)]
HMM_DATA = np.array([0, 2, 1, 3, 3, 0])
HMM_DATA_LIST = [np.array([0, 2, 1]), np.array([3, 3, 0, 1])]

GAN_GEN = [(r(2, 3) * 0.5, r(3) * 0.1), (r(3, 2) * 0.5, r(2) * 0.1)]
GAN_DSC = [(r(2, 3) * 0.5, r(3) * 0.1), (r(3, 1) * 0.5, r(1) * 0.1)]

MAML = [(r(1, 4) * 0.5, r(4) * 0.1), (r(4, 1) * 0.5, r(1) * 0.1)]
MX1 = np.linspace(-1, 1, 4).reshape(4, 1)
MX2 = np.linspace(-0.8, 1.2, 4).reshape(4, 1)

ODE_PARAMS = (r(3, 4) * 0.5, r(4) * 0.1, r(4, 2) * 0.5, r(2) * 0.1)

LSTMCELL = (r(12, 1) * 0.5, r(12, 3) * 0.5, r(12) * 0.1, r(3, 1) * 0.5)
WLM = (r(5, 3) * 0.5, r(3, 4) * 0.5, r(4, 4) * 0.5, r(4, 5) * 0.5)

MIX = (r(2, 2), r(2, 2) * 0.2, r(2) * 0.3)


def plain_tanh_second(x):
    # d/dx tanh_by_exp = 2 e^-x / (1 + e^-x)^2 ; its derivative (elementwise)
    e = np.exp(-x)
    g = 2 * e / (1 + e) ** 2
    gp = (-2 * e * (1 + e) ** 2 + 2 * e * 2 * (1 + e) * e) / (1 + e) ** 4
    return np.sum(g * g) + np.sum(gp)


def plain_enclosing(x):
    return np.sum(x * 2 * x) if np.ndim(x) else x * 2 * x


def plain_third(x):
    # y = sin(2 sin x); g = 2 cos x cos(2 sin x); h = dg/dx
    return -2 * np.sin(x) * np.cos(2 * np.sin(x)) - 4 * np.cos(x) ** 2 * np.sin(2 * np.sin(x))


def plain_hess_vector(x, v):
    randv = np.linspace(-1, 1, x.shape[0])
    g = np.cos(np.dot(x, randv)) * randv
    return np.sin(np.dot(v, g))


def plain_singleton_grad(x):
    return np.sum(np.cos(x) ** 2)


def plain_w_hessian_tensor(a, v):
    s = np.sum(np.sin(a) * np.cos(a[::-1]))
    ds = np.cos(a) * np.cos(a[::-1]) - (np.sin(a) * np.sin(a[::-1]))[::-1]
    return np.sum(2 * s * ds * v)


def plain_egrad_tanh(x):
    e = np.exp(-x)
    return 2 * e / (1 + e) ** 2


def plain_maml(params, x1, y1, x2, y2):
    (w1, b1), (w2, b2) = params
    h = np.tanh(np.dot(x1, w1) + b1)
    out = np.dot(h, w2) + b2
    d = 2 * (out - y1) / out.size
    gw2 = np.dot(h.T, d)
    gb2 = np.sum(d, axis=0)
    dh = np.dot(d, w2.T) * (1 - h ** 2)
    gw1 = np.dot(x1.T, dh)
    gb1 = np.sum(dh, axis=0)
    p2 = [(w1 - 0.1 * gw1, b1 - 0.1 * gb1), (w2 - 0.1 * gw2, b2 - 0.1 * gb2)]
    return C.maml_loss(p2, x2, y2)


def plain_dp_sgd(params, xs, ys):
    total = 0.0
    clipped = []
    for i in range(xs.shape[0]):
        res = np.dot(xs[i], params) - ys[i]
        li = np.sum(res ** 2)
        gi = 2 * np.outer(xs[i], res) if np.ndim(params) == 2 else 2 * res * xs[i]
        nrm = np.sqrt(np.sum(gi ** 2))
        clipped.append(gi / np.maximum(1.0, nrm))
        total = total + li
    g = np.mean(np.stack(clipped), axis=0)
    return total + np.sum(g * g)


X4 = np.array([0.3, -0.7, 1.1, 0.5])
XP = np.array([0.35, 0.2, 0.7, 0.45])

CASES = [
    ("nn_log_posterior", C.nn_log_posterior, [NN_PARAMS], [NN_IN, NN_T], None),
    ("nn_objective_tuple_list", C.nn_objective_tuple_list, [NN_PARAMS], [NN_IN, NN_T], None),
    ("rnn_log_likelihood", C.rnn_log_likelihood, [RNN_PARAMS], [SEQ, SEQ_T], None),
    ("lstm_log_likelihood", C.lstm_log_likelihood, [LSTM_PARAMS], [SEQ, SEQ_T], None),
    ("lstm_stacked_output", C.lstm_stacked_output, [LSTM_PARAMS], [SEQ, SEQ_T], None),
    ("gp_objective", C.gp_objective, [np.array([0.1, -1.0, 0.2, 0.3])], [], None),
    ("gp_predictive", C.gp_predictive, [np.array([0.1, -1.0, 0.2, 0.3])], [np.linspace(-3, 3, 4).reshape(4, 1)],
     None),
    ("gp_predictive_xstar", lambda xstar, p: C.gp_predictive(p, xstar), [np.linspace(-3, 3, 4).reshape(4, 1)],
     [np.array([0.1, -1.0, 0.2, 0.3])], None),
    ("vae_objective", C.vae_objective, [(VAE_GEN, VAE_REC)], [VAE_DATA, VAE_EPS], None),
    ("vae_seeded", C.vae_seeded, [(VAE_GEN, VAE_REC)], [VAE_DATA], None),
    ("bbsvi_objective", C.bbsvi_objective, [np.array([-1.0, -0.5, -1.2, 0.3])], [3], None),
    ("bnn_logprob_sum", C.bnn_logprob_sum, [r(3, C.bnn_num_weights) * 0.5], [], None),
    ("bnn_svi_objective", C.bnn_svi_objective, [r(2 * C.bnn_num_weights) * 0.5], [1], None),
    ("gmm_log_likelihood", C.gmm_log_likelihood, [GMM_PARAMS], [GMM_DATA], None),
    ("hmm_log_partition", C.log_partition_function, [[np.log(p) for p in HMM_PROBS]], [HMM_DATA], None),
    ("hmm_log_partition_list", C.log_partition_function, [[np.log(p) for p in HMM_PROBS]], [HMM_DATA_LIST], None),
    ("hmm_from_probs", C.hmm_from_probs, [HMM_PROBS], [HMM_DATA], None),
    ("hmm_normalized_loglike", C.hmm_normalized_loglike, [HMM_PROBS], [HMM_DATA], None),
    ("fluid_objective", C.fluid_objective, [r(50) * 0.3], [], None),
    ("cnn_loss", C.cnn_loss, [r(C.CNN_N) * 0.3], [C.CNN_X, C.CNN_T], None),
    ("taylor_sine", C.taylor_sine, [np.array(0.7)], [], None),
    ("logistic_training_loss", C.logistic_training_loss, [np.array([0.1, -0.3, 0.2])], [], None),
    ("negbin_objective", C.negbin_objective, [np.array([0.4, -0.2])], [], None),
    ("ica_objective", C.ica_objective, [np.eye(3).ravel() + 0.2 * r(9)], [], None),
    ("rkhs_loss", C.rkhs_loss, [r(5)], [], None),
    ("ode_rk4", C.ode_rk4, [ODE_PARAMS, np.array([0.2, -0.1])], [], None),
    ("example_logsumexp_fun", C.example_logsumexp_fun, [r(4)], [], None),
    ("newton_sqrt_iter", C.newton_sqrt_iter, [np.array(2.3)], [], None),
    ("fixed_point_sqrt", C.fixed_point_sqrt, [np.array([2.3, 0.7])], [], None),
    ("sgd_unrolled", C.sgd_unrolled, [np.array([0.1, 0.2, -0.3]), np.array(0.3)], [], None),
    ("adam_unrolled", C.adam_unrolled, [np.array([0.1, 0.5, -0.3])], [], None),
    ("gplvm_objective", C.gplvm_objective, [np.array([0.2, -0.5, 0.9, 0.1])], [], None),
    ("mixture_objective", C.mixture_objective, [MIX], [r(5, 2)], None),
    ("gan_objective", C.gan_objective, [GAN_GEN, GAN_DSC], [r(4, 2), r(4, 2)], None),
    # autograd tests
    ("g_fanout", C.g_fanout, [np.array(0.4)], [], None),
    ("g_fanout_grad", C.g_fanout_grad, [np.array(0.4)], [], lambda x: 2 * np.cos(x) * np.cos(2 * np.sin(x))),
    ("g_hess_vector", C.g_hess_vector, [r(5), r(5)], [], plain_hess_vector),
    ("g_enclosing_scope", C.g_enclosing_scope, [np.array(1.3)], [], plain_enclosing),
    ("g_mutating_outgrad", C.g_mutating_outgrad, [r(5)], [], None),
    ("g_mutating_outgrad_index", C.g_mutating_outgrad_index, [r(5)], [], None),
    ("g_complex_mutating", C.g_complex_mutating, [r(5)], [], None),
    ("g_sep_real_imag", C.g_sep_real_imag, [r(5, 3) + 0.1j * r(5, 3)], [], None),
    ("g_third_derivative", C.g_third_derivative, [np.array(0.6)], [], plain_third),
    ("g_singleton_keepdims", C.g_singleton_keepdims, [r(3, 3)], [], None),
    ("g_singleton_axis0", C.g_singleton_axis0, [r(3, 1)], [], None),
    ("g_singleton_grad", C.g_singleton_grad, [r(1, 3)], [], plain_singleton_grad),
    ("w_hessian_tensor_product", C.w_hessian_tensor_product, [r(4), r(4)], [], plain_w_hessian_tensor),
    ("w_tensor_jacobian_product", C.w_tensor_jacobian_product, [r(4), r(4)], [], None),
    ("w_grad_and_aux", C.w_grad_and_aux, [r(4)], [], None),
    ("w_kwargs", C.w_kwargs, [r(4)], [], None),
    ("w_checkpoint_like", C.w_checkpoint_like, [r(4) * 0.5], [], None),
    ("d_getter", C.d_getter, [{"item_1": np.array(0.3), "item_2": r(3), "item_3": r(2, 2)}], [], None),
    ("d_iter", C.d_iter, [{"a": r(2), "bb": r(3)}], [], None),
    ("d_items_values", C.d_items_values, [{"a": r(2), "bb": r(3)}], [], None),
    ("d_make_dict", C.d_make_dict, [r(3)], [], None),
    ("d_isinstance", C.d_isinstance, [r(3)], [], None),
    ("l_getter", C.l_getter, [[np.array(0.3), r(3), r(2, 2)]], [], None),
    ("l_slices", C.l_slices, [r(3)], [], None),
    ("l_comprehension", C.l_comprehension, [r(4)], [], None),
    ("l_isinstance_list", C.l_isinstance_list, [r(4)], [], None),
    ("t_getter", C.t_getter, [(np.array(0.3), r(3), r(2, 2))], [], None),
    ("t_make_tuple", C.t_make_tuple, [r(3)], [], None),
    ("t_namedtuple", C.t_namedtuple, [r(2)], [], None),
    ("b_isinstance_float", C.b_isinstance_float, [r(2)], [], None),
    ("b_truediv", C.b_truediv, [r(4), r(4) + 3], [], None),
    ("b_logic", C.b_logic, [r(6)], [], None),
    ("b_comparisons", C.b_comparisons, [r(4), r(4)], [], None),
    ("b_mod", C.b_mod, [np.array([2.3, -1.6, 3.1, 0.4]), np.array([1.1, 0.9, -1.3, 0.7])], [], None),
    ("b_pow", C.b_pow, [XP, np.array([1.3, -0.4, 2.0, 0.5])], [], None),
    ("b_arctan2_hypot", C.b_arctan2_hypot, [r(4), r(4)], [], None),
    ("b_minmax", C.b_minmax, [r(4), r(4)], [], None),
    ("b_logaddexp", C.b_logaddexp, [r(4), r(4)], [], None),
    ("s_unary", C.s_unary, [XP + 0.5], [], None),
    ("s_unary_trig", C.s_unary_trig, [XP - 0.2], [], None),
    ("s_special", C.s_special, [X4], [], None),
    ("s_special2", C.s_special2, [X4], [], None),
    ("s_stats", C.s_stats, [X4], [], None),
    ("s_stats_unsupported", C.s_stats_unsupported, [X4], [], None),
    ("s_special_unsupported", C.s_special_unsupported, [X4], [], None),
    ("s_special_beta", C.s_special_beta, [X4], [], None),
    ("s_logsumexp_b", C.s_logsumexp_b, [X4], [], None),
    ("s_logsumexp_return_sign", C.s_logsumexp_return_sign, [np.array([0.3, -0.2, 0.9, 0.1])], [], None),
    ("s_mvn_entropy", C.s_mvn_entropy, [r(3, 3)], [], None),
    ("s_mvn_pdf_broadcast", C.s_mvn_pdf_broadcast, [r(4, 3) * 0.5, r(3) * 0.5, r(3, 3) * 0.5], [], None),
    ("s_dirichlet", C.s_dirichlet, [np.array([0.4, 1.2, 0.8])], [], None),
    ("s_norm_ppf", C.s_norm_ppf, [X4], [], None),
    # JAX
    ("jax_loss", C.jax_loss, [NN_PARAMS], [(NN_IN, NN_T)], None),
    ("jax_accuracy_branch", C.jax_accuracy_branch, [NN_PARAMS], [NN_IN, NN_T], None),
    ("maml_objective", C.maml_objective, [MAML], [MX1, np.sin(MX1), MX2, np.sin(MX2)], plain_maml),
    ("kernel_lsq", C.kernel_lsq, [r(4)], [], None),
    ("advi_elbo", C.advi_elbo, [(r(2), r(2) * 0.3)], [r(6, 2)], None),
    ("dp_sgd_clipped", C.dp_sgd_clipped, [r(3, 2)], [r(4, 3), r(4, 2)], plain_dp_sgd),
    # PyTorch
    ("poly_regression", C.poly_regression, [r(4), np.array(0.1)], [], None),
    ("time_sequence", C.time_sequence, [LSTMCELL], [r(2, 4)], None),
    ("word_lm", C.word_lm, [WLM], [np.array([0, 3, 1, 4]), np.array([3, 1, 4, 2])], None),
    ("reinforce_loss", C.reinforce_loss, [r(3, 2)], [r(4, 3), np.array([0, 1, 1, 0]),
                                                     np.array([1.0, 0.0, 0.5, 2.0])], None),
    ("torch_vae_loss", C.torch_vae_loss, [(r(4, 3) * 0.5, r(3, 2) * 0.5, r(3, 2) * 0.5, r(2, 4) * 0.5)],
     [np.abs(np.sin(r(3, 4))), r(3, 2)], None),
    ("contrastive_loss", C.contrastive_loss, [r(3, 2)], [r(4, 3), r(4, 3), np.array([0., 1., 1., 0.])], None),
    ("actor_critic", C.actor_critic, [r(3, 2), r(3)], [r(4, 3), np.array([0, 1, 1, 0]),
                                                      np.array([1.0, 0.0, 0.5, 2.0])], None),
]


def psd(d):
    m = r(d, d)
    return np.dot(m, m.T) + d * np.eye(d)


SQ = r(4, 4) + 4 * np.eye(4)
V5 = np.array([0.3, -0.7, 1.1, 0.5, -1.4])
CASES += [
    ("la_inv", C.la_inv, [SQ], [], None),
    ("la_inv_3d", C.la_inv, [r(3, 3, 3) + 5 * np.eye(3)], [], None),
    ("la_solve_a", C.la_solve_a, [SQ], [r(4, 3)], None),
    ("la_solve_a_1d", C.la_solve_a, [SQ], [r(4)], None),
    ("la_solve_b", C.la_solve_b, [r(4, 3)], [SQ], None),
    ("la_solve_a_3d_3d", C.la_solve_a, [r(2, 3, 3) + 5 * np.eye(3)], [r(2, 3, 2)], None),
    ("la_det", C.la_det, [r(4, 4)], [], None),
    ("la_det_3d", C.la_det, [r(3, 3, 3)], [], None),
    ("la_slogdet", C.la_slogdet, [r(4, 4)], [], None),
    ("la_slogdet_neg", C.la_slogdet, [-r(4, 4)], [], None),
    ("la_slogdet_3d", C.la_slogdet, [np.stack([psd(3), psd(3)])], [], None),
    ("la_slogdet_sign", C.la_slogdet_sign, [r(3, 3)], [], None),
    ("la_norm_vec", C.la_norm, [r(6)], [], None),
    ("la_norm_fro", C.la_norm, [r(4, 3)], [], None),
    ("la_norm_axis01", C.la_norm_axis01, [r(3, 2, 4)], [], None),
    ("la_norm_ord3", C.la_norm_ord3, [r(5)], [], None),
    ("la_norm_ord_inf", C.la_norm_ord_inf, [V5], [], None),
    ("la_norm_axis1", C.la_norm_axis1, [r(3, 4, 2)], [], None),
    ("la_norm_nuc", C.la_norm_nuc, [r(4, 3)], [], None),
    ("la_norm_nuc_axis", C.la_norm_nuc_axis, [r(4, 3, 2)], [], None),
    ("la_norm_fro_keepdims", C.la_norm_fro_keepdims, [r(2, 3, 3)], [], None),
    ("la_norm_matrix2", C.la_norm_matrix2, [r(3, 3)], [], None),
    ("la_eigh", C.la_eigh, [psd(4)], [], None),
    ("la_eigh_upper", C.la_eigh_upper, [psd(4)], [], None),
    ("la_eigh_broadcast", C.la_eigh_broadcast, [np.stack([psd(3), psd(3) + np.diag([0., 1., 3.])])], [], None),
    ("la_eigvalsh", C.la_eigvalsh, [psd(4)], [], None),
    ("la_cholesky", C.la_cholesky, [psd(4)], [], None),
    ("la_cholesky_bcast", C.la_cholesky, [np.stack([psd(3), psd(3)])], [], None),
    ("la_cholesky_reparam", C.la_cholesky_reparam, [psd(4)], [], None),
    ("la_svd_wide", C.la_svd, [r(3, 5)], [], None),
    ("la_svd_tall_3d", C.la_svd, [r(2, 5, 3)], [], None),
    ("la_svd_square", C.la_svd, [r(4, 4)], [], None),
    ("la_svd_s", C.la_svd_s, [r(5, 3)], [], None),
    ("la_svd_s_3d", C.la_svdvals_s, [r(2, 5, 3)], [], None),
    ("la_pinv", C.la_pinv, [r(4, 3)], [], None),
    ("la_matrix_power", C.la_matrix_power, [SQ * 0.3], [], None),
    ("la_qr", C.la_qr, [r(4, 3)], [], None),
    ("la_lstsq", C.la_lstsq, [r(5, 3), r(5)], [], None),
    ("la_multi_dot", C.la_multi_dot, [r(3, 4), r(4, 3)], [], None),
    ("la_eig_real", C.la_eig_real, [psd(3) + 0.1 * r(3, 3)], [], None),
    ("la_tensorinv", C.la_tensorsolve, [(r(4, 4) + 4 * np.eye(4)).ravel()], [], None),
    ("la_trace_kron", C.la_trace_kron, [r(2, 2), r(2, 3)], [], None),
    # edge points
    ("e_prod_zero", C.e_prod_zero, [np.array([0.5, 0.0, 2.0, -1.5])], [], None),
    ("e_prod_two_zeros", C.e_prod_zero, [np.array([0.5, 0.0, 2.0, 0.0])], [], None),
    ("e_prod_axis_zero", C.e_prod_axis_zero, [np.array([[0.5, 0.0], [2.0, 3.0], [0.0, 1.5]])], [], None),
    ("e_cumprod_zero", C.e_cumprod_zero, [np.array([0.5, 0.0, 2.0, -1.5])], [], None),
    ("e_det_singular", C.e_det_singular, [np.array([[1., 2., 3.], [2., 4., 6.], [0.5, -1., 2.]])], [], None),
    ("e_det_rank1", C.e_det_singular, [np.outer([1., 2., 3.], [0.5, -1., 2.])], [], None),
    ("e_pow_zero_base", C.e_pow_zero, [np.array([0.0, 0.5, -1.2])], [], None),
    ("e_pow_int_neg_base", C.e_pow_int_neg_base, [np.array([-0.5, 0.7, -1.2])], [], None),
    ("e_sqrt_sq", C.e_sqrt_sq, [np.array([0.0, 0.5, -1.2])], [], None),
    ("e_abs_complex", C.e_abs_complex, [r(3) + 1j * r(3)], [], None),
    ("e_where_nan_safe", C.e_where_nan_safe, [np.array([-0.5, 0.7, 1.2, -2.0])], [], None),
    ("e_clip_bounds", C.e_clip_bounds, [np.array([-0.8, 0.2, 0.7, -0.3])], [], None),
    ("e_int_cast", C.e_int_cast, [np.array([0.5, -1.0, 0.3, 0.2])], [], None),
    ("e_round_floor", C.e_round_floor, [np.array([0.3, -1.2, 2.6, 1.4])], [], None),
    ("e_sign_abs", C.e_sign_abs, [np.array([0.3, -1.2, 2.6])], [], None),
    ("e_nan_funcs", C.e_nan_funcs, [np.array([0.3, -1.2, 0.9, 0.1])], [], None),
    ("e_average_weights", C.e_average_weights, [r(4)], [], None),
    ("e_cov_corr", C.e_cov_corr, [r(3, 5)], [], None),
    ("e_percentile", C.e_percentile, [np.array([0.3, -1.2, 0.9, 0.1, 2.2, -0.4])], [], None),
    ("e_interp", C.e_interp, [np.array([0.1, 0.45, 0.8, 0.2])], [], None),
    ("e_diff_convolve", C.e_diff_convolve, [r(5)], [], None),
    ("e_polyval", C.e_polyval, [r(4)], [], None),
    ("e_trapz", C.e_trapz, [r(4)], [], None),
    ("e_cross_outer", C.e_cross_outer, [r(3), r(3)], [], None),
    ("e_pad_modes", C.e_pad_modes, [r(4)], [], None),
    ("e_insert_delete", C.e_insert_delete, [r(4)], [], None),
    ("e_select_piecewise", C.e_select_piecewise, [np.array([-0.8, 0.2, 0.7, -0.3, 1.5])], [], None),
    ("e_take_along", C.e_take_along, [r(3, 4)], [], None),
    ("e_put_add_at", C.e_put_add_at, [r(4)], [], None),
    ("e_block_tile", C.e_block_tile, [r(2, 2)], [], None),
    ("e_flips", C.e_flips, [r(3, 4)], [], None),
    ("e_sort_unique", C.e_sort_unique, [r(5)], [], None),
    ("e_fft", C.e_fft, [r(4)], [], None),
    ("e_vander_kron", C.e_vander_kron, [r(3)], [], None),
    ("e_heaviside_copysign", C.e_heaviside_copysign, [np.array([-0.8, 0.2, 0.7])], [], None),
    ("e_einsum_variety", C.e_einsum_variety, [r(3, 3), r(3, 3)], [], None),
    ("e_tensordot_dot3", C.e_tensordot_dot3, [r(2, 3, 4), r(3, 4, 2)], [], None),
    ("e_matmul_batched", C.e_matmul_batched, [r(3, 2, 2), r(3, 2, 2)], [], None),
    ("e_moveaxis_reshape_F", C.e_moveaxis_reshape_F, [r(2, 3, 2)], [], None),
    ("e_stack_variants", C.e_stack_variants, [r(3), r(3)], [], None),
    ("e_split_variants", C.e_split_variants, [r(6)], [], None),
    ("e_cumulative", C.e_cumulative, [r(5)], [], None),
    ("e_minimum_reduce", C.e_minimum_reduce, [r(5)], [], None),
    ("e_argmax_use", C.e_argmax_use, [r(3, 4)], [], None),
    ("e_logsumexp_manual", C.e_logsumexp_manual_inf, [r(3, 4)], [], None),
    ("e_softmax_stable", C.e_softmax_stable, [r(5)], [], None),
    ("e_complex_ops", C.e_complex_ops, [r(3) + 1j * r(3)], [], None),
    ("e_linspace_grad", C.e_linspace_grad, [np.array([1.3, 0.4])], [], None),
    ("e_matrix_scalar_loop", C.e_matrix_scalar_loop, [r(3, 3)], [], None),
    # structures
    ("module_loss", C.module_loss, [r(3, 4), r(4), r(4, 2), r(2)], [r(5, 3), r(5, 2)], None),
    ("sequential_loss", C.sequential_loss, [r(3, 2)], [r(4, 3)], None),
    ("stax_loss", C.stax_loss, [[(r(3, 4), r(4)), (), (r(4, 2), r(2))]], [r(5, 3)], None),
    ("functools_reduce", C.functools_reduce, [r(3)], [], None),
    ("map_filter", C.map_filter, [np.array([0.5, -0.2, 0.9, 0.05])], [], None),
    ("recursion_use", C.recursion_use, [r(3)], [], None),
    ("try_except", C.try_except, [np.array([1.5, 0.7])], [], None),
    ("try_except_raise", C.try_except, [np.array([1.5, 11.0])], [], None),
    ("with_errstate", C.with_errstate, [np.array([0.2, 0.7, -1.2])], [], None),
    ("nonlocal_counter", C.nonlocal_counter, [r(3)], [], None),
    ("closures_in_loop", C.closures_in_loop, [r(2)], [], None),
    ("generator_sum", C.generator_sum, [r(4)], [], None),
    ("early_return_loop", C.early_return_loop, [np.array([0.5, 0.6, 0.9, 0.1])], [], None),
    ("while_break_value", C.while_break_value, [r(2)], [], None),
    ("string_format_keys", C.string_format_keys, [r(3)], [], None),
    ("assert_shape", C.assert_shape, [r(3)], [], None),
    ("enumerate_zip_dict", C.enumerate_zip_dict, [{"b": r(2), "a": r(3)}], [r(4)], None),
    ("dataclass_like_params", C.dataclass_like_params, [r(3)], [], None),
    ("list_inplace_ops", C.list_inplace_ops, [r(3)], [], None),
    ("dict_update_get", C.dict_update_get, [r(3)], [], None),
    ("array_item_assign_loop", C.array_item_assign_loop, [r(4)], [], None),
    ("array_inplace_view", C.array_inplace_view, [r(4)], [], None),
    ("inplace_arg_write", C.inplace_arg_write, [r(4)], [], None),
    ("out_param", C.out_param, [r(4)], [], None),
    ("ternary_and_or", C.ternary_and_or, [np.array([0.5, -0.2, 0.9])], [], None),
    ("ternary_and_or_neg", C.ternary_and_or, [np.array([0.5, 0.8, -0.9])], [], None),
    ("builtin_math", C.builtin_math, [np.array([0.5, -0.2, 0.9])], [], None),
    ("float_conversion", C.float_conversion, [r(3)], [], None),
    ("numpy_scalar_types", C.numpy_scalar_types, [r(3)], [], None),
    ("sorted_by_value", C.sorted_by_value, [r(4)], [], None),
    ("min_max_builtins", C.min_max_builtins, [r(4)], [], None),
    ("abs_round_builtins", C.abs_round_builtins, [r(4)], [], None),
    ("pow_builtin", C.pow_builtin, [np.array([0.5, -0.2, 0.9])], [], None),
    ("divmod_floor", C.divmod_floor, [np.array([0.5, -0.2, 0.9])], [], None),
    ("global_state_rs", C.global_state_rs, [r(3)], [], None),
    ("np_random_seed", C.np_random_seed, [r(3)], [], None),
    ("randn_shape", C.randn_shape, [r(3)], [], None),
]
