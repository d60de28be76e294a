"""Sequence classification with an LSTM in a custom training loop (MATLAB's "Train Sequence
Classification Network Using Custom Training Loop"), on synthetic data that trains in seconds:
noisy sine waves whose frequency (one of three) is the class.

The network is ``sequenceInputLayer - lstmLayer(OutputMode="last") - fullyConnectedLayer -
softmaxLayer``; data are (observations, time steps, channels), batch first.
"""
from __future__ import annotations

import numpy as np

from sct import (adamupdate, crossentropy, dlfeval, dlgradient, dlnetwork, extractdata, forward,
                 fullyConnectedLayer, hasdata, lstmLayer, minibatchqueue, onehotencode, predict,
                 sequenceInputLayer, shuffle, softmaxLayer)

from . import no_progress

FREQUENCIES = (1.0, 2.0, 3.0)      # cycles over the sequence: class 0, 1, 2


def make_data(n, rng, steps=20, noise=0.3):
    """``n`` sequences (n, steps, 1): sin(2 pi f t + phase) plus Gaussian noise, labels 0-2 the index
    of f in FREQUENCIES, random phase and amplitude."""
    labels = rng.integers(0, len(FREQUENCIES), n)
    t = np.linspace(0, 1, steps, endpoint=False)
    f = np.asarray(FREQUENCIES)[labels][:, None]
    phase = rng.uniform(0, 2 * np.pi, (n, 1))
    amplitude = rng.uniform(0.5, 1.5, (n, 1))
    X = amplitude * np.sin(2 * np.pi * f * t + phase) + noise * rng.standard_normal((n, steps))
    return X[..., None], labels


def make_network(num_hidden=16, seed=0):
    return dlnetwork([sequenceInputLayer(1), lstmLayer(num_hidden, OutputMode="last"),
                      fullyConnectedLayer(len(FREQUENCIES)), softmaxLayer()], Seed=seed)


def model_loss(net, X, T):
    """MATLAB's modelLoss: cross-entropy of the network's class scores, gradients w.r.t. the learnables."""
    Y, state = forward(net, X)
    loss = crossentropy(Y, T)
    gradients = dlgradient(loss, net.Learnables)
    return loss, gradients


def accuracy(net, X, labels):
    return float(np.mean(np.argmax(extractdata(predict(net, X)), axis=1) == labels))


def train(epochs=10, num_train=600, num_test=300, mini_batch_size=50, learn_rate=0.01, seed=0,
          progress=no_progress):
    """The training loop (Adam); returns ``net`` and a history dict: ``loss`` per iteration,
    ``test_accuracy`` per epoch."""
    rng = np.random.default_rng(seed)
    XTrain, TTrain = make_data(num_train, rng)
    XTest, TTest = make_data(num_test, rng)
    np.random.seed(seed)
    net = make_network(seed=seed)
    classes = len(FREQUENCIES)
    mbq = minibatchqueue(XTrain, TTrain, MiniBatchSize=mini_batch_size,
                         MiniBatchFcn=lambda X, T: (X, onehotencode(T, classes)))
    average_grad = average_sq_grad = None
    history = {"loss": [], "test_accuracy": []}
    iteration = 0
    bar = progress(range(epochs))
    for epoch in bar:
        shuffle(mbq)
        while hasdata(mbq):
            iteration += 1
            X, T = next(mbq)
            loss, gradients = dlfeval(model_loss, net, X, T)
            net, average_grad, average_sq_grad = adamupdate(net, gradients, average_grad, average_sq_grad,
                                                            iteration, learn_rate)
            history["loss"].append(float(loss))
        history["test_accuracy"].append(accuracy(net, XTest, TTest))
        if hasattr(bar, "set_postfix"):
            bar.set_postfix(loss=f"{history['loss'][-1]:.4f}", test_accuracy=f"{history['test_accuracy'][-1]:.3f}")
    return net, history
