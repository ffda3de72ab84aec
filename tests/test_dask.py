"""Scoring Dask collections: lazy, block by block, equal to in-memory scores."""

import os
import pickle
import signal
import subprocess
import sys

import numpy as np
import pytest

from sklearn_daml import (
    AEGMMOutlierDetector,
    AEOutlierDetector,
    PixelCNNOutlierDetector,
    Seq2SeqOutlierDetector,
)

dask = pytest.importorskip("dask")
da = pytest.importorskip("dask.array")
dd = pytest.importorskip("dask.dataframe")
pd = pytest.importorskip("pandas")

METHODS = ["score_samples", "decision_function", "predict"]
SMALL = dict(hidden_layer_sizes=(8,), epochs=2, early_stopping=False, random_state=0)


@pytest.fixture(scope="module")
def table():
    """A detector fitted on a named table, and rows to score."""
    rng = np.random.RandomState(0)
    columns = ["a", "b", "c", "d"]
    X_fit = pd.DataFrame(rng.normal(size=(300, 4)), columns=columns)
    X = rng.normal(size=(4_000, 4)) * rng.choice([1.0, 4.0], size=(4_000, 1))
    det = AEGMMOutlierDetector(n_gmm=2, **SMALL).fit(X_fit)
    return det, pd.DataFrame(X, columns=columns)


@pytest.fixture(scope="module")
def rows(table):
    """The detector fitted on the same table without names, and its rows."""
    det, df = table
    plain = AEGMMOutlierDetector(n_gmm=2, **SMALL).fit(np.random.RandomState(0).normal(size=(300, 4)))
    return plain, df.to_numpy()


@pytest.mark.parametrize("method", METHODS)
def test_dask_array_is_lazy_and_exact(rows, method):
    det, X = rows
    lazy = getattr(det, method)(da.from_array(X, chunks=(700, 2)))
    assert isinstance(lazy, da.Array)
    assert lazy.shape == (len(X),) and lazy.chunks == ((700,) * 5 + (500,),)
    result = lazy.compute(scheduler="sync")
    expected = getattr(det, method)(X)
    assert result.dtype == expected.dtype
    np.testing.assert_array_equal(result, expected)
    assert len(np.unique(expected)) > 1


@pytest.mark.parametrize("method", METHODS)
def test_dask_dataframe_is_exact(table, method):
    det, df = table
    lazy = getattr(det, method)(dd.from_pandas(df, npartitions=3))
    assert isinstance(lazy, da.Array)
    np.testing.assert_array_equal(lazy.compute(scheduler="sync"), getattr(det, method)(df))


def test_dask_dataframe_feature_names_are_checked(table):
    det, df = table
    with pytest.raises(ValueError, match="feature names"):
        det.score_samples(dd.from_pandas(df[["b", "a", "c", "d"]], npartitions=2))


def test_detector_is_one_key_of_the_graph(rows):
    """Every block task depends on one key holding the detector; none carries
    a copy of it, so a cluster sends it to each worker once."""
    det, X = rows
    lazy = det.score_samples(da.from_array(X, chunks=(500, 4)))
    graph = dict(lazy.__dask_graph__())
    detector_size = len(pickle.dumps(det))
    holders = [key for key, task in graph.items() if len(pickle.dumps(task)) > detector_size / 2]
    assert len(holders) == 1
    blocks = [key for key in graph if key[0] == lazy.name]
    assert len(blocks) == 8
    for key in blocks:
        assert holders[0] in dask.core.get_dependencies(graph, key)
        assert len(pickle.dumps(graph[key])) < detector_size / 10


def test_columns_chunks_are_joined(rows):
    det, X = rows
    X = X[:500]
    lazy = det.score_samples(da.from_array(X, chunks=(100, 1)))
    np.testing.assert_array_equal(lazy.compute(scheduler="sync"), det.score_samples(X))


def test_one_dimensional_dask_array_is_refused(rows):
    det, _ = rows
    with pytest.raises(ValueError, match="2-D"):
        det.score_samples(da.zeros(10, chunks=5))


def test_unfitted_detector_refuses_dask_input():
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        AEOutlierDetector().score_samples(da.zeros((10, 2), chunks=5))


def test_windows_are_blocked_along_the_first_axis():
    rng = np.random.RandomState(0)
    windows = np.sin(0.3 * np.arange(80)[:, None, None] + np.arange(8)[None, :, None])
    windows = windows + 0.05 * rng.normal(size=windows.shape)
    seq = Seq2SeqOutlierDetector(latent_dim=4, epochs=1, early_stopping=False, random_state=0)
    seq.fit(windows)
    lazy = seq.score_samples(da.from_array(windows, chunks=(30, 4, 1)))
    np.testing.assert_array_equal(lazy.compute(scheduler="sync"), seq.score_samples(windows))


def test_images_are_blocked_along_the_first_axis():
    rng = np.random.RandomState(0)
    images = rng.randint(0, 4, size=(40, 3, 4, 1)).astype(float)
    pixel = PixelCNNOutlierDetector(
        low=0, high=3, num_resnet=1, num_hierarchies=1, num_filters=8,
        num_logistic_mix=2, dropout_p=0.0, epochs=1, early_stopping=False, random_state=0,
    ).fit(images)
    lazy = pixel.predict(da.from_array(images, chunks=(15, 3, 4, 1)))
    np.testing.assert_array_equal(lazy.compute(scheduler="sync"), pixel.predict(images))


def test_scoring_without_dask_does_not_import_it():
    code = (
        "import sys, numpy as np\n"
        "from sklearn_daml import AEOutlierDetector\n"
        "X = np.random.RandomState(0).normal(size=(40, 3))\n"
        "AEOutlierDetector(n_estimators=1, epochs=1, early_stopping=False).fit(X).predict(X)\n"
        "assert not [m for m in sys.modules if m.split('.')[0] in ('dask', 'distributed')]\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=300)


# ------------------------------------------------------------- a real cluster
@pytest.fixture(scope="module")
def cluster():
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0",
        memory_limit="2GiB",
    ) as cluster, distributed.Client(cluster) as client:
        yield client


def test_local_cluster_scores_exactly(cluster, table, rows):
    det, df = table
    plain, X = rows
    scores = plain.score_samples(da.from_array(X, chunks=(500, 4)))
    labels = det.predict(dd.from_pandas(df, npartitions=4))
    scores, labels = cluster.compute([scores, labels], sync=True)
    np.testing.assert_array_equal(scores, plain.score_samples(X))
    np.testing.assert_array_equal(labels, det.predict(df))
    assert len(cluster.scheduler_info()["workers"]) == 2


def _gate(block, block_info=None):
    """Hold every block after the first two until the test opens the gate
    (seceded from the worker's thread pool, so that scoring goes on)."""
    from distributed import Event, rejoin, secede

    if block_info[0]["chunk-location"][0] >= 2:
        secede()
        Event("gate").wait()
        rejoin()
    return block


def test_killed_worker_blocks_are_recomputed(cluster, rows):
    """A worker killed after it computed some blocks: their results are lost
    with it, Dask reschedules them, and the result is still complete and exact."""
    from distributed import Event, wait

    det, X = rows
    gated = da.from_array(X, chunks=(500, 4)).map_blocks(_gate, dtype=np.float64)
    lazy = det.score_samples(gated)
    future = cluster.compute(lazy)
    first = [(lazy.name, 0), (lazy.name, 1)]

    def held(dask_scheduler, keys):
        return {
            str(key): sorted(ws.address for ws in dask_scheduler.tasks[key].who_has)
            for key in keys
            if key in dask_scheduler.tasks and dask_scheduler.tasks[key].state == "memory"
        }

    while len(holders := cluster.run_on_scheduler(held, keys=first)) < 2:
        cluster.run_on_scheduler(lambda: None)  # a round trip, not a sleep
    victim = holders[str(first[0])][0]
    pid = cluster.run(os.getpid, workers=[victim])[victim]
    os.kill(pid, signal.SIGKILL)
    while victim in cluster.scheduler_info()["workers"]:
        cluster.run_on_scheduler(lambda: None)
    Event("gate", client=cluster).set()
    wait(future)
    np.testing.assert_array_equal(future.result(), det.score_samples(X))
