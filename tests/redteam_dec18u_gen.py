"""A differential random-program red team for sct (dec18u), apart from scripts/progtest.py.

Each program is a function ``prog(x, m, p)`` of a vector ``x`` (3,), a matrix ``m`` (2, 3) and
parameters ``p`` (a dict or a namedtuple ``P(w, b)``), written the way users write numpy: calls
with ``axis=``/``keepdims=``, fancy indexing, ``np.add.at`` into float64/float32/int arrays,
in-place item writes and ``+=``, dicts, namedtuples, local lambdas, ``np.all``/``np.any``,
``np.where``, loops, reductions, float32 casts.  Each one is checked:

* value: ``dlfeval`` against plain Python;
* first order: ``dlgradient(l, x, m, p)`` against central differences;
* second order: ``dlgradient`` of ``sum(gx * c) + sum(sin(gm))`` (``EnableHigherDerivatives=True``)
  against central differences of sct's first-order gradient;
* ``sct.jvp`` (x, m) against a directional difference; ``sct.hvp`` (x) against differences of the
  first-order gradient.

    python tests/redteam_dec18u_gen.py --n 500 --seed 0 --out /tmp/rt_u/run0

Outcomes per stage: ok, refused (an SctError naming the program's file), internal (an internal
error or a foreign exception from sct), value / grad / grad2 / jvp / hvp (a wrong number), skip
(plain Python raises, or a non-finite value).
"""
from __future__ import annotations

import argparse
import collections
import importlib.util
import json
import os
import random
import sys
import traceback

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)


# --- the generator -------------------------------------------------------------------------------

class Gen:
    def __init__(self, seed: int):
        self.r = random.Random(seed)
        self.lines: list = []
        self.vecs = ["x"]
        self.mats = ["m"]
        self.scas: list = []
        self.n = 0
        self.float32 = False
        self.kinks = False
        self.lambdas: list = []

    def fresh(self, stem="t"):
        self.n += 1
        return f"{stem}{self.n}"

    def c(self):
        return repr(round(self.r.uniform(-1.5, 1.5), 2))

    def v(self):
        return self.r.choice(self.vecs)

    def mm(self):
        return self.r.choice(self.mats)

    def s(self):
        if self.scas and self.r.random() < 0.7:
            return self.r.choice(self.scas)
        return f"np.sum({self.v()}) * {self.c()}"

    def emit(self, *lines, ind=1):
        for line in lines:
            self.lines.append("    " * ind + line)

    # each statement template: writes lines, adds names
    def st_elementwise(self):
        a, b = self.v(), self.v()
        e = self.r.choice([f"{a} * {b}", f"{a} + {self.s()}", f"np.sin({a}) * {self.c()}",
                           f"np.tanh({a} + {b})", f"np.exp(0.3 * {a})", f"{a} / (1.0 + {b} ** 2)",
                           f"np.cos({a}) - {b}", f"{a} ** 2 - {self.c()} * {b}", f"np.log1p({a} ** 2)"])
        t = self.fresh()
        self.emit(f"{t} = {e}")
        self.vecs.append(t)

    def st_reduce(self):
        a = self.mm()
        fn = self.r.choice(["sum", "mean", "prod", "max", "min", "std"])
        if fn in ("max", "min"):
            self.kinks = True
        axis = self.r.choice([0, 1, -1, None])
        keep = self.r.random() < 0.5
        t = self.fresh()
        call = f"np.{fn}({a}" + ("" if axis is None else f", axis={axis}") + (", keepdims=True" if keep else "") + ")"
        if axis in (1, -1):
            shape = "col" if keep else "two"
        elif axis == 0:
            shape = "row" if keep else "vec"
        else:
            shape = "one" if keep else "sca"
        if shape == "vec":
            self.emit(f"{t} = {call}")
            self.vecs.append(t)
        elif shape == "row":
            self.emit(f"{t} = {call}[0]")
            self.vecs.append(t)
        elif shape == "sca":
            self.emit(f"{t} = {call}")
            self.scas.append(t)
        elif shape == "one":
            self.emit(f"{t} = {call} * {self.mm()}")
            self.mats.append(t)
        else:               # (2,) or (2, 1): broadcast back against a matrix
            col = call if shape == "col" else f"{call}[:, None]"
            self.emit(f"{t} = {self.mm()} - {col}")
            self.mats.append(t)

    def st_matrix(self):
        a, b = self.mm(), self.v()
        e = self.r.choice([f"{a} * {b}", f"np.stack([{b}, {self.v()}])", f"{b}[None, :] * {a}",
                           f"np.tanh({a}) + {self.s()}", f"{a}[::-1] * {a}", f"np.outer({b}, {self.v()})[1:]",
                           f"np.concatenate([{a}[:1], {b}[None]], axis=0)", f"{a} @ np.diag({b})",
                           f"np.reshape({a}, (3, 2)).T"])
        t = self.fresh()
        self.emit(f"{t} = {e}")
        self.mats.append(t)

    def st_matvec(self):
        a = self.mm()
        e = self.r.choice([f"{a}.T @ np.array([0.5, -1.2])", f"{a}[1]", f"{a}[:, [2, 0, 1]][0]",
                           f"np.sum({a} ** 2, axis=0, keepdims=True)[0]", f"{a}.reshape(-1)[1:4]",
                           f"np.einsum('ij,ij->j', {a}, {self.mm()})"])
        t = self.fresh()
        self.emit(f"{t} = {e}")
        self.vecs.append(t)

    def st_scalar(self):
        a = self.v()
        e = self.r.choice([f"np.sum({a} ** 2)", f"np.dot({a}, {self.v()})", f"{a}[{self.r.randrange(-3, 3)}]",
                           f"np.prod({a})", f"np.mean(np.sin({a}))", f"np.linalg.norm({a})",
                           f"{a} @ {self.v()}", f"np.sum({self.mm()}[:, 1])", f"np.vdot({a}, {a})",
                           f"sum({a}[i] * {self.c()} for i in range(3))"])
        t = self.fresh("s")
        self.emit(f"{t} = {e}")
        self.scas.append(t)

    def st_fancy(self):
        a = self.v()
        idx = self.r.choice(["[2, 0, 1]", "np.array([0, 0, 2])", "[1, 1, 1]", "np.array([-1, 0, 1])",
                             "np.argsort({a})".format(a=self.v())])
        t = self.fresh()
        self.emit(f"{t} = {a}[{idx}]")
        self.vecs.append(t)

    def st_mask(self):
        a, b = self.v(), self.v()
        t = self.fresh()
        kind = self.r.randrange(4)
        if kind == 0:
            self.emit(f"{t} = np.where({a} > {self.c()}, {b}, {a} * {self.c()})")
        elif kind == 1:
            self.emit(f"{t} = {a} * ({b} > {self.c()})")
        elif kind == 2:
            self.emit(f"{t} = {a}.copy()", f"{t}[{t} > {self.c()}] = 0.25")
        else:
            self.emit(f"{t} = np.maximum({a}, {b}) + np.abs({a})")
        self.kinks = True
        self.vecs.append(t)

    def st_add_at(self):
        dt = self.r.choice(["float", "np.float64", "np.float32", "int", "np.int64"])
        if dt == "np.float32":
            self.float32 = True
        t = self.fresh("z")
        idx = self.r.choice(["[0, 1, 1]", "np.array([2, 2, 0])", "[0, 1, 2]", "np.array([1, 1, 1])"])
        val = self.r.choice([self.v(), self.s()])
        self.emit(f"{t} = np.zeros(3, dtype={dt})", f"np.add.at({t}, {idx}, {val})")
        if dt in ("int", "np.int64"):
            self.emit(f"{t} = {t} * {self.v()}")
        elif dt == "np.float32":
            self.emit(f"{t} = {t} + {self.v()}")
        self.vecs.append(t)

    def st_setitem(self):
        t = self.fresh("w")
        dt = self.r.choice(["", "", ", dtype=np.float32", ", dtype=int"])
        if dt == ", dtype=np.float32":
            self.float32 = True
        base = self.r.choice([f"np.zeros(3{dt})", f"np.ones(3{dt})", f"{self.v()}.copy()", f"{self.v()} * 1.0"])
        if dt == ", dtype=int" and "copy" not in base and "*" not in base:
            base = base.replace(dt, ", dtype=int")
        self.emit(f"{t} = {base}")
        for _ in range(self.r.randrange(1, 4)):
            k = self.r.randrange(6)
            if k == 0:
                self.emit(f"{t}[{self.r.randrange(3)}] = {self.s()}")
            elif k == 1:
                self.emit(f"{t}[{self.r.randrange(3)}] += {self.v()}[{self.r.randrange(3)}]")
            elif k == 2:
                self.emit(f"{t}[1:] *= {self.v()}[:2]")
            elif k == 3:
                self.emit(f"{t}[[0, 2]] = {self.v()}[[1, 1]]")
            elif k == 4:
                self.emit(f"{t} += {self.v()}")
            else:
                self.emit(f"{t}[::-1] -= {self.s()}")
        if "int" in dt:
            self.emit(f"{t} = {t} * {self.v()}")
        self.vecs.append(t)

    def st_dict(self):
        d = self.fresh("d")
        a, b = self.v(), self.s()
        self.emit(f'{d} = {{"a": {a}, "b": {b}}}')
        k = self.r.randrange(4)
        if k == 0:
            self.emit(f'{d}["a"] = {d}["a"] * {d}["b"]')
        elif k == 1:
            self.emit(f"for k in {d}:", f"    {d}[k] = {d}[k] * 2.0")
        elif k == 2:
            self.emit(f'{d}["c"] = np.tanh({d}["a"])')
        else:
            self.emit(f'{d}["b"] += 1.0')
        t = self.fresh()
        self.emit(f"{t} = sum(np.sum(val) for val in {d}.values()) * {self.v()}")
        self.vecs.append(t)

    def st_namedtuple(self):
        q = self.fresh("q")
        self.emit(f"{q} = P({self.v()}, {self.s()})")
        t = self.fresh()
        k = self.r.randrange(3)
        if k == 0:
            self.emit(f"{t} = {q}.w * {q}.b")
        elif k == 1:
            self.emit(f"{q} = {q}._replace(b={q}.b * 2.0)", f"{t} = {q}.w + {q}.b")
        else:
            self.emit(f"ww, bb = {q}", f"{t} = ww * np.sin(bb)")
        self.vecs.append(t)

    def st_lambda(self):
        f = self.fresh("f")
        k = self.r.randrange(4)
        if k == 0:
            self.emit(f"{f} = lambda v: v * {self.c()}")
        elif k == 1:
            self.emit(f"{f} = lambda v: np.sin(v) + {self.s()}")
        elif k == 2:
            self.emit(f"{f} = lambda v, c={self.c()}: v ** 2 * c")
        else:
            self.emit(f"def {f}(v):", f"    return np.tanh(v) * {self.v()}")
        self.lambdas.append(f)
        t = self.fresh()
        self.emit(f"{t} = {f}({self.v()})")
        self.vecs.append(t)

    def st_call_lambda_later(self):
        if not self.lambdas:
            return self.st_lambda()
        t = self.fresh()
        f = self.r.choice(self.lambdas)
        self.emit(f"{t} = {f}({self.v()}) + {f}({self.v()}[::-1])")
        self.vecs.append(t)

    def st_allany(self):
        a = self.v()
        fn = self.r.choice(["np.all", "np.any"])
        t = self.fresh("flag")
        k = self.r.randrange(4)
        if k == 0:
            self.emit(f"{t} = {fn}({a} > {self.c()})")
        elif k == 1:
            self.emit(f"{t} = {fn}({self.mm()} > {self.c()}, axis={self.r.choice([0, 1])})")
            u = self.fresh()
            self.emit(f"{u} = np.sum({t}) * {a}")
            self.vecs.append(u)
            return
        elif k == 2:
            self.emit(f"{t} = {a}.any()")
        else:
            self.emit(f"{t} = {fn}({a})")
        u = self.fresh()
        if self.r.random() < 0.5:
            self.emit(f"{u} = {a} * (1.0 + {t})")
        else:
            self.emit(f"if {t}:", f"    {u} = {a} * 2.0", "else:", f"    {u} = {a} - 1.0")
        self.vecs.append(u)

    def st_loop(self):
        acc = self.fresh("acc")
        a, b = self.v(), self.v()
        k = self.r.randrange(4)
        if k == 0:
            self.emit(f"{acc} = np.zeros(3)", "for i in range(3):", f"    {acc} = {acc} + {a}[i] * {b}")
        elif k == 1:
            self.emit(f"{acc} = {a} * 1.0", "for i in range(2):", f"    {acc} = np.sin({acc}) * {b}")
        elif k == 2:
            self.emit(f"{acc} = np.zeros(3)", f"for i, val in enumerate({a}):",
                      f"    {acc}[i] = val * {b}[(i + 1) % 3]")
        else:
            self.emit(f"{acc} = {a} * 1.0", "n = 0", "while n < 2:", f"    {acc} = {acc} * 0.5 + {b}", "    n += 1")
        self.vecs.append(acc)

    def st_float32(self):
        a = self.v()
        t = self.fresh()
        self.float32 = True
        self.emit(self.r.choice([f"{t} = {a}.astype(np.float32) * {self.v()}",
                                 f"{t} = np.float32(1.5) * {a}",
                                 f"{t} = np.asarray({a}, dtype=np.float32) + np.float32(0.25)",
                                 f"{t} = ({a}.astype(np.float32) ** 2).astype(np.float64)"]).format(t=t))
        self.vecs.append(t)

    def st_int(self):
        a = self.v()
        t = self.fresh()
        self.emit(self.r.choice([f"{t} = {a} * np.arange(3)", f"{t} = {a}[int(np.argmax({self.v()}))] * {self.v()}",
                                 f"{t} = {a} * len({a}) + np.floor({self.v()})",
                                 f"{t} = {a} * np.array([1, -2, 3])"]))
        self.kinks = True
        self.vecs.append(t)

    def st_cumsum(self):
        a = self.v()
        t = self.fresh()
        self.emit(self.r.choice([f"{t} = np.cumsum({a})", f"{t} = np.cumprod({a} * 0.5 + 1.0)",
                                 f"{t} = np.sort({a})", f"{t} = np.diff(np.concatenate([[0.0], {a}]))",
                                 f"{t} = np.roll({a}, 1)", f"{t} = np.clip({a}, -0.5, 0.7)", f"{t} = np.flip({a})"]))
        self.vecs.append(t)

    def st_helper(self):
        t = self.fresh()
        self.emit(f"{t} = helper({self.v()}, {self.s()})")
        self.vecs.append(t)

    def st_list(self):
        t = self.fresh()
        lst = self.fresh("lst")
        self.emit(f"{lst} = [{self.v()}, {self.v()}]")
        k = self.r.randrange(3)
        if k == 0:
            self.emit(f"{lst}.append({self.v()} * 2.0)")
        elif k == 1:
            self.emit(f"{lst}[0] = {lst}[1] * {self.s()}")
        else:
            self.emit(f"{lst} = [e * 0.5 for e in {lst}]")
        self.emit(f"{t} = sum({lst})")
        self.vecs.append(t)

    def st_ufunc_at(self):
        t = self.fresh("z")
        k = self.r.randrange(5)
        if k == 0:
            dt = self.r.choice(["np.float32", "float", "int"])
            self.float32 |= dt == "np.float32"
            self.emit(f"{t} = np.zeros((2, 3), dtype={dt})",
                      f"np.add.at({t}, (np.array([0, 1, 0]), np.array([2, 2, 2])), {self.v()})",
                      f"{t} = np.sum({t}, axis=0) * {self.v()}")
        elif k == 1:
            self.emit(f"{t} = {self.v()} * 1.0", f"np.add.at({t}, [0, 0, 2], {self.v()} * {self.c()})")
        elif k == 2:
            self.emit(f"{t} = {self.v()} * 1.0", f"np.subtract.at({t}, [1, 1], {self.s()})")
        elif k == 3:
            self.emit(f"{t} = {self.mm()} * 1.0", f"np.add.at({t}, 1, {self.v()})", f"{t} = {t}[1] * {t}[0]")
        else:
            self.emit(f"{t} = np.zeros(3)", f"np.add.at({t}, np.array([2, 0, 2]), {self.s()})",
                      f"{t} = {t} * {self.v()}")
        self.vecs.append(t)

    def st_augmented_dtype(self):
        t = self.fresh("a")
        k = self.r.randrange(5)
        if k == 0:
            self.float32 = True
            self.emit(f"{t} = np.zeros(3, dtype=np.float32)", f"{t} += {self.v()}", f"{t} = {t} * {self.v()}")
        elif k == 1:
            self.emit(f"{t} = np.ones(3, dtype=int)", f"{t} += {self.v()}")      # numpy raises (same_kind)
        elif k == 2:
            self.emit(f"{t} = np.arange(3)", f"{t} = {t} * {self.v()}", f"{t} //= 1.0")
            self.kinks = True
        elif k == 3:
            self.float32 = True
            self.emit(f"{t} = {self.v()}.astype(np.float32)", f"{t}[1] = {self.s()}", f"{t} *= {self.v()}")
        else:
            self.emit(f"{t} = {self.v()} * 1.0", f"{t} /= (1.0 + {self.v()} ** 2)", f"{t} **= 2")
        self.vecs.append(t)

    def st_shapes(self):
        a = self.v()
        t = self.fresh()
        self.emit(self.r.choice([f"{t} = np.squeeze({a}[None, :] * {self.mm()}[:1])",
                                 f"{t} = np.expand_dims({a}, 1)[:, 0] * 2.0",
                                 f"{t} = {a}[..., None].sum(axis=-1)",
                                 f"{t} = np.tile({a}, 2)[2:5]",
                                 f"{t} = np.repeat({a}, 2)[::2]",
                                 f"{t} = np.linalg.solve(np.eye(3) * 2.0 + np.outer({a}, {a}) * 0.1, {self.v()})",
                                 f"{t} = np.linalg.inv({self.mm()}[:, :2] @ {self.mm()}[:, :2].T + np.eye(2)).sum(axis=0)[[0, 1, 1]]",
                                 f"{t} = np.broadcast_to({self.s()}, (3,)) + {a}"]))
        self.vecs.append(t)

    def st_structure(self):
        t = self.fresh()
        k = self.r.randrange(5)
        if k == 0:
            fs = self.fresh("fs")
            self.emit(f'{fs} = {{"s": lambda v: np.sin(v), "q": lambda v: v ** 2}}',
                      f"{t} = sum({fs}[k]({self.v()}) for k in sorted({fs}))")
        elif k == 1:
            d = self.fresh("d")
            self.emit(f"{d} = {{k: {self.v()} * (i + 1) for i, k in enumerate('abc')}}",
                      f'{t} = {d}.get("b", 0.0) + {d}.get("z", {self.v()})')
        elif k == 2:
            self.emit(f"{t} = max([{self.v()}, {self.v()} * 0.5], key=lambda v: float(np.sum(v)))")
            self.kinks = True
        elif k == 3:
            self.emit(f"{t} = Affine({self.c()}, {self.v()})({self.v()})")
        else:
            self.emit(f"{t} = {self.v()} * 1.0", f"if np.sum({t}) > {self.c()}:", f"    {t} = {t} * 2.0",
                      "else:", f"    {t}[0] = {self.s()}")
            self.kinks = True
        self.vecs.append(t)

    def st_math(self):
        t = self.fresh("s")
        a = self.s()
        self.emit(self.r.choice([f"{t} = math.exp(float({a}) * 0.1) + {a}",
                                 f"{t} = math.sin({a}) * math.sqrt(2.0)",
                                 f"{t} = abs({a}) + {a} ** 2",
                                 f"{t} = float({a}) * {self.v()}[0]",
                                 f"{t} = max({a}, {self.v()}[1], key=abs)"]))
        self.scas.append(t)

    def st_alias(self):
        z = self.fresh("z")
        t = self.fresh()
        k = self.r.randrange(7)
        a, b = self.v(), self.v()
        if k == 0:       # a view by a constant slice follows the write
            self.emit(f"{z} = {a} * 1.0", f"vw = {z}[1:]", f"vw[0] = {self.s()}", f"vw *= {b}[:2]",
                      f"{t} = {z} + vw[1]")
        elif k == 1:     # a second name is the same object
            self.emit(f"{z} = {a} + 0.0", f"al = {z}", f"{z}[2] = {b}[0] * 2.0", f"{z} += {b}", f"{t} = al * {z}")
        elif k == 2:     # a row written into a matrix is a copy of its numbers
            self.emit(f"{z} = np.zeros((2, 3))", f"st = {a} * 1.0", f"{z}[0] = st", "st += 1.0",
                      f"{z}[1] = st * {b}", f"{t} = {z}[0] * {z}[1] + st")
        elif k == 3:     # the swap
            self.emit(f"{z} = {a} * 1.0", f"tmp = {z}[1]", f"{z}[1] = {z}[2]", f"{z}[2] = tmp", f"{t} = {z} * {b}")
        elif k == 4:     # a row view of a matrix the function made
            self.emit(f"{z} = np.stack([{a}, {b}]) * 1.0", f"r = {z}[1]", f"r[0] = {self.s()}", f"r += {a}",
                      f"{t} = {z}[1] * {z}[0]")
        elif k == 5:     # fancy index writes with repeats: the last wins
            self.emit(f"{z} = {a} * 1.0", f"{z}[[0, 0, 2]] = {b}", f"{z}[np.array([1, 1])] += {self.s()}",
                      f"{t} = {z} * {a}")
        else:            # a boolean mask write and a where
            self.emit(f"{z} = {a} * 1.0", f"{z}[{b} > {self.c()}] *= 2.0", f"{z}[np.abs({z}) > 5.0] = 0.0",
                      f"{t} = np.where({z} > 0, {z}, {b})")
            self.kinks = True
        self.vecs.append(t)

    def st_more(self):
        a, mm = self.v(), self.mm()
        t = self.fresh()
        e = self.r.choice([
            f"np.take({a}, [2, 0, 0])", f"np.take_along_axis({mm}, np.array([[0, 2, 1], [1, 1, 0]]), axis=1)[0]",
            f"np.add.reduce({mm}, axis=0)", f"np.average({mm}, axis=0, weights=np.array([0.3, 0.7]))",
            f"np.var({mm}, axis=0, ddof=1)", f"{mm}.sum(axis=0, keepdims=True)[0]", f"{mm}.mean(0) * {a}",
            f"np.sum({mm}, axis=0, where=np.array([[True, False, True], [True, True, False]]))",
            f"np.sum({mm} ** 2, axis=0, initial=0.5)", f"np.einsum('ij,j->j', {mm}, {a})",
            f"np.linalg.norm({mm}, axis=0)", f"np.matmul({mm}.T, {mm})[0]", f"np.maximum.reduce({mm}, axis=0)",
            f"np.multiply({a}, {self.v()}, out=np.zeros(3))", f"np.hypot({a}, 1.0) * np.arctan2({a}, 2.0)",
            f"np.nan_to_num({a} / 1.0) + np.sign({a}) * {a}", f"np.interp({a}, [-2.0, 0.0, 2.0], [1.0, -1.0, 3.0])"])
        if "maximum" in e or "sign" in e or "interp" in e or "norm" in e:
            self.kinks = True
        self.emit(f"{t} = {e}")
        self.vecs.append(t)

    def st_inner_gradient(self):
        # a gradient penalty inside the program: prog's own dlgradient, differentiated again
        # (plain Python has no dlgradient: its closed form there, PLAIN set by the checker)
        t = self.fresh()
        a = self.r.choice(["x", "pw"])
        c = self.c()
        self.emit(f"inner{t} = np.sum(np.sin({c} * {a})) + np.sum({a} ** 3) * 0.1",
                  "if PLAIN:",
                  f"    g{t} = {c} * np.cos({c} * {a}) + 0.3 * {a} ** 2",
                  "else:",
                  f"    g{t} = dlgradient(inner{t}, {a}, EnableHigherDerivatives=True)",
                  f"{t} = g{t} * {self.v()}")
        self.vecs.append(t)

    TEMPLATES = [
        ("st_elementwise", 4), ("st_reduce", 3), ("st_matrix", 2), ("st_matvec", 2), ("st_scalar", 3),
        ("st_fancy", 2), ("st_mask", 1), ("st_add_at", 2), ("st_setitem", 3), ("st_dict", 2),
        ("st_namedtuple", 2), ("st_lambda", 2), ("st_call_lambda_later", 1), ("st_allany", 2),
        ("st_loop", 2), ("st_float32", 1), ("st_int", 1), ("st_cumsum", 2), ("st_helper", 1), ("st_list", 1),
        ("st_ufunc_at", 2), ("st_augmented_dtype", 2), ("st_alias", 4), ("st_more", 3), ("st_inner_gradient", 1), ("st_shapes", 2), ("st_structure", 2), ("st_math", 1),
    ]

    def program(self):
        r = self.r
        if r.random() < 0.5:
            self.emit('pw = p["w"]', 'pb = p["b"]')
            self.kind = "dict"
        else:
            self.emit("pw = p.w", "pb = p.b")
            self.kind = "namedtuple"
        self.vecs.append("pw")
        self.scas.append("pb")
        names = [n for n, w in self.TEMPLATES for _ in range(w)]
        for _ in range(r.randrange(4, 11)):
            getattr(self, r.choice(names))()
        # the loss reads the last names made and the arguments
        parts = [f"np.sum({v} * {self.c()})" for v in self.vecs[-3:]]
        parts += [f"np.sum(np.sin({mname}))" for mname in self.mats[-1:]]
        parts += [f"{sname} * {self.c()}" for sname in self.scas[-2:]]
        parts.append("np.sum(x ** 2) * 0.1 + np.sum(m ** 2) * 0.1 + pb ** 2 * 0.1 + np.sum(pw ** 2) * 0.1")
        self.emit("loss = " + " + ".join(parts))
        self.emit("return loss")
        body = "\n".join(self.lines)
        self.second = r.randrange(3)
        at = (lambda k: f'["{k}"]') if self.kind == "dict" else (lambda k: f".{k}")
        second = ["def second(x, m, p, cx):", "    loss = prog(x, m, p)"] + [
            ["    gx, gm = dlgradient(loss, x, m, EnableHigherDerivatives=True)",
             "    z = np.sum(gx * cx) + np.sum(np.sin(gm))"],
            ["    gx, gp = dlgradient(loss, x, p, EnableHigherDerivatives=True)",
             f"    z = np.sum(gx * cx) + np.sum(gp{at('w')} ** 2) + gp{at('b')} * 0.5"],
            [f"    gw, gb = dlgradient(loss, p{at('w')}, p{at('b')}, EnableHigherDerivatives=True)",
             "    z = np.sum(gw * cx) + np.sin(gb)"]][self.second] + [
            "    return z, dlgradient(z, x, m, p)"]
        return (PRELUDE + "\n\ndef prog(x, m, p):\n" + body + "\n" + WRAPPERS.replace("SECOND", "\n".join(second)))


PRELUDE = '''import math

import numpy as np
from collections import namedtuple
from sct import dlgradient

P = namedtuple("P", "w b")
PLAIN = False


class Affine:
    def __init__(self, scale, shift):
        self.scale = scale
        self.shift = shift

    def __call__(self, v):
        return v * self.scale + np.tanh(self.shift)


def helper(a, b):
    h = np.tanh(a) * b
    return h + a ** 2 * 0.5'''

WRAPPERS = '''

def first(x, m, p):
    loss = prog(x, m, p)
    gx, gm, gp = dlgradient(loss, x, m, p)
    return loss, gx, gm, gp


SECOND


def of_xm(x, m):
    return prog(x, m, P0)


def of_x(x):
    return prog(x, M0, P0)
'''


# --- the checker ---------------------------------------------------------------------------------

def _load(path, name):
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


def _D(v):
    return np.asarray(v.data) if type(v).__name__ == "dlarray" else np.asarray(v)


def _p_of(mod, kind, w, b):
    return {"w": w, "b": b} if kind == "dict" else mod.P(w, b)


class Mismatch(Exception):
    def __init__(self, stage, text):
        super().__init__(f"{stage}: {text}")
        self.stage = stage


def _close(stage, got, want, rtol, atol):
    got, want = np.asarray(got, dtype=float), np.asarray(want, dtype=float)
    if got.shape != want.shape:
        raise Mismatch(stage, f"shape {got.shape} != {want.shape}")
    if not np.allclose(got, want, rtol=rtol, atol=atol):
        raise Mismatch(stage, f"got {got.ravel()[:8]} want {want.ravel()[:8]}")


def _fd(f, xs, k, step):
    xs = [np.array(a, dtype=float) for a in xs]
    x = xs[k]
    g = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        o = x[i]
        x[i] = o + step
        up = f(*xs)
        x[i] = o - step
        dn = f(*xs)
        x[i] = o
        g[i] = (up - dn) / (2 * step)
    return g


def _fd_checked(stage, got, f, xs, k, float32, kinks):
    """got against central differences at two steps (a kink or a float32 rounding near one step
    is not counted as a mismatch if the other agrees)."""
    steps = (1e-3, 3e-4) if float32 else (1e-6, 1e-5)
    rtol, atol = (2e-2, 2e-3) if float32 else (1e-4, 1e-6)
    last = None
    for step in steps:
        try:
            _close(stage, got, _fd(f, xs, k, step), rtol, atol)
            return
        except Mismatch as e:
            last = e
    raise last


def _agree(stage, got, fd_of_step, float32, steps=(1e-3, 1e-5, 1e-7)):
    """got against a central difference at one of ``steps`` (a kink or float32 rounding near one
    step is not counted if another agrees)."""
    rtol, atol = (2e-2, 2e-3) if float32 else (1e-4, 1e-6)
    last = None
    for h in steps:
        try:
            _close(stage, got, fd_of_step(h), rtol, atol)
            return
        except Mismatch as e:
            last = e
    raise last


TIMES = collections.Counter()


def check_program(path, name, seed_kind, rng_seed, quick=False):
    """Run one program's stages; returns {stage: outcome}, details."""
    import sct
    from sct import SctError, dlarray, dlfeval
    out, detail = {}, {}
    mod = _load(path, name)
    rng = np.random.default_rng(rng_seed)
    x = rng.uniform(-1, 1, 3)
    m = rng.uniform(-1, 1, (2, 3))
    w = rng.uniform(-1, 1, 3)
    b = float(rng.uniform(0.2, 1.2))
    cx = rng.uniform(-1, 1, 3)
    kind = seed_kind["kind"]
    float32, kinks = seed_kind["float32"], seed_kind["kinks"]
    mod.P0 = _p_of(mod, kind, w.copy(), b)
    mod.M0 = m.copy()

    def plain(x_, m_, w_, b_):
        mod.PLAIN = True
        try:
            return float(mod.prog(np.array(x_), np.array(m_), _p_of(mod, kind, np.array(w_), float(b_))))
        finally:
            mod.PLAIN = False

    try:
        want = plain(x, m, w, b)
    except Exception as e:         # an invalid program (plain Python raises): sct must raise too
        out["plain"] = "skip"
        detail["plain"] = f"{type(e).__name__}: {e}"
        try:
            dlfeval(mod.first, dlarray(x), dlarray(m), _p_of(mod, kind, dlarray(w), dlarray(b)))
            out["raises"] = "noraise"
            detail["raises"] = f"plain Python raised {type(e).__name__}: {e}; sct did not"
        except SctError:
            out["raises"] = "ok"
        except Exception as e2:
            out["raises"] = "internal"
            detail["raises"] = f"{type(e2).__name__}: {e2}"
        return out, detail
    if not np.isfinite(want):
        out["plain"] = "skip"
        return out, detail

    def classify(stage, fn):
        import time
        start = time.process_time()
        try:
            fn()
            out[stage] = "ok"
            return True
        except Mismatch as e:
            out[stage] = e.stage
            detail[stage] = str(e)
        except SctError as e:
            text = str(e)
            internal = "internal error" in text or path not in text and name not in text
            out[stage] = "internal" if internal else "refused"
            detail[stage] = f"{type(e).__name__}: {text[:600]}"
        except Exception as e:
            out[stage] = "internal"
            detail[stage] = f"{type(e).__name__}: {e}\n" + traceback.format_exc()[-2500:]
        finally:
            TIMES[stage] += time.process_time() - start
        return False

    state = {}
    vtol = (1e-6, 1e-7) if float32 else (1e-10, 1e-12)

    def first():
        loss, gx, gm, gp = dlfeval(mod.first, dlarray(x), dlarray(m), _p_of(mod, kind, dlarray(w), dlarray(b)))
        _close("value", _D(loss), want, *vtol)
        gw, gb = (gp["w"], gp["b"]) if kind == "dict" else (gp.w, gp.b)
        state["g"] = [_D(gx), _D(gm), _D(gw), _D(gb)]
        for k, g in enumerate(state["g"]):
            _fd_checked("grad", g, plain, [x, m, w, b], k, float32, kinks)

    if not classify("first", first) or quick:
        return out, detail

    if rng_seed % 3 == 0:
        def single():
            # x given in float32: the value as plain Python computes it from that x, the gradient
            # in float32 (MATLAB's single), close to the float64 one
            x32 = x.astype(np.float32)
            mod.PLAIN = True
            try:
                want32 = float(mod.prog(x32.copy(), m.copy(), _p_of(mod, kind, w.copy(), b)))
            except Exception:
                return
            finally:
                mod.PLAIN = False
            loss, gx, gm, gp = dlfeval(mod.first, dlarray(x32), dlarray(m), _p_of(mod, kind, dlarray(w), dlarray(b)))
            _close("single", _D(loss), want32, 1e-6, 1e-6)
            if _D(gx).dtype != np.float32:
                raise Mismatch("single", f"gradient dtype {_D(gx).dtype} for a float32 x")
            _close("single", _D(gx), state["g"][0], 2e-2, 2e-3)
        classify("single", single)

    variant = seed_kind["second"]

    def sct_z(x_, m_, w_, b_):
        _, gx, gm, gp = dlfeval(mod.first, dlarray(np.array(x_)), dlarray(np.array(m_)),
                                _p_of(mod, kind, dlarray(np.array(w_)), dlarray(float(b_))))
        gw, gb = (gp["w"], gp["b"]) if kind == "dict" else (gp.w, gp.b)
        gx, gm, gw, gb = _D(gx), _D(gm), _D(gw), _D(gb)
        if variant == 0:
            return float(np.sum(gx * cx) + np.sum(np.sin(gm)))
        if variant == 1:
            return float(np.sum(gx * cx) + np.sum(gw ** 2) + gb * 0.5)
        return float(np.sum(gw * cx) + np.sin(gb))

    def second():
        z, (zx, zm, zp) = dlfeval(mod.second, dlarray(x), dlarray(m), _p_of(mod, kind, dlarray(w), dlarray(b)), cx)
        _close("grad2", _D(z), sct_z(x, m, w, b), 1e-8, 1e-10)
        f32 = float32 or kinks
        zw, zb = (zp["w"], zp["b"]) if kind == "dict" else (zp.w, zp.b)
        # one random direction through all four (each FD point is a compiled first-order run)
        d = [rng.uniform(-1, 1, np.shape(a)) for a in (x, m, w, b)]
        got = sum(float(np.sum(_D(g) * e)) for g, e in zip((zx, zm, zw, zb), d))
        last = None
        for h in ((1e-3, 3e-4) if f32 else (1e-5, 1e-4)):
            fd = (sct_z(*[a + h * e for a, e in zip((x, m, w, b), d)]) -
                  sct_z(*[a - h * e for a, e in zip((x, m, w, b), d)])) / (2 * h)
            try:
                _close("grad2", got, fd, 2e-2 if f32 else 1e-4, 2e-3 if f32 else 1e-6)
                return
            except Mismatch as e:
                last = e
        raise last

    classify("second", second)

    tx, tm = rng.uniform(-1, 1, 3), rng.uniform(-1, 1, (2, 3))

    def jvp():
        y, dot = sct.jvp(mod.of_xm, (x, m), (tx, tm))
        _close("jvp", _D(y), want, *vtol)
        _agree("jvp", _D(dot), lambda h: (plain(x + h * tx, m + h * tm, w, b) -
                                           plain(x - h * tx, m - h * tm, w, b)) / (2 * h), float32)

    classify("jvp", jvp)

    def hvp():
        hv = sct.hvp(mod.of_x, x, tx)
        _agree("hvp", _D(hv), lambda h: (state_g(x + h * tx) - state_g(x - h * tx)) / (2 * h), float32,
               steps=(1e-3, 1e-4, 1e-5))

    def state_g(xx):
        _, gx, _, _ = dlfeval(mod.first, dlarray(np.array(xx)), dlarray(m), _p_of(mod, kind, dlarray(w), dlarray(b)))
        return _D(gx)

    classify("hvp", hvp)
    return out, detail


def make(seed):
    g = Gen(seed)
    src = g.program()
    return src, {"kind": g.kind, "float32": g.float32, "kinks": g.kinks, "second": g.second}


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=100)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default="/tmp/rt_u/run")
    ap.add_argument("--quick", action="store_true", help="value and first-order gradient only")
    ap.add_argument("--only", type=int, default=None, help="run one seed and print its source and outcome")
    args = ap.parse_args(argv)
    import warnings
    warnings.simplefilter("ignore")
    os.makedirs(args.out, exist_ok=True)
    seeds = [args.only] if args.only is not None else range(args.seed, args.seed + args.n)
    counts = collections.Counter()
    stage_counts = collections.Counter()
    bad = []
    reasons = collections.Counter()
    for seed in seeds:
        src, info = make(seed)
        name = f"rtu_prog_{seed}"
        path = os.path.join(args.out, name + ".py")
        with open(path, "w") as fh:
            fh.write(src)
        try:
            out, detail = check_program(path, name, info, seed, quick=args.quick)
        except Exception:
            out, detail = {"harness": "internal"}, {"harness": traceback.format_exc()}
        for stage, o in out.items():
            stage_counts[(stage, o)] += 1
            if o == "refused":
                reasons[detail[stage].split(": ", 2)[-1][:90]] += 1
        worst = "ok"
        for o in out.values():
            if o not in ("ok",):
                worst = o if worst in ("ok", "refused", "skip") else worst
        counts[worst] += 1
        if any(o not in ("ok", "refused", "skip") for o in out.values()):
            bad.append({"seed": seed, "out": out, "detail": detail, "info": info})
        else:
            os.remove(path)
        if args.only is not None:
            print(src)
            print(json.dumps(out, indent=1), json.dumps(detail, indent=1))
        sys.modules.pop(name, None)
        done = seed - seeds[0] + 1 if args.only is None else 1
        if done % 25 == 0:          # a partial summary (a run stopped early keeps its counts)
            with open(os.path.join(args.out, f"partial_{args.seed}.json"), "w") as fh:
                json.dump({"programs": done, "worst": dict(counts),
                           "stages": {f"{k[0]}:{k[1]}": v for k, v in sorted(stage_counts.items())},
                           "bad": bad, "refusals": dict(reasons.most_common())}, fh, indent=1, default=str)
    summary = {"programs": len(seeds), "worst": dict(counts),
               "stages": {f"{k[0]}:{k[1]}": v for k, v in sorted(stage_counts.items())}, "bad": bad,
               "refusals": dict(reasons.most_common())}
    with open(os.path.join(args.out, f"summary_{args.seed}.json"), "w") as fh:
        json.dump(summary, fh, indent=1, default=str)
    print(json.dumps({k: summary[k] for k in ("programs", "worst", "stages", "refusals")}, indent=1))
    print("cpu seconds per stage", {k: round(v, 1) for k, v in TIMES.items()})
    for b_ in bad:
        print("BAD", b_["seed"], b_["out"], {k: v[:300] for k, v in b_["detail"].items()})
    return 0


if __name__ == "__main__":
    sys.exit(main())
