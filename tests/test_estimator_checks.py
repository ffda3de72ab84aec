"""scikit-learn's own estimator checks, in full, for every detector."""

from sklearn.utils.estimator_checks import parametrize_with_checks

from sklearn_daml import (
    AEGMMOutlierDetector,
    AEOutlierDetector,
    LLROutlierDetector,
    PixelCNNOutlierDetector,
    Seq2SeqOutlierDetector,
    VAEGMMOutlierDetector,
    VAEOutlierDetector,
)

# A pixel grid that covers the checks' data (values within about +-20), so
# they are not all clipped onto a few identical images. A 2-epoch PixelCNN
# gives nearly flat likelihoods on which Tukey's fence ('auto') rightly flags
# no training row, while check_outliers_train demands both labels, so these
# instances use a float contamination.
TINY_PIXELCNN = dict(
    low=-20, high=20, num_resnet=1, num_hierarchies=1, num_filters=4, num_logistic_mix=2,
    contamination=0.1, epochs=2, random_state=0,
)

# Few epochs keep the ~45 checks per estimator fast; the code paths are the
# same as with the defaults.
ESTIMATORS = [
    AEOutlierDetector(epochs=2, random_state=0),
    VAEOutlierDetector(epochs=2, samples=3, random_state=0),
    AEGMMOutlierDetector(epochs=2, random_state=0),
    VAEGMMOutlierDetector(epochs=2, samples=3, random_state=0),
    Seq2SeqOutlierDetector(latent_dim=4, epochs=2, random_state=0),
    PixelCNNOutlierDetector(**TINY_PIXELCNN),
    LLROutlierDetector(**TINY_PIXELCNN),
]


@parametrize_with_checks(ESTIMATORS)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)
