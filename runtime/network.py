"""MATLAB's ``dlnetwork``: layers, connections, ``initialize``, ``forward``, ``predict``.

A network keeps its layers (in an order where every layer comes after the
layers it reads) and two tables, ``net.Learnables`` and ``net.State``
(``runtime.table.Table``: columns Layer, Parameter, Value).  The tables are the
only place the parameters live: running a layer makes a copy of it holding its
values (``runtime.layers.bind_learnables``, an op whose adjoint reads the
gradient back out), so inside ``dlfeval`` the network is an ordinary argument
whose table values are traced, and ``dlgradient(loss, net.Learnables)`` is a
table of the same rows::

    net = dlnetwork([featureInputLayer(4), fullyConnectedLayer(16), reluLayer(),
                     fullyConnectedLayer(3), softmaxLayer()])

    def model_loss(net, X, T):
        Y, state = forward(net, X)
        loss = crossentropy(Y, T)
        return loss, dlgradient(loss, net.Learnables), state

    loss, gradients, state = dlfeval(model_loss, net, X, T)
    net.State = state
    net, avg, avg_sq = adamupdate(net, gradients, avg, avg_sq, iteration)

``forward`` and ``predict`` are plain Python (``run_network``) that sct compiles
once per structure of network, like any helper.
"""
from __future__ import annotations

import copy
import inspect
import os
from typing import Any, List, Optional, Sequence

from .imported import np
from .origins import module_top, name_top
from numpy.typing import ArrayLike

from .dlarray import dlarray
from .layer_types import _RNG, NetworkDataLayout, default_format
from .layers import Layer, bind_learnables
from .table import Table

__all__ = ["dlnetwork", "addLayers", "connectLayers", "initialize", "forward", "predict", "resetState",
           "getLayer", "run_network"]


# --- the layers' interface ------------------------------------------------------------------------


def _learnable_names(layer) -> tuple:
    return tuple(getattr(layer, "learnables", ()) or ())


def _state_names(layer) -> tuple:
    return tuple(getattr(layer, "state", ()) or ())


def _num_inputs(layer) -> int:
    n = getattr(layer, "NumInputs", None)
    if n is not None:
        return int(n)
    params = [p for p in inspect.signature(layer.predict).parameters.values()]
    return max(1, len(params))


def _num_outputs(layer) -> int:
    return int(getattr(layer, "NumOutputs", 1) or 1)


def check_layer_outputs(out, layer, count, method):
    """Refuse a layer's predict/forward result that is not ``count`` values: a layer with state (or
    several outputs) returns the tuple ``(Z1, ..., Zm, S1, ..., Sk)`` (MATLAB's ``[Z, state] =
    forward(layer, X)``), any other layer one array.  (Was: a bare array from a stateful layer's forward
    was indexed as that tuple, ``Z = out[0]``, ``state = out[1]``: its first row went on as the output
    and its second row became the state, silently.)"""
    if count == 1:
        if not isinstance(out, (tuple, list)):
            return
        got = f"{len(out)} values (a {type(out).__name__})"
    else:
        if isinstance(out, (tuple, list)) and len(out) == count:
            return
        got = (f"{len(out)} values" if isinstance(out, (tuple, list))
               else f"one value (a {type(out).__name__})")
    cls = type(layer)
    fn = getattr(cls, method, None)
    where = ""
    code = getattr(fn, "__code__", None)
    if code is not None:
        where = f" ({code.co_filename}, line {code.co_firstlineno})"
    nout = _num_outputs(layer)
    snames = _state_names(layer)
    outs = ["Z"] if nout == 1 else [f"Z{k + 1}" for k in range(nout)]
    if count == 1:
        want = "one array Z (the layer has no state"
        want += ")" if nout == 1 else f" and NumOutputs={nout})"
    else:
        want = f"the tuple ({', '.join(outs + list(snames))})" + (
            f": its output{'s' if nout > 1 else ''} and then the new value of each state ({', '.join(snames)})"
            if snames else f": its {nout} outputs")
    raise TypeError(f"layer {getattr(layer, 'Name', '')!r}: {cls.__name__}.{method}{where} returned {got}; it must "
                    f"return {want}, as MATLAB's [Z, state] = {method}(layer, X)")


def _input_names(layer):
    names = getattr(layer, "InputNames", None)
    if names:
        return tuple(names)
    n = _num_inputs(layer)
    return ("in",) if n == 1 else tuple(f"in{k + 1}" for k in range(n))


def _output_names(layer):
    names = getattr(layer, "OutputNames", None)
    if names:
        return tuple(names)
    n = _num_outputs(layer)
    return ("out",) if n == 1 else tuple(f"out{k + 1}" for k in range(n))


def _is_input_layer(layer) -> bool:
    return hasattr(layer, "example") and hasattr(layer, "InputSize") and getattr(layer, "Format", None) \
        is not None and callable(getattr(layer, "example"))


def _own_forward(layer) -> bool:
    """Does the layer define a training-time ``forward`` of its own?"""
    fwd = getattr(type(layer), "forward", None)
    if fwd is None:
        return False
    return fwd is not Layer.forward


def _current_plan(graph):
    """``graph.plan`` with each layer's ``own_forward`` (its eighth field) as the layer's class has it now.
    The plan is made when the network is initialized, but a class may be given a ``forward`` of its own
    later (``Scale.forward = f``, or IPython's autoreload adding the method written into the module to
    the class in place): forward(net, X) then ran the layer's predict, inside dlfeval and outside it, the
    value and gradient of the network without the new method (red team loop, dec 5).  One look-up per
    layer and call; the plan (the runners' cache key) is made again only where a flag changed."""
    plan = graph.plan
    for step, layer in zip(plan, graph.layers):
        if step[7] != _own_forward(layer):
            plan = tuple(s[:7] + (_own_forward(l),) + s[8:] for s, l in zip(plan, graph.layers))
            graph.plan = plan
            break
    return plan


# --- the network -----------------------------------------------------------------------------------


class dlnetwork:
    """A deep-learning network (MATLAB's dlnetwork).

    ``dlnetwork(layers)``: the layers connected one after the other; initialised when the
    first layer is an input layer.  ``dlnetwork(layers, X1, ..., Xn)``: initialised from
    example inputs.  ``dlnetwork(layers, Connections=[("a", "b"), ("b", "add/in2"), ...])``:
    a graph (the layers are not chained; every edge is given).  ``dlnetwork()`` is empty:
    build it with ``addLayers`` and ``connectLayers``, then ``initialize``.
    ``Initialize=False`` leaves it uninitialised; ``Seed`` seeds the initialisers
    (default: a global stream started at 0, as MATLAB's).

    Properties: ``Layers`` (the layers, holding their current values), ``Learnables`` and
    ``State`` (tables), ``InputNames``, ``OutputNames``, ``Connections``, ``Initialized``.

    >>> net = dlnetwork([featureInputLayer(3), fullyConnectedLayer(2), reluLayer()], Seed=0)
    >>> net.Learnables.Parameter, predict(net, np.ones((4, 3))).shape
    (('Weights', 'Bias'), (4, 2))
    """

    __sct_network__ = True          # optimizers update its Learnables (runtime.optim.tree_map)

    def __init__(self, layers: Any = None, *examples: Any, Connections: Optional[Any] = None,
                 Initialize: bool = True, Seed: Optional[int] = None,
                 OutputNames: Optional[Sequence[str]] = None) -> None:
        self._graph = _Graph()
        self.Learnables = Table((), (), [])
        self.State = Table((), (), [])
        self._output_names = tuple(OutputNames) if OutputNames is not None else None
        self.Initialized = False
        if examples and Connections is None and _looks_like_connections(examples[0]):
            Connections, examples = examples[0], examples[1:]
        if layers is not None:
            if isinstance(layers, dlnetwork):
                raise TypeError("dlnetwork(net): the network is already a dlnetwork")
            layers = list(layers) if isinstance(layers, (list, tuple)) else [layers]
            _add(self, layers, chain=Connections is None)
            if Connections is not None:
                for src, dst in Connections:
                    _connect(self, src, dst)
        self._sort()
        if Initialize and (examples or (self._layers and self._all_inputs_known())):
            _initialize_in_place(self, examples, Seed)

    # the structure lives in one object without a __dict__, which sct's compiler keys its code on
    # by type alone (it holds no traced values): cheap to look up on every call
    _layers = property(lambda self: self._graph.layers, lambda self, v: setattr(self._graph, "layers", v))
    _edges = property(lambda self: self._graph.edges, lambda self, v: setattr(self._graph, "edges", v))
    _plan = property(lambda self: self._graph.plan, lambda self, v: setattr(self._graph, "plan", v))
    _inputs = property(lambda self: self._graph.inputs, lambda self, v: setattr(self._graph, "inputs", v))
    _outputs = property(lambda self: self._graph.outputs, lambda self, v: setattr(self._graph, "outputs", v))
    _output_names = property(lambda self: self._graph.output_names,
                             lambda self, v: setattr(self._graph, "output_names", v))

    def with_learnables(self, learnables: Any) -> dlnetwork:
        """A copy of the network with these learnables (a table of the same rows, or a list)."""
        values = learnables.Value if isinstance(learnables, Table) else list(learnables)
        out = _copy(self)
        out.Learnables = self.Learnables.with_values(values)
        return out

    # --- structure ---------------------------------------------------------------------------
    def _names(self):
        return [layer.Name for layer in self._layers]

    def _find(self, name):
        for i, layer in enumerate(self._layers):
            if layer.Name == name:
                return i
        raise KeyError(f"the network has no layer named {name!r} (layers: {', '.join(self._names())})")

    def _sort(self):
        """Order the layers so that each comes after those it reads (Kahn, keeping the order given)."""
        names = self._names()
        deps = {n: set() for n in names}
        for src, _, dst, _ in self._edges:
            deps[dst].add(src)
        done, order = set(), []
        while len(order) < len(names):
            ready = [n for n in names if n not in done and deps[n] <= done]
            if not ready:
                cycle = [n for n in names if n not in done]
                raise ValueError(f"dlnetwork: the connections have a cycle through {', '.join(cycle)}")
            done.add(ready[0])
            order.append(ready[0])
        by_name = {layer.Name: layer for layer in self._layers}
        self._layers = [by_name[n] for n in order]

    def _all_inputs_known(self) -> bool:
        """Is every unconnected input that of an input layer (so sizes are known)?"""
        fed = {(dst, k) for _, _, dst, k in self._edges}
        for layer in self._layers:
            for k in range(_num_inputs(layer)):
                if (layer.Name, k) not in fed and not _is_input_layer(layer):
                    return False
        return True

    @property
    def InputNames(self) -> List[str]:
        fed = {(dst, k) for _, _, dst, k in self._edges}
        return _free_ports(self._layers, fed, _input_names, _num_inputs)

    @property
    def OutputNames(self) -> List[str]:
        if self._output_names is not None:
            return list(self._output_names)
        used = {(src, k) for src, k, _, _ in self._edges}
        return _free_ports(self._layers, used, _output_names, _num_outputs)

    @property
    def Connections(self) -> Table:
        """The edges as (source, destination) pairs of names ("layer" or "layer/port")."""
        out = []
        for src, k, dst, j in self._edges:
            s = self._layers[self._find(src)]
            d = self._layers[self._find(dst)]
            sn = src if _num_outputs(s) == 1 else f"{src}/{_output_names(s)[k]}"
            dn = dst if _num_inputs(d) == 1 else f"{dst}/{_input_names(d)[j]}"
            out.append((sn, dn))
        return out

    @property
    def Layers(self) -> List[Any]:
        """The layers, each holding its current learnable and state values."""
        return [self._bound(i) for i in range(len(self._layers))]

    def _bound(self, i):
        layer = self._layers[i]
        if not self.Initialized:
            return layer
        names = _learnable_names(layer)
        snames = _state_names(layer)
        values = [self.Learnables.value(layer.Name, n) for n in names] + \
            [self.State.value(layer.Name, n) for n in snames]
        return bind_learnables(layer, names, values[:len(names)], snames, values[len(names):])

    def __repr__(self):
        lines = [f"  dlnetwork with {len(self._layers)} layers, {len(self._edges)} connections"
                 f"{'' if self.Initialized else ' (not initialized)'}:"]
        for layer in self._layers:
            lines.append(f"    {layer.Name}: {getattr(layer, 'Type', type(layer).__name__)}")
        if self.Initialized:
            count = sum(int(np.size(v)) for v in self.Learnables.Value)
            lines.append(f"  {count} learnables in {len(self.Learnables)} arrays; "
                         f"inputs {self.InputNames}, outputs {self.OutputNames}")
        return "\n".join(lines)

    def _repr_html_(self):
        import html
        return "<pre>" + html.escape(repr(self)) + "</pre>"


class _Graph:
    """A network's layers (in order), connections and the plan ``run_network`` follows."""

    __slots__ = ("layers", "edges", "plan", "inputs", "outputs", "output_names", "format_key")

    def __init__(self):
        self.layers = []
        self.edges = []
        self.plan = ()
        self.inputs = ()
        self.outputs = ()
        self.output_names = None
        self.format_key = None

    @property
    def __sct_kind__(self):
        """What compiled code is keyed on besides the type (``sct.kinds``): a small number naming the
        structure that decides the formats of the outputs (``format_structure``), None before
        ``initialize``."""
        return self.format_key

    def copy(self):
        out = _Graph()
        for name in self.__slots__:
            value = getattr(self, name)
            setattr(out, name, list(value) if isinstance(value, list) else value)
        return out


def _looks_like_connections(x) -> bool:
    return isinstance(x, (list, tuple)) and len(x) > 0 and all(
        isinstance(e, (list, tuple)) and len(e) == 2 and all(isinstance(s, str) for s in e) for e in x)


def _unique_names(net, layers):
    """Give unnamed layers MATLAB's names: the type's base name, numbered when it repeats."""
    taken = {layer.Name for layer in net._layers}
    unnamed = [layer for layer in layers if not getattr(layer, "Name", "")]
    bases = {}
    for layer in unnamed:
        base = getattr(layer, "BaseName", None) or type(layer).__name__.lower()
        bases.setdefault(base, []).append(layer)
    for base, group in bases.items():
        count = 0
        for layer in group:
            if len(group) == 1 and base not in taken:
                name = base
            else:
                count += 1
                name = f"{base}_{count}"
                while name in taken:
                    count += 1
                    name = f"{base}_{count}"
            layer.Name = name
            taken.add(name)
    seen = {layer.Name for layer in net._layers}
    for layer in layers:
        if layer.Name in seen:
            raise ValueError(f"dlnetwork: two layers are named {layer.Name!r}; layer names must be unique")
        seen.add(layer.Name)


def _add(net, layers, chain=True):
    layers = [copy.copy(layer) for layer in layers]       # the network's own layers
    for layer in layers:
        if not hasattr(layer, "predict"):
            raise TypeError(f"dlnetwork: {layer!r} is not a layer (it has no predict method)")
        if not hasattr(layer, "Name") or layer.Name is None:
            layer.Name = ""
    _unique_names(net, layers)
    start = len(net._layers)
    net._layers.extend(layers)
    if chain:
        for a, b in zip(layers[:-1], layers[1:]):
            net._edges.append((a.Name, 0, b.Name, 0))
    return start


def _port(net, name, outputs: bool):
    """(layer name, port index) of "layer" or "layer/port"."""
    layer_name, _, port = name.partition("/")
    layer = net._layers[net._find(layer_name)]
    names = _output_names(layer) if outputs else _input_names(layer)
    if not port:
        return layer_name, 0
    if port not in names:
        raise ValueError(f"layer {layer_name!r} has no {'output' if outputs else 'input'} {port!r} "
                         f"({', '.join(names)})")
    return layer_name, names.index(port)


def _connect(net, src, dst):
    s, k = _port(net, src, outputs=True)
    d, j = _port(net, dst, outputs=False)
    for _, _, d2, j2 in net._edges:
        if (d2, j2) == (d, j):
            raise ValueError(f"connectLayers: the input {dst!r} is already connected")
    net._edges.append((s, k, d, j))


def addLayers(net: dlnetwork, layers: Any) -> dlnetwork:
    """MATLAB's addLayers: a copy of ``net`` with ``layers`` added, connected one after the other.

    >>> net = addLayers(dlnetwork(), [featureInputLayer(3, Name="in"), fullyConnectedLayer(2, Name="fc")])
    >>> net = initialize(net, Seed=0)
    >>> predict(net, np.ones((1, 3))).shape
    (1, 2)
    """
    out = _copy(net)
    _add(out, list(layers) if isinstance(layers, (list, tuple)) else [layers])
    out._sort()
    out.Initialized = False
    return out


def connectLayers(net: dlnetwork, source: str, destination: str) -> dlnetwork:
    """MATLAB's connectLayers: ``source`` ("layer" or "layer/out2") to ``destination``
    ("layer" or "layer/in2").

    >>> net = addLayers(dlnetwork(), [featureInputLayer(2, Name="in"), reluLayer(Name="r")])
    >>> net = addLayers(net, [additionLayer(2, Name="add")])
    >>> net = connectLayers(net, "r", "add/in1")
    >>> net = connectLayers(net, "in", "add/in2")
    >>> predict(initialize(net), np.array([[-1.0, 2.0]]))
    array([[-1.,  4.]])
    """
    out = _copy(net)
    _connect(out, source, destination)
    out._sort()
    out.Initialized = False
    return out


def getLayer(net: dlnetwork, name: str) -> Any:
    """The layer named ``name``, holding its current values.

    >>> net = dlnetwork([featureInputLayer(3), fullyConnectedLayer(2, Name="fc")], Seed=0)
    >>> getLayer(net, "fc").Weights.shape
    (2, 3)
    """
    return net._bound(net._find(name))


def _copy(net):
    out = copy.copy(net)
    out._graph = net._graph.copy()
    return out


# --- initialisation ------------------------------------------------------------------------------


def _free_ports(layers, connected, names_of, count_of):
    """The ports ("layer" or "layer/port") of ``layers`` that no connection uses."""
    out = []
    for layer in layers:
        names = names_of(layer)
        for k in range(count_of(layer)):
            if (layer.Name, k) not in connected:
                out.append(layer.Name if len(names) == 1 else f"{layer.Name}/{names[k]}")
    return out


def initialize(net: dlnetwork, *examples: Any, Seed: Optional[int] = None) -> dlnetwork:
    """MATLAB's initialize: a copy of ``net`` whose empty learnables and states are initialised,
    sizes taken from the example inputs ``examples`` (or from the input layers).  Values already
    there are kept.

    >>> net = dlnetwork([fullyConnectedLayer(2, Name="fc")], Initialize=False)
    >>> net = initialize(net, np.ones((1, 3)), Seed=0)
    >>> net.Learnables["fc", "Weights"].shape
    (2, 3)
    """
    out = _copy(net)
    _initialize_in_place(out, examples, Seed)
    return out


def _layout_of(x, fmt=None):
    shape = np.shape(x)
    return NetworkDataLayout(shape, fmt or default_format(len(shape)))


def _initialize_in_place(net, examples, Seed):
    from .dlarray import extractdata
    if not net._layers:
        raise ValueError("initialize: the network has no layers")
    net._sort()
    layers = [copy.copy(layer) for layer in net._layers]
    if net.Initialized:                    # put the current values back before initialising again
        layers = [net._bound(i) for i in range(len(layers))]
    inputs = net.InputNames
    examples = [(extractdata(x), x._fmt) if isinstance(x, dlarray) else (np.asarray(x), "") for x in examples]
    if examples and len(examples) != len(inputs):
        raise ValueError(f"initialize: the network has {len(inputs)} inputs ({', '.join(inputs)}), "
                         f"got {len(examples)} example inputs")
    rng = np.random.default_rng(Seed) if Seed is not None else None
    if rng is not None:
        _RNG.append(rng)
    try:
        _run_examples(net, layers, examples)
    finally:
        if rng is not None:
            _RNG.pop()
    learnables, state = _value_tables(layers)
    net._layers = layers
    net.Learnables = learnables
    net.State = state
    _plan(net)
    net.Initialized = True


def _run_examples(net, layers, examples):
    """Initialise each layer of ``layers`` (in order) on the example values that reach it, replacing
    it in ``layers`` where its ``initialize`` returns a new layer."""
    from .dlarray import extractdata
    index = {layer.Name: i for i, layer in enumerate(layers)}
    edges_in = {}
    for s, k, d, j in net._edges:
        edges_in[(d, j)] = (s, k)
    values = {}                                  # (layer, output) -> example value, format
    fed = 0
    for layer in layers:
        xs, fed = _example_inputs(layer, edges_in, values, examples, fed)
        init = getattr(layer, "initialize", None)
        if callable(init):
            x0, fmt0 = xs[0]
            layout = _layout_of(x0, fmt0 if len(fmt0 or "") == np.ndim(x0) else None)
            result = init(layout) if _takes_layout(init) else init()
            if result is not None:
                if not isinstance(result, type(layer)):
                    raise TypeError(f"initialize of layer {layer.Name!r} must return the layer")
                layers[index[layer.Name]] = layer = result
        out = layer.predict(*[x for x, _ in xs])
        check_layer_outputs(out, layer, _num_outputs(layer) + len(_state_names(layer)), "predict")
        outs = out if (_num_outputs(layer) + len(_state_names(layer)) > 1) else (out,)
        if _is_custom(layer):
            # does its output have its input's rank (``_format_rule``: then it takes its input's format)?
            try:
                layer._sct_rank_kept = bool(xs) and all(np.ndim(outs[k]) == np.ndim(xs[0][0])
                                                        for k in range(_num_outputs(layer)))
            except Exception:               # (a class with __slots__ or its own __setattr__: unformatted outputs)
                pass
        fmt_in = xs[0][1] if xs else None
        for k in range(_num_outputs(layer)):
            y = extractdata(outs[k]) if isinstance(outs[k], dlarray) else np.asarray(outs[k])
            fmt = fmt_in if fmt_in and len(fmt_in) == np.ndim(y) else None
            values[(layer.Name, k)] = (y, fmt)


def _example_inputs(layer, edges_in, values, examples, fed):
    """The (value, format) of each input of ``layer``: a connected layer's output, the next example
    input, or its input layer's own example; and how many examples are used after it."""
    xs = []
    for j in range(_num_inputs(layer)):
        if (layer.Name, j) in edges_in:
            xs.append(values[edges_in[(layer.Name, j)]])
        elif examples:
            x, fmt = examples[fed]
            layout = getattr(layer, "Format", None) if _is_input_layer(layer) else None
            if fmt:                             # a formatted example: arranged as forward(net, X) arranges it
                from .formats import align_data, canonical_layout
                layout = layout or canonical_layout(fmt)
                try:
                    x = align_data(x, fmt, layout, "initialize")
                except ValueError:
                    raise ValueError(f"initialize: example input {fed + 1} is labelled {fmt!r}, but layer "
                                     f"{layer.Name!r} takes data with the labels {layout!r}; label the data "
                                     "with those labels in any order") from None
            xs.append((x, layout))
            fed += 1
        elif _is_input_layer(layer):
            xs.append((layer.example(), layer.Format))
            fed += 1
        else:
            raise ValueError(f"initialize: the input of layer {layer.Name!r} is not connected and "
                             "there is no input layer: give example inputs, initialize(net, X)")
    return xs, fed


def _value_tables(layers):
    """The Learnables and State tables of ``layers``' values (each required), which are then
    emptied in the layers: the values live in the tables only."""
    learn_layer, learn_param, learn_value = [], [], []
    state_layer, state_param, state_value = [], [], []
    for layer in layers:
        for n in _learnable_names(layer):
            v = getattr(layer, n, None)
            if v is None:
                raise ValueError(f"initialize: layer {layer.Name!r} left its learnable {n!r} empty")
            learn_layer.append(layer.Name)
            learn_param.append(n)
            learn_value.append(_as_parameter(v))
        for n in _state_names(layer):
            v = getattr(layer, n, None)
            if v is None:
                raise ValueError(f"initialize: layer {layer.Name!r} left its state {n!r} empty")
            state_layer.append(layer.Name)
            state_param.append(n)
            state_value.append(_as_parameter(v))
    for layer in layers:                             # the values live in the tables only
        for n in _learnable_names(layer) + _state_names(layer):
            setattr(layer, n, None)
    return (Table(tuple(learn_layer), tuple(learn_param), learn_value),
            Table(tuple(state_layer), tuple(state_param), state_value))


def _takes_layout(fn) -> bool:
    try:
        return len(inspect.signature(fn).parameters) >= 1
    except (TypeError, ValueError):
        return True


def _as_parameter(v):
    if isinstance(v, dlarray):
        return v
    a = np.asarray(v)
    if not np.issubdtype(a.dtype, np.inexact):
        a = a.astype(np.float64)
    return dlarray(a)


def _plan(net):
    """What ``run_network`` needs per layer, in plain tuples (the compiled code's constants)."""
    slot = {}                                          # (layer, output) -> index among the activations
    inputs = []
    fed = {(d, j): (s, k) for s, k, d, j in net._edges}
    n_inputs = 0
    for layer in net._layers:
        for j in range(_num_inputs(layer)):
            if (layer.Name, j) not in fed:
                inputs.append((layer.Name, j))
                n_inputs += 1
    count = n_inputs
    inert = set(range(n_inputs))                       # the activations that depend on the inputs only
    plan = []
    a = c = 0
    for layer in net._layers:
        sources = []
        for j in range(_num_inputs(layer)):
            if (layer.Name, j) in fed:
                sources.append(slot[fed[(layer.Name, j)]])
            else:
                sources.append(inputs.index((layer.Name, j)))
        names = _learnable_names(layer)
        snames = _state_names(layer)
        nout = _num_outputs(layer)
        for k in range(nout):
            slot[(layer.Name, k)] = count
            count += 1
        # 2: no learnables, no state and fed by the network's inputs alone (through such layers): its
        # outputs depend on the inputs only; 1: fed by such values alone; 0: other layers
        fed_by_inputs = all(src in inert for src in sources)
        if fed_by_inputs and not names and not snames:
            kind = 2
            inert.update(range(count - nout, count))
        else:
            kind = 1 if fed_by_inputs else 0
        plan.append((tuple(sources), names, a, a + len(names), c, c + len(snames), nout,
                     _own_forward(layer), snames, kind))
        a += len(names)
        c += len(snames)
    outputs = []
    for name in net.OutputNames:
        layer_name, _, port = name.partition("/")
        layer = net._layers[net._find(layer_name)]
        k = _output_names(layer).index(port) if port else 0
        outputs.append(slot[(layer_name, k)])
    net._plan = tuple(plan)
    net._inputs = tuple(inputs)
    net._outputs = tuple(outputs)
    net._graph.format_key = _format_key(net, plan, inputs, outputs)


# --- running -----------------------------------------------------------------------------------------


def _slots_by_name(names, nouts, n_inputs, Outputs, fname):
    """The activations (indices, as ``_plan``'s slots) MATLAB's ``Outputs=`` names: layer names, or
    "layer/port" for a layer with several outputs (its first output without a port)."""
    outputs = [Outputs] if isinstance(Outputs, str) else list(Outputs)
    if not outputs or not all(isinstance(o, str) for o in outputs):
        raise ValueError(f"{fname}: Outputs must be a layer name or a list of them, got {Outputs!r}")
    starts = {}
    count = n_inputs
    for name, nout in zip(names, nouts):
        starts[name] = (count, nout)
        count += nout
    slots = []
    for o in outputs:
        layer_name, _, port = o.partition("/")
        if layer_name not in starts:
            raise ValueError(f"{fname}: Outputs names {o!r}, but the network has no layer {layer_name!r} "
                             f"(layers: {', '.join(names)})")
        start, nout = starts[layer_name]
        slots.append(start + (port_index(layer_name, port, nout) if port else 0))
    return tuple(slots)


def port_index(layer_name, port, nout):
    """The output number of ``port`` ("out", "out1", ..., or the layer's own OutputNames)."""
    if port == "out" and nout == 1:
        return 0
    if port.startswith("out") and port[3:].isdigit() and 1 <= int(port[3:]) <= nout:
        return int(port[3:]) - 1
    raise ValueError(f"Outputs: layer {layer_name!r} has no output {port!r}")


def output_slots(net, Outputs, fname="forward"):
    """The activations ``run_network`` returns: the network's outputs, or those MATLAB's ``Outputs=``
    names (``forward(net, X, Outputs=["fc1", "softmax"])``)."""
    if Outputs is None:
        return None
    slots = []
    names = [layer.Name for layer in net._layers]
    for o in ([Outputs] if isinstance(Outputs, str) else list(Outputs)):
        layer_name, _, port = o.partition("/") if isinstance(o, str) else (o, "", "")
        if port and layer_name in names:           # a named port of the layer's own OutputNames
            layer = net._layers[names.index(layer_name)]
            ports = _output_names(layer)
            if port in ports:
                o = f"{layer_name}/out{ports.index(port) + 1}" if len(ports) > 1 else layer_name
        slots.append(o)
    return _slots_by_name(names, [step[6] for step in net._graph.plan], len(net._inputs), slots, fname)


def run_network(net, inputs, training, outputs=None, given_output=None, given_value=None):
    """The network's outputs (a list) and new state values (a list) for the list ``inputs``
    (``outputs``: the activations to return instead, from ``output_slots``).  ``given_output``: the
    position in ``outputs`` of an activation taken as ``given_value`` instead of computed (the
    layers after it read ``given_value``; the output there is ``given_value`` itself): what a
    gradient with respect to one output of ``forward``/``predict`` differentiates (Grad-CAM).

    The layers run as straight-line code written for the network's plan (``network_runner``: one
    function per structure, cached; sct compiles it like any helper, without the loop's tape, each
    layer call a call site of its own); networks of more than ``UNROLL_MAX_LAYERS`` layers run the
    loop of ``run_network_loop``."""
    if given_output is not None:
        return _run_given(net, inputs, training, outputs, given_output, given_value)
    runner = network_runner(net, training, outputs)
    return runner(net, inputs, training, outputs)


def _run_given(net, inputs, training, outputs, given_output, given_value):
    """``run_network`` with the activation ``outputs[given_output]`` given (see there)."""
    runner = given_runner(net, training, outputs, given_output)
    return runner(net, inputs, training, outputs, given_value)


def given_runner(net, training, outputs, given_output):
    """The runner of ``_run_given`` (cached; non-differentiable: the runner is what is differentiated,
    found once, as ``network_runner``'s)."""
    graph = net._graph
    plan = _current_plan(graph)
    _check_rows(net, graph, plan)
    wanted = graph.outputs if outputs is None else tuple(outputs)
    if len(plan) > UNROLL_MAX_LAYERS:
        raise ValueError(f"a gradient with respect to one output of a network of more than {UNROLL_MAX_LAYERS} "
                         "layers while others are used is not supported: split the network in two")
    fname = "forward" if training else "predict"
    slot = len(graph.inputs)
    for step, layer in zip(plan, graph.layers):
        nout = step[6]
        if nout > 1 and slot <= wanted[given_output] < slot + nout:
            raise ValueError(f"a gradient with respect to one output of {fname}() while others are used, where that "
                             f"output is one of the {nout} outputs of layer {layer.Name!r}: the layer may compute its "
                             "other outputs from it (the derivative MATLAB's trace follows), which sct cannot see "
                             "from outside the layer. Ask for the output of a layer of one output (the layer after "
                             "it), or compute the outputs after it in a function of your own")
        slot += nout
    for layer in graph.layers:
        if training and _draws_in_training(layer):
            raise ValueError(f"a gradient with respect to one output of forward() while others are used "
                             f"runs the network again from that output, and layer {layer.Name!r} draws "
                             "random numbers in training (another draw, other values): use predict(), or "
                             "compute the outputs after that layer in a second network")
        why = _impure_layer(layer, training)
        if why is not None:
            raise ValueError(f"a gradient with respect to one output of {fname}() while others are used runs "
                             f"the network a second time, and {fname} of the custom layer {layer.Name!r} "
                             f"{why}: it would happen twice (other values, or its effect repeated). Compute "
                             "the outputs after the feature map in a second network or a function of your own")
    key = (plan, len(graph.inputs), wanted, bool(training), wanted[given_output])
    runner = _RUNNERS.get(key)
    if runner is None:
        runner = _make_runner(*key)
        while len(_RUNNERS) >= _RUNNERS_KEEP:
            _RUNNERS.pop(next(iter(_RUNNERS)))
        _RUNNERS[key] = runner
    return runner


# names whose use in a custom layer's predict or forward may draw random numbers or change something outside it
_EFFECT_NAMES = frozenset({"random", "rand", "randn", "randint", "default_rng", "normal", "uniform", "choice",
                           "permutation", "shuffle", "seed", "standard_normal", "integers", "binomial", "poisson",
                           "print", "append", "extend", "insert", "pop", "remove", "clear", "update",
                           "setdefault", "write", "setattr", "delattr", "__setitem__", "__setattr__", "exec",
                           "eval", "open", "fill", "put", "itemset", "resize", "next", "send", "input"})
_READ_MODULES = frozenset({"numpy", "math", "sct", "runtime"})     # modules whose functions a pure layer may call
_EFFECT_OPS = frozenset({"STORE_ATTR", "DELETE_ATTR", "STORE_GLOBAL", "DELETE_GLOBAL", "STORE_DEREF",
                         "DELETE_DEREF", "STORE_SUBSCR", "DELETE_SUBSCR", "IMPORT_NAME", "YIELD_VALUE"})


def _impure_layer(layer, training: bool):
    """Why a custom layer's ``predict`` (``forward`` in training, where its class defines one) may not give
    the same values twice, or changes something (None: its code, and the code of the functions and methods
    of its own it calls, reads its arguments and fields and calls numpy and sct only: no random draw, no
    write into anything, no print)."""
    from .layers import Layer
    if not isinstance(layer, Layer) or module_top(type(layer)) in ("runtime", "sct"):
        return None
    cls = type(layer)
    fn = cls.forward if training and cls.forward is not Layer.forward else cls.predict
    key = (cls, getattr(fn, "__code__", None))
    known = _IMPURE.get(key)
    # (the answer read the functions and methods the method calls by name: kept with it and read again
    # when one is redefined, a helper that now draws random numbers; was: the old answer kept)
    if known is None or not all(a is b for space, name, klass, value in known[2]
                                for a, b in zip(_named(space, name, klass), value)):
        if len(_IMPURE) > 256:
            _IMPURE.clear()
        names, reads = set(), []
        why = _impure_code(key[1], getattr(fn, "__globals__", {}), cls, set(), names, reads)
        known = _IMPURE[key] = (why, frozenset(names), tuple(reads))
    if known[0] is not None:
        return known[0]
    # a function kept in a field of the layer itself (``self.act = lambda X: ...``): not read here
    for name in known[1]:
        field = getattr(layer, "__dict__", {}).get(name)
        if isinstance(field, Layer) and field is not layer:
            why = _impure_layer(field, training)        # a layer inside the layer (a built-in one: pure)
            if why is not None:
                return why
        elif callable(field) and not isinstance(field, (np.ndarray, dlarray)):
            return f"calls {name!r}, a function kept in the layer, which sct does not read here"
    return None


# (class, the code of its method) -> (_impure_code's answer, the attribute names its code reads, the
# functions and methods it read by name, with what it found)
_IMPURE: dict = {}


def _named(globals_, name, cls):
    """What ``_impure_code`` finds for ``name``: the global's value and the class's attribute."""
    m = None
    for klass in cls.__mro__:
        m = klass.__dict__.get(name)
        if m is not None:
            break
    return (globals_.get(name), m)


def _impure_code(code, globals_, cls, seen, names, reads):
    import dis
    import types
    if code is None:
        return "is not Python code sct can read"
    if code in seen:
        return None
    seen.add(code)
    names.update(code.co_names)
    for ins in dis.get_instructions(code):
        if ins.opname in _EFFECT_OPS:
            return f"writes into something or imports ({ins.opname} on line {ins.positions.lineno if ins.positions else '?'})"
    for name in code.co_names:
        if name in _EFFECT_NAMES:
            return f"uses {name!r} (a random draw or a change of something, maybe)"
        g, m = found = _named(globals_, name, cls)
        reads.append((globals_, name, cls, found))
        if isinstance(g, types.ModuleType) and name_top(g.__name__) not in _READ_MODULES:
            return f"calls into the module {g.__name__!r}, which sct does not read here"
        if isinstance(g, types.FunctionType) and module_top(g) not in ("numpy", "runtime", "sct"):
            why = _impure_code(g.__code__, g.__globals__, cls, seen, names, reads)
            if why is not None:
                return why
        if isinstance(m, types.FunctionType) and module_top(m) not in ("runtime", "sct"):
            why = _impure_code(m.__code__, m.__globals__, cls, seen, names, reads)
            if why is not None:
                return why
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            why = _impure_code(const, globals_, cls, seen, names, reads)
            if why is not None:
                return why
    return None


def _draws_in_training(layer) -> bool:
    """Does the layer's ``forward`` draw random numbers (a dropout layer; a custom layer: ``_impure_layer``)?"""
    name = type(layer).__name__.lower()
    return "dropout" in name or "noise" in name


# --- the unrolled runner: the layers of one plan as straight-line code ------------------------------

UNROLL_MAX_LAYERS = 64            # larger networks run run_network_loop (one compiled loop for any size)
_RUNNERS: dict = {}               # (plan, number of inputs, activations returned, training) -> function
_RUNNERS_KEEP = 256


def network_runner(net, training, outputs=None):
    """The function ``runner(net, inputs, training, outputs) -> (outputs, new states)`` that runs
    ``net``'s plan as straight-line code (what ``run_network_loop`` does for that plan; ``training``
    and ``outputs`` are built in), or ``run_network_loop`` itself for a network of more than
    ``UNROLL_MAX_LAYERS`` layers.  Generated once per plan, number of inputs, activations
    returned and ``training``, and cached: the plan names every layer's sources, slices of the
    Learnables and State values and number of outputs, so networks of one structure share it; the
    layers themselves are read from the network at each call (a layer replaced keeps its place)."""
    graph = net._graph
    plan = _current_plan(graph)
    _check_rows(net, graph, plan)
    if len(plan) > UNROLL_MAX_LAYERS:
        return run_network_loop
    wanted = graph.outputs if outputs is None else tuple(outputs)
    key = (plan, len(graph.inputs), wanted, bool(training))
    runner = _RUNNERS.get(key)
    if runner is None:
        runner = _make_runner(*key)
        while len(_RUNNERS) >= _RUNNERS_KEEP:
            _RUNNERS.pop(next(iter(_RUNNERS)))
        _RUNNERS[key] = runner
    return runner


def _check_rows(net, graph, plan):
    """The Learnables and State tables' rows in the order of the network's layers, as the plan
    reads them by position (a table assigned with its rows in another order swapped the weights of
    layers of one shape silently): otherwise a ValueError naming the first row out of place."""
    for table, slot, what in ((net.Learnables, 1, "Learnables"), (net.State, 8, "State")):
        layer_col, param_col = table.Layer, table.Parameter
        k = 0
        for i, step in enumerate(plan):
            names = step[slot]
            if not names:
                continue
            lname = graph.layers[i].Name
            for n in names:
                if k >= len(layer_col) or layer_col[k] != lname or param_col[k] != n:
                    got = (f"({layer_col[k]!r}, {param_col[k]!r})" if k < len(layer_col) else "no row")
                    raise ValueError(f"net.{what}: row {k} is {got} where the network's layers need "
                                     f"({lname!r}, {n!r}): give the table its rows in the order of "
                                     f"net.{what} (net.{what}.with_values(values) keeps it)")
                k += 1
        if k != len(layer_col):
            raise ValueError(f"net.{what}: {len(layer_col)} rows where the network's layers have {k}")


def _runner_source(name, plan, n_inputs, wanted, training, given=None):
    """The source of ``_make_runner``'s function: ``run_network_loop``'s steps for this plan (``given``:
    the slot of an activation read from the argument ``given`` instead, run_network's ``given_value``)."""
    n_values = max([step[3] for step in plan], default=0)
    n_states = max([step[5] for step in plan], default=0)
    lines = [f"def {name}(net, inputs, training, outputs{'' if given is None else ', given'}):",
             "    layers = net._graph.layers"]
    if n_values:
        lines.append(f"    {''.join(f'v{k}, ' for k in range(n_values))}= net.Learnables.Value")
    if n_states:
        lines.append(f"    {''.join(f't{k}, ' for k in range(n_states))}= net.State.Value")
    acts = []
    for j in range(n_inputs):
        lines.append(f"    x{j} = inputs[{j}]")
        acts.append(f"x{j}")
    new_states = []
    for i, step in enumerate(plan):
        sources, names, a, b, c, d, nout, own_forward, snames, kind = step
        args = ", ".join(acts[j] for j in sources)
        method = "forward" if training and own_forward else "predict"
        if not names and not snames:
            lines.append(f"    layer{i} = bind_learnables(layers[{i}], (), (), (), ())")
        else:
            vals = "".join(f"v{k}, " for k in range(a, b))
            stats = "".join(f"t{k}, " for k in range(c, d))
            lines.append(f"    layer{i} = bind_learnables(layers[{i}], {names!r}, ({vals}), {snames!r}, ({stats}))")
        lines.append(f"    out{i} = layer{i}.{method}({args})")
        if kind == 2:
            count = nout
        else:
            count = nout + d - c
        lines.append(f"    check_layer_outputs(out{i}, layer{i}, {count}, {method!r})")
        if count == 1:
            acts.append(f"out{i}" if len(acts) != given else "given")
            continue
        for k in range(nout):
            lines.append(f"    y{i}_{k} = out{i}[{k}]")
            acts.append(f"y{i}_{k}" if len(acts) != given else "given")
        if kind != 2:
            for k in range(nout, count):
                lines.append(f"    s{i}_{k} = out{i}[{k}]")
                new_states.append(f"s{i}_{k}")
    # every output a new array (never the input, a view of it or a layer's learnable: a dropout layer's
    # predict returns its input, a flatten layer a view of it), so that writing into forward's or predict's
    # output changes nothing else, as in MATLAB (sct.points_to takes it as a new array)
    result = ", ".join(acts[j] if acts[j] == "given" else f"{acts[j]}.copy()" for j in wanted)
    lines.append(f"    return [{result}], [{', '.join(new_states)}]")
    return "\n".join(lines) + "\n"


def _make_runner(plan, n_inputs, wanted, training, given=None):
    import hashlib
    import linecache
    name = "run_network_unrolled"
    source = _runner_source(name, plan, n_inputs, wanted, training, given)
    digest = hashlib.sha1(source.encode()).hexdigest()[:10]
    # a name in the runtime's folder: errors in it are the runtime's, reported at the user's line
    filename = os.path.join(os.path.dirname(os.path.abspath(__file__)), f"<network runner {digest}>")
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    namespace = {"__name__": __name__, "bind_learnables": bind_learnables,
                 "check_layer_outputs": check_layer_outputs}
    exec(compile(source, filename, "exec"), namespace)
    return namespace[name]


def run_network_loop(net, inputs, training, outputs=None):
    """``run_network`` as one loop over the plan (for networks of any size).

    Plain Python of the layers' own code: sct compiles it (once per structure of network).  Kept as
    one function on purpose (82 lines): each layer call here is a call site of its own, whose
    adjoint mask the compiler narrows; moving them into a helper would make one site for all."""
    values = net.Learnables.Value
    states = net.State.Value
    graph = net._graph
    plan = graph.plan
    layers = graph.layers
    acts = []
    # ``fixed`` holds the activations that depend on the network's inputs alone (None for the others),
    # the layers fed by them alone read them from there, at call sites of their own: where no gradient
    # of the inputs is asked for, the compiled code knows those are constants and computes no adjoint
    # of them (the first layer's input adjoint, a whole matrix product)
    fixed = []
    for x in inputs:
        acts.append(x)
        fixed.append(x)
    new_states = []
    for i in range(len(layers)):
        step = plan[i]
        sources = step[0]
        a = step[2]
        b = step[3]
        c = step[4]
        d = step[5]
        nout = step[6]
        if step[9] == 2:              # no learnables, no state, fed by the inputs only
            plain = bind_learnables(layers[i], (), (), (), ())
            ys = []
            for j in sources:
                ys.append(fixed[j])
            if training and step[7]:
                y = plain.forward(*ys)
                check_layer_outputs(y, plain, nout, "forward")
            else:
                y = plain.predict(*ys)
                check_layer_outputs(y, plain, nout, "predict")
            if nout == 1:
                acts.append(y)
                fixed.append(y)
            else:
                for k in range(nout):
                    acts.append(y[k])
                    fixed.append(y[k])
            continue
        bound = bind_learnables(layers[i], step[1], values[a:b], step[8], states[c:d])
        if step[9] == 1 and len(sources) == 1:      # fed by one value that depends on the inputs only
            z = fixed[sources[0]]
            if training and step[7]:
                out = bound.forward(z)
            else:
                out = bound.predict(z)
        elif step[9] == 1:            # fed by the inputs only
            zs = []
            for j in sources:
                zs.append(fixed[j])
            if training and step[7]:
                out = bound.forward(*zs)
            else:
                out = bound.predict(*zs)
        else:
            xs = []
            for j in sources:
                xs.append(acts[j])
            if training and step[7]:
                out = bound.forward(*xs)
            else:
                out = bound.predict(*xs)
        if training and step[7]:
            check_layer_outputs(out, bound, nout + d - c, "forward")
        else:
            check_layer_outputs(out, bound, nout + d - c, "predict")
        if nout + d - c == 1:
            acts.append(out)
            fixed.append(None)
        else:
            for k in range(nout):
                acts.append(out[k])
                fixed.append(None)
            for k in range(nout, nout + d - c):
                new_states.append(out[k])
    wanted = graph.outputs if outputs is None else outputs
    result = []
    for j in wanted:
        result.append(acts[j].copy())         # a new array, as _runner_source's
    return result, new_states


# --- data formats -----------------------------------------------------------------------------------
# A formatted input is arranged by its labels into the layout the network's input layer expects (sct's
# batch-first layout); the outputs are labelled by following the formats through the layers.  The same
# rules run outside dlfeval and when dlfeval's function is compiled (``sct.formats``), which finds the
# structure from the kind of the network argument: ``_Graph.__sct_kind__`` is a number naming it.

_FORMAT_KEYS: dict = {}            # structure -> number
_FORMAT_STRUCTURES: list = []      # number -> structure


def _is_custom(layer) -> bool:
    """Is ``layer`` a custom layer (an ``sct.Layer`` subclass of the user's)?"""
    return isinstance(layer, Layer) and module_top(type(layer)) not in ("runtime", "sct")


def _format_rule(layer):
    """How a layer maps the format of its (first) input to that of its outputs."""
    from . import layer_types as lt
    cls = type(layer)
    if cls is lt.FeatureInputLayer:
        return ("input", "BC")
    if cls is lt.ImageInputLayer:
        return ("input", "B" + "S" * (len(layer.InputSize) - 1) + "C")
    if cls is lt.SequenceInputLayer:
        return ("input", "BT" + "S" * (len(layer.InputSize) - 1) + "C")
    if cls in (lt.ReLULayer, lt.LeakyReLULayer, lt.TanhLayer, lt.SigmoidLayer, lt.GELULayer, lt.SoftmaxLayer,
               lt.DropoutLayer, lt.BatchNormalizationLayer, lt.LayerNormalizationLayer, lt.Convolution2DLayer,
               lt.TransposedConvolution2DLayer, lt.MaxPooling2DLayer, lt.AveragePooling2DLayer,
               lt.MaxUnpooling2DLayer, lt.AdditionLayer, lt.ConcatenationLayer):
        return ("keep",)
    if cls is lt.FullyConnectedLayer:
        return ("fc",)                  # image data flattened: "BC"; "BC" and "BTC" kept
    if cls is lt.FlattenLayer:
        return ("flatten",)
    if cls in (lt.LSTMLayer, lt.GRULayer):
        return ("last",) if layer.OutputMode == "last" else ("sequence",)
    if _is_custom(layer) and getattr(layer, "NumOutputs", 1) == 1 and getattr(layer, "_sct_rank_kept", False):
        # a custom layer of one output: MATLAB passes a layer that is not Formattable its input unformatted
        # and gives its output the input's format (a layer changing the layout must be Formattable, as
        # the projectAndReshape layer of MATLAB's GAN example is); was unformatted, so the PReLU layer of
        # MATLAB's custom-layer pages left forward(net, X) of "SSCB" data unformatted and crossentropy(Y,
        # T) of "CB" targets refused.  Only where its output had its input's rank when the network was
        # initialized (a layer reshaping "CB" data into images, as projectAndReshape, stays unformatted, as
        # before); the rank is checked again when the network runs (formats_fit)
        return ("custom",)
    return ("unknown",)                 # embeddings, custom layers of several outputs: unformatted


def _format_key(net, plan, inputs, outputs):
    layers = tuple((_format_rule(layer), step[0], step[6], layer.Name) for layer, step in zip(net._layers, plan))
    structure = (len(inputs), layers, tuple(outputs))
    key = _FORMAT_KEYS.get(structure)
    if key is None:
        key = _FORMAT_KEYS[structure] = len(_FORMAT_STRUCTURES)
        _FORMAT_STRUCTURES.append(structure)
    return key


def _apply_rule(rule, fmts, nout):
    f = fmts[0] if fmts else None
    if rule[0] == "input":
        out = rule[1]
    elif f is None or rule[0] == "unknown":
        out = None
    elif rule[0] in ("keep", "custom"):
        out = f if all(g == f for g in fmts) else None
    elif rule[0] == "fc":
        out = ("BTC" if f.startswith("BT") else "BC") if len(f) > 3 else f
    elif rule[0] == "flatten":
        out = "BTC" if f.startswith("BT") else "BC"
    elif rule[0] == "last":
        out = "BC" if f.startswith("BT") else None
    elif rule[0] == "sequence":         # a sequence of images flattened at each time step
        out = "BTC" if f.startswith("BT") else f
    else:
        out = None
    return [out] + [None] * (nout - 1)


def format_structure(key, fmts, fname="forward", Outputs=None):
    """For a network of structure ``key`` (``_Graph.format_key``) and inputs labelled ``fmts`` ("" for an
    unformatted input): the permutation arranging each input into the layout its input layer expects
    (None: none needed), and the format of each output in sct's order (None: unformatted).
    For ``[imageInputLayer((8, 8, 1)), convolution2dLayer(3, 4), fullyConnectedLayer(3)]`` and "SSCB":
    ``([(3, 0, 1, 2)], ("BC",))``.  ``Outputs``: MATLAB's layer names of the outputs wanted instead.
    """
    from .formats import align_perm, canonical_layout
    n_inputs, layers, outputs = _FORMAT_STRUCTURES[key]
    if len(fmts) != n_inputs:
        raise ValueError(f"{fname}: the network has {n_inputs} inputs, got {len(fmts)}")
    if not all(fmts):
        raise ValueError(f"{fname}: some inputs are formatted dlarrays and some are not; give every input a "
                         "format (dlarray(X, \"SSCB\")), or none (sct's batch-first layout)")
    layouts = [None] * n_inputs
    for rule, sources, _, _ in layers:              # the layout the input layer fed by input j expects
        for j in sources:
            if j < n_inputs and rule[0] == "input":
                layouts[j] = rule[1]
    perms = []
    for j, f in enumerate(fmts):
        layout = layouts[j] or canonical_layout(f)
        try:
            perms.append(align_perm(f, layout, fname))
        except ValueError:
            raise ValueError(f"{fname}: input {j + 1} is labelled {f!r}, but the network's input layer takes "
                             f"data with the labels {layout!r} (in sct's layout {layout!r}); label the data "
                             "with those labels in any order") from None
        layouts[j] = layout
    slots = list(layouts)
    for rule, sources, nout, _ in layers:
        slots.extend(_apply_rule(rule, [slots[j] for j in sources], nout))
    if Outputs is not None:
        outputs = _slots_by_name([layer[3] for layer in layers], [layer[2] for layer in layers], n_inputs,
                                 Outputs, fname)
    return perms, tuple(slots[j] for j in outputs)


def format_checked(key) -> bool:
    """Do the output formats of a network of structure ``key`` rest on a custom layer's output having its
    input's rank (``formats_fit`` checks it when the network runs)?"""
    return any(rule[0] == "custom" for rule, _, _, _ in _FORMAT_STRUCTURES[key][1])


def _formatted(inputs) -> bool:
    """Is any input a formatted dlarray (outside dlfeval)?"""
    for x in inputs:
        if isinstance(x, dlarray) and x._fmt:
            return True
    return False


def _run_formatted(net, inputs, training, fname, Outputs=None, given_output=None, given_value=None):
    """``run_network`` on formatted inputs (outside dlfeval): each arranged by its labels, the outputs
    labelled; compiled code does the same by rewriting the call (``sct.formats``).  (``given_value``: an
    output of the same call, in the layout the outputs have.)"""
    from .formats import relabel
    perms, fmts = format_structure(net._graph.format_key, [x._fmt if isinstance(x, dlarray) else ""
                                                            for x in inputs], fname, Outputs)
    arranged = [dlarray(x._data if p is None else np.transpose(x._data, p)) for x, p in zip(inputs, perms)]
    if given_output is not None and isinstance(given_value, dlarray):
        given_value = dlarray(given_value._data)
    outputs, states = run_network(net, arranged, training, output_slots(net, Outputs, fname), given_output,
                                  given_value)
    if format_checked(net._graph.format_key):
        from .formats import formats_fit
        formats_fit(tuple(outputs), tuple(fmts), fname)
    return [relabel(y, f) if f else y for y, f in zip(outputs, fmts)], states


def _check_ready(net, inputs, fname):
    if not isinstance(net, dlnetwork):
        raise TypeError(f"{fname}: the first argument must be a dlnetwork, got {type(net).__name__}")
    if not net.Initialized:
        raise ValueError(f"{fname}: the network is not initialized; call net = initialize(net, X) "
                         "with example inputs (or start it with an input layer)")
    if len(inputs) != len(net._inputs):
        raise ValueError(f"{fname}: the network has {len(net._inputs)} inputs "
                         f"({', '.join(net.InputNames)}), got {len(inputs)}")


def _inputs(X1, X2, X3, X4):
    inputs = [X1]
    if X2 is not None:
        inputs.append(X2)
    if X3 is not None:
        inputs.append(X3)
    if X4 is not None:
        inputs.append(X4)
    return inputs


def forward(net: dlnetwork, X1: ArrayLike, X2: Optional[ArrayLike] = None, X3: Optional[ArrayLike] = None,
            X4: Optional[ArrayLike] = None, Outputs: Any = None, nargout: int = 2, _given_output: Any = None,
            _given_value: Any = None) -> Any:
    """Training-time outputs and updated state (MATLAB's ``[Y, state] = forward(net, X)``).

    Layers run their ``forward`` (dropout active, batch statistics).  Returns ``(Y, state)``:
    ``Y`` the output (a tuple of outputs for several), ``state`` a table like ``net.State``
    (assign it: ``net.State = state``).  A network with several inputs takes them in the
    order of ``net.InputNames`` (up to four).  Formatted inputs (``dlarray(X, "SSCB")``, any order of
    the input layer's labels) are arranged into the input layer's layout, and the outputs carry their
    format in sct's order ("BC" for a classifier); unformatted inputs are in sct's layout.
    MATLAB's ``[Y1, Y2, state] = forward(net, X, Outputs=["fc1", "softmax"])`` is
    ``(Y1, Y2), state = forward(net, X, Outputs=["fc1", "softmax"])``: the outputs of those layers
    ("layer/port" for one of several outputs), in that order.  MATLAB's ``Y = forward(net, X)`` (the
    state not asked for) is ``Y = forward(net, X, nargout=1)`` (or ``Y, _ = forward(net, X)``).
    (``_given_output``, ``_given_value``: what sct writes for a gradient with respect to one of several
    ``Outputs`` (Grad-CAM): that output taken as the value given, see ``run_network``.)

    >>> net = dlnetwork([featureInputLayer(2), batchNormalizationLayer()], Seed=0)
    >>> Y, state = forward(net, np.array([[1.0, 2.0], [3.0, 6.0]]))
    >>> np.round(extractdata(Y), 4), state.Parameter
    (array([[-1., -1.],
           [ 1.,  1.]]), ('TrainedMean', 'TrainedVariance'))
    """
    if nargout not in (1, 2):
        raise ValueError(f"forward: nargout must be 1 (Y) or 2 (Y, state), got {nargout!r}")
    inputs = _inputs(X1, X2, X3, X4)
    _check_ready(net, inputs, "forward")
    if _formatted(inputs):
        outputs, states = _run_formatted(net, inputs, True, "forward", Outputs, _given_output, _given_value)
    else:
        outputs, states = run_network(net, inputs, True, output_slots(net, Outputs, "forward"), _given_output,
                                      _given_value)
    if nargout == 1:
        return _outputs_value(outputs)
    return _outputs_value(outputs), Table(net.State.Layer, net.State.Parameter, states)


def predict(net: dlnetwork, X1: ArrayLike, X2: Optional[ArrayLike] = None, X3: Optional[ArrayLike] = None,
            X4: Optional[ArrayLike] = None, nargout: int = 1, Outputs: Any = None, _given_output: Any = None,
            _given_value: Any = None) -> Any:
    """Inference-time output (MATLAB's ``Y = predict(net, X)``): layers run their ``predict``
    (no dropout, trained statistics).  ``Y`` is a tuple for several outputs.  Formatted inputs are
    arranged by their labels and the outputs labelled, as for ``forward``.
    MATLAB's ``[Y, state] = predict(net, X)`` is ``Y, state = predict(net, X, nargout=2)``: also the
    updated state (the recurrent layers' states after the sequence), a table like ``net.State``.
    ``Outputs=["fc1", "softmax"]`` (MATLAB's) returns those layers' outputs instead: ``Y1, Y2 = predict(...)``.

    >>> fc = fullyConnectedLayer(1, Weights=np.array([[1.0, 2.0]]), Bias=np.array([0.5]))
    >>> net = dlnetwork([featureInputLayer(2), fc])
    >>> predict(net, np.array([[1.0, 1.0]]))
    array([[3.5]])
    """
    inputs = _inputs(X1, X2, X3, X4)
    _check_ready(net, inputs, "predict")
    if _formatted(inputs):
        outputs, states = _run_formatted(net, inputs, False, "predict", Outputs, _given_output, _given_value)
    else:
        outputs, states = run_network(net, inputs, False, output_slots(net, Outputs, "predict"), _given_output,
                                      _given_value)
    if nargout == 2:
        return _outputs_value(outputs), Table(net.State.Layer, net.State.Parameter, states)
    if nargout != 1:
        raise ValueError(f"predict: nargout must be 1 or 2, got {nargout!r}")
    return _outputs_value(outputs)


def _outputs_value(outputs):
    if len(outputs) == 1:
        return outputs[0]
    return tuple(outputs)


def resetState(net: dlnetwork) -> dlnetwork:
    """A copy of ``net`` with its state reset to the layers' initial values (batch-norm statistics
    0 and 1, recurrent layers' hidden and cell states their initial values).

    >>> net = dlnetwork([featureInputLayer(2), batchNormalizationLayer(Name="bn")], Seed=0)
    >>> _, net.State = forward(net, np.array([[1.0, 2.0], [3.0, 6.0]]))
    >>> net = resetState(net)
    >>> net.State["bn", "TrainedMean"], net.State["bn", "TrainedVariance"]
    (1x2 dlarray  0  0, 1x2 dlarray  1  1)
    """
    out = _copy(net)
    values = []
    for name, param, v in net.State:
        initial = getattr(net._layers[net._find(name)], "InitialState", None) or {}
        if param in initial:                         # a recurrent layer's initial hidden / cell state
            values.append(dlarray(np.array(initial[param])))
        elif param == "TrainedVariance":
            values.append(dlarray(np.ones(np.shape(v))))
        else:
            values.append(dlarray(np.zeros(np.shape(v))))
    out.State = net.State.with_values(values)
    return out


from .registry import nondifferentiable  # noqa: E402
nondifferentiable(check_layer_outputs, _check_ready, _formatted, format_structure, output_slots, _slots_by_name, port_index,
                  network_runner, given_runner, _check_rows)
