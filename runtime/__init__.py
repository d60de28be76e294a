"""sct's runtime: differentiable ops beside their rules, the dlarray type, and the
helpers generated code calls.  Knows nothing of the compiler in ``sct/``."""
from . import registry, support, numpy_ops, nn  # noqa: F401  (registers the rules)
from .dlarray import dlarray, extractdata  # noqa: F401
