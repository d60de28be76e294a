"""Red team B (Dec 23): numpy calls between a generator's items (tests/test_redteam_dec23b.py)."""
import numpy as np

def make(act):
    def gen_over(ws, buf):
        for i in range(2):
            yield ws[i] * buf[0]

    def f(ws):
        buf = np.ones(1)
        tot = 0.0
        for v in gen_over(ws, buf):
            tot = tot + np.sum(v)
            act(buf, 2.0, out=buf)
        return tot

    def g(ws):
        buf = np.ones(1)
        tot = 0.0
        for v in gen_over(ws, buf):
            tot = tot + np.sum(v)
            np.copyto(buf, buf * 3)
        return tot

    def h(ws):
        buf = np.ones(1)
        tot = 0.0
        for v in gen_over(ws, buf):
            tot = tot + np.sum(v)
            buf2 = act(buf, 2.0)
        return tot
    return f, g, h
