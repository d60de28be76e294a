"""Check one generated program: sct against plain Python and central differences.

Outcomes:
  PASSED   value, argument states and every gradient agree;
  REFUSED  sct raised CompileError / EvaluationError (its reason is bucketed);
  WRONG    a value, an argument's state after the call, a gradient's structure
           or a gradient differs from the reference;
  CRASHED  any other exception from sct (or a timeout);
  SKIPPED  the reference itself is unusable (plain Python raises or is not
           finite, or central differences with two steps disagree: a kink).
"""
from __future__ import annotations

import copy
import dataclasses
import importlib.util
import os
import re
import signal
import sys
import traceback
from dataclasses import dataclass, field
from typing import Any, Callable, List, Optional

import numpy as np

_TESTS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if _TESTS not in sys.path:
    sys.path.insert(0, _TESTS)

from gradcheck import numerical_gradient  # noqa: E402

from .generator import ARG_INDEX, Program, Ref, generate  # noqa: E402

ARG_NAMES = {i: n for n, i in ARG_INDEX.items()}

RTOL, ATOL = 1e-4, 1e-6          # first-order gradients against central differences
RTOL2, ATOL2 = 2e-3, 1e-5        # second order: differences of sct's own first-order gradients
# Programs storing values in float32 (np.zeros(..., dtype=np.float32)): their loss is rounded to
# about 1e-7 of itself, too coarse for differences.  Their gradients are checked against the same
# program in float64 (the function float32 approximates; sct's adjoints of float32 arrays are float32,
# hence the looser tolerances), their values against plain Python's float32 run.
F32_TOL, F32_TOL2, F32_VALUE_RTOL = (1e-3, 1e-5), (5e-3, 1e-4), 1e-6
VALUE_RTOL, VALUE_ATOL = 1e-9, 1e-12


@dataclass
class Result:
    seed: int
    status: str                       # PASSED REFUSED WRONG CRASHED SKIPPED
    kind: str = ""                    # for WRONG/CRASHED: value / state / structure / gradient / exception type
    reason: str = ""                  # one line
    detail: str = ""
    features: List[str] = field(default_factory=list)
    source: str = ""
    attempt: int = 0

    @property
    def signature(self) -> str:
        return f"{self.status}:{self.kind}"


class Mismatch(Exception):
    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind


class Unreliable(Exception):
    pass


class _Timeout(BaseException):
    pass


# ---------------------------------------------------------------------------
# structures

def is_dl(v) -> bool:
    return type(v).__name__ == "dlarray" and hasattr(v, "data")


def arr(v) -> np.ndarray:
    return np.asarray(v.data) if is_dl(v) else np.asarray(v)


def is_float_array(v) -> bool:
    return isinstance(v, np.ndarray) and v.dtype.kind == "f"


def get_path(root, path):
    for kind, k in path:
        root = getattr(root, k) if kind == "attr" else root[k]
    return root


def set_path(root, path, value):
    """Return ``root`` with the leaf at ``path`` replaced (in place for mutable containers)."""
    if not path:
        return value
    (kind, k), rest = path[0], path[1:]
    if kind == "attr":
        setattr(root, k, set_path(getattr(root, k), rest, value))
        return root
    if isinstance(root, tuple):
        items = list(root)
        items[k] = set_path(items[k], rest, value)
        return type(root)(items)
    root[k] = set_path(root[k], rest, value)
    return root


def to_sct(obj):
    """A deep copy of the arguments with every float array turned into a dlarray."""
    from sct import dlarray
    obj = copy.deepcopy(obj)

    def conv(v):
        if is_float_array(v):
            return dlarray(v)
        if isinstance(v, dict):
            for k in list(v):
                v[k] = conv(v[k])
            return v
        if isinstance(v, list):
            for i in range(len(v)):
                v[i] = conv(v[i])
            return v
        if isinstance(v, tuple):
            return type(v)(conv(e) for e in v)
        if hasattr(v, "__dict__") and not isinstance(v, type):
            for k in list(vars(v)):
                setattr(v, k, conv(getattr(v, k)))
            return v
        return v
    return conv(obj)


def snapshot(obj, path=(), out=None) -> dict:
    """Every leaf of the arguments by path, as float64 arrays (dlarray and ndarray alike)."""
    out = {} if out is None else out
    if is_dl(obj) or isinstance(obj, (np.ndarray, np.number, float, int, bool)):
        out[path] = np.array(arr(obj), dtype=float)
    elif isinstance(obj, dict):
        out[path + (("keys",),)] = tuple(obj)
        for k, v in obj.items():
            snapshot(v, path + (("key", k),), out)
    elif isinstance(obj, (list, tuple)):
        out[path + (("len",),)] = len(obj)
        for i, v in enumerate(obj):
            snapshot(v, path + (("idx", i),), out)
    elif hasattr(obj, "__dict__"):
        out[path + (("attrs",),)] = tuple(sorted(vars(obj)))
        for k in sorted(vars(obj)):
            snapshot(getattr(obj, k), path + (("attr", k),), out)
    else:
        out[path] = repr(type(obj))
    return out


def show_path(path) -> str:
    s = ""
    for step in path:
        if step[0] == "arg":
            s += ARG_NAMES[step[1]]
        elif step[0] == "idx":
            s += f"[{step[1]}]"
        elif step[0] == "key":
            s += f"[{step[1]!r}]"
        elif step[0] == "attr":
            s += f".{step[1]}"
        else:
            s += f"<{step[0]}>"
    return s


def compare_states(plain: dict, got: dict, what: str):
    if set(plain) != set(got):
        diff = sorted(map(show_path, set(plain) ^ set(got)))
        raise Mismatch("state", f"{what}: argument structure after the call differs at {diff[:3]}")
    for k in plain:
        a, b = plain[k], got[k]
        if isinstance(a, np.ndarray):
            if a.shape != np.shape(b) or not np.allclose(a, b, rtol=VALUE_RTOL, atol=VALUE_ATOL, equal_nan=True):
                raise Mismatch("state", f"{what}: argument {show_path(k)} after the call is {b} in sct, "
                                        f"{a} in plain Python")
        elif a != b:
            raise Mismatch("state", f"{what}: argument {show_path(k)} after the call: {b} in sct, {a} in plain Python")


def expected_leaves(got, exp, args, where="") -> list:
    """Match sct's gradient structure ``got`` against the expected one; the (path, got) of its array leaves."""
    leaves = []
    if isinstance(exp, Ref):
        _match_actual(got, get_path(args, exp.path), exp.path, leaves)
    elif isinstance(exp, dict):
        if not isinstance(got, dict) or list(got) != list(exp):
            raise Mismatch("structure", f"gradient{where}: expected a dict with keys {list(exp)}, got {_desc(got)}")
        for k in exp:
            leaves += expected_leaves(got[k], exp[k], args, f"{where}[{k!r}]")
    elif isinstance(exp, (list, tuple)):
        if type(got) is not type(exp) or len(got) != len(exp):
            raise Mismatch("structure", f"gradient{where}: expected a {type(exp).__name__} of {len(exp)}, "
                                        f"got {_desc(got)}")
        for i, (g, e) in enumerate(zip(got, exp)):
            leaves += expected_leaves(g, e, args, f"{where}[{i}]")
    return leaves


def _desc(v) -> str:
    if isinstance(v, (list, tuple)):
        return f"a {type(v).__name__} of {len(v)}"
    if isinstance(v, dict):
        return f"a dict with keys {list(v)}"
    return type(v).__name__


def _match_actual(got, actual, path, leaves):
    where = show_path(path)
    if is_float_array(actual):
        if not (is_dl(got) or isinstance(got, np.ndarray)) or arr(got).shape != actual.shape:
            raise Mismatch("structure", f"gradient for {where}: expected an array of shape {actual.shape}, "
                                        f"got {_desc(got)} {np.shape(arr(got)) if got is not None else ''}")
        leaves.append((path, arr(got)))
    elif isinstance(actual, dict):
        if not isinstance(got, dict) or list(got) != list(actual):
            raise Mismatch("structure", f"gradient for {where}: expected a dict with keys {list(actual)}, "
                                        f"got {_desc(got)}")
        for k in actual:
            _match_actual(got[k], actual[k], path + (("key", k),), leaves)
    elif isinstance(actual, (list, tuple)):
        if type(got) is not type(actual) or len(got) != len(actual):
            raise Mismatch("structure", f"gradient for {where}: expected a {type(actual).__name__} of "
                                        f"{len(actual)}, got {_desc(got)}")
        for i, (g, a) in enumerate(zip(got, actual)):
            _match_actual(g, a, path + (("idx", i),), leaves)
    elif hasattr(actual, "__dict__"):
        if type(got) is not type(actual):
            raise Mismatch("structure", f"gradient for {where}: expected a {type(actual).__name__}, got {_desc(got)}")
        for k in vars(actual):
            _match_actual(getattr(got, k, None), getattr(actual, k), path + (("attr", k),), leaves)


def _close(a, b, rtol, atol) -> bool:
    scale = max(1.0, float(np.max(np.abs(b)))) if np.size(b) else 1.0
    return a.shape == b.shape and bool(np.all(np.isfinite(a))) and \
        np.allclose(a, b, rtol=rtol, atol=atol * scale)


def fd_check(got: np.ndarray, fun: Callable, leaf0: np.ndarray, what: str, rtol=RTOL, atol=ATOL,
             step=1e-6):
    """``got`` against central differences of ``fun(leaf)``; Unreliable when two steps disagree."""
    leaf0 = np.array(leaf0, dtype=float)
    exp = numerical_gradient(fun, [leaf0.copy()], 0, step)
    if _close(got, exp, rtol, atol):
        return
    exp2 = numerical_gradient(fun, [leaf0.copy()], 0, step * 10)
    if not _close(exp2, exp, rtol * 10, atol * 10):
        raise Unreliable(f"{what}: central differences with steps {step} and {step * 10} disagree")
    if _close(got, exp2, rtol, atol):
        return
    if _kink(fun, leaf0, step * 10, rtol, atol):
        raise Unreliable(f"{what}: one-sided differences disagree (a kink: ties of sort, max, abs...)")
    raise Mismatch("gradient", f"{what}: sct {np.round(got, 6).tolist()} but central differences "
                               f"{np.round(exp, 6).tolist()}")


def _kink(fun: Callable, leaf0: np.ndarray, step: float, rtol: float, atol: float) -> bool:
    """Whether forward and backward differences disagree somewhere: the program is not
    differentiable at this point (central differences then average the two sides, and any
    one-sided derivative, which sct may give, is as right)."""
    base = float(np.real(fun(leaf0.copy())))
    flat = leaf0.reshape(-1)
    # directional derivatives along a few random directions must be linear in the direction
    # (ties of sort/max make each coordinate look smooth while mixed directions are not)
    grad = numerical_gradient(fun, [leaf0.copy()], 0, step)
    rng = np.random.default_rng(flat.size)
    for _ in range(3):
        d = rng.standard_normal(leaf0.shape)
        d /= np.linalg.norm(d) or 1.0
        forward = (float(np.real(fun(leaf0 + step * d))) - base) / step
        linear = float(np.sum(np.real(grad) * d))
        if abs(forward - linear) > atol + rtol * max(abs(forward), abs(linear), 1.0) + 10 * step:
            return True
    for k in range(flat.size):
        up, down = leaf0.copy(), leaf0.copy()
        up.reshape(-1)[k] += step
        down.reshape(-1)[k] -= step
        forward = (float(np.real(fun(up))) - base) / step
        backward = (base - float(np.real(fun(down)))) / step
        if abs(forward - backward) > atol + rtol * max(abs(forward), abs(backward), 1.0):
            return True
    return False


# ---------------------------------------------------------------------------

def load(source: str, name: str, folder: str):
    path = os.path.join(folder, f"{name}.py")
    with open(path, "w") as fh:
        fh.write(source)
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module          # dataclasses look their module up
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    return module


def _plain(fun, args):
    return fun(*copy.deepcopy(args))


def perturbed(args):
    """The arguments with every float array moved (same shapes, other values)."""
    def move(v):
        if is_float_array(v):
            return v * 0.8 + 0.15 * np.sin(3.0 * v + 1.0)
        if isinstance(v, dict):
            return {k: move(e) for k, e in v.items()}
        if isinstance(v, list):
            return [move(e) for e in v]
        if isinstance(v, tuple):
            return type(v)(move(e) for e in v)
        if hasattr(v, "__dict__") and not isinstance(v, type):
            for k in list(vars(v)):
                setattr(v, k, move(getattr(v, k)))
        return v
    return move(copy.deepcopy(args))


def check_module(module, program: Program, ref=None, args0=None, run=None) -> None:
    """Raise Mismatch / Unreliable / sct's exception; return when everything agrees.  ``ref``: the
    module whose f, g1, pre and tail differences are taken of (a float32 program's float64 twin).
    ``args0``: the arguments (make_args() by default); ``run``: how g runs (dlfeval by default)."""
    from sct import dlfeval
    ref = module if ref is None else ref
    if program.driver == "driver_accelerated" and run is None:
        # one AcceleratedFunction called on the arguments, on other values of them (its cache hit:
        # nothing of the first call's values may stay in the compiled code), then on the first again
        import sct
        acc = sct.dlaccelerate(module.g)
        first = module.make_args()

        def run(s_args):
            return sct.dlfeval(acc, *s_args)
        for args in (first, perturbed(first), first):
            check_module(module, program, ref, args, run)
        return
    args0 = module.make_args() if args0 is None else args0

    # --- plain Python reference values
    a = copy.deepcopy(args0)
    try:
        with np.errstate(all="raise"):
            y_plain = float(module.f(*a))
    except Exception as exc:
        raise Unreliable(f"plain Python raises {type(exc).__name__}: {exc}")
    if not np.isfinite(y_plain) or abs(y_plain) > 1e6:
        raise Unreliable(f"plain value {y_plain}")
    state_plain = snapshot(a)

    def loss_with(path):
        def fun(leaf):
            return float(ref.f(*set_path(copy.deepcopy(args0), path, leaf)))
        return fun

    low = ref is not module
    tol = dict(rtol=F32_TOL[0], atol=F32_TOL[1]) if low else {}
    tol2 = dict(zip(("rtol", "atol"), F32_TOL2 if low else (RTOL2, ATOL2)), step=1e-5)
    value_rtol = F32_VALUE_RTOL if low else VALUE_RTOL

    def check_first(gname: str, target, got_grads, what):
        for path, got in expected_leaves(got_grads, target.expected, args0):
            fd_check(got, loss_with(path), get_path(args0, path), f"{what} d{gname}/d{show_path(path)}", **tol)

    driver = program.driver
    if driver == "driver_second_order":
        s_args = to_sct(args0)
        out = dlfeval(module.g1, *s_args)
        compare_states(state_plain, snapshot(s_args), "g1")
        _check_value(arr(out[0]), y_plain, "y", rtol=value_rtol)
        check_first("y", program.target, out[1], "first order")
        leaves = expected_leaves(out[1], program.target.expected, args0)
        z_expected = sum(float(np.sum(g ** 2)) for _, g in leaves) + 0.5 * y_plain
        s_args = to_sct(args0)
        out2 = dlfeval(module.g, *s_args)
        compare_states(state_plain, snapshot(s_args), "g")
        _check_value(arr(out2[0]), z_expected, "z = sum(gr ** 2) + y / 2", rtol=1e-5 if low else 1e-7, atol=1e-10)

        def z_with(path):
            def fun(leaf):
                o = dlfeval(ref.g1, *to_sct(set_path(copy.deepcopy(args0), path, leaf)))
                ls = expected_leaves(o[1], program.target.expected, args0)
                return sum(float(np.sum(g ** 2)) for _, g in ls) + 0.5 * float(arr(o[0]))
            return fun
        for path, got in expected_leaves(out2[1], program.target.expected, args0):
            fd_check(got, z_with(path), get_path(args0, path), f"second order dz/d{show_path(path)}", **tol2)
        return

    s_args = to_sct(args0)
    out = dlfeval(module.g, *s_args) if run is None else run(s_args)
    compare_states(state_plain, snapshot(s_args), "g")
    if not isinstance(out, tuple):
        raise Mismatch("structure", f"g returned {_desc(out)}")
    _check_value(arr(out[0]), y_plain, "y", rtol=value_rtol)
    if driver == "driver_reassigned":
        a2 = copy.deepcopy(args0)
        now = np.array(ref.pre(*a2), dtype=float)

        def tail_with(leaf):
            return float(ref.tail(leaf, *copy.deepcopy(a2)))
        got = out[1]
        if not (is_dl(got) or isinstance(got, np.ndarray)) or arr(got).shape != now.shape:
            raise Mismatch("structure", f"gradient for {program.state}: got {_desc(got)}")
        fd_check(arr(got), tail_with, now, f"dy/d{program.state} (its current value)", **tol)
        return
    check_first("y", program.target, out[1], "")
    if driver == "driver_several":
        check_first("y", program.second_target, out[2], "second dlgradient:")


def _check_value(got, expected, what, rtol=VALUE_RTOL, atol=VALUE_ATOL):
    if got.shape != () and got.size != 1:
        raise Mismatch("value", f"{what}: sct returned shape {got.shape}, plain Python a scalar")
    if not np.allclose(float(got.reshape(-1)[0]), expected, rtol=rtol, atol=atol):
        raise Mismatch("value", f"{what}: sct {float(got.reshape(-1)[0])!r}, plain Python {expected!r}")


_LOCATION = re.compile(r"^.*?, line \d+: ")


def bucket(message: str) -> str:
    """The reason's first line without file, line and the user's code: a key for counting."""
    line = (message.strip().splitlines() or [""])[0]
    line = _LOCATION.sub("", line)
    line = re.sub(r"`[^`]*`", "`…`", line)
    line = re.sub(r"'[^']*'", "'…'", line)
    line = re.sub(r"\d+", "N", line)
    return line[:140]


def run_program(program: Program, folder: str, name: Optional[str] = None, timeout: float = 30.0) -> Result:
    from sct import CompileError, EvaluationError
    source = program.source()
    name = name or f"progtest_{program.seed}_{os.getpid()}"
    res = Result(program.seed, "PASSED", features=program.features, source=source)
    module = None
    old = None
    if timeout and hasattr(signal, "SIGVTALRM"):
        # CPU time of this process, not wall clock: a loaded machine does not make programs time out
        def on_alarm(signum, frame):
            raise _Timeout()
        old = signal.signal(signal.SIGVTALRM, on_alarm)
        signal.setitimer(signal.ITIMER_VIRTUAL, timeout)
    try:
        module = load(source, name, folder)
        ref = None
        if program.low_precision:
            ref = load(source.replace("np.float32", "np.float64"), name + "_f64", folder)
        check_module(module, program, ref)
    except Unreliable as exc:
        res.status, res.reason = "SKIPPED", str(exc).splitlines()[0]
    except Mismatch as exc:
        res.status, res.kind, res.reason = "WRONG", exc.kind, str(exc)
    except (CompileError, EvaluationError) as exc:
        res.status, res.reason, res.detail = "REFUSED", bucket(str(exc)), str(exc)
        res.kind = type(exc).__name__
    except _Timeout:
        res.status, res.kind, res.reason = "CRASHED", "timeout", f"no result after {timeout} s of CPU time"
    except Exception as exc:
        res.status, res.kind = "CRASHED", type(exc).__name__
        res.reason = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"[:300]
        res.detail = traceback.format_exc()
    finally:
        if old is not None:
            signal.setitimer(signal.ITIMER_VIRTUAL, 0)
            signal.signal(signal.SIGVTALRM, old)
        for n in (name, name + "_f64"):
            sys.modules.pop(n, None)
            try:
                os.remove(os.path.join(folder, f"{n}.py"))
            except OSError:
                pass
    return res


def run_seed(seed: int, folder: str, features=None, timeout: float = 30.0, attempts: int = 6,
             avoid=()) -> Result:
    """Program ``seed``: regenerated (next attempt) while its reference is unusable."""
    res = None
    for attempt in range(attempts):
        program = generate(seed * 1000 + attempt, features, avoid)
        res = run_program(program, folder, f"progtest_{seed}_{attempt}_{os.getpid()}", timeout)
        res.attempt = attempt
        if res.status != "SKIPPED":
            return res
    return res


_LOCATED = re.compile(r"\b\w+(Error|Exception|Warning) while (evaluating|computing the gradient of) `")


def internal(reason: str) -> bool:
    """A refusal that is really a failure of sct: an internal error of the compiler, or a Python
    exception inside generated code (plain Python ran the same program on the same arguments fine)."""
    return "internal error" in reason or bool(_LOCATED.search(reason))
