"""Issue 11, sections 3 and 4: quiet in every import order and process,
finite scores, and honest warnings and errors."""

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

_FIT = """
import numpy as np
import sklearn_daml
X = np.random.RandomState(0).normal(size=(120, 4))
sklearn_daml.AEGMMOutlierDetector(epochs=2, random_state=0).fit(X).score_samples(X)
sklearn_daml.AEOutlierDetector(n_estimators=2, epochs=2, random_state=0).fit(X)
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
        det = AEOutlierDetector(n_estimators=1, epochs=2, random_state=0)
        search = GridSearchCV(det, {"latent_dim": [1, 2]}, cv=2, n_jobs=2, scoring=mean_score)
        search.fit(X)
        """
    )
    assert stderr == ""
