"""A small table of parameters: MATLAB's ``net.Learnables`` / ``net.State`` with columns
``Layer``, ``Parameter`` and ``Value``.

The table is a dataclass whose ``Value`` column is a list of arrays, so sct's
compiler treats it like any structure: passed into ``dlfeval`` (alone or inside
a ``dlnetwork``), its values are traced, ``dlgradient(loss, net.Learnables)``
returns a table of the same rows holding the gradients, and the optimizers
(``adamupdate``, ``sgdmupdate``, ...) walk its values.

>>> t = Table(("fc", "fc"), ("Weights", "Bias"), [np.ones((2, 3)), np.zeros(2)])
>>> len(t), t.Parameter[1], t[0].Layer, t.Value[1].shape
(2, 'Bias', 'fc', (2,))
"""
from __future__ import annotations

import dataclasses
import html
import numbers
from typing import Any, List, NamedTuple, Tuple

from .imported import np

__all__ = ["Table", "Row"]


class Row(NamedTuple):
    """One row of a :class:`Table`."""
    Layer: str
    Parameter: str
    Value: Any


@dataclasses.dataclass(eq=False)
class Table:
    """Rows of (Layer, Parameter, Value): ``t.Value`` is the list of values, ``t[i]`` a row,
    ``t["fc1", "Weights"]`` (or ``t.value("fc1", "Weights")``) the value of one parameter,
    ``len(t)`` the number of rows; iterating gives the rows.

    >>> net = dlnetwork([featureInputLayer(3), fullyConnectedLayer(2, Name="fc")], Seed=0)
    >>> t = net.Learnables
    >>> len(t), t.Layer, t["fc", "Bias"].shape
    (2, ('fc', 'fc'), (2,))
    """

    Layer: Tuple[str, ...]
    Parameter: Tuple[str, ...]
    Value: List[Any]

    __sct_table__ = True            # (runtime/support.py: a gradient with respect to t[...] is its rows')

    # --- rows --------------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.Value)

    def __iter__(self):
        for i in range(len(self.Value)):
            yield Row(self.Layer[i], self.Parameter[i], self.Value[i])

    def __getitem__(self, key):
        """``t[i]``: row i; ``t[i:j]`` or ``t[[i, j]]``: a table of those rows;
        ``t["fc1", "Weights"]``: that value; ``t["fc1"]``: the rows of layer fc1."""
        if isinstance(key, (bool, np.bool_)):
            raise TypeError("a Table is indexed by a row number, not True/False: t.Layer == \"fc1\" compares "
                            "the whole tuple of layer names (a single bool in Python); select the rows of a "
                            "layer with t[\"fc1\"], or by a mask with t[np.array(t.Layer) == \"fc1\"]")
        if isinstance(key, numbers.Integral):
            i = int(key)
            return Row(self.Layer[i], self.Parameter[i], self.Value[i])
        if isinstance(key, slice):
            return self.rows(range(len(self))[key])
        if isinstance(key, str):
            return self.rows([i for i, name in enumerate(self.Layer) if name == key])
        if isinstance(key, tuple) and len(key) == 2 and all(isinstance(k, str) for k in key):
            return self.Value[self.index(*key)]
        if isinstance(key, (list, np.ndarray)):
            idx = np.asarray(key)
            if idx.dtype == bool:
                idx = np.flatnonzero(idx)
            return self.rows([int(i) for i in idx])
        raise TypeError(f"a Table is indexed by a row number, a slice, a list of rows, a layer name "
                        f"or (layer, parameter), not {key!r}")

    def __setitem__(self, key, value) -> None:
        """MATLAB's assignment of rows: ``t[idx] = rows`` (``gradients(idx,:) = dlupdate(...,
        gradients(idx,:), ...)``, the L2-regularization pattern) for a mask, a list of rows, a slice, a
        layer name or a row number, from a Table of as many rows (or a Row); ``t["fc1", "Weights"] = v``
        sets that value (was: a TypeError from numpy)."""
        if isinstance(key, tuple) and len(key) == 2 and all(isinstance(k, str) for k in key):
            self.Value[self.index(*key)] = value
            return
        if isinstance(key, (bool, np.bool_)):
            self[True]          # (the same TypeError as reading)
        if isinstance(key, numbers.Integral):
            indices = [range(len(self))[int(key)]]
            value = Table((value.Layer,), (value.Parameter,), [value.Value]) if isinstance(value, Row) else value
        else:
            indices = [i for i, name in enumerate(self.Layer) if name == key] if isinstance(key, str) else \
                list(range(len(self))[key]) if isinstance(key, slice) else \
                [int(i) for i in (np.flatnonzero(np.asarray(key)) if np.asarray(key).dtype == bool
                                  else np.asarray(key).reshape(-1))]
            if isinstance(key, (list, np.ndarray)) and np.asarray(key).dtype == bool and \
                    np.asarray(key).size != len(self):
                raise IndexError(f"a mask of {np.asarray(key).size} entries for a table of {len(self)} rows")
            indices = [range(len(self))[i] for i in indices]
        if not isinstance(value, Table):
            raise TypeError("t[rows] = value takes a Table of the rows (as t[rows] gives, or dlupdate returns "
                            "for one); set one value with t.Value[i] = v or t[\"layer\", \"parameter\"] = v")
        if len(value) != len(indices):
            raise ValueError(f"t[rows] = value: {len(indices)} rows selected, the value has {len(value)}")
        layers, parameters = list(self.Layer), list(self.Parameter)
        for i, row in zip(indices, value):
            layers[i], parameters[i], self.Value[i] = row.Layer, row.Parameter, row.Value
        self.Layer, self.Parameter = tuple(layers), tuple(parameters)

    def rows(self, indices: Any) -> "Table":
        """The table of the rows ``indices`` (in that order)."""
        indices = list(indices)
        return Table(tuple(self.Layer[i] for i in indices), tuple(self.Parameter[i] for i in indices),
                     [self.Value[i] for i in indices])

    def index(self, layer: str, parameter: str) -> int:
        """The row of (layer, parameter)."""
        for i, (name, param) in enumerate(zip(self.Layer, self.Parameter)):
            if name == layer and param == parameter:
                return i
        raise KeyError(f"no parameter {parameter!r} of layer {layer!r} in the table")

    def value(self, layer: str, parameter: str) -> Any:
        """The value of (layer, parameter)."""
        return self.Value[self.index(layer, parameter)]

    def with_values(self, values: Any) -> "Table":
        """The same rows with new values."""
        values = list(values)
        if len(values) != len(self.Value):
            raise ValueError(f"a table of {len(self.Value)} rows needs {len(self.Value)} values, "
                             f"got {len(values)}")
        return Table(self.Layer, self.Parameter, values)

    @property
    def height(self) -> int:
        """The number of rows (MATLAB's ``height(t)``)."""
        return len(self.Value)

    @property
    def VariableNames(self) -> Tuple[str, str, str]:
        return ("Layer", "Parameter", "Value")

    def to_pandas(self) -> Any:
        """The table as a ``pandas.DataFrame`` (pandas must be installed)."""
        import pandas as pd
        return pd.DataFrame({"Layer": list(self.Layer), "Parameter": list(self.Parameter),
                             "Value": list(self.Value)})

    # --- display --------------------------------------------------------------------------------
    def _value_texts(self):
        return [_describe(v) for v in self.Value]

    def __repr__(self) -> str:
        values = self._value_texts()
        rows = [("", "Layer", "Parameter", "Value")] + \
            [(str(i), self.Layer[i], self.Parameter[i], values[i]) for i in range(len(values))]
        widths = [max(len(r[c]) for r in rows) for c in range(4)]
        lines = [f"  {len(values)}x3 Table"]
        for k, r in enumerate(rows):
            lines.append("    " + "  ".join(r[c].ljust(widths[c]) for c in range(4)).rstrip())
            if k == 0:
                lines.append("    " + "  ".join("_" * widths[c] if c else " " * widths[c]
                                                 for c in range(4)).rstrip())
        return "\n".join(lines)

    __str__ = __repr__

    def _repr_html_(self) -> str:
        values = self._value_texts()
        cell = '<td style="text-align:left;padding:0 0.8em">{}</td>'
        head = "".join(f'<th style="text-align:left;padding:0 0.8em">{h}</th>'
                       for h in ("", "Layer", "Parameter", "Value"))
        body = "".join("<tr>" + "".join(cell.format(html.escape(str(c)))
                                        for c in (i, self.Layer[i], self.Parameter[i], values[i])) + "</tr>"
                       for i in range(len(values)))
        return (f"<div><b>{len(values)}&times;3 Table</b><table style=\"border-collapse:collapse\">"
                f"<tr>{head}</tr>{body}</table></div>")


def _describe(v) -> str:
    """MATLAB's cell text of a value: ``{16x64 dlarray}``."""
    from .dlarray import dlarray
    if v is None:
        return "[]"
    shape = np.shape(v)
    size = "x".join(str(n) for n in shape) if len(shape) >= 2 else \
        (f"1x{shape[0]}" if len(shape) == 1 else "1x1")
    kind = "dlarray" if isinstance(v, dlarray) else type(v).__name__
    return "{" + f"{size} {kind}" + "}"


from .dlarray import _TABLE_CLASS  # noqa: E402  (wrap_outputs takes a table directly)
_TABLE_CLASS[0] = Table
