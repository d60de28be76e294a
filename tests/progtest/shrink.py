"""Shrink a failing program to a minimal one that fails the same way."""
from __future__ import annotations

import dataclasses
from typing import Callable, List

from .checker import Result, run_program
from .generator import Program, make_target
import random


def _same(a: Result, b: Result) -> bool:
    if a.status != b.status or a.kind != b.kind:
        return False
    if a.status == "REFUSED":
        return a.reason == b.reason
    return True


def candidates(p: Program) -> List[Program]:
    out = []
    rep = dataclasses.replace
    if p.driver != "driver_first":
        blocks = p.blocks + p.tail
        out.append(rep(p, driver="driver_first", blocks=blocks, tail=[], second_target=None, state="h",
                       loss=p.loss))
        if p.driver == "driver_reassigned" and p.state == "x":
            out.append(rep(p, state="v"))
    if p.target.feature != "target_arg" and p.driver != "driver_reassigned":
        out.append(rep(p, target=make_target("target_arg", random.Random(0))))
    if p.second_target is not None and p.second_target.feature != "target_arg":
        out.append(rep(p, second_target=make_target("target_arg", random.Random(0))))
    for i in range(len(p.blocks)):
        out.append(rep(p, blocks=p.blocks[:i] + p.blocks[i + 1:]))
    for i in range(len(p.tail)):
        out.append(rep(p, tail=p.tail[:i] + p.tail[i + 1:]))
    simple = "np.sum({h} ** 2)"
    if p.loss != simple:
        base = p.loss.split(" + 0.3 * np.sum(np.sin(")[0]
        if base != p.loss:
            out.append(rep(p, loss=base))
        out.append(rep(p, loss=simple))
    return out


def shrink(program: Program, result: Result, folder: str, budget: int = 200,
           run: Callable = run_program) -> tuple:
    """The smallest program found (greedy, to a fixpoint) that fails like ``result``, and its result."""
    best, best_res = program, result
    tries = 0
    changed = True
    while changed and tries < budget:
        changed = False
        for cand in candidates(best):
            tries += 1
            r = run(cand, folder, f"progtest_shrink_{program.seed}_{tries}", 30.0)
            if _same(r, result):
                best, best_res = cand, r
                changed = True
                break
            if tries >= budget:
                break
    return best, best_res
