"""Functions for tests/test_peer_s44.py, written as autograd's examples write them (numpy for
autograd.numpy).  Their text is read by sct, so they live in a file of their own."""
import numpy as np


class WeightsParser(object):
    """A helper class to index into a parameter vector."""

    def __init__(self):
        self.idxs_and_shapes = {}
        self.N = 0

    def add_weights(self, name, shape):
        start = self.N
        self.N += np.prod(shape)
        self.idxs_and_shapes[name] = (slice(start, self.N), shape)

    def get(self, vect, name):
        idxs, shape = self.idxs_and_shapes[name]
        return np.reshape(vect[idxs], shape)


class full_layer(object):
    def __init__(self, size):
        self.size = size

    def build_weights_dict(self, input_shape):
        input_size = np.prod(input_shape, dtype=int)
        self.parser = WeightsParser()
        self.parser.add_weights("params", (input_size, self.size))
        self.parser.add_weights("biases", (self.size,))
        return self.parser.N, (self.size,)

    def forward_pass(self, inputs, param_vector):
        """Inputs (data, features) or (data, ...) flattened;
        the layer's weights are read out of param_vector."""
        params = self.parser.get(param_vector, "params")
        biases = self.parser.get(param_vector, "biases")
        if inputs.ndim > 2:
            inputs = inputs.reshape((inputs.shape[0], np.prod(inputs.shape[1:])))
        return self.nonlinearity(np.dot(inputs[:, :], params) + biases)


class tanh_layer(full_layer):
    def nonlinearity(self, x):
        return np.tanh(x)


def make_nn_funs(input_shape, layer_specs, L2_reg):
    parser = WeightsParser()
    cur_shape = input_shape
    for layer in layer_specs:
        N_weights, cur_shape = layer.build_weights_dict(cur_shape)
        parser.add_weights(layer, (N_weights,))

    def predictions(W_vect, inputs):
        """Outputs normalized log-probabilities.
        shape of inputs : [data, color, y, x]"""
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


def make_keyed():
    def inner(x):
        key = """a
        b"""
        d = {key: x}
        return np.sum(d["a\n        b"] ** 2)
    return inner


# --- autograd's mixture_variational_inference.py (build_mog_bbsvi), scipy for autograd.scipy ---------
from scipy.stats import norm  # noqa: E402
from scipy.special import logsumexp  # noqa: E402


def diag_gaussian_log_density(x, mu, log_std):
    return np.sum(norm.logpdf(x, mu, np.exp(log_std)), axis=-1)


def unpack_gaussian_params(params):
    # Variational dist is a diagonal Gaussian.
    D = np.shape(params)[0] // 2
    mean, log_std = params[:D], params[D:]
    return mean, log_std


def variational_log_density_gaussian(params, x):
    mean, log_std = unpack_gaussian_params(params)
    return diag_gaussian_log_density(x, mean, log_std)


def sample_diag_gaussian(params, num_samples, rs):
    mean, log_std = unpack_gaussian_params(params)
    D = np.shape(mean)[0]
    return rs.randn(num_samples, D) * np.exp(log_std) + mean


def log_normalize(x):
    return x - logsumexp(x)


def build_mog_bbsvi(logprob, num_samples, k=10, rs=None):
    component_log_density = variational_log_density_gaussian
    component_sample = sample_diag_gaussian

    def unpack_mixture_params(mixture_params):
        log_weights = log_normalize(mixture_params[:k])
        var_params = np.reshape(mixture_params[k:], (k, -1))
        return log_weights, var_params

    def mixture_log_density(var_mixture_params, x):
        """Returns a weighted average over component densities."""
        log_weights, var_params = unpack_mixture_params(var_mixture_params)
        component_log_densities = np.vstack([component_log_density(params_k, x)
                                             for params_k in var_params]).T
        return logsumexp(component_log_densities + log_weights, axis=1, keepdims=False)

    def mixture_elbo(var_mixture_params, t):
        # We need to only sample the continuous component parameters,
        # and integrate over the discrete component choice

        def mixture_lower_bound(params):
            """Provides a stochastic estimate of the variational lower bound."""
            samples = component_sample(params, num_samples, rs)
            log_qs = mixture_log_density(var_mixture_params, samples)
            log_ps = logprob(samples, t)
            log_ps = np.reshape(log_ps, (num_samples, -1))
            log_qs = np.reshape(log_qs, (num_samples, -1))
            return np.mean(log_ps - log_qs)

        log_weights, var_params = unpack_mixture_params(var_mixture_params)
        component_elbos = np.stack(
            [mixture_lower_bound(params_k) for params_k in var_params])
        return np.sum(component_elbos*np.exp(log_weights))

    return mixture_elbo


def mog_log_density(x, t):
    mu, log_sigma = x[:, 0], x[:, 1]
    sigma_density = norm.logpdf(log_sigma, 0, 1.35)
    mu_density = norm.logpdf(mu, -0.5, np.exp(log_sigma))
    sigma_density2 = norm.logpdf(log_sigma, 0.1, 1.35)
    mu_density2 = norm.logpdf(mu, 0.5, np.exp(log_sigma))
    return np.logaddexp(sigma_density + mu_density,
                        sigma_density2 + mu_density2)


def make_closure_helper_writer():
    """A nested def whose helper writes into the array it is given (a captured one): refused."""
    def bump(a, p):
        a[0] = a[0] + np.sum(p)
        return np.sum(p ** 2)

    def f(x):
        a = x * 1.0

        def lb(p):
            r = bump(a, p)
            return r
        v = lb(x)
        return v + np.sum(a ** 2)
    return f


# --- autograd's tests/test_scipy.py: a closure factory called inside the function ------------------
def symmetrize_matrix_arg_2(fun):
    def T(X):
        return np.swapaxes(X, -1, -2) if np.ndim(X) > 1 else X

    def symmetrize(X):
        return 0.5 * (X + T(X))

    def symmetrized_fun(x, mean, cov):
        return fun(x, mean, symmetrize(cov))

    return symmetrized_fun


def make_scaled(f, c):
    def g(v):
        return f(v) * c
    return g


def scaled_sin_loss(x):
    x2 = x * 2
    return np.sum(make_scaled(np.sin, 3.0)(x2))


def scaled_dot_loss(x):
    h = x[:2] * 2
    scaled = make_scaled(np.sum, 0.5)
    return scaled(h * h) + np.sum(x)


_GLOBAL_LOG = []


def keep_and_wrap(f, v):
    _GLOBAL_LOG.append(v)
    return make_scaled(f, 2.0)


# --- autograd's kfac_pre.py: apply_preconditioner -------------------------------------------------------
def apply_preconditioner(precond, gradient):
    def apply_block(Ainv, Ginv, W_grad, b_grad):
        Wb_grad = np.vstack((W_grad, b_grad))
        Wb_natgrad = np.dot(Ainv, np.dot(Wb_grad, Ginv))
        return Wb_natgrad[:-1], Wb_natgrad[-1]

    factors = zip(*precond)
    return [apply_block(A, G, W, b) for (A,G), (W,b) in zip(factors, gradient)]


def apply_preconditioner_listed(precond, gradient):
    def apply_block(Ainv, Ginv, W_grad, b_grad):
        Wb_grad = np.vstack((W_grad, b_grad))
        Wb_natgrad = np.dot(Ainv, np.dot(Wb_grad, Ginv))
        return Wb_natgrad[:-1], Wb_natgrad[-1]

    factors = list(zip(*precond))
    return [apply_block(A, G, W, b) for (A,G), (W,b) in zip(factors, gradient)]


def natgrad_norm(apply, precond, gradient):
    return sum(np.sum(dW ** 2) + np.sum(np.sin(db)) for dW, db in apply(precond, gradient))


def make_spec_user():
    def inner(x):
        spec = """ij,
        j->i"""
        return np.sum(np.einsum(spec.replace("\n", "").replace(" ", ""), x, x[0]))
    return inner
