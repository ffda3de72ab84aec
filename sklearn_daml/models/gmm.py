"""Gaussian mixture maths of DAGMM (Zong et al., ICLR 2018).

Soft memberships ``gamma`` (n_samples, n_gmm) from an estimation network turn
the latent rows ``z`` (n_samples, n_dims) into mixture parameters; the sample
energy is the negative log-density of a row under that mixture. Every function
works on any float dtype; the estimators use float64.

The parameters are sums over rows, so they can be accumulated batch by batch
with :func:`gmm_sufficient_statistics` and finalised once with
:func:`gmm_params_from_statistics`; :func:`gmm_params` is the one-shot form.

Independent mixtures side by side (the members of a vectorized ensemble):
``z`` of shape ``(n_samples, *batch, n_dims)`` and ``gamma`` of shape
``(n_samples, *batch, n_gmm)`` give one mixture per index of the ``batch``
axes, with parameters of shape ``(*batch, n_gmm, ...)``, energies of shape
``(n_samples, *batch)``; the sample axis stays first, as Keras batches.
"""

import math

from keras import ops

__all__ = [
    "gmm_params",
    "gmm_energy",
    "gmm_cov_penalty",
    "gmm_sufficient_statistics",
    "gmm_params_from_statistics",
    "gmm_responsibilities",
]

_EPS = 1e-12


def gmm_params(z, gamma, cov_jitter=1e-6):
    """Mixture weights, means and covariances from soft memberships.

    Parameters
    ----------
    z : tensor of shape (n_samples, n_dims)
        Latent rows (encoding and reconstruction features).
    gamma : tensor of shape (n_samples, n_gmm)
        Soft membership of each row in each component; rows sum to one.
    cov_jitter : float, default=1e-6
        Added to the diagonal of each covariance before the Cholesky
        factorisation, so that a collapsed component does not make it fail.

    Returns
    -------
    phi : tensor of shape (n_gmm,)
        Mixture weights, ``sum_i gamma_ik / n``.
    mu : tensor of shape (n_gmm, n_dims)
        Component means.
    cov : tensor of shape (n_gmm, n_dims, n_dims)
        Component covariances (without the jitter).
    L : tensor of shape (n_gmm, n_dims, n_dims)
        Lower Cholesky factors of ``cov + cov_jitter * I``.
    log_det_cov : tensor of shape (n_gmm,)
        ``log |cov + cov_jitter * I|``.

    Examples
    --------
    Two components, each owning two rows:

    >>> import numpy as np
    >>> from sklearn_daml.models import gmm_params
    >>> z = np.array([[0.0], [1.0], [10.0], [11.0]])
    >>> gamma = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.0, 1.0]])
    >>> phi, mu, cov, L, log_det_cov = gmm_params(z, gamma)
    >>> np.asarray(phi), np.asarray(mu).ravel(), np.asarray(cov).ravel()
    (array([0.5, 0.5]), array([ 0.5, 10.5]), array([0.25, 0.25]))
    """
    n = ops.cast(ops.shape(z)[0], z.dtype)
    sum_gamma = ops.sum(gamma, axis=0)
    safe_sum = ops.maximum(sum_gamma, _EPS)
    phi = sum_gamma / n
    mu = ops.einsum("n...k,n...d->...kd", gamma, z) / safe_sum[..., None]
    diff = z[..., None, :] - mu  # (n, *batch, k, d)
    cov = ops.einsum("n...k,n...kd,n...ke->...kde", gamma, diff, diff) / safe_sum[..., None, None]
    L, log_det_cov = _cholesky(cov, cov_jitter)
    return phi, mu, cov, L, log_det_cov


def gmm_sufficient_statistics(z, gamma):
    """Per-batch sums from which :func:`gmm_params_from_statistics` finishes.

    Parameters
    ----------
    z : tensor of shape (n_samples, n_dims)
    gamma : tensor of shape (n_samples, n_gmm)

    Returns
    -------
    n : scalar tensor
        Number of rows.
    sum_gamma : tensor of shape (n_gmm,)
    sum_gamma_z : tensor of shape (n_gmm, n_dims)
    sum_gamma_zz : tensor of shape (n_gmm, n_dims, n_dims)
        Sums over rows of ``gamma_ik``, ``gamma_ik z_i`` and
        ``gamma_ik z_i z_i^T``. Statistics of several batches add up.

    Examples
    --------
    Statistics of two batches add up to those of the whole set:

    >>> import numpy as np
    >>> from sklearn_daml.models import (
    ...     gmm_params, gmm_params_from_statistics, gmm_sufficient_statistics)
    >>> rng = np.random.RandomState(0)
    >>> z, gamma = rng.normal(size=(6, 2)), rng.dirichlet([1.0, 1.0], size=6)
    >>> batches = [gmm_sufficient_statistics(z[:3], gamma[:3]),
    ...            gmm_sufficient_statistics(z[3:], gamma[3:])]
    >>> total = [a + b for a, b in zip(*batches)]
    >>> bool(np.allclose(gmm_params_from_statistics(*total)[1], gmm_params(z, gamma)[1]))
    True
    """
    n = ops.cast(ops.shape(z)[0], z.dtype)
    sum_gamma = ops.sum(gamma, axis=0)
    sum_gamma_z = ops.einsum("n...k,n...d->...kd", gamma, z)
    sum_gamma_zz = ops.einsum("n...k,n...d,n...e->...kde", gamma, z, z)
    return n, sum_gamma, sum_gamma_z, sum_gamma_zz


def gmm_params_from_statistics(
    n, sum_gamma, sum_gamma_z, sum_gamma_zz, cov_jitter=1e-6, prior=False
):
    """Mixture parameters from accumulated sufficient statistics.

    Same result as :func:`gmm_params` on the concatenated batches (up to
    rounding: accumulate in float64).

    Parameters
    ----------
    n, sum_gamma, sum_gamma_z, sum_gamma_zz : tensors
        As returned by :func:`gmm_sufficient_statistics`, summed over
        batches.
    cov_jitter : float, default=1e-6
        As in :func:`gmm_params`.
    prior : bool, default=False
        Whether to return the posterior mode under the conjugate prior of
        Fraley and Raftery (2007), the default prior of R's ``mclust``,
        instead of the maximum-likelihood estimate. The prior is centred on
        the pooled rows: means shrink towards their mean with weight 0.01,
        and each covariance is pulled towards their covariance divided by
        ``n_gmm ** (2 / n_dims)`` with ``n_dims + 2`` degrees of freedom.
        A component that owns fewer rows than dimensions then keeps a
        full-rank covariance instead of collapsing onto its rows (which
        gives them a spuriously high density); one that owns many rows is
        almost unchanged. Use it when the mixture is fitted to few rows or
        has many components.

    Returns
    -------
    phi, mu, cov, L, log_det_cov
        As in :func:`gmm_params`.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_daml.models import gmm_params_from_statistics, gmm_sufficient_statistics
    >>> z = np.array([[0.0], [1.0], [10.0], [11.0]])
    >>> gamma = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.0, 1.0]])
    >>> phi, mu, cov, L, log_det_cov = gmm_params_from_statistics(
    ...     *gmm_sufficient_statistics(z, gamma))
    >>> np.asarray(mu).ravel()
    array([ 0.5, 10.5])
    """
    safe_sum = ops.maximum(sum_gamma, _EPS)
    phi = sum_gamma / n
    mu = sum_gamma_z / safe_sum[..., None]
    second_moment = sum_gamma_zz / safe_sum[..., None, None]
    cov = second_moment - mu[..., :, None] * mu[..., None, :]
    if prior:
        mu, cov = _posterior_mode(sum_gamma, sum_gamma_z, sum_gamma_zz, mu, cov)
    cov = 0.5 * (cov + ops.swapaxes(cov, -1, -2))
    L, log_det_cov = _cholesky(cov, cov_jitter)
    return phi, mu, cov, L, log_det_cov


# the default conjugate prior of mclust (Fraley and Raftery, "Bayesian
# regularization for normal mixture estimation and model-based clustering",
# Journal of Classification, 2007): the weight of the prior mean
_PRIOR_SHRINKAGE = 0.01


def _posterior_mode(sum_gamma, sum_gamma_z, sum_gamma_zz, mu, cov):
    """Means and covariances at the mode of the posterior under
    Fraley and Raftery's conjugate prior, from the statistics and the
    maximum-likelihood ``mu`` and ``cov``.

    Prior mean: the pooled mean ``m`` with weight ``kappa``; inverse-Wishart
    covariance prior with ``nu = d + 2`` degrees of freedom and scale
    ``Lambda``, the pooled covariance over ``n_gmm ** (2 / d)``:
    ``mu_k = (n_k xbar_k + kappa m) / (n_k + kappa)`` and
    ``cov_k = (Lambda + kappa n_k / (n_k + kappa) (xbar_k - m)(xbar_k - m)^T
    + W_k) / (n_k + nu + d + 2)``, with ``W_k = n_k cov_k`` the scatter.
    """
    n_gmm, n_dims = ops.shape(sum_gamma_z)[-2], ops.shape(sum_gamma_z)[-1]
    total = ops.sum(sum_gamma, axis=-1)[..., None]
    pooled_mean = ops.sum(sum_gamma_z, axis=-2) / total
    pooled_cov = (
        ops.sum(sum_gamma_zz, axis=-3) / total[..., None]
        - pooled_mean[..., :, None] * pooled_mean[..., None, :]
    )
    scale = pooled_cov / n_gmm ** (2.0 / n_dims)
    kappa = _PRIOR_SHRINKAGE
    deviation = mu - pooled_mean[..., None, :]
    between = (kappa * sum_gamma / (sum_gamma + kappa))[..., None, None] * (
        deviation[..., :, None] * deviation[..., None, :]
    )
    scatter = sum_gamma[..., None, None] * cov
    nu = n_dims + 2
    cov = (scale[..., None, :, :] + between + scatter) / (
        sum_gamma + nu + n_dims + 2
    )[..., None, None]
    mu = (sum_gamma_z + kappa * pooled_mean[..., None, :]) / (sum_gamma + kappa)[..., None]
    return mu, cov


def gmm_energy(z, phi, mu, cov, L, log_det_cov, return_mean=True):
    """Sample energy: negative log-density of each row under the mixture.

    ``E(z) = -log sum_k phi_k N(z; mu_k, cov_k)``, computed stably with a
    log-sum-exp over components and triangular solves with ``L``. The
    signature and the returned pair are alibi-detect's.

    Parameters
    ----------
    z : tensor of shape (n_samples, n_dims)
        Rows, or ``(n_samples, *batch, n_dims)`` for mixtures with batch
        axes (one mixture per ensemble member).
    phi, mu, cov, L, log_det_cov : tensors
        Mixture parameters as returned by :func:`gmm_params`.
    return_mean : bool, default=True
        Whether to return the mean energy over the rows (a DAGMM loss term)
        instead of each row's energy (an outlier score).

    Returns
    -------
    energy : tensor of shape ``(n_samples, *batch)``, or ``batch`` with ``return_mean``
        The energy of each row, or its mean over the rows.
    cov_diag : tensor of shape ``batch``
        The covariance penalty ``sum_k sum_d 1 / cov_k[d, d]``
        (:func:`gmm_cov_penalty`).

    Examples
    --------
    A row between the two components has a much higher energy than a row at
    a component's mean:

    >>> import numpy as np
    >>> from sklearn_daml.models import gmm_energy, gmm_params
    >>> z = np.array([[0.0], [1.0], [10.0], [11.0]])
    >>> gamma = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.0, 1.0]])
    >>> params = gmm_params(z, gamma)
    >>> energy, cov_diag = gmm_energy(np.array([[0.5], [5.5]]), *params, return_mean=False)
    >>> np.round(np.asarray(energy), 2)
    array([ 0.92, 50.23])
    >>> mean_energy, cov_diag = gmm_energy(np.array([[0.5], [5.5]]), *params)
    >>> round(float(mean_energy), 3), round(float(cov_diag), 3)
    (25.572, 8.0)
    """
    energy = -ops.logsumexp(_component_log_prob(z, phi, mu, L, log_det_cov), axis=-2)
    energy = ops.moveaxis(energy, -1, 0)
    if return_mean:
        energy = ops.mean(energy, axis=0)
    return energy, gmm_cov_penalty(cov)


def gmm_responsibilities(z, phi, mu, L, log_det_cov):
    """Posterior membership of each row in each component (EM's E-step).

    ``gamma[i, k] = phi_k N(z_i; mu_k, cov_k) / sum_j phi_j N(z_i; mu_j, cov_j)``,
    from the same log-densities as :func:`gmm_energy`. With
    :func:`gmm_sufficient_statistics` and :func:`gmm_params_from_statistics`
    (the M-step) it makes one EM step of the mixture.

    Parameters
    ----------
    z : tensor of shape (n_samples, n_dims)
    phi, mu, L, log_det_cov : tensors
        Mixture parameters as returned by :func:`gmm_params`.

    Returns
    -------
    gamma : tensor of shape (n_samples, n_gmm)
        Rows sum to one.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_daml.models import gmm_params, gmm_responsibilities
    >>> z = np.array([[0.0], [1.0], [10.0], [11.0]])
    >>> gamma = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.0, 1.0]])
    >>> phi, mu, cov, L, log_det_cov = gmm_params(z, gamma)
    >>> np.round(np.asarray(gmm_responsibilities(
    ...     np.array([[0.5], [10.5]]), phi, mu, L, log_det_cov)), 3)
    array([[1., 0.],
           [0., 1.]])
    """
    log_prob = _component_log_prob(z, phi, mu, L, log_det_cov)
    if log_prob.shape[-2] == 1:  # one component: Keras warns on a softmax over one value
        gamma = ops.exp(log_prob - log_prob)
    else:
        gamma = ops.softmax(log_prob, axis=-2)
    return ops.moveaxis(gamma, -1, 0)


def _component_log_prob(z, phi, mu, L, log_det_cov):
    """``log(phi_k N(z_i; mu_k, cov_k))`` of shape ``(*batch, n_gmm, n_samples)``,
    with triangular solves against the Cholesky factors ``L``."""
    n_dims = ops.shape(z)[-1]
    rows = ops.moveaxis(z, 0, -2)  # (*batch, n, d)
    diff = rows[..., None, :, :] - mu[..., :, None, :]  # (*batch, k, n, d)
    solved = ops.solve_triangular(L, ops.swapaxes(diff, -1, -2), lower=True)
    mahalanobis = ops.sum(ops.square(solved), axis=-2)  # (*batch, k, n)
    log_2pi = ops.cast(n_dims, z.dtype) * math.log(2.0 * math.pi)
    # an empty component (phi = 0) has no mass: log-weight -inf, not log(eps),
    # or its degenerate covariance creates a density spike at its mean
    has_mass = phi > 0
    log_phi = ops.where(has_mass, ops.log(ops.where(has_mass, phi, 1.0)), -float("inf"))
    return log_phi[..., None] - 0.5 * (mahalanobis + log_2pi + log_det_cov[..., None])


def gmm_cov_penalty(cov):
    """Sum of inverse covariance diagonals, ``sum_k sum_d 1 / cov_k[d, d]``.

    Penalises components that collapse onto a point (DAGMM's ``P(Sigma)``).
    For covariances of shape ``(*batch, n_gmm, n_dims, n_dims)`` it is one
    sum per mixture, of shape ``batch``.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_daml.models import gmm_cov_penalty
    >>> float(gmm_cov_penalty(np.array([[[2.0, 0.0], [0.0, 4.0]]])))
    0.75
    """
    diag = ops.diagonal(cov, axis1=-2, axis2=-1)
    return ops.sum(1.0 / ops.maximum(diag, _EPS), axis=(-2, -1))


def _cholesky(cov, cov_jitter):
    n_dims = ops.shape(cov)[-1]
    eye = ops.eye(n_dims, dtype=cov.dtype)
    L = ops.cholesky(cov + cov_jitter * eye)
    log_det_cov = 2.0 * ops.sum(ops.log(ops.diagonal(L, axis1=-2, axis2=-1)), axis=-1)
    return L, log_det_cov
