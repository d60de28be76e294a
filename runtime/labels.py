"""The labels of a data format (S, C, B, T, U) as plain strings and arrays: a format checked, data
padded to its labels, one labelling aligned to another.  No dlarray here: the dlarray type and the
data formats (``formats.py``: how deep-learning functions run on formatted data) both build on it.
"""
from __future__ import annotations

from typing import Dict, List, Optional, Tuple

from .imported import np

LABELS = "SCBTU"


def check_format(fmt, ndim: Optional[int] = None, name: str = "dlarray") -> str:
    """``fmt`` validated as MATLAB does: letters S, C, B, T, U, at most one C, B and T, at least
    as many labels as ``ndim`` (extra labels are trailing singleton dimensions)."""
    if not isinstance(fmt, str):
        raise TypeError(f"{name}: the data format must be a string of the labels S, C, B, T, U, got {fmt!r}")
    bad = sorted(set(c for c in fmt if c not in LABELS))
    if bad:
        raise ValueError(f"{name}: invalid dimension label(s) {''.join(bad)!r} in format {fmt!r}: "
                         "use S (spatial), C (channel), B (batch), T (time), U (unspecified)")
    for label in "CBT":
        if fmt.count(label) > 1:
            raise ValueError(f"{name}: format {fmt!r} has more than one {label!r} dimension "
                             "(at most one C, one B and one T)")
    if ndim is not None and len(fmt) < ndim:
        raise ValueError(f"{name}: format {fmt!r} has {len(fmt)} labels but the data has {ndim} dimensions")
    return fmt


def formatted_data(data: np.ndarray, fmt: str, name: str = "dlarray") -> np.ndarray:
    """``data`` with trailing singleton dimensions for the labels beyond its dimensions, and without
    trailing singleton dimensions beyond its labels (MATLAB's dlarray(randn(12, 1), "C"): a
    column's second dimension is a trailing singleton there)."""
    if isinstance(fmt, str) and 0 < len(fmt) < data.ndim and all(n == 1 for n in data.shape[len(fmt):]):
        data = data.reshape(data.shape[:len(fmt)])
    check_format(fmt, data.ndim, name)
    if len(fmt) > data.ndim:
        data = data.reshape(data.shape + (1,) * (len(fmt) - data.ndim))
    return data


def reduced_format(fmt: str, axis, keepdims) -> str:
    """The labels of a reduction (``np.sum(x, axis, keepdims=...)``) of data labelled ``fmt``: MATLAB's
    sum(X, 1), mean(X, [1 2]), max, ... keep the format, the reduced dimensions singletons: with
    ``keepdims=True`` all of ``fmt``, without it the labels of the dimensions left; "" when ``axis`` is not
    an int or a tuple of ints (None: every dimension reduced) or out of range."""
    if keepdims is True:
        return fmt
    if keepdims not in (False, None):
        return ""
    axes = axis if isinstance(axis, tuple) else (axis,)
    n = len(fmt)
    if not axes or not all(isinstance(a, (int, np.integer)) and not isinstance(a, (bool, np.bool_)) and -n <= a < n
                           for a in axes):
        return ""
    gone = {int(a) % n for a in axes}
    return "".join(c for i, c in enumerate(fmt) if i not in gone)


def same_labels(a: str, b: str) -> bool:
    """Do the formats ``a`` and ``b`` have the same labels (each as often), in any order?"""
    return sorted(a) == sorted(b)


def align_perm(src: str, dst: str, name: str = "dlarray") -> Optional[Tuple[int, ...]]:
    """The permutation that arranges data labelled ``src`` in the order of ``dst`` (None: none needed).

    MATLAB stores every formatted dlarray in its order S.., C, B, T, U, so two arrays with the same
    labels in any order line up label by label; sct keeps numpy's order, so the second operand is
    transposed to the first's.  Repeated labels (S, U) keep their relative order, as MATLAB's.
    Different labels raise ``ValueError``."""
    if not same_labels(src, dst):
        raise ValueError(f"{name}: dlarray formats {dst!r} and {src!r} have different labels: sct aligns "
                         "formatted operands by their labels only when both have the same labels; arrange the "
                         "data (np.transpose) and relabel, or call stripdims")
    taken: Dict[str, int] = {}
    order = []
    for c in dst:
        k = taken.get(c, 0)
        order.append([i for i, s in enumerate(src) if s == c][k])
        taken[c] = k + 1
    return _perm(src, order)


def arrange_plan(src: str, dst: str, name: str = "stripdims") -> Tuple[Optional[Tuple[int, ...]], Tuple[int, ...]]:
    """MATLAB's ``stripdims(X, fmt)`` where ``fmt`` is "a superset of a permutation of dims(X)": the
    permutation that arranges data labelled ``src`` in the order its labels have in ``dst`` (None: none
    needed), and the axes of ``dst`` whose labels ``src`` lacks (singleton dimensions inserted there;
    a repeated label's first occurrences are the ones ``src`` has)."""
    check_format(dst, None, name)
    used: Dict[str, int] = {}
    present, missing = [], []
    for i, c in enumerate(dst):
        if used.get(c, 0) < src.count(c):
            present.append(c)
            used[c] = used.get(c, 0) + 1
        else:
            missing.append(i)
    if not same_labels(src, "".join(present)):
        raise ValueError(f"{name}: formats {dst!r} and {src!r} have different labels: {dst!r} must have every "
                         f"label of the data's format {src!r} (MATLAB: a superset of a permutation of dims(X))")
    return align_perm(src, "".join(present), name), tuple(missing)


def arrange_data(x, src: str, dst: str, name: str = "stripdims"):
    """The array ``x`` (data labelled ``src``) arranged in the order of ``dst``, with singleton dimensions
    for the labels of ``dst`` that ``src`` lacks (``arrange_plan``)."""
    perm, missing = arrange_plan(src, dst, name)
    x = x if perm is None else np.transpose(x, perm)
    return np.expand_dims(x, missing) if missing else x


def align_data(x, src: str, dst: str, name: str = "dlarray"):
    """The array ``x`` (data labelled ``src``) transposed into the order of ``dst``."""
    perm = align_perm(src, dst, name)
    return x if perm is None else np.transpose(x, perm)


def _perm(fmt: str, order: List[int]) -> Optional[Tuple[int, ...]]:
    perm = tuple(order)
    return None if perm == tuple(range(len(fmt))) else perm


def matmul_message(what: str, fmt: str) -> str:
    """The refusal of ``a @ b`` (``np.matmul``, ``np.dot``) with an operand labelled ``fmt``: MATLAB's mtimes
    takes a formatted dlarray only with an unformatted scalar.  Its result would be unformatted, which the
    deep-learning functions read in sct's default layout (batch first, channels last), not in the labels'."""
    return (f"{what} of a formatted dlarray ({fmt!r}): MATLAB's mtimes takes a formatted dlarray only with an "
            "unformatted scalar, and the unformatted product would be read by the deep-learning functions in "
            "sct's default layout (batch first, channels last), not by its labels; use fullyconnect(X, W, b) "
            "(it reads the labels), or stripdims(X) first and label the result (dlarray(Y, fmt))")


class LostLabels(str):
    """The format ("") of an unformatted dlarray made from a formatted one by an op that does not keep
    labels (a reshape, transpose, np.stack, fancy indexing...; MATLAB's reshape gives an unformatted dlarray
    too).  It is "" to everything else; a deep-learning function that reads a layout refuses it without
    DataFormat= (``lost_message``), as MATLAB's refuses unformatted data, where it would read it in sct's
    default layout (batch first, channels last), not the layout its lost labels named."""
    __slots__ = ()


LOST = LostLabels("")
LOST_KIND = "~lost"         # the format part of the kind of a LOST dlarray (sct.kinds; no format has it)

# The array ops whose result, made from a formatted dlarray, is unformatted data in another arrangement
# (functions of numpy and array methods by name; ``.T`` and indexing by arrays too): marked LOST
LABEL_LOSING_OPS = frozenset((
    "reshape", "transpose", "swapaxes", "moveaxis", "rollaxis", "permute_dims", "matrix_transpose", "stack",
    "hstack", "vstack", "dstack", "column_stack", "concatenate", "squeeze", "expand_dims", "ravel", "flatten",
    "atleast_1d", "atleast_2d", "atleast_3d", "rot90", "broadcast_to", "tile",
    "repeat", "einsum", "tensordot", "kron", "outer", "take", "take_along_axis", "compress", "diagonal",
    "zeros_like", "ones_like", "empty_like", "full_like"))

# The array ops whose result has the dimensions of their array argument, in the same order (the values moved
# along them): its labels are kept, as MATLAB's flip, fliplr, flipud and circshift keep a dlarray's format
# (along any dimension; np.roll without axis= shifts the flattened array, its shape kept too).  Their argument
# marked LOST gives a result marked LOST.
LABEL_KEEPING_OPS = frozenset(("flip", "fliplr", "flipud", "roll"))

# the name of the array argument of each (np.flip(m=x), np.roll(a=x))
LABEL_KEEPING_ARGUMENT = {"flip": "m", "fliplr": "m", "flipud": "m", "roll": "a"}


def lost_message(fname: str) -> str:
    return (f"{fname}: its input is unformatted because an operation (a reshape, transpose, np.stack, "
            "indexing by arrays, ...) dropped the labels of a formatted dlarray, and sct would read it in its "
            "default layout (batch first, channels last), not in the layout the labels named (MATLAB refuses "
            "unformatted input here); label the result (dlarray(y, fmt)), give DataFormat=, or call "
            "stripdims(y) to read it in sct's default layout")
