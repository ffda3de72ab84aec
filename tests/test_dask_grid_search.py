"""Grid search on a Dask cluster: ``GridSearchCV`` over ``n_gmm`` and
``latent_dim`` with joblib's Dask backend on a ``LocalCluster`` of two worker
processes gives the local search's results, fitted detectors travel to the
workers and back with their scores unchanged, and the workers print nothing of
TensorFlow."""

import os
import pickle
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from sklearn.model_selection import GridSearchCV, StratifiedKFold

from sklearn_daml import AEGMMOutlierDetector

pytest.importorskip("distributed")

# set by sklearn_daml's import in this process; a user's process (and the
# workers it starts) begins without them
_SET_BY_IMPORT = (
    "TF_CPP_MIN_LOG_LEVEL",
    "TF_ENABLE_ONEDNN_OPTS",
    "SKLEARN_DAML_DEFAULT_TF_CPP_MIN_LOG_LEVEL",
)

_MARK = "--- written by a worker ---"

# The cluster is started before sklearn_daml is imported, so the workers begin
# with a clean environment, as on another machine: they import TensorFlow
# when they unpickle their first detector. silence_logs=ERROR hides
# distributed's own INFO/WARNING lines (among them "Worker process still alive
# after 4.0 seconds, killing" at close: a process that imported TensorFlow
# takes seconds to exit), not the workers' output.
_CLUSTER_SCRIPT = """
import logging
import pickle
import sys

import joblib
from distributed import Client, LocalCluster, get_task_stream
from sklearn.base import clone

data, out = sys.argv[1], sys.argv[2]
MARK = sys.argv[3].encode()
with LocalCluster(
    n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
    silence_logs=logging.ERROR, memory_limit="3GiB",
) as cluster, Client(cluster, timeout="120s") as client:
    with open(data, "rb") as file:
        grid, X, y = pickle.load(file)          # imports sklearn_daml here
    with joblib.parallel_backend("dask"), get_task_stream(client) as tasks:
        grid.fit(X, y)
    fitted_on = sorted({task["worker"] for task in tasks.data})
    best = grid.best_estimator_
    # a fitted detector to a worker and back, and one fitted there
    scored_there = client.submit(type(best).score_samples, best, X, pure=False).result()
    fitted_there = client.submit(
        type(best).fit, clone(grid.estimator).set_params(**grid.best_params_), X, pure=False
    ).result()
    workers = client.run(lambda: __import__("os").getpid())
    # what a worker writes to its file descriptor 2 reaches this process's stderr
    client.run(lambda: __import__("os").write(2, b"%s\\n" % MARK))
    with open(out, "wb") as file:
        pickle.dump(dict(grid=grid, scored_there=scored_there, fitted_there=fitted_there,
                         workers=workers, fitted_on=fitted_on), file)
"""


def _rows():
    """150 rows of 4 features, the last 10 far outliers (labels +1/-1)."""
    rng = np.random.RandomState(0)
    inliers = rng.normal(size=(140, 4))
    outliers = rng.uniform(4, 6, size=(10, 4)) * rng.choice([-1, 1], size=(10, 4))
    return np.vstack([inliers, outliers]), np.r_[np.ones(140, dtype=int), -np.ones(10, dtype=int)]


def _search(n_jobs=None):
    return GridSearchCV(
        AEGMMOutlierDetector(epochs=2, random_state=0),
        {"n_gmm": [1, 2], "latent_dim": [1, 2]},
        scoring="roc_auc",
        cv=StratifiedKFold(3, shuffle=True, random_state=0),
        n_jobs=n_jobs,
    )


def _on_the_cluster(tmp_path, grid, X, y):
    """Run the search in a fresh process with a two-worker LocalCluster; its
    results and everything it and its workers printed."""
    data, out = tmp_path / "data.pkl", tmp_path / "out.pkl"
    data.write_bytes(pickle.dumps((grid, X, y)))
    env = {k: v for k, v in os.environ.items() if k not in _SET_BY_IMPORT}
    run = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(_CLUSTER_SCRIPT), str(data), str(out), _MARK],
        capture_output=True, text=True, timeout=900, env=env, cwd=tmp_path,
    )
    assert run.returncode == 0, run.stderr[-5000:]
    return pickle.loads(out.read_bytes()), run.stdout, run.stderr


@pytest.mark.slow  # about three minutes of CPU: 26 fits and three TensorFlow imports
def test_grid_search_on_a_local_cluster_equals_the_local_search(tmp_path):
    X, y = _rows()
    remote, stdout, stderr = _on_the_cluster(tmp_path, _search(), X, y)
    local = _search(n_jobs=1).fit(X, y)
    grid = remote["grid"]

    # the same search, score for score
    assert len(remote["workers"]) == 2
    assert remote["fitted_on"] == sorted(remote["workers"])  # both workers fitted
    assert grid.best_params_ == local.best_params_
    keys = ["mean_test_score"] + [f"split{i}_test_score" for i in range(3)]
    for key in keys:
        np.testing.assert_array_equal(grid.cv_results_[key], local.cv_results_[key], err_msg=key)
    assert grid.cv_results_["params"] == local.cv_results_["params"]
    np.testing.assert_array_equal(grid.cv_results_["rank_test_score"],
                                  local.cv_results_["rank_test_score"])
    assert len(np.unique(local.cv_results_["mean_test_score"])) > 1  # the candidates differ

    # the refitted best detector, pickled back from the cluster's process, a
    # copy of it scored in a worker, and the same setting fitted in a worker
    expected = local.best_estimator_.score_samples(X)
    np.testing.assert_array_equal(grid.best_estimator_.score_samples(X), expected)
    np.testing.assert_array_equal(remote["scored_there"], expected)
    np.testing.assert_array_equal(remote["fitted_there"].score_samples(X), expected)
    np.testing.assert_array_equal(remote["fitted_there"].predict(X), local.predict(X))

    # nothing printed by TensorFlow (oneDNN, CPU features, CUDA, absl) in the
    # client or the workers, whose output goes to the client's stderr
    assert stdout == ""
    assert stderr.count(_MARK) == 2  # so the workers' output is in stderr
    assert stderr.replace(_MARK, "").strip() == "", stderr[-3000:]
