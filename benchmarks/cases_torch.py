"""The benchmark cases for PyTorch (eager): leaf tensors with requires_grad, backward().

float64 tensors, one intra-op thread (torch.set_num_threads(1)).
"""
import numpy as np
import torch

torch.set_num_threads(1)


def rosenbrock(x):
    return 100*(x[1] - x[0]**2)**2 + (1 - x[0])**2


def mlp_loss(W1, b1, W2, b2, X, T):
    H = torch.tanh(X @ W1 + b1)
    Z = H @ W2 + b2
    Z = Z - torch.max(Z, dim=1, keepdim=True).values
    logp = Z - torch.log(torch.sum(torch.exp(Z), dim=1, keepdim=True))
    return -torch.sum(T * logp) / X.shape[0]


def elementwise(x):
    return torch.sum(torch.sin(x)*torch.exp(-x**2) + torch.log1p(x**2))


def rnn_loss(W, U, xs, h0):
    h = h0
    for t in range(xs.shape[0]):
        h = torch.tanh(W @ h + U @ xs[t])
    return torch.sum(h**2)


def branchy(x):
    y = x
    for i in range(40):
        if y > 1.0:
            y = 0.5*y + 0.3*torch.sin(y)
        else:
            y = y*y + 0.25*torch.cos(y) + 0.6
    return y


def relu(x):
    return torch.relu(x)


def softmax_cross_entropy(Z, T):
    Z = Z - torch.max(Z, dim=1, keepdim=True).values
    logp = Z - torch.log(torch.sum(torch.exp(Z), dim=1, keepdim=True))
    return -torch.sum(T * logp) / Z.shape[0]


def mlp_f32_loss(W1, b1, W2, b2, W3, b3, X, T):
    H = relu(X @ W1 + b1)
    H = relu(H @ W2 + b2)
    return softmax_cross_entropy(H @ W3 + b3, T)


def rosen(x):
    return torch.sum(100*(x[1:] - x[:-1]**2)**2 + (1 - x[:-1])**2)


def cnn_head(Z, Wd, bd, T):
    P = torch.mean(relu(Z), dim=(1, 2))
    return softmax_cross_entropy(P @ Wd + bd, T)


def cnn_slices_loss(K, bk, Wd, bd, X, T):
    Ho, Wo = X.shape[1] - 2, X.shape[2] - 2
    Z = bk
    for i in range(3):
        for j in range(3):
            Z = Z + X[:, i:i+Ho, j:j+Wo, :] * K[i, j]
    return cnn_head(Z, Wd, bd, T)


def cnn_conv_loss(K, bk, Wd, bd, X, T):
    # channels-last data and MATLAB-layout (kh, kw, Cin, Cout) filters, as the other implementations
    Z = torch.nn.functional.conv2d(X.permute(0, 3, 1, 2), K.permute(3, 2, 0, 1), bk).permute(0, 2, 3, 1)
    return cnn_head(Z, Wd, bd, T)


def loop1000(x):
    y = x
    for i in range(1000):
        if y > 0.5:
            y = y - 0.02*torch.sin(3*y) - 0.01
        else:
            y = y + 0.02*torch.cos(y) + 0.01*y*y
    return y


# case -> (function, indices of the differentiated arguments)
FUNCTIONS = {
    "rosenbrock": (rosenbrock, (0,)),
    "mlp": (mlp_loss, (0, 1, 2, 3)),
    "elementwise": (elementwise, (0,)),
    "rnn": (rnn_loss, (0, 1)),
    "branchy": (branchy, (0,)),
    "mlp_f32": (mlp_f32_loss, (0, 1, 2, 3, 4, 5)),
    "rosen_1e6": (rosen, (0,)),
    "cnn_slices": (cnn_slices_loss, (0, 1, 2, 3)),
    "cnn_conv": (cnn_conv_loss, (0, 1, 2, 3)),
    "loop1000": (loop1000, (0,)),
}


def make_hvp(case, inputs):
    x, v = (torch.tensor(a) for a in inputs.values())
    if case == "hvp":       # forward over reverse (torch.func)
        from torch.func import grad, jvp

        def call():
            return jvp(grad(rosen), (x,), (v,))[1]
    else:                   # reverse over reverse: double backward
        x.requires_grad_(True)

        def call():
            g, = torch.autograd.grad(rosen(x), x, create_graph=True)
            hv, = torch.autograd.grad(torch.sum(g * v), x)
            return hv

    return call, lambda out: (None, [out.detach().numpy()])


# (11) training steps: torch.nn modules (NCHW, as PyTorch has them), torch.optim.Adam ----------------
def make_train(case, inputs):
    nn = torch.nn
    a = {k: torch.tensor(v) for k, v in inputs.items()}
    if case == "train_cnn":
        model = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2),
                              nn.Conv2d(8, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),
                              nn.Flatten(), nn.Linear(16 * 7 * 7, 10))
        conv1, bn1, conv2, bn2, fc = model[0], model[1], model[4], model[5], model[9]
        with torch.no_grad():            # the same values: filters (kh, kw, C, F) -> (F, C, kh, kw);
            conv1.weight.copy_(a["W1"].permute(3, 2, 0, 1))     # dense weights' inputs (h, w, c) -> (c, h, w)
            conv1.bias.copy_(a["b1"])
            bn1.bias.copy_(a["offset1"])
            bn1.weight.copy_(a["scale1"])
            conv2.weight.copy_(a["W2"].permute(3, 2, 0, 1))
            conv2.bias.copy_(a["b2"])
            bn2.bias.copy_(a["offset2"])
            bn2.weight.copy_(a["scale2"])
            fc.weight.copy_(a["Wf"].reshape(10, 7, 7, 16).permute(0, 3, 1, 2).reshape(10, -1))
            fc.bias.copy_(a["bf"])
        params = [conv1.weight, conv1.bias, bn1.weight, bn1.bias, conv2.weight, conv2.bias, bn2.weight, bn2.bias,
                  fc.weight, fc.bias]
        X = a["X"].permute(0, 3, 1, 2).contiguous()

        def grads_in_case_layout(g):
            return [g[0].permute(2, 3, 1, 0), g[1], g[3], g[2], g[4].permute(2, 3, 1, 0), g[5], g[7], g[6],
                    g[8].reshape(10, 16, 7, 7).permute(0, 2, 3, 1).reshape(10, -1), g[9]]
    else:
        model = nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(), nn.Linear(512, 10))
        with torch.no_grad():
            for layer, k in zip((model[0], model[2], model[4]), (1, 2, 3)):
                layer.weight.copy_(a[f"W{k}"])
                layer.bias.copy_(a[f"b{k}"])
        X = a["X"]

        params = list(model.parameters())

        def grads_in_case_layout(g):
            return g
    model.train()
    labels = a["T"].argmax(dim=1)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)

    def call():
        optimizer.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(X), labels)
        loss.backward()
        grads = [p.grad for p in params]          # zero_grad sets new ones: these stay this step's
        optimizer.step()
        return loss.detach(), grads

    def result(out):
        value, grads = out
        return float(value), [g.numpy() for g in grads_in_case_layout(grads)]

    return call, result


def make(case, inputs):
    if case in ("train_cnn", "train_mlp"):
        return make_train(case, inputs)
    if case in ("hvp", "hvp_nested"):
        return make_hvp(case, inputs)
    fun, wrt = FUNCTIONS[case]
    args = [torch.tensor(v, requires_grad=(i in wrt))      # keeps each input's dtype
            for i, v in enumerate(inputs.values())]
    params = [args[i] for i in wrt]

    def call():
        for p in params:
            p.grad = None
        loss = fun(*args)
        loss.backward()
        return loss.detach(), [p.grad for p in params]

    def result(out):
        value, grads = out
        return float(value), [g.numpy() for g in grads]

    return call, result
