"""try statements inside differentiated functions (sct/normalize_try.py, runtime support.try_probe).

``try/finally`` is the body then the finally block (a finally block that only binds names: what it
does cannot be seen once an exception has left the function).  ``try/except`` runs its body first in
plain Python (``rt.try_probe``) to learn which branch runs, then that branch, differentiated; the
body must be pure (else refused).  Every test compares the value with plain Python and the gradient
with central differences (``check_grads``), at inputs where the body raises and where it does not.
"""
from __future__ import annotations

import collections
import math
import warnings

import numpy as np
import pytest

import sct
from gradcheck import D, check_grads, numerical_gradient
from sct import CompileError, dlarray, dlfeval, dlgradient

X = np.array([0.3, -0.2, 0.5, 1.1])
V = np.array([1.0, 0.5, -0.3, 0.2])


# --- the random program generator's patterns (tests/progtest/userpat.py "try_assert") ---------------

def solve_or_halve(h):
    try:
        h = np.linalg.solve(np.eye(4) * 2.0 + np.outer(h, h) * 0.1, h)
    except np.linalg.LinAlgError:
        h = h * 0.5
    return np.sum(h ** 2)


def singular_or_not(h):
    # singular (the handler runs) exactly where h[0] == 0
    try:
        h = np.linalg.solve(np.diag(h) * 2.0, h * h)
    except np.linalg.LinAlgError:
        h = h * 0.5
    return np.sum(h ** 3)


def missing_key(h, p):
    try:
        z = p["missing"]
    except KeyError:
        z = h * 0.5
    h = z + h * 0.5
    return np.sum(np.sin(h) * h)


def present_key(h, p):
    try:
        z = p["w"]
    except KeyError:
        z = h * 0.5
    h = z + h * 0.5
    return np.sum(np.sin(h) * h)


def try_finally(h):
    try:
        h = h * 0.5
    finally:
        h = h + 0.1
    return np.sum(np.cos(h) * h)


@pytest.mark.parametrize("fun", [solve_or_halve, singular_or_not, try_finally])
@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_generator_patterns(fun, sign):
    check_grads(fun, X * sign)


def test_singular_branch_taken():
    x = np.array([0.0, 0.4, -0.7, 1.3])       # np.diag(x) singular: the handler's branch
    with pytest.raises(np.linalg.LinAlgError):
        np.linalg.solve(np.diag(x) * 2.0, x * x)

    def f(h):
        y = singular_or_not(h)
        return y, dlgradient(y, h)
    y, g = dlfeval(f, dlarray(x))
    assert np.allclose(D(y), singular_or_not(x))
    assert np.allclose(D(g), 3 * (x * 0.5) ** 2 * 0.5)          # d/dx sum((x/2)^3)


@pytest.mark.parametrize("fun", [missing_key, present_key])
def test_dict_key(fun):
    def f(h, w):
        y = fun(h, {"w": w * 2.0})
        return y, dlgradient(y, h, w)
    y, (gh, gw) = dlfeval(f, dlarray(X), dlarray(V))
    assert np.allclose(D(y), fun(X, {"w": V * 2.0}))
    assert np.allclose(D(gh), numerical_gradient(lambda h: fun(h, {"w": V * 2.0}), [X], 0), atol=1e-6)
    assert np.allclose(D(gw), numerical_gradient(lambda w: fun(X, {"w": w * 2.0}), [V], 0), atol=1e-6)


# --- handlers of other exceptions ----------------------------------------------------------------------

def raises_when_positive(h):
    try:
        if h[0] > 0:
            raise ValueError("positive")
        y = np.sum(h ** 2)
    except ValueError:
        y = np.sum(np.sin(h))
    return y


def zero_division(h):
    s = float(np.sum(h))
    try:
        r = 1.0 / (s - float(np.sum(h)))
    except ZeroDivisionError:
        r = 2.0
    return np.sum(h * r)


def index_in_loop(h):
    tot = 0.0
    for i in [0, 1, 7]:
        try:
            v = h[i]
        except IndexError:
            v = h[0] * 3.0
        tot = tot + v * v
    return tot


def exception_as(h):
    try:
        z = np.linalg.cholesky(np.diag(h))
    except Exception as e:
        message = str(e)
        z = np.diag(h * 2.0) * (len(message) > 0)
    return np.sum(z ** 2) + np.sum(h)


def sqrt_else_finally(h):
    try:
        a = math.sqrt(float(h[0]))
    except ValueError:
        g = h * -1.0
    else:
        g = h * a
    finally:
        g = g + 1.0
    return np.sum(g * g)


def tuple_of_handlers(h):
    d = {"a": 1.0}
    try:
        v = d["b"] * h
    except (IndexError, KeyError):
        v = h * 4.0
    return np.sum(v)


def bare_except(h):
    try:
        q = int("x")
    except:  # noqa: E722
        q = 2
    return np.sum(h * q)


def second_handler(h):
    try:
        v = h[int(h[0] > 0) * 9]       # IndexError where h[0] > 0
        w = {"a": v}["b" if h[1] > 0 else "a"]
    except KeyError:
        w = h[2] * 5.0
    except IndexError:
        w = h[3] * 7.0
    return w * np.sum(h)


def handler_breaks(h):
    p = {"a": h * 2}
    tot = 0.0
    for k in ("a", "b", "c"):
        try:
            v = p[k]
        except KeyError:
            break
        tot = tot + np.sum(v * h)
    try:
        w = p["zz"]
    except KeyError:
        return tot * 2.0
    return tot + np.sum(w)


def while_until_index_error(h):
    i = 0
    acc = h * 0.0
    while True:
        try:
            acc = acc + h[i] * h
        except IndexError:
            break
        i = i + 1
    return np.sum(acc)


def body_with_comprehensions(h):
    vals = [h[i] for i in range(3)]
    try:
        t = float(sum(v * v for v in vals))
        y = t / len([v for v in vals if v > 10])
    except ZeroDivisionError:
        y = sum(vals)
    return y * np.sum(h)


def helper_with_try(u):
    try:
        w = np.linalg.inv(np.diag(u))
    except np.linalg.LinAlgError:
        w = np.eye(4) * np.sum(u)
    return w


def calls_helper(h):
    return np.sum(helper_with_try(h) @ h) + np.sum(helper_with_try(h * 0.0 + 1.0) @ h)


@pytest.mark.parametrize("fun", [raises_when_positive, zero_division, index_in_loop, exception_as,
                                 sqrt_else_finally, tuple_of_handlers, bare_except, second_handler,
                                 handler_breaks, while_until_index_error, body_with_comprehensions,
                                 calls_helper, solve_or_halve])
def test_handlers(fun):
    check_grads(fun, X)
    check_grads(fun, -X)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        check_grads(fun, X * 30.0, rtol=1e-4)


def test_branch_decided_per_call():
    """One compiled function, called where the body raises and where it does not."""
    def f(h):
        y = raises_when_positive(h)
        return y, dlgradient(y, h)
    for x in (X, -X, X, np.array([0.0, 1.0, 2.0, 3.0]), -X):
        y, g = dlfeval(f, dlarray(x))
        assert np.allclose(D(y), raises_when_positive(x))
        assert np.allclose(D(g), np.cos(x) if x[0] > 0 else 2 * x)


def test_try_in_entry_source_readable():
    def f(h, p):
        try:
            z = p["missing"]
        except KeyError:
            z = h * 0.5
        y = np.sum(z * h)
        return y, dlgradient(y, h)
    text = sct.source(f, dlarray(X), {"a": dlarray(V)})
    assert "rt.try_probe(" in text and "except KeyError" in text and "== 0" in text
    y, g = dlfeval(f, dlarray(X), {"a": dlarray(V)})
    assert np.allclose(D(y), np.sum(X * 0.5 * X)) and np.allclose(D(g), X)


class Model:
    def __init__(self):
        self.A = np.eye(4) * 2.0
        self.cfg = {"eps": 0.1}

    def __call__(self, h):
        try:
            z = np.linalg.solve(self.A + np.outer(h, h) * self.cfg["eps"], h) + self.A.sum() * 0.0
        except np.linalg.LinAlgError:
            z = h * 0.5
        return np.sum(z ** 2)


def test_method_reads_attributes():
    m = Model()
    check_grads(lambda h: m(h), X)


def make_closure(scale):
    def inner(h):
        try:
            z = h[int(scale)]
        except IndexError:
            z = h[0] * scale
        return z * np.sum(h)
    return inner


@pytest.mark.parametrize("scale", [2.0, 9.0])
def test_closure(scale):
    check_grads(make_closure(scale), X)


def test_python_float_argument():
    def pf(h, c):
        try:
            r = 1.0 / c
        except ZeroDivisionError:
            r = 7.0
        return np.sum(h * r)

    def f(h, c):
        y = pf(h, c)
        return y, dlgradient(y, h)
    for c in (0.0, 2.0):
        y, g = dlfeval(f, dlarray(X), c)
        assert np.allclose(D(y), pf(X, c)) and np.allclose(D(g), 7.0 if c == 0.0 else 0.5)


def test_scalar_argument_numpy_semantics():
    """A 0-d float64 argument: numpy's 1/0 is inf, not ZeroDivisionError (scalar specialisation
    runs Python floats: the probe is given numpy's values)."""
    def plain(s):
        t = s * 2.0
        try:
            r = 1.0 / (t - t)
        except ZeroDivisionError:
            r = 3.0
        if not np.isfinite(r):
            r = 4.0
        return s * r

    def f(s):
        y = plain(s)
        return y, dlgradient(y, s)

    def entry(s):
        t = s * 2.0
        try:
            r = 1.0 / (t - t)
        except ZeroDivisionError:
            r = 3.0
        if not np.isfinite(r):
            r = 4.0
        y = s * r
        return y, dlgradient(y, s)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for fun in (f, entry):
            y, g = dlfeval(fun, dlarray(2.0))
            assert float(D(y)) == plain(np.float64(2.0)) == 8.0 and float(D(g)) == 4.0
        old = np.seterr(all="raise")
        try:
            y, g = dlfeval(entry, dlarray(2.0))      # FloatingPointError, uncaught: Python's error
        except Exception as error:
            assert "FloatingPointError" in str(error) or isinstance(error, FloatingPointError)
        else:
            raise AssertionError("expected the FloatingPointError Python raises")
        finally:
            np.seterr(**old)


# --- forward mode and higher derivatives --------------------------------------------------------------

def two_tries(h):
    try:
        h = np.linalg.solve(np.eye(4) * 2.0 + np.outer(h, h) * 0.1, h)
    except np.linalg.LinAlgError:
        h = h * 0.5
    try:
        if h[1] > 0:
            raise ValueError
        h = h * h
    except ValueError:
        h = np.sin(h)
    return np.sum(h ** 3)


def _gradient(f, x):
    def w(z):
        y = f(z)
        return y, dlgradient(y, z)
    return D(dlfeval(w, dlarray(x))[1])


@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_jvp(sign):
    x = X * sign
    y, jv = sct.jvp(two_tries, (x,), (V,))
    assert np.allclose(y, two_tries(x))
    assert np.allclose(jv, numerical_gradient(two_tries, [x], 0) @ V, atol=1e-7)


@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_second_derivatives(sign):
    x = X * sign
    eps = 1e-5
    fd = (_gradient(two_tries, x + eps * V) - _gradient(two_tries, x - eps * V)) / (2 * eps)
    assert np.allclose(D(sct.hvp(two_tries, x, V)), fd, rtol=1e-5, atol=1e-7)

    def nested(z):
        y = two_tries(z)
        g = dlgradient(y, z, EnableHigherDerivatives=True)
        return dlgradient(np.sum(g * V), z)
    assert np.allclose(D(dlfeval(nested, dlarray(x))), fd, rtol=1e-5, atol=1e-7)


# --- refused -----------------------------------------------------------------------------------------------

def _user(h):
    print("scaling")        # (a pure one is run by the probe: tests/test_refuse55b_s55.py; one that prints is not)
    return h * 2


def r_item_write(h):
    g = h.copy()
    try:
        g[0] = 1.0
    except IndexError:
        pass
    return np.sum(g)


def r_append(h):
    out = [h]
    try:
        out.append(out[-1] * 2)     # (a value read from the list: not moved to the else block, s51)
    except Exception:
        pass
    return np.sum(h)


def r_random(h):
    try:
        n = np.random.normal(size=4)
    except Exception:
        n = 0.0
    return np.sum(h + n)


def r_user_function(h):
    try:
        y = _user(h)
    except Exception:
        y = h
    return np.sum(y)


def r_augmented(h):
    try:
        h += 1.0
    except Exception:
        pass
    return np.sum(h)


def r_return(h):
    try:
        if h[0] > 0:
            return np.sum(h)
        v = h[9]
    except IndexError:
        v = h[0]
    return v


def r_return_with_finally(h):
    try:
        return np.sum(h)
    except Exception:
        return 0.0
    finally:
        h = h * 2


def r_nested(h):
    try:
        try:
            y = h[9]
        except IndexError:
            y = h[0]
    except Exception:
        y = h[1]
    return y * 2


def r_finally_prints(h):
    try:
        y = h * 2
    finally:
        print("done")
    return np.sum(y)


def r_break_with_finally(h):
    for i in range(3):
        try:
            for k in range(2):
                h = h * 2
                if i == 1:
                    return np.sum(h)    # (leaving two loops: not written out; a break of the try's loop
        finally:                        # runs, s51: tests/test_user_refusals_s51.py)
            h = h + 1
    return np.sum(h)


def r_out_keyword(h):
    g = np.zeros(4)
    try:
        np.multiply(h, 2, out=g)
    except Exception:
        pass
    return np.sum(h * g)


def r_fill(h):
    g = np.zeros(4)
    try:
        g.fill(2.0)
    except Exception:
        pass
    return np.sum(h * g)


def r_error_name_after(h):
    e = 1.0
    try:
        k = h[7]
    except IndexError as e:  # noqa: F841
        k = h[0]
    return k * e


def r_with_inside(h):
    try:
        with np.errstate(all="raise"):
            k = h / 0.0
    except FloatingPointError:
        k = h
    return np.sum(k)


def r_lambda(h):
    try:
        k = (lambda z: z * 2)(h)
    except Exception:
        k = h
    return np.sum(k)


def r_undefined(h):
    try:
        k = h * undefined_name  # noqa: F821
    except NameError:
        k = h
    return np.sum(k)


def r_out_by_position(h):
    g = np.zeros(4)
    try:
        np.add(h, 1.0, g)
    except ValueError:
        pass
    return np.sum(h * g)


def r_method_out_by_position(h):
    g = np.zeros(())
    try:
        s = h.sum(0, None, g)
    except ValueError:
        s = 0.0
    return np.sum(h) * s


def pure_calls_with_positions(h):
    try:
        s = np.sum(h, 0) + h.sum(0) + np.add.reduce(h, 0) + np.maximum(h, 0.0).max(0) + np.clip(h, 0, 1).sum()
        t = float(s) / float(np.sum(h[h > 10.0]))
    except ZeroDivisionError:
        t = s
    return np.sum(h) * t


def test_pure_calls_with_positional_arguments():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        check_grads(pure_calls_with_positions, X)


@pytest.mark.parametrize("fun, construct", [
    (r_out_by_position, "np.add(...) with its out given by position"),
    (r_method_out_by_position, "h.sum(...) with its out given by position"),
    (r_item_write, "a write into an item"), (r_append, "out.append"), (r_random, "np.random.normal"),
    (r_user_function, "_user(...) (a function of your own)"), (r_augmented, "augmented assignment"),
    (r_return, "return inside try"), (r_return_with_finally, "return inside a try with finally"), (r_nested, "a nested try"), (r_finally_prints, "print(...) inside finally"),
    (r_break_with_finally, "return inside a try with finally"), (r_out_keyword, "out="),
    (r_fill, "g.fill"), (r_error_name_after, "a read of e outside its handler"),
    (r_with_inside, "a with statement"), (r_lambda, "a call of a computed function"),
    (r_undefined, "undefined_name"),
])
def test_refused(fun, construct):
    def f(h):
        y = fun(h)
        return y, dlgradient(y, h)
    with pytest.raises(CompileError) as info:
        dlfeval(f, dlarray(X))
    message = str(info.value)
    assert construct in message, message
    assert "test_try_dec20.py" in message and f"{fun.__name__}()" in message
    assert "line" in message


class Counter:
    def __init__(self):
        self.n = 0

    @property
    def v(self):
        self.n += 1
        return self.n


def r_object(h, o):
    try:
        k = o.v
    except Exception:
        k = 0
    return np.sum(h) * k


def r_defaultdict(h, d):
    try:
        k = d["a"]
    except KeyError:
        k = 5.0
    return np.sum(h) * k


@pytest.mark.parametrize("fun, arg", [(r_object, Counter()), (r_defaultdict, collections.defaultdict(float))])
def test_refused_when_it_runs(fun, arg):
    """Values whose reads may change them (a property counting its reads, a defaultdict's
    insertion) are not handed to the probe: refused when the code runs."""
    def f(h, o):
        y = fun(h, o)
        return y, dlgradient(y, h)
    with pytest.raises(sct.SctError, match="runs the body of a try first"):
        dlfeval(f, dlarray(X), arg)


# --- what the body bound before it raised ------------------------------------------------------------

def bound_before_raise(h):
    p = {"a": 1.0}
    h = h * 1.0
    try:
        h = h * 2
        a = np.sin(h)
        z = p["missing"]
        h = h * 100
    except KeyError:
        z = h * 0.5 + a          # Python: h and a as the body left them
    return np.sum(z * h)


def raise_after_assignment(h):
    try:
        h = h * 2
        if h[0] > 0:
            raise ValueError
        h = h * 3
    except ValueError:
        h = h + 1
    return np.sum(h * h)


def loop_then_raise(h):
    tot = 0.0
    try:
        for i in range(3):
            tot = tot + h[i]
        v = h[9]  # noqa: F841
    except IndexError:
        tot = tot * 2
    return tot * np.sum(h)


class MyError(Exception):
    pass


def user_exception_reraised(h):
    try:
        if h[0] > 0:
            raise MyError("positive")
        y = h * 2.0
    except MyError:
        y = h * 3.0
    try:
        z = y[0] / 1.0
    except ZeroDivisionError:
        raise
    return np.sum(y) * z


@pytest.mark.parametrize("fun", [bound_before_raise, raise_after_assignment, loop_then_raise,
                                 user_exception_reraised])
@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_statements_before_the_raise(fun, sign):
    check_grads(fun, X * sign)


def test_partial_loop_refused_when_it_runs():
    def loop_partial(h):
        tot = 0.0
        try:
            for i in range(6):
                tot = tot + h[i]
        except IndexError:
            tot = tot * 2
        return tot * np.sum(h)

    def f(h):
        y = loop_partial(h)
        return y, dlgradient(y, h)
    y, g = dlfeval(f, dlarray(np.arange(6.0)))      # nothing raised: differentiated
    assert np.allclose(D(y), loop_partial(np.arange(6.0)))
    with pytest.raises(sct.SctError, match="cannot replay part of that block"):
        dlfeval(f, dlarray(X))


class Plain:
    __slots__ = ("W", "b")

    def __init__(self):
        self.W = np.eye(4) * 3.0
        self.b = 0.5


def test_objects_plain_attributes():
    o = Plain()

    def fun(h):
        try:
            z = np.linalg.solve(o.W + np.outer(h, h), h) + o.b
        except np.linalg.LinAlgError:
            z = h
        return np.sum(z ** 2)
    check_grads(fun, X)


def gen_items_with_try(u):
    for i in range(6):
        try:
            v = u[i]
        except IndexError:
            v = u[0] * 2
        yield v * v


def sums_generator(h):
    return sum(gen_items_with_try(h))


def nested_def_with_try(h):
    acc = h * 0.0

    def bump(v):
        nonlocal acc
        try:
            w = v[9]
        except IndexError:
            w = v * 2
        acc = acc + w

    def pick(v, i):
        try:
            return_value = v[i]
        except IndexError as e:
            return_value = v[0] * len(str(e)) * 0.0 + v[0]
        return return_value
    bump(h)
    bump(h * h)
    return np.sum(acc ** 2) + pick(h, 1) * pick(h, 8)


@pytest.mark.parametrize("fun", [sums_generator, nested_def_with_try])
def test_generator_and_nested_def(fun):
    check_grads(fun, X)
    check_grads(fun, -X)


def r_finally_augmented(h):
    try:
        y = h * 2
    finally:
        h += 0.1          # (may write into the caller's array: skipped where the body raised)
    return np.sum(y * h)


def test_finally_augmented_refused():
    def f(h):
        y = r_finally_augmented(h)
        return y, dlgradient(y, h)
    with pytest.raises(CompileError, match=r"augmented assignment \(\+=\) inside finally"):
        dlfeval(f, dlarray(X))


# --- regression: the probe's attribute read once shadowed support._plain_attribute ----------------------

class Holder:
    def __init__(self):
        self.W = dlarray(np.array([1.0, 2.0, 3.0]))


def test_gradient_object_changed_in_place_still_followed():
    """rt.attribute_is_held (a change in place of a gradients object's attribute) calls
    support._plain_attribute; the try probe's attribute read had been given the same name, after it,
    and answered with the attribute's value: 'the truth value of an array is ambiguous'."""
    def f(m, x):
        y = np.sum(m.W * x)
        g = dlgradient(y, m)
        w = g.W
        w[0] = 0.0
        return g.W
    assert np.array_equal(D(dlfeval(f, Holder(), dlarray(np.array([4.0, 5.0, 6.0])))), [0.0, 5.0, 6.0])


# --- a return closing the body -------------------------------------------------------------------------

def _solve_or_lstsq(A, b):
    try:
        return np.linalg.solve(A, b)
    except np.linalg.LinAlgError:
        return np.linalg.lstsq(A, b, rcond=None)[0]


def solve_or_least_squares(h):
    return np.sum(_solve_or_lstsq(np.diag(h) + np.outer(h, h) * 0.0, h * h) ** 2)


def return_skips_else(h):
    try:
        v = h * 2
        return np.sum(v[7])
    except IndexError:
        pass
    else:
        h = h * 100
    return np.sum(h ** 2)


def return_or_zero(h):
    try:
        return np.sum(h) * {"a": 2.0}["a"]
    except KeyError:
        return 0.0


@pytest.mark.parametrize("fun", [solve_or_least_squares, return_skips_else, return_or_zero])
def test_return_closing_the_body(fun):
    check_grads(fun, X)
    check_grads(fun, -X)
    check_grads(fun, np.array([0.0, 0.4, -0.7, 1.3]))       # (np.diag singular: lstsq)
