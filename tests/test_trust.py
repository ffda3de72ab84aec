"""Trust: quiet in every import order and process, finite scores, and
honest warnings and errors."""

import os
import subprocess
import sys
import textwrap

import pytest

# --------------------------------------------------------------- quietness
# The test process imported sklearn_daml, which set these; a user's process
# starts without them.
_SET_BY_IMPORT = (
    "TF_CPP_MIN_LOG_LEVEL",
    "TF_ENABLE_ONEDNN_OPTS",
    "SKLEARN_DAML_DEFAULT_TF_CPP_MIN_LOG_LEVEL",
)

# early_stopping=False: two epochs with early stopping on rightly give a
# ConvergenceWarning, which these tests of TensorFlow's noise must not see
_FIT = """
import numpy as np
import sklearn_daml
X = np.random.RandomState(0).normal(size=(120, 4))
sklearn_daml.AEGMMOutlierDetector(epochs=2, early_stopping=False, random_state=0).fit(X).score_samples(X)
sklearn_daml.AEOutlierDetector(n_estimators=2, epochs=2, early_stopping=False, random_state=0).fit(X)
"""

# a float64 pattern that oneDNN's remapper warns about ("Not handling type
# DT_DOUBLE"): the user's own TensorFlow message, which must still show
_USER_FUNCTION = """
w = tf.ones((3, 3), tf.float64)
b = tf.ones((3,), tf.float64)
tf.function(lambda x: tf.nn.relu(tf.matmul(x, w) + b))(tf.ones((4, 3), tf.float64))
"""

_MARK = "--- sklearn_daml from here ---"


def _stderr_of(script):
    env = {k: v for k, v in os.environ.items() if k not in _SET_BY_IMPORT}
    out = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script)],
        capture_output=True, text=True, timeout=300, env=env,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    return out.stderr


def _after_mark(stderr):
    return stderr.split(_MARK + "\n", 1)[1]


@pytest.mark.parametrize("first", ["tensorflow", "keras"])
def test_fit_is_quiet_when_tensorflow_was_imported_first(first):
    stderr = _stderr_of(
        f"import sys\nimport {first}\nprint({_MARK!r}, file=sys.stderr, flush=True)\n{_FIT}"
    )
    assert "DT_DOUBLE" not in stderr
    assert _after_mark(stderr) == ""


def test_users_own_tensorflow_messages_still_show():
    # the control: TensorFlow alone. oneDNN (and its remapper's message) is on
    # only where TensorFlow enables it for the CPU (not on an AVX2-only AMD
    # EPYC, for one); where the user's function prints nothing by itself,
    # there is no message whose survival could be checked
    control = _stderr_of(f"import tensorflow as tf\n{_USER_FUNCTION}")
    if "Not handling type DT_DOUBLE" not in control:
        pytest.skip("this machine's TensorFlow prints no oneDNN remapper message")
    stderr = _stderr_of(
        f"import sys\nimport tensorflow as tf\n{_FIT}\n"
        f"print({_MARK!r}, file=sys.stderr, flush=True)\n{_USER_FUNCTION}"
    )
    assert "Not handling type DT_DOUBLE" in _after_mark(stderr)


def test_quiet_when_sklearn_daml_is_imported_first():
    assert _stderr_of(f"{_FIT}\nimport tensorflow as tf\nimport keras\n{_USER_FUNCTION}") == ""


def test_grid_search_workers_are_quiet():
    stderr = _stderr_of(
        """
        import numpy as np
        from sklearn.model_selection import GridSearchCV
        from sklearn_daml import AEOutlierDetector

        def mean_score(estimator, X, y=None):
            return float(np.mean(estimator.score_samples(X)))

        X = np.random.RandomState(0).normal(size=(60, 3))
        det = AEOutlierDetector(n_estimators=1, epochs=2, early_stopping=False, random_state=0)
        search = GridSearchCV(det, {"latent_dim": [1, 2]}, cv=2, n_jobs=2, scoring=mean_score)
        search.fit(X)
        """
    )
    assert stderr == ""


# ---------------------------------------------------------- finite scores
import warnings  # noqa: E402

import keras  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.metrics import roc_auc_score  # noqa: E402

from sklearn_daml import (  # noqa: E402
    AEGMMOutlierDetector,
    AEOutlierDetector,
    PixelCNNOutlierDetector,
    Seq2SeqOutlierDetector,
    VAEGMMOutlierDetector,
    VAEOutlierDetector,
)

TABLE_DETECTORS = [
    AEOutlierDetector(n_estimators=2, epochs=2, random_state=0),
    VAEOutlierDetector(n_estimators=2, epochs=2, random_state=0),
    AEGMMOutlierDetector(epochs=2, random_state=0),
    VAEGMMOutlierDetector(epochs=2, random_state=0),
    Seq2SeqOutlierDetector(epochs=2, random_state=0),
]


@pytest.fixture(scope="module")
def table():
    return np.random.RandomState(0).normal(size=(120, 4))


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("detector", TABLE_DETECTORS, ids=lambda d: type(d).__name__)
def test_huge_finite_rows_get_finite_scores_in_order(detector, table):
    det = detector.fit(table)
    huge = np.vstack([np.full((1, 4), 1e150), np.full((1, 4), 1e200), [[-1e200, 0, 0, 1e200]]])
    scores = det.score_samples(np.vstack([table[:20], huge]))
    assert np.all(np.isfinite(scores))
    assert scores[20:].max() < scores[:20].min()
    y = np.r_[np.ones(20), -np.ones(3)]
    assert roc_auc_score(y, scores) == 1.0


def test_overflowing_scores_keep_the_order_float64_can_hold(table):
    det = AEOutlierDetector(n_estimators=1, epochs=2, early_stopping=False, random_state=0)
    scores = det.fit(table).score_samples(np.full((3, 4), 1.0) * [[1e100], [1e150], [1e200]])
    assert scores[0] > scores[1] > scores[2] == -np.finfo(np.float64).max


# ------------------------------------------------------------- warnings
def test_convergence_warning_when_epochs_end_before_early_stopping(table):
    with pytest.warns(ConvergenceWarning, match="epochs=2"):
        AEOutlierDetector(n_estimators=1, epochs=2, early_stopping=True, random_state=0).fit(table)


def test_no_convergence_warning_when_converged_or_without_early_stopping(table):
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        AEOutlierDetector(n_estimators=1, epochs=2, early_stopping=False).fit(table)
        det = AEOutlierDetector(
            n_estimators=1, epochs=50, early_stopping=True, n_iter_no_change=1, tol=0.5
        )
        det.fit(table)
    assert det.n_iter_ < 50


def test_verbose_2_shows_a_keras_progress_bar_per_epoch(table, capsys, monkeypatch):
    updates = []
    original = keras.utils.Progbar.update

    def update(bar, current, values=None, finalize=None):
        updates.append((bar.target, current))
        return original(bar, current, values, finalize)

    monkeypatch.setattr(keras.utils.Progbar, "update", update)
    det = AEOutlierDetector(n_estimators=1, epochs=2, batch_size=20, early_stopping=False)
    det.fit(table)
    assert updates == []
    assert len(capsys.readouterr().out.splitlines()) == 0
    det.set_params(verbose=1).fit(table)
    assert updates == []
    assert capsys.readouterr().out.count("Epoch ") == 2
    det.set_params(verbose=2).fit(table)
    assert updates == [(6, i) for i in range(1, 7)] * 2
    out = capsys.readouterr().out
    assert "6/6" in out and out.count("Epoch ") == 2


# ------------------------------------------------------- custom networks
def _dense(n_in, n_out):
    return keras.Sequential([keras.Input((n_in,)), keras.layers.Dense(8), keras.layers.Dense(n_out)])


@pytest.mark.parametrize(
    "detector, name, parameter",
    [
        (AEOutlierDetector(encoder_net=_dense(4, 3), decoder_net=_dense(3, 4)), "encoder_net",
         "latent_dim"),
        (AEOutlierDetector(latent_dim=2, decoder_net=_dense(2, 5)), "decoder_net", "latent_dim"),
        (VAEOutlierDetector(decoder_net=_dense(3, 4)), "decoder_net", "latent_dim"),
        (AEGMMOutlierDetector(encoder_net=_dense(4, 2)), "encoder_net", "latent_dim"),
        (AEGMMOutlierDetector(gmm_density_net=_dense(3, 4)), "gmm_density_net", "n_gmm"),
        (VAEGMMOutlierDetector(gmm_density_net=_dense(5, 2)), "gmm_density_net", "latent_dim"),
    ],
    ids=["ae-encoder", "ae-decoder", "vae-decoder", "aegmm-encoder", "aegmm-density",
         "vaegmm-density"],
)
def test_custom_network_that_does_not_fit_names_itself(detector, name, parameter, table):
    with pytest.raises(ValueError, match=name) as info:
        detector.set_params(epochs=1).fit(table)
    message = str(info.value)
    assert parameter in message and "(None, " in message


def test_custom_models_that_fit_latent_dim_train(table):
    det = AEOutlierDetector(
        n_estimators=2, encoder_net=_dense(4, 3), decoder_net=_dense(3, 4), latent_dim=3,
        epochs=1, early_stopping=False, random_state=0,
    ).fit(table)
    assert np.all(np.isfinite(det.score_samples(table)))


# ------------------------------------------------------------ bad input
def test_image_detector_warns_when_it_rounds(table):
    X = np.random.RandomState(0).randint(0, 4, size=(40, 2, 2, 1)).astype(float)
    det = PixelCNNOutlierDetector(
        low=0, high=3, num_resnet=1, num_hierarchies=1, num_filters=4, num_logistic_mix=1,
        epochs=1, calibration_size=None, random_state=0,  # 40 images: none held out
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        det.fit(X)
    with pytest.warns(UserWarning, match="rounded"):
        det.score_samples(X + 0.3)


def test_seq2seq_4d_input_error_names_the_shapes_it_takes():
    X = np.zeros((10, 4, 2, 1))
    with pytest.raises(ValueError, match=r"\(n_windows, seq_len, n_features\)"):
        Seq2SeqOutlierDetector(epochs=1).fit(X)
