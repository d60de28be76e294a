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

from runtime.dlarray import dlarray, extractdata
from runtime.dlfun import (avgpool, batchnorm, dlconv, dropout, gelu, groupnorm, huber, indexcrossentropy,
                           instancenorm, l1loss, l2loss, layernorm, maxpool, onehotdecode, onehotencode)
from runtime.layers import Layer
from runtime.nn import attention, crossentropy, embed, fullyconnect, gru, leakyrelu, lstm, mse, relu, sigmoid, softmax
from runtime.optim import adamupdate, dlupdate, rmspropupdate, sgdmupdate

from .accelerate import AcceleratedFunction, accelerate, dlaccelerate
from .api import clear_cache, dldivergence, dlfeval, dlgradient, dljacobian, dllaplacian, source
from .errors import CompileError, EvaluationError, SctError
from .forward import hvp, jvp, jvp_source
from .rules import defrule

__all__ = ["dlarray", "dlfeval", "dlgradient", "extractdata", "source", "dljacobian", "dldivergence",
           "dllaplacian", "dlaccelerate", "accelerate", "AcceleratedFunction", "jvp", "jvp_source", "hvp",
           "SctError", "CompileError", "EvaluationError", "defrule",
           # deep-learning functions (MATLAB's names)
           "relu", "leakyrelu", "sigmoid", "softmax", "gelu", "crossentropy", "indexcrossentropy", "mse",
           "l1loss", "l2loss", "huber", "fullyconnect", "dlconv", "maxpool", "avgpool", "batchnorm",
           "layernorm", "instancenorm", "groupnorm", "dropout", "onehotencode", "onehotdecode",
           "lstm", "gru", "embed", "attention", "Layer",
           # optimizers
           "sgdmupdate", "adamupdate", "rmspropupdate", "dlupdate",
           "clear_cache"]

# networks, layers, tables and mini-batches (issue 9)
from runtime.data import hasdata, load_digits, minibatchqueue, reset, shuffle  # noqa: E402
from runtime.layer_types import (NetworkDataLayout, additionLayer, averagePooling2dLayer,  # noqa: E402
                                 batchNormalizationLayer, concatenationLayer, convolution2dLayer, dropoutLayer,
                                 embeddingLayer, featureInputLayer, finddim, flattenLayer, fullyConnectedLayer,
                                 geluLayer, gruLayer, imageInputLayer, layerNormalizationLayer, leakyReluLayer,
                                 lstmLayer, maxPooling2dLayer, reluLayer, sequenceInputLayer, sigmoidLayer,
                                 softmaxLayer, tanhLayer)
from runtime.network import (addLayers, connectLayers, dlnetwork, forward, getLayer, initialize,  # noqa: E402
                             predict, resetState)
from runtime.table import Table  # noqa: E402

__all__ += ["dlnetwork", "forward", "predict", "initialize", "addLayers", "connectLayers", "getLayer",
            "resetState", "Table", "NetworkDataLayout", "finddim",
            "featureInputLayer", "imageInputLayer", "sequenceInputLayer", "fullyConnectedLayer",
            "convolution2dLayer", "batchNormalizationLayer", "layerNormalizationLayer", "reluLayer",
            "leakyReluLayer", "tanhLayer", "sigmoidLayer", "geluLayer", "softmaxLayer", "dropoutLayer",
            "maxPooling2dLayer", "averagePooling2dLayer", "lstmLayer", "gruLayer", "embeddingLayer",
            "additionLayer", "concatenationLayer", "flattenLayer",
            "minibatchqueue", "hasdata", "shuffle", "reset", "load_digits"]
