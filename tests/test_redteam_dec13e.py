"""Red team, Dec 13 (e): training loops ported from MATLAB (dicts, nested lists, dlnetwork tables with
batch-norm state, custom layers, dlfeval and dlaccelerate over many iterations with varying minibatches,
learning-rate schedules, hand-written clipping and weight decay, float32), each iteration's loss,
gradients, parameters and optimizer state checked against plain numpy.

Found: adamupdate and rmspropupdate took complex parameters and squared the gradient as ``g*g`` (not
``|g|^2`` nor per part): an imaginary gradient ``0.5i`` gave a negative "squared" average ``-0.25``, whose
square root is imaginary, so the step moved the REAL part of the parameter (silently wrong; now refused);
sgdmupdate cast a complex gradient of a real parameter to real (a ComplexWarning, the imaginary part lost;
now refused); an optimizer state given as a number for a structure of parameters failed with "'int'
object is not subscriptable" from inside the walk (now a clear TypeError).
"""
import sys
import os

import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(__file__))
from gradcheck import assert_close, numerical_gradient  # noqa: E402

import sct  # noqa: E402
from sct import (adamupdate, batchNormalizationLayer, dlaccelerate, dlarray, dlfeval, dlgradient,  # noqa: E402
                 dlnetwork, dlupdate, extractdata, featureInputLayer, forward, fullyConnectedLayer,
                 reluLayer, rmspropupdate, sgdmupdate)


def _np(v):
    return np.asarray(extractdata(v)) if isinstance(v, dlarray) else np.asarray(v)


# --- complex parameters in Adam / RMSProp ------------------------------------------------------------


def test_adam_and_rmsprop_refuse_complex_parameters():
    p = {"w": dlarray(np.array([1 + 1j, 2.0]))}
    g = {"w": dlarray(np.array([0.5j, 1.0]))}
    with pytest.raises(TypeError, match="adamupdate: complex"):
        adamupdate(p, g, None, None, 1, 0.1)
    with pytest.raises(TypeError, match="rmspropupdate: complex"):
        rmspropupdate(p, g, None, 0.1)
    for plain in (np.array([1 + 1j, 2.0]), dlarray(np.array([1 + 1j, 2.0]))):      # the fast paths too
        for state in (None, dlarray(np.zeros(2, complex))):
            with pytest.raises(TypeError, match="complex"):
                adamupdate(plain, dlarray(np.array([0.5j, 1.0])), state, state, 2)


def test_adam_refuses_a_complex_gradient_of_a_real_parameter():
    with pytest.raises(TypeError, match="complex gradient for a real parameter"):
        adamupdate(np.array([1.0, 2.0]), np.array([1j, 1.0]), None, None, 1)
    with pytest.raises(TypeError, match="complex gradient for a real parameter"):
        sgdmupdate(np.array([1.0, 2.0]), np.array([1j, 1.0]), None, 0.1)


def test_sgdm_with_complex_parameters_moves_each_part_by_its_gradient():
    """sgdm is linear: with sct's convention (gradient dL/dRe + i dL/dIm) each part descends on its own."""
    z0 = np.array([1 + 1j, -0.5 + 2j])
    c = np.array([0.3 - 0.2j, 1.0 + 0.5j])

    def loss_fn(z):
        d = z - c
        loss = np.sum(np.real(d * np.conj(d)))
        return loss, dlgradient(loss, z)
    z, vel, Z, V = dlarray(z0), None, z0.copy(), np.zeros(2, complex)
    for it in range(1, 6):
        loss, g = dlfeval(loss_fn, z)
        G = 2 * (Z - c)
        assert_close(_np(g), G, 1e-12, 1e-12)
        z, vel = sgdmupdate(z, g, vel, 0.1, 0.5)
        V = 0.5 * V - 0.1 * G
        Z = Z + V
        assert_close(_np(z), Z, 1e-12, 1e-12)


@pytest.mark.parametrize("update", ["adam", "sgdm", "rms"])
def test_a_number_as_the_state_of_a_structure_is_a_clear_error(update):
    p = {"w": dlarray(np.array([1.0, 2.0, 3.0]))}
    g = {"w": dlarray(np.array([0.1, -0.2, 0.3]))}
    with pytest.raises(TypeError, match="start an optimizer state with None"):
        if update == "adam":
            adamupdate(p, g, 0, 0, 1)
        elif update == "sgdm":
            sgdmupdate(p, g, 0)
        else:
            rmspropupdate(p, g, 0)
