"""Red team, Dec 2 (c): what landed with the in-place temporaries, slice adjoints written directly,
type-only stand-ins, the generated entry call, batchnorm's training path and cse's sharing groups.

Programs live in tests/redteam_dec2c_progs.py (sct reads their source); values against plain
Python, gradients against central differences (tests/gradcheck.py)."""
from __future__ import annotations

import numpy as np
import pytest

import sct
from sct import dlarray, dlfeval, dlgradient, extractdata
from gradcheck import assert_close, check_grads, numerical_gradient, sct_gradients

import redteam_dec2c_progs as P


@pytest.fixture(autouse=True)
def fresh():
    sct.clear_cache()
    yield
    sct.clear_cache()


X = np.array([0.3, 0.7, -0.4, 1.2])


# --- cse: a container built by + / * / | holds the operands' arrays -------------------------------------------
@pytest.mark.parametrize("fun", [P.cse_list_repeat, P.cse_list_concat, P.cse_tuple_concat, P.cse_repeat_name,
                                 P.cse_dict_or, P.cse_list_readd, P.cse_list_add_names, P.cse_list_augadd,
                                 P.cse_list_extend, P.cse_star_list, P.cse_dict_merge, P.cse_dict_ior,
                                 P.cse_list_slice_store, P.cse_item_store])
def test_write_through_a_container_built_by_arithmetic(fun):
    """``w = [z] * 2; w[0][1] = 5.0`` changes z; ``z * 2.0`` after it was read from before it (cse's
    sharing groups took every BinOp for a new array: a list's repetition or concatenation and a
    dicts' union hold the same objects).  Wrong value and gradient before the fix."""
    value, (g,) = sct_gradients(fun, X)
    assert_close(value, fun(X.copy()), rtol=1e-12, atol=0)
    assert_close(g, numerical_gradient(fun, [X], 0), rtol=1e-6, atol=1e-8)
