"""Compile CPU time of benchmarks/compile_time.py's N-line function (N=500), optionally under cProfile (PROF=tottime TOP=40); ROOT: the sct checkout."""
import os, sys, time, cProfile, pstats, importlib, tempfile
ROOT = os.environ.get("ROOT", os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, ROOT); sys.path.insert(0, ROOT + "/benchmarks")
import compile_time as ct
import sct.recompute_writes, sct.outside_formats  # (lazy imports: not compile time)
N = int(os.environ.get("N", "500"))
d = tempfile.mkdtemp()
f = ct._load(N, d)
x, W = ct._inputs()
from sct import dlfeval
prof = os.environ.get("PROF")
t0 = time.process_time()
if prof:
    pr = cProfile.Profile(); pr.enable()
dlfeval(f, x, W)
if prof:
    pr.disable()
t1 = time.process_time()
print("compile CPU", round(t1 - t0, 3))
if prof:
    st = pstats.Stats(pr); st.sort_stats(prof).print_stats(int(os.environ.get("TOP", "50")))
