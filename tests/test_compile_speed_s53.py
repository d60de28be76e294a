"""benchmarks/compile_time.py --growth: calls and self time by module at two sizes, and the functions
whose calls grow faster than the lines (a per-statement rescan of the whole function), read from
cProfile's exact call counts (the load of the machine changes the times, never the counts)."""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "benchmarks"))

import compile_time  # noqa: E402


def _profile(lines, calls):
    """A child's cProfile result as compile_time.child returns it: ``calls``, function -> (module, calls, self s)."""
    by_module, calls_by_module, calls_by_function = {}, {}, {}
    for name, (mod, n, t) in calls.items():
        by_module[mod] = by_module.get(mod, 0.0) + t
        calls_by_module[mod] = calls_by_module.get(mod, 0) + n
        calls_by_function[name] = n
    return {"lines": lines, "by_module": by_module, "calls_by_module": calls_by_module,
            "calls_by_function": calls_by_function, "profiled_total_s": sum(by_module.values())}


def test_a_function_called_once_per_statement_per_statement_is_named():
    # 4x the lines: a walk per statement grows 4x (linear); a rescan of every statement per statement 16x
    small = _profile(100, {"sct.ir:_walk_nodes (line 1)": ("sct.ir", 10000, 0.5),
                           "sct.cse:_rescan (line 9)": ("sct.cse", 2000, 0.2)})
    large = _profile(400, {"sct.ir:_walk_nodes (line 1)": ("sct.ir", 40000, 2.0),
                           "sct.cse:_rescan (line 9)": ("sct.cse", 32000, 3.2)})
    report = compile_time.growth_report(small, large)
    named = report.split("Functions called", 1)[1]
    assert "`sct.cse:_rescan (line 9)`: 2000 -> 32000 calls (16.0x)" in named
    assert "_walk_nodes" not in named
    assert named.splitlines()[0].endswith(": 1")             # (one function named)
    rows = {row.split(" | ")[0].strip("| *"): row for row in report.splitlines() if row.startswith("| ")}
    assert "| 10000 | 40000 | 4.00x |" in rows["sct.ir"]
    assert "| 2000 | 32000 | 16.00x |" in rows["sct.cse"]
    assert "| 12000 | 72000 | 6.00x |" in rows["all"]


def test_a_module_under_half_a_percent_is_left_out_and_a_new_function_counts_from_one_call():
    small = _profile(100, {"sct.ir:walk (line 1)": ("sct.ir", 1000, 1.0)})
    large = _profile(200, {"sct.ir:walk (line 1)": ("sct.ir", 2000, 2.0),
                           "sct.tiny:f (line 3)": ("sct.tiny", 5000, 0.001)})
    report = compile_time.growth_report(small, large)
    assert "| sct.tiny |" not in report
    assert "`sct.tiny:f (line 3)`: 0 -> 5000 calls (5000.0x)" in report
