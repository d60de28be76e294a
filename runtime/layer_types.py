"""MATLAB's built-in layers, as ``sct.Layer`` subclasses of ordinary numpy code.

Each layer keeps its hyperparameters and, while it is being built or shown,
its learnable and state parameters as attributes under MATLAB's names
(``Weights``, ``Bias``, ``Offset``, ``Scale``, ``TrainedMean``, ...).  Its
``predict`` (inference) and ``forward`` (training) are plain Python calling the
runtime's deep-learning functions, so sct compiles and differentiates them like
the user's code.  A layer with state returns ``(Z, state1, ..., stateK)``.

Layout: batch first, channels last (see ``runtime.dlfun``): feature data
(batch, C), sequences (batch, time, C), images (batch, height, width, C).
Weights follow the runtime functions: ``fullyConnectedLayer`` (out, in),
``convolution2dLayer`` (kh, kw, Cin, numFilters), ``lstmLayer``/``gruLayer``
(gates*hidden, in) with gates stacked as MATLAB does, ``embeddingLayer``
(dimension, numWords), MATLAB's.  Class indices and word indices are 0-based.

Initialisers are MATLAB's defaults: Glorot (uniform) for weights, zeros for
biases, ones for scales, orthogonal recurrent weights, the "unit-forget-gate"
LSTM bias, "narrow-normal" (N(0, 0.01^2)) embeddings; each can be chosen by
name ("glorot", "he", "narrow-normal", "orthogonal", "zeros", "ones") or as a
function of the size.  Random initialisers draw from the generator the network
passes (``dlnetwork(..., Seed=...)``).
"""
from __future__ import annotations

from .imported import math
import numbers
from typing import Any, List, Optional, Sequence, Union

from .imported import np
from numpy.typing import ArrayLike

from .dlfun import avgpool, batchnorm, dlconv, dltranspconv, dropout, gelu, layernorm, maxpool, maxunpool
from .dlfun import batchnorm_running, fused_batchnorm_applies, maxpool_values
from .layers import Layer
from .nn import embed, fullyconnect, gru, leakyrelu, lstm, recurrent_activations, relu, sigmoid, softmax

__all__ = ["NetworkDataLayout", "finddim", "featureInputLayer", "imageInputLayer", "sequenceInputLayer",
           "fullyConnectedLayer", "convolution2dLayer", "transposedConv2dLayer", "batchNormalizationLayer", "layerNormalizationLayer",
           "reluLayer", "leakyReluLayer", "tanhLayer", "sigmoidLayer", "geluLayer", "softmaxLayer",
           "dropoutLayer", "maxPooling2dLayer", "maxUnpooling2dLayer", "averagePooling2dLayer", "lstmLayer", "gruLayer",
           "embeddingLayer", "additionLayer", "concatenationLayer", "flattenLayer"]


# --- layouts (MATLAB's networkDataLayout) ----------------------------------------------------------


class NetworkDataLayout:
    """The size and format of a layer's input: ``Size`` (batch first) and ``Format``, e.g.
    (1, 28, 28, 3) "BSSC", (1, 10) "BC", (1, 50, 3) "BTC".

    >>> layout = NetworkDataLayout((1, 28, 28, 3), "BSSC")
    >>> layout.Size, finddim(layout, "S")
    ((1, 28, 28, 3), [1, 2])
    """

    def __init__(self, size: Sequence[int], fmt: str) -> None:
        self.Size = tuple(int(n) for n in size)
        self.Format = str(fmt)
        if len(self.Format) != len(self.Size):
            raise ValueError(f"layout: format {fmt!r} does not fit the size {self.Size}")

    def finddim(self, label: str) -> List[int]:
        """The (0-based) axes labelled ``label`` ("S", "C", "B", "T", "U")."""
        return [i for i, c in enumerate(self.Format) if c == label]

    def __repr__(self):
        return f"NetworkDataLayout(Size={self.Size}, Format={self.Format!r})"


def finddim(layout: NetworkDataLayout, label: str) -> List[int]:
    """MATLAB's ``finddim``: the axes of ``layout`` labelled ``label`` (0-based).

    >>> finddim(NetworkDataLayout((1, 50, 3), "BTC"), "T")
    [1]
    """
    return layout.finddim(label) if hasattr(layout, "finddim") else []


def default_format(ndim):
    """The format of an array of ``ndim`` axes in sct's layout."""
    return {1: "C", 2: "BC", 3: "BTC", 4: "BSSC", 5: "BSSSC"}.get(ndim, "B" + "U" * (ndim - 1))


# --- initialisers -------------------------------------------------------------------------------------

_RNG = [np.random.default_rng(0)]     # MATLAB's global stream starts from seed 0 too


def init_rng():
    """The generator initialisers draw from (set by the network being initialised)."""
    return _RNG[-1]


def initial_values(init, shape, fan_in, fan_out, name):
    """An array of ``shape`` from MATLAB's initialiser ``init`` (a name or a function of the size)."""
    rng = init_rng()
    if callable(init):
        return np.asarray(init(shape), dtype=np.float64).reshape(shape)
    if init == "glorot":
        bound = math.sqrt(6.0 / (fan_in + fan_out))
        return rng.uniform(-bound, bound, shape)
    if init == "he":
        return rng.standard_normal(shape) * math.sqrt(2.0 / fan_in)
    if init == "narrow-normal":
        return rng.standard_normal(shape) * 0.01
    if init == "zeros":
        return np.zeros(shape)
    if init == "ones":
        return np.ones(shape)
    if init == "orthogonal":
        rows, cols = shape
        a = rng.standard_normal((max(rows, cols), min(rows, cols)))
        q, r = np.linalg.qr(a)
        q = q * np.sign(np.diag(r))
        return q if rows >= cols else q.T
    raise ValueError(f"{name}: unknown initializer {init!r} (use 'glorot', 'he', 'narrow-normal', "
                     "'orthogonal', 'zeros', 'ones' or a function of the size)")


def _given(value, shape, name, what):
    """A user-given parameter value, checked against the shape the layer needs."""
    value = np.asarray(value, dtype=np.float64) if not hasattr(value, "dtype") else value
    if tuple(np.shape(value)) != tuple(shape):
        raise ValueError(f"{name}: {what} has shape {tuple(np.shape(value))}, the input needs {tuple(shape)}")
    return value


def _channels(layout, name):
    c = layout.finddim("C")
    if not c:
        raise ValueError(f"{name}: the input ({layout.Format}) has no channel dimension")
    return layout.Size[c[0]]


class BuiltinLayer(Layer):
    """What the built-in layers share: a name and MATLAB's display."""

    Type = "Layer"
    BaseName = "layer"

    def __repr__(self):
        details = self.describe()
        return f"  {type(self).__name__[0].lower() + type(self).__name__[1:]} {self.Name!r}: {self.Type}" + \
            (f" ({details})" if details else "")

    def describe(self) -> str:
        return ""

    def initialize(self, layout):
        return self


# --- input layers ------------------------------------------------------------------------------------


def input_statistic(value, input_size, layer, what):
    """An input layer's ``Mean`` or ``StandardDeviation`` (None: none) as an array broadcasting against one
    observation of ``input_size`` in sct's layout.  MATLAB's shapes: numFeatures-by-1 (featureInputLayer,
    sequenceInputLayer of vectors) -- a column, read as the vector of the channels (was subtracted from
    (batch, C) data as numpy broadcasts a (C, 1) column: a C-by-C table of other values, silently) --,
    h-by-w-by-c or 1-by-1-by-c (images), or a scalar.  Other shapes are refused."""
    if value is None:
        return None
    v = np.asarray(getattr(value, "_data", value), dtype=np.float64)
    size = tuple(input_size)
    if v.ndim == 0:
        return v
    if len(size) == 1 and v.size in (1, size[0]) and max(v.shape) == v.size:
        return np.reshape(v, (v.size,))                 # a row or a column of the channels' values
    try:
        fits = np.broadcast_shapes(v.shape, size) == size
    except ValueError:
        fits = False
    if not fits:
        raise ValueError(f"{layer}: {what} has shape {v.shape}, which does not fit inputs of size {size}: give one "
                         "value per channel (MATLAB's numChannels-by-1, or 1-by-1-by-c for images), one per "
                         "input element, or a scalar")
    return v


class InputLayer(BuiltinLayer):
    """An input layer: passes its input on, normalised as chosen."""

    Format = "BC"

    def __init__(self, input_size, Name, Normalization, Mean, StandardDeviation):
        self.InputSize = tuple(int(n) for n in np.ravel(input_size))
        self.Name = Name
        if Normalization not in ("none", "zerocenter", "zscore"):
            raise ValueError(f"{type(self).__name__}: Normalization must be 'none', 'zerocenter' or "
                             f"'zscore', got {Normalization!r}")
        self.Normalization = Normalization
        self.Mean = input_statistic(Mean, self.InputSize, type(self).__name__, "Mean")
        self.StandardDeviation = input_statistic(StandardDeviation, self.InputSize, type(self).__name__,
                                                 "StandardDeviation")
        if Normalization == "zscore" and (self.Mean is None) != (self.StandardDeviation is None):
            # one without the other: the standard deviation alone was ignored (the input passed on as it was),
            # the mean alone divided by None when the network ran
            raise ValueError(f"{type(self).__name__}: Normalization 'zscore' takes both Mean and StandardDeviation "
                             f"(given: {'Mean' if self.StandardDeviation is None else 'StandardDeviation'} only)")

    def example(self, batch=1):
        return np.zeros((batch,) + self.InputSize)

    def predict(self, X):
        if self.Normalization == "zerocenter" and self.Mean is not None:
            return X - self.Mean
        if self.Normalization == "zscore" and self.Mean is not None:
            return (X - self.Mean) / self.StandardDeviation
        return X

    def describe(self):
        return "x".join(str(n) for n in self.InputSize) + \
            (f", '{self.Normalization}' normalization" if self.Normalization != "none" else "")


class FeatureInputLayer(InputLayer):
    Type = "Feature Input"
    BaseName = "input"
    Format = "BC"


class ImageInputLayer(InputLayer):
    Type = "Image Input"
    BaseName = "imageinput"
    Format = "BSSC"


class SequenceInputLayer(InputLayer):
    Type = "Sequence Input"
    BaseName = "sequenceinput"

    @property
    def Format(self):
        """"BTC" for vector sequences; "BTSSC" (one S per spatial size) for sequences of images (was "BTC",
        so the layers after it read an image sequence's time axis as a spatial one)."""
        return "BT" + "S" * (len(self.InputSize) - 1) + "C"

    def example(self, batch=1):
        return np.zeros((batch, 1) + self.InputSize)


def featureInputLayer(numFeatures: int, Name: str = "", Normalization: str = "none",
                      Mean: Optional[ArrayLike] = None,
                      StandardDeviation: Optional[ArrayLike] = None) -> Layer:
    """Feature input (batch, numFeatures).  Normalization "none" (default), "zerocenter" or
    "zscore" (with the given Mean and StandardDeviation).

    >>> inp = featureInputLayer(2, Normalization="zscore", Mean=np.array([1.0, 2.0]), StandardDeviation=2.0)
    >>> net = dlnetwork([inp])
    >>> predict(net, np.array([[3.0, 0.0]]))
    array([[ 1., -1.]])
    """
    return FeatureInputLayer(numFeatures, Name, Normalization, Mean, StandardDeviation)


def imageInputLayer(inputSize: Union[int, Sequence[int]], Name: str = "",
                    Normalization: str = "zerocenter", Mean: Optional[ArrayLike] = None,
                    StandardDeviation: Optional[ArrayLike] = None) -> Layer:
    """Image input: ``inputSize`` = (height, width, channels); data (batch, height, width, channels).

    Normalization "zerocenter" (MATLAB's default) subtracts ``Mean`` when it is given (MATLAB
    computes it from the training data in ``trainnet``; with a custom loop give it, or it is 0).

    >>> net = dlnetwork([imageInputLayer((8, 8, 1)), convolution2dLayer(3, 4)], Seed=0)
    >>> predict(net, np.ones((2, 8, 8, 1))).shape
    (2, 6, 6, 4)
    """
    size = tuple(int(n) for n in np.ravel(inputSize))
    if len(size) == 2:
        size = size + (1,)
    return ImageInputLayer(size, Name, Normalization, Mean, StandardDeviation)


def sequenceInputLayer(inputSize: Union[int, Sequence[int]], Name: str = "", Normalization: str = "none",
                       Mean: Optional[ArrayLike] = None,
                       StandardDeviation: Optional[ArrayLike] = None) -> Layer:
    """Sequence input: data (batch, time, inputSize).

    >>> net = dlnetwork([sequenceInputLayer(3), lstmLayer(5)], Seed=0)
    >>> predict(net, np.ones((2, 7, 3))).shape
    (2, 7, 5)
    """
    return SequenceInputLayer(inputSize, Name, Normalization, Mean, StandardDeviation)


# --- fully connected and convolution ---------------------------------------------------------------


class FullyConnectedLayer(BuiltinLayer):
    Type = "Fully Connected"
    BaseName = "fc"
    learnables = ("Weights", "Bias")

    def __init__(self, output_size, Name, WeightsInitializer, BiasInitializer, Weights, Bias):
        self.OutputSize = int(output_size)
        self.InputSize = None
        self.Name = Name
        self.WeightsInitializer = WeightsInitializer
        self.BiasInitializer = BiasInitializer
        self.Weights = Weights
        self.Bias = Bias

    def initialize(self, layout):
        size = layout.Size
        # images (and other data with several non-batch axes) are flattened, sequences of images at
        # each time step (MATLAB's: (B, T, H, W, C) -> (B, T, H*W*C))
        self._kept = flattened_axes_kept(layout)
        self.InputSize = int(np.prod(size[self._kept:])) if layout.Format not in ("BC", "BTC") else int(size[-1])
        shape = (self.OutputSize, self.InputSize)
        if self.Weights is None:
            self.Weights = initial_values(self.WeightsInitializer, shape, self.InputSize, self.OutputSize,
                                          self.Name)
        else:
            self.Weights = _given(self.Weights, shape, self.Name, "Weights")
        if self.Bias is None:
            self.Bias = initial_values(self.BiasInitializer, (self.OutputSize,), self.InputSize,
                                       self.OutputSize, self.Name)
        return self

    def predict(self, X):
        if np.ndim(X) > 3:
            X = flatten_features(X, getattr(self, "_kept", 1))
        return fullyconnect(X, self.Weights, self.Bias)

    def describe(self):
        return f"{self.OutputSize} outputs"


def fullyConnectedLayer(outputSize: int, Name: str = "", WeightsInitializer: str = "glorot",
                        BiasInitializer: str = "zeros", Weights: Optional[ArrayLike] = None,
                        Bias: Optional[ArrayLike] = None) -> Layer:
    """Fully connected: ``Y = X @ Weights.T + Bias``, Weights (outputSize, inputSize); image input
    is flattened first (as MATLAB's layer does).

    >>> net = dlnetwork([featureInputLayer(4), fullyConnectedLayer(3)], Seed=0)
    >>> net.Learnables["fc", "Weights"].shape, predict(net, np.ones((2, 4))).shape
    ((3, 4), (2, 3))
    """
    return FullyConnectedLayer(outputSize, Name, WeightsInitializer, BiasInitializer, Weights, Bias)


def layer_setting(value):
    """A layer's setting as it is (a number or a string), a constant to the derivatives."""
    return value


def layer_padding(value, what="Padding"):
    """A layer's ``Padding`` (or ``Cropping``) as the functions take it: MATLAB's layers also take the
    four-element vector ``[t b l r]`` (top, bottom, left, right), which is ``[[t, l], [b, r]]`` for
    ``dlconv``/``maxpool``/``avgpool``/``dltranspconv`` (was refused: "Padding must be 'same', a
    nonnegative integer, [a b] or [t l; b r]"); anything else as given."""
    if isinstance(value, str) or np.ndim(value) != 1 or np.size(value) != 4:
        return value
    flat = np.ravel(value)
    if flat.dtype.kind not in "iuf" or not np.all(np.isfinite(flat)) or np.any(flat != np.round(flat)) \
            or np.any(flat < 0):
        # (MATLAB errors; was: 1.5 read as 1, a -1 numpy's "index can't contain negative values")
        raise ValueError(f"{what} [t b l r] must be four nonnegative integers, got {flat.tolist()}")
    t, b, l, r = (int(v) for v in flat)
    return ((t, l), (b, r))


class Convolution2DLayer(BuiltinLayer):
    Type = "2-D Convolution"
    BaseName = "conv"
    learnables = ("Weights", "Bias")

    def __init__(self, filter_size, num_filters, Name, Stride, Padding, DilationFactor,
                 WeightsInitializer, BiasInitializer, Weights, Bias, PaddingValue=0):
        fs = tuple(int(n) for n in np.ravel(filter_size))
        self.PaddingValue = PaddingValue      # MATLAB's: a number or a mode ("replicate", ...), as dlconv's
        self.FilterSize = fs * 2 if len(fs) == 1 else fs
        self.NumFilters = int(num_filters)
        self.NumChannels = None
        self.Name = Name
        self.Stride = Stride
        self.Padding = layer_padding(Padding)
        self.DilationFactor = DilationFactor
        self.WeightsInitializer = WeightsInitializer
        self.BiasInitializer = BiasInitializer
        self.Weights = Weights
        self.Bias = Bias

    def weights_geometry(self):
        """The weights' shape and the fans of their initializer."""
        kh, kw = self.FilterSize
        return (kh, kw, self.NumChannels, self.NumFilters), kh * kw * self.NumChannels, kh * kw * self.NumFilters

    def initialize(self, layout):
        self.NumChannels = _channels(layout, self.Name)
        shape, fan_in, fan_out = self.weights_geometry()
        if self.Weights is None:
            self.Weights = initial_values(self.WeightsInitializer, shape, fan_in, fan_out, self.Name)
        else:
            self.Weights = _given(self.Weights, shape, self.Name, "Weights")
        if self.Bias is None:
            self.Bias = initial_values(self.BiasInitializer, (self.NumFilters,), fan_in, fan_out, self.Name)
        return self

    def predict(self, X):
        # (a setting of the layer, not a parameter to differentiate: a number held by the network would be
        # read as traced, and dlconv has no derivative with respect to its PaddingValue)
        return dlconv(X, self.Weights, self.Bias, Stride=self.Stride, DilationFactor=self.DilationFactor,
                      Padding=self.Padding, PaddingValue=layer_setting(self.PaddingValue))

    def describe(self):
        return f"{self.NumFilters} {self.FilterSize[0]}x{self.FilterSize[1]} filters, stride {self.Stride}, " \
            f"padding {self.Padding!r}"


def convolution2dLayer(filterSize: Union[int, Sequence[int]], numFilters: int, Name: str = "",
                       Stride: Union[int, Sequence[int]] = 1, Padding: Union[int, str, Sequence[int]] = 0,
                       DilationFactor: Union[int, Sequence[int]] = 1, WeightsInitializer: str = "glorot",
                       BiasInitializer: str = "zeros", Weights: Optional[ArrayLike] = None,
                       Bias: Optional[ArrayLike] = None, PaddingValue: Any = 0) -> Layer:
    """2-D convolution with ``numFilters`` filters of ``filterSize`` (an int or (h, w)); options as
    ``dlconv`` (Padding 0, a number, [t b l r] or "same"; PaddingValue; Stride; DilationFactor).

    >>> net = dlnetwork([imageInputLayer((8, 8, 3)), convolution2dLayer(3, 16, Padding="same")], Seed=0)
    >>> predict(net, np.ones((2, 8, 8, 3))).shape
    (2, 8, 8, 16)
    """
    from .dlfun import _padding_value
    _padding_value(PaddingValue, "convolution2dLayer")        # (checked when made, as MATLAB's)
    return Convolution2DLayer(filterSize, numFilters, Name, Stride, Padding, DilationFactor,
                              WeightsInitializer, BiasInitializer, Weights, Bias, PaddingValue)


class TransposedConvolution2DLayer(Convolution2DLayer):
    Type = "2-D Transposed Convolution"
    BaseName = "transconv"

    def weights_geometry(self):
        kh, kw = self.FilterSize    # MATLAB's (h, w, numFilters, numChannels), its fans for transposed layers
        return (kh, kw, self.NumFilters, self.NumChannels), kh * kw * self.NumFilters, kh * kw * self.NumChannels

    def predict(self, X):
        return dltranspconv(X, self.Weights, self.Bias, Stride=self.Stride, DilationFactor=self.DilationFactor,
                            Cropping=self.Cropping)

    def describe(self):
        return f"{self.NumFilters} {self.FilterSize[0]}x{self.FilterSize[1]} filters, stride {self.Stride}, " \
            f"cropping {self.Cropping!r}"


def transposedConv2dLayer(filterSize: Union[int, Sequence[int]], numFilters: int, Name: str = "",
                          Stride: Union[int, Sequence[int]] = 1, Cropping: Union[int, str, Sequence[Any]] = 0,
                          DilationFactor: Union[int, Sequence[int]] = 1, WeightsInitializer: Any = "glorot",
                          BiasInitializer: Any = "zeros", Weights: Optional[ArrayLike] = None,
                          Bias: Optional[ArrayLike] = None) -> Layer:
    """2-D transposed convolution (``dltranspconv``) with ``numFilters`` filters of ``filterSize``
    (an int or (h, w)); options as MATLAB's layer: ``Stride`` (default 1), ``Cropping`` (0, a
    number, [a, b], [[t, l], [b, r]] or "same": output ``Stride * input``), ``DilationFactor``.
    Learnables ``Weights`` (h, w, numFilters, numChannels) and ``Bias`` (numFilters,).

    >>> net = dlnetwork([imageInputLayer((4, 4, 3)), transposedConv2dLayer(3, 8, Stride=2, Cropping="same")],
    ...                 Seed=0)
    >>> net.Learnables["transconv", "Weights"].shape, predict(net, np.ones((2, 4, 4, 3))).shape
    ((3, 3, 8, 3), (2, 8, 8, 8))
    """
    layer = TransposedConvolution2DLayer(filterSize, numFilters, Name, Stride, 0, DilationFactor,
                                         WeightsInitializer, BiasInitializer, Weights, Bias)
    del layer.Padding
    layer.Cropping = layer_padding(Cropping, "Cropping")
    return layer


# --- normalisation ---------------------------------------------------------------------------------


def _floating(a):
    """``a`` as a floating array: its own float dtype kept, others (integers, bools) float64."""
    return a if a.dtype.kind == "f" else a.astype(float)


class BatchNormalizationLayer(BuiltinLayer):
    Type = "Batch Normalization"
    BaseName = "batchnorm"
    learnables = ("Offset", "Scale")
    state = ("TrainedMean", "TrainedVariance")

    def __init__(self, Name, Epsilon, MeanDecay, VarianceDecay, OffsetInitializer, ScaleInitializer,
                 Offset=None, Scale=None, TrainedMean=None, TrainedVariance=None):
        self.Name = Name
        self.Epsilon = Epsilon
        self.MeanDecay = MeanDecay
        self.VarianceDecay = VarianceDecay
        self.OffsetInitializer = OffsetInitializer
        self.ScaleInitializer = ScaleInitializer
        self.NumChannels = None
        # MATLAB's values (NumChannels-by-1, or 1-by-1-by-NumChannels for images) kept as sct's (C,)
        # (a float32 value stays float32: was made float64, so a float32 network's statistics were float64)
        given = [None if v is None else np.reshape(_floating(np.asarray(getattr(v, "_data", v))), (-1,))
                 for v in (Offset, Scale, TrainedMean, TrainedVariance)]
        self.Offset, self.Scale, self.TrainedMean, self.TrainedVariance = given

    def initialize(self, layout):
        c = self.NumChannels = _channels(layout, self.Name)
        for prop in ("Offset", "Scale", "TrainedMean", "TrainedVariance"):
            value = getattr(self, prop, None)           # (a layer normalization layer has no statistics)
            if value is not None and np.size(value) != c:
                raise ValueError(f"batchNormalizationLayer {self.Name!r}: {prop} has {np.size(value)} entries, "
                                 f"the input has {c} channels")
        if self.Offset is None:
            self.Offset = initial_values(self.OffsetInitializer, (c,), c, c, self.Name)
        if self.Scale is None:
            self.Scale = initial_values(self.ScaleInitializer, (c,), c, c, self.Name)
        if self.TrainedMean is None:
            self.TrainedMean = np.zeros(c)
        if self.TrainedVariance is None:
            self.TrainedVariance = np.ones(c)
        return self

    def predict(self, X):
        Z = batchnorm(X, self.Offset, self.Scale, self.TrainedMean, self.TrainedVariance, Epsilon=self.Epsilon)
        return Z, self.TrainedMean, self.TrainedVariance

    def forward(self, X):
        if type(X) is np.ndarray and fused_batchnorm_applies(X, self.Offset, self.Scale):
            return batchnorm_running(X, self.Offset, self.Scale, self.TrainedMean, self.TrainedVariance,
                                     self.Epsilon, self.MeanDecay, self.VarianceDecay)
        Z, mean, variance = batchnorm(X, self.Offset, self.Scale, self.TrainedMean, self.TrainedVariance,
                                      Epsilon=self.Epsilon, MeanDecay=self.MeanDecay,
                                      VarianceDecay=self.VarianceDecay, nargout=3)
        return Z, mean, variance


def batchNormalizationLayer(Name: str = "", Epsilon: float = 1e-5, MeanDecay: float = 0.1,
                            VarianceDecay: float = 0.1, OffsetInitializer: str = "zeros",
                            ScaleInitializer: str = "ones", Offset: Optional[ArrayLike] = None,
                            Scale: Optional[ArrayLike] = None, TrainedMean: Optional[ArrayLike] = None,
                            TrainedVariance: Optional[ArrayLike] = None) -> Layer:
    """Batch normalisation over all axes but the channels: learnables Offset and Scale (C,),
    state TrainedMean and TrainedVariance (updated by ``forward``, used by ``predict``).
    MATLAB's ``Offset=``, ``Scale=``, ``TrainedMean=`` and ``TrainedVariance=`` set them (any shape
    with C entries: NumChannels-by-1, 1-by-1-by-NumChannels; kept as (C,)).

    >>> net = dlnetwork([featureInputLayer(2), batchNormalizationLayer()], Seed=0)
    >>> np.round(extractdata(predict(net, np.array([[1.0, 2.0]]))), 4)
    array([[1., 2.]])
    """
    return BatchNormalizationLayer(Name, Epsilon, MeanDecay, VarianceDecay, OffsetInitializer, ScaleInitializer,
                                   Offset, Scale, TrainedMean, TrainedVariance)


class LayerNormalizationLayer(BuiltinLayer):
    Type = "Layer Normalization"
    BaseName = "layernorm"
    learnables = ("Offset", "Scale")

    def __init__(self, Name, Epsilon, OperationDimension, OffsetInitializer, ScaleInitializer):
        self.Name = Name
        self.Epsilon = Epsilon
        self.OperationDimension = OperationDimension
        self.OffsetInitializer = OffsetInitializer
        self.ScaleInitializer = ScaleInitializer
        self.NumChannels = None
        self.Offset = None
        self.Scale = None

    def initialize(self, layout):
        c = self.NumChannels = _channels(layout, self.Name)
        for prop in ("Offset", "Scale", "TrainedMean", "TrainedVariance"):
            value = getattr(self, prop, None)           # (a layer normalization layer has no statistics)
            if value is not None and np.size(value) != c:
                raise ValueError(f"batchNormalizationLayer {self.Name!r}: {prop} has {np.size(value)} entries, "
                                 f"the input has {c} channels")
        if self.Offset is None:
            self.Offset = initial_values(self.OffsetInitializer, (c,), c, c, self.Name)
        if self.Scale is None:
            self.Scale = initial_values(self.ScaleInitializer, (c,), c, c, self.Name)
        return self

    def predict(self, X):
        return layernorm(X, self.Offset, self.Scale, Epsilon=self.Epsilon,
                         OperationDimension=self.OperationDimension)


def layerNormalizationLayer(Name: str = "", Epsilon: float = 1e-5, OperationDimension: str = "auto",
                            OffsetInitializer: str = "zeros", ScaleInitializer: str = "ones") -> Layer:
    """Layer normalisation of each observation (``layernorm``); learnables Offset, Scale (C,).

    >>> net = dlnetwork([featureInputLayer(3), layerNormalizationLayer()], Seed=0)
    >>> np.round(extractdata(predict(net, np.array([[1.0, 2.0, 3.0]]))), 4)
    array([[-1.2247,  0.    ,  1.2247]])
    """
    return LayerNormalizationLayer(Name, Epsilon, OperationDimension, OffsetInitializer, ScaleInitializer)


# --- activations ---------------------------------------------------------------------------------------


class ReLULayer(BuiltinLayer):
    Type = "ReLU"
    BaseName = "relu"

    def __init__(self, Name):
        self.Name = Name

    def predict(self, X):
        return relu(X)


class LeakyReLULayer(BuiltinLayer):
    Type = "Leaky ReLU"
    BaseName = "leakyrelu"

    def __init__(self, scale, Name):
        self.Scale = scale
        self.Name = Name

    def predict(self, X):
        return leakyrelu(X, self.Scale)


class TanhLayer(BuiltinLayer):
    Type = "Tanh"
    BaseName = "tanh"

    def __init__(self, Name):
        self.Name = Name

    def predict(self, X):
        return np.tanh(X)


class SigmoidLayer(BuiltinLayer):
    Type = "Sigmoid"
    BaseName = "sigmoid"

    def __init__(self, Name):
        self.Name = Name

    def predict(self, X):
        return sigmoid(X)


class GELULayer(BuiltinLayer):
    Type = "GELU"
    BaseName = "gelu"

    def __init__(self, Name, Approximation):
        self.Name = Name
        self.Approximation = Approximation

    def predict(self, X):
        return gelu(X, Approximation=self.Approximation)


class SoftmaxLayer(BuiltinLayer):
    Type = "Softmax"
    BaseName = "softmax"

    def __init__(self, Name):
        self.Name = Name

    def predict(self, X):
        return softmax(X)


def reluLayer(Name: str = "") -> Layer:
    """Rectified linear unit layer: ``max(X, 0)`` elementwise (``relu``).

    >>> net = dlnetwork([featureInputLayer(3), reluLayer()])
    >>> predict(net, np.array([[-1.0, 0.0, 2.0]]))
    array([[0., 0., 2.]])
    """
    return ReLULayer(Name)


def leakyReluLayer(scale: float = 0.01, Name: str = "") -> Layer:
    """Leaky ReLU layer: ``X`` where ``X > 0``, ``scale * X`` elsewhere (``leakyrelu``; default scale 0.01).

    >>> net = dlnetwork([featureInputLayer(2), leakyReluLayer(0.1)])
    >>> predict(net, np.array([[-1.0, 2.0]]))
    array([[-0.1,  2. ]])
    """
    return LeakyReLULayer(scale, Name)


def tanhLayer(Name: str = "") -> Layer:
    """Hyperbolic tangent layer: ``tanh(X)`` elementwise.

    >>> net = dlnetwork([featureInputLayer(2), tanhLayer()])
    >>> np.round(extractdata(predict(net, np.array([[0.0, 1.0]]))), 4)
    array([[0.    , 0.7616]])
    """
    return TanhLayer(Name)


def sigmoidLayer(Name: str = "") -> Layer:
    """Sigmoid layer: ``1 / (1 + exp(-X))`` elementwise (``sigmoid``).

    >>> net = dlnetwork([featureInputLayer(2), sigmoidLayer()])
    >>> np.round(extractdata(predict(net, np.array([[0.0, 1.0]]))), 4)
    array([[0.5   , 0.7311]])
    """
    return SigmoidLayer(Name)


def geluLayer(Name: str = "", Approximation: str = "none") -> Layer:
    """GELU layer (``gelu``): ``Approximation`` "none" (default) or "tanh".

    >>> net = dlnetwork([featureInputLayer(2), geluLayer()])
    >>> np.round(extractdata(predict(net, np.array([[0.0, 1.0]]))), 4)
    array([[0.    , 0.8413]])
    """
    return GELULayer(Name, Approximation)


def softmaxLayer(Name: str = "") -> Layer:
    """Softmax over the channel (last) axis.

    >>> net = dlnetwork([featureInputLayer(2), softmaxLayer()])
    >>> np.round(extractdata(predict(net, np.array([[0.0, 1.0]]))), 4)
    array([[0.2689, 0.7311]])
    """
    return SoftmaxLayer(Name)


# --- dropout, pooling, reshaping ----------------------------------------------------------------------


class DropoutLayer(BuiltinLayer):
    Type = "Dropout"
    BaseName = "dropout"

    def __init__(self, probability, Name):
        if not 0 <= probability < 1:
            raise ValueError(f"dropoutLayer: the probability must be in [0, 1), got {probability!r}")
        self.Probability = probability
        self.Name = Name

    def predict(self, X):
        return X

    def forward(self, X):
        return dropout(X, self.Probability)

    def describe(self):
        return f"{self.Probability}"


def dropoutLayer(probability: float = 0.5, Name: str = "") -> Layer:
    """Dropout with ``probability`` in training (``forward``); the identity in ``predict``.

    >>> net = dlnetwork([featureInputLayer(4), dropoutLayer(0.5)])
    >>> predict(net, np.ones((1, 4)))
    array([[1., 1., 1., 1.]])
    """
    return DropoutLayer(probability, Name)


class MaxPooling2DLayer(BuiltinLayer):
    Type = "2-D Max Pooling"
    BaseName = "maxpool"

    def __init__(self, pool_size, Name, Stride, Padding, HasUnpoolingOutputs=False):
        self.PoolSize = pool_size
        self.Name = Name
        self.Stride = Stride
        self.Padding = layer_padding(Padding)
        self.HasUnpoolingOutputs = bool(HasUnpoolingOutputs)
        if self.HasUnpoolingOutputs:                  # MATLAB's outputs "out", "indices", "size"
            self.NumOutputs = 3
            self.OutputNames = ("out", "indices", "size")

    def predict(self, X):
        # (one branch runs: the adjoint of each is the first contribution to X's)
        if self.HasUnpoolingOutputs:
            Z = maxpool(X, self.PoolSize, Stride=self.Stride, Padding=self.Padding, nargout=3)
        elif type(X) is np.ndarray:               # (what maxpool runs for an unformatted array)
            Z = maxpool_values(X, self.PoolSize, self.Stride, self.Padding)
        else:
            Z = maxpool(X, self.PoolSize, Stride=self.Stride, Padding=self.Padding)
        return Z

    def describe(self):
        return f"{self.PoolSize} pooling, stride {self.Stride}"


class AveragePooling2DLayer(BuiltinLayer):
    Type = "2-D Average Pooling"
    BaseName = "avgpool"

    def __init__(self, pool_size, Name, Stride, Padding, PaddingValue=0):
        self.PoolSize = pool_size
        self.Name = Name
        self.Stride = Stride
        self.Padding = layer_padding(Padding)
        self.PaddingValue = PaddingValue      # MATLAB's: 0, or "mean" (the padding left out of the average)

    def predict(self, X):
        return avgpool(X, self.PoolSize, Stride=self.Stride, Padding=self.Padding,
                       PaddingValue=layer_setting(self.PaddingValue))

    def describe(self):
        return f"{self.PoolSize} pooling, stride {self.Stride}"


def maxPooling2dLayer(poolSize: Union[int, Sequence[int]], Name: str = "",
                      Stride: Union[int, Sequence[int]] = 1,
                      Padding: Union[int, str, Sequence[int]] = 0, HasUnpoolingOutputs: bool = False) -> Layer:
    """2-D max pooling (MATLAB's defaults: Stride 1, Padding 0).  ``HasUnpoolingOutputs=True``
    gives the layer MATLAB's three outputs "out", "indices" and "size" (``maxpool(..., nargout=3)``)
    to connect to a ``maxUnpooling2dLayer``.

    >>> net = dlnetwork([imageInputLayer((4, 4, 1)), maxPooling2dLayer(2, Stride=2)])
    >>> predict(net, np.arange(16.0).reshape(1, 4, 4, 1))[0, :, :, 0]
    array([[ 5.,  7.],
           [13., 15.]])
    """
    return MaxPooling2DLayer(poolSize, Name, Stride, Padding, HasUnpoolingOutputs)


class MaxUnpooling2DLayer(BuiltinLayer):
    Type = "2-D Max Unpooling"
    BaseName = "maxunpool"
    NumInputs = 3
    InputNames = ("in", "indices", "size")

    def __init__(self, Name):
        self.Name = Name

    def predict(self, X, indices, size):
        return maxunpool(X, indices, size)


def maxUnpooling2dLayer(Name: str = "") -> Layer:
    """2-D max unpooling (``maxunpool``) with MATLAB's inputs "in", "indices" and "size", fed by a
    ``maxPooling2dLayer(..., HasUnpoolingOutputs=True)``.

    >>> layers = [imageInputLayer((4, 4, 1), Normalization="none", Name="in"),
    ...           maxPooling2dLayer(2, Stride=2, HasUnpoolingOutputs=True, Name="pool"),
    ...           maxUnpooling2dLayer(Name="unpool")]
    >>> net = dlnetwork(layers, Connections=[("in", "pool"), ("pool/out", "unpool/in"),
    ...                                      ("pool/indices", "unpool/indices"), ("pool/size", "unpool/size")])
    >>> predict(net, np.arange(16.0).reshape(1, 4, 4, 1))[0, :, :, 0]
    array([[ 0.,  0.,  0.,  0.],
           [ 0.,  5.,  0.,  7.],
           [ 0.,  0.,  0.,  0.],
           [ 0., 13.,  0., 15.]])
    """
    return MaxUnpooling2DLayer(Name)


def averagePooling2dLayer(poolSize: Union[int, Sequence[int]], Name: str = "",
                          Stride: Union[int, Sequence[int]] = 1,
                          Padding: Union[int, str, Sequence[int]] = 0, PaddingValue: Any = 0) -> Layer:
    """2-D average pooling (MATLAB's defaults: Stride 1, Padding 0, PaddingValue 0; "mean" leaves the
    padding out of each window's average).

    >>> net = dlnetwork([imageInputLayer((4, 4, 1)), averagePooling2dLayer(2, Stride=2)])
    >>> predict(net, np.arange(16.0).reshape(1, 4, 4, 1))[0, :, :, 0]
    array([[ 2.5,  4.5],
           [10.5, 12.5]])
    """
    if not (isinstance(PaddingValue, str) and PaddingValue == "mean") and \
            (isinstance(PaddingValue, str) or np.ndim(PaddingValue) != 0 or float(PaddingValue) != 0):
        raise ValueError(f"averagePooling2dLayer: PaddingValue must be 0 or 'mean' (MATLAB's), got {PaddingValue!r}")
    return AveragePooling2DLayer(poolSize, Name, Stride, Padding, PaddingValue)


def flattened_axes_kept(layout):
    """How many leading axes flattening keeps: the batch, and the time of a sequence ("BT...")."""
    return 2 if layout.Format.startswith("BT") else 1


def flatten_features(X, kept=1):
    """``X`` with its axes after the first ``kept`` (the batch, and the time of a sequence) flattened into
    one as MATLAB's layers flatten (a MATLAB reshape of H-by-W-by-C: column-major, the first S fastest,
    feature ``h + H*w + H*W*c``): the axes S.., C of sct's layout reversed, then read row-major.  (Was
    row-major in sct's layout, ``(h*W + w)*C + c``: a fullyConnectedLayer given MATLAB's ``Weights``, or
    an lstmLayer/gruLayer given its ``InputWeights``, multiplied other features than MATLAB's, silently;
    flattenLayer's features came out in another order than MATLAB's.)"""
    ndim = np.ndim(X)
    if ndim - kept > 1:
        X = np.transpose(X, tuple(range(kept)) + tuple(range(ndim - 1, kept - 1, -1)))
    return np.reshape(X, tuple(np.shape(X)[:kept]) + (-1,))


class FlattenLayer(BuiltinLayer):
    Type = "Flatten"
    BaseName = "flatten"

    def __init__(self, Name):
        self.Name = Name
        self._kept = 1

    def initialize(self, layout):
        self._kept = flattened_axes_kept(layout)
        return self

    def predict(self, X):
        return flatten_features(X, getattr(self, "_kept", 1))


def flattenLayer(Name: str = "") -> Layer:
    """(batch, ...) -> (batch, features), a sequence of images (batch, time, ...) -> (batch, time, features)
    (MATLAB's flatten layer keeps the time dimension; the features in MATLAB's column-major order, the
    first S fastest: feature ``h + H*w + H*W*c``).

    >>> net = dlnetwork([imageInputLayer((4, 4, 2)), flattenLayer()])
    >>> predict(net, np.ones((3, 4, 4, 2))).shape
    (3, 32)
    """
    return FlattenLayer(Name)


# --- recurrent and embedding ----------------------------------------------------------------------


def check_recurrent_state(state, X, hidden, name, what):
    """Refuse a stored recurrent state whose observations do not match the input's batch."""
    shape = tuple(np.shape(state))
    batch = np.shape(X)[0]
    if len(shape) != 2 or shape[1] != hidden or shape[0] not in (1, batch):
        raise ValueError(f"{name}: the {what} in the network's State has shape {shape}; the input has {batch} "
                         f"observations, which needs (1, {hidden}) or ({batch}, {hidden}); reset it with "
                         "net = resetState(net) before a batch of another size")
    return batch


def recurrent_initial(state, X, hidden, name, what):
    """The state a recurrent layer starts from: the stored one, one row per observation."""
    batch = check_recurrent_state(state, X, hidden, name, what)
    dtype = state_dtype(state, X)
    return state.astype(dtype) + np.zeros((batch, hidden), dtype)


def state_dtype(state, X):
    """The dtype a recurrent state runs in: the data's when it is a narrower float (a float32
    network keeps float32, as MATLAB's single data with a double state gives single)."""
    x, s = np.result_type(X), np.result_type(state)
    return x if x.kind == "f" and s.kind == "f" and x.itemsize < s.itemsize else s


def _state_value(value, hidden, name, what):
    """A user's initial HiddenState / CellState (MATLAB's numHiddenUnits-by-1) as a (1, hidden) row."""
    if value is None:
        return np.zeros((1, hidden))
    a = np.asarray(value, dtype=np.float64) if not hasattr(value, "dtype") else np.asarray(value)
    if a.size == hidden:
        return a.reshape(1, hidden)
    if a.ndim == 2 and a.shape[1] == hidden:
        return a
    raise ValueError(f"{name}: {what} must have {hidden} values (one per hidden unit), got shape {a.shape}")


class LSTMLayer(BuiltinLayer):
    Type = "LSTM"
    BaseName = "lstm"
    learnables = ("InputWeights", "RecurrentWeights", "Bias")
    state = ("HiddenState", "CellState")

    def __init__(self, num_hidden, Name, OutputMode, InputWeightsInitializer, RecurrentWeightsInitializer,
                 BiasInitializer, HiddenState=None, CellState=None, StateActivationFunction="tanh",
                 GateActivationFunction="sigmoid"):
        if OutputMode not in ("sequence", "last"):
            raise ValueError(f"lstmLayer: OutputMode must be 'sequence' or 'last', got {OutputMode!r}")
        recurrent_activations(f"{self.BaseName}Layer", StateActivationFunction, GateActivationFunction)
        self.StateActivationFunction = StateActivationFunction      # MATLAB's layer options
        self.GateActivationFunction = GateActivationFunction
        self.NumHiddenUnits = int(num_hidden)
        self.Name = Name
        self.OutputMode = OutputMode
        self.InputWeightsInitializer = InputWeightsInitializer
        self.RecurrentWeightsInitializer = RecurrentWeightsInitializer
        self.BiasInitializer = BiasInitializer
        self.InputSize = None
        self.InputWeights = None
        self.RecurrentWeights = None
        self.Bias = None
        self.HiddenState = HiddenState
        self.CellState = CellState

    gates = 4

    def initialize(self, layout):
        h = self.NumHiddenUnits
        g = self.gates * h
        nb = 2 * g if getattr(self, "ResetGateMode", "") == "recurrent-bias-after-multiplication" else g
        for prop, rows in (("InputWeights", g), ("RecurrentWeights", g), ("Bias", nb)):
            value = getattr(self, prop)
            if value is not None and (np.shape(value)[0] != rows or (prop == "RecurrentWeights" and
                                                                     np.shape(value) != (g, h))):
                raise ValueError(f"{self.BaseName}Layer {self.Name!r}: {prop} has shape {np.shape(value)}; "
                                 f"{self.NumHiddenUnits} hidden units take {rows} rows"
                                 + (f" and {h} columns" if prop == "RecurrentWeights" else ""))
        # a sequence of images ("BTSSC") is flattened at each time step, as the lstm function flattens
        # S into C (was: numpy's broadcast error inside the gates)
        self._images = layout.Format.startswith("BT") and len(layout.Format) > 3
        c = self.InputSize = int(np.prod(layout.Size[2:])) if self._images else _channels(layout, self.Name)
        if self.InputWeights is not None and np.shape(self.InputWeights) != (g, c):
            raise ValueError(f"{self.BaseName}Layer {self.Name!r}: InputWeights has shape {np.shape(self.InputWeights)}; "
                             f"the input's {c} channels and {h} hidden units take ({g}, {c})")
        if self.InputWeights is None:
            self.InputWeights = initial_values(self.InputWeightsInitializer, (g, c), c, g, self.Name)
        if self.RecurrentWeights is None:
            self.RecurrentWeights = np.concatenate(
                [initial_values(self.RecurrentWeightsInitializer, (h, h), h, g, self.Name)
                 for _ in range(self.gates)]) if self.RecurrentWeightsInitializer == "orthogonal" else \
                initial_values(self.RecurrentWeightsInitializer, (g, h), h, g, self.Name)
        if self.Bias is None:
            if self.BiasInitializer == "unit-forget-gate":
                self.Bias = np.concatenate([np.zeros(h), np.ones(h), np.zeros(2 * h)])
            else:
                self.Bias = initial_values(self.BiasInitializer, (nb,), c, g, self.Name)
        # the state's initial values (what resetState goes back to) stay with the layer
        self.InitialState = {n: _state_value(getattr(self, n), h, self.Name, n) for n in self.state}
        for n in self.state:
            setattr(self, n, self.InitialState[n].copy())
        return self

    def predict(self, X):
        if np.ndim(X) > 3 and getattr(self, "_images", False):
            X = flatten_features(X, 2)
        h0 = recurrent_initial(self.HiddenState, X, self.NumHiddenUnits, self.Name, "HiddenState")
        c0 = recurrent_initial(self.CellState, X, self.NumHiddenUnits, self.Name, "CellState")
        Y, h, c = lstm(X, h0, c0, self.InputWeights, self.RecurrentWeights, self.Bias,
                       StateActivationFunction=getattr(self, "StateActivationFunction", "tanh"),
                       GateActivationFunction=getattr(self, "GateActivationFunction", "sigmoid"), nargout=3)
        if self.OutputMode == "last":
            return h, h, c
        return Y, h, c

    def describe(self):
        return f"{self.NumHiddenUnits} hidden units, output mode {self.OutputMode!r}"


def lstmLayer(numHiddenUnits: int, Name: str = "", OutputMode: str = "sequence",
              InputWeightsInitializer: str = "glorot", RecurrentWeightsInitializer: str = "orthogonal",
              BiasInitializer: str = "unit-forget-gate", HiddenState: Optional[ArrayLike] = None,
              CellState: Optional[ArrayLike] = None, InputWeights: Optional[ArrayLike] = None,
              RecurrentWeights: Optional[ArrayLike] = None, Bias: Optional[ArrayLike] = None,
              StateActivationFunction: str = "tanh", GateActivationFunction: str = "sigmoid") -> Layer:
    """LSTM over the time axis of (batch, time, C) input; OutputMode "sequence" (batch, time, H)
    or "last" (batch, H).

    As MATLAB's layer, the hidden and cell states are the network's state: rows ``HiddenState``
    and ``CellState`` of ``net.State``, (1, H) at first -- zeros, or the values given as
    ``HiddenState=`` / ``CellState=`` (MATLAB's numHiddenUnits-by-1) -- broadcast over the batch.
    Each call starts from them; ``forward`` and ``predict(net, X, nargout=2)`` return the states
    after the last time step ((batch, H), one row per observation) in the state table, which the
    next call uses once assigned (``net.State = state``); ``resetState(net)`` puts the initial
    values back.  A stored state of another batch size than the input is refused.

    >>> net = dlnetwork([sequenceInputLayer(3), lstmLayer(5, OutputMode="last")], Seed=0)
    >>> predict(net, np.ones((2, 7, 3))).shape, net.State.Parameter
    ((2, 5), ('HiddenState', 'CellState'))
    >>> Y, state = predict(net, np.ones((2, 7, 3)), nargout=2)
    >>> state["lstm", "HiddenState"].shape
    (2, 5)
    """
    layer = LSTMLayer(numHiddenUnits, Name, OutputMode, InputWeightsInitializer, RecurrentWeightsInitializer,
                      BiasInitializer, HiddenState, CellState, StateActivationFunction, GateActivationFunction)
    return _given_recurrent(layer, InputWeights, RecurrentWeights, Bias)


def _given_recurrent(layer, InputWeights, RecurrentWeights, Bias):
    """MATLAB's ``InputWeights=``, ``RecurrentWeights=`` ((gates*H, C), (gates*H, H)) and ``Bias=``
    (gates*H-by-1, kept as a vector) of an LSTM or GRU layer (checked when it is initialized)."""
    def plain(v):
        return None if v is None else np.asarray(getattr(v, "_data", v), dtype=float)
    layer.InputWeights, layer.RecurrentWeights = plain(InputWeights), plain(RecurrentWeights)
    layer.Bias = None if Bias is None else np.reshape(plain(Bias), (-1,))
    return layer


class GRULayer(LSTMLayer):
    Type = "GRU"
    BaseName = "gru"
    gates = 3
    state = ("HiddenState",)

    def predict(self, X):
        if np.ndim(X) > 3 and getattr(self, "_images", False):
            X = flatten_features(X, 2)
        h0 = recurrent_initial(self.HiddenState, X, self.NumHiddenUnits, self.Name, "HiddenState")
        Y, h = gru(X, h0, self.InputWeights, self.RecurrentWeights, self.Bias,
                   ResetGateMode=getattr(self, "ResetGateMode", "after-multiplication"),
                   StateActivationFunction=getattr(self, "StateActivationFunction", "tanh"),
                   GateActivationFunction=getattr(self, "GateActivationFunction", "sigmoid"), nargout=2)
        if self.OutputMode == "last":
            return h, h
        return Y, h


def gruLayer(numHiddenUnits: int, Name: str = "", OutputMode: str = "sequence",
             InputWeightsInitializer: str = "glorot", RecurrentWeightsInitializer: str = "orthogonal",
             BiasInitializer: str = "zeros", HiddenState: Optional[ArrayLike] = None,
             InputWeights: Optional[ArrayLike] = None, RecurrentWeights: Optional[ArrayLike] = None,
             Bias: Optional[ArrayLike] = None, ResetGateMode: str = "after-multiplication",
             StateActivationFunction: str = "tanh", GateActivationFunction: str = "sigmoid") -> Layer:
    """GRU over the time axis (reset gate after the recurrent multiplication, as MATLAB's default).
    Its hidden state is the network's state (row ``HiddenState`` of ``net.State``), as for
    ``lstmLayer``.

    >>> net = dlnetwork([sequenceInputLayer(3), gruLayer(5)], Seed=0)
    >>> predict(net, np.ones((2, 7, 3))).shape, net.State.Parameter
    ((2, 7, 5), ('HiddenState',))
    """
    if ResetGateMode not in ("after-multiplication", "before-multiplication", "recurrent-bias-after-multiplication"):
        raise ValueError("gruLayer: ResetGateMode must be 'after-multiplication', 'before-multiplication' or "
                         f"'recurrent-bias-after-multiplication', got {ResetGateMode!r}")
    layer = GRULayer(numHiddenUnits, Name, OutputMode, InputWeightsInitializer, RecurrentWeightsInitializer,
                     BiasInitializer, HiddenState, None, StateActivationFunction, GateActivationFunction)
    layer.ResetGateMode = ResetGateMode          # MATLAB's (a 6*H bias with the recurrent biases)
    del layer.CellState
    return _given_recurrent(layer, InputWeights, RecurrentWeights, Bias)


class EmbeddingLayer(BuiltinLayer):
    Type = "Word Embedding"
    BaseName = "embedding"
    learnables = ("Weights",)

    def __init__(self, dimension, num_words, Name, WeightsInitializer, Weights):
        self.Dimension = int(dimension)
        self.NumWords = int(num_words)
        self.Name = Name
        self.WeightsInitializer = WeightsInitializer
        self.Weights = Weights

    def initialize(self, layout):
        shape = (self.Dimension, self.NumWords)          # MATLAB's embeddingDimension-by-numWords (as embed's)
        if self.Weights is None:
            self.Weights = initial_values(self.WeightsInitializer, shape, self.NumWords, self.Dimension, self.Name)
        else:
            # weights laid out (numWords, dimension), one row per word: refused, naming the layout (was sct's
            # layout until red team mat51 F2, MATLAB's transpose)
            if tuple(np.shape(self.Weights)) == (self.NumWords, self.Dimension) and self.Dimension != self.NumWords:
                raise ValueError(f"{self.Name or 'embeddingLayer'}: Weights has shape {tuple(np.shape(self.Weights))}, "
                                 f"one row per word; the embedding weights are MATLAB's embeddingDimension-by-numWords "
                                 f"= {shape}, one column per word: pass the transpose (Weights.T)")
            self.Weights = _given(self.Weights, shape, self.Name or "embeddingLayer", "Weights")
        return self

    def predict(self, X):
        return embed(X, self.Weights)


def embeddingLayer(dimension: int, numWords: int, Name: str = "",
                   WeightsInitializer: str = "narrow-normal", Weights: Optional[ArrayLike] = None) -> Layer:
    """Word embedding: integer indices 0..numWords-1 of any shape -> shape + (dimension,);
    Weights MATLAB's (dimension, numWords), one column per word, as ``embed``'s.

    >>> net = dlnetwork([sequenceInputLayer(1), embeddingLayer(4, 10)], Seed=0)
    >>> predict(net, np.array([[3, 1, 4]])).shape
    (1, 3, 4)
    """
    return EmbeddingLayer(dimension, numWords, Name, WeightsInitializer, Weights)


# --- combining layers ------------------------------------------------------------------------------


class AdditionLayer(BuiltinLayer):
    Type = "Addition"
    BaseName = "addition"

    def __init__(self, num_inputs, Name):
        self.NumInputs = int(num_inputs)
        self.Name = Name

    def predict(self, *X):
        Z = X[0]
        for k in range(1, len(X)):
            Z = Z + X[k]
        return Z


class ConcatenationLayer(BuiltinLayer):
    Type = "Concatenation"
    BaseName = "concat"

    def __init__(self, dim, num_inputs, Name):
        self.Dim = dim
        self.NumInputs = int(num_inputs)
        self.Name = Name

    def predict(self, *X):
        axis = -1 if self.Dim == "C" else self.Dim
        return np.concatenate(X, axis=axis)


def additionLayer(numInputs: int, Name: str = "") -> Layer:
    """The elementwise sum of ``numInputs`` inputs (named "in1", "in2", ...).

    >>> layers = [featureInputLayer(2, Name="in"), reluLayer(Name="r"), additionLayer(2, Name="add")]
    >>> net = dlnetwork(layers, Connections=[("in", "r"), ("r", "add/in1"), ("in", "add/in2")])
    >>> predict(net, np.array([[-1.0, 2.0]]))
    array([[-1.,  4.]])
    """
    return AdditionLayer(numInputs, Name)


def concatenationLayer(dim: int, numInputs: int, Name: str = "") -> Layer:
    """Concatenate ``numInputs`` inputs along ``dim``: "C" for the channels (the last axis) or a
    0-based numpy axis of sct's layout.

    >>> layers = [featureInputLayer(2, Name="in"), reluLayer(Name="r"), concatenationLayer("C", 2, Name="cat")]
    >>> net = dlnetwork(layers, Connections=[("in", "r"), ("r", "cat/in1"), ("in", "cat/in2")])
    >>> predict(net, np.array([[-1.0, 2.0]]))
    array([[ 0.,  2., -1.,  2.]])
    """
    if not (dim == "C" or isinstance(dim, numbers.Integral)):
        raise ValueError(f"concatenationLayer: dim must be 'C' or an axis, got {dim!r}")
    return ConcatenationLayer(dim, numInputs, Name)


from .registry import nondifferentiable  # noqa: E402
nondifferentiable(check_recurrent_state, state_dtype, layer_setting)
