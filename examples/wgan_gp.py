"""A Wasserstein GAN with gradient penalty (MATLAB's "Train Wasserstein GAN with Gradient Penalty
(WGAN-GP)"), on 2-D points drawn from a ring of eight Gaussians.

The generator and the critic are ``dlnetwork``s.  The critic's loss has the gradient penalty of
Gulrajani et al.: ``dlgradient`` of the critic's output with respect to its input at points
between real and generated samples (``EnableHigherDerivatives=True``), whose norm enters the loss,
so that ``dlgradient(lossD, netD.Learnables)`` differentiates that gradient again.  The critic takes
``num_critic`` Adam steps per generator step, as in the paper and MATLAB's example.
"""
from __future__ import annotations

import numpy as np

from sct import (adamupdate, dlarray, dlfeval, dlgradient, dlnetwork, extractdata, featureInputLayer, forward,
                 fullyConnectedLayer, leakyReluLayer, predict)

from . import no_progress


def ring_of_gaussians(n, rng, modes=8, radius=2.0, std=0.05):
    """``n`` points (n, 2) from ``modes`` Gaussians of standard deviation ``std`` on a circle."""
    angles = 2 * np.pi * rng.integers(0, modes, n) / modes
    centres = radius * np.stack([np.cos(angles), np.sin(angles)], axis=1)
    return centres + std * rng.standard_normal((n, 2))


def make_generator(latent=2, hidden=64, seed=0):
    return dlnetwork([featureInputLayer(latent), fullyConnectedLayer(hidden), leakyReluLayer(0.2),
                      fullyConnectedLayer(hidden), leakyReluLayer(0.2), fullyConnectedLayer(2)], Seed=seed)


def make_critic(hidden=64, seed=1):
    return dlnetwork([featureInputLayer(2), fullyConnectedLayer(hidden), leakyReluLayer(0.2),
                      fullyConnectedLayer(hidden), leakyReluLayer(0.2), fullyConnectedLayer(1)], Seed=seed)


def gradient_penalty(netD, XHat, lambda_):
    """lambda * mean((||dD/dXHat|| - 1)^2), the gradient taken per point (rows of XHat)."""
    YHat = forward(netD, XHat)[0]
    gradientsHat = dlgradient(np.sum(YHat), XHat, EnableHigherDerivatives=True)
    gradientsHatNorm = np.sqrt(np.sum(gradientsHat ** 2, axis=1) + 1e-10)
    return lambda_ * np.mean((gradientsHatNorm - 1) ** 2)


def model_loss_d(netD, netG, X, Z, epsilon, lambda_):
    """MATLAB's modelLossD: the critic's Wasserstein loss plus the gradient penalty at
    ``XHat = epsilon X + (1 - epsilon) XGenerated``; its gradients with respect to the critic's
    learnables."""
    XGenerated = forward(netG, Z)[0]
    YPred = forward(netD, X)[0]
    YPredGenerated = forward(netD, XGenerated)[0]
    lossDUnregularized = np.mean(YPredGenerated - YPred)
    XHat = epsilon * X + (1 - epsilon) * XGenerated
    lossD = lossDUnregularized + gradient_penalty(netD, XHat, lambda_)
    gradientsD = dlgradient(lossD, netD.Learnables)
    return lossD, lossDUnregularized, gradientsD


def model_loss_g(netG, netD, Z):
    """MATLAB's modelLossG: -mean of the critic's score of generated points; gradients with respect
    to the generator's learnables."""
    XGenerated = forward(netG, Z)[0]
    YPredGenerated = forward(netD, XGenerated)[0]
    lossG = -np.mean(YPredGenerated)
    gradientsG = dlgradient(lossG, netG.Learnables)
    return lossG, gradientsG


def train(iterations=300, mini_batch_size=128, num_critic=5, lambda_=10.0, learn_rate=1e-3,
          grad_decay=0.5, sq_grad_decay=0.9, seed=0, progress=no_progress):
    """The training loop: ``num_critic`` critic steps per generator step (Adam with MATLAB's example's
    decay rates 0.5 and 0.9).  Returns ``netG, netD`` and a history dict: ``loss_d``, ``loss_g``,
    ``wasserstein`` (the critic's estimate of the Wasserstein distance, -lossDUnregularized) per
    generator iteration."""
    rng = np.random.default_rng(seed)
    netG, netD = make_generator(seed=seed), make_critic(seed=seed + 1)
    avgG = avgSqG = avgD = avgSqD = None
    history = {"loss_d": [], "loss_g": [], "wasserstein": []}
    latent = netG.Layers[0].InputSize[0]
    iteration_d = 0
    bar = progress(range(1, iterations + 1))
    for iteration in bar:
        for _ in range(num_critic):
            iteration_d += 1
            X = dlarray(ring_of_gaussians(mini_batch_size, rng))
            Z = dlarray(rng.standard_normal((mini_batch_size, latent)))
            epsilon = rng.uniform(size=(mini_batch_size, 1))
            lossD, lossDUnregularized, gradientsD = dlfeval(model_loss_d, netD, netG, X, Z, epsilon, lambda_)
            netD, avgD, avgSqD = adamupdate(netD, gradientsD, avgD, avgSqD, iteration_d, learn_rate,
                                            grad_decay, sq_grad_decay)
        Z = dlarray(rng.standard_normal((mini_batch_size, latent)))
        lossG, gradientsG = dlfeval(model_loss_g, netG, netD, Z)
        netG, avgG, avgSqG = adamupdate(netG, gradientsG, avgG, avgSqG, iteration, learn_rate,
                                        grad_decay, sq_grad_decay)
        history["loss_d"].append(float(lossD))
        history["loss_g"].append(float(lossG))
        history["wasserstein"].append(-float(lossDUnregularized))
        if hasattr(bar, "set_postfix") and iteration % 10 == 0:
            bar.set_postfix(wasserstein=f"{history['wasserstein'][-1]:.3f}")
    return netG, netD, history


def generate(netG, n, rng):
    """``n`` generated points (n, 2), a plain array."""
    return extractdata(predict(netG, rng.standard_normal((n, netG.Layers[0].InputSize[0]))))


def distance_to_modes(points, modes=8, radius=2.0):
    """The mean distance of ``points`` to the nearest centre of the ring (the data's is about 0.06)."""
    angles = 2 * np.pi * np.arange(modes) / modes
    centres = radius * np.stack([np.cos(angles), np.sin(angles)], axis=1)
    return float(np.mean(np.min(np.linalg.norm(points[:, None, :] - centres[None], axis=2), axis=1)))
