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

    The architecture defaults are ``'auto'``, resolved at fit from the
    images (their size and number), so that a few hundred small images
    train on a laptop CPU: on scikit-learn's digits (8 x 8, values 0..16,
    one class as inliers, about 125 training images) they resolve to
    ``low=0, high=16, num_resnet=1, num_hierarchies=2, num_filters=32,
    num_logistic_mix=5, dropout_p=0.0, use_weight_norm=False``. They grow
    with the number of training images and reach DAML's ``PixelCNN``
    configuration (160 filters, 5 ResNet blocks, 3 hierarchies, 10 mixture
    components, dropout 0.5, weight norm; the defaults of
    :class:`sklearn_daml.models.PixelCNN`) from 25,000 images of 16 x 16 or
    more. On a GPU, DAML's configuration and training for any data is one
    ``set_params`` away: ``set_params(num_resnet=5, num_hierarchies=3,
    num_filters=160, num_logistic_mix=10, dropout_p=0.5,
    use_weight_norm=True, epochs=20, batch_size=64, learning_rate=1e-3)``.

    Parameters
    ----------
    image_shape : tuple (height, width, channels), default=None
        How a 2-D row unflattens (row-major, channels last). ``None`` takes
        the shape of 4-D input, and treats a 2-D row as a
        ``1 x n_features x 1`` image.
    low, high : int or "auto", default="auto"
        The integer grid of pixel values. ``'auto'`` takes the smallest and
        largest training value (``high`` at least ``low + 1``): 0 and 16 on
        the digits, 0 and 255 on 8-bit images that use the whole range.
        Other real values are rounded and clipped to the grid (with a
        warning when either changed a value), at fit and when scoring, so a
        test value beyond the training range falls into the edge value,
        which carries the tail of the distribution.
    num_resnet : int or "auto", default="auto"
        Gated ResNet blocks per hierarchy level. ``'auto'``: 1 up to 1,000
        training images, growing with ``t`` below to DAML's 5.
    num_hierarchies : int or "auto", default="auto"
        Down-/up-sampling levels. ``'auto'`` halves the image until its
        coarsest level is at least 4 pixels high and wide, at most 3 levels
        (DAML's): 2 for 8 x 8 images, 3 for 28 x 28 or 32 x 32, 1 for a
        table row.
    num_filters : int or "auto", default="auto"
        Convolution filters. ``'auto'``: ``round(32 + 128 t)`` with
        ``t = clip((sqrt(n_images / 1000) - 1) / 4, 0, 1)``, i.e. 32 up to
        1,000 training images and DAML's 160 from 25,000.
    num_logistic_mix : int or "auto", default="auto"
        Logistic mixture components per pixel. ``'auto'``: ``round(5 + 5 t)``
        (5 to DAML's 10).
    receptive_field_dims : tuple of int, default=(3, 3)
        Height and width of the causal convolution kernels.
    dropout_p : float or "auto", default="auto"
        Dropout rate in the ResNet blocks during training. ``'auto'``:
        ``0.5 t`` (none up to 1,000 images, DAML's 0.5 from 25,000).
    resnet_activation : {"concat_elu", "elu", "relu"}, default="concat_elu"
        Activation in the ResNet blocks.
    l2_weight : float, default=0.0
        L2 penalty on the convolution kernels.
    use_weight_norm : bool or "auto", default="auto"
        Weight-normalised layers. ``'auto'``: on when ``t > 0`` (more than
        1,000 images); a one-block network trains as well without them, and
        faster.
    use_data_init : bool, default=True
        Data-dependent initialisation of the weight-normalised layers on the
        first training batch.
    bits_per_dim : bool, default=False
        Score with the log-likelihood per dimension in bits instead of the
        total log-likelihood in nats.
    epochs : int, default=60
        Passes over the training images. With ``batch_size=32`` and
        ``learning_rate=3e-3`` the defaults give a few hundred images a few
        hundred optimizer steps (about 240 for 125 digits). DAML's 20 epochs
        of 64 images at ``1e-3`` are made for tens of thousands of images:
        125 images would get 40 steps, too few to learn them (see the
        benchmark page). With many images, fewer epochs give as many steps.
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
        Share (float) or number (int) of the training images held out of
        training, drawn from ``random_state``, whose scores set
        ``offset_``: a new image drawn like the training images is then
        flagged with probability at most ``contamination`` (``'auto'``:
        0.05), the conformal guarantee. A PixelCNN scores its own training
        images far above new ones of the same kind, so a threshold on the
        training scores flags most new inliers. More held-out images give a
        threshold closer to that level; at least ``1 / level - 1`` (19 for
        0.05) are needed to flag anything. ``None`` trains on every image
        and sets the threshold on their scores (as the tabular detectors).
    optimizer, contamination, validation_fraction, n_iter_no_change, tol, random_state, verbose
        As in :class:`AEOutlierDetector`; with ``calibration_size``,
        ``contamination`` is the level of the test rather than a share of
        the training images.

    Attributes
    ----------
    model_ : PixelCNN
        The trained Keras model.
    image_shape_ : tuple
        Shape of one image.
    low_, high_ : int
        The pixel grid (``low`` and ``high`` with ``'auto'`` resolved).
    pixelcnn_params_ : dict
        The architecture the model was built with (``num_resnet``,
        ``num_hierarchies``, ``num_filters``, ``num_logistic_mix``,
        ``dropout_p``, ``use_weight_norm``), ``'auto'`` values resolved.
    calibration_scores_, calibration_weights_ : ndarray of shape (n_calibration,)
        Sorted scores of the held-out images (with ``calibration_size``;
        else of the training images), which :meth:`predict_pvalues` compares
        against, and their weights (``None`` when each image counts once).
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
    >>> det = PixelCNNOutlierDetector(epochs=2, random_state=0).fit(X)
    >>> det.low_, det.high_, det.pixelcnn_params_["num_filters"]
    (0, 3, 32)
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
        bits_per_dim=False,
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
        self.bits_per_dim = bits_per_dim
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

    def _network(self, first_batch):
        return self._pixelcnn(first_batch, self.l2_weight)

    def _unit(self):
        return self.n_features_in_ * math.log(2.0) if self.bits_per_dim else 1.0

    def _outlier_score(self, x):
        return -self.model_.log_prob(self._as_images(x), training=False) / self._unit()

    def _pixel_scores(self, x):
        return self.model_.log_prob(self._as_images(x), training=False, per_pixel=True)
