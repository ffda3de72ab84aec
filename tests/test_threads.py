"""Fits and scores in threads: the same random_state gives the scores of a
sequential fit, and the user's global random states are left alone."""

import random
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import tensorflow as tf
from joblib import Parallel, delayed, parallel_backend
from sklearn.base import clone

from sklearn_daml import AEGMMOutlierDetector, AEOutlierDetector, VAEOutlierDetector

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

DETECTORS = [
    AEOutlierDetector(n_estimators=2, epochs=3, random_state=0),
    VAEOutlierDetector(n_estimators=2, epochs=3, samples=2, random_state=0),
    AEGMMOutlierDetector(epochs=3, random_state=0),
]
IDS = [type(d).__name__ for d in DETECTORS]


def _fit_scores(detector, X):
    return clone(detector).fit(X).score_samples(X)


@pytest.mark.parametrize("detector", DETECTORS, ids=IDS)
def test_parallel_fits_equal_a_sequential_fit(detector, blobs):
    X, _ = blobs
    sequential = _fit_scores(detector, X)
    with ThreadPoolExecutor(max_workers=3) as pool:
        threaded = list(pool.map(lambda _: _fit_scores(detector, X), range(3)))
    for scores in threaded:
        np.testing.assert_array_equal(scores, sequential)
    with parallel_backend("threading", n_jobs=2):
        joblib_scores = Parallel()(delayed(_fit_scores)(detector, X) for _ in range(2))
    for scores in joblib_scores:
        np.testing.assert_array_equal(scores, sequential)


def test_user_draws_in_another_thread_do_not_change_a_fit(blobs):
    # a thread drawing from every global generator while fits run
    X, _ = blobs
    sequential = _fit_scores(DETECTORS[0], X)
    stop = []

    def draw():
        while not stop:
            random.random(), np.random.rand(), tf.random.uniform([2])

    with ThreadPoolExecutor(max_workers=3) as pool:
        noise = pool.submit(draw)
        fits = [pool.submit(_fit_scores, DETECTORS[0], X) for _ in range(2)]
        results = [f.result() for f in fits]
        stop.append(True)
        noise.result()
    for scores in results:
        np.testing.assert_array_equal(scores, sequential)


def test_global_random_states_are_untouched(blobs):
    X, _ = blobs

    def draws():
        return random.random(), np.random.rand(), tf.random.uniform([2]).numpy().tolist()

    random.seed(5), np.random.seed(5), tf.random.set_seed(5)
    first = draws()
    expected = draws()
    random.seed(5), np.random.seed(5), tf.random.set_seed(5)
    assert draws() == first
    clone(DETECTORS[2]).fit(X)
    assert draws() == expected


@pytest.mark.parametrize("detector", DETECTORS, ids=IDS)
def test_one_detector_scored_from_eight_threads(detector, blobs):
    X, _ = blobs
    det = clone(detector).fit(X)
    rows = [X[i::8] for i in range(8)]
    sequential = [det.score_samples(r) for r in rows]
    with ThreadPoolExecutor(max_workers=8) as pool:
        for _ in range(3):
            threaded = list(pool.map(det.score_samples, rows))
            for got, want in zip(threaded, sequential):
                np.testing.assert_array_equal(got, want)
