"""The command line of the random-program testers (scripts/fuzz2.py, scripts/fuzz3.py): generate each
seed's program, check it, count outcomes and refusal reasons, write each finding as a repro.

Each failing program (WRONG, CRASHED, UNLOCATED refusal, INTERNAL refusal) is written to OUT as a
self-contained module: run it with python to check it again.  SIGTERM (or ^C) stops the run and
reports what ran.
"""
from __future__ import annotations

import argparse
import collections
import os
import re
import signal
import tempfile
import time


def bucket(status, kind, reason):
    key = re.sub(r"\d+(\.\d+)?", "N", re.sub(r"`[^`]*`", "`.`", reason))
    key = re.sub(r"\S*fuzz\d?_[pt]\w*\.py", "FILE", key)[:130]
    return f"{status}:{kind}: {key}"


def run(seeds, tester, out=None, verbose=False):
    """tester: (name, generate, check_file, repro_text, FINDINGS)."""
    name = tester[0]
    folder = tempfile.mkdtemp(prefix=f"{name}_")
    counts, buckets, findings = collections.Counter(), collections.Counter(), []
    t0 = time.time()

    def stop(signum, frame):
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, stop)
    try:
        _loop(seeds, tester, folder, counts, buckets, findings, t0, out, verbose)
    except KeyboardInterrupt:
        print("interrupted", flush=True)
    return counts, buckets, findings, time.time() - t0


def _loop(seeds, tester, folder, counts, buckets, findings, t0, out, verbose):
    import sct
    name, generate, check_file, repro_text, finding_kinds = tester
    for n, seed in enumerate(seeds, 1):
        if n % 200 == 0:
            sct.clear_cache()
        try:
            src = generate(seed)
        except Exception as exc:  # a bug of the generator, not of sct: count it and go on
            counts["GENERATOR"] += 1
            if verbose:
                print(f"{seed}: generator {type(exc).__name__}: {exc}", flush=True)
            continue
        path = os.path.join(folder, f"{name}_p{seed}.py")
        with open(path, "w") as fh:
            fh.write(src)
        status, kind, reason, detail = check_file(path)
        counts[status] += 1
        if status in finding_kinds or status in ("REFUSED", "SKIPPED"):
            buckets[bucket(status, kind, reason)] += 1
        if status in finding_kinds:
            findings.append((seed, status, kind, reason))
            if out:
                os.makedirs(out, exist_ok=True)
                with open(os.path.join(out, f"{status}_{seed}.py"), "w") as fh:
                    fh.write(repro_text(src, status, kind, reason))
                    if detail:
                        fh.write("\n# detail:\n" + "".join(f"# {l}\n" for l in detail.splitlines()[-25:]))
            if verbose:
                print(f"{seed}: {status} {kind} {reason[:200]}", flush=True)
        if verbose and n % 50 == 0:
            print(f"  {n} programs, {time.time() - t0:.0f} s: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())),
                  flush=True)
        try:
            os.remove(path)
        except OSError:
            pass


def main(tester, argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=100)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=None)
    ap.add_argument("--check", default=None, help="rerun one written repro file")
    ap.add_argument("-v", "--verbose", action="store_true")
    a = ap.parse_args(argv)
    if a.check:
        print(tester[2](os.path.abspath(a.check))[:3])
        return 0
    counts, buckets, findings, dt = run(range(a.seed, a.seed + a.n), tester, a.out, a.verbose)
    print(f"{sum(counts.values())} programs in {dt:.0f} s: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
    for k, v in buckets.most_common():
        print(f"  {v:5d}  {k}")
    return 1 if findings else 0
