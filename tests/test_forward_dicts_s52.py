"""Forward mode through dicts made by dict(...) and read back (cplxb52): the tangent of ``dict(m)``
came from dict's rule transposed at a zero cotangent g that was the float zero, so the compiler took g
for real and the transposed rule took ``np.real`` of the dict of tangents: a 0-d object array.  With
complex values ``list(dict({'u': y, 'v': c}).values())`` gave the tangent 0 (finite differences:
9.50+5.00j in the sweep of tests/test_complex_mixed_s52.py) and ``dict(...)['u']`` an IndexError;
transpose mode and real values were right.  Each program's sct.jvp (forward and transpose mode) is
checked against a central directional difference of the program in plain Python, at real, complex and
mixed inputs.
"""
from __future__ import annotations

import copy

import numpy as np
import pytest

import sct

try:
    from tests.gradcheck import D
except ImportError:                      # run as plain `pytest` from inside tests/
    from gradcheck import D


def values_of_dict(y, c):                # the report's program
    t = list(dict({'u': y, 'v': c}).values())
    return np.sum(t[0] ** 2) + np.sum(t[1] * 3)


def item_of_dict(y, c):
    d = dict({'u': y, 'v': c})
    return np.sum(d['u'] ** 2) + np.sum(d['v'] * 3)


def dict_of_zip(y, c):
    d = dict(zip(['u', 'v'], [y, c]))
    return np.sum(d['u'] ** 2) + np.sum(d['v'] * 3)


def dict_of_keywords(y, c):
    d = dict(u=y, v=c)
    return np.sum(d['u'] ** 2) + np.sum(d['v'] * 3)


def dict_of_starstar(y, c):
    kw = {'u': y, 'v': c}
    d = dict(**kw)
    return np.sum(d['u'] ** 2) + np.sum(d['v'] * 3)


def dict_of_pairs(y, c):
    d = dict([('u', y), ('v', c)])
    return np.sum(d['u'] ** 2) + np.sum(d['v'] * 3)


def dict_and_keyword(y, c):
    d = dict({'u': y}, v=c)
    t = list(d.values())
    return np.sum(t[0] ** 2) + np.sum(t[1] * 3)


def display_starstar(y, c):
    d0 = {'u': y}
    d = {**d0, 'v': c}
    t = list(d.values())
    return np.sum(t[0] ** 2) + np.sum(t[1] * 3)


def items_of_dict(y, c):
    d = dict({'u': y, 'v': c})
    s = 0
    for k, v in d.items():
        s = s + np.sum(v ** 2)
    return s


def keys_of_dict(y, c):
    d = dict({'u': y, 'v': c})
    s = 0
    for k in d.keys():
        s = s + np.sum(d[k] ** 2)
    return s


def generator_of_values(y, c):
    d = dict({'u': y, 'v': c})
    return sum(np.sum(v * w) for w, v in zip([1.0, 2.0], d.values()))


def copy_of_dict(y, c):
    d = dict({'u': y, 'v': c})
    e = d.copy()
    f = copy.copy(e)
    return np.sum(f['u'] ** 2) + np.sum(e['v'] * 3)


def nested_in_dict(y, c):
    d = dict({'u': {'w': y}, 'v': [c, y]})
    return np.sum(d['u']['w'] ** 2) + np.sum(d['v'][0] * 3) + np.sum(d['v'][1])


def number_in_dict(y, c):
    d = dict({'u': y[0], 'v': c})
    return d['u'] ** 2 + np.sum(d['v'] * 3)


def written_dict(y, c):
    d = dict({'u': y, 'v': c})
    d['w'] = y * c
    return np.sum(d['w']) + np.sum(list(d.values())[0] ** 2)


PROGRAMS = [values_of_dict, item_of_dict, dict_of_zip, dict_of_keywords, dict_of_starstar, dict_of_pairs,
            dict_and_keyword, display_starstar, items_of_dict, keys_of_dict, generator_of_values, copy_of_dict,
            nested_in_dict, number_in_dict, written_dict]


def _point(kinds, seed):
    rng = np.random.default_rng(seed)

    def one(cplx):
        return rng.standard_normal(3) + (1j * rng.standard_normal(3) if cplx else 0)
    y, c = one(kinds[0] == "c"), one(kinds[1] == "c")
    ty, tc = one(kinds[0] == "c"), one(kinds[1] == "c")
    return y, c, ty, tc


@pytest.mark.parametrize("mode", ["forward", "transpose"])
@pytest.mark.parametrize("kinds", ["rr", "cc", "rc", "cr"], ids=["real", "complex", "real-complex", "complex-real"])
@pytest.mark.parametrize("fn", PROGRAMS, ids=lambda f: f.__name__)
def test_forward_through_dict(fn, kinds, mode):
    y, c, ty, tc = _point(kinds, 52)
    h = 1e-6
    fd = (fn(y + h * ty, c + h * tc) - fn(y - h * ty, c - h * tc)) / (2 * h)
    value, tangent = sct.jvp(fn, (y.copy(), c.copy()), (ty, tc), mode=mode)
    assert np.allclose(D(value), fn(y, c), rtol=1e-12)
    assert abs(fd) > 0.1                 # (a tangent of 0 is wrong here)
    np.testing.assert_allclose(D(tangent), fd, rtol=1e-6, atol=1e-8)
    if kinds == "rr":
        assert not np.iscomplexobj(D(tangent))


def test_report_value():
    """The report's point: y, c and their tangents as the sweep drew them give FD's 9.50+5.00j; here
    an exact check of the same program: d/dt [sum((y + t ty)^2) + 3 sum(c + t tc)] = 2 y.ty + 3 sum(tc)."""
    y = np.array([0.5 + 0.2j, -1.0 + 0.7j])
    c = np.array([1.0 - 0.4j, 0.3 + 0.1j])
    ty = np.array([1.0 + 0.5j, 0.25 - 1.0j])
    tc = np.array([0.5 + 1.0j, -0.2 + 0.3j])
    _, tangent = sct.jvp(values_of_dict, (y, c), (ty, tc), mode="forward")
    np.testing.assert_allclose(D(tangent), 2 * np.sum(y * ty) + 3 * np.sum(tc), rtol=1e-12)
