"""Issue 9 experiment: robust EM for the GMM detectors' mixtures (trimmed
likelihood, a noise component; run by hand).

Each run trains the default detector once with ``em_steps=0`` (the mixture
DAGMM's memberships give), then refines copies of that mixture by 10 EM
steps in each of the ways below and scores each, so the variants differ
only by the EM:

- ``em``: the detector's own EM steps (the default, ``em_steps=10``);
- ``trimK``: trimmed-likelihood EM (Neykov et al., "Robust fitting of
  mixtures using the trimmed likelihood estimator", CSDA 2007): each step's
  M-step leaves out the share ``K / 100`` of the training rows with the
  highest energy under the current mixture, member by member, so the
  mixture is not pulled towards the outliers among the training rows;
- ``noise``: EM of the mixture with one more component, a uniform density
  over the bounding box of each member's training features (the "noise
  component" of Banfield & Raftery, Biometrics 1993, as in mclust): a row's
  weight in the Gaussians' M-step is its posterior of not being noise, and
  the noise share is estimated with the rest (from 5%), so the share that is
  left out adapts to the data instead of being fixed. The scores are the
  Gaussians' energy alone.

The members' energy moments are refitted after each variant's steps. One
JSON line per table, seed, regime and variant::

    python -m benchmarks.experiments.gmm_trimmed_em AEGMM seeds=0,1,2 trims=5,10
    python -m benchmarks.experiments.gmm_trimmed_em AEGMM trims=10,20 noise=1
"""
import json
import sys

import numpy as np
import tensorflow as tf
from sklearn.metrics import average_precision_score, roc_auc_score

from sklearn_daml._base import _summed
from sklearn_daml.models.gmm import (
    gmm_energy,
    gmm_responsibilities,
    gmm_sufficient_statistics,
)

from .variants import DETECTORS, split_args, splits

_NAMES = ("phi_", "mu_", "cov_", "L_", "log_det_cov_")


def _mixture_variables(det):
    """Variables holding ``det``'s mixture, for E-steps compiled once."""
    return [tf.Variable(getattr(det, name), trainable=False) for name in _NAMES]


def _load(mixture, det):
    for variable, name in zip(mixture, _NAMES):
        variable.assign(getattr(det, name))


def trimmed_em_steps(det, features, n_steps, trim):
    """``n_steps`` trimmed EM steps of every member's mixture of ``det``."""
    mixture = _mixture_variables(det)

    @tf.function
    def energy(z):
        return gmm_energy(z, *(v.value() for v in mixture))

    @tf.function
    def e_step(z, w, q):
        phi, mu, cov, L, log_det = (v.value() for v in mixture)
        gamma = gmm_responsibilities(z, phi, mu, L, log_det)
        keep = tf.cast(gmm_energy(z, phi, mu, cov, L, log_det) <= q, tf.float64) * w[:, None]
        _, sum_gamma, sum_gamma_z, sum_gamma_zz = gmm_sufficient_statistics(
            z, gamma * keep[..., None]
        )
        return tf.reduce_sum(keep, axis=0), sum_gamma, sum_gamma_z, sum_gamma_zz

    for _ in range(n_steps):
        _load(mixture, det)
        energies = np.concatenate([energy(z).numpy() for z, _, _ in features()])
        q = tf.constant(np.quantile(energies, 1.0 - trim, axis=0))
        n, *rest = _summed(e_step(z, w, q) for z, _, w in features())
        det._set_gmm(det._gmm_params([n[:, None], *rest]))


def noise_em_steps(det, features, n_steps, start_share=0.05):
    """``n_steps`` EM steps of every member's mixture of ``det`` with a
    uniform noise component over the bounding box of its features."""
    z_all = np.concatenate([z.numpy() for z, _, _ in features()])  # (n, M, d)
    log_volume = tf.constant(np.sum(np.log(np.ptp(z_all, axis=0)), axis=-1))  # (M,)
    share = np.full(z_all.shape[1], start_share)
    mixture = _mixture_variables(det)
    log_share = tf.Variable(np.log(share), trainable=False)
    log_rest = tf.Variable(np.log1p(-share), trainable=False)

    @tf.function
    def e_step(z, w):
        phi, mu, cov, L, log_det = (v.value() for v in mixture)
        energy = gmm_energy(z, phi, mu, cov, L, log_det)  # (n, M)
        noise = tf.sigmoid(log_share - log_volume - log_rest + energy)
        keep = (1.0 - noise) * w[:, None]
        gamma = gmm_responsibilities(z, phi, mu, L, log_det)
        _, sum_gamma, sum_gamma_z, sum_gamma_zz = gmm_sufficient_statistics(
            z, gamma * keep[..., None]
        )
        return (tf.reduce_sum(keep, axis=0), tf.reduce_sum(noise * w[:, None], axis=0),
                sum_gamma, sum_gamma_z, sum_gamma_zz)

    for _ in range(n_steps):
        _load(mixture, det)
        n, n_noise, *rest = _summed(e_step(z, w) for z, _, w in features())
        share = n_noise / (n + n_noise)
        log_share.assign(np.log(share))
        log_rest.assign(np.log1p(-share))
        det._set_gmm(det._gmm_params([n[:, None], *rest]))
    return share


def main(argv):
    name = argv[0]
    seeds, regimes, tables, rest = split_args(argv[1:])
    trims = [int(t) for t in rest.pop("trims", "10").split(",")]
    noise = bool(int(rest.pop("noise", "0")))
    for ds, seed, regime, A, B, yte in splits(seeds, regimes, tables):
        det = DETECTORS[name](em_steps=0, random_state=seed).fit(A)
        features, shapes = det._training_features(A)
        start = {n: getattr(det, n) for n in _NAMES}
        # each variant runs its 10 steps and returns extra fields of its record
        variants = [("em", lambda: det._em_steps(features, shapes[0], 10))]
        variants += [(f"trim{t}", lambda t=t: trimmed_em_steps(det, features, 10, t / 100))
                     for t in trims]
        if noise:
            variants.append(("noise", lambda: {
                "noise_share": noise_em_steps(det, features, 10).tolist()}))
        for label, steps in variants:
            det._set_gmm([start[n] for n in _NAMES])
            extra = steps() or {}
            det._fit_member_moments(A, det._energies)
            det._compile_scorer()
            s = -det.score_samples(B)
            rec = dict(name=f"{name}_{label}", ds=ds, seed=seed, regime=regime,
                       auc=roc_auc_score(yte, s), ap=average_precision_score(yte, s), **extra)
            print(json.dumps(rec), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
