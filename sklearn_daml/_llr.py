"""Likelihood-ratio outlier detector (Ren et al., 2019)."""

import numbers

import keras
import numpy as np
from sklearn.base import OutlierMixin
from sklearn.utils._param_validation import Interval

from ._image import BaseImageDetector
from ._networks import instantiate_net


class LLROutlierDetector(OutlierMixin, BaseImageDetector):
    """Likelihood-ratio outlier detector: semantic minus background likelihood.

    Two likelihood models are trained: a semantic model on the training
    images, and a background model on the same images perturbed so that
    only low-level statistics survive (each value replaced, with probability
    ``mutation_rate``, by a different value drawn uniformly from
    ``[low, high]``). ``score_samples`` is
    ``log p_semantic(x) - log p_background(x)`` (higher = more normal): the
    background term cancels what both models share (e.g. the share of
    background pixels), which raw likelihoods are known to be dominated by
    (Ren et al., 2019). ``feature_score_samples`` gives the ratio per pixel.

    Both models are PixelCNN++ networks with the architecture parameters
    below, unless ``semantic_model``/``background_model`` are given.

    Parameters
    ----------
    image_shape, low, high, num_resnet, num_hierarchies, num_filters, num_logistic_mix, \
receptive_field_dims, dropout_p, resnet_activation, l2_weight, use_weight_norm, use_data_init
        PixelCNN configuration of both models, as in
        :class:`PixelCNNOutlierDetector` (``'auto'`` values are resolved
        from the training images, the same for both models).
    mutation_rate : float in [0, 1), default=0.2
        Probability that a value of a background training image is replaced
        by a different random value (Ren et al. used 0.1 to 0.3).
    background_l2_weight : float >= 0, default=0.1
        L2 penalty of the default (PixelCNN) background model, on the loss
        in nats per dimension, so its strength does not depend on the image
        size; a custom background model is used as given. It
        keeps the background model from learning the semantics the
        perturbation leaves behind, which would cancel the semantic model:
        a much weaker penalty (such as ``1e-4``) leaves the background model
        about as good as the semantic one, and the ratio ranks poorly (see
        the design notes). Lower it only if the background model underfits
        even the low-level statistics.
    semantic_model, background_model : keras.Model or callable, default=None
        Custom likelihood models: any Keras model with
        ``log_prob(x, training=None, per_pixel=False)`` returning the
        log-likelihood of each image (or of each pixel, shape
        ``(n, height, width)``) of a batch ``x`` of shape
        ``(n, height, width, channels)`` holding values on the grid. A model
        is cloned at fit; a callable is called as ``f(image_shape)``. With
        only ``semantic_model`` given, the background is built the same way.
    epochs : int, default=60
        Passes over the training images, for each of the two models; as in
        :class:`PixelCNNOutlierDetector`, whose docstring says why 60 epochs
        of 32 at ``3e-3`` and not DAML's 20 of 64 at ``1e-3``.
    batch_size : int, default=32
        Images per training step.
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the images and stop once their
        loss has not improved for ``n_iter_no_change`` epochs, keeping the
        best weights. Off by default, as in DAML, which trains a fixed
        number of epochs.
    learning_rate : float, default=3e-3
        Learning rate of the optimizer named by ``optimizer`` (DAML: 1e-3).
    calibration_size : float in (0, 1), int or None, default=0.2
        Images held out of both models' training, whose scores set
        ``offset_``, as in :class:`PixelCNNOutlierDetector`.
    optimizer, contamination, validation_fraction, n_iter_no_change, tol, random_state, verbose
        As in :class:`AEOutlierDetector`; with ``calibration_size``,
        ``contamination`` is the level of the test rather than a share of
        the training images.

    Attributes
    ----------
    model_ : keras.Model
        The semantic model.
    background_model_ : keras.Model
        The background model.
    loss_curve_, background_loss_curve_ : list of float
        Mean training loss per epoch of each model.
    validation_loss_curve_, background_validation_loss_curve_ : list of float or None
        Held-out loss per epoch of each model (``None`` without early
        stopping).
    n_iter_ : int
        Epochs run by the semantic model.
    image_shape_, low_, high_, pixelcnn_params_, calibration_scores_, calibration_weights_, \
offset_, threshold_, n_features_in_, feature_names_in_
        As in :class:`PixelCNNOutlierDetector`.

    See Also
    --------
    PixelCNNOutlierDetector : The semantic likelihood alone.

    References
    ----------
    Ren, J., Liu, P. J., Fertig, E., Snoek, J., Poplin, R., DePristo, M. A.,
    Dillon, J. V. and Lakshminarayanan, B. "Likelihood Ratios for
    Out-of-Distribution Detection." NeurIPS 2019.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_daml import LLROutlierDetector
    >>> X = np.random.RandomState(0).randint(0, 4, size=(100, 2, 2, 1))
    >>> det = LLROutlierDetector(epochs=2, random_state=0).fit(X)
    >>> det.feature_score_samples(X[:3]).shape
    (3, 2, 2)
    """

    _parameter_constraints: dict = {
        **BaseImageDetector._parameter_constraints,
        "mutation_rate": [Interval(numbers.Real, 0, 1, closed="left")],
        "background_l2_weight": [Interval(numbers.Real, 0, None, closed="left")],
        "semantic_model": [keras.Model, callable, None],
        "background_model": [keras.Model, callable, None],
    }

    def __init__(
        self,
        *,
        image_shape=None,
        low="auto",
        high="auto",
        num_resnet="auto",
        num_hierarchies="auto",
        num_filters="auto",
        num_logistic_mix="auto",
        receptive_field_dims=(3, 3),
        dropout_p="auto",
        resnet_activation="concat_elu",
        l2_weight=0.0,
        use_weight_norm="auto",
        use_data_init=True,
        mutation_rate=0.2,
        background_l2_weight=0.1,
        semantic_model=None,
        background_model=None,
        epochs=60,
        batch_size=32,
        learning_rate=3e-3,
        optimizer="adam",
        contamination="auto",
        calibration_size=0.2,
        early_stopping=False,
        validation_fraction=0.1,
        n_iter_no_change=10,
        tol=1e-3,
        random_state=None,
        verbose=0,
    ):
        self.image_shape = image_shape
        self.low = low
        self.high = high
        self.num_resnet = num_resnet
        self.num_hierarchies = num_hierarchies
        self.num_filters = num_filters
        self.num_logistic_mix = num_logistic_mix
        self.receptive_field_dims = receptive_field_dims
        self.dropout_p = dropout_p
        self.resnet_activation = resnet_activation
        self.l2_weight = l2_weight
        self.use_weight_norm = use_weight_norm
        self.use_data_init = use_data_init
        self.mutation_rate = mutation_rate
        self.background_l2_weight = background_l2_weight
        self.semantic_model = semantic_model
        self.background_model = background_model
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

    def _likelihood_model(self, X, user_model, l2_weight):
        if user_model is not None:
            return instantiate_net(user_model, self.image_shape_)
        return self._pixelcnn(X, l2_weight)

    def _network(self, first_batch):
        return self._likelihood_model(first_batch, self.semantic_model, self.l2_weight)

    def _mutate(self, X, rng):
        """Replace each value, with probability ``mutation_rate``, by a
        different value drawn uniformly from the grid ``[low_, high_]``."""
        n_values = self.high_ - self.low_ + 1
        replace = rng.random_sample(X.shape) < self.mutation_rate
        shift = rng.randint(1, n_values, size=X.shape)
        mutated = self.low_ + (X - self.low_ + shift) % n_values
        return np.where(replace, mutated, X)

    def _fit_extra(self, X, rng):
        # every training draw mutated on its own (a row of weight 2 gives two
        # mutated copies), in the canonical order of the draws
        X_background = self._mutate(X[self._draws], rng)
        background = self.background_model
        if background is None:
            background = self.semantic_model
        self.background_model_ = self._likelihood_model(
            X_background, background, self.background_l2_weight
        )
        if self.verbose:
            print("Background model:")
        self.background_loss_curve_, self.background_validation_loss_curve_ = self._train(
            X_background, rng, self.background_model_, draws=np.arange(len(X_background))
        )

    def _log_ratio(self, x, per_pixel):
        images = self._as_images(x)
        semantic = self.model_.log_prob(images, training=False, per_pixel=per_pixel)
        background = self.background_model_.log_prob(images, training=False, per_pixel=per_pixel)
        return semantic - background

    def _outlier_score(self, x):
        return -self._log_ratio(x, per_pixel=False)

    def _pixel_scores(self, x):
        return self._log_ratio(x, per_pixel=True)

    def _scoring_row_width(self):
        return 2 * super()._scoring_row_width()
