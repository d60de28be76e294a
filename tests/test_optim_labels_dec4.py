"""Optimizers pair a labelled parameter with its gradient and states by label, not by position."""
import numpy as np
import pytest

from sct import adamupdate, dlarray, dlupdate, rmspropupdate, sgdmupdate

P = np.arange(9.0).reshape(3, 3)
G = np.arange(9.0).reshape(3, 3) * 0.1 + 1.0


def _data(x):
    return np.asarray(x._data)


@pytest.mark.parametrize("update", [
    lambda p, g: adamupdate(p, g, None, None, 1, 0.1)[0],
    lambda p, g: sgdmupdate(p, g, None)[0],
    lambda p, g: rmspropupdate(p, g, None)[0],
    lambda p, g: dlupdate(lambda a, b: a - 0.5 * b, p, g),
])
@pytest.mark.parametrize("wrap", [lambda x: x, lambda x: {"w": x}, lambda x: [x]])
def test_gradient_labelled_in_another_order_is_permuted(update, wrap):
    # a square parameter: position-by-position pairing would silently add G.T
    expected = update(wrap(dlarray(P, "CB")), wrap(dlarray(G, "CB")))
    got = update(wrap(dlarray(P, "CB")), wrap(dlarray(G.T, "BC")))
    pick = (lambda t: t) if not isinstance(expected, (dict, list)) else (
        (lambda t: t["w"]) if isinstance(expected, dict) else (lambda t: t[0]))
    assert pick(got)._fmt == "CB"
    np.testing.assert_array_equal(_data(pick(got)), _data(pick(expected)))
    assert not np.array_equal(_data(pick(got)), _data(pick(update(wrap(dlarray(P, 'CB')), wrap(dlarray(G.T, 'CB'))))))


def test_states_labelled_in_another_order_are_permuted():
    p = dlarray(P, "CB")
    _, m, v = adamupdate(p, dlarray(G, "CB"), None, None, 1)
    a = adamupdate(p, dlarray(G, "CB"), m, v, 2)
    b = adamupdate(p, dlarray(G, "CB"), dlarray(m._data.T, "BC"), dlarray(v._data.T, "BC"), 2)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x._data, y._data)


def test_other_labels_are_refused():
    with pytest.raises(ValueError, match="labelled 'SC' for a parameter labelled 'CB'"):
        adamupdate(dlarray(P, "CB"), dlarray(G, "SC"), None, None, 1)
