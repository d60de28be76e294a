"""sct: source-transformation automatic differentiation with MATLAB's dlarray API.

>>> import numpy as np
>>> from sct import dlarray, dlfeval, dlgradient
>>> def rosenbrock(x):
...     y = 100*(x[1] - x[0]**2)**2 + (1 - x[0])**2
...     return y, dlgradient(y, x)
>>> fval, grad = dlfeval(rosenbrock, dlarray([-1.0, 2.0]))
>>> float(fval), grad.data.tolist()
(104.0, [396.0, 200.0])
"""
__version__ = "0.1.0"


def _bind_runtime() -> None:
    """The runtime is the subpackage ``sct.runtime``.  Installed, it is ``sct/runtime``; in a
    source checkout its folder ``runtime/`` sits beside ``sct/`` (the build maps it), and is
    bound here so that a checkout runs as it is, with its own runtime."""
    import importlib.util
    import os
    import sys
    here = os.path.dirname(os.path.abspath(__file__))
    beside = os.path.join(os.path.dirname(here), "runtime")
    if "sct.runtime" in sys.modules or os.path.isdir(os.path.join(here, "runtime")) or \
            not os.path.isfile(os.path.join(beside, "registry.py")):
        return
    spec = importlib.util.spec_from_file_location("sct.runtime", os.path.join(beside, "__init__.py"),
                                                  submodule_search_locations=[beside])
    module = importlib.util.module_from_spec(spec)
    sys.modules["sct.runtime"] = module
    sys.modules[__name__].runtime = module
    spec.loader.exec_module(module)


_bind_runtime()

from .runtime.dlarray import dlarray, extractdata
from .runtime.formats import dims, stripdims
from .runtime.dlfun import (avgpool, batchnorm, dlconv, dlmtimes, dltranspconv, dropout, gelu, groupnorm, huber,
                           indexcrossentropy, instancenorm, l1loss, l2loss, layernorm, maxpool, maxunpool,
                           onehotdecode, onehotencode, pagemtimes)
from .runtime.layers import Layer
from .runtime.nn import attention, crossentropy, embed, fullyconnect, gru, leakyrelu, lstm, mse, relu, sigmoid, softmax
from .runtime.optim import adamupdate, dlupdate, lbfgsState, lbfgsupdate, rmspropupdate, sgdmupdate

from .accelerate import AcceleratedFunction, accelerate, clearCache, dlaccelerate
from . import transform_calls  # noqa: F401  (installs the runtime's hooks)
from .api import clear_cache, dldivergence, dlfeval, dlgradient, dljacobian, dllaplacian, source
from .errors import CompileError, EvaluationError, SctError
from .forward import hvp, jvp, jvp_source
from .rules import defrule

__all__ = ["dlarray", "dlfeval", "dlgradient", "extractdata", "source", "dljacobian", "dldivergence",
           "dllaplacian", "dlaccelerate", "accelerate", "AcceleratedFunction", "jvp", "jvp_source", "hvp",
           "clearCache", "SctError", "CompileError", "EvaluationError", "defrule", "dims", "stripdims",
           # deep-learning functions (MATLAB's names)
           "relu", "leakyrelu", "sigmoid", "softmax", "gelu", "crossentropy", "indexcrossentropy", "mse",
           "l1loss", "l2loss", "huber", "fullyconnect", "dlconv", "dltranspconv", "maxpool", "maxunpool", "avgpool",
           "batchnorm",
           "layernorm", "instancenorm", "groupnorm", "dropout", "onehotencode", "onehotdecode",
           "dlmtimes", "pagemtimes",
           "lstm", "gru", "embed", "attention", "Layer",
           # optimizers
           "sgdmupdate", "adamupdate", "rmspropupdate", "dlupdate", "lbfgsupdate", "lbfgsState",
           "clear_cache"]

# networks, layers, tables and mini-batches (issue 9)
from .runtime.data import arrayDatastore, combine, hasdata, load_digits, minibatchqueue, read, reset, shuffle  # noqa: E402
from .runtime.layer_types import (NetworkDataLayout, additionLayer, averagePooling2dLayer,  # noqa: E402
                                 batchNormalizationLayer, concatenationLayer, convolution2dLayer, dropoutLayer,
                                 embeddingLayer, featureInputLayer, finddim, flattenLayer, fullyConnectedLayer,
                                 geluLayer, gruLayer, imageInputLayer, layerNormalizationLayer, leakyReluLayer,
                                 lstmLayer, maxPooling2dLayer, maxUnpooling2dLayer, reluLayer, sequenceInputLayer, sigmoidLayer,
                                 softmaxLayer, tanhLayer, transposedConv2dLayer)
from .runtime.network import (addLayers, connectLayers, dlnetwork, forward, getLayer, initialize,  # noqa: E402
                             predict, resetState)
from .runtime.table import Table  # noqa: E402
from .runtime.monitor import groupSubPlot, recordMetrics, trainingProgressMonitor, updateInfo, yscale  # noqa: E402

__all__ += ["dlnetwork", "forward", "predict", "initialize", "addLayers", "connectLayers", "getLayer",
            "resetState", "Table", "NetworkDataLayout", "finddim",
            "featureInputLayer", "imageInputLayer", "sequenceInputLayer", "fullyConnectedLayer",
            "convolution2dLayer", "transposedConv2dLayer", "batchNormalizationLayer", "layerNormalizationLayer", "reluLayer",
            "leakyReluLayer", "tanhLayer", "sigmoidLayer", "geluLayer", "softmaxLayer", "dropoutLayer",
            "maxPooling2dLayer", "maxUnpooling2dLayer", "averagePooling2dLayer", "lstmLayer", "gruLayer", "embeddingLayer",
            "additionLayer", "concatenationLayer", "flattenLayer",
            "minibatchqueue", "hasdata", "shuffle", "reset", "load_digits", "arrayDatastore", "combine", "read",
            "trainingProgressMonitor", "recordMetrics", "updateInfo", "groupSubPlot", "yscale"]

# Public classes report themselves under sct (tracebacks, reprs), wherever they are defined.
for _public in (dlarray, Layer, Table, AcceleratedFunction):
    _public.__module__ = "sct"
del _public


def __dir__():
    """The public names only (PEP 562): the internal modules stay importable (``sct.cache``) but unlisted."""
    return sorted(__all__ + ["__version__"])


# the optional fused backend for elementwise chains (numexpr), off unless chosen (issue 8)
from .fuse import get_backend, set_backend  # noqa: E402
from .fuse import _from_environment as _fuse_from_environment  # noqa: E402

__all__ += ["set_backend", "get_backend"]
_fuse_from_environment()        # SCT_BACKEND=numexpr
