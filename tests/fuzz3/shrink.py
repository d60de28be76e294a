"""Shrink a fuzz3 program while its outcome stays the same: drop statements (with their blocks) of every
function and helper, one at a time, until none can go.

    python -m fuzz3.shrink PROGRAM.py OUT.py      (from tests/)
"""
from __future__ import annotations

import os
import re
import sys
import tempfile

from .runner import check_file


def _key(res):
    status, kind, reason = res[:3]
    reason = re.sub(r"\d+(\.\d+)?(e-?\d+)?", "N", re.sub(r"`[^`]*`", "", reason))
    reason = re.sub(r"\S*fuzz3\w*\.py", "FILE", reason)
    return status, kind, reason[:60] if status != "WRONG" else reason.split(":")[0]


def _blocks(lines):
    """(start, end) of every statement inside a def (indent >= 4), children included."""
    out = []
    for i, l in enumerate(lines):
        ind = len(l) - len(l.lstrip())
        if ind < 4 or not l.strip() or l.strip().startswith(("def g", "return y", "#")):
            continue
        if l.strip().startswith(("else", "elif")):
            continue
        j = i + 1
        while j < len(lines) and (not lines[j].strip() or len(lines[j]) - len(lines[j].lstrip()) > ind):
            j += 1
        out.append((i, j))
    return out


def shrink(src: str, verbose=False) -> str:
    folder = tempfile.mkdtemp(prefix="fuzz3s_")
    path = os.path.join(folder, "fuzz3_shrink.py")

    def check(text):
        with open(path, "w") as fh:
            fh.write(text)
        return _key(check_file(path))
    target = check(src)
    if verbose:
        print("target", target)
    lines = src.splitlines()
    changed = True
    while changed:
        changed = False
        for i, j in reversed(_blocks(lines)):
            if j > len(lines):
                continue
            cand = lines[:i] + lines[j:]
            # a block left empty gets a pass
            if i < len(cand) and i > 0 and cand[i - 1].rstrip().endswith(":"):
                nxt = cand[i] if i < len(cand) else ""
                if len(nxt) - len(nxt.lstrip()) <= len(cand[i - 1]) - len(cand[i - 1].lstrip()):
                    cand = cand[:i] + [" " * (len(cand[i - 1]) - len(cand[i - 1].lstrip()) + 4) + "pass"] + cand[i:]
            if cand == lines:
                continue
            if check("\n".join(cand)) == target:
                lines = cand
                changed = True
                if verbose:
                    print("dropped", i, j - i, flush=True)
    return "\n".join(lines)


if __name__ == "__main__":
    src = open(sys.argv[1]).read()
    out = shrink(src, verbose=True)
    with open(sys.argv[2], "w") as fh:
        fh.write(out)
    print(out)
