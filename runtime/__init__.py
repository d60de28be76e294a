"""sct's runtime: differentiable ops beside their rules, the dlarray type, and the
helpers generated code calls.  It never imports the compiler in ``sct/``: generated code calls back into
it (helpers compiled on first call) through ``support.HOOKS``, which ``sct.transform_calls`` installs."""
from . import registry, support, formats, numpy_ops, more_ops, iter_ops, nn, layers  # noqa: F401  (registers the rules)
from .dlarray import dlarray, extractdata  # noqa: F401
from . import dlfun, optim  # noqa: F401,E402  (deep-learning functions and optimizers)
