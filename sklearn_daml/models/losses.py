"""Training losses of the autoencoder family.

Functional forms follow alibi-detect (``elbo``, ``loss_aegmm``,
``loss_vaegmm``, ``loss_adv_ae``, ``loss_distillation``); the class forms
follow DAML (``Elbo``, ``LossGMM``). The GMM terms are evaluated in the dtype
of ``z`` (float64 in the estimators).
"""

import math

import keras
import numpy as np
from keras import ops

from .ensemble import member_pairs
from .gmm import gmm_cov_penalty, gmm_energy, gmm_params

__all__ = [
    "elbo",
    "gmm_loss_terms",
    "loss_aegmm",
    "loss_vaegmm",
    "loss_adv_ae",
    "loss_distillation",
    "Elbo",
    "LossGMM",
]


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
        Standard deviations of the features (the scale of the Gaussian:
        ``Sigma = diag(cov_diag**2)``), as alibi-detect, which passes it as
        ``scale_diag`` of a ``MultivariateNormalDiag``; its table calls the
        argument the variance, but the numbers are those of a scale.
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
    if cov_full is not None:
        cov = ops.cast(cov_full, diff.dtype)
        # the covariance fixes the row width statically, which the
        # triangular solve needs inside a compiled step (unknown batch size)
        diff = ops.reshape(diff, (n, cov.shape[-1]))
    n_features = ops.cast(ops.shape(diff)[-1], diff.dtype)
    half_log_2pi = 0.5 * math.log(2.0 * math.pi)
    if cov_full is not None:
        L = ops.cholesky(cov)
        solved = ops.solve_triangular(L, ops.transpose(diff), lower=True)
        quad = ops.sum(ops.square(solved), axis=0)
        log_det_half = ops.sum(ops.log(ops.diagonal(L)))
    elif cov_diag is not None:
        scale = ops.cast(cov_diag, diff.dtype)
        quad = ops.sum(ops.square(diff / scale), axis=-1)
        log_det_half = ops.sum(ops.log(scale))
    else:
        scale = 1.0 if sim is None else float(sim)
        quad = ops.sum(ops.square(diff), axis=-1) / scale**2
        log_det_half = n_features * math.log(scale)
    return 0.5 * quad + log_det_half + n_features * half_log_2pi


def gmm_loss_terms(z, gamma, cov_jitter=1e-6):
    """Mean sample energy and covariance penalty of a batch under its own GMM.

    With a member axis (``z`` of shape ``(n_samples, n_members, n_dims)``)
    each member's batch has its own mixture, and both terms are averaged
    over the members.
    """
    phi, mu, cov, L, log_det_cov = gmm_params(z, gamma, cov_jitter)
    energy, _ = gmm_energy(z, phi, mu, cov, L, log_det_cov, return_mean=False)
    energy = ops.mean(energy)
    return energy, ops.mean(gmm_cov_penalty(cov))



def loss_aegmm(
    x_true, x_pred, z, gamma, w_energy=0.1, w_cov_diag=0.005, cov_jitter=1e-6
):
    """DAGMM loss: MSE + ``w_energy`` * mean energy + ``w_cov_diag`` * penalty.

    The GMM parameters are those of the batch itself (as in the paper).

    Parameters
    ----------
    x_true, x_pred : tensors of shape (n_samples, ...)
        Batch and its reconstruction. A vectorized ensemble's
        ``x_pred``, ``z`` and ``gamma`` carry the member axis second
        (``(n_samples, n_members, ...)``, see :class:`AEGMM`); the loss is
        then the mean of the members' losses.
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
    x_true, x_pred = member_pairs(x_true, x_pred)
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
    A vectorized ensemble's outputs carry the member axis second, as for
    :func:`loss_aegmm`; the loss is then the mean of the members' losses.

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
    x_true, x_pred = member_pairs(x_true, x_pred)
    recon = elbo(x_true, x_pred, cov_full=cov_full, cov_diag=cov_diag, sim=sim)
    energy, penalty = gmm_loss_terms(z, gamma, cov_jitter)
    gmm = w_energy * energy + w_cov_diag * penalty
    return w_recon * recon + ops.cast(gmm, recon.dtype)


def _sharpen(probs, temperature=1.0):
    """Temperature scaling of class probabilities: ``p ** (1 / T)``, renormalised.

    ``temperature < 1`` sharpens the distribution, ``> 1`` flattens it, and
    ``1`` leaves it as it is (as alibi-detect's adversarial detectors).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_daml.models.losses import _sharpen
    >>> np.asarray(_sharpen(np.array([[0.25, 0.75]]), temperature=0.5)).round(2)
    array([[0.1, 0.9]])
    """
    probs = ops.convert_to_tensor(probs)
    if temperature == 1.0:
        return probs
    probs = ops.power(probs, 1.0 / temperature)
    return probs / ops.sum(probs, axis=-1, keepdims=True)


def _kld_rows(y_true, y_pred):
    """Keras' ``kl_divergence``: ``sum y_true log(y_true / y_pred)`` per row,
    both clipped to ``[epsilon, 1]``, in the dtype of ``y_true``."""
    y_true = ops.convert_to_tensor(y_true)
    return keras.losses.kl_divergence(y_true, ops.cast(y_pred, y_true.dtype))


def loss_adv_ae(
    x_true,
    x_pred,
    model=None,
    model_hl=None,
    w_model=1.0,
    w_recon=0.0,
    w_model_hl=None,
    temperature=1.0,
):
    """Loss of the adversarial autoencoder (alibi-detect's ``AdversarialAE``).

    The autoencoder is trained so that a frozen classifier predicts the same
    on a row and on its reconstruction::

        w_model * (mean_i KL(p(x_i) || p(x_pred_i))
                   + sum_k w_model_hl[k] * mean_i KL(h_k(x_i) || h_k(x_pred_i)))
        + w_recon * (std(KL) / std(se)) * mean(se)

    where ``p`` is ``model``'s prediction, sharpened by ``temperature`` on
    the input side only (``_sharpen``), ``h_k`` are the models of
    ``model_hl`` (class probabilities computed from hidden layers), ``KL``
    is Keras' ``kl_divergence`` (probabilities clipped to ``[1e-7, 1]``) and
    ``se`` are the element-wise squared reconstruction errors. The
    reconstruction term is rescaled by the ratio of the spreads of the two
    terms, so ``w_recon`` weighs them on a comparable scale.

    Parameters
    ----------
    x_true : tensor of shape (n_samples, ...)
        Batch of instances.
    x_pred : tensor of shape (n_samples, ...)
        Their reconstructions by the autoencoder.
    model : callable
        Trained classifier returning class probabilities (a frozen Keras
        model; it is only called, never trained here).
    model_hl : list of callable, default=None
        Models returning probabilities computed from hidden layers of
        ``model``.
    w_model : float, default=1.0
        Weight of the prediction terms.
    w_recon : float, default=0.0
        Weight of the squared reconstruction error term.
    w_model_hl : list of float, default=None
        Weights of the ``model_hl`` terms (ones by default).
    temperature : float, default=1.0
        Temperature of the classifier's predictions on ``x_true``; below 1
        sharpens them.

    Returns
    -------
    loss : scalar tensor

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_daml.models import loss_adv_ae
    >>> def model(x):  # a fixed "classifier": softmax of the two features
    ...     return np.exp(x) / np.exp(x).sum(axis=1, keepdims=True)
    >>> x = np.array([[0.0, 1.0], [2.0, 0.0]])
    >>> float(loss_adv_ae(x, x, model=model))  # same predictions: no loss
    0.0
    >>> round(float(loss_adv_ae(x, x[:, ::-1], model=model)), 4)
    0.9927
    """
    if model is None:
        raise ValueError("loss_adv_ae needs the classifier: pass model=...")
    y_true = _sharpen(model(x_true), temperature)
    y_pred = model(x_pred)
    loss_kld = _kld_rows(y_true, y_pred)
    loss = ops.mean(loss_kld)
    if model_hl is not None:
        weights = [1.0] * len(model_hl) if w_model_hl is None else list(w_model_hl)
        if len(weights) != len(model_hl):
            raise ValueError(
                f"w_model_hl has {len(weights)} weights for {len(model_hl)} models in model_hl."
            )
        for m, w in zip(model_hl, weights):
            w = ops.convert_to_tensor(w, dtype=loss.dtype)
            loss = loss + w * ops.mean(_kld_rows(m(x_true), m(x_pred)))
    loss = w_model * loss
    if w_recon > 0:
        x_true = ops.convert_to_tensor(x_true)
        squared = ops.square(x_true - ops.cast(x_pred, x_true.dtype))
        w_scale = ops.cast(ops.std(loss_kld), squared.dtype) / (ops.std(squared) + 1e-10)
        loss = loss + ops.cast(w_recon * w_scale * ops.mean(squared), loss.dtype)
    return loss


def loss_distillation(x_true, y_pred, model=None, loss_type="kld", temperature=1.0):
    """Loss of model distillation (alibi-detect's ``ModelDistillation``).

    The mean over the batch of the divergence between a frozen classifier's
    predictions on ``x_true`` (sharpened by ``temperature``, see
    ``_sharpen``) and the distilled model's predictions ``y_pred``:
    Keras' ``kl_divergence`` (``loss_type='kld'``) or its
    ``categorical_crossentropy`` on probabilities (``'xent'``, the KL
    divergence plus the entropy of the classifier's prediction).

    Parameters
    ----------
    x_true : tensor of shape (n_samples, ...)
        Batch of data points.
    y_pred : tensor of shape (n_samples, n_classes)
        Class probabilities of the distilled model on ``x_true``.
    model : callable
        Trained classifier returning class probabilities (frozen).
    loss_type : {"kld", "xent"}, default="kld"
        Divergence.
    temperature : float, default=1.0
        Temperature of the classifier's predictions; below 1 sharpens them.

    Returns
    -------
    loss : scalar tensor

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_daml.models import loss_distillation
    >>> def model(x):
    ...     return np.exp(x) / np.exp(x).sum(axis=1, keepdims=True)
    >>> x = np.array([[0.0, 1.0]])
    >>> float(loss_distillation(x, model(x), model=model))
    0.0
    >>> round(float(loss_distillation(x, model(x), model=model, loss_type="xent")), 4)
    0.5822
    """
    if model is None:
        raise ValueError("loss_distillation needs the classifier: pass model=...")
    return ops.mean(_distillation_rows(model(x_true), y_pred, loss_type, temperature))


def _distillation_rows(y_true, y_pred, loss_type="kld", temperature=1.0):
    """Per-row divergence of :func:`loss_distillation`."""
    y_true = _sharpen(y_true, temperature)
    if loss_type == "kld":
        return _kld_rows(y_true, y_pred)
    if loss_type == "xent":
        return keras.losses.categorical_crossentropy(y_true, ops.cast(y_pred, y_true.dtype))
    raise ValueError(f"loss_type must be 'kld' or 'xent'; got {loss_type!r}.")


class Elbo:
    """ELBO reconstruction loss with its covariance fixed at construction.

    Parameters
    ----------
    cov_type : {"cov_full", "cov_diag"} or float, default=1.0
        ``"cov_full"`` or ``"cov_diag"`` estimate the covariance (or its
        diagonal) from ``x``; ``"cov_diag"`` passes the standard deviations
        to :func:`elbo` (its ``cov_diag`` is a scale), as DAML does. A float
        is the shared standard deviation ``sim``.
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
            # elbo's cov_diag is a scale: the standard deviations
            self.kwargs = (
                {"cov_full": cov} if cov_type == "cov_full" else {"cov_diag": np.sqrt(np.diag(cov))}
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
