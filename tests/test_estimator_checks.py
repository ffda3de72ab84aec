"""scikit-learn's own estimator checks, in full, for every detector."""

from sklearn.utils.estimator_checks import parametrize_with_checks

from sklearn_daml import (
    AEGMMOutlierDetector,
    AEOutlierDetector,
    Seq2SeqOutlierDetector,
    VAEGMMOutlierDetector,
    VAEOutlierDetector,
)

# Few epochs keep the ~45 checks per estimator fast; the code paths are the
# same as with the defaults.
ESTIMATORS = [
    AEOutlierDetector(epochs=2, random_state=0),
    VAEOutlierDetector(epochs=2, samples=3, random_state=0),
    AEGMMOutlierDetector(epochs=2, random_state=0),
    VAEGMMOutlierDetector(epochs=2, samples=3, random_state=0),
    Seq2SeqOutlierDetector(latent_dim=4, epochs=2, random_state=0),
]


@parametrize_with_checks(ESTIMATORS)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)
