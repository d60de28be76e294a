"""A float32 network with a GRU/LSTM layer: the output is float64 (the stored float64 initial state promotes it)."""
import sys; sys.path.insert(0, "..")
import numpy as np, sct
from sct import dlnetwork, predict, forward, extractdata
for layer in (sct.gruLayer(3, Name="r"), sct.lstmLayer(3, Name="r")):
    net = dlnetwork([sct.sequenceInputLayer(2), layer], Seed=4)
    net = sct.dlupdate(lambda v: v.astype(np.float32), net)
    X = np.random.default_rng(0).standard_normal((3, 5, 2)).astype(np.float32)
    print(type(layer).__name__, [extractdata(v).dtype for v in net.Learnables.Value],
          [extractdata(v).dtype for v in net.State.Value], "->", extractdata(predict(net, X)).dtype)
net = dlnetwork([sct.featureInputLayer(2), sct.fullyConnectedLayer(3)], Seed=4)
net = sct.dlupdate(lambda v: v.astype(np.float32), net)
print("fc ->", extractdata(predict(net, np.ones((2, 2), np.float32))).dtype)
