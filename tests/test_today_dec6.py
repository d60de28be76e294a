"""Red team (today's changes): traced dict keys that passed sct/key_checks.py, and np.ediff1d's dtype."""
import numpy as np
import pytest

from sct import CompileError, EvaluationError, dlarray, dlfeval

from gradcheck import check_grads

X = np.array([0.3, -1.2, 2.0])


# --- traced keys of a dict stored into in a loop or a comprehension (d = rt.setitem(d, k, v)) ---------
# was: not refused (the dict was not known as one: the least fixed point), a wrong gradient

def dictcomp_zip(x):
    d = {a: b for a, b in zip(x, x[::-1])}
    return sum(k * v for k, v in d.items())


def dictcomp_swapped(x):
    base = {"a": x[0], "b": x[1]}
    d = {v: k for k, v in base.items()}
    return sum(k for k in d)


def loop_store_sorted(x):
    d = {}
    for i in range(3):
        d[x[i]] = x[i] ** 2
    return sorted(d.items())[0][0] * 1.0


def setdefault_key(x):
    d = {}
    d.setdefault(x[0], x[1])
    return sum(k * v for k, v in d.items())


def nested_store(x):
    d = {"a": {}}
    d["a"][x[0]] = x[1]
    return sum(k * v for k, v in d["a"].items())


def nested_store_loop(x):
    d = {"a": {}}
    for i in range(2):
        d["a"][x[i]] = 1.0
    return sum(d["a"])


# dict(pairs) where the pairs list is built by append, list()/sorted() of zip, map of a lambda

def pairs_appended(x):
    pairs = []
    for i in range(3):
        pairs.append((x[i], float(i)))
    d = dict(pairs)
    return sum(k * v for k, v in d.items())


def dict_sorted_zip(x):
    d = dict(sorted(zip(x, [1.0, 2.0, 3.0])))
    return sum(k * v for k, v in d.items())


def dict_list_zip(x):
    d = dict(list(zip(x, [1.0, 2.0, 3.0])))
    return sum(k * v for k, v in d.items())


def dict_map_pairs(x):
    d = dict(map(lambda a: (a, 1.0), x))
    return sum(k * v for k, v in d.items())


def aliased(x):                      # (refused before: kept by the greatest set too)
    g = {}
    h = g
    h[x[0]] = 2.0
    return sum(k * v for k, v in g.items())


def aliased_in_loop(x):
    g = {}
    h = g
    for i in range(3):
        h[x[i]] = float(i)
    return sum(k * v for k, v in g.items())


@pytest.mark.parametrize("fn", [dictcomp_zip, dictcomp_swapped, loop_store_sorted, setdefault_key, nested_store,
                                nested_store_loop, pairs_appended, dict_sorted_zip, dict_list_zip, dict_map_pairs,
                                aliased, aliased_in_loop])
def test_traced_keys_refused(fn):
    with pytest.raises(CompileError, match="dict"):
        check_grads(fn, X)


# --- dict code with constant keys still runs (keys read back from a dict, lists of them, keys made
# from them) -----------------------------------------------------------------------------------------

def keys_listed(x):
    p = {"w": x[0], "b": x[1]}
    names = [k for k in p]
    d = {n: p[n] * 3 for n in names}
    return d["w"] * d["b"]


def sorted_items(x):
    p = {"w": x[0], "b": x[1]}
    d = {k: v for k, v in sorted(p.items())}
    return d["w"] * d["b"]


def keys_renamed(x):
    d = {"a": x[0], "b": x[1]}
    e = {k.upper(): v for k, v in d.items()}
    return e["A"] * e["B"]


def optimizer_state(x):
    params = {"w": x[0], "b": x[1], "c": x[2]}
    m = {k: 0.0 * v for k, v in params.items()}
    for k in params:
        m[k] = 0.9 * m[k] + 0.1 * params[k] ** 2
    return sum(m.values())


def nested_params(x):
    net = {"l1": {"w": x[0], "b": x[1]}, "l2": {"w": x[2]}}
    out = {}
    for lname, layer in net.items():
        out[lname] = {}
        for pname, p in layer.items():
            out[lname][pname] = p * 2
    return out["l1"]["w"] * out["l2"]["w"]


def items_listed(x):
    d = {"a": x[0], "b": x[1]}
    e = {}
    for k, v in list(d.items()):
        e[k] = v * 3
    return e["a"] * e["b"]


def zipped_names(x):
    params = {"w": x[0], "b": x[1]}
    d = dict(zip(params.keys(), [v * 2 for v in params.values()]))
    return d["w"] * d["b"]


@pytest.mark.parametrize("fn", [keys_listed, sorted_items, keys_renamed, optimizer_state, nested_params,
                                items_listed, zipped_names])
def test_constant_keys_run(fn):
    check_grads(fn, X)


# --- np.ediff1d: the result in the array's dtype; numpy's TypeError for a cast that is not same_kind ---

def test_ediff1d_keeps_the_array_dtype():
    f = lambda x: np.ediff1d(x.astype(np.float32), to_begin=np.array([0.1]), to_end=x[:1])  # noqa: E731
    expected = f(X.copy())
    got = np.asarray(dlfeval(f, dlarray(X.copy())).data)
    assert got.dtype == expected.dtype == np.float32
    np.testing.assert_array_equal(got, expected)


def test_ediff1d_complex_edge_of_a_real_array_refused_as_numpy():
    f = lambda x: np.ediff1d(x, to_begin=1j)  # noqa: E731
    with pytest.raises(TypeError):
        f(X.copy())
    with pytest.raises(EvaluationError, match="same_kind"):
        dlfeval(f, dlarray(X.copy()))


def ediff1d_edges(x):
    return np.sum(np.ediff1d(x, to_begin=x[:2] * 2, to_end=-99) ** 2)


def test_ediff1d_edges_gradient():
    check_grads(ediff1d_edges, X)


# --- a traced keyword-only argument of an op read through its Python equivalent --------------------
# was: an internal TypeError ("<class 'itertools.accumulate'> is not a Python function") from
# rt.positional, which did not look the op's equivalent up

def accumulate_traced_initial(x):
    import itertools
    return sum(itertools.accumulate(x, initial=x[0] ** 2))


def accumulate_function_and_traced_initial(x):
    import itertools
    return sum(itertools.accumulate(x, lambda a, b: a * b + 1, initial=x[1]))


@pytest.mark.parametrize("fn", [accumulate_traced_initial, accumulate_function_and_traced_initial])
def test_accumulate_traced_initial(fn):
    check_grads(fn, X)


def test_accumulate_traced_initial_second_order():
    from gradcheck import check_two_inputs
    import itertools

    def case(x, t):
        return sum(itertools.accumulate(x * t, lambda a, b: a * b + np.sin(b), initial=t[0] * x[1]))
    check_two_inputs(case, X.copy(), np.array([0.5, -0.7, 1.3]))
