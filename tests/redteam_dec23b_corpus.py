"""Red team B (Dec 23): programs from peer autodiff projects' examples and test suites, ported the
way a user ports them to sct (numpy instead of autograd.numpy, scipy instead of autograd.scipy,
dlgradient from sct).  Modelled on HIPS/autograd's examples (neural_net, rnn, lstm,
gaussian_process, variational_autoencoder, black_box_svi, bayesian_neural_net, gmm, hmm_em,
fluidsim, convnet, tanh, ...) and tests (test_graphs, test_wrappers, test_dict/list/tuple,
test_scalar_ops, test_binary_ops, test_logic, test_truediv), JAX's numpy examples (mnist from
scratch, MAML, kernel least squares, ADVI) and PyTorch's examples written with numpy (polynomial
regression, time-sequence LSTM cell, word language model, REINFORCE, VAE loss).  Written here, not
copied.  Each case is ``fn(*xs, *cs)``: the ``xs`` are differentiated, the ``cs`` are constants.
"""
from __future__ import annotations

import functools
import math
from collections import namedtuple
from functools import partial

import numpy as np
import numpy.random as npr
import scipy.special
import scipy.stats
from scipy.special import expit, gammaln, logsumexp
from scipy.stats import multivariate_normal as mvn
from scipy.stats import norm

from sct import dlgradient

R = np.random.RandomState(7)


def rn(*shape):
    return R.randn(*shape)


# ======================================================================= autograd examples
# --- neural_net.py ---------------------------------------------------------------------------
def nn_predict(params, inputs):
    for W, b in params:
        outputs = np.dot(inputs, W) + b
        inputs = np.tanh(outputs)
    return outputs - logsumexp(outputs, axis=1, keepdims=True)


def l2_norm(params):
    flattened = np.concatenate([np.ravel(p) for layer in params for p in layer])
    return np.dot(flattened, flattened)


def nn_log_posterior(params, inputs, targets, L2_reg=0.1):
    log_prior = -L2_reg * l2_norm(params)
    log_lik = np.sum(nn_predict(params, inputs) * targets)
    return log_prior + log_lik


def nn_objective_tuple_list(params, inputs, targets):
    return -nn_log_posterior(params, inputs, targets, 0.5)


# --- rnn.py / lstm.py ------------------------------------------------------------------------
def sigmoid_tanh(x):
    return 0.5 * (np.tanh(x) + 1.0)


def concat_and_multiply(weights, *args):
    cat_state = np.hstack(args + (np.ones((args[0].shape[0], 1)),))
    return np.dot(cat_state, weights)


def rnn_predict(params, inputs):
    def update_rnn(input, hiddens):
        return np.tanh(concat_and_multiply(params["change"], input, hiddens))

    def hiddens_to_output_probs(hiddens):
        output = concat_and_multiply(params["predict"], hiddens)
        return output - logsumexp(output, axis=1, keepdims=True)

    num_sequences = inputs.shape[1]
    hiddens = np.repeat(params["init hiddens"], num_sequences, axis=0)
    output = [hiddens_to_output_probs(hiddens)]
    for input in inputs:
        hiddens = update_rnn(input, hiddens)
        output.append(hiddens_to_output_probs(hiddens))
    return output


def rnn_log_likelihood(params, inputs, targets):
    logprobs = rnn_predict(params, inputs)
    loglik = 0.0
    num_time_steps, num_examples, _ = inputs.shape
    for t in range(num_time_steps):
        loglik += np.sum(logprobs[t] * targets[t])
    return loglik / (num_time_steps * num_examples)


def lstm_predict(params, inputs):
    def update_lstm(input, hiddens, cells):
        change = np.tanh(concat_and_multiply(params["change"], input, hiddens))
        forget = sigmoid_tanh(concat_and_multiply(params["forget"], input, hiddens))
        ingate = sigmoid_tanh(concat_and_multiply(params["ingate"], input, hiddens))
        outgate = sigmoid_tanh(concat_and_multiply(params["outgate"], input, hiddens))
        cells = cells * forget + ingate * change
        hiddens = outgate * np.tanh(cells)
        return hiddens, cells

    def hiddens_to_output_probs(hiddens):
        output = concat_and_multiply(params["predict"], hiddens)
        return output - logsumexp(output, axis=1, keepdims=True)

    num_sequences = inputs.shape[1]
    hiddens = np.repeat(params["init hiddens"], num_sequences, axis=0)
    cells = np.repeat(params["init cells"], num_sequences, axis=0)
    output = [hiddens_to_output_probs(hiddens)]
    for input in inputs:
        hiddens, cells = update_lstm(input, hiddens, cells)
        output.append(hiddens_to_output_probs(hiddens))
    return output


def lstm_log_likelihood(params, inputs, targets):
    logprobs = lstm_predict(params, inputs)
    loglik = 0.0
    num_time_steps, num_examples, _ = inputs.shape
    for t in range(num_time_steps):
        loglik += np.sum(logprobs[t] * targets[t])
    return loglik / (num_time_steps * num_examples)


def lstm_stacked_output(params, inputs, targets):
    # print_training_prediction's np.asarray of the list of outputs, differentiated
    logprobs = np.asarray(lstm_predict(params, inputs))
    return np.sum(logprobs[:-1] * targets)


# --- gaussian_process.py ---------------------------------------------------------------------
def make_gp_funs(cov_func, num_cov_params):
    def unpack_kernel_params(params):
        mean = params[0]
        cov_params = params[2:]
        noise_scale = np.exp(params[1]) + 0.0001
        return mean, cov_params, noise_scale

    def predict(params, x, y, xstar):
        mean, cov_params, noise_scale = unpack_kernel_params(params)
        cov_f_f = cov_func(cov_params, xstar, xstar)
        cov_y_f = cov_func(cov_params, x, xstar)
        cov_y_y = cov_func(cov_params, x, x) + noise_scale * np.eye(len(y))
        pred_mean = mean + np.dot(np.linalg.solve(cov_y_y, cov_y_f).T, y - mean)
        pred_cov = cov_f_f - np.dot(np.linalg.solve(cov_y_y, cov_y_f).T, cov_y_f)
        return pred_mean, pred_cov

    def log_marginal_likelihood(params, x, y):
        mean, cov_params, noise_scale = unpack_kernel_params(params)
        cov_y_y = cov_func(cov_params, x, x) + noise_scale * np.eye(len(y))
        prior_mean = mean * np.ones(len(y))
        return mvn.logpdf(y, prior_mean, cov_y_y)

    return num_cov_params + 2, predict, log_marginal_likelihood


def rbf_covariance(kernel_params, x, xp):
    output_scale = np.exp(kernel_params[0])
    lengthscales = np.exp(kernel_params[1:])
    diffs = np.expand_dims(x / lengthscales, 1) - np.expand_dims(xp / lengthscales, 0)
    return output_scale * np.exp(-0.5 * np.sum(diffs ** 2, axis=2))


_GP_N, gp_predict, gp_log_marginal_likelihood = make_gp_funs(rbf_covariance, num_cov_params=2)
GP_X = np.linspace(-2, 2, 7).reshape(7, 1)
GP_Y = np.cos(GP_X[:, 0]) / 2.0
gp_objective = lambda params: -gp_log_marginal_likelihood(params, GP_X, GP_Y)


def gp_predictive(params, xstar):
    pred_mean, pred_cov = gp_predict(params, GP_X, GP_Y, xstar)
    marg_std = np.sqrt(np.diag(pred_cov))
    return np.sum(pred_mean) + np.sum(marg_std)


# --- variational_autoencoder.py --------------------------------------------------------------
def diag_gaussian_log_density(x, mu, log_std):
    return np.sum(norm.logpdf(x, mu, np.exp(log_std)), axis=-1)


def unpack_gaussian_params(params):
    D = np.shape(params)[-1] // 2
    mean, log_std = params[:, :D], params[:, D:]
    return mean, log_std


def bernoulli_log_density(targets, unnormalized_logprobs):
    label_probabilities = -np.logaddexp(0, -unnormalized_logprobs * targets)
    return np.sum(label_probabilities, axis=-1)


def relu0(x):
    return np.maximum(0, x)


def batch_normalize(activations):
    mbmean = np.mean(activations, axis=0, keepdims=True)
    return (activations - mbmean) / (np.std(activations, axis=0, keepdims=True) + 1)


def bn_net_predict(params, inputs):
    for W, b in params[:-1]:
        outputs = batch_normalize(np.dot(inputs, W) + b)
        inputs = relu0(outputs)
    outW, outb = params[-1]
    outputs = np.dot(inputs, outW) + outb
    return outputs


def vae_lower_bound(gen_params, rec_params, data, eps):
    q_means, q_log_stds = unpack_gaussian_params(bn_net_predict(rec_params, data))
    latents = eps * np.exp(q_log_stds) + q_means
    q_latents = diag_gaussian_log_density(latents, q_means, q_log_stds)
    p_latents = diag_gaussian_log_density(latents, 0, 0)
    likelihood = bernoulli_log_density(data, bn_net_predict(gen_params, latents))
    return np.mean(p_latents + likelihood - q_latents)


def vae_objective(combined_params, data, eps):
    gen_params, rec_params = combined_params
    return -vae_lower_bound(gen_params, rec_params, data, eps) / 4


def vae_seeded(combined_params, data):
    # sample_diag_gaussian with a RandomState made in the function (the same draw every call)
    gen_params, rec_params = combined_params
    rs = npr.RandomState(0)
    q_means, q_log_stds = unpack_gaussian_params(bn_net_predict(rec_params, data))
    latents = rs.randn(*q_means.shape) * np.exp(q_log_stds) + q_means
    q_latents = diag_gaussian_log_density(latents, q_means, q_log_stds)
    p_latents = diag_gaussian_log_density(latents, 0, 0)
    likelihood = bernoulli_log_density(data, bn_net_predict(gen_params, latents))
    return -np.mean(p_latents + likelihood - q_latents)


# --- black_box_svi.py / bayesian_neural_net.py ----------------------------------------------
def black_box_variational_inference(logprob, D, num_samples):
    def unpack_params(params):
        mean, log_std = params[:D], params[D:]
        return mean, log_std

    def gaussian_entropy(log_std):
        return 0.5 * D * (1.0 + np.log(2 * np.pi)) + np.sum(log_std)

    def variational_objective(params, t):
        rs = npr.RandomState(t)
        mean, log_std = unpack_params(params)
        samples = rs.randn(num_samples, D) * np.exp(log_std) + mean
        lower_bound = gaussian_entropy(log_std) + np.mean(logprob(samples, t))
        return -lower_bound

    return variational_objective, unpack_params


def bbsvi_log_posterior(x, t):
    mu, log_sigma = x[:, 0], x[:, 1]
    prior = norm.logpdf(log_sigma, 0, 1.35)
    likelihood = norm.logpdf(mu, 0, np.exp(log_sigma))
    return prior + likelihood


bbsvi_objective, bbsvi_unpack = black_box_variational_inference(bbsvi_log_posterior, 2, 50)


def make_bnn_funs(layer_sizes, L2_reg, noise_variance, nonlinearity=np.tanh):
    shapes = list(zip(layer_sizes[:-1], layer_sizes[1:]))
    num_weights = sum((m + 1) * n for m, n in shapes)

    def unpack_layers(weights):
        num_weight_sets = len(weights)
        for m, n in shapes:
            yield weights[:, :m * n].reshape((num_weight_sets, m, n)), \
                weights[:, m * n:m * n + n].reshape((num_weight_sets, 1, n))
            weights = weights[:, (m + 1) * n:]

    def predictions(weights, inputs):
        inputs = np.expand_dims(inputs, 0)
        for W, b in unpack_layers(weights):
            outputs = np.einsum('mnd,mdo->mno', inputs, W) + b
            inputs = nonlinearity(outputs)
        return outputs

    def logprob(weights, inputs, targets):
        log_prior = -L2_reg * np.sum(weights ** 2, axis=1)
        preds = predictions(weights, inputs)
        log_lik = -np.sum((preds - targets) ** 2, axis=1)[:, 0] / noise_variance
        return log_prior + log_lik

    return num_weights, predictions, logprob


BNN_IN = np.linspace(-1, 1, 6).reshape(6, 1)
BNN_T = np.cos(3 * BNN_IN)
bnn_num_weights, bnn_predictions, bnn_logprob = make_bnn_funs([1, 4, 1], 0.01, 0.5,
                                                              nonlinearity=lambda x: norm.pdf(x, 0, 1))


def bnn_logprob_sum(weights):
    return np.sum(bnn_logprob(weights, BNN_IN, BNN_T))


bnn_log_posterior = lambda weights, t: bnn_logprob(weights, BNN_IN, BNN_T)
bnn_svi_objective, _ = black_box_variational_inference(bnn_log_posterior, bnn_num_weights, 3)


# --- gmm.py ----------------------------------------------------------------------------------
def log_normalize(x):
    return x - logsumexp(x)


def unpack_gmm_params(params):
    normalized_log_proportions = log_normalize(params["log proportions"])
    return normalized_log_proportions, params["means"], params["lower triangles"]


def gmm_log_likelihood(params, data):
    cluster_lls = []
    for log_proportion, mean, cov_sqrt in zip(*unpack_gmm_params(params)):
        cov = np.dot(cov_sqrt.T, cov_sqrt)
        cluster_lls.append(log_proportion + mvn.logpdf(data, mean, cov))
    return np.sum(logsumexp(np.vstack(cluster_lls), axis=0))


# --- hmm_em.py -------------------------------------------------------------------------------
def log_partition_function(natural_params, data):
    if isinstance(data, list):
        return sum(map(partial(log_partition_function, natural_params), data))
    log_pi, log_A, log_B = natural_params
    log_alpha = log_pi
    for y in data:
        log_alpha = logsumexp(log_alpha[:, None] + log_A, axis=0) + log_B[:, y]
    return logsumexp(log_alpha)


def hmm_from_probs(params, data):
    natural_params = list(map(np.log, params))
    return log_partition_function(natural_params, data)


def hmm_normalize(a):
    def replace_zeros(a):
        return np.where(a > 0., a, 1.)
    return a / replace_zeros(a.sum(-1, keepdims=True))


def hmm_normalized_loglike(params, data):
    pi, A, B = map(hmm_normalize, params)
    return log_partition_function([np.log(pi), np.log(A), np.log(B)], data)


# --- fluidsim.py -----------------------------------------------------------------------------
def project(vx, vy):
    p = np.zeros(vx.shape)
    h = 1.0 / vx.shape[0]
    div = -0.5 * h * (np.roll(vx, -1, axis=0) - np.roll(vx, 1, axis=0)
                      + np.roll(vy, -1, axis=1) - np.roll(vy, 1, axis=1))
    for k in range(10):
        p = (div + np.roll(p, 1, axis=0) + np.roll(p, -1, axis=0)
             + np.roll(p, 1, axis=1) + np.roll(p, -1, axis=1)) / 4.0
    vx -= 0.5 * (np.roll(p, -1, axis=0) - np.roll(p, 1, axis=0)) / h
    vy -= 0.5 * (np.roll(p, -1, axis=1) - np.roll(p, 1, axis=1)) / h
    return vx, vy


def advect(f, vx, vy):
    rows, cols = f.shape
    cell_ys, cell_xs = np.meshgrid(np.arange(rows), np.arange(cols))
    center_xs = (cell_xs - vx).ravel()
    center_ys = (cell_ys - vy).ravel()
    left_ix = np.floor(center_xs).astype(int)
    top_ix = np.floor(center_ys).astype(int)
    rw = center_xs - left_ix
    bw = center_ys - top_ix
    left_ix = np.mod(left_ix, rows)
    right_ix = np.mod(left_ix + 1, rows)
    top_ix = np.mod(top_ix, cols)
    bot_ix = np.mod(top_ix + 1, cols)
    flat_f = (1 - rw) * ((1 - bw) * f[left_ix, top_ix] + bw * f[left_ix, bot_ix]) \
        + rw * ((1 - bw) * f[right_ix, top_ix] + bw * f[right_ix, bot_ix])
    return np.reshape(flat_f, (rows, cols))


def simulate(vx, vy, smoke, num_time_steps):
    for t in range(num_time_steps):
        vx_updated = advect(vx, vx, vy)
        vy_updated = advect(vy, vx, vy)
        vx, vy = project(vx_updated, vy_updated)
        smoke = advect(smoke, vx, vy)
    return smoke


FLUID_SMOKE = np.outer(np.hanning(5), np.hanning(5))
FLUID_TARGET = np.roll(FLUID_SMOKE, 1, axis=0)


def fluid_objective(params):
    rows, cols = FLUID_SMOKE.shape
    init_vx = np.reshape(params[:(rows * cols)], (rows, cols))
    init_vy = np.reshape(params[(rows * cols):], (rows, cols))
    final_smoke = simulate(init_vx, init_vy, FLUID_SMOKE, 2)
    return np.mean((FLUID_TARGET - final_smoke) ** 2)


# --- convnet.py (WeightsParser, layer classes) -----------------------------------------------
class WeightsParser(object):
    def __init__(self):
        self.idxs_and_shapes = {}
        self.N = 0

    def add_weights(self, name, shape):
        start = self.N
        self.N += int(np.prod(shape))
        self.idxs_and_shapes[name] = (slice(start, self.N), shape)

    def get(self, vect, name):
        idxs, shape = self.idxs_and_shapes[name]
        return np.reshape(vect[idxs], shape)


def cn_logsumexp(X, axis, keepdims=False):
    max_X = np.max(X)
    return max_X + np.log(np.sum(np.exp(X - max_X), axis=axis, keepdims=keepdims))


def conv_valid(inputs, params):
    # inputs [data, cin, y, x], params [cin, cout, ky, kx] -> [data, cout, y', x'] (correlation
    # with a flipped kernel, as scipy's convolve does)
    kh, kw = params.shape[2], params.shape[3]
    oh = inputs.shape[2] - kh + 1
    ow = inputs.shape[3] - kw + 1
    out = 0.0
    for i in range(kh):
        for j in range(kw):
            patch = inputs[:, :, i:i + oh, j:j + ow]
            out = out + np.einsum('ncyx,co->noyx', patch, params[:, :, kh - 1 - i, kw - 1 - j])
    return out


class conv_layer(object):
    def __init__(self, kernel_shape, num_filters):
        self.kernel_shape = kernel_shape
        self.num_filters = num_filters

    def forward_pass(self, inputs, param_vector):
        params = self.parser.get(param_vector, 'params')
        biases = self.parser.get(param_vector, 'biases')
        conv = conv_valid(inputs, params)
        return conv + biases

    def build_weights_dict(self, input_shape):
        self.parser = WeightsParser()
        self.parser.add_weights('params', (input_shape[0], self.num_filters) + self.kernel_shape)
        self.parser.add_weights('biases', (1, self.num_filters, 1, 1))
        output_shape = (self.num_filters,) + (input_shape[1] - self.kernel_shape[0] + 1,
                                              input_shape[2] - self.kernel_shape[1] + 1)
        return self.parser.N, output_shape


class maxpool_layer(object):
    def __init__(self, pool_shape):
        self.pool_shape = pool_shape

    def build_weights_dict(self, input_shape):
        output_shape = list(input_shape)
        for i in [0, 1]:
            output_shape[i + 1] = input_shape[i + 1] // self.pool_shape[i]
        return 0, tuple(output_shape)

    def forward_pass(self, inputs, param_vector):
        new_shape = inputs.shape[:2]
        for i in [0, 1]:
            pool_width = self.pool_shape[i]
            img_width = inputs.shape[i + 2]
            new_shape += (img_width // pool_width, pool_width)
        result = inputs.reshape(new_shape)
        return np.max(np.max(result, axis=3), axis=4)


class full_layer(object):
    def __init__(self, size):
        self.size = size

    def build_weights_dict(self, input_shape):
        input_size = int(np.prod(input_shape, dtype=int))
        self.parser = WeightsParser()
        self.parser.add_weights('params', (input_size, self.size))
        self.parser.add_weights('biases', (self.size,))
        return self.parser.N, (self.size,)

    def forward_pass(self, inputs, param_vector):
        params = self.parser.get(param_vector, 'params')
        biases = self.parser.get(param_vector, 'biases')
        if inputs.ndim > 2:
            inputs = inputs.reshape((inputs.shape[0], int(np.prod(inputs.shape[1:]))))
        return self.nonlinearity(np.dot(inputs[:, :], params) + biases)


class tanh_layer(full_layer):
    def nonlinearity(self, x):
        return np.tanh(x)


class softmax_layer(full_layer):
    def nonlinearity(self, x):
        return x - cn_logsumexp(x, axis=1, keepdims=True)


def make_cnn_funs(input_shape, layer_specs, L2_reg):
    parser = WeightsParser()
    cur_shape = input_shape
    for layer in layer_specs:
        N_weights, cur_shape = layer.build_weights_dict(cur_shape)
        parser.add_weights(layer, (N_weights,))

    def predictions(W_vect, inputs):
        cur_units = inputs
        for layer in layer_specs:
            cur_weights = parser.get(W_vect, layer)
            cur_units = layer.forward_pass(cur_units, cur_weights)
        return cur_units

    def loss(W_vect, X, T):
        log_prior = -L2_reg * np.dot(W_vect, W_vect)
        log_lik = np.sum(predictions(W_vect, X) * T)
        return -log_prior - log_lik

    return parser.N, predictions, loss


CNN_N, cnn_predictions, cnn_loss = make_cnn_funs(
    (1, 6, 6), [conv_layer((3, 3), 2), maxpool_layer((2, 2)), tanh_layer(5), softmax_layer(3)], 0.1)
CNN_X = R.randn(2, 1, 6, 6)
CNN_T = np.eye(3)[[0, 2]]


# --- tanh.py / sinusoid.py (elementwise grads of grads) ---------------------------------------
def tanh_by_exp(x):
    return (1.0 - np.exp(-x)) / (1.0 + np.exp(-x))


def egrad_tanh(x):
    y = np.sum(tanh_by_exp(x))
    return dlgradient(y, x)


def tanh_second(x):
    g = egrad_tanh(x)
    return np.sum(g * g) + np.sum(dlgradient(np.sum(g), x))


def taylor_sine(x):
    ans = currterm = x
    i = 0
    while np.abs(currterm) > 0.001:
        currterm = -currterm * x ** 2 / ((2 * i + 3) * (2 * i + 2))
        ans = ans + currterm
        i += 1
    return ans


# --- logistic_regression.py / negative_binomial / ica / rkhs --------------------------------
def lr_sigmoid(x):
    return 0.5 * (np.tanh(x / 2.) + 1)


def logistic_predictions(weights, inputs):
    return lr_sigmoid(np.dot(inputs, weights))


LR_IN = np.array([[0.52, 1.12, 0.77], [0.88, -1.08, 0.15], [0.52, 0.06, -1.30], [0.74, -2.49, 1.39]])
LR_T = np.array([True, True, False, True])


def logistic_training_loss(weights):
    preds = logistic_predictions(weights, LR_IN)
    label_probabilities = preds * LR_T + (1 - preds) * (1 - LR_T)
    return -np.sum(np.log(label_probabilities))


def negbin_loglike(r, p, x):
    return gammaln(r + x) - gammaln(r) - gammaln(x + 1) + x * np.log(p) + r * np.log(1 - p)


def negbin_objective(params):
    x = np.array([1., 3., 0., 7., 2.])
    log_r, logit_p = params[0], params[1]
    r = np.exp(log_r)
    p = expit(logit_p)
    return -np.sum(negbin_loglike(r, p, x))


def ica_objective(weights):
    # ica.py: t-distributed sources, linear mixing, a log-likelihood of the data
    data = np.array([[0.3, -1.2, 0.8], [1.1, 0.2, -0.5], [-0.7, 0.9, 0.4], [0.5, 0.1, 1.3]])
    W = np.reshape(weights, (3, 3))
    latents = np.dot(data, W.T)
    return -np.sum(scipy.stats.t.logpdf(latents, 2.4)) - data.shape[0] * np.linalg.slogdet(W)[1]


def rkhs_eval(alphas, xs_train, x):
    # rkhs.py: a function represented by kernel weights at training points
    k = np.exp(-0.5 * (x[:, None] - xs_train[None, :]) ** 2)
    return np.dot(k, alphas)


def rkhs_loss(alphas):
    xs_train = np.linspace(-1, 1, 5)
    ys = np.sin(3 * xs_train)
    preds = rkhs_eval(alphas, xs_train, xs_train)
    return np.sum((preds - ys) ** 2) + 0.1 * np.dot(alphas, alphas)


# --- ode_net.py (an Euler/RK integrator of a small net) --------------------------------------
def ode_nn(params, y, t):
    W1, b1, W2, b2 = params
    h = np.tanh(np.dot(np.concatenate([y, [t]]), W1) + b1)
    return np.dot(h, W2) + b2


def ode_rk4(params, y0):
    ts = np.linspace(0.0, 1.0, 5)
    y = y0
    for i in range(len(ts) - 1):
        dt = ts[i + 1] - ts[i]
        t = ts[i]
        k1 = ode_nn(params, y, t)
        k2 = ode_nn(params, y + dt * k1 / 2, t + dt / 2)
        k3 = ode_nn(params, y + dt * k2 / 2, t + dt / 2)
        k4 = ode_nn(params, y + dt * k3, t + dt)
        y = y + dt / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
    return np.sum((y - np.array([0.5, -0.3])) ** 2)


# --- define_gradient.py, fixed_points.py -----------------------------------------------------
def my_logsumexp(x):
    max_x = np.max(x)
    return max_x + np.log(np.sum(np.exp(x - max_x)))


def example_logsumexp_fun(x):
    return my_logsumexp(np.sin(x))


def newton_sqrt_iter(a):
    x = 1.0
    for _ in range(20):
        x = 0.5 * (x + a / x)
    return x


def fixed_point_sqrt(a):
    def f(a, x):
        return 0.5 * (x + a / x)

    x = np.ones_like(a)
    x_prev = x + 1
    while np.max(np.abs(x - x_prev)) > 1e-12:
        x_prev = x
        x = f(a, x)
    return np.sum(x)


# --- optimizers.py: adam as a user writes it, differentiated through (hypergradients) --------
def sgd_unrolled(init, lr):
    def loss(w):
        return np.sum((w - np.array([1.0, -2.0, 0.5])) ** 2 * np.array([1.0, 3.0, 0.5]))

    w = init
    v = np.zeros_like(w)
    for i in range(5):
        g = 2 * (w - np.array([1.0, -2.0, 0.5])) * np.array([1.0, 3.0, 0.5])
        v = 0.9 * v - (1.0 - 0.9) * g
        w = w + lr * v
    return loss(w)


def adam_unrolled(x0):
    def grad_fn(x):
        return np.cos(x) * 2 + x

    b1, b2, eps, step_size = 0.9, 0.999, 10 ** -8, 0.1
    x = x0
    m = np.zeros(len(x))
    v = np.zeros(len(x))
    for i in range(4):
        g = grad_fn(x)
        m = (1 - b1) * g + b1 * m
        v = (1 - b2) * (g ** 2) + b2 * v
        mhat = m / (1 - b1 ** (i + 1))
        vhat = v / (1 - b2 ** (i + 1))
        x = x - step_size * mhat / (np.sqrt(vhat) + eps)
    return np.sum(np.sin(x))


# --- deep_gaussian_process.py / gplvm.py ------------------------------------------------------
def gplvm_objective(latents):
    Y = np.array([[0.1, 0.5], [0.4, -0.2], [-0.3, 0.8], [0.9, 0.3]])
    X = np.reshape(latents, (4, 1))
    K = rbf_covariance(np.array([0.1, 0.0]), X, X) + 0.1 * np.eye(4)
    ll = 0.0
    for d in range(Y.shape[1]):
        ll = ll + mvn.logpdf(Y[:, d], np.zeros(4), K)
    prior = np.sum(norm.logpdf(latents))
    return -(ll + prior)


# --- mixture_variational_inference.py (log of a mixture with logsumexp weights) -------------
def mixture_log_density(x, params):
    means, log_stds, log_weights = params
    log_weights = log_weights - logsumexp(log_weights)
    comps = [log_weights[k] + np.sum(norm.logpdf(x, means[k], np.exp(log_stds[k])), axis=-1)
             for k in range(len(means))]
    return logsumexp(np.array(comps), axis=0)


def mixture_objective(params, xs):
    return -np.mean(mixture_log_density(xs, params))


# --- generative_adversarial_net.py -----------------------------------------------------------
def gan_net(params, inputs):
    inpts = inputs
    for W, b in params:
        outputs = np.dot(inpts, W) + b
        inpts = np.maximum(0.0, outputs) * 1.0 + 0.01 * np.minimum(0.0, outputs)
    return outputs


def gan_objective(gen_params, dsc_params, noise, real):
    fake_data = gan_net(gen_params, noise)
    logprobs_fake = -np.logaddexp(0, -gan_net(dsc_params, fake_data))
    logprobs_real = -np.logaddexp(0, -gan_net(dsc_params, real))
    return np.mean(logprobs_real) - np.mean(logprobs_fake)


# ======================================================================= autograd tests
def g_fanout(x):
    return np.sin(np.sin(x) + np.sin(x))


def g_fanout_grad(x):
    y = g_fanout(x)
    return dlgradient(y, x)


def g_hess_vector(x, v):
    randv = np.linspace(-1, 1, x.shape[0])

    def fun(x):
        return np.sin(np.dot(x, randv))
    y = fun(x)
    g = dlgradient(y, x)
    return np.sin(np.dot(v, g))


def g_enclosing_scope(x):
    y = dlgradient(x * x, x)
    return x * y


def g_mutating_outgrad(a):
    b = a + 1.0
    c = b + 1.5
    d = a + b
    e = d + c
    return np.sum(e)


def g_mutating_outgrad_index(a):
    b = a + 1.0
    c = b[0] + 1.5
    d = a + b
    e = d + c
    return np.sum(e)


def g_complex_mutating(a):
    b = a + 1.0j
    c = b[0] + 1.5
    d = a + b
    e = d + c
    return np.sum(np.real(e * np.conj(e)))


def g_sep_real_imag(a):
    r, i = np.real(a), np.imag(a)
    a = np.abs(r) ** 1.4 + np.abs(i) ** 1.3
    return np.sum(a)


def g_third_derivative(x):
    y = np.sin(np.sin(x) + np.sin(x))
    g = dlgradient(y, x)
    h = dlgradient(g, x)
    return h


def g_singleton_keepdims(x):
    return np.sum(np.sum(np.sin(x), keepdims=True))


def g_singleton_axis0(x):
    return np.sum(np.sum(np.sin(x), axis=0, keepdims=True))


def g_singleton_grad(x):
    y = np.sum(np.sum(np.sin(x), axis=1, keepdims=True))
    return np.sum(dlgradient(y, x) ** 2)


# test_wrappers.py: hessian-vector products, grad_named, value_and_grad, multigrad, checkpoint
def w_hessian_tensor_product(a, v):
    fun = lambda a: np.sum(np.sin(a) * np.cos(a[::-1])) ** 2
    g = dlgradient(fun(a), a)
    return np.sum(g * v)


def w_tensor_jacobian_product(a, v):
    fun = lambda a: np.roll(np.sin(a), 1)
    return np.sum(fun(a) * v)


def w_grad_and_aux(x):
    aux = np.cos(x) * 2
    y = np.sum(np.sin(x) * aux)
    return y


def w_kwargs_fun(x, y=2.0):
    return np.sum(np.sin(x) * y + x ** 2)


def w_kwargs(x):
    return w_kwargs_fun(x, y=3.0) + w_kwargs_fun(x)


def w_checkpoint_like(x):
    def inner(x):
        for _ in range(3):
            x = np.sin(x) + x ** 2 * 0.1
        return x
    return np.sum(inner(inner(x)))


# test_dict.py / test_list.py / test_tuple.py
def d_getter(d):
    return d["item_1"] ** 2 + np.sum(d["item_2"] * 3) + np.sum(np.sin(d["item_3"]))


def d_iter(d):
    r = 0.0
    for k in d:
        r = r + np.sum(np.exp(d[k]) * len(k))
    return r


def d_items_values(d):
    r = 0.0
    for k, v in d.items():
        r = r + np.sum(v ** 2)
    for v in d.values():
        r = r + np.sum(np.sin(v))
    return r


def d_make_dict(x):
    d = dict(a=x, b=x ** 2, c=np.sin(x))
    d2 = {k: v * 2 for k, v in d.items()}
    return np.sum(d2["a"] * d2["b"]) + np.sum(sorted(d2.keys()) == ["a", "b", "c"]) * np.sum(d2["c"])


def d_isinstance(x):
    d = {"a": x, "b": [x, x * 2]}
    r = 0.0
    for k in d:
        if isinstance(d[k], list):
            r = r + np.sum(d[k][1])
        else:
            r = r + np.sum(np.cos(d[k]))
    return r


def l_getter(lst):
    return lst[0] ** 2 + np.sum(lst[1] * 3) + np.sum(np.sin(lst[2]))


def l_slices(x):
    lst = [x, np.sin(x), x ** 2, np.cos(x)]
    acc = lst[1:3]
    r = lst[::-1][0]
    return np.sum(acc[0] * acc[1]) + np.sum(r)


def l_comprehension(x):
    lst = [x[i] * i for i in range(len(x))]
    return sum(lst) + np.sum(np.array(lst) ** 2)


def l_isinstance_list(x):
    lst = [x, np.sin(x)]
    if isinstance(lst, list) and isinstance(lst[0], np.ndarray):
        return np.sum(lst[0] * lst[1])
    return np.sum(x)


def t_getter(tup):
    return tup[0] ** 2 + np.sum(tup[1] * 3) + np.sum(np.sin(tup[2]))


def t_make_tuple(x):
    t = tuple(x[i] ** (i + 1) for i in range(3))
    a, b, c = t
    return a * b + c + sum(t)


def t_namedtuple(x):
    Point = namedtuple("Point", ["x", "y"])
    p = Point(x=x[0] * 2, y=x[1])
    q = p._replace(y=p.y * 3)
    return q.x * q.y + p.y


# test_builtins.py / test_truediv.py / test_logic.py / test_binary_ops.py / test_scalar_ops.py
def b_isinstance_float(x):
    y = x[0] * 2
    if isinstance(y, float):
        return y * 3
    return y * x[1]


def b_truediv(x, y):
    return np.sum(x / y) + np.sum(np.true_divide(x, y)) + np.sum(x.__truediv__(y))


def b_logic(x):
    mask = np.logical_and(x > -0.5, np.logical_not(x > 1.0))
    return np.sum(np.where(mask, x ** 2, np.sin(x))) + np.sum(np.logical_or(x > 0, x < -2) * x)


def b_comparisons(x, y):
    r = np.sum(np.where(x > y, x, y)) + np.sum(np.where(x >= y, x * y, 0.0))
    r = r + np.sum((x == x) * x) + np.sum((x != y) * y)
    return r


def b_mod(x, y):
    return np.sum(np.mod(x, y)) + np.sum(x % 1.7) + np.sum(np.fmod(x, y))


def b_pow(x, y):
    return np.sum(np.power(x, y)) + np.sum(x ** 2.5) + np.sum(2.0 ** x)


def b_arctan2_hypot(x, y):
    return np.sum(np.arctan2(x, y)) + np.sum(np.hypot(x, y))


def b_minmax(x, y):
    return np.sum(np.maximum(x, y) * np.minimum(x, y)) + np.sum(np.fmax(x, y)) + np.sum(np.fmin(x, y))


def b_logaddexp(x, y):
    return np.sum(np.logaddexp(x, y)) + np.sum(np.logaddexp2(x, y))


def s_unary(x):
    return (np.sum(np.log2(x)) + np.sum(np.log10(x)) + np.sum(np.log1p(x)) + np.sum(np.expm1(x))
            + np.sum(np.exp2(x)) + np.sum(np.rad2deg(x)) + np.sum(np.deg2rad(x)) + np.sum(np.degrees(x))
            + np.sum(np.radians(x)) + np.sum(np.sinc(x)) + np.sum(np.square(x)) + np.sum(np.reciprocal(x))
            + np.sum(np.cbrt(x)) + np.sum(np.negative(x)) + np.sum(np.positive(x)))


def s_unary_trig(x):
    return (np.sum(np.arcsin(x)) + np.sum(np.arccos(x)) + np.sum(np.arctan(x)) + np.sum(np.arcsinh(x))
            + np.sum(np.arctanh(x)) + np.sum(np.sinh(x)) + np.sum(np.cosh(x)) + np.sum(np.tan(x)))


def s_special(x):
    return (np.sum(scipy.special.erf(x)) + np.sum(scipy.special.erfc(x)) + np.sum(expit(x))
            + np.sum(scipy.special.logit(expit(x))) + np.sum(scipy.special.gammaln(x + 2))
            + np.sum(scipy.special.digamma(x + 2)) + np.sum(scipy.special.log_softmax(x))
            + np.sum(scipy.special.softmax(x) * x))


def s_special2(x):
    return np.sum(scipy.special.xlogy(x + 2, x + 3)) + np.sum(scipy.special.xlog1py(x + 2, x + 1.5)) \
        + np.sum(scipy.special.entr(x + 2)) + np.sum(scipy.special.log1p(x + 1)) \
        + np.sum(scipy.special.i0(x)) + np.sum(scipy.special.gamma(x + 2))


def s_stats(x):
    return (np.sum(norm.cdf(x)) + np.sum(norm.logcdf(x)) + np.sum(norm.pdf(x, 0.5, 2.0))
            + np.sum(norm.sf(x)) + np.sum(scipy.stats.t.logpdf(x, 3.0))
            + np.sum(scipy.stats.gamma.logpdf(x + 3, 2.0)) + np.sum(scipy.stats.beta.logpdf(0.3, x + 3, 2.0)))


def s_stats_unsupported(x):
    return np.sum(scipy.stats.chi2.pdf(x ** 2 + 1.1, 3))


def s_special_unsupported(x):
    return np.sum(scipy.special.polygamma(1, x ** 2 + 1.3))


def s_special_beta(x):
    return np.sum(scipy.special.beta(x ** 2 + 1.1, 2.0)) + np.sum(scipy.special.betaln(x ** 2 + 1.1, 2.0))


def s_logsumexp_b(x):
    b = np.exp(np.array([0.3, -0.2, 0.1, 0.5]))
    return logsumexp(x, b=b) + np.sum(logsumexp(x.reshape(2, 2), axis=0, keepdims=True))


def s_logsumexp_return_sign(x):
    v, s = logsumexp(x, b=np.array([1.0, -0.5, 2.0, 0.7]), return_sign=True)
    return v * s


def s_mvn_entropy(A):
    cov = np.dot(A.T, A) + np.eye(3)
    return mvn.entropy(np.zeros(3), cov)


def s_mvn_pdf_broadcast(x, mean, L):
    cov = np.dot(L, L.T) + np.eye(3)
    return np.sum(mvn.pdf(x, mean, cov))


def s_dirichlet(alpha):
    x = np.array([0.2, 0.3, 0.5])
    return scipy.stats.dirichlet.logpdf(x, alpha ** 2 + 1)


def s_norm_ppf(x):
    return np.sum(norm.ppf(expit(x), 0.3, 1.5))


# ======================================================================= JAX examples (numpy)
def jax_relu(x):
    return np.maximum(0, x)


def jax_predict(params, inputs):
    activations = inputs
    for w, b in params[:-1]:
        outputs = np.dot(activations, w) + b
        activations = jax_relu(outputs)
    final_w, final_b = params[-1]
    logits = np.dot(activations, final_w) + final_b
    return logits - logsumexp(logits, axis=1, keepdims=True)


def jax_loss(params, batch):
    inputs, targets = batch
    preds = jax_predict(params, inputs)
    return -np.mean(np.sum(preds * targets, axis=1))


def jax_accuracy_branch(params, inputs, targets):
    target_class = np.argmax(targets, axis=1)
    predicted_class = np.argmax(jax_predict(params, inputs), axis=1)
    acc = np.mean(predicted_class == target_class)
    return jax_loss(params, (inputs, targets)) * (1.0 + acc)


def maml_net(params, x):
    (w1, b1), (w2, b2) = params
    h = np.tanh(np.dot(x, w1) + b1)
    return np.dot(h, w2) + b2


def maml_loss(params, x, y):
    return np.mean((maml_net(params, x) - y) ** 2)


def maml_inner(params, x, y, alpha=0.1):
    loss = maml_loss(params, x, y)
    grads = dlgradient(loss, params)
    return [(w - alpha * gw, b - alpha * gb) for (w, b), (gw, gb) in zip(params, grads)]


def maml_objective(params, x1, y1, x2, y2):
    p2 = maml_inner(params, x1, y1)
    return maml_loss(p2, x2, y2)


def kernel_lsq(w):
    # kernel_lsq.py: a gram matrix built with broadcasting (vmap in jax)
    X = np.linspace(-1, 1, 8).reshape(4, 2)
    y = np.array([0.3, -0.1, 0.7, 0.2])
    K = np.exp(-np.sum((X[:, None, :] - X[None, :, :]) ** 2, axis=-1))
    pred = np.dot(K, w)
    return 0.5 * np.sum((pred - y) ** 2) + 0.05 * np.dot(w, np.dot(K, w))


def advi_elbo(params, eps):
    mean, log_std = params
    samples = mean + np.exp(log_std) * eps

    def logprob(z):
        return -0.5 * np.sum(z ** 2, axis=-1) - 0.1 * np.sum(z ** 4, axis=-1)
    return -(np.mean(logprob(samples)) + np.sum(log_std))


def dp_sgd_clipped(params, xs, ys):
    # differentially_private_sgd.py: per-example gradients clipped to norm 1, averaged
    total = 0.0
    clipped = []
    for i in range(xs.shape[0]):
        li = np.sum((np.dot(xs[i], params) - ys[i]) ** 2)
        gi = dlgradient(li, params)
        nrm = np.sqrt(np.sum(gi ** 2))
        clipped.append(gi / np.maximum(1.0, nrm))
        total = total + li
    g = np.mean(np.stack(clipped), axis=0)
    return total + np.sum(g * g)


# ======================================================================= PyTorch examples (numpy)
def poly_features(x):
    x = x[:, None]
    return np.concatenate([x ** i for i in range(1, 5)], 1)


def poly_regression(W, b):
    x = np.linspace(-1, 1, 6)
    y_target = 0.5 * x ** 3 - x + 0.3
    y = np.dot(poly_features(x), W) + b
    return np.mean((y - y_target) ** 2)


def lstm_cell(x, h, c, w_ih, w_hh, b):
    gates = np.dot(x, w_ih.T) + np.dot(h, w_hh.T) + b
    i, f, g, o = np.split(gates, 4, axis=1)
    i = expit(i)
    f = expit(f)
    g = np.tanh(g)
    o = expit(o)
    c = f * c + i * g
    h = o * np.tanh(c)
    return h, c


def time_sequence(params, inputs, future=2):
    w_ih, w_hh, b, w_out = params
    outputs = []
    h = np.zeros((inputs.shape[0], 3))
    c = np.zeros((inputs.shape[0], 3))
    for input_t in np.split(inputs, inputs.shape[1], axis=1):
        h, c = lstm_cell(input_t, h, c, w_ih, w_hh, b)
        output = np.dot(h, w_out)
        outputs += [output]
    for i in range(future):
        h, c = lstm_cell(output, h, c, w_ih, w_hh, b)
        output = np.dot(h, w_out)
        outputs += [output]
    outputs = np.concatenate(outputs, axis=1)
    return np.mean((outputs[:, :-future] - inputs) ** 2) + 0.1 * np.mean(outputs[:, -future:] ** 2)


def word_lm(params, tokens, targets):
    emb, w_xh, w_hh, w_out = params
    h = np.zeros(w_hh.shape[0])
    loss = 0.0
    for t in range(len(tokens)):
        x = emb[tokens[t]]
        h = np.tanh(np.dot(x, w_xh) + np.dot(h, w_hh))
        logits = np.dot(h, w_out)
        logp = logits - logsumexp(logits)
        loss -= logp[targets[t]]
    return loss / len(tokens)


def reinforce_loss(theta, states, actions, rewards, gamma=0.9):
    R_ = 0.0
    returns = []
    for r in rewards[::-1]:
        R_ = r + gamma * R_
        returns.insert(0, R_)
    returns = np.array(returns)
    returns = (returns - returns.mean()) / (returns.std() + 1e-8)
    policy_loss = []
    for s, a, Rt in zip(states, actions, returns):
        logits = np.dot(s, theta)
        log_prob = logits - logsumexp(logits)
        policy_loss.append(-log_prob[a] * Rt)
    return np.sum(np.array(policy_loss))


def torch_vae_loss(params, x, eps):
    w_enc, w_mu, w_lv, w_dec = params
    h = np.maximum(np.dot(x, w_enc), 0)
    mu = np.dot(h, w_mu)
    logvar = np.dot(h, w_lv)
    std = np.exp(0.5 * logvar)
    z = mu + eps * std
    recon = expit(np.dot(z, w_dec))
    bce = -np.sum(x * np.log(recon) + (1 - x) * np.log(1 - recon))
    kld = -0.5 * np.sum(1 + logvar - mu ** 2 - np.exp(logvar))
    return bce + kld


def contrastive_loss(w, x1, x2, label, margin=2.0):
    o1 = np.tanh(np.dot(x1, w))
    o2 = np.tanh(np.dot(x2, w))
    d = np.sqrt(np.sum((o1 - o2) ** 2, axis=1) + 1e-6)
    return np.mean((1 - label) * d ** 2 + label * np.clip(margin - d, 0.0, None) ** 2)


def actor_critic(theta, v_w, states, actions, rewards):
    values = np.dot(states, v_w)
    returns = np.cumsum(rewards[::-1])[::-1]
    advantage = returns - values
    logits = np.dot(states, theta)
    logp = logits - logsumexp(logits, axis=1, keepdims=True)
    chosen = logp[np.arange(len(actions)), actions]
    return -np.sum(chosen * advantage) + np.sum(advantage ** 2)


# ======================================================================= autograd test_linalg.py
def symmetrize(A):
    L = np.tril(A)
    return (L + np.swapaxes(L, -1, -2)) / 2.


def weigh(out, seed=0):
    """A fixed random projection of a result (autograd's check_grads projects the same way)."""
    rng = np.random.RandomState(seed)
    return np.sum(out * rng.randn(*np.shape(out)))


def la_inv(x):
    return weigh(np.linalg.inv(x))


def la_solve_a(a, B):
    return weigh(np.linalg.solve(a, B))


def la_solve_b(b, A):
    return weigh(np.linalg.solve(A, b))


def la_det(x):
    return np.sum(np.linalg.det(x))


def la_slogdet(x):
    sign, logdet = np.linalg.slogdet(x)
    return np.sum(logdet)


def la_slogdet_sign(x):
    sign, logdet = np.linalg.slogdet(x)
    return np.sum(sign * np.exp(logdet))


def la_norm(x):
    return np.linalg.norm(x)


def la_norm_axis01(x):
    return weigh(np.linalg.norm(x, axis=(0, 1)))


def la_norm_ord3(x):
    return np.linalg.norm(x, ord=3)


def la_norm_ord_inf(x):
    return np.linalg.norm(x, ord=np.inf) + np.linalg.norm(x, ord=1) + np.linalg.norm(x, ord=-np.inf)


def la_norm_axis1(x):
    return weigh(np.linalg.norm(x, axis=1))


def la_norm_nuc(x):
    return np.linalg.norm(x, ord='nuc')


def la_norm_nuc_axis(x):
    return weigh(np.linalg.norm(x, ord='nuc', axis=(0, 1)))


def la_norm_fro_keepdims(x):
    return weigh(np.linalg.norm(x, 'fro', axis=(1, 2), keepdims=True))


def la_norm_matrix2(x):
    return np.linalg.norm(x, 2) + np.linalg.norm(x, -2)


def la_eigh(x):
    w, v = np.linalg.eigh(symmetrize(x))
    return weigh(w, 1) + weigh(np.abs(v), 2)


def la_eigh_upper(x):
    w, v = np.linalg.eigh(symmetrize(x), 'U')
    return weigh(w, 1) + weigh(v * v, 2)


def la_eigh_broadcast(x):
    w, v = np.linalg.eigh(symmetrize(x))
    return weigh(w, 1) + weigh(v ** 2, 2)


def la_eigvalsh(x):
    return weigh(np.linalg.eigvalsh(symmetrize(x)))


def la_cholesky(x):
    return weigh(np.linalg.cholesky(symmetrize(x)))


def la_cholesky_reparam(A):
    rng = np.random.RandomState(0)
    z = np.dot(np.linalg.cholesky(symmetrize(A)), rng.randn(A.shape[0]))
    return np.linalg.norm(z)


def la_svd(x):
    u, s, v = np.linalg.svd(x, full_matrices=False)
    return weigh(s, 1) + weigh(u * u, 2) + weigh(v * v, 3)


def la_svd_s(x):
    return weigh(np.linalg.svd(x, full_matrices=False, compute_uv=False))


def la_svdvals_s(x):
    return weigh(np.linalg.svd(x, compute_uv=False))


def la_pinv(x):
    return weigh(np.linalg.pinv(x))


def la_matrix_power(x):
    return weigh(np.linalg.matrix_power(x, 3)) + weigh(np.linalg.matrix_power(x, -2), 1)


def la_qr(x):
    q, r = np.linalg.qr(x)
    return weigh(q, 1) + weigh(r, 2)


def la_lstsq(A, b):
    sol, res, rank, sv = np.linalg.lstsq(A, b, rcond=None)
    return weigh(sol)


def la_multi_dot(A, B):
    return weigh(np.linalg.multi_dot([A, B, A]))


def la_eig_real(x):
    w = np.linalg.eigvals(x)
    return np.sum(np.real(w) ** 2)


def la_tensorsolve(x):
    return weigh(np.linalg.tensorinv(x.reshape(2, 2, 4), ind=2))


def la_trace_kron(a, b):
    return np.trace(np.kron(a, b)) + weigh(np.kron(a, b))


# ======================================================================= edge points
def e_prod_zero(x):
    return np.prod(x)


def e_prod_axis_zero(x):
    return weigh(np.prod(x, axis=0))


def e_cumprod_zero(x):
    return weigh(np.cumprod(x))


def e_det_singular(x):
    return np.linalg.det(x)


def e_pow_zero(x):
    return np.sum(x ** 0) + np.sum(x ** 1) + np.sum(x ** 2.0) + np.sum(np.power(x, 3))


def e_pow_int_neg_base(x):
    return np.sum(x ** 3) + np.sum(x ** -2) + np.sum((-x) ** 2)


def e_sqrt_sq(x):
    return np.sum(np.sqrt(x ** 2 + 1e-3))


def e_abs_complex(z):
    return np.sum(np.abs(z)) + np.sum(np.angle(z))


def e_where_nan_safe(x):
    safe = np.where(x > 0, x, 1.0)
    return np.sum(np.where(x > 0, np.log(safe), 0.0))


def e_clip_bounds(x):
    return np.sum(np.clip(x, -0.5, 0.5) ** 2) + np.sum(np.clip(x, a_min=0.0, a_max=None))


def e_float32(x):
    y = x.astype(np.float32)
    return float(np.sum(y * y))


def e_int_cast(x):
    n = int(x[0] * 3)
    return np.sum(x[:n + 2] ** 2)


def e_round_floor(x):
    return np.sum(x * np.round(x)) + np.sum(np.floor(x) * x ** 2) + np.sum(np.ceil(x)) + np.sum(np.trunc(x) * x)


def e_sign_abs(x):
    return np.sum(np.sign(x) * x ** 2) + np.sum(np.abs(x) ** 3)


def e_nan_funcs(x):
    y = np.where(x > 0.5, np.nan, x)
    return np.nansum(y ** 2) + np.nanmean(y) + np.nanmax(y) + np.nanmin(y * 2) + np.nanprod(y + 2)


def e_average_weights(x):
    return np.average(x, weights=np.array([1., 2., 3., 4.])) + np.average(x.reshape(2, 2), axis=1)[0]


def e_cov_corr(X):
    return weigh(np.cov(X)) + weigh(np.corrcoef(X), 1) + weigh(np.cov(X, rowvar=False, ddof=0), 2)


def e_percentile(x):
    return np.percentile(x, 30) + np.median(x) + np.quantile(x, 0.75) + np.percentile(x, 50, method="lower")


def e_interp(x):
    xp = np.array([0., 0.3, 0.6, 1.0])
    fp = np.array([1.0, 2.0, 0.5, 3.0])
    return np.sum(np.interp(x, xp, fp)) + np.sum(np.interp(0.45, xp, x))


def e_diff_convolve(x):
    return weigh(np.diff(x)) + weigh(np.diff(x, n=2), 1) + weigh(np.convolve(x, np.array([1., -2., 0.5])), 2) \
        + weigh(np.correlate(x, np.array([0.3, 0.7]), mode="valid"), 3)


def e_polyval(c):
    return np.sum(np.polyval(c, np.linspace(-1, 1, 5))) + np.polyval(c, c[0])


def e_trapz(y):
    return np.trapezoid(y, dx=0.3) + np.trapezoid(y, x=np.array([0., 0.1, 0.5, 0.6]))


def e_cross_outer(a, b):
    return weigh(np.cross(a, b)) + weigh(np.outer(a, b), 1) + np.vdot(a, b)


def e_pad_modes(x):
    return (weigh(np.pad(x, 2, mode="reflect")) + weigh(np.pad(x, (1, 2), mode="edge"), 1)
            + weigh(np.pad(x, 1, mode="wrap"), 2) + weigh(np.pad(x, 1, constant_values=0.5), 3)
            + weigh(np.pad(x, 2, mode="symmetric"), 4))


def e_insert_delete(x):
    return weigh(np.insert(x, 1, x[0] * 2)) + weigh(np.delete(x, [0, 2]), 1) + weigh(np.append(x, x[:2]), 2)


def e_select_piecewise(x):
    s = np.select([x < -0.5, x > 0.5], [x ** 2, np.sin(x)], default=x * 3)
    p = np.piecewise(x, [x < 0, x >= 0], [lambda v: v ** 2, lambda v: v * 3])
    return weigh(s) + weigh(p, 1)


def e_take_along(X):
    idx = np.argsort(X, axis=1)
    return weigh(np.take_along_axis(X, idx, axis=1)) + weigh(np.take(X, [0, 2, 1], axis=1), 1)


def e_put_add_at(x):
    y = np.zeros(5)
    np.add.at(y, [0, 1, 1, 3], x)
    z = x.copy()
    np.put(z, [0, 2], [x[1] * 2, x[3]])
    return weigh(y) + weigh(z, 1)


def e_block_tile(a):
    B = np.block([[a, a * 2], [a ** 2, np.eye(2)]])
    return weigh(B) + weigh(np.tile(a, (2, 1)), 1) + weigh(np.repeat(a, [1, 2], axis=0), 2)


def e_flips(X):
    return weigh(np.rot90(X, 1)) + weigh(np.flip(X), 1) + weigh(np.fliplr(X), 2) + weigh(np.swapaxes(X, 0, 1), 3)


def e_sort_unique(x):
    return weigh(np.sort(x)) + weigh(np.sort(x)[::-1], 1) + np.sum(np.partition(x, 2)[:2])


def e_fft(x):
    F = np.fft.fft(x)
    return np.sum(np.abs(F) ** 2) + np.sum(np.real(np.fft.ifft(F * np.arange(4)))) + np.sum(np.fft.rfft(x).imag)


def e_vander_kron(x):
    return weigh(np.vander(x, 3)) + weigh(np.kron(x, np.array([1., -1.])), 1)


def e_heaviside_copysign(x):
    return np.sum(np.heaviside(x, 0.5) * x) + np.sum(np.copysign(x, -1.0)) + np.sum(np.ldexp(x, 2))


def e_einsum_variety(A, B):
    return (np.einsum('ij,jk->', A, B) + np.einsum('ii', A @ B) + weigh(np.einsum('ij->ji', A))
            + weigh(np.einsum('ij,ij->i', A, B.T), 1) + weigh(np.einsum('i,j->ij', A[0], B[:, 0]), 2)
            + np.einsum('ij,ij', A, A))


def e_tensordot_dot3(A, B):
    return weigh(np.tensordot(A, B, axes=([1, 2], [0, 1]))) + weigh(np.dot(A, B[:, :, 0].T), 1)


def e_matmul_batched(A, B):
    return weigh(A @ B) + weigh(np.matmul(A, B[0]), 1) + weigh(A[0] @ B[0] @ np.ones(2), 2)


def e_moveaxis_reshape_F(X):
    return weigh(np.moveaxis(X, 0, -1)) + weigh(X.reshape(-1, order="F"), 1) + weigh(np.ravel(X, order="F"), 2)


def e_stack_variants(a, b):
    return (weigh(np.vstack([a, b])) + weigh(np.hstack([a, b]), 1) + weigh(np.column_stack([a, b]), 2)
            + weigh(np.dstack([a, b]), 3) + weigh(np.stack([a, b], axis=1), 4) + weigh(np.r_[a, b], 5)
            + weigh(np.c_[a, b], 6) + weigh(np.concatenate([a[None], b[None]], axis=0), 7))


def e_split_variants(x):
    a, b = np.split(x, 2)
    c, d, e = np.array_split(x, 3)
    f, g = np.hsplit(x.reshape(2, 3), [1])
    return weigh(a * b) + weigh(c, 1) + weigh(e, 2) + weigh(f, 3) + weigh(g, 4)


def e_cumulative(x):
    return weigh(np.cumsum(x[::-1])) + weigh(np.cumprod(x + 2), 1) + weigh(np.maximum.accumulate(x), 2)


def e_minimum_reduce(x):
    return np.minimum.reduce(x) + np.add.reduce(x * x) + np.multiply.reduce(x + 2)


def e_argmax_use(X):
    i = np.argmax(X, axis=1)
    return np.sum(X[np.arange(X.shape[0]), i]) + np.sum(np.max(X, axis=0))


def e_amax_tie(x):
    return np.max(np.array([x[0], x[0], x[1]]))


def e_logsumexp_manual_inf(x):
    m = np.max(x, axis=1, keepdims=True)
    return np.sum(m + np.log(np.sum(np.exp(x - m), axis=1, keepdims=True)))


def e_softmax_stable(x):
    e = np.exp(x - np.max(x))
    p = e / e.sum()
    return -np.sum(p * np.log(p))


def e_complex_ops(z):
    w = z * np.conj(z) + np.exp(1j * np.real(z)) + z ** 2
    return np.sum(np.abs(w)) + np.sum(np.real(np.log(z))) + np.sum(np.imag(np.sqrt(z)))


def e_linspace_grad(a):
    t = np.linspace(0, a[0], 5)
    return np.sum(np.sin(t)) + np.sum(np.arange(4) * a[1])


def e_matrix_scalar_loop(A):
    s = 0.0
    for i in range(A.shape[0]):
        for j in range(A.shape[1]):
            if A[i, j] > 0:
                s += A[i, j] ** 2
            else:
                s -= A[i, j]
    return s


# ======================================================================= program structures
class Linear:
    """A PyTorch-style module holding its parameters as attributes."""

    def __init__(self, W, b):
        self.W = W
        self.b = b

    def __call__(self, x):
        return x @ self.W + self.b


class MLP:
    def __init__(self, layers, act=np.tanh):
        self.layers = layers
        self.act = act

    def forward(self, x):
        for layer in self.layers[:-1]:
            x = self.act(layer(x))
        return self.layers[-1](x)

    __call__ = forward


def module_loss(W1, b1, W2, b2, x, t):
    net = MLP([Linear(W1, b1), Linear(W2, b2)])
    return np.mean((net(x) - t) ** 2)


class Sequential:
    def __init__(self, *fns):
        self.fns = fns

    def __call__(self, x):
        for f in self.fns:
            x = f(x)
        return x


def sequential_loss(W, x):
    model = Sequential(lambda v: v @ W, np.tanh, lambda v: v ** 2, np.sum)
    return model(x)


def stax_serial(*layers):
    # jax.example_libraries.stax: a layer is (init_fun, apply_fun)
    apply_funs = [apply for _, apply in layers]

    def apply_fun(params, inputs):
        for fun, param in zip(apply_funs, params):
            inputs = fun(param, inputs)
        return inputs
    return None, apply_fun


def stax_dense_apply(params, inputs):
    W, b = params
    return np.dot(inputs, W) + b


def stax_tanh_apply(params, inputs):
    return np.tanh(inputs)


_, stax_apply = stax_serial((None, stax_dense_apply), (None, stax_tanh_apply), (None, stax_dense_apply))


def stax_loss(params, x):
    return np.sum(stax_apply(params, x) ** 2)


def functools_reduce(x):
    return functools.reduce(lambda a, b: a * b + np.sin(b), [x[0], x[1], x[2]], 1.0)


def map_filter(x):
    ys = list(map(lambda v: v ** 2, x))
    zs = list(filter(lambda v: v > 0.1, ys))
    return sum(zs) + sum(map(np.sin, x))


def recursion_power(x, n=4):
    if n == 0:
        return 1.0
    return x * recursion_power(x, n - 1)


def recursion_use(x):
    return np.sum(recursion_power(x))


def try_except(x):
    try:
        y = np.log(x[0])
        if x[1] > 10:
            raise ValueError("big")
    except ValueError:
        y = x[0]
    finally:
        z = x[1] * 2
    return y * z


def with_errstate(x):
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.where(x != 0, np.sin(x) / np.where(x != 0, x, 1.0), 1.0)
    return np.sum(r)


def nonlocal_counter(x):
    total = 0.0

    def add(v):
        nonlocal total
        total = total + v
    for i in range(3):
        add(x[i] ** 2)
    return total


def closures_in_loop(x):
    fs = [lambda v, k=k: v * k for k in range(3)]
    return sum(f(x[0]) for f in fs) + sum(f(x[1]) ** 2 for f in fs)


def generator_sum(x):
    def gen(v):
        for i in range(len(v)):
            yield v[i] * (i + 1)
    return sum(gen(x)) + max(gen(x ** 2))


def early_return_loop(x):
    acc = 0.0
    for i in range(len(x)):
        acc = acc + x[i] ** 2
        if acc > 1.0:
            return acc * 2
    return acc


def while_break_value(x):
    v = x[0]
    n = 0
    while True:
        v = np.cos(v) + x[1] * 0.1
        n += 1
        if n >= 5:
            break
    return v


def string_format_keys(x):
    d = {}
    for i in range(3):
        d[f"w{i}"] = x[i] ** (i + 1)
    s = 0.0
    for k in sorted(d):
        s = s + d[k]
    return s


def assert_shape(x):
    assert x.shape == (3,), "bad shape"
    assert np.all(np.isfinite(x))
    return np.sum(x ** 3)


def enumerate_zip_dict(params, xs):
    out = 0.0
    for i, (name, p) in enumerate(sorted(params.items())):
        out = out + (i + 1) * np.sum(p * xs[: p.shape[0]])
    return out


def dataclass_like_params(x):
    class P:
        pass
    p = P()
    p.a = x[0]
    p.b = x[1] * 2
    setattr(p, "c", x[2] ** 2)
    return p.a * p.b + getattr(p, "c")


def list_inplace_ops(x):
    lst = [x[0], x[1]]
    lst.append(x[2] * 2)
    lst.extend([x[0] * x[1]])
    lst.insert(0, np.sin(x[1]))
    lst.reverse()
    v = lst.pop()
    lst[1] = lst[1] * 3
    return sum(lst) + v


def dict_update_get(x):
    d = {"a": x[0]}
    d.update(b=x[1] * 2)
    d.setdefault("c", x[2] ** 2)
    d.setdefault("a", 100.0)
    return d.get("a") * d["b"] + d.get("z", 1.0) * d.pop("c")


def array_item_assign_loop(x):
    y = np.empty(4)
    for i in range(4):
        y[i] = x[i] * x[(i + 1) % 4]
    y[y < 0] = 0.0
    return np.sum(y ** 2)


def array_inplace_view(x):
    y = x.copy()
    v = y[1:3]
    v *= 2.0
    y[0] += y[3]
    return np.sum(y ** 2)


def inplace_arg_write(x):
    x = x.copy()
    x[0] = x[1] * x[2]
    x[1:] += x[:-1]
    return np.sum(x ** 2)


def out_param(x):
    out = np.empty_like(x)
    np.multiply(x, x, out=out)
    np.add(out, 1.0, out=out)
    return np.sum(np.sqrt(out))


def ternary_and_or(x):
    a = x[0] if x[0] > x[1] else x[1]
    b = (x[2] > 0 and x[2]) or x[0]
    return a * b + max(x[0], x[1], key=lambda v: -v)


def builtin_math(x):
    return math.sqrt(x[0] ** 2 + 1) + math.exp(x[1]) + math.log(abs(x[2]) + 1) + math.atan2(x[0], x[1]) \
        + math.hypot(x[1], x[2]) + math.tanh(x[0]) + math.pow(abs(x[1]) + 1, 1.5)


def float_conversion(x):
    a = float(x[0])
    b = x[1].item()
    return a * b + float(np.sum(x))


def numpy_scalar_types(x):
    s = np.float64(2.0) * x[0] + np.float32(1.5) * x[1]
    return s + np.sum(x.astype(np.float64)) * np.int64(3)


def sorted_by_value(x):
    items = sorted(list(x), reverse=True)
    return items[0] * 2 + items[-1]


def min_max_builtins(x):
    return max(x) * min(x) + max(x[0], 0.3) + min([x[1], x[2]])


def abs_round_builtins(x):
    return abs(x[0]) * 2 + abs(x[1] - x[2]) + sum(abs(v) for v in x)


def pow_builtin(x):
    return pow(x[0], 2) + pow(abs(x[1]) + 1, x[2]) + x[2] ** x[0] ** 2 if x[2] > 0 else pow(x[0], 3)


def divmod_floor(x):
    q, r = divmod(x[0] * 5, 1.3)
    return r * x[1] + (x[2] // 0.7) * x[2]


def global_state_rs(x):
    rng = np.random.default_rng(42)
    noise = rng.standard_normal(3)
    return np.sum((x + noise) ** 2)


def np_random_seed(x):
    np.random.seed(1)
    noise = np.random.randn(*x.shape)
    return np.sum(x * noise)


def randn_shape(x):
    rs = np.random.RandomState(0)
    return np.sum(x * rs.randn(*x.shape)) + np.sum(x ** 2 * rs.randn(x.shape[0]))
