from common import *
from sct import lbfgsupdate, lbfgsState
rng = np.random.default_rng(8)
A = rng.standard_normal((4, 4)); A = A @ A.T + np.eye(4); bvec = rng.standard_normal(4)

def quad_loss(p):
    x = p["x"]
    loss = 0.5 * x @ A @ x - bvec @ x + np.sum(p["y"] ** 2 * 3.0)
    return loss, dlgradient(loss, p)

def t1():
    p = {"x": dlarray(np.zeros(4)), "y": dlarray(np.ones(2))}
    st = lbfgsState()
    for method in ("weak-wolfe", "strong-wolfe", "backtracking"):
        p = {"x": dlarray(np.zeros(4)), "y": dlarray(np.ones(2))}; st = None
        for i in range(40):
            p, st = lbfgsupdate(p, lambda q: dlfeval(quad_loss, q), st, LineSearchMethod=method)
            # state's loss/grad norm must be those at the returned parameters
            l, g = dlfeval(quad_loss, p)
            assert abs(float(st.Loss) - float(l)) < 1e-12 * max(1, abs(float(l))), (method, i, st.Loss, l)
            gn = np.sqrt(np.sum(D(g["x"]) ** 2) + np.sum(D(g["y"]) ** 2))
            assert abs(float(st.GradientsNorm) - gn) < 1e-9 + 1e-9 * gn, (method, i, st.GradientsNorm, gn)
            if st.GradientsNorm < 1e-10:
                break
        assert_close(D(p["x"]), np.linalg.solve(A, bvec), rtol=1e-6, atol=1e-8, what=method)
        assert_close(D(p["y"]), np.zeros(2), atol=1e-7, what=method)
run("lbfgs quadratic all line searches", t1)

def t2():
    net = sct.dlnetwork([sct.featureInputLayer(2), sct.fullyConnectedLayer(8), sct.tanhLayer(), sct.fullyConnectedLayer(1)], Seed=1)
    X = rng.standard_normal((30, 2)); T = np.sin(X[:, :1]) * X[:, 1:]
    def model_loss(net, X, T):
        Y = sct.forward(net, X)[0]
        loss = sct.mse(Y, T)
        return loss, dlgradient(loss, net.Learnables)
    st = None
    f = lambda n: dlfeval(model_loss, n, X, T)
    first = float(f(net)[0])
    for i in range(30):
        net, st = lbfgsupdate(net, f, st)
    l, g = f(net)
    assert abs(float(l) - float(st.Loss)) < 1e-12, (l, st.Loss)
    assert float(l) < first * 0.5, (first, float(l))
    print("   loss", first, "->", float(l), st.LineSearchStatus)
run("lbfgs dlnetwork", t2)

def t3():
    # float32 params keep dtype
    def loss32(p):
        l = np.sum((p["w"] - 1) ** 4) + np.sum(p["w"] ** 2)
        return l, dlgradient(l, p)
    p = {"w": dlarray(np.array([3.0, -2.0], dtype=np.float32))}
    st = None
    for i in range(20):
        p, st = lbfgsupdate(p, lambda q: dlfeval(loss32, q), st)
    assert D(p["w"]).dtype == np.float32
    # minimiser of (w-1)^4 + w^2 : 4(w-1)^3 + 2w = 0
    w = D(p["w"]).astype(float)
    assert np.all(np.abs(4 * (w - 1) ** 3 + 2 * w) < 1e-3), w
run("lbfgs float32", t3)
