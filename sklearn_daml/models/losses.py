"""Training losses of the autoencoder family.

Functional forms follow alibi-detect (``elbo``, ``loss_aegmm``,
``loss_vaegmm``); the class forms follow DAML (``Elbo``, ``LossGMM``). The GMM
terms are evaluated in the dtype of ``z`` (float64 in the estimators).
"""

import math

import keras
import numpy as np
from keras import ops

from .gmm import gmm_cov_penalty, gmm_energy, gmm_params

__all__ = ["elbo", "gmm_loss_terms", "loss_aegmm", "loss_vaegmm", "Elbo", "LossGMM"]


def elbo(y_true, y_pred, cov_full=None, cov_diag=None, sim=None):
    """Reconstruction term of the ELBO: mean Gaussian negative log-likelihood.

    ``-mean_i log N(y_i; y_pred_i, Sigma)`` over flattened rows, with the
    covariance ``Sigma`` given by exactly one of ``cov_full``, ``cov_diag`` or
    ``sim``; with none of them, ``Sigma`` is the identity. Values can be
    negative (a density can exceed one).

    Parameters
    ----------
    y_true, y_pred : tensors of shape (n_samples, ...)
    cov_full : tensor of shape (n_features, n_features), default=None
        Full covariance matrix (for example of the training data).
    cov_diag : tensor of shape (n_features,), default=None
        Variances (the diagonal of ``Sigma``).
    sim : float, default=None
        Standard deviation shared by every feature: ``Sigma = sim**2 I``.

    Returns
    -------
    loss : scalar tensor

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_daml.models import elbo
    >>> y = np.array([[0.0, 1.0], [1.0, 0.0]])
    >>> float(elbo(y, y, sim=1.0))  # log(2 pi) for two unit-variance features
    1.8378...
    """
    return ops.mean(gaussian_nll_rows(y_true, y_pred, cov_full, cov_diag, sim))


def gaussian_nll_rows(y_true, y_pred, cov_full=None, cov_diag=None, sim=None):
    """Per-row terms of :func:`elbo`: ``-log N(y_i; y_pred_i, Sigma)``.

    Same arguments as :func:`elbo`, whose value is the mean of these. Robust
    (trimmed) training needs them row by row.

    Returns
    -------
    nll : tensor of shape (n_samples,)

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_daml.models.losses import gaussian_nll_rows
    >>> y = np.zeros((2, 1))
    >>> np.round(np.asarray(gaussian_nll_rows(y, np.array([[0.0], [1.0]]), sim=1.0)), 4)
    array([0.9189, 1.4189])
    """
    given = [c is not None for c in (cov_full, cov_diag, sim)]
    if sum(given) > 1:
        raise ValueError(
            "Pass at most one of cov_full, cov_diag and sim to elbo; got "
            f"{sum(given)}."
        )
    y_true = ops.convert_to_tensor(y_true)
    y_pred = ops.cast(y_pred, y_true.dtype)
    n = ops.shape(y_true)[0]
    diff = ops.reshape(y_true - y_pred, (n, -1))
    n_features = ops.cast(ops.shape(diff)[-1], diff.dtype)
    half_log_2pi = 0.5 * math.log(2.0 * math.pi)
    if cov_full is not None:
        cov = ops.cast(cov_full, diff.dtype)
        L = ops.cholesky(cov)
        solved = ops.solve_triangular(L, ops.transpose(diff), lower=True)
        quad = ops.sum(ops.square(solved), axis=0)
        log_det_half = ops.sum(ops.log(ops.diagonal(L)))
    elif cov_diag is not None:
        var = ops.cast(cov_diag, diff.dtype)
        quad = ops.sum(ops.square(diff) / var, axis=-1)
        log_det_half = 0.5 * ops.sum(ops.log(var))
    else:
        scale = 1.0 if sim is None else float(sim)
        quad = ops.sum(ops.square(diff), axis=-1) / scale**2
        log_det_half = n_features * math.log(scale)
    return 0.5 * quad + log_det_half + n_features * half_log_2pi


def gmm_loss_terms(z, gamma, cov_jitter=1e-6):
    """Mean sample energy and covariance penalty of a batch under its own GMM."""
    phi, mu, cov, L, log_det_cov = gmm_params(z, gamma, cov_jitter)
    energy = ops.mean(gmm_energy(z, phi, mu, cov, L, log_det_cov))
    return energy, gmm_cov_penalty(cov)


def loss_aegmm(
    x_true, x_pred, z, gamma, w_energy=0.1, w_cov_diag=0.005, cov_jitter=1e-6
):
    """DAGMM loss: MSE + ``w_energy`` * mean energy + ``w_cov_diag`` * penalty.

    The GMM parameters are those of the batch itself (as in the paper).

    Parameters
    ----------
    x_true, x_pred : tensors of shape (n_samples, ...)
        Batch and its reconstruction.
    z : tensor of shape (n_samples, n_dims)
        Latent rows (encoding and reconstruction features).
    gamma : tensor of shape (n_samples, n_gmm)
        Soft memberships.
    w_energy, w_cov_diag : float
        Weights of the sample energy and of the covariance penalty.
    cov_jitter : float, default=1e-6
        Diagonal jitter of the Cholesky factorisation.

    Returns
    -------
    loss : scalar tensor, in the dtype of ``x_true``

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_daml.models import loss_aegmm
    >>> rng = np.random.RandomState(0)
    >>> x, z = rng.normal(size=(8, 3)), rng.normal(size=(8, 2))
    >>> gamma = np.full((8, 2), 0.5)
    >>> round(float(loss_aegmm(x, x, z, gamma)), 4)  # perfect reconstruction: GMM terms only
    0.3104
    >>> round(float(loss_aegmm(x, x + 0.1, z, gamma)), 4)  # plus the MSE, 0.01
    0.3204
    """
    x_pred = ops.cast(x_pred, x_true.dtype)
    recon = ops.mean(ops.square(x_true - x_pred))
    energy, penalty = gmm_loss_terms(z, gamma, cov_jitter)
    gmm = w_energy * energy + w_cov_diag * penalty
    return recon + ops.cast(gmm, recon.dtype)


def loss_vaegmm(
    x_true,
    x_pred,
    z,
    gamma,
    w_recon=1e-7,
    w_energy=0.1,
    w_cov_diag=0.005,
    cov_full=None,
    cov_diag=None,
    sim=0.05,
    cov_jitter=1e-6,
):
    """VAEGMM loss: ``w_recon`` * ELBO + ``w_energy`` * energy + penalty.

    The KL term of the VAE is not part of this function: the model adds it as
    a model loss. Where ``cov_full`` or ``cov_diag`` is given, it replaces
    ``sim`` (alibi-detect raises in that case because ``sim`` has a default).

    Returns
    -------
    loss : scalar tensor

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_daml.models import loss_vaegmm
    >>> rng = np.random.RandomState(0)
    >>> x, z = rng.normal(size=(8, 3)), rng.normal(size=(8, 2))
    >>> gamma = np.full((8, 2), 0.5)
    >>> round(float(loss_vaegmm(x, x, z, gamma)), 4)
    0.3104
    """
    if cov_full is not None or cov_diag is not None:
        sim = None
    recon = elbo(x_true, x_pred, cov_full=cov_full, cov_diag=cov_diag, sim=sim)
    energy, penalty = gmm_loss_terms(z, gamma, cov_jitter)
    gmm = w_energy * energy + w_cov_diag * penalty
    return w_recon * recon + ops.cast(gmm, recon.dtype)


class Elbo:
    """ELBO reconstruction loss with its covariance fixed at construction.

    Parameters
    ----------
    cov_type : {"cov_full", "cov_diag"} or float, default=1.0
        ``"cov_full"`` or ``"cov_diag"`` estimate the covariance (or its
        diagonal) from ``x``; a float is the shared standard deviation
        ``sim``.
    x : array-like of shape (n_samples, ...), default=None
        Data to estimate the covariance from; required for the string types.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_daml.models import Elbo
    >>> loss = Elbo(0.5)
    >>> y = np.zeros((4, 3))
    >>> round(float(loss(y, y + 0.5)), 4)
    2.1774
    """

    def __init__(self, cov_type=1.0, x=None):
        if isinstance(cov_type, str):
            if cov_type not in ("cov_full", "cov_diag"):
                raise ValueError(
                    "cov_type must be 'cov_full', 'cov_diag' or a float; "
                    f"got {cov_type!r}."
                )
            if x is None:
                raise ValueError(f"Elbo(cov_type={cov_type!r}) needs the data x.")
            x = np.asarray(x, dtype=np.float64)
            cov = np.atleast_2d(np.cov(x.reshape(len(x), -1), rowvar=False))
            self.kwargs = (
                {"cov_full": cov} if cov_type == "cov_full" else {"cov_diag": np.diag(cov)}
            )
        else:
            self.kwargs = {"sim": float(cov_type)}
        self.cov_type = cov_type

    def __call__(self, y_true, y_pred):
        return elbo(y_true, y_pred, **self.kwargs)


class LossGMM:
    """AEGMM/VAEGMM loss as a callable ``(x_true, x_pred, z, gamma) -> loss``.

    With ``elbo=None`` the reconstruction term is the mean squared error
    (:func:`loss_aegmm`); with an :class:`Elbo` it is ``w_recon`` times that
    ELBO (:func:`loss_vaegmm`).

    Parameters
    ----------
    w_recon : float, default=1e-7
        Weight of the ELBO term (ignored with ``elbo=None``).
    w_energy : float, default=0.1
        Weight of the mean sample energy.
    w_cov_diag : float, default=0.005
        Weight of the covariance penalty.
    elbo : Elbo, default=None
        Reconstruction loss of a VAEGMM.
    cov_jitter : float, default=1e-6
        Diagonal jitter of the Cholesky factorisation.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_daml.models import Elbo, LossGMM, loss_aegmm, loss_vaegmm
    >>> rng = np.random.RandomState(0)
    >>> x, z = rng.normal(size=(8, 3)), rng.normal(size=(8, 2))
    >>> gamma = np.full((8, 2), 0.5)
    >>> float(LossGMM()(x, x, z, gamma)) == float(loss_aegmm(x, x, z, gamma))
    True
    >>> loss = LossGMM(elbo=Elbo(0.05))
    >>> float(loss(x, x + 0.1, z, gamma)) == float(loss_vaegmm(x, x + 0.1, z, gamma, sim=0.05))
    True
    """

    def __init__(self, w_recon=1e-7, w_energy=0.1, w_cov_diag=0.005, elbo=None, cov_jitter=1e-6):
        self.w_recon = w_recon
        self.w_energy = w_energy
        self.w_cov_diag = w_cov_diag
        self.elbo = elbo
        self.cov_jitter = cov_jitter

    def __call__(self, x_true, x_pred, z, gamma):
        if self.elbo is None:
            return loss_aegmm(
                x_true, x_pred, z, gamma, self.w_energy, self.w_cov_diag, self.cov_jitter
            )
        return loss_vaegmm(
            x_true,
            x_pred,
            z,
            gamma,
            w_recon=self.w_recon,
            w_energy=self.w_energy,
            w_cov_diag=self.w_cov_diag,
            cov_jitter=self.cov_jitter,
            **{"sim": None, **self.elbo.kwargs},
        )
