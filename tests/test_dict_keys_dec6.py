"""Traced values used as dict keys (sct/key_checks.py).

A dict's keys carry no derivative in sct; a key computed from a traced value and read back
(``d.items()``, ``list(d)``, ``max(d)``, ``for k in d``) gave a silently wrong gradient: the part
through the key was lost (``sum(k * v for k, v in {x[0]: x[1]}.items())`` gave d/dx0 = 0 where it is
x1).  Such keys are now refused at the user's line; dicts keyed by names, strings, ints, tuples of
those, or by keys read back from another dict, run as before."""
import numpy as np
import pytest

from sct import CompileError, dlarray, dlfeval, dlgradient, hvp, jvp

from gradcheck import check_grads

X = np.array([0.3, -1.2, 2.0])


def display(x):
    d = {x[0]: x[1]}
    return sum(k * v for k, v in d.items())


def pairs_list(x):
    d = dict([(x[0], x[1]), (x[2], 1.0)])
    return sum(k * v for k, v in d.items())


def zipped_keys(x):
    d = dict(zip(x, x[::-1]))
    return sum(k * v for k, v in d.items())


def stored(x):
    d = {}
    d[x[0]] = x[1]
    return sum(k * v for k, v in d.items())


def comprehension(x):
    d = {v: i for i, v in enumerate(x)}
    return sum(k * v for k, v in d.items())


def keys_summed(x):
    d = {x[0]: 1.0}
    return sum(d.keys()) * 2


def largest_key(x):
    d = {x[0]: 1.0}
    return max(d) * 2


def float_key(x):
    d = {float(x[0]): 1.0}
    return list(d)[0] * x[1]


def named_pairs(x):
    it = ((p0, p1) for p0, p1 in zip(x, x[::-1]))
    d = dict(it)
    return sum(k * v for k, v in d.items())


@pytest.mark.parametrize("fn", [display, pairs_list, zipped_keys, stored, comprehension, keys_summed,
                                largest_key, float_key, named_pairs])
def test_traced_key_refused(fn):
    # (was: a gradient missing the part through the key, e.g. display's [0, 0.3, 0] for [-1.2, 0.3, 0])
    def run(x):
        y = fn(x)
        return y, dlgradient(y, x)
    with pytest.raises(CompileError) as info:
        dlfeval(run, dlarray(X.copy()))
    text = str(info.value)
    assert "test_dict_keys_dec6.py" in text and "dict" in text and "key" in text


def test_other_entry_points_refuse():
    with pytest.raises(CompileError, match="dict key"):
        jvp(display, (X.copy(),), (np.ones(3),))
    with pytest.raises(CompileError, match="dict key"):
        hvp(display, X.copy(), np.ones(3))


def helper_keys(x):
    d = {}
    for v in x:
        d[v] = 1.0
    return max(d)


def test_helper_in_a_loop_refuses():
    def run(x):
        y = sum(helper_keys(x * i) for i in range(1, 3))
        return y, dlgradient(y, x)
    with pytest.raises(CompileError, match="dict"):
        dlfeval(run, dlarray(X.copy()))


# --- keys that are not traced: run, with Python's values and the exact gradients -----------------

def rekeyed(x):
    p = {"w": x[:2], "b": x[2]}
    q = {k: v * 2 for k, v in p.items()}
    return np.sum(q["w"] ** 2) + q["b"]


def items_loop(x):
    p = {"w": x[:2], "b": x[2]}
    q = {}
    for k, v in p.items():
        q[k] = v * 2
    return np.sum(q["w"] ** 2) + q["b"]


def pairs_of_items(x):
    p = {"w": x[:2], "b": x[2]}
    pairs = [(k, v * 2) for k, v in p.items()]
    q = dict(pairs)
    r = dict([(k, v) for k, v in p.items()])
    return np.sum(q["w"] ** 2) + r["b"]


def formatted_keys(x):
    layers = [{"W": x[:2]}, {"W": x[1:]}]
    out = {}
    for i, layer in enumerate(layers):
        out[f"l{i}"] = np.sum(layer["W"] ** 2)
    return sum(out.values())


def tuple_keys(x):
    p = {("a", 1): x[0], ("b", 2): x[1]}
    q = {key: val ** 2 for key, val in p.items()}
    return q[("a", 1)] + q[("b", 2)]


def constant_float_keys(x):
    losses = {0.1: x[0] ** 2, 0.5: x[1] ** 2, 0.9: x[2]}
    return sum(q * l for q, l in losses.items())


def sorted_keys(x):
    p = {"w": x[:2], "b": x[2]}
    q = {k: p[k] for k in sorted(p)}
    r = {k: q[k] for k in q.keys()}
    return np.sum(r["w"] ** 2) + r["b"]


def int_keys(x):
    d = {int(np.argmax(x)): x[0], 7: x[1]}
    return sum(k * v for k, v in d.items())


@pytest.mark.parametrize("fn", [rekeyed, items_loop, pairs_of_items, formatted_keys, tuple_keys,
                                constant_float_keys, sorted_keys, int_keys])
def test_constant_keys_run(fn):
    check_grads(fn, X.copy())


# --- keys of a dict given as an argument, read back (red team "domains": {k: params[k] - 0.1 * grads[k]
# for k in params} was refused as a traced key; the caller made those keys) --------------------------

def sgd_step(params):
    grads = {k: 2 * v for k, v in params.items()}
    new = {k: params[k] - 0.1 * grads[k] for k in params}
    return sum(np.sum(v ** 3) for v in new.values())


def zipped_update(params):
    grads = {k: 2 * v for k, v in params.items()}
    new = {}
    for k, g in zip(params, grads.values()):
        new[k] = params[k] - g
    return sum(np.sum(v ** 3) for v in new.values())


def enumerated_keys(params):
    new = {}
    for i, k in enumerate(sorted(params)):
        new[f"{k}_{i}"] = params[k] * (i + 1)
    return sum(np.sum(v ** 3) for v in new.values())


@pytest.mark.parametrize("fn", [sgd_step, zipped_update, enumerated_keys])
def test_argument_dict_keys_run(fn):
    params = {"w": np.array([0.3, -1.2]), "b": np.array([2.0])}

    def run(p):
        y = fn(p)
        return y, dlgradient(y, p)
    y, g = dlfeval(run, {k: dlarray(v) for k, v in params.items()})
    np.testing.assert_allclose(float(y.data), fn(params), rtol=1e-12)
    for k in params:
        def part(a, k=k):
            return fn(dict(params, **{k: a}))
        fd = np.array([(part(params[k] + 1e-6 * e) - part(params[k] - 1e-6 * e)) / 2e-6
                       for e in np.eye(len(params[k]))])
        np.testing.assert_allclose(np.asarray(g[k].data), fd, rtol=1e-6, atol=1e-6)
