"""The checks of ``dlupdate(fun, params, ...)`` written out by the compiler (sct/dlupdates.py): the
structure the code was compiled for, checked when it runs, and what ``fun`` returns.  Apart from
``support`` so that the low-level runtime never imports the optimizers (``optim``)."""
from __future__ import annotations

import ast
import dataclasses
import functools

from . import optim
from .dlarray import dlarray as _dlarray
from .errors import SctError
from .registry import nondifferentiable


@functools.lru_cache(maxsize=256)
def _dlupdate_spec(text):
    return ast.literal_eval(text)


def _dlupdate_refused(why):
    raise SctError(f"dlupdate differentiated through: {why}. sct writes dlupdate(fun, params, ...) out as fun "
                   f"called on each parameter where the structure is the one it was compiled for; update "
                   f"the parameters after the last dlgradient, or write the update with a comprehension "
                   f"({{k: p[k] - lr * g[k] for k in p}})")


def dlupdate_class_fits(cls) -> bool:
    """Is ``cls`` a dataclass whose new instance built from its fields (``dataclasses.replace``, what
    sct/dlupdates.py writes) is what dlupdate's copy of an instance with its arrays set is: the
    ``__init__`` @dataclass wrote, every field in it, no ``__post_init__``, no InitVar, and neither
    ``__new__``, ``__setattr__`` (unless frozen) nor the copy protocol of its own?"""
    if not (isinstance(cls, type) and dataclasses.is_dataclass(cls)) or hasattr(cls, "_fields"):
        return False
    init = getattr(cls.__init__, "__code__", None)
    initvar = getattr(dataclasses, "_FIELD_INITVAR", None)
    params = getattr(cls, "__dataclass_params__", None)
    return init is not None and init.co_filename.startswith("<") and params is not None and params.init and \
        not hasattr(cls, "__post_init__") and all(f.init for f in dataclasses.fields(cls)) and \
        all(getattr(f, "_field_type", None) is not initvar for f in cls.__dataclass_fields__.values()) and \
        cls.__new__ is object.__new__ and (cls.__setattr__ is object.__setattr__ or params.frozen) and \
        cls.__reduce_ex__ is object.__reduce_ex__ and cls.__reduce__ is object.__reduce__ and \
        not hasattr(cls, "__copy__") and \
        getattr(cls, "__getstate__", None) is getattr(object, "__getstate__", None)


def dlupdate_structure(spec, params, *more):
    """Before ``dlupdate(fun, params, *more)`` written out (sct/dlupdates.py): ``params`` has the structure
    ``spec`` (the text of a nested tuple: ``"L"`` a leaf dlupdate passes to ``fun``, ``("d", ((key,
    part), ...))`` a dict with those keys in that order, ``("l", parts)`` / ``("t", parts)`` a list / tuple,
    ``("c", qualname, ((field, part or "K"), ...))`` a dataclass whose fields "K" hold no arrays), and each
    of ``more`` has the items the written-out code reads where dlupdate reads them (not None or ``[]``
    where ``params`` has a container, which dlupdate reads as None throughout; not a label order another
    than a labelled parameter's, which dlupdate permutes).  Otherwise refused (an SctError): the code
    was written for that structure."""
    _dlupdate_walk(_dlupdate_spec(spec), params, more, "params", optim)


def _dlupdate_walk(spec, x, more, where, optim):
    if spec == "N":
        # no parameter (``{"W": W, "b": None}``): dlupdate leaves it None (optim._no_parameter), its companions
        # None, ``[]`` or absent (a dict companion without the key: read as None by the loop below)
        if x is not None:
            _dlupdate_refused(f"{where} is a {type(x).__name__} where it was None when compiled")
        for o in more:
            if not optim._empty(o):
                _dlupdate_refused(f"{where} is None (no parameter) and an argument given with it holds a "
                                  f"{type(o).__name__} there")
        return
    if spec == "L":
        if not optim._is_leaf(x):
            _dlupdate_refused(f"{where} is a {type(x).__name__} where it was an array or number when compiled")
        if type(x) is _dlarray and x._fmt:
            for o in more:
                if type(o) is _dlarray and o._fmt and o._fmt != x._fmt:
                    _dlupdate_refused(f"{where} is labelled {x._fmt!r} and an argument given with it is labelled "
                                      f"{o._fmt!r} (dlupdate permutes it)")
        return
    tag = spec[0]
    if tag == "c":
        _, qualname, fields = spec
        cls = type(x)
        if cls.__qualname__ != qualname or not dlupdate_class_fits(cls) or \
                [f.name for f in dataclasses.fields(cls)] != [n for n, _ in fields] or \
                any(not k.startswith("__") and k not in cls.__dataclass_fields__
                    for k in getattr(x, "__dict__", {})):
            _dlupdate_refused(f"{where} is a {cls.__qualname__} where it was a {qualname} with the fields "
                              f"{', '.join(n for n, _ in fields)} (and no other attributes) when compiled")
        parts = []
        for name, part in fields:
            v = getattr(x, name)
            if (part == "K") == optim._holds_arrays(v):
                _dlupdate_refused(f"{where}.{name} {'holds' if part == 'K' else 'holds no'} arrays where it "
                                  f"{'did not' if part == 'K' else 'did'} when compiled")
            if part != "K":
                parts.append((name, part, v))
        if not parts:
            return
        others = [_dlupdate_companion(o, where, "attr") for o in more]
        for name, part, v in parts:
            _dlupdate_walk(part, v, [_dlupdate_item(o, name, where, "attr") for o in others],
                           f"{where}.{name}", optim)
        return
    want = {"d": dict, "l": list, "t": tuple}[tag]
    children = spec[1]
    if type(x) is not want:
        _dlupdate_refused(f"{where} is a {type(x).__name__} where it was a {want.__name__} when compiled")
    keys = [k for k, _ in children] if tag == "d" else list(range(len(children)))
    if (list(x) if tag == "d" else len(x)) != (keys if tag == "d" else len(keys)) or \
            tag == "d" and [type(k) for k in x] != [type(k) for k in keys]:     # (True == 1 == 1.0)
        _dlupdate_refused(f"{where} has the {'keys' if tag == 'd' else 'length'} "
                          f"{list(x) if tag == 'd' else len(x)} where it had {keys if tag == 'd' else len(keys)} "
                          f"when compiled")
    if not keys:
        return
    others = [_dlupdate_companion(o, where, "item") for o in more]
    for k, part in zip(keys, children if tag != "d" else [c for _, c in children]):
        _dlupdate_walk(part, x[k], [o.get(k) if part == "N" and type(o) is dict else _dlupdate_item(o, k, where, "item")
                                    for o in others], f"{where}[{k!r}]", optim)


def _dlupdate_companion(o, where, kind):
    if optim._empty(o) or optim._is_leaf(o) or (kind == "attr" and isinstance(o, dict)):
        what = "None or empty" if optim._empty(o) else "a " + type(o).__name__
        _dlupdate_refused(f"an argument given with the parameters is {what} where they have a "
                          f"{'dataclass' if kind == 'attr' else 'container'} ({where})")
    return o


def _dlupdate_item(o, key, where, kind):
    try:
        return getattr(o, key) if kind == "attr" else o[key]
    except (KeyError, IndexError, TypeError, AttributeError):
        _dlupdate_refused(f"an argument given with the parameters has no {'field' if kind == 'attr' else 'item'} "
                          f"{key!r} where {where} has one")


def dlupdate_single(first):
    """After the calls of ``fun`` of ``dlupdate(fun, params, ...)`` written out: ``fun`` returned one value
    (dlupdate regroups tuples into several structures, which the written-out code does not)."""
    if isinstance(first, tuple):
        _dlupdate_refused("fun returned a tuple (several outputs, MATLAB's [params, X1, ...] = dlupdate(...))")


nondifferentiable(dlupdate_structure, dlupdate_single, dlupdate_class_fits)
