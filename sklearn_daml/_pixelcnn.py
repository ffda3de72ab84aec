"""PixelCNN likelihood outlier detector."""

import math

from sklearn.base import OutlierMixin

from ._image import BaseImageDetector


class PixelCNNOutlierDetector(OutlierMixin, BaseImageDetector):
    """Outlier detector scoring images by their PixelCNN++ log-likelihood.

    A PixelCNN++ (Salimans et al., 2017) models the training images pixel by
    pixel with a discretised logistic mixture on the integer grid
    ``[low, high]``. ``score_samples`` is the log-likelihood of an image
    (higher = more normal), or with ``bits_per_dim=True`` the log-likelihood
    per dimension in bits (minus the usual bits/dim), which compares images
    of different sizes.

    The defaults are DAML's ``PixelCNN`` configuration (160 filters, 5 ResNet
    blocks, 3 hierarchies, 10 mixture components): right for 32 x 32 colour
    images on a GPU, slow on a CPU. For small images such as
    ``load_digits`` (8 x 8, values 0..16), ``num_resnet=1,
    num_hierarchies=2, num_filters=32, num_logistic_mix=5, dropout_p=0.0,
    use_weight_norm=False`` trains in a minute or two on two cores.

    Parameters
    ----------
    image_shape : tuple (height, width, channels), default=None
        How a 2-D row unflattens (row-major, channels last). ``None`` takes
        the shape of 4-D input, and treats a 2-D row as a
        ``1 x n_features x 1`` image.
    low, high : int, default=0, 255
        The integer grid of pixel values. Other real values are rounded and
        clipped to it (with a warning when either changed a value).
    num_resnet : int, default=5
        Gated ResNet blocks per hierarchy level.
    num_hierarchies : int, default=3
        Down-/up-sampling levels.
    num_filters : int, default=160
        Convolution filters.
    num_logistic_mix : int, default=10
        Logistic mixture components per pixel.
    receptive_field_dims : tuple of int, default=(3, 3)
        Height and width of the causal convolution kernels.
    dropout_p : float, default=0.5
        Dropout rate in the ResNet blocks during training.
    resnet_activation : {"concat_elu", "elu", "relu"}, default="concat_elu"
        Activation in the ResNet blocks.
    l2_weight : float, default=0.0
        L2 penalty on the convolution kernels.
    use_weight_norm : bool, default=True
        Weight-normalised layers.
    use_data_init : bool, default=True
        Data-dependent initialisation of the weight-normalised layers on the
        first training batch.
    bits_per_dim : bool, default=False
        Score with the log-likelihood per dimension in bits instead of the
        total log-likelihood in nats.
    epochs : int, default=20
        Passes over the training images.
    batch_size : int, default=64
        Images per training step.
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the images and stop once their
        loss has not improved for ``n_iter_no_change`` epochs, keeping the
        best weights. Off by default, as in DAML, which trains a fixed
        number of epochs.
    learning_rate, optimizer, contamination, validation_fraction, n_iter_no_change, tol, \
random_state, verbose
        As in :class:`AEOutlierDetector`.

    Attributes
    ----------
    model_ : PixelCNN
        The trained Keras model.
    image_shape_ : tuple
        Shape of one image.
    loss_curve_, validation_loss_curve_, n_iter_, offset_, threshold_, n_features_in_, feature_names_in_
        As in :class:`AEOutlierDetector`; ``threshold_`` is a negative
        log-likelihood (or bits per dimension).

    See Also
    --------
    LLROutlierDetector : Likelihood ratio against a background model.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_daml import PixelCNNOutlierDetector
    >>> X = np.random.RandomState(0).randint(0, 4, size=(100, 2, 2, 1))
    >>> det = PixelCNNOutlierDetector(
    ...     low=0, high=3, num_resnet=1, num_hierarchies=1, num_filters=8,
    ...     num_logistic_mix=2, epochs=2, random_state=0).fit(X)
    >>> det.score_samples(X[:3]).shape
    (3,)
    """

    _parameter_constraints: dict = {
        **BaseImageDetector._parameter_constraints,
        "bits_per_dim": ["boolean"],
    }

    def __init__(
        self,
        *,
        image_shape=None,
        low=0,
        high=255,
        num_resnet=5,
        num_hierarchies=3,
        num_filters=160,
        num_logistic_mix=10,
        receptive_field_dims=(3, 3),
        dropout_p=0.5,
        resnet_activation="concat_elu",
        l2_weight=0.0,
        use_weight_norm=True,
        use_data_init=True,
        bits_per_dim=False,
        epochs=20,
        batch_size=64,
        learning_rate=1e-3,
        optimizer="adam",
        contamination="auto",
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
        self.bits_per_dim = bits_per_dim
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.optimizer = optimizer
        self.contamination = contamination
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol
        self.random_state = random_state
        self.verbose = verbose

    def _build_model(self, X):
        return self._pixelcnn(X, self.l2_weight)

    def _unit(self):
        return self.n_features_in_ * math.log(2.0) if self.bits_per_dim else 1.0

    def _outlier_score(self, x):
        return -self.model_.log_prob(self._as_images(x), training=False) / self._unit()

    def _pixel_scores(self, x):
        return self.model_.log_prob(self._as_images(x), training=False, per_pixel=True)
