"""Red-team of the features of dec12 (properties' getters, nested functions read in place where the
function meets data formats, the walrus operator in comprehensions): the wrong results found, each
checked against plain Python and central differences."""
from __future__ import annotations

import numpy as np

from gradcheck import check_two_inputs

RNG = np.random.default_rng(1212)
X0 = RNG.standard_normal(4)
T0 = RNG.standard_normal(4)


# --- ``m * (m := v)``: Python reads m before the := rebinds it --------------------------------------
# (sct read every bare name of the statement after the whole statement's := had run: the value was
# x[1] * x[1] for m * (m := x[1]), and the gradient that of the wrong function)

def read_before_walrus(x, t):
    m = t[0]
    return m * (m := x[1])


def read_before_walrus_in_a_comprehension(x, t):
    m = t[0]
    total = m * sum([(m := x[i]) for i in range(3)])
    return total + m


def two_walruses_of_one_name(x, t):
    return (m := x[0]) * (m := x[1] * t[0]) + m


def read_between_walruses(x, t):
    m = t[0]
    return m * (m := x[0]) * m + (m := t[1] * x[2]) * m


def dict_display_read_before_walrus(x, t):
    m = t[0]
    d = {"a": m, "b": [(m := x[i] * t[i]) for i in range(3)]}
    return d["a"] * m + d["b"][1]


def dict_comprehension_read_before_walrus(x, t):
    m = t[0]
    return m * {i: (m := x[i] * m) for i in range(3)}[1] + m


def element_reads_before_its_walrus(x, t):
    m = t[0]
    ys = [m * (m := x[i] * t[i]) for i in range(4)]
    return ys[0] + ys[3] * m


def walrus_in_a_loop_read_first(x, t):
    m = t[3]
    total = 0.0
    for k in range(3):
        total = total + m * (m := x[k] + m)
    return total * m


def test_read_before_walrus():
    check_two_inputs(read_before_walrus, X0.copy(), T0.copy())


def test_read_before_walrus_in_a_comprehension():
    check_two_inputs(read_before_walrus_in_a_comprehension, X0.copy(), T0.copy())


def test_two_walruses_of_one_name():
    check_two_inputs(two_walruses_of_one_name, X0.copy(), T0.copy())


def test_read_between_walruses():
    check_two_inputs(read_between_walruses, X0.copy(), T0.copy())


def test_dict_display_read_before_walrus():
    check_two_inputs(dict_display_read_before_walrus, X0.copy(), T0.copy())


def test_dict_comprehension_read_before_walrus():
    check_two_inputs(dict_comprehension_read_before_walrus, X0.copy(), T0.copy())


def test_element_reads_before_its_walrus():
    check_two_inputs(element_reads_before_its_walrus, X0.copy(), T0.copy())


def test_walrus_in_a_loop_read_first():
    check_two_inputs(walrus_in_a_loop_read_first, X0.copy(), T0.copy())
