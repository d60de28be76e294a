from common import *
from sct import dlnetwork, forward, predict, Table
rng = np.random.default_rng(6)

def model_loss(net, X, T):
    Y, state = forward(net, X)
    loss = np.mean((Y - T) ** 2)
    grads = dlgradient(loss, net.Learnables)
    return loss, grads, state

def lstm_vals(net, name):
    return [D(net.Learnables[name, p]) for p in ("InputWeights", "RecurrentWeights", "Bias")]

def t1():
    net = dlnetwork([sct.sequenceInputLayer(2), sct.lstmLayer(3, Name="lstm"), sct.fullyConnectedLayer(1, Name="fc")], Seed=3)
    X1 = rng.standard_normal((2, 4, 2)); X2 = rng.standard_normal((2, 3, 2))
    T1 = rng.standard_normal((2, 4, 1)); T2 = rng.standard_normal((2, 3, 1))
    loss1, g1, st1 = dlfeval(model_loss, net, dlarray(X1), T1)
    net.State = st1
    loss2, g2, st2 = dlfeval(model_loss, net, dlarray(X2), T2)
    w, r, b = lstm_vals(net, "lstm"); W = D(net.Learnables["fc", "Weights"]); Bf = D(net.Learnables["fc", "Bias"])
    z = np.zeros((2, 3))
    _, h1, c1 = sct.lstm(X1, z, z, w, r, b)
    def L2(w, r, b, W, Bf):
        y = sct.lstm(X2, h1, c1, w, r, b)[0]
        return float(np.mean((y @ W.T + Bf - T2) ** 2))
    args = [w, r, b, W, Bf]
    assert_close(D(loss2), L2(*args))
    names = [("lstm", "InputWeights"), ("lstm", "RecurrentWeights"), ("lstm", "Bias"), ("fc", "Weights"), ("fc", "Bias")]
    for i, k in enumerate(names):
        gcheck(g2[k], L2, args, i, what=str(k))
    assert_close(D(st2["lstm", "HiddenState"]), sct.lstm(np.concatenate([X1, X2], 1), z, z, w, r, b)[1])
run("stateful LSTM training 2 batches", t1)

def t2():
    net = dlnetwork([sct.sequenceInputLayer(2), sct.gruLayer(3, Name="gru", OutputMode="last"), sct.fullyConnectedLayer(2, Name="fc")], Seed=4)
    X = rng.standard_normal((3, 5, 2)).astype(np.float32); T = rng.standard_normal((3, 2)).astype(np.float32)
    net = sct.dlupdate(lambda v: v.astype(np.float32), net) if hasattr(sct, "dlupdate") else net
    loss, g, st = dlfeval(model_loss, net, dlarray(X), T)
    w, r, b = lstm_vals(net, "gru"); W = D(net.Learnables["fc", "Weights"]); Bf = D(net.Learnables["fc", "Bias"])
    h0 = np.zeros((3, 3))
    def L(w, r, b, W, Bf):
        h = sct.gru(X.astype(float), h0, w, r, b)[1]
        return float(np.mean((h @ W.T + Bf - T) ** 2))
    args = [a.astype(float) for a in (w, r, b, W, Bf)]
    assert_close(D(loss), L(*args), rtol=1e-4)
    print("   dtypes", D(loss).dtype, D(g["gru", "InputWeights"]).dtype)
    for i, k in enumerate([("gru", "InputWeights"), ("gru", "RecurrentWeights"), ("gru", "Bias"), ("fc", "Weights"), ("fc", "Bias")]):
        gcheck(g[k], L, args, i, rtol=2e-3, atol=1e-4, what=str(k))
run("GRU last float32", t2)

def gp_loss(net, X):
    Y, _ = forward(net, X)
    s = np.sum(Y)
    gx = dlgradient(s, X)
    pen = np.sum(gx ** 2)
    return pen, dlgradient(pen, net.Learnables)

def t3():
    net = dlnetwork([sct.featureInputLayer(3), sct.fullyConnectedLayer(4, Name="fc1"), sct.tanhLayer(),
                     sct.fullyConnectedLayer(1, Name="fc2")], Seed=5)
    X = rng.standard_normal((5, 3))
    pen, g = dlfeval(gp_loss, net, dlarray(X))
    W1, b1, W2, b2 = [D(v) for v in net.Learnables.Value]
    def P(W1, b1, W2):
        t = np.tanh(X @ W1.T + b1)
        gx = ((1 - t ** 2) * W2[0]) @ W1
        return float(np.sum(gx ** 2))
    assert_close(D(pen), P(W1, b1, W2))
    for i, k in enumerate([("fc1", "Weights"), ("fc1", "Bias"), ("fc2", "Weights")]):
        gcheck(g[k], P, [W1, b1, W2], i, what=str(k))
run("gradient penalty through dlnetwork", t3)

def t4():
    net = dlnetwork([sct.imageInputLayer([5, 5, 2], Normalization="none"),
                     sct.transposedConv2dLayer(3, 3, Stride=2, Name="up"), sct.reluLayer(),
                     sct.convolution2dLayer(2, 1, Name="c")], Seed=6)
    X = rng.standard_normal((2, 5, 5, 2))
    Y0 = predict(net, X)
    T = rng.standard_normal(D(Y0).shape)
    loss, g, st = dlfeval(model_loss, net, dlarray(X), T)
    vals = [D(v) for v in net.Learnables.Value]
    def L(w1, b1, w2, b2):
        y = np.maximum(sct.dltranspconv(X, w1, b1, Stride=2), 0)
        return float(np.mean((sct.dlconv(y, w2, b2) - T) ** 2))
    assert_close(D(loss), L(*vals))
    for i in range(4):
        gcheck(g.Value[i], L, vals, i, what=str(i))
run("transposedConv2dLayer net", t4)

def t5():
    # BatchNorm state in training: dlfeval returns state; running stats update
    net = dlnetwork([sct.featureInputLayer(3), sct.fullyConnectedLayer(4, Name="fc"), sct.batchNormalizationLayer(Name="bn"),
                     sct.reluLayer(), sct.fullyConnectedLayer(1, Name="fc2")], Seed=7)
    X = rng.standard_normal((6, 3)); T = rng.standard_normal((6, 1))
    loss, g, st = dlfeval(model_loss, net, dlarray(X), T)
    W, b, off, sc, W2, b2 = [D(v) for v in net.Learnables.Value]
    def L(W, b, off, sc, W2, b2):
        z = X @ W.T + b
        mu = z.mean(0); var = z.var(0)
        y = np.maximum((z - mu) / np.sqrt(var + 1e-5) * sc + off, 0)
        return float(np.mean((y @ W2.T + b2 - T) ** 2))
    args = [W, b, off, sc, W2, b2]
    assert_close(D(loss), L(*args))
    for i in range(6):
        gcheck(g.Value[i], L, args, i, what=str(i))
    z = X @ W.T + b
    print("   state params", st.Parameter)
    rm = D(st["bn", "TrainedMean"]); rv = D(st["bn", "TrainedVariance"])
    # MATLAB default momentum 0.1: new = 0.9*old + 0.1*batch (var unbiased in MATLAB)
    assert_close(rm.ravel(), 0.1 * z.mean(0))
    assert_close(rv.ravel(), 0.9 + 0.1 * z.var(0, ddof=1))
run("batchnorm layer state + grads", t5)
