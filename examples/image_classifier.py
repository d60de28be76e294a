"""Image classification with a custom training loop (MATLAB's "Train Network Using Custom
Training Loop"), on the 8x8 handwritten digits scikit-learn ships.

The network has MATLAB's layers: convolution, batch normalisation, ReLU, max pooling, dropout,
a fully connected layer and softmax.  ``model_loss`` is MATLAB's ``modelLoss``: ``forward`` in
training mode (batch statistics, dropout active), cross-entropy, ``dlgradient`` with respect to
``net.Learnables``, and the network's new state (the batch-norm running statistics).
"""
from __future__ import annotations

import numpy as np

from sct import (adamupdate, batchNormalizationLayer, convolution2dLayer, crossentropy, dlfeval,
                 dlgradient, dlnetwork, dropoutLayer, extractdata, forward, fullyConnectedLayer, hasdata,
                 imageInputLayer, maxPooling2dLayer, minibatchqueue, onehotencode, predict, reluLayer,
                 shuffle, softmaxLayer)

from . import digits, no_progress

CLASSES = 10


def make_network(seed=0, dropout=True):
    """conv 3x3 (8) - batchnorm - relu - maxpool 2 - conv 3x3 (16) - batchnorm - relu - dropout
    - fully connected (10) - softmax, for 8x8x1 images (batch first, channels last); without the
    dropout layer for ``dropout=False``."""
    layers = [imageInputLayer([8, 8, 1], Normalization="none"),
              convolution2dLayer(3, 8, Padding="same"),
              batchNormalizationLayer(),
              reluLayer(),
              maxPooling2dLayer(2, Stride=2),
              convolution2dLayer(3, 16, Padding="same"),
              batchNormalizationLayer(),
              reluLayer(),
              dropoutLayer(0.2),
              fullyConnectedLayer(CLASSES),
              softmaxLayer()]
    if not dropout:
        layers = [layer for layer in layers if not isinstance(layer, type(dropoutLayer()))]
    return dlnetwork(layers, Seed=seed)


def model_loss(net, X, T):
    """MATLAB's modelLoss: the loss, its gradients with respect to the learnables, the new state."""
    Y, state = forward(net, X)
    loss = crossentropy(Y, T)
    gradients = dlgradient(loss, net.Learnables)
    return loss, gradients, state


def accuracy(net, X, labels):
    """The fraction of ``X`` that ``net`` (in inference mode) classifies as ``labels``."""
    scores = extractdata(predict(net, X))
    return float(np.mean(np.argmax(scores, axis=1) == labels))


def train(epochs=6, mini_batch_size=64, learn_rate=0.01, seed=0, progress=no_progress, data=None):
    """The custom training loop; returns ``net`` and a history dict: ``loss`` per iteration,
    ``train_accuracy``/``test_accuracy`` per epoch, ``iterations``."""
    XTrain, TTrain, XTest, TTest = data if data is not None else digits()
    np.random.seed(seed)                   # dropout masks and the shuffles are reproducible
    net = make_network(seed)
    mbq = minibatchqueue(XTrain, TTrain, MiniBatchSize=mini_batch_size,
                         MiniBatchFcn=lambda X, T: (X, onehotencode(T, CLASSES)))
    average_grad = average_sq_grad = None
    history = {"loss": [], "train_accuracy": [], "test_accuracy": [], "iterations": 0}
    iteration = 0
    bar = progress(range(epochs))
    for epoch in bar:
        shuffle(mbq)
        while hasdata(mbq):
            iteration += 1
            X, T = next(mbq)
            loss, gradients, state = dlfeval(model_loss, net, X, T)
            net.State = state
            net, average_grad, average_sq_grad = adamupdate(net, gradients, average_grad, average_sq_grad,
                                                            iteration, learn_rate)
            history["loss"].append(float(loss))
        history["train_accuracy"].append(accuracy(net, XTrain, TTrain))
        history["test_accuracy"].append(accuracy(net, XTest, TTest))
        if hasattr(bar, "set_postfix"):
            bar.set_postfix(loss=f"{history['loss'][-1]:.4f}", test_accuracy=f"{history['test_accuracy'][-1]:.3f}")
    history["iterations"] = iteration
    return net, history
