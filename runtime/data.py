"""Mini-batches for custom training loops (MATLAB's minibatchqueue) and a bundled dataset.

::

    mbq = minibatchqueue(XTrain, TTrain, MiniBatchSize=128,
                         MiniBatchFcn=lambda X, T: (X, onehotencode(T, 10)))
    for epoch in range(numEpochs):
        shuffle(mbq)
        while hasdata(mbq):
            X, T = next(mbq)
            ...

Observations are along axis 0 of every data array (sct's batch-first layout).
``load_digits`` reads the 8x8 handwritten digits that scikit-learn ships (no
download; install the ``data`` extra, ``pip install sct[data]``).
"""
from __future__ import annotations

import numbers
from typing import Any, Callable, Optional, Tuple

from .imported import np

from .dlarray import dlarray
from .formats import check_format

__all__ = ["minibatchqueue", "hasdata", "shuffle", "reset", "partition", "load_digits", "arrayDatastore", "combine",
           "read"]


class arrayDatastore:
    """An in-memory datastore of an array (MATLAB's arrayDatastore), for ``minibatchqueue``.

    ``IterationDimension`` (default 0, a Python axis; the B axis of a formatted dlarray) is the axis of
    the observations:
    MATLAB's ``arrayDatastore(X, IterationDimension=4)`` for (H, W, C, N) images is
    ``arrayDatastore(X, IterationDimension=3)``.  ``read(ds)`` gives the next ``ReadSize``
    observations (default 1), the observations' axis first; ``hasdata``, ``reset``;
    ``combine(dsX, dsT)`` pairs datastores, and ``minibatchqueue(ds, ...)`` batches them
    (the observations along axis 0, as for arrays).

    >>> ds = arrayDatastore(np.arange(6.0).reshape(2, 3), IterationDimension=1)
    >>> read(ds).tolist(), ds.NumObservations
    ([[0.0, 3.0]], 3)
    """

    def __init__(self, data: Any, IterationDimension: Optional[int] = None, ReadSize: int = 1,
                 OutputType: str = "same") -> None:
        values = data.data if isinstance(data, dlarray) else np.asarray(data)
        if IterationDimension is None:
            # a formatted dlarray: its observations are along its B dimension (was: axis 0 whatever its
            # labels, so "SSCB" images were read row by row, silently)
            fmt = data._fmt if isinstance(data, dlarray) else ""
            if fmt and "B" not in fmt:
                raise ValueError(f"arrayDatastore: the data are labelled {fmt!r}, without a B (batch) dimension: "
                                 "give IterationDimension (the 0-based axis of the observations)")
            IterationDimension = fmt.index("B") if fmt and fmt.index("B") < values.ndim else 0
        if not isinstance(IterationDimension, numbers.Integral) or not -values.ndim <= IterationDimension < max(values.ndim, 1):
            raise ValueError(f"arrayDatastore: IterationDimension must be an axis of the data (0-based, "
                             f"{values.ndim} axes), got {IterationDimension!r}")
        if not isinstance(ReadSize, numbers.Integral) or ReadSize < 1:
            raise ValueError(f"arrayDatastore: ReadSize must be a positive integer, got {ReadSize!r}")
        if OutputType not in ("same", "cell"):
            raise ValueError(f"arrayDatastore: OutputType must be 'same' or 'cell', got {OutputType!r}")
        self.Data = np.moveaxis(values, IterationDimension, 0) if values.ndim else values[None]
        self.IterationDimension = IterationDimension
        self.ReadSize = int(ReadSize)
        self.OutputType = OutputType
        self.NumObservations = len(self.Data)
        self._position = 0

    def arrays(self) -> list:
        """The data, observations first (what minibatchqueue batches)."""
        return [self.Data]

    def hasdata(self) -> bool:
        """Are there observations left to read?"""
        return self._position < self.NumObservations

    def reset(self) -> "arrayDatastore":
        """Back to the first observation."""
        self._position = 0
        return self

    def read(self) -> Any:
        """The next ``ReadSize`` observations."""
        if not self.hasdata():
            raise StopIteration("arrayDatastore: no data left; call reset(ds)")
        part = self.Data[self._position:self._position + self.ReadSize]
        self._position += len(part)
        return list(part) if self.OutputType == "cell" else part

    def __repr__(self) -> str:
        return f"arrayDatastore: {self.NumObservations} observations of shape {self.Data.shape[1:]}"


class CombinedDatastore:
    """Datastores read together (MATLAB's ``combine(ds1, ds2, ...)``)."""

    def __init__(self, *stores: Any) -> None:
        counts = {s.NumObservations for s in stores}
        if len(counts) != 1:
            raise ValueError(f"combine: the datastores have different numbers of observations "
                             f"{[s.NumObservations for s in stores]}")
        self.UnderlyingDatastores = list(stores)
        self.NumObservations = counts.pop()

    def arrays(self) -> list:
        """The arrays of every datastore, observations first."""
        return [a for s in self.UnderlyingDatastores for a in s.arrays()]

    def hasdata(self) -> bool:
        """Are there observations left to read?"""
        return all(s.hasdata() for s in self.UnderlyingDatastores)

    def reset(self) -> "CombinedDatastore":
        """Back to the first observation."""
        for s in self.UnderlyingDatastores:
            s.reset()
        return self

    def read(self) -> tuple:
        """The next observations of each datastore."""
        return tuple(s.read() for s in self.UnderlyingDatastores)


def combine(*stores: Any) -> CombinedDatastore:
    """MATLAB's ``combine(dsX, dsT)``: datastores read together; ``minibatchqueue`` batches each.

    >>> ds = combine(arrayDatastore(np.zeros((4, 2))), arrayDatastore(np.arange(4)))
    >>> X, T = minibatchqueue(ds, MiniBatchSize=4).next()
    >>> X.shape, T.tolist()
    ((4, 2), [0, 1, 2, 3])
    """
    return CombinedDatastore(*stores)


def read(ds: Any) -> Any:
    """MATLAB's ``read(ds)``: the next observations of a datastore.

    >>> read(arrayDatastore(np.array([[1.0, 2.0], [3.0, 4.0]]))).tolist()
    [[1.0, 2.0]]
    """
    return ds.read()


class minibatchqueue:
    """Mini-batches of ``data`` (arrays with the observations along axis 0).

    Options (MATLAB's names): ``MiniBatchSize`` (default 128); ``PartialMiniBatch``
    "return" (default: the last, smaller batch is returned) or "discard";
    ``MiniBatchFcn``: a function of one mini-batch of each data array returning the
    outputs (one value or a tuple; ``NumOutputs`` defaults to the number of data
    arrays, or to what the function returns); ``OutputAsDlarray`` (default True:
    floating outputs come as dlarrays; a bool or one per output); ``Seed`` for the
    shuffles (default: fresh randomness).

    ``MiniBatchFormat``: the data format of each output (one string, or one per output; ``""``
    unformatted): a mini-batch has its observations along axis 0 and the other axes in the order of
    the data, so ``"BC"``, ``"BSSC"``, ``"BTC"`` label it as it is, and a format with B elsewhere
    moves the observations' axis there (``"CB"``: (C, B), ``"SSCB"``: (H, W, C, B), MATLAB's
    layouts); outputs that are not arrays are left as they are.  ``OutputCast``: ``"single"``,
    ``"double"``, ``"half"``, ``"logical"`` or an integer type (one, or one per output; default
    None: the data's own type -- MATLAB casts to single by default).  ``OutputEnvironment``
    ``"auto"`` or ``"cpu"`` (the data stay where they are).

    ``hasdata(mbq)``, ``next(mbq)`` (a tuple when there are several outputs),
    ``reset(mbq)`` (back to the start, same order), ``shuffle(mbq)`` (a new random
    order, and reset).  Iterating over ``mbq`` gives the remaining batches of one pass.

    >>> mbq = minibatchqueue(np.arange(10.0).reshape(5, 2), np.arange(5), MiniBatchSize=2)
    >>> X, T = mbq.next()
    >>> X.shape, T.tolist(), len(mbq)
    ((2, 2), [0, 1], 3)
    """

    def __init__(self, *data: Any, MiniBatchSize: int = 128, PartialMiniBatch: str = "return",
                 MiniBatchFcn: Optional[Callable[..., Any]] = None, OutputAsDlarray: bool = True,
                 NumOutputs: Optional[int] = None, Seed: Optional[int] = None, MiniBatchFormat: Any = None,
                 OutputCast: Any = None, OutputEnvironment: Any = "auto") -> None:
        if len(data) == 1 and isinstance(data[0], (arrayDatastore, CombinedDatastore)):
            data = tuple(data[0].arrays())          # a datastore: its arrays, observations first
        if not data:
            raise ValueError("minibatchqueue: give at least one data array")
        # a formatted dlarray is batched along its B dimension (was: along axis 0 whatever its labels, so
        # "SSCB" images were cut along their height, "CB" data along their channels, silently where the
        # counts agreed); its mini-batches keep its labels and its order of dimensions
        self._formats = [_batch_format(d, i) for i, d in enumerate(data)]
        arrays = [np.moveaxis(d.data, fmt.index("B"), 0) if fmt else d.data if isinstance(d, dlarray) else d
                  for d, fmt in zip(data, self._formats)]
        counts = {len(a) for a in arrays}
        if len(counts) != 1:
            raise ValueError(f"minibatchqueue: the data arrays have different numbers of observations "
                             f"{[len(a) for a in arrays]}")
        if not isinstance(MiniBatchSize, numbers.Integral) or MiniBatchSize < 1:
            raise ValueError(f"minibatchqueue: MiniBatchSize must be a positive integer, got {MiniBatchSize!r}")
        if PartialMiniBatch not in ("return", "discard"):
            raise ValueError(f"minibatchqueue: PartialMiniBatch must be 'return' or 'discard', "
                             f"got {PartialMiniBatch!r}")
        self._data = [np.asarray(a) if not isinstance(a, (list, tuple)) else a for a in arrays]
        self.NumObservations = counts.pop()
        self.MiniBatchSize = int(MiniBatchSize)
        self.PartialMiniBatch = PartialMiniBatch
        self.MiniBatchFcn = MiniBatchFcn
        self.OutputAsDlarray = OutputAsDlarray
        self.NumOutputs = NumOutputs if NumOutputs is not None else \
            (len(data) if MiniBatchFcn is None else None)
        # no Seed: numpy's global generator (as MATLAB's shuffle draws from rng): np.random.seed repeats it
        self._rng = np.random.default_rng(Seed) if Seed is not None else None
        self._order = np.arange(self.NumObservations)
        self._position = 0
        self.MiniBatchFormat = MiniBatchFormat
        self.OutputCast = OutputCast
        for name, value in (("MiniBatchFormat", MiniBatchFormat), ("OutputCast", OutputCast)):
            if value is not None and not isinstance(value, str) and \
                    not (isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value)):
                raise ValueError(f"minibatchqueue: {name} must be a string or a list of strings, got {value!r}")
        for cast in _per_output(OutputCast, None) if OutputCast is not None else ():
            if cast not in _CASTS:
                raise ValueError(f"minibatchqueue: OutputCast must be one of {sorted(_CASTS)}, got {cast!r}")
        for fmt in _per_output(MiniBatchFormat, None) if MiniBatchFormat is not None else ():
            if fmt:
                check_format(fmt, None, "minibatchqueue")
        envs = OutputEnvironment if isinstance(OutputEnvironment, (list, tuple)) else [OutputEnvironment]
        for env in envs:
            if env not in ("auto", "cpu"):
                raise ValueError(f"minibatchqueue: OutputEnvironment {env!r} is not available: sct's mini-batches "
                                 "stay where the data are ('auto' or 'cpu')")

    # --- MATLAB's functions as methods ------------------------------------------------------------
    def hasdata(self) -> bool:
        """Is there another mini-batch in this pass?"""
        left = self.NumObservations - self._position
        if self.PartialMiniBatch == "discard":
            return left >= self.MiniBatchSize
        return left > 0

    def reset(self) -> None:
        """Start the pass again (same order)."""
        self._position = 0
        return self

    def shuffle(self) -> None:
        """A new random order of the observations; starts the pass again."""
        rng = self._rng if self._rng is not None else np.random
        self._order = rng.permutation(self.NumObservations)
        self._position = 0
        return self

    def next(self) -> Tuple[Any, ...]:
        """The next mini-batch: one output, or a tuple of them."""
        if not self.hasdata():
            raise StopIteration("minibatchqueue: no data left in this pass; call reset(mbq) or shuffle(mbq)")
        idx = self._order[self._position:self._position + self.MiniBatchSize]
        self._position += len(idx)
        parts = [_take(d, idx) for d in self._data]
        parts = [dlarray(np.moveaxis(p, 0, fmt.index("B")), fmt) if fmt else p
                 for p, fmt in zip(parts, self._formats)]
        if self.MiniBatchFcn is not None:
            out = self.MiniBatchFcn(*parts)
            outputs = list(out) if isinstance(out, tuple) else [out]
        else:
            outputs = parts
        if self.NumOutputs is not None and len(outputs) != self.NumOutputs:
            raise ValueError(f"minibatchqueue: MiniBatchFcn returned {len(outputs)} outputs, "
                             f"NumOutputs is {self.NumOutputs}")
        if self.OutputCast is not None:
            outputs = [_cast(o, c) for o, c in zip(outputs, _per_output(self.OutputCast, len(outputs)))]
        flags = self.OutputAsDlarray
        if isinstance(flags, (bool, np.bool_)):
            flags = [bool(flags)] * len(outputs)
        outputs = [dlarray(o) if f and _floating(o) else o.data if not f and isinstance(o, dlarray) else o
                   for o, f in zip(outputs, flags)]
        if self.MiniBatchFormat is not None:
            outputs = [_formatted(o, fmt) for o, fmt in zip(outputs, _per_output(self.MiniBatchFormat, len(outputs)))]
        return outputs[0] if len(outputs) == 1 else tuple(outputs)

    __next__ = next

    def __iter__(self):
        while self.hasdata():
            yield self.next()

    def __len__(self):
        """The number of mini-batches in a pass."""
        full, rest = divmod(self.NumObservations, self.MiniBatchSize)
        return full + (1 if rest and self.PartialMiniBatch == "return" else 0)

    def __repr__(self):
        return (f"minibatchqueue: {self.NumObservations} observations in mini-batches of "
                f"{self.MiniBatchSize} (partial: {self.PartialMiniBatch!r}), at {self._position}")


_CASTS = {"single": np.float32, "double": np.float64, "half": np.float16, "logical": np.bool_,
          "int8": np.int8, "int16": np.int16, "int32": np.int32, "int64": np.int64,
          "uint8": np.uint8, "uint16": np.uint16, "uint32": np.uint32, "uint64": np.uint64}


def _per_output(value, count):
    """One option for every output: a string for all of them, or a list with one per output."""
    if isinstance(value, str):
        return [value] * (count or 1)
    value = list(value)
    if count is not None and len(value) != count:
        raise ValueError(f"minibatchqueue: {len(value)} values given for {count} outputs")
    return value


def _cast(x, cast):
    """``x`` cast to MATLAB's type name ``cast`` (numeric arrays only; other outputs as they are)."""
    data = x.data if isinstance(x, dlarray) else x
    if not isinstance(data, np.ndarray) or not (np.issubdtype(data.dtype, np.number) or data.dtype == np.bool_):
        return x
    out = data.astype(_CASTS[cast], copy=False)
    if isinstance(x, dlarray):
        return dlarray(out, x._fmt) if x._fmt else dlarray(out)     # (was: its labels dropped)
    return out


def _batch_format(d, position) -> str:
    """The labels of a data array that is a formatted dlarray (its B is the observations' axis), or ""."""
    fmt = d._fmt if isinstance(d, dlarray) else ""
    if fmt and "B" not in fmt:
        raise ValueError(f"minibatchqueue: the data array {position + 1} is labelled {fmt!r}, without a B "
                         "(batch) dimension to take the observations from: label it with B, or pass the "
                         "plain array with the observations along axis 0")
    if fmt and len(fmt) > np.ndim(d.data):
        raise ValueError(f"minibatchqueue: the data array {position + 1} is labelled {fmt!r} with its B beyond "
                         f"its {np.ndim(d.data)} dimensions (one observation): give it as many dimensions as labels")
    return fmt or ""


def _formatted(x, fmt):
    """The mini-batch ``x`` (observations along axis 0) labelled ``fmt``, its observations moved to B; a
    mini-batch already labelled (formatted data, or a MiniBatchFcn returning a formatted dlarray) keeps
    its dimensions, put in ``fmt``'s order where its labels are the same (was: its axis 0 moved to B as
    if it held the observations)."""
    if not fmt:
        return x
    own = x._fmt if isinstance(x, dlarray) else ""
    if own:
        if own == fmt:
            return x
        if sorted(own) != sorted(fmt):
            raise ValueError(f"minibatchqueue: MiniBatchFormat {fmt!r} for a mini-batch labelled {own!r}: give "
                             "the labels it has (or MiniBatchFormat '' to keep them)")
        rest = list(range(len(own)))
        order = []
        for label in fmt:
            k = next(i for i in rest if own[i] == label)
            rest.remove(k)
            order.append(k)
        return dlarray(np.transpose(x.data, order), fmt)
    data = x.data if isinstance(x, dlarray) else x
    if not isinstance(data, np.ndarray):
        return x
    if "B" in fmt and fmt.index("B") < max(np.ndim(data), 1):
        data = np.moveaxis(data, 0, fmt.index("B"))
    return dlarray(data, fmt)


def _take(d, idx):
    if isinstance(d, (list, tuple)):
        return [d[i] for i in idx]
    return d[idx]


def _floating(x) -> bool:
    return isinstance(x, dlarray) or (isinstance(x, np.ndarray) and np.issubdtype(x.dtype, np.inexact))


def hasdata(mbq: Any) -> bool:
    """MATLAB's hasdata(mbq).

    >>> mbq = minibatchqueue(np.arange(3.0), MiniBatchSize=2)
    >>> while hasdata(mbq):
    ...     print(extractdata(mbq.next()))
    ...
    [0. 1.]
    [2.]
    """
    return mbq.hasdata()


def shuffle(mbq: minibatchqueue) -> None:
    """MATLAB's shuffle(mbq): a new random order, from the start.

    >>> mbq = minibatchqueue(np.arange(6.0), MiniBatchSize=6, Seed=0)
    >>> mbq = shuffle(mbq)
    >>> extractdata(mbq.next()).tolist()
    [3.0, 2.0, 5.0, 4.0, 0.0, 1.0]
    """
    return mbq.shuffle()


def reset(mbq: Any) -> None:
    """MATLAB's reset(mbq): from the start, same order.

    >>> mbq = minibatchqueue(np.arange(4.0), MiniBatchSize=2)
    >>> first = extractdata(mbq.next())
    >>> mbq = reset(mbq)
    >>> extractdata(mbq.next()).tolist() == first.tolist()
    True
    """
    return mbq.reset()


def partition(n, fraction, seed=0):
    """Indices splitting ``n`` observations at random into ``fraction`` and the rest."""
    order = np.random.default_rng(seed).permutation(n)
    cut = int(round(n * fraction))
    return order[:cut], order[cut:]


def load_digits(TestFraction: float = 0.25, Seed: Optional[int] = 0,
                dtype: Any = np.float64) -> Tuple[Any, Any, Any, Any]:
    """The 8x8 handwritten digits scikit-learn ships (1797 images of 0-9; no download).

    Returns ``XTrain, TTrain, XTest, TTest``: images (N, 8, 8, 1) scaled to [0, 1] and integer
    labels 0-9, split at random (``TestFraction`` of them for testing, reproducibly by ``Seed``).
    Needs scikit-learn (``pip install sct[data]``).

    >>> XTrain, TTrain, XTest, TTest = load_digits()
    >>> XTrain.shape, XTest.shape, TTrain[:5]
    ((1348, 8, 8, 1), (449, 8, 8, 1), array([3, 6, 0, 0, 3]))
    """
    try:
        from sklearn.datasets import load_digits as _load
    except ImportError as exc:             # pragma: no cover - depends on the environment
        raise ImportError("load_digits needs scikit-learn, which ships the data: pip install scikit-learn "
                          "(or sct[data])") from exc
    bunch = _load()
    X = (np.asarray(bunch.images, dtype=dtype) / 16.0)[..., None]
    T = np.asarray(bunch.target, dtype=np.int64)
    test, train = partition(len(T), TestFraction, Seed)
    return X[train], T[train], X[test], T[test]
