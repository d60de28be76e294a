"""``itertools``' finite iterators as Python loops sct reads and differentiates.

``itertools`` is C code: a call given traced items (``itertools.pairwise(x)``,
``itertools.combinations(x, 2)``) had no derivative rule.  Each is registered here with a Python
equivalent (``registry.equivalent``, as ``functools.reduce``) that returns the list of the items
Python's iterator yields, in its order: the same values, each a traced item of its input, so that
derivatives go back to the inputs' items.  A list is what the iterator gives where it is walked at
once (a for loop, a comprehension, ``list``/``sum``/``dict``); a name bound to one
(``pairs = itertools.pairwise(x)``) is the generator expression over the call
(sct/normalize_iterators.py), walked once, as Python's iterator.

The infinite ones (``count``, ``cycle``, ``repeat`` without ``times``), those whose items are
iterators themselves (``groupby``, ``tee``) and ``chain.from_iterable`` (a method bound anew at each
read) are not registered: they stay refused.
"""
from __future__ import annotations

import itertools

from .registry import equivalent


def pairwise_items(iterable):
    """``itertools.pairwise``: each item with the next."""
    items = list(iterable)
    return [(items[i], items[i + 1]) for i in range(len(items) - 1)]


def combinations_items(iterable, r):
    """``itertools.combinations``: the items at each index tuple of ``range(n)``'s combinations."""
    items = list(iterable)
    return [tuple([items[i] for i in chosen]) for chosen in itertools.combinations(range(len(items)), r)]


def combinations_with_replacement_items(iterable, r):
    items = list(iterable)
    return [tuple([items[i] for i in chosen])
            for chosen in itertools.combinations_with_replacement(range(len(items)), r)]


def permutations_items(iterable, r=None):
    items = list(iterable)
    return [tuple([items[i] for i in chosen]) for chosen in itertools.permutations(range(len(items)), r)]


def product_items(*iterables, repeat=1):
    """``itertools.product``: the items at each index tuple of the index ranges' product."""
    pools = [list(it) for it in iterables] * repeat
    ranges = [range(len(pool)) for pool in pools]
    return [tuple([pools[k][i] for k, i in enumerate(chosen)]) for chosen in itertools.product(*ranges)]


def chain_items(*iterables):
    """``itertools.chain``: the items of each iterable in turn."""
    out = []
    for it in iterables:
        out = out + list(it)
    return out


def islice_items(iterable, *bounds):
    """``itertools.islice(iterable, stop)`` / ``(iterable, start, stop[, step])``: Python's
    ValueError for what islice refuses (negative or zero values), else the items of that slice."""
    if len(bounds) == 1:
        start, stop, step = None, bounds[0], None
    elif 2 <= len(bounds) <= 3:
        start, stop = bounds[0], bounds[1]
        step = bounds[2] if len(bounds) == 3 else None
    else:
        raise TypeError(f"islice expected at most 4 arguments, got {len(bounds) + 1}")
    if stop is not None and (not isinstance(stop, int) or stop < 0):
        raise ValueError("Stop argument for islice() must be None or an integer: 0 <= x <= sys.maxsize.")
    if start is not None and (not isinstance(start, int) or start < 0) or \
            step is not None and (not isinstance(step, int) or step < 0):
        raise ValueError("Indices for islice() must be None or an integer: 0 <= x <= sys.maxsize.")
    if step == 0:
        raise ValueError("Step for islice() must be a positive integer or None.")
    items = list(iterable)
    return items[start:stop:step]


def accumulate_items(iterable, func=None, *, initial=None):
    """``itertools.accumulate``: the running totals (``func(total, item)``, ``+`` by default),
    ``initial`` first where given."""
    items = list(iterable)
    out = []
    if initial is not None:
        total = initial
        out = out + [total]
    for i in range(len(items)):
        if i == 0 and initial is None:
            total = items[0]
        elif func is None:
            total = total + items[i]
        else:
            total = func(total, items[i])
        out = out + [total]
    return out


def starmap_items(function, iterable):
    """``itertools.starmap``: ``function(*args)`` of each item."""
    return [function(*args) for args in iterable]


def zip_longest_items(*iterables, fillvalue=None):
    """``itertools.zip_longest``: tuples of the items at each position, ``fillvalue`` past an
    iterable's end."""
    lists = [list(it) for it in iterables]
    count = max([len(items) for items in lists], default=0)
    return [tuple([items[i] if i < len(items) else fillvalue for items in lists]) for i in range(count)]


def compress_items(data, selectors):
    """``itertools.compress``: the items whose selector is true."""
    return [d for d, s in zip(data, selectors) if s]


def takewhile_items(predicate, iterable):
    out = []
    for item in iterable:
        if not predicate(item):
            break
        out = out + [item]
    return out


def dropwhile_items(predicate, iterable):
    out = []
    dropping = True
    for item in iterable:
        if dropping and predicate(item):
            continue
        dropping = False
        out = out + [item]
    return out


def filterfalse_items(predicate, iterable):
    if predicate is None:
        return [item for item in iterable if not item]
    return [item for item in iterable if not predicate(item)]


for _op, _items in [(itertools.pairwise, pairwise_items), (itertools.combinations, combinations_items),
                    (itertools.combinations_with_replacement, combinations_with_replacement_items),
                    (itertools.permutations, permutations_items), (itertools.product, product_items),
                    (itertools.chain, chain_items),
                    (itertools.islice, islice_items), (itertools.accumulate, accumulate_items),
                    (itertools.starmap, starmap_items), (itertools.zip_longest, zip_longest_items),
                    (itertools.compress, compress_items), (itertools.takewhile, takewhile_items),
                    (itertools.dropwhile, dropwhile_items), (itertools.filterfalse, filterfalse_items)]:
    equivalent(_op, _items)

#: the itertools functions above (sct/normalize_iterators.py: a name bound to one is walked once)
ITERTOOLS_ITERATORS = (itertools.pairwise, itertools.combinations, itertools.combinations_with_replacement,
                       itertools.permutations, itertools.product, itertools.chain, itertools.islice,
                       itertools.accumulate, itertools.starmap, itertools.zip_longest, itertools.compress,
                       itertools.takewhile, itertools.dropwhile, itertools.filterfalse)
ITERTOOLS_NAMES = frozenset(f.__name__ for f in ITERTOOLS_ITERATORS)
