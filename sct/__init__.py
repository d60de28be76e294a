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
from runtime.layers import Layer
from runtime.nn import attention, crossentropy, embed, fullyconnect, gru, leakyrelu, lstm, mse, relu, sigmoid, softmax

from .accelerate import AcceleratedFunction, accelerate, dlaccelerate
from .api import clear_cache, dldivergence, dlfeval, dlgradient, dljacobian, dllaplacian, source
from .errors import CompileError, EvaluationError, SctError
from .forward import hvp, jvp, jvp_source

__all__ = ["dlarray", "dlfeval", "dlgradient", "extractdata", "source", "dljacobian", "dldivergence",
           "dllaplacian", "dlaccelerate", "accelerate", "AcceleratedFunction", "jvp", "jvp_source", "hvp", "SctError", "CompileError", "EvaluationError",
           "relu", "leakyrelu", "sigmoid", "softmax", "crossentropy", "mse", "fullyconnect",
           "lstm", "gru", "embed", "attention", "Layer",
           "clear_cache"]

# Deep-learning functions (runtime.dlfun) and optimizers (runtime.optim).
from runtime.dlfun import (avgpool, batchnorm, dlconv, dropout, gelu, groupnorm, huber,  # noqa: E402
                           indexcrossentropy, instancenorm, l1loss, l2loss, layernorm, maxpool,
                           onehotdecode, onehotencode)
from runtime.optim import adamupdate, dlupdate, rmspropupdate, sgdmupdate  # noqa: E402


def _publish_runtime_module(module) -> None:
    """Make ``module``'s functions reachable as ``rt.<name>`` in generated code, as
    compiler._runtime_namespace does for the runtime modules it lists (rules of
    runtime.dlfun call its helpers)."""
    from .compiler import RT, RT_NAMES
    for name, value in vars(module).items():
        if callable(value) and not name.startswith("__") and \
                getattr(value, "__module__", "") == module.__name__ and id(value) not in RT_NAMES:
            public = name.lstrip("_")
            if hasattr(RT, public):
                public = name
            if hasattr(RT, public):
                public = module.__name__.replace(".", "_") + "_" + name
            setattr(RT, public, value)
            RT_NAMES[id(value)] = public


import runtime.dlfun as _dlfun  # noqa: E402

_publish_runtime_module(_dlfun)

__all__ += ["dlconv", "maxpool", "avgpool", "batchnorm", "layernorm", "instancenorm", "groupnorm",
            "dropout", "gelu", "l1loss", "l2loss", "huber", "indexcrossentropy", "onehotencode",
            "onehotdecode", "sgdmupdate", "adamupdate", "rmspropupdate", "dlupdate"]
