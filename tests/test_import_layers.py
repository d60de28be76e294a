"""The house has floors: the import graph of sct/ and runtime/ has no circle.

Every module is read with ``ast``: imports at module level and inside functions alike, absolute
(``import sct.api``, ``from sct.runtime import support``) and relative (``from .runtime import
support``, ``from . import api``, ``from .. import x``), and ``__import__("...")`` or
``importlib.import_module("...")`` with a literal name.  From the bottom: the runtime (it imports
nothing of sct: tests/test_layout.py), the compiler's data modules and passes, ``sct.compiler``, and
the API on top (see sct/hooks.py for how a lower layer recognises what an upper one defines).
"""
import ast
import pathlib
from typing import Dict, List, Optional, Tuple

ROOT = pathlib.Path(__file__).resolve().parent.parent
PACKAGES = {"sct": ROOT / "sct", "sct.runtime": ROOT / "runtime"}     # runtime/ installs as sct.runtime

# the API layer: nothing of the compiler (below sct.compiler) may import these, nor sct.compiler
TOP = {"sct", "sct.api", "sct.accelerate", "sct.forward", "sct.transform_calls", "sct.call_tree", "sct.cli", "sct.demo",
       "sct.__main__"}


def _modules() -> Dict[str, pathlib.Path]:
    found = {}
    for package, folder in PACKAGES.items():
        for path in sorted(folder.glob("*.py")):
            found[package if path.stem == "__init__" else f"{package}.{path.stem}"] = path
    return found


MODULES = _modules()


def _own(name: Optional[str]) -> Optional[str]:
    """The module of this house that importing ``name`` runs (None: not one of ours)."""
    if not name:
        return None
    if name == "runtime" or name.startswith("runtime."):      # the folder's own name: still ours
        name = "sct." + name
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def _imports(module: str, source: Optional[str] = None) -> List[Tuple[str, int]]:
    """``(imported module, line)`` for every import ``module`` makes, wherever it stands (``source``:
    its text, read from its file unless given)."""
    path = MODULES[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    out = []
    for node in ast.walk(ast.parse(path.read_text() if source is None else source, str(path))):
        names: List[Optional[str]] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module
            if node.level:
                parts = package.split(".")
                parent = ".".join(parts[:len(parts) - node.level + 1])
                base = f"{parent}.{node.module}" if node.module else parent
            for alias in node.names:        # from . import api: the module api, else the package
                names.append(f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base)
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant) and \
                isinstance(node.args[0].value, str) and \
                ((isinstance(node.func, ast.Name) and node.func.id == "__import__") or
                 (isinstance(node.func, ast.Attribute) and node.func.attr == "import_module")):
            names = [node.args[0].value]
        for name in names:
            target = _own(name)
            if target is not None and target != module:
                out.append((target, node.lineno))
    return out


def _graph() -> Dict[str, Dict[str, int]]:
    graph: Dict[str, Dict[str, int]] = {m: {} for m in MODULES}
    for module in MODULES:
        for target, line in _imports(module):
            graph[module].setdefault(target, line)
    return graph


def _a_circle(graph) -> Optional[List[str]]:
    """One circle of the graph, as the modules along it (the first again at the end), or None."""
    state: Dict[str, int] = {}                  # 1: on the path, 2: done
    path: List[str] = []

    def visit(m):
        state[m] = 1
        path.append(m)
        for n in sorted(graph[m]):
            if state.get(n) == 1:
                return path[path.index(n):] + [n]
            if n not in state:
                found = visit(n)
                if found:
                    return found
        path.pop()
        state[m] = 2
        return None

    for m in sorted(graph):
        if m not in state:
            found = visit(m)
            if found:
                return found
    return None


def _describe(graph, circle: List[str]) -> str:
    return " -> ".join(f"{a} (line {graph[a][b]})" for a, b in zip(circle, circle[1:])) + f" -> {circle[-1]}"


def test_every_form_of_import_is_read():
    source = """
import numpy as np
import sct.api as api
from sct.runtime import support
from . import cache, naming as _naming
from .runtime.dlarray import dlarray
from . import runtime


def f():
    from .compiler import RT
    import sct.kinds
    if True:
        from .runtime import registry
    return __import__("sct.plans"), importlib.import_module("sct.ir"), __import__("builtins")


class C:
    def g(self):
        from . import hooks
        from .. import sct_other_package
"""
    found = _imports("sct.analysis", source)
    assert sorted(found) == sorted([
        ("sct.api", 3), ("sct.runtime.support", 4), ("sct.cache", 5), ("sct.naming", 5),
        ("sct.runtime.dlarray", 6), ("sct.runtime", 7), ("sct.compiler", 11), ("sct.kinds", 12),
        ("sct.runtime.registry", 14), ("sct.plans", 15), ("sct.ir", 15), ("sct.hooks", 20)]), found
    # in runtime/, .. is sct itself: the package's face, which imports everything
    assert _imports("sct.runtime.support", "from .. import api\nfrom ..compiler import RT\n") == \
        [("sct.api", 1), ("sct.compiler", 2)]
    assert _imports("sct.runtime.support", "from . import registry\nfrom .dlarray import x\n") == \
        [("sct.runtime.registry", 1), ("sct.runtime.dlarray", 2)]


def test_the_import_graph_has_no_circle():
    graph = _graph()
    circle = _a_circle(graph)
    assert circle is None, "an import circle: " + _describe(graph, circle)


def test_the_compiler_never_imports_the_api_layer():
    graph = _graph()
    below = [m for m in MODULES if m not in TOP and m != "sct.compiler"]
    wrong = [f"{m} imports {t} (line {line})" for m in below for t, line in graph[m].items()
             if t in TOP or t == "sct.compiler"]
    assert not wrong, "a lower layer imports an upper one (lend it through sct.hooks instead): " + \
        "; ".join(wrong)


def test_the_reader_finds_a_circle_when_there_is_one():
    graph = {"a": {"b": 3}, "b": {"c": 5}, "c": {"a": 7}, "d": {"a": 1}}
    circle = _a_circle(graph)
    assert circle == ["a", "b", "c", "a"]
    assert _describe(graph, circle) == "a (line 3) -> b (line 5) -> c (line 7) -> a"
    assert _a_circle({"a": {"b": 1}, "b": {}}) is None


def test_hooks_are_lent_by_the_upper_layers():
    import sct
    from sct import hooks
    assert hooks.API.dlgradient is sct.dlgradient and hooks.API.dlfeval is sct.dlfeval
    assert set(hooks.API.SITE_FUNCTIONS) == {sct.dlgradient, sct.dljacobian, sct.dldivergence, sct.dllaplacian}
    assert hooks.FORWARD_ENTRIES == {id(sct.jvp): "jvp", id(sct.hvp): "hvp", id(sct.jvp_source): "jvp_source"}
    from sct.callables import WrappedFunction
    assert isinstance(sct.dlaccelerate(lambda x: x), WrappedFunction)
