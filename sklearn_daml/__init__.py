"""sklearn-daml: deep outlier detectors as scikit-learn estimators."""

from ._tensorflow import import_tensorflow

import_tensorflow()

from ._adversarial import AdversarialAEDetector  # noqa: E402
from ._ae import AEOutlierDetector  # noqa: E402
from ._aegmm import AEGMMOutlierDetector  # noqa: E402
from ._conformal import ConformalOutlierDetector  # noqa: E402
from ._distillation import ModelDistillationDetector  # noqa: E402
from ._llr import LLROutlierDetector  # noqa: E402
from ._persistence import load, save  # noqa: E402
from ._pixelcnn import PixelCNNOutlierDetector  # noqa: E402
from ._seq2seq import Seq2SeqOutlierDetector  # noqa: E402
from ._training import TrainingDivergedError  # noqa: E402
from ._vae import VAEOutlierDetector  # noqa: E402
from ._vaegmm import VAEGMMOutlierDetector  # noqa: E402
from ._version import __version__  # noqa: E402

__all__ = [
    "AEOutlierDetector",
    "VAEOutlierDetector",
    "AEGMMOutlierDetector",
    "VAEGMMOutlierDetector",
    "Seq2SeqOutlierDetector",
    "PixelCNNOutlierDetector",
    "LLROutlierDetector",
    "AdversarialAEDetector",
    "ModelDistillationDetector",
    "ConformalOutlierDetector",
    "TrainingDivergedError",
    "load",
    "save",
    "__version__",
]
