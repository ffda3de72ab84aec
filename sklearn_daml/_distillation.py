"""Model distillation detector (alibi-detect's ``ModelDistillation``)."""

import keras
from sklearn.base import OutlierMixin
from sklearn.utils._param_validation import StrOptions

from ._autoencoder import HiddenLayersMixin
from ._base import BaseDeepDetector
from ._compiled import DTYPE, tf
from ._classifier import FrozenClassifierMixin, _known_input
from ._networks import instantiate_net
from .models.losses import _distillation_rows, loss_distillation


def _dense_classifier(n_features, hidden_layer_sizes, n_classes, activation, dtype=None):
    stack = [keras.Input((n_features,), dtype=dtype)]
    stack += [keras.layers.Dense(w, activation=activation, dtype=dtype) for w in hidden_layer_sizes]
    stack.append(keras.layers.Dense(n_classes, activation="softmax", dtype=dtype))
    return keras.Sequential(stack, name="distilled_model")


class ModelDistillationDetector(
    OutlierMixin, FrozenClassifierMixin, HiddenLayersMixin, BaseDeepDetector
):
    """Model distillation detector: a small model learns to mimic a classifier,
    and rows where the two disagree are flagged.

    A small network (``distilled_model``) is trained on (clean) rows to
    reproduce the class probabilities of a given, frozen Keras classifier
    ``model`` (:func:`~sklearn_daml.models.loss_distillation`, the loss of
    alibi-detect's ``ModelDistillation``). Where the classifier's behaviour
    departs from what it showed on the training rows (adversarial or
    drifted inputs), the distilled model no longer follows it. The outlier
    score of a row is the divergence between the classifier's probabilities
    (sharpened by ``temperature``) and the distilled model's: the KL
    divergence (``loss_type='kld'``) or the cross-entropy (``'xent'``).
    ``score_samples`` returns its negative (higher = more normal), as
    :class:`~sklearn.ensemble.IsolationForest`.

    The classifier is never trained: it is only called in inference mode,
    and gradients are taken with respect to the distilled model alone.

    Parameters
    ----------
    model : keras.Model or callable
        Trained classifier returning class probabilities (a softmax output);
        a model with a declared input shape gets each row reshaped to it. A
        callable is called as ``model(n_features)`` at fit and returns the
        classifier. Kept as ``classifier_`` (not copied), so it pickles with
        the detector.
    distilled_model : keras.Model or callable, default=None
        Network mapping rows to class probabilities. A model is cloned at
        fit (fresh weights); a callable is called as
        ``distilled_model(n_features, n_classes)``. ``None`` is a dense
        network ``n_features -> hidden_layer_sizes -> softmax(n_classes)``.
    loss_type : {"kld", "xent"}, default="kld"
        Divergence of the loss and of the score: Keras' KL divergence or
        categorical cross-entropy (the KL divergence plus the entropy of the
        classifier's prediction, which also flags rows the classifier is
        unsure about).
    temperature : float > 0, default=1.0
        Temperature of the classifier's predictions; below 1 sharpens them.
    hidden_layer_sizes : array-like of int, default=None
        Hidden widths of the default distilled model; ``None`` resolves at
        fit to ``(h, h // 2)`` with ``h = clip(2 * n_features, 16, 128)``.
        Ignored with ``distilled_model``.
    activation : str or callable, default="relu"
        Activation of the hidden layers of the default distilled model.
    epochs : int, default=20
        Passes over the training rows (alibi-detect's default).
    batch_size : int, default=128
        Rows per training step (alibi-detect's default).
    learning_rate, optimizer, contamination, calibration_size, validation_fraction, \
n_iter_no_change, tol, random_state, verbose
        As in :class:`AdversarialAEDetector`.
    early_stopping : bool, default=False
        As in :class:`AdversarialAEDetector` (off, as in alibi-detect).

    Attributes
    ----------
    model_ : keras.Model
        The trained distilled model.
    classifier_ : keras.Model
        The frozen classifier (``model``, or what the callable returned).
    n_classes_ : int
        Number of classes of the classifier.
    loss_curve_, validation_loss_curve_, n_iter_, offset_, threshold_, calibration_scores_, \
calibration_weights_, n_features_in_, feature_names_in_
        As in :class:`AEOutlierDetector`; ``threshold_`` is in units of the
        divergence.

    See Also
    --------
    AdversarialAEDetector : Divergence between predictions on a row and on its reconstruction.

    References
    ----------
    Hinton, Vinyals and Dean, "Distilling the Knowledge in a Neural
    Network", arXiv:1503.02531, 2015.

    Examples
    --------
    >>> import numpy as np, keras
    >>> from sklearn_daml import ModelDistillationDetector
    >>> X = np.random.RandomState(0).normal(size=(200, 4))
    >>> clf = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="softmax")])
    >>> det = ModelDistillationDetector(clf, epochs=5, random_state=0).fit(X)
    >>> det.predict(X[:4]).shape
    (4,)
    """

    _accepts_sparse = True  # tabular rows: a sparse X is read a batch at a time

    _parameter_constraints: dict = {
        **BaseDeepDetector._parameter_constraints,
        **FrozenClassifierMixin._classifier_constraints,
        "distilled_model": [keras.Model, callable, None],
        "loss_type": [StrOptions({"kld", "xent"})],
        "hidden_layer_sizes": ["array-like", None],
        "activation": [str, callable],
    }

    def __init__(
        self,
        model,
        *,
        distilled_model=None,
        loss_type="kld",
        temperature=1.0,
        hidden_layer_sizes=None,
        activation="relu",
        epochs=20,
        batch_size=128,
        learning_rate=1e-3,
        optimizer="adam",
        contamination="auto",
        calibration_size=None,
        early_stopping=False,
        validation_fraction=0.1,
        n_iter_no_change=10,
        tol=1e-3,
        random_state=None,
        verbose=0,
    ):
        self.model = model
        self.distilled_model = distilled_model
        self.loss_type = loss_type
        self.temperature = temperature
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.optimizer = optimizer
        self.contamination = contamination
        self.calibration_size = calibration_size
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol
        self.random_state = random_state
        self.verbose = verbose

    def _build_model(self, X):
        self._fit_classifier(X)
        n_features = X.shape[1]
        if self.distilled_model is not None:
            return instantiate_net(self.distilled_model, n_features, self.n_classes_)
        hidden = self._resolved_hidden_sizes(n_features)
        return _dense_classifier(n_features, hidden, self.n_classes_, self.activation, DTYPE)

    def _forward(self, model, x, training):
        """Probabilities of the distilled model; rows are reshaped and cast
        to its declared input, as for the classifier."""
        shape, dtype = _known_input(model)
        x = tf.cast(x, dtype or model.compute_dtype)
        if shape is not None:
            x = tf.reshape(x, [-1, *shape])
        return tf.cast(model(x, training=training), tf.float64)

    def _loss(self, x, y_pred):
        return loss_distillation(
            x, y_pred, model=self._classify, loss_type=self.loss_type, temperature=self.temperature
        )

    def _outlier_score(self, x):
        y_distilled = self._forward(self.model_, x, training=False)
        return _distillation_rows(self._classify(x), y_distilled, self.loss_type, self.temperature)

    def _scoring_row_width(self):
        return 64 * self.n_features_in_ + 4 * sum(self._resolved_hidden_sizes(self.n_features_in_))
