"""MATLAB's custom-training-loop examples ported to sct, one module each.

- ``image_classifier``: a CNN (convolution, batch normalisation, pooling, dropout) on the 8x8 digits
  ("Train Network Using Custom Training Loop").
- ``burgers_pinn``: a physics-informed network for Burgers' equation
  ("Solve Partial Differential Equations Using Deep Learning").
- ``wgan_gp``: a Wasserstein GAN with gradient penalty
  ("Train Wasserstein GAN with Gradient Penalty (WGAN-GP)").
- ``sequence_lstm``: sequence classification with an LSTM
  ("Train Sequence Classification Network Using Custom Training Loop").

Each module has the model-loss function written as MATLAB's example writes it, a ``train`` function
running the custom training loop (``progress=`` wraps the loop's iterable, e.g. with tqdm) and
returns what the notebooks in ``notebooks/`` plot.  ``SCT_EXAMPLES_QUICK=1`` in the environment
makes the notebooks train shorter (CI).
"""
import os

import numpy as np


def quick() -> bool:
    """True when the examples should train briefly (the tests and CI set SCT_EXAMPLES_QUICK=1)."""
    return os.environ.get("SCT_EXAMPLES_QUICK", "") not in ("", "0")


def no_progress(iterable, **kwargs):
    """The progress wrapper used when none is given: the iterable itself."""
    return iterable


def digits(TestFraction=0.25, Seed=0, dtype=np.float64):
    """The 8x8 handwritten digits as ``XTrain, TTrain, XTest, TTest`` (images (N, 8, 8, 1) in [0, 1],
    labels 0-9): ``sct.load_digits`` (scikit-learn's copy), or the copy in notebooks/data without
    scikit-learn."""
    try:
        import sklearn  # noqa: F401
    except ImportError:
        from sct.runtime.data import partition
        data = np.load(os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                    "notebooks", "data", "digits.npz"))
        X = (np.asarray(data["images"], dtype=dtype) / 16.0)[..., None]
        T = np.asarray(data["labels"], dtype=np.int64)
        test, train = partition(len(T), TestFraction, Seed)
        return X[train], T[train], X[test], T[test]
    from sct import load_digits
    return load_digits(TestFraction=TestFraction, Seed=Seed, dtype=dtype)


def progress_bar():
    """A progress-bar wrapper for training loops: tqdm's notebook widget (with ipywidgets), tqdm's
    text bar, or none (the iterable itself) when tqdm is not installed."""
    try:
        import ipywidgets  # noqa: F401
        from tqdm.notebook import tqdm
        return tqdm
    except ImportError:
        pass
    try:
        from tqdm import tqdm
        return tqdm
    except ImportError:
        return no_progress
