"""Run many generated programs (optionally in parallel), count outcomes, write and shrink failures.

    python scripts/progtest.py --n 10000 --seed 0 --jobs 2 --out progtest_out
    python scripts/progtest.py --n 2000 --features ci          # what CI runs: without KNOWN_BROKEN
    python scripts/progtest.py --n 500 --features closure,target_arg,driver_first
    python scripts/progtest.py --check progtest_out/WRONG_17_min.py   # rerun one written program
"""
from __future__ import annotations

import argparse
import collections
import multiprocessing
import os
import sys
import tempfile
import time
from typing import Dict, List, Optional

from . import KNOWN_BROKEN
from .checker import Result, internal, run_program, run_seed
from .generator import DRIVER_FEATURES, FEATURES, TARGET_FEATURES, Block, Program, Ref, Target, generate
from .prealloc import PREALLOC_FEATURES
from .userpat import USERPAT_FEATURES
from .shrink import shrink

META = "# progtest-meta: "


def avoid_pairs(spec: Optional[str]) -> List[str]:
    """The "driver+block" pairs of KNOWN_BROKEN, left out with ``--features ci``."""
    return [k for k in KNOWN_BROKEN if "+" in k] if spec == "ci" else []


def resolve_features(spec: Optional[str], exclude: Optional[str] = None) -> List[str]:
    if not spec or spec == "all":
        feats = list(FEATURES)
    elif spec == "ci":
        feats = [f for f in FEATURES if f not in KNOWN_BROKEN]
    elif spec == "prealloc":            # arrays filled in loops, with every target and driver
        feats = PREALLOC_FEATURES + TARGET_FEATURES + DRIVER_FEATURES
    elif spec == "userpat":             # matrices, indexing, containers, helpers, closures, classes...
        feats = USERPAT_FEATURES + TARGET_FEATURES + DRIVER_FEATURES
    else:
        feats = [f.strip() for f in spec.split(",") if f.strip()]
        unknown = [f for f in feats if f not in FEATURES]
        if unknown:
            raise SystemExit(f"unknown features {unknown}; known: {', '.join(FEATURES)}")
    if exclude:
        drop = {f.strip() for f in exclude.split(",")}
        feats = [f for f in feats if f not in drop]
    return feats


def repro_text(program: Program, res: Result) -> str:
    head = [f"# progtest repro: {res.status} ({res.kind})",
            f"# program seed {program.seed}; features: {', '.join(program.features)}"]
    head += ["# " + line for line in res.reason.splitlines()[:6]]
    head += ["# f is plain Python's loss; g is the same body with the dlgradient calls sct runs;",
             "# make_args() builds the arguments. Check again with:",
             "#     python scripts/progtest.py --check THIS_FILE",
             META + repr(program)]
    return "\n".join(head) + "\n" + program.source()


def load_meta(path: str) -> Program:
    with open(path) as fh:
        for line in fh:
            if line.startswith(META):
                return eval(line[len(META):], {"Program": Program, "Block": Block, "Target": Target,
                                               "Ref": Ref})
    raise SystemExit(f"{path}: no '{META.strip()}' line")


_STATE: Dict = {}


def _init(features, timeout, do_shrink, avoid=()):
    _STATE.update(features=features, avoid=avoid, timeout=timeout, shrink=do_shrink, folder=tempfile.mkdtemp(prefix="progtest_"),
                  count=0)
    tests = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    if tests not in sys.path:
        sys.path.insert(0, tests)


def _work(seed: int) -> dict:
    st = _STATE
    st["count"] += 1
    if st["count"] % 200 == 0:          # every program is a new module: drop compiled entries now and then
        import sct
        sct.clear_cache()
    res = run_seed(seed, st["folder"], st["features"], st["timeout"], avoid=st["avoid"])
    out = {"seed": seed, "status": res.status, "kind": res.kind, "reason": res.reason,
           "features": res.features, "internal": res.status == "REFUSED" and internal(res.detail)}
    if res.status in ("WRONG", "CRASHED"):
        program = generate(seed * 1000 + res.attempt, st["features"], st["avoid"])
        out["repro"] = repro_text(program, res)
        out["detail"] = res.detail
        if st["shrink"]:
            small, sres = shrink(program, res, st["folder"])
            out["min_repro"] = repro_text(small, sres)
            out["min_features"] = small.features
            src = small.source()
            start = src.index("\ndef g(")
            out["min_body"] = src[start + 1:src.index("\n\n\n", start)].rstrip()
            out["min_reason"] = sres.reason
    return out


def run_many(seeds, features, jobs: int = 1, timeout: float = 30.0, do_shrink: bool = False,
             progress: bool = False, avoid=()) -> List[dict]:
    results = []
    t0 = time.time()
    if jobs <= 1:
        _init(features, timeout, do_shrink, avoid)
        it = map(_work, seeds)
        pool = None
    else:
        ctx = multiprocessing.get_context("fork" if hasattr(os, "fork") else "spawn")
        pool = ctx.Pool(jobs, _init, (features, timeout, do_shrink, avoid), maxtasksperchild=2000)
        it = pool.imap_unordered(_work, seeds, chunksize=8)
    try:
        for k, r in enumerate(it, 1):
            results.append(r)
            if progress and k % 500 == 0:
                print(f"  {k} programs, {time.time() - t0:.0f} s", file=sys.stderr, flush=True)
    finally:
        if pool is not None:
            pool.close()
            pool.join()
    results.sort(key=lambda r: r["seed"])
    return results


def summarize(results: List[dict], elapsed: float = 0.0) -> str:
    c = collections.Counter(r["status"] for r in results)
    n_internal = sum(1 for r in results if r.get("internal"))
    lines = [f"programs run: {len(results)}  passed: {c['PASSED']}  refused: {c['REFUSED']} "
             f"(of which internal failures reported as refusals: {n_internal})  "
             f"wrong: {c['WRONG']}  crashed: {c['CRASHED']}  skipped (reference unusable): {c['SKIPPED']}"
             + (f"  ({elapsed:.0f} s)" if elapsed else "")]
    reasons = collections.Counter(("[internal] " if r.get("internal") else "") + r["reason"]
                                  for r in results if r["status"] == "REFUSED")
    if reasons:
        lines.append("refusals by reason:")
        lines += [f"  {n:6d}  {reason}" for reason, n in reasons.most_common()]
    bad = collections.Counter(f"{r['status']} {r['kind']}" for r in results if r["status"] in ("WRONG", "CRASHED"))
    if bad:
        lines.append("wrong / crashed by kind:")
        lines += [f"  {n:6d}  {k}" for k, n in bad.most_common()]
    return "\n".join(lines)


def feature_table(results: List[dict]) -> str:
    per = collections.defaultdict(collections.Counter)
    for r in results:
        for f in r["features"]:
            per[f]["run"] += 1
            per[f][r["status"]] += 1
        for f in r.get("min_features") or ():
            per[f]["shrunk"] += 1
    lines = ["Programs mix several features, so the rates of a feature include failures caused by others; "
             "'in shrunk repros' counts the failing programs whose minimal repro still has the feature.", "",
             "| feature | programs | wrong | crashed | refused | failure rate (wrong+crashed) | refusal rate "
             "| in shrunk repros |",
             "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for f in sorted(per, key=lambda f: (-per[f]["shrunk"], -(per[f]["WRONG"] + per[f]["CRASHED"]) / per[f]["run"])):
        c = per[f]
        n = c["run"]
        lines.append(f"| {f}{' (KNOWN_BROKEN)' if f in KNOWN_BROKEN else ''} | {n} | {c['WRONG']} | "
                     f"{c['CRASHED']} | {c['REFUSED']} | {(c['WRONG'] + c['CRASHED']) / n:.1%} | "
                     f"{c['REFUSED'] / n:.1%} | {c['shrunk']} |")
    return "\n".join(lines)


def distinct_failures(results: List[dict]) -> Dict[tuple, List[dict]]:
    groups: Dict[tuple, List[dict]] = collections.defaultdict(list)
    for r in results:
        if r["status"] in ("WRONG", "CRASHED"):
            feats = tuple(r.get("min_features") or r["features"])
            groups[(r["status"], r["kind"], feats)].append(r)
    return groups


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="progtest", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=1000, help="programs to run")
    ap.add_argument("--seed", type=int, default=0, help="first seed")
    ap.add_argument("--features", default="all",
                    help="'all', 'ci' (all but KNOWN_BROKEN), 'prealloc' (arrays filled in loops, every target "
                         "and driver), 'userpat' (tests/progtest/userpat.py, every target and driver) or a comma list of: " + ", ".join(FEATURES))
    ap.add_argument("--exclude", default=None, help="comma list of features to leave out")
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--timeout", type=float, default=30.0, help="seconds per program")
    ap.add_argument("--out", default=None, help="folder for the sources of wrong/crashed programs")
    ap.add_argument("--shrink", action="store_true", help="shrink each wrong/crashed program to a minimal repro")
    ap.add_argument("--report", default=None, help="write a markdown report here")
    ap.add_argument("--check", default=None, help="rerun one written program (a file written by --out)")
    ap.add_argument("--show", type=int, default=None, help="print the program of this seed and exit")
    args = ap.parse_args(argv)

    if args.show is not None:
        print(generate(args.show * 1000, resolve_features(args.features, args.exclude),
                       avoid_pairs(args.features)).source())
        return 0
    if args.check:
        program = load_meta(args.check)
        res = run_program(program, tempfile.mkdtemp(prefix="progtest_"))
        print(f"{res.status} {res.kind}: {res.reason}")
        if res.detail and res.status != "PASSED":
            print(res.detail)
        return 0 if res.status in ("PASSED", "REFUSED") else 1

    features = resolve_features(args.features, args.exclude)
    t0 = time.time()
    results = run_many(range(args.seed, args.seed + args.n), features, args.jobs, args.timeout,
                       args.shrink, progress=True, avoid=avoid_pairs(args.features))
    elapsed = time.time() - t0
    summary = summarize(results, elapsed)
    import sct
    print(f"sct: {os.path.dirname(os.path.dirname(os.path.abspath(sct.__file__)))}")
    print(summary)
    groups = distinct_failures(results)
    if args.out:
        os.makedirs(args.out, exist_ok=True)
        for r in results:
            if "repro" in r:
                with open(os.path.join(args.out, f"{r['status']}_{r['seed']}.py"), "w") as fh:
                    fh.write(r["repro"])
                if "min_repro" in r:
                    with open(os.path.join(args.out, f"{r['status']}_{r['seed']}_min.py"), "w") as fh:
                        fh.write(r["min_repro"])
    if groups:
        print(f"distinct failures (status, kind, features of the {'shrunk' if args.shrink else ''} program): "
              f"{len(groups)}")
        for key, rs in sorted(groups.items(), key=lambda kv: -len(kv[1])):
            print(f"  {len(rs):5d}  {key[0]} {key[1]}  [{', '.join(key[2])}]  e.g. seed {rs[0]['seed']}")
    if args.report:
        with open(args.report, "w") as fh:
            fh.write(report_markdown(results, features, elapsed, groups))
    c = collections.Counter(r["status"] for r in results)
    print(f"SUMMARY run={len(results)} passed={c['PASSED']} refused={c['REFUSED']} wrong={c['WRONG']} "
          f"crashed={c['CRASHED']} skipped={c['SKIPPED']} time={elapsed:.0f}s")
    return 1 if c["WRONG"] or c["CRASHED"] else 0


def report_markdown(results, features, elapsed, groups) -> str:
    out = ["# progtest report", "",
           f"features: {'all' if set(features) == set(FEATURES) else ', '.join(features)}", "",
           "```", summarize(results, elapsed), "```", "", "## Per feature", "", feature_table(results), "",
           "## Distinct failures (shrunk)", ""]
    for key, rs in sorted(groups.items(), key=lambda kv: -len(kv[1])):
        r = rs[0]
        out += [f"### {key[0]} {key[1]}: {', '.join(key[2])} ({len(rs)} programs, e.g. seed {r['seed']})", "",
                "```", r.get("min_reason", r["reason"]), "```", "", "```python", r.get("min_body", ""), "```", ""]
    return "\n".join(out)


if __name__ == "__main__":
    sys.exit(main())
