"""Deterministic fresh names derived from the user's own names."""
from __future__ import annotations

import keyword
import re
from typing import Dict, Iterable, Set

import gast

from .ir import walk_nodes


def names_in(node) -> Set[str]:
    """Every identifier used in ``node`` (gast spells parameters as Names too)."""
    return {n.id for n in walk_nodes(node) if isinstance(n, gast.Name)}


class Namer:
    """Hands out names not yet used in a function: ``y``, ``y_1``, ``d_y``..."""

    def __init__(self, taken: Iterable[str] = ()):
        self.taken: Set[str] = set(taken)
        self.bases: Dict[str, str] = {}      # y_1 -> y: the name each numbered one was made from
        self.made: Set[str] = set()          # the names fresh() handed out for the code's own values (not fresh_global)

    def shown(self, name: str) -> str:
        """The user's name behind a numbered version (``i`` for the ``i_1`` of a comprehension
        variable), for messages."""
        while name in self.bases:
            name = self.bases[name]
        return name

    def reserve(self, name: str) -> str:
        self.taken.add(name)
        return name

    def fresh_global(self, base: str) -> str:
        """A fresh name for a global of the generated code (the runtime module, a generator's items function, a
        local class's factory): not among ``made``, the names the normalizer takes for the function's own."""
        name = self.fresh(base)
        self.made.discard(name)
        return name

    def fresh(self, base: str) -> str:
        base = re.sub(r"\W", "_", base) or "t"
        if base[0].isdigit():
            base = "t" + base
        if keyword.iskeyword(base):
            base += "_"
        if base not in self.taken:
            self.made.add(base)
            return self.reserve(base)
        k = 1
        stem = re.sub(r"_\d+$", "", base)
        while f"{stem}_{k}" in self.taken:
            k += 1
        self.bases[f"{stem}_{k}"] = base
        self.made.add(f"{stem}_{k}")
        return self.reserve(f"{stem}_{k}")
