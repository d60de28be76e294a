import sys, os, traceback
import numpy as np
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests"))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from gradcheck import numerical_gradient, assert_close
import sct
from sct import dlarray, dlfeval, dlgradient, extractdata, dims

RESULTS = []

def D(x):
    return np.asarray(extractdata(x)) if isinstance(x, dlarray) else np.asarray(x)

def report(name, ok, msg=""):
    RESULTS.append((name, ok, msg))
    print(("OK   " if ok else "FAIL ") + name + ("  " + msg if msg else ""), flush=True)

def run(name, fn):
    try:
        fn()
        report(name, True)
    except AssertionError as e:
        report(name, False, "ASSERT " + str(e)[:1500])
    except Exception as e:
        report(name, False, f"{type(e).__module__}.{type(e).__name__}: {str(e)[:1500]}\n" + "".join(traceback.format_exc().splitlines(True)[-6:]))

def gcheck(got, f, args, i, rtol=1e-5, atol=1e-6, what=""):
    num = numerical_gradient(f, [np.array(a, dtype=np.result_type(a, float)) if isinstance(a, np.ndarray) and a.dtype.kind in "fc" else a for a in args], i)
    assert_close(D(got), num, rtol=rtol, atol=atol, what=what)
