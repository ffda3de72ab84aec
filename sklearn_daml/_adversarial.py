"""Adversarial autoencoder detector (alibi-detect's ``AdversarialAE``)."""

import numbers

import keras
import numpy as np
from sklearn.base import OutlierMixin
from sklearn.utils._param_validation import Interval
from sklearn.utils.validation import check_is_fitted

from ._autoencoder import BaseAutoencoderDetector
from ._compiled import DTYPE, compiled, tf
from ._classifier import FrozenClassifierMixin, _declared_input
from .models.autoencoder import AE
from .models.losses import _kld_rows, _sharpen, loss_adv_ae


class AdversarialAEDetector(
    OutlierMixin, FrozenClassifierMixin, BaseAutoencoderDetector
):
    """Autoencoder adversarial detector: the classifier must agree with itself
    on a row and on its reconstruction.

    An autoencoder is trained on (clean) rows so that a given, frozen Keras
    classifier ``model`` predicts the same class probabilities on a row and
    on its reconstruction (:func:`~sklearn_daml.models.loss_adv_ae`, the
    loss of alibi-detect's ``AdversarialAE``). The autoencoder keeps what
    the classifier relies on and drops the rest, so a small perturbation
    crafted against the classifier does not survive reconstruction. The
    outlier score of a row is the KL divergence between the classifier's
    predictions on the row (sharpened by ``temperature``) and on its
    reconstruction, plus the weighted divergences of the hidden-layer
    heads; ``score_samples`` returns its negative (higher = more normal),
    as :class:`~sklearn.ensemble.IsolationForest`. :meth:`correct` returns
    the classifier's labels with the flagged rows classified on their
    reconstruction.

    The classifier is never trained: it is only called in inference mode,
    and gradients are taken with respect to the autoencoder alone.

    Parameters
    ----------
    model : keras.Model or callable
        Trained classifier returning class probabilities (a softmax output)
        for rows of ``X``; a model with a declared input shape (e.g.
        ``(8, 8, 1)``) gets each row reshaped to it. A callable is called as
        ``model(n_features)`` at fit and returns the classifier (e.g. loads
        it). Kept as ``classifier_`` (not copied), so it pickles with the
        detector.
    hidden_layer_sizes : array-like of int, default=None
        Encoder widths; the decoder mirrors them. ``None`` resolves at fit to
        ``(h, h // 2)`` with ``h = clip(2 * n_features, 16, 128)``.
    latent_dim : int or None, default=None
        Size of the bottleneck; ``None`` resolves to ``ceil(sqrt(n_features))``.
    activation : str or callable, default="tanh"
        Activation of the hidden layers of the autoencoder.
    encoder_net, decoder_net : keras.Model or callable, default=None
        Custom networks, as in :class:`AEOutlierDetector` (e.g. the
        convolutional autoencoders of alibi-detect's examples).
    hidden_layer_kld : dict of {int: int}, default=None
        Hidden layers of the classifier whose outputs also enter the loss
        and the score: keys index ``model.layers``, values are the number of
        outputs of a softmax head on that (flattened) layer. As in
        alibi-detect the heads are initialised at random (seeded by
        ``random_state``) and never trained: they are fixed random softmax
        projections of the hidden feature maps. Needs a classifier with a
        declared input (Sequential or functional).
    w_model_hl : list of float, default=None
        Weights of the hidden-layer terms, in the order of
        ``hidden_layer_kld`` (ones by default).
    temperature : float > 0, default=1.0
        Temperature of the classifier's predictions on the input rows; below
        1 sharpens them.
    w_model : float, default=1.0
        Weight of the prediction terms of the loss.
    w_recon : float, default=0.0
        Weight of the squared reconstruction error in the loss (rescaled as
        in :func:`~sklearn_daml.models.loss_adv_ae`); 0, as in alibi-detect,
        lets the autoencoder drop everything the classifier ignores.
    epochs : int, default=20
        Passes over the training rows (alibi-detect's default).
    batch_size : int, default=128
        Rows per training step (alibi-detect's default).
    learning_rate : float, default=1e-3
        Learning rate of the optimizer named by ``optimizer``.
    optimizer : {"adam", "adamw", "rmsprop", "sgd"} or keras.optimizers.Optimizer, default="adam"
        Optimizer; an instance is copied at fit.
    contamination : "auto" or float in (0, 0.5], default="auto"
        Share of flagged rows expected in the training data, used to set
        ``offset_`` as that percentile of the training scores; ``"auto"``
        flags a row when its conformal p-value against the training scores
        is at most 0.05, as in :class:`AEOutlierDetector`.
    calibration_size : float in (0, 1), int or None, default=None
        Share (float) or number (int) of the training rows held out of
        training, drawn from ``random_state``, whose scores set ``offset_``
        and calibrate :meth:`predict_pvalues` (as in
        :class:`PixelCNNOutlierDetector`): a new row drawn like the training
        rows is then flagged with probability at most ``contamination``
        (``'auto'``: 0.05), however closely the network fits its own rows.
        ``None`` trains on every row and sets the threshold on their scores.
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the rows and stop once their loss
        has not improved for ``n_iter_no_change`` epochs (see
        :class:`AEOutlierDetector`). Off by default, as in alibi-detect.
    validation_fraction, n_iter_no_change, tol
        As in :class:`AEOutlierDetector`.
    random_state : int, RandomState instance or None, default=None
        Seeds weights, shuffling and the hidden-layer heads: the same value
        gives bit-identical scores on CPU.
    verbose : int, default=0
        ``1`` prints the loss after every epoch.

    Attributes
    ----------
    model_ : AE
        The trained autoencoder.
    classifier_ : keras.Model
        The frozen classifier (``model``, or what the callable returned).
    n_classes_ : int
        Number of classes of the classifier.
    hidden_models_ : list of keras.Model
        Softmax heads on the hidden layers named by ``hidden_layer_kld``
        (empty without it).
    loss_curve_, validation_loss_curve_, n_iter_, offset_, threshold_, calibration_scores_, \
calibration_weights_, n_features_in_, feature_names_in_
        As in :class:`AEOutlierDetector`; ``threshold_`` is in units of the
        KL divergence.

    See Also
    --------
    ModelDistillationDetector : Divergence from a distilled copy of the classifier.
    AEOutlierDetector : Reconstruction error of the rows themselves.

    Notes
    -----
    Rows flagged by this detector are those on which the classifier's
    prediction changes under reconstruction: adversarial rows, and also
    clean rows near the classifier's decision boundary. Set ``offset_``
    from clean rows (``contamination``) and check the false alarms on held
    out clean data.

    References
    ----------
    Vacanti and Van Looveren, "Adversarial Detection and Correction by
    Matching Prediction Distributions", arXiv:2002.09364, 2020.

    Examples
    --------
    >>> import numpy as np, keras
    >>> from sklearn_daml import AdversarialAEDetector
    >>> X = np.random.RandomState(0).normal(size=(200, 4))
    >>> clf = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="softmax")])
    >>> det = AdversarialAEDetector(clf, epochs=5, random_state=0).fit(X)
    >>> det.predict(X[:4]).shape, det.correct(X[:4]).shape
    ((4,), (4,))
    """

    _parameter_constraints: dict = {
        **BaseAutoencoderDetector._parameter_constraints,
        **FrozenClassifierMixin._classifier_constraints,
        "hidden_layer_kld": [dict, None],
        "w_model_hl": ["array-like", None],
        "w_model": [Interval(numbers.Real, 0, None, closed="left")],
        "w_recon": [Interval(numbers.Real, 0, None, closed="left")],
    }

    def __init__(
        self,
        model,
        *,
        hidden_layer_sizes=None,
        latent_dim=None,
        activation="tanh",
        encoder_net=None,
        decoder_net=None,
        hidden_layer_kld=None,
        w_model_hl=None,
        temperature=1.0,
        w_model=1.0,
        w_recon=0.0,
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
        self.hidden_layer_sizes = hidden_layer_sizes
        self.latent_dim = latent_dim
        self.activation = activation
        self.encoder_net = encoder_net
        self.decoder_net = decoder_net
        self.hidden_layer_kld = hidden_layer_kld
        self.w_model_hl = w_model_hl
        self.temperature = temperature
        self.w_model = w_model
        self.w_recon = w_recon
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

    def _check_params(self):
        super()._check_params()
        n_hidden = len(self.hidden_layer_kld or {})
        if self.w_model_hl is not None and len(self.w_model_hl) != n_hidden:
            raise ValueError(
                f"w_model_hl has {len(self.w_model_hl)} weights but hidden_layer_kld names "
                f"{n_hidden} layers."
            )

    # ----------------------------------------------------------- network
    def _build_model(self, X):
        self._fit_classifier(X)
        self.hidden_models_ = self._hidden_heads()
        encoder, decoder = self._autoencoder_nets(X.shape[1])
        return AE(encoder, decoder, dtype=DTYPE)

    def _hidden_heads(self):
        """Random, fixed softmax heads on the classifier's hidden layers."""
        if not self.hidden_layer_kld:
            return []
        inputs = _declared_input(self.classifier_)
        if inputs is None:
            raise ValueError(
                "hidden_layer_kld needs a classifier with a declared input (a "
                "Sequential or functional Keras model)."
            )
        heads = []
        for layer, n_out in self.hidden_layer_kld.items():
            hidden = keras.layers.Flatten()(self.classifier_.layers[int(layer)].output)
            probs = keras.layers.Dense(int(n_out), activation="softmax")(hidden)
            heads.append(keras.Model(inputs, probs, name=f"hidden_kld_{layer}"))
        return heads

    def _hidden_weights(self):
        if self.w_model_hl is None:
            return [1.0] * len(self.hidden_models_)
        return [float(w) for w in self.w_model_hl]

    def _hidden_callables(self):
        return [lambda x, m=m: self._classify(x, m) for m in self.hidden_models_]

    def _loss(self, x, x_recon):
        return loss_adv_ae(
            x,
            x_recon,
            model=self._classify,
            model_hl=self._hidden_callables() or None,
            w_model=self.w_model,
            w_recon=self.w_recon,
            w_model_hl=self._hidden_weights(),
            temperature=self.temperature,
        )

    # ----------------------------------------------------------- scoring
    def _predictions(self, x):
        """``(score, y, y_recon)``: the divergence and the classifier's
        probabilities on the rows (sharpened) and on their reconstructions."""
        x_recon = self.model_(x)
        y = _sharpen(self._classify(x), self.temperature)
        y_recon = self._classify(x_recon)
        score = _kld_rows(y, y_recon)
        for w, head in zip(self._hidden_weights(), self._hidden_callables()):
            score += w * _kld_rows(head(x), head(x_recon))
        return score, y, y_recon

    def _outlier_score(self, x):
        return self._predictions(x)[0]

    def _score_and_labels(self, x):
        """Columns: outlier score, label on the row, label on its reconstruction."""
        score, y, y_recon = self._predictions(x)
        labels = [tf.cast(tf.argmax(p, axis=-1), tf.float64) for p in (y, y_recon)]
        return tf.stack([score, *labels], axis=-1)

    def _compile_scorer(self):
        super()._compile_scorer()
        self._compiled["labels"] = compiled(self._score_and_labels, self.n_features_in_)

    def _scoring_row_width(self):
        return super()._scoring_row_width() + 64 * self.n_features_in_

    def correct(self, X):
        """Class labels with the flagged rows classified on their reconstruction.

        As alibi-detect's ``AdversarialAE.correct``: for rows that
        :meth:`predict` flags (-1), the classifier's label on the
        reconstruction; for the others, its label on the row itself.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            The input samples; a sparse matrix is converted to a sparse
            ``csr_matrix`` and densified one batch of rows at a time.

        Returns
        -------
        labels : ndarray of shape (n_samples,), int
            Indices of the predicted classes.
        """
        check_is_fitted(self)
        X = self._validate_input(X, reset=False)
        score, label, label_recon = self._map_batches(self._compiled["labels"], X).T
        flagged = -score - self.offset_ < 0  # decision_function < 0, as predict
        return np.where(flagged, label_recon, label).astype(np.intp)
