"""sct's runtime: differentiable ops beside their rules, the dlarray type, and the
helpers generated code calls.  The compiler in ``sct/`` is imported only lazily, by ``support.vjp`` (calls
that generated code differentiates through generated pairs)."""
from . import registry, support, formats, numpy_ops, more_ops, nn, layers  # noqa: F401  (registers the rules)
from .dlarray import dlarray, extractdata  # noqa: F401
from . import dlfun, optim  # noqa: F401,E402  (deep-learning functions and optimizers)
