"""Shrink a failing fuzz2 program: drop statements (with their blocks), helpers and branches while the
outcome (status, kind and the start of the reason) stays the same.

    python -m fuzz2.shrink FILE OUT      (from tests/)
"""
from __future__ import annotations

import os
import re
import sys
import tempfile

from .runner import check_file


def _indent(line):
    return len(line) - len(line.lstrip(" "))


def _block_end(lines, i):
    """Index after the statement starting at ``lines[i]`` (with its indented block)."""
    ind = _indent(lines[i])
    j = i + 1
    while j < len(lines) and (not lines[j].strip() or _indent(lines[j]) > ind):
        j += 1
    # elif/else belong to the same if
    return j


def _fix_empty(lines):
    out = []
    for k, line in enumerate(lines):
        out.append(line)
        s = line.strip()
        if s.endswith(":") and not s.startswith("#"):
            nxt = next((l for l in lines[k + 1:] if l.strip()), "")
            if _indent(nxt) <= _indent(line):
                out.append(" " * (_indent(line) + 4) + "pass")
    return out


def signature(res):
    status, kind, reason = res[:3]
    reason = re.sub(r"^\S+\.py, line \d+: ", "", reason)
    return status, kind, re.sub(r"[-\d.e]+", "N", reason)[:50]


def shrink(src, target=None, max_rounds=6):
    folder = tempfile.mkdtemp(prefix="fuzz2_shrink_")
    count = [0]

    def outcome(text):
        count[0] += 1
        p = os.path.join(folder, f"fuzz2_s{count[0]}.py")
        with open(p, "w") as fh:
            fh.write(text)
        try:
            return signature(check_file(p))
        finally:
            os.remove(p)
    target = target or outcome(src)
    lines = src.splitlines()
    for _ in range(max_rounds):
        changed = False
        i = 0
        while i < len(lines):
            line = lines[i]
            s = line.strip()
            if not s or _indent(line) == 0 and not s.startswith("def h") or s.startswith("return") and _indent(line) == 4:
                i += 1
                continue
            j = _block_end(lines, i)
            cand = _fix_empty(lines[:i] + lines[j:])
            if outcome("\n".join(cand)) == target:
                lines = cand
                changed = True
                continue
            i += 1
        if not changed:
            break
    return "\n".join(lines), target


if __name__ == "__main__":
    src = open(sys.argv[1]).read()
    small, t = shrink(src)
    with open(sys.argv[2], "w") as fh:
        fh.write(small)
    print(t)
