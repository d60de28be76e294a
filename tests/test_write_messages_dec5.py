"""Refused in-place writes through nested reads name them as the user wrote them (``cfg.inner.w``,
``p['w'][0]``), not as the normalizer's temporaries (cfg_inner, p_t_1); a user's own name bound
to such a read keeps its name."""
from types import SimpleNamespace

import numpy as np
import pytest

from sct import CompileError, dlarray, dlfeval, dlgradient


def nested_namespace(x):
    cfg = SimpleNamespace(inner=SimpleNamespace(w=x * 2.0))
    cfg.inner.w = cfg.inner.w + 1.0
    y = np.sum(cfg.inner.w ** 2)
    return y, dlgradient(y, x)


def nested_items(x):
    p = {"w": [x * 1.0, x * 2.0]}
    q = p
    p["w"][0][1] = 5.0
    y = np.sum(q["w"][0] * x)
    return y, dlgradient(y, x)


def own_name(x):
    p = {"w": [x * 1.0, x * 2.0]}
    q = p
    first = p["w"][0]
    first[1] = 5.0
    y = np.sum(q["w"][0] * x)
    return y, dlgradient(y, x)


@pytest.mark.parametrize("fun, shown, hidden", [
    (nested_namespace, "setting cfg.inner.w changes the object in place", "cfg_inner"),
    (nested_items, "writing into p['w'][0][...] in place", "p_t"),
    (own_name, "writing into first[...] in place", "p_t"),
])
def test_refusals_spell_the_users_reads(fun, shown, hidden):
    with pytest.raises(CompileError) as info:
        dlfeval(fun, dlarray(np.array([1.0, 3.0])))
    message = str(info.value)
    assert shown in message and hidden not in message, message
    assert info.value.filename == __file__
