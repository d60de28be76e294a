"""MATLAB's dlarray data formats: labels S, C, B, T, U on the axes of an array.

sct keeps numpy's order of the axes: ``dlarray(X, "SSCB")`` labels the axes of
``X`` as they are (MATLAB would also permute them into its canonical order
S.., C, B, T, U; sct does not, so ``dlarray(X, "BSSC")``, the layout sct's
deep-learning functions use for unformatted data, costs no transpose).  A
deep-learning function given a formatted input (or ``DataFormat=`` for an
unformatted one) arranges its data into that layout, computes, and returns the
result in the input's order of labels, with the format MATLAB gives it.

The *plans* below say how: which arguments are transposed (and flattened),
which options change, how the result is arranged, and its format.  The same
plan runs eagerly (outside dlfeval) and is lowered at compile time into
``np.transpose``/``np.reshape`` statements around the default-layout op
(``sct/formats.py``), so generated code pays nothing per op for labels.
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Tuple

from .imported import np

from .registry import defrule, nondifferentiable
from .labels import (LostLabels, lost_message, LABELS, _perm, align_data, align_perm, arrange_data, arrange_plan, reduced_format,  # noqa: F401,E501
                     check_format, formatted_data, same_labels)


def format_of(x) -> str:
    """The labels of a dlarray ("" when unformatted or not a dlarray)."""
    from .dlarray import dlarray
    return x._fmt if isinstance(x, dlarray) else ""


def layout_labels(X: Any, fname: Optional[str] = None) -> str:
    """The labels a deep-learning function that reads a layout reads from ``X`` (called without
    DataFormat=): "" for unformatted data, read in sct's default layout, but refused for data whose labels
    an operation dropped (``labels.LOST``: a reshape, transpose, ... of a formatted dlarray), as MATLAB's
    functions refuse unformatted data."""
    fmt = format_of(X) if type(X) is not np.ndarray else ""
    if isinstance(fmt, LostLabels):
        import sys
        raise ValueError(lost_message(fname or sys._getframe(1).f_code.co_name))
    return fmt


def dims(X: Any) -> str:
    """MATLAB's ``dims``: the labels of the dimensions of ``X`` ("" when unformatted).

    >>> from sct import dlarray
    >>> dims(dlarray(np.zeros((4, 4, 3, 2)), "SSCB"))
    'SSCB'
    """
    return format_of(X)


def finddim(X: Any, label: str) -> List[int]:
    """MATLAB's ``finddim``: the (0-based) axes of ``X`` labelled ``label`` ([] when none).

    >>> from sct import dlarray
    >>> finddim(dlarray(np.zeros((4, 4, 3, 2)), "SSCB"), "S")
    [0, 1]
    """
    from .dlarray import dlarray
    if isinstance(X, dlarray):
        return [i for i, c in enumerate(X._fmt) if c == label]
    return X.finddim(label) if hasattr(X, "finddim") else []


def stripdims(X: Any, fmt: Optional[str] = None) -> Any:
    """MATLAB's ``stripdims``: ``X`` without its labels (an unformatted dlarray, same data and order).
    ``stripdims(X, fmt)``: the axes also arranged in the order of the labels in ``fmt`` (the labels
    of ``X`` in any order; repeated S or U labels keep their relative order; a label of ``fmt`` that
    ``X`` lacks is a singleton dimension; an empty ``fmt`` or an unformatted ``X``: as ``stripdims(X)``).

    Differentiable (the identity; with ``fmt`` a transpose).

    >>> from sct import dlarray
    >>> dims(stripdims(dlarray(np.zeros((3, 2)), "CB")))
    ''
    >>> stripdims(dlarray(np.zeros((3, 2)), "CB"), "BC").shape
    (2, 3)
    """
    from .dlarray import dlarray
    if fmt is not None:
        check_format(fmt, None, "stripdims")
        # MATLAB: "If fmt is empty or X is an unformatted dlarray object, then Y is equal to X"; fmt may
        # have labels X lacks (singleton dimensions there)
        if fmt and isinstance(X, dlarray) and X._fmt:
            return dlarray(arrange_data(X._data, X._fmt, fmt, "stripdims"))
    if isinstance(X, dlarray):
        return dlarray(X._data)
    return X


@defrule(stripdims, wrt=("X",))
def _stripdims_rule(g, ans, X, fmt=None):
    return g                    # with fmt, compiled code transposes first (sct/formats.py) and drops fmt


def relabel(x, fmt: Optional[str]):
    """``x`` (a dlarray) carrying ``fmt`` when its rank fits (else unformatted); shares the data."""
    from .dlarray import dlarray, _new_dlarray
    if not isinstance(x, dlarray):
        return x
    out = _new_dlarray(dlarray)
    out._data = x._data
    if isinstance(fmt, LostLabels):         # labels dropped inside dlfeval (or not known there): refused later
        out._fmt = fmt if x._data.ndim else ""
        return out
    out._fmt = fmt if fmt and len(fmt) == x._data.ndim else ""
    return out


def apply_formats(out, tree):
    """Put the formats computed at compile time (``tree``: a str, None, or tuples/lists/dicts of
    them shaped like the outputs) on the dlarrays ``dlfeval`` returns."""
    if tree is None:
        return out
    if isinstance(tree, str):
        return relabel(out, tree)
    if isinstance(tree, tuple) and isinstance(out, (tuple, list)) and len(tree) == len(out) and \
            not hasattr(type(out), "_fields"):
        return type(out)(apply_formats(o, t) for o, t in zip(out, tree))
    if isinstance(tree, dict) and isinstance(out, dict):
        return {k: apply_formats(v, tree.get(k)) for k, v in out.items()}
    return out


# --- aligning two formats with the same labels (MATLAB permutes both into one order; labels.py) -----


def compose(first: Optional[Tuple[int, ...]], then: Optional[Tuple[int, ...]]) -> Optional[Tuple[int, ...]]:
    """The one permutation equal to transposing by ``first`` and then by ``then``."""
    if first is None:
        return then
    if then is None:
        return first
    out = tuple(first[i] for i in then)
    return None if out == tuple(range(len(out))) else out


def canonical_layout(fmt: str) -> str:
    """sct's batch-first layout for data with the labels of ``fmt``: B, T, S.., U.., C
    ("SSCB" -> "BSSC", "CB" -> "BC", "CBT" -> "BTC")."""
    return "".join(c * fmt.count(c) for c in "BTSUC")


# --- plans: how a deep-learning function runs on formatted data --------------------------------

# sct's layout for unformatted data, by rank (README "Data formats")
DEFAULT_FORMATS = {1: "C", 2: "BC", 3: "BTC", 4: "BSSC", 5: "BSSSC"}

CONV_FUNCTIONS = ("dlconv", "maxpool", "avgpool", "dltranspconv")
NORM_FUNCTIONS = ("batchnorm", "layernorm", "instancenorm", "groupnorm")
# the regression losses read the labels too: their data is arranged batch first (N = the size of B)
LOSS_FUNCTIONS = ("mse", "l1loss", "l2loss", "huber")
LAYOUT_FUNCTIONS = CONV_FUNCTIONS + NORM_FUNCTIONS + ("fullyconnect", "softmax", "crossentropy", "attention") \
    + LOSS_FUNCTIONS
# functions with a fixed batch-first layout that do not read labels yet: a formatted input is refused
# unless its labels are that layout
FIXED_LAYOUT = {"indexcrossentropy": ("BC", "BTC")}


class Plan:
    """``pre``: (argument position, permutation, leading axes kept when flattening, NEW_BATCH, or None);
    ``options``: keyword options replaced; ``post``: the permutation of the result (None: none);
    ``item``: which element of a tuple result is arranged (None: the result itself), ``outputs``: how
    many the tuple has; ``out_format``: the result's labels."""

    def __init__(self, pre, options, post, out_format, item=None, outputs=3, unbatch=False, calls=()):
        self.pre = pre
        # (argument position, parameter name, runtime function): an argument passed through the function
        # after ``pre`` (fullyconnect's weights, ``runtime.nn.matlab_feature_weights``)
        self.calls = tuple(calls)
        self.options = options
        self.post = post
        self.out_format = out_format
        self.item = item
        self.outputs = outputs
        self.unbatch = unbatch      # the input had no B (a singleton one put in front): the result's dropped


def _inverse(perm):
    if perm is None:
        return None
    inv = [0] * len(perm)
    for i, p in enumerate(perm):
        inv[p] = i
    return tuple(inv)


def _batch_first_channel_last(fmt: str, fname: str, need_batch: bool = True) -> List[int]:
    if "C" not in fmt:
        raise ValueError(f"{fname}: the data format {fmt!r} has no channel dimension 'C'")
    if need_batch and "B" not in fmt:
        raise ValueError(f"{fname}: the data format {fmt!r} has no batch dimension 'B'")
    b = [fmt.index("B")] if "B" in fmt else []
    rest = [i for i, c in enumerate(fmt) if c not in "BC"]
    return b + rest + [fmt.index("C")]


def _layernorm_dimension(fmt: str, which: str) -> Dict[str, Any]:
    """layernorm's OperationDimension for data labelled ``fmt`` (arranged B, S.., T, C): "auto" is the
    spatial and channel dimensions for 2-D and 3-D images, the channel dimension for feature, sequence,
    1-D image and spatio-temporal data (MATLAB's); "spatial-channel" never includes T (the channels alone
    where there is no S).  The spatial and channel axes of (B, S.., C) data are passed on as
    "batch-excluded": the default-layout function reads a 3-D array as (batch, time, channels), so
    "spatial-channel" there would be the channels alone for a 1-D image ('SCB' normalised over C only)."""
    if which == "auto":
        which = "spatial-channel" if fmt.count("S") >= 2 and "T" not in fmt else "channel-only"
    if which == "spatial-channel" and "S" not in fmt:
        which = "channel-only"
    if which == "spatial-channel" and "T" in fmt:
        raise ValueError(f"layernorm: OperationDimension 'spatial-channel' of data labelled {fmt!r} (S and T) is not "
                         "supported by sct: use 'channel-only' or 'batch-excluded', or fold T into B first")
    if which == "spatial-channel" and "U" not in fmt:
        which = "batch-excluded"            # (B, S.., C): every axis but the batch's
    return {"OperationDimension": which}


# the option that names the dimensions a convolution or pooling slides over (MATLAB's: "S" by default)
SLIDING_OPTION = {"dlconv": "WeightsFormat", "dltranspconv": "WeightsFormat", "maxpool": "PoolFormat",
                  "avgpool": "PoolFormat"}


def sliding_format(fname: str, fmt: str, options: Dict[str, Any]) -> Tuple[str, Dict[str, Any]]:
    """The labels ``fname`` reads ``fmt`` as (the dimensions it slides over as "S") and the options for
    the default-layout call.  MATLAB's dlconv/maxpool/avgpool slide over the "S" dimensions; over time
    ("T") only when the weights (``WeightsFormat="TCU"``) or the pooling region (``PoolFormat="T"``)
    have a "T" dimension.  sct slides over one T of data with no S (1-D, as "SCB"), and refuses data
    whose T MATLAB would not slide over while sct cannot carry it (was: "CBT" refused only as having no S)."""
    key = SLIDING_OPTION[fname]
    given = options.get(key)
    spatial = fmt.count("S")
    verb = "convolves" if key == "WeightsFormat" else "pools"
    if given is None:
        if "T" in fmt and not spatial:
            how = "WeightsFormat='TCU' (weights laid out (filterSize, channels, filters))" if fname == "dlconv" \
                else "PoolFormat='T'"
            if fname == "dltranspconv":
                raise ValueError(f"dltranspconv: the data format {fmt!r} has no spatial dimension 'S'; sct's "
                                 "dltranspconv is 2-D (two 'S' dimensions) and does not run over time")
            raise ValueError(f"{fname}: the data format {fmt!r} has no spatial dimension 'S': MATLAB's {fname} "
                             f"{verb} over the 'S' dimensions unless told otherwise; to {verb[:-1]} over time "
                             f"give {how}")
        return fmt, {}
    if not isinstance(given, str):
        raise ValueError(f"{fname}: {key} must be a string of dimension labels, got {given!r}")
    region = given if key == "PoolFormat" else given[:-2] if given.endswith("CU") else \
        given[:-3] if given.endswith("CUU") else None
    if fname == "dltranspconv":
        raise ValueError("dltranspconv: sct's dltranspconv is 2-D over the 'S' dimensions and takes no WeightsFormat")
    if key == "WeightsFormat" and region is None:
        raise ValueError(f"{fname}: sct reads the weights laid out as (filter size.., channels, filters): "
                         f"WeightsFormat 'SSCU', 'SCU' or 'TCU' (1-D over time), got {given!r}")
    if region == "S" * spatial and spatial:
        return fmt, {key: None}                 # MATLAB's default: the S dimensions
    if region == "T" and fmt.count("T") == 1 and not spatial:
        return fmt.replace("T", "S"), {key: None}       # 1-D over time: read as the one "S" of "SCB"
    raise ValueError(f"{fname}: {key}={given!r} does not fit data labelled {fmt!r}: sct's {fname} {verb} over "
                     f"all the 'S' dimensions ({key}={'S' * max(spatial, 1)!r}{'CU' if key == 'WeightsFormat' else ''}) "
                     f"or over the one 'T' of data with no 'S' ({key}={'TCU' if key == 'WeightsFormat' else 'T'!r})")


def plan(fname: str, fmt: str, formatted: bool, options: Dict[str, Any]) -> Plan:
    """How ``fname`` runs on data labelled ``fmt`` (``formatted``: the input carries the labels,
    so the result does too; for DataFormat= on unformatted input the result is unformatted, as MATLAB's)."""
    check_format(fmt, None, fname)
    keep = fmt if formatted else None
    sliding, labelled = {}, fmt
    if fname in CONV_FUNCTIONS:
        fmt, sliding = sliding_format(fname, fmt, options)
    if fname in CONV_FUNCTIONS and sorted(fmt) in (sorted("SSC"), sorted("SC")) and \
            not (fname == "dltranspconv" and len(fmt) != 3) and options.get("nargout", 1) == 1:
        # one observation without a B label (MATLAB's dlconv(dlarray(X, "SSC"), ...), the dlupdate page):
        # a singleton batch in front, dropped from the result
        perm = _perm(fmt, _batch_first_channel_last(fmt, fname, need_batch=False))
        return Plan([(0, perm, NEW_BATCH)], sliding, _inverse(perm), keep, unbatch=True)
    if fname in CONV_FUNCTIONS:
        if sorted(fmt) not in (sorted("SSCB"), sorted("SCB")) or (fname == "dltranspconv" and len(fmt) != 4):
            raise ValueError(f"{fname}: sct's {fname} is 2-D{'' if fname == 'dltranspconv' else ' or 1-D'}: the data "
                             f"format must have {'two' if fname == 'dltranspconv' else 'one or two'} 'S', one 'C' "
                             f"and one 'B' dimension, got {labelled!r}")
        order = _batch_first_channel_last(fmt, fname)
        perm = _perm(fmt, order)
        if fname == "maxpool" and options.get("nargout", 1) == 3:
            # Y arranged back; indx and inputSize made X's own (pool_indices_into): maxunpool needs no layout
            return Plan([(0, perm, None)], sliding, _inverse(perm), keep, 0)
        return Plan([(0, perm, None)], sliding, _inverse(perm), keep)
    if fname in NORM_FUNCTIONS:
        if fname == "instancenorm" and "S" not in fmt and "T" not in fmt:
            # MATLAB's instancenorm refuses data without a spatial or time dimension (was: each entry its
            # own instance, all zeros)
            raise ValueError(f"instancenorm: the data format {fmt!r} has no spatial ('S') or time ('T') "
                             "dimension to normalise over: use layernorm or batchnorm for feature data")
        order = _batch_first_channel_last(fmt, fname, need_batch=fname != "batchnorm")
        perm = _perm(fmt, order)
        opts = {}
        if fname == "layernorm":
            opts = _layernorm_dimension(fmt, options.get("OperationDimension", "auto"))
        item = 0 if fname == "batchnorm" and options.get("nargout", 1) == 3 else None
        return Plan([(0, perm, None)], opts, _inverse(perm), keep, item)
    if fname == "softmax":
        if "C" not in fmt:
            raise ValueError(f"softmax: the data format {fmt!r} has no channel dimension 'C'")
        return Plan([], {"axis": fmt.index("C")}, None, keep)
    if fname == "crossentropy":
        order = _batch_first_channel_last(fmt, fname, need_batch=False)
        perm = _perm(fmt, order)
        # no B label: one observation (MATLAB's N = 1), so a singleton batch axis goes in front (NEW_BATCH)
        lead = None if "B" in fmt else NEW_BATCH
        if options.get("Reduction") == "none":
            # MATLAB's unreduced loss: an unformatted array of Y's size (here: Y's order of its axes)
            return Plan([(0, perm, lead), (1, perm, lead), ("Mask", perm, lead)], {"axis": -1}, _inverse(perm),
                        None, unbatch=lead is not None)
        if options.get("reduction") == "none":
            # sct's per-observation losses: shaped like Y without its C axis, in Y's order (was: batch first)
            arranged = order[:-1]
            post = tuple(arranged.index(i) for i in range(len(fmt)) if fmt[i] != "C")
            return Plan([(0, perm, lead), (1, perm, lead), ("Mask", perm, lead)], {"axis": -1},
                        None if post == tuple(range(len(post))) else post, None, unbatch=lead is not None)
        return Plan([(0, perm, lead), (1, perm, lead), ("Mask", perm, lead)], {"axis": -1}, None, None)
    if fname in LOSS_FUNCTIONS:
        # batch first (B, T, S.., U.., C): the targets and the mask are in the predictions' order (MATLAB
        # applies Y's format to unformatted ones), so they are arranged the same way
        if "B" not in fmt:
            raise ValueError(f"{fname}: the data format {fmt!r} has no batch dimension 'B'")
        perm = _perm(fmt, [i for c in "BTSUC" for i, d in enumerate(fmt) if d == c])
        # Reduction="none": MATLAB's unreduced loss, an unformatted array of Y's size (Y's order of axes)
        post = _inverse(perm) if options.get("Reduction") == "none" else None
        return Plan([(0, perm, None), (1, perm, None), ("Mask", perm, None)], {}, post, None)
    if fname == "attention":
        # queries, keys, values (and a PaddingMask shaped like the keys) arranged (B, T, C); Y arranged
        # back with the queries' labels, the weights in sct's layout (batch, heads, target, source)
        if sorted(fmt) != sorted("CBT"):
            raise ValueError(f"attention: sct's attention reads data labelled C, B and T (MATLAB's 'CBT' in any "
                             f"order), got {fmt!r}")
        perm = _perm(fmt, [fmt.index(c) for c in "BTC"])
        one = options.get("nargout", 2) == 1         # MATLAB's Y = attention(...): Y alone
        return Plan([(0, perm, None), (1, perm, None), (2, perm, None), ("PaddingMask", perm, None)], {},
                    _inverse(perm), keep, None if one else 0, outputs=1 if one else 2)
    if fname == "fullyconnect":
        if "B" not in fmt:
            raise ValueError(f"fullyconnect: the data format {fmt!r} has no batch dimension 'B'")
        lead = [fmt.index("B")] + ([fmt.index("T")] if "T" in fmt else [])
        rest = [i for i in range(len(fmt)) if i not in lead]
        if not rest:
            raise ValueError(f"fullyconnect: the data format {fmt!r} has no feature dimensions (C, S or U)")
        calls = ()
        if len(rest) > 1:
            # MATLAB flattens the features column-major in its order S.., C, U.. (the first fastest), as
            # its (out, H*W*C) weights read them: that is the row-major flattening of the reversed order,
            # and 4-D weights (out, H, W, C) are reversed to match (was: row-major in X's order, another
            # value for MATLAB's weight matrix)
            rest = [i for c in "SCU" for i, d in enumerate(fmt) if d == c][::-1]
            calls = ((1, "weights", "matlab_feature_weights"),)
        perm = _perm(fmt, lead + rest)
        flatten = len(lead) if len(rest) != 1 else None
        internal = "B" + ("T" if "T" in fmt else "") + "C"
        out = "".join(c for c in fmt if c in "BTC") if "C" in fmt else None
        if out is None:                           # no C: the features become C after B (MATLAB's "CB" order)
            out = "".join(c for c in fmt if c in "BT")
            out = "C" + out if fmt.index("B") > min(i for i in rest) else out[:1] + "C" + out[1:]
        post = _perm(out, [internal.index(c) for c in out])
        return Plan([(0, perm, flatten)], {}, post, out if formatted else None, calls=calls)
    raise ValueError(f"{fname} does not take a data format")


# --- lstm and gru on formatted data --------------------------------------------------------

RECURRENT_FUNCTIONS = {"lstm": 2, "gru": 1}          # the number of state inputs (H0, C0) / outputs


class RecurrentPlan:
    """How ``lstm``/``gru`` run on data labelled ``fmt``: ``x_perm`` arranges X batch first, time
    next, the S and C axes last (``reshape``: then flattened to (B|1, T|1, features)); the result
    (B', T', hidden) is reshaped to the labels X has (``has_b``, ``has_t``) and transposed by
    ``y_post`` into X's order of B, T, C (``y_format``: MATLAB's, X's format less its S labels).
    The states are (batch, hidden) in sct's layout; ``c_first``: in X's order of C and B, so
    MATLAB's (hidden, batch) when X is "CBT" (``state_format`` their labels)."""

    def __init__(self, fmt: str, formatted: bool, last: bool = False):
        self.has_b = "B" in fmt
        self.has_t = "T" in fmt
        self.last = last                    # OutputMode="last": Y is (B', hidden), without "T"
        lead = ([fmt.index("B")] if self.has_b else []) + ([fmt.index("T")] if self.has_t else [])
        rest = [i for i in range(len(fmt)) if i not in lead]
        if len(rest) > 1:
            # S axes flattened into the channels as MATLAB's X(:, :) flattens them, column-major in its
            # order S.., C (the first fastest): the row-major flattening of the reversed order (was:
            # row-major in X's order, the input weights then read other features)
            rest = [i for c in "SC" for i, d in enumerate(fmt) if d == c][::-1]
        self.x_perm = _perm(fmt, lead + rest)
        self.reshape = not (self.has_b and self.has_t and len(rest) == 1)
        out = "".join(c for c in fmt if c in ("BC" if last else "BTC"))
        internal = ("B" if self.has_b else "") + ("T" if self.has_t and not last else "") + "C"
        self.y_post = _perm(out, [internal.index(c) for c in out])
        self.y_format = out if formatted else None
        other = "B" if self.has_b else ("T" if self.has_t else None)
        self.c_first = other is None or fmt.index("C") < fmt.index(other)
        self.state_format = "CB" if self.c_first else "BC"


def recurrent_plan(fname: str, fmt: str, formatted: bool, state_formats=(), weight_formats=(),
                   last: bool = False) -> RecurrentPlan:
    """The plan of ``fname`` (lstm, gru) for X labelled ``fmt``; checks the formats of the states
    (labels C and optionally B) and of the weights (MATLAB's "CU", bias "C")."""
    check_format(fmt, None, fname)
    if "C" not in fmt:
        raise ValueError(f"{fname}: the data format {fmt!r} has no channel dimension 'C'")
    if "U" in fmt:
        raise ValueError(f"{fname}: the data format {fmt!r} has a 'U' dimension; sct's {fname} reads C, B, T "
                         "and S (flattened into the channels) dimensions: drop the singleton U first")
    for name, f in state_formats:
        if f and (set(f) - set("CB") or "C" not in f):
            raise ValueError(f"{fname}: {name} must be labelled 'C' or with C and B dimensions, got {f!r}")
    for name, f, allowed in weight_formats:
        if f and f not in allowed:
            raise ValueError(f"{fname}: {name} labelled {f!r}: sct reads them as MATLAB's "
                             f"{' or '.join(repr(a) for a in allowed)} (rows: the stacked gates)")
    return RecurrentPlan(fmt, formatted, last)


def recurrent_shape(x, has_b: bool, has_t: bool):
    """The (B|1, T|1, features) shape of arranged data (batch, time, S.., C) with the labels it has."""
    shape = np.shape(x)
    b = shape[0] if has_b else 1
    t = shape[int(has_b)] if has_t else 1
    return (b, t, int(np.prod(shape[int(has_b) + int(has_t):], dtype=np.int64)))


def recurrent_out_shape(y, has_b: bool, has_t: bool, last: bool = False):
    """The (B', T', hidden) result of lstm/gru (``last``: (B', hidden)) without the axes X has no label for."""
    shape = np.shape(y)
    return tuple(n for n, keep in zip(shape, (has_b, True) if last else (has_b, has_t, True)) if keep)


def state_arrange(h, c_first: bool):
    """A state (H0, C0, hiddenState) between sct's (batch, hidden) and X's order: transposed when
    ``c_first`` and 2-D (MATLAB's (hidden, batch) or (hidden, 1)); a vector is used as it is."""
    if c_first and np.ndim(h) == 2:
        return np.transpose(h)
    return h


@defrule(state_arrange, wrt=("h",), linear=("h",))
def _state_arrange_rule(g, ans, h, c_first):
    return state_arrange(g, c_first)


def _given_format(fname: str, X, DataFormat):
    """``(format, formatted)`` of an eager call's input: its labels, or ``DataFormat=`` for an
    unformatted one (both given: an error)."""
    fmt = format_of(X)
    if DataFormat is not None:
        if fmt:
            raise ValueError(f"{fname}: DataFormat is for unformatted input; the input is labelled {fmt!r}")
        return DataFormat, False
    return fmt, bool(fmt)


def run_recurrent(fname: str, fn, args: tuple, DataFormat=None, options=None):
    """Eager (outside dlfeval) ``lstm``/``gru`` on formatted data (or DataFormat=), by its plan;
    ``options``: the other keywords of the call (OutputMode, ResetGateMode)."""
    options = options or {}
    from .dlarray import dlarray
    nstate = RECURRENT_FUNCTIONS[fname]
    X = args[0]
    fmt, formatted = _given_format(fname, X, DataFormat)
    if not fmt:
        raise ValueError(f"{fname}: X is unformatted while the states or weights are formatted: label X "
                         "(dlarray(X, \"CBT\")) or give DataFormat=")
    check_format(fmt, np.ndim(X), fname)
    if len(fmt) != np.ndim(X):
        raise ValueError(f"{fname}: the data format {fmt!r} has {len(fmt)} labels but the input has "
                         f"{np.ndim(X)} dimensions")
    names = ("H0", "C0")[:nstate]
    states = args[1:1 + nstate]
    p = recurrent_plan(fname, fmt, formatted, [(n, format_of(s)) for n, s in zip(names, states)],
                       [(n, format_of(w), a) for n, w, a in zip(("weights", "recurrentWeights", "bias"),
                                                                 args[1 + nstate:], (("CU",), ("CU",), ("C",)))],
                       options.get("OutputMode") == "last")
    plain = [a._data if isinstance(a, dlarray) else a for a in args]
    x = np.asarray(plain[0])
    if p.x_perm is not None:
        x = np.transpose(x, p.x_perm)
    if p.reshape:
        x = np.reshape(x, recurrent_shape(x, p.has_b, p.has_t))
    plain[0] = x
    for i, s in enumerate(states, 1):
        f = format_of(s)
        if f:
            plain[i] = align_data(np.asarray(plain[i]), f, "BC") if "B" in f else np.asarray(plain[i])
        else:
            plain[i] = state_arrange(np.asarray(plain[i]), p.c_first)
    result = fn(*plain, **options)
    y = np.asarray(result[0])
    if p.reshape:
        y = np.reshape(y, recurrent_out_shape(y, p.has_b, p.has_t, p.last))
    if p.y_post is not None:
        y = np.transpose(y, p.y_post)
    wrap = any(isinstance(a, dlarray) for a in args)
    outs = [relabel(dlarray(y), p.y_format) if wrap else y]
    for s, h in zip(states, result[1:]):
        h = state_arrange(np.asarray(h), p.c_first)
        outs.append((relabel(dlarray(h), p.state_format if format_of(s) and formatted else None))
                    if wrap else h)
    return tuple(outs)


NEW_BATCH = -1    # a plan's ``pre`` "flatten" entry that puts a singleton batch axis in front instead


def flat_shape(x, keep: int):
    """The shape that flattens every axis of ``x`` after the first ``keep`` into one (``keep ==
    NEW_BATCH``: the shape of ``x`` with a singleton batch axis in front)."""
    if keep == NEW_BATCH:
        return (1,) + tuple(np.shape(x))
    return tuple(np.shape(x)[:keep]) + (-1,)


def check_fixed_layout(fname: str, *inputs) -> None:
    """Refuse a formatted input to a function that does not read labels, unless they are its layout
    (for the losses, a formatted target with the prediction's labels in another order is aligned by the
    caller, ``align_targets``)."""
    first = ""
    for x in inputs:
        fmt = format_of(x)
        if fmt and first and fname in LOSS_FUNCTIONS and same_labels(fmt, first):
            continue
        first = first or fmt
        if fmt and fmt not in FIXED_LAYOUT.get(fname, ()):
            raise ValueError(f"{fname} does not read data formats yet: its input is laid out as "
                             f"{' or '.join(FIXED_LAYOUT[fname])}, got a dlarray labelled {fmt!r}; arrange the data "
                             "(np.transpose) and call stripdims first")



def labelled_weights(fname: str, weights, WeightsFormat=None):
    """A loss's ``WeightsFormat``: as given, or the label of a weight vector labelled "C" or "B"
    (MATLAB reads a formatted weights argument by its labels); both given: they must agree."""
    fmt = format_of(weights) if type(weights) is not np.ndarray else ""
    if not fmt:
        return WeightsFormat
    if len(fmt) != 1 or fmt not in "CB":
        raise ValueError(f"{fname}: weights labelled {fmt!r}: sct reads labelled weights as a vector, 'C' (per "
                         "channel) or 'B' (per observation); give elementwise weights unformatted, in Y's layout")
    if WeightsFormat is not None and WeightsFormat != fmt:
        raise ValueError(f"{fname}: the weights are labelled {fmt!r} but WeightsFormat is {WeightsFormat!r}")
    return fmt


def check_not_forward_pair(Y, fname: str) -> None:
    """Refuse the ``(Y, state)`` pair that ``forward`` returns given as predictions: MATLAB's
    ``Y = forward(net, X)`` is ``Y, state = forward(net, X)`` in sct (was: "the predictions are
    unformatted", or numpy's "inhomogeneous shape" error)."""
    if isinstance(Y, tuple) and len(Y) == 2:
        from .table import Table
        if isinstance(Y[1], Table):
            raise TypeError(f"{fname}: the predictions are the pair (Y, state) that forward returns; write "
                            "Y, state = forward(net, X) (MATLAB's Y = forward(net, X) is Y = forward(net, X, nargout=1))")


def formatted_loss(fname: str, Y, targets, Mask, weights=None, Reduction: str = "sum", DataFormat=None) -> bool:
    """Does the loss ``fname`` run on formatted data (a formatted ``Y`` or ``DataFormat=``)?  Refuses
    what the arrangement cannot follow: formatted targets or mask for unformatted predictions,
    ``Reduction="none"`` and elementwise weights."""
    check_not_forward_pair(Y, fname)
    if DataFormat is None and not layout_labels(Y, fname):
        for what, v in (("targets", targets), ("Mask", Mask)):
            if type(v) is not np.ndarray and format_of(v):
                raise ValueError(f"{fname}: the {what} are labelled {format_of(v)!r} but the predictions are "
                                 "unformatted: label the predictions (dlarray(Y, fmt)) or give DataFormat=")
        return False
    if weights is not None and np.ndim(weights) > 1:
        raise ValueError(f"{fname}: elementwise weights are taken for data in sct's layout "
                         "(batch first, channels last): pass stripdims(Y) arranged that way")
    return True


# the inputs of a layout function that may be labelled in another order than its first input
ALIGNED_INPUTS = {**{name: (1, "Mask") for name in ("crossentropy",) + LOSS_FUNCTIONS},
                  "attention": (1, 2, "PaddingMask")}


def run_formatted(fname: str, fn, args: tuple, kwargs: Dict[str, Any], DataFormat=None):
    """Eager (outside dlfeval) run of ``fn`` on formatted data: by its plan, on plain arrays."""
    from .dlarray import dlarray
    X = args[0]
    fmt, formatted = _given_format(fname, X, DataFormat)
    check_format(fmt, np.ndim(X), fname)
    if len(fmt) != np.ndim(X):
        raise ValueError(f"{fname}: the data format {fmt!r} has {len(fmt)} labels but the input has "
                         f"{np.ndim(X)} dimensions")
    p = plan(fname, fmt, formatted, kwargs)
    wrap = any(isinstance(a, dlarray) for a in args)
    plain = [a._data if isinstance(a, dlarray) else a for a in args]
    kwargs = dict(kwargs)
    if fname in ALIGNED_INPUTS:
        # targets (and a mask; attention's keys and values) labelled in another order: arranged by their
        # labels into the order of the first input
        for where in ALIGNED_INPUTS[fname]:
            values = kwargs if isinstance(where, str) else plain
            v = kwargs.get(where) if isinstance(where, str) else args[where] if len(args) > where else None
            if isinstance(v, dlarray):
                values[where] = v._data
                if format_of(v) and format_of(v) != fmt:
                    values[where] = align_data(v._data, format_of(v), fmt, fname)
    for pos, perm, flatten in p.pre:
        values = kwargs if isinstance(pos, str) else plain
        if isinstance(pos, str) and values.get(pos) is None:
            continue
        v = np.asarray(values[pos])
        if perm is not None and v.ndim != len(perm):
            what = pos if isinstance(pos, str) else {0: "the input", 1: "the targets"}.get(pos, f"argument {pos + 1}")
            raise ValueError(f"{fname}: {what} {'has' if pos == 0 else 'have'} {v.ndim} dimensions where the "
                             f"data format {fmt!r} has {len(perm)}: give them the predictions' size (MATLAB ignores "
                             "trailing singleton 'U' labels after the second, sct keeps them) or label them")
        if perm is not None:
            v = np.transpose(v, perm)
        if flatten is not None:
            v = np.reshape(v, flat_shape(v, flatten))
        values[pos] = v
    for pos, _, function in p.calls:
        plain[pos] = _PLAN_CALLS[function](plain[pos])
    result = fn(*plain, **{**kwargs, **p.options})

    def arrange(y):
        y = np.asarray(y)
        if p.unbatch:
            y = y[0]
        if p.post is not None:
            y = np.transpose(y, p.post)
        out = dlarray(y) if wrap else y
        return relabel(out, p.out_format) if wrap and p.out_format else out

    if p.item is not None and fname == "maxpool":
        return (arrange(result[0]),) + pool_indices_into(result[1], result[2], p.post)
    if p.item is not None:
        result = tuple(arrange(r) if i == p.item else (dlarray(r) if wrap else r) for i, r in enumerate(result))
        return result
    return arrange(result)


def formats_fit(value, tree, fname="forward") -> None:
    """Refuse a network output whose number of dimensions differs from that of the format followed
    through its layers (``tree``: a str, None, or tuples of them, as ``value`` nests): a custom layer's
    output takes its input's format, as MATLAB's do unless the layer is Formattable
    (``sct.runtime.network._format_rule``), which a layer changing the rank breaks."""
    if isinstance(tree, str):
        if np.ndim(value) != len(tree):
            raise ValueError(f"{fname}: an output of the network has {np.ndim(value)} dimensions, but the data "
                             f"format followed through its layers is {tree!r}: a custom layer changed the number of "
                             "dimensions (its output takes its input's format, as in MATLAB, where a layer that "
                             "changes the layout is Formattable); call forward/predict on stripdims(X) in sct's "
                             "layout and label the result yourself")
    elif isinstance(tree, (tuple, list)) and isinstance(value, (tuple, list)):
        for v, t in zip(value, tree):
            formats_fit(v, t, fname)


def outside_data(x):
    """The data of a formatted dlarray the function reads from outside (a module global, a closure's
    value): generated code holds plain arrays and follows their labels when it is compiled
    (``sct.formats.FormatPass.outside_reads``).  A constant: such a value is not traced."""
    from .dlarray import dlarray
    return x._data if isinstance(x, dlarray) else x


def format_not_given(value, fname: str) -> None:
    """Refuse a ``DataFormat`` that a parameter defaulting to None (the parameters of a
    ``functools.partial``'s function, sct/partials.py; a helper's ``fmt=None``) holds when the code runs:
    the call was compiled for unformatted data in sct's layout, as the default says."""
    if value is not None:
        raise ValueError(f"{fname}: DataFormat={value!r} given when the code runs, where it was compiled for "
                         f"its default None: inside dlfeval write DataFormat as a literal string at the call "
                         f"of {fname} (or label the data with dlarray(X, fmt))")


def format_is(value, fmt, fname: str, option: str = "DataFormat") -> None:
    """Refuse a ``DataFormat`` that a parameter defaulting to the string ``fmt`` (a
    ``functools.partial``'s frozen ``DataFormat="CB"``, sct/partials.py; a helper's ``fmt="CB"``) holds
    when the code runs, other than that string: the call was compiled for the default's layout."""
    if type(value) is not type(fmt) or value != fmt:
        raise ValueError(f"{fname}: {option}={value!r} given when the code runs, where it was compiled for "
                         f"its default {fmt!r}: inside dlfeval write {option} as a literal at the call "
                         f"of {fname}" + (" (or label the data with dlarray(X, fmt))" if option == "DataFormat" else ""))


def unformatted_result(what: str, *values) -> None:
    """Refuse a formatted dlarray returned, where the function's data formats are followed when it is
    compiled, by a call sct does not read in place (``sct.formats.FormatPass.checked_result``)."""
    from .dlarray import dlarray
    stack = [(v, 0) for v in values]
    budget = 10000          # (the items of a list or dict looked at: a long list of numbers costs no more)
    while stack and budget:
        budget -= 1
        item, depth = stack.pop()
        if isinstance(item, (tuple, list)) and depth < 8:
            stack.extend((i, depth + 1) for i in item)
        elif isinstance(item, dict) and depth < 8:
            stack.extend((i, depth + 1) for i in item.values())
        elif isinstance(item, dlarray) and item._fmt:
            raise ValueError(
                f"{what}() returned a formatted dlarray ({item._fmt!r}) where sct follows data formats "
                f"when it compiles the function, and it does not read {what}() in place (another "
                "module's function, a method, a lambda or a partial): its labels are not known there, and "
                "it would meet the function's other formatted values unaligned. Label it in the function "
                f"dlfeval runs (T = dlarray(stripdims({what}(...)), fmt)) or pass it as an argument")


_PLAIN_TYPES = (np.ndarray, float, int, bool, str, type(None))
_DLARRAY: list = []          # [sct's dlarray class], imported on first use (an import per call costs 2 us)


def unformatted_outside(what: str, *values) -> None:
    """Refuse a formatted dlarray read, where the function's data formats are followed when it is
    compiled, through an object outside the function that the compiler does not follow (an attribute of
    an instance, an item picked when the code runs: ``sct/outside_formats.py``): such an object can change
    in place without recompiling, and its labels were taken as none (a wrong derivative, ``dims``)."""
    for v in values:
        if type(v) not in _PLAIN_TYPES:
            _refuse_formatted(what, v)


def _refuse_formatted(what: str, value) -> None:
    if type(value) in (list, tuple) and all(type(v) in _PLAIN_TYPES for v in value):
        return
    if type(value) is dict and all(type(v) in _PLAIN_TYPES for v in value.values()):
        return
    if not _DLARRAY:
        from .dlarray import dlarray
        _DLARRAY.append(dlarray)
    dlarray = _DLARRAY[0]
    stack = [(value, 0)]
    budget = 10000
    while stack and budget:
        budget -= 1
        item, depth = stack.pop()
        if type(item) is dlarray or isinstance(item, dlarray):
            if item._fmt:
                raise ValueError(
                    f"`{what}` gave a formatted dlarray ({item._fmt!r}) read through an object whose contents "
                    "are not part of what the function was compiled for (an attribute of an object outside the "
                    "function, a class attribute read through an argument, an item of a list or dict, or what "
                    "a function run as it is returned): sct follows data formats when it compiles the "
                    "function, and such an object can change without that, so its labels would not be read "
                    "(a wrong derivative). Pass it as an argument of the function dlfeval runs (its labels "
                    "are then part of its kind), or bind it to a module-level name")
        elif isinstance(item, (tuple, list)) and depth < 8:
            stack.extend((i, depth + 1) for i in item)
        elif isinstance(item, dict) and depth < 8:
            stack.extend((i, depth + 1) for i in item.values())


def pool_indices_into(indx, size, post):
    """maxpool's ``indx`` and ``inputSize`` computed in sct's layout (``size``, the input transposed)
    made the input's own: linear indices into the input in its order (numpy's C order), arranged by
    ``post`` as the pooled values are, and the input's size.  ``maxunpool`` then needs no layout."""
    if post is None:
        return np.asarray(indx), tuple(size)
    coords = np.unravel_index(np.asarray(indx), size)
    shape = tuple(int(size[i]) for i in post)
    flat = np.ravel_multi_index(tuple(coords[i] for i in post), shape)
    return np.transpose(flat, post), shape


nondifferentiable(format_is, format_not_given, formats_fit, pool_indices_into, outside_data, unformatted_result, unformatted_outside, dims, finddim, flat_shape, labelled_weights, check_format, format_of, check_fixed_layout, run_formatted,
                  formatted_loss, recurrent_plan, recurrent_shape, recurrent_out_shape, run_recurrent,
                  same_labels, align_perm, compose, canonical_layout)

__all__ = ["dims", "finddim", "stripdims"]


def matlab_feature_weights(weights):
    """MATLAB's fullyconnect weights for formatted data with several feature dimensions, their input
    dimensions reversed ((out, H, W, C) -> (out, C, W, H)): flattened row-major, that is MATLAB's
    column-major ``weights(:, :)``, the order the input's features are flattened in (S.., C, U.., the
    first fastest).  An (out, in) matrix is MATLAB's as it is."""
    ndim = np.ndim(weights)
    if ndim <= 2:
        return weights
    return np.transpose(weights, (0,) + tuple(range(ndim - 1, 0, -1)))


@defrule(matlab_feature_weights, linear="weights")
def _matlab_feature_weights_rule(g, ans, weights):
    return matlab_feature_weights(g)          # reversing the axes after the first twice is the identity


#: the functions a plan's ``calls`` name (``Plan.calls``), by name
_PLAN_CALLS = {"matlab_feature_weights": matlab_feature_weights}
