"""Plumbing shared by every detector: validation, seeding, the compiled
training and scoring steps, contamination/offset and persistence.

A detector subclass says only what its network is (``_build_model``), what
its loss is (``_loss``), what it learns after training (``_fit_extra``) and
how a batch is scored (``_outlier_score``, larger = more abnormal).
"""

import functools
import numbers
import sys
import warnings

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, _fit_context
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import gen_batches
from sklearn.utils._chunking import get_chunk_n_rows
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data

from ._dask import dask_blocks
from ._tensorflow import float64_function, import_tensorflow, start_runtime_quietly
from ._networks import check_net, instantiate_net
from ._seeding import seeded as _seeded
from ._weights import canonical_order, fit_rows_and_weights, training_draws, weighted_percentile

tf = import_tensorflow()
import keras  # noqa: E402

from .models.ensemble import member_pairs  # noqa: E402
from .models.factory import default_hidden_sizes, dense_decoder, dense_encoder  # noqa: E402
from .models.losses import Elbo, gaussian_nll_rows  # noqa: E402

_DTYPE = "float64"
# rows per compiled scoring call: large enough that the per-call overhead is
# negligible, small enough that the intermediate tensors stay in the tens of MB
_MAX_SCORING_ROWS = 2**13
# scoring batches are padded to a multiple of this many rows: the matrix
# kernels then take the same vectorised path for every row, so a row's score
# does not depend on the size of the batch it is scored in (unpadded, rows
# differ in the last bit unless the batch size is a multiple of 4; padding
# to 8 still left small batches differing, 64 none, measured for every
# batch size from 1 to 400)
_PAD_ROWS = 64
_FLOAT_MAX = np.finfo(np.float64).max
_OPTIMIZERS = {
    "adam": keras.optimizers.Adam,
    "adamw": keras.optimizers.AdamW,
    "rmsprop": keras.optimizers.RMSprop,
    "sgd": keras.optimizers.SGD,
}


class TrainingDivergedError(FloatingPointError):
    """Training produced a non-finite loss or non-finite fitted parameters.

    Raised by ``fit`` instead of returning a detector whose scores would be
    NaN; the message names the remedies (scaling the input, a lower
    ``learning_rate``, a larger ``batch_size``, a larger ``cov_jitter``).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_daml import AEOutlierDetector, TrainingDivergedError
    >>> X = np.random.RandomState(0).normal(size=(50, 3)) * 1e160  # squares overflow
    >>> try:
    ...     AEOutlierDetector(n_estimators=1, epochs=1).fit(X)
    ... except TrainingDivergedError as exc:
    ...     print(str(exc)[:32])
    Training diverged: the loss beca
    """


def _input_ndim(X):
    """Dimensions of an array or nested list, without converting other inputs
    (array-likes may refuse NumPy's array functions)."""
    if isinstance(X, (list, tuple)):
        return np.ndim(X)
    return None if sp.issparse(X) else getattr(X, "ndim", None)


def _compile(fn, *shapes, weighted=False):
    """``tf.function`` over float64 batches, one argument per shape in
    ``shapes``: of that many columns (an int) or of rows of that shape (a
    tuple).

    The fixed signature means one trace per function. TensorFlow's retracing
    detector counts traces per code object, and every fit builds new
    functions on purpose; wrapping in a ``partial`` (which has no code
    object) makes it count per function, so no false retracing warning.
    :func:`float64_function` keeps Grappler's oneDNN remapper from logging
    about float64 when the user imported TensorFlow first.
    """
    start_runtime_quietly()
    spec = [
        tf.TensorSpec([None, *(shape if isinstance(shape, tuple) else [shape])], tf.float64)
        for shape in shapes
    ]
    if weighted:  # and a last argument, one weight per row
        spec.append(tf.TensorSpec([None], tf.float64))
    return float64_function(tf.function(functools.partial(fn), input_signature=spec))


def _padded(x):
    """``x`` with copies of its last row appended up to a multiple of ``_PAD_ROWS``."""
    n_pad = -x.shape[0] % _PAD_ROWS
    if n_pad == 0:
        return x
    return np.concatenate([x, np.repeat(x[-1:], n_pad, axis=0)])


def _summed(outputs):
    """Sum of a sequence of tensors or tuples of tensors, accumulated in
    NumPy float64 in the sequence's order."""
    total = None
    for output in outputs:
        value = [t.numpy() for t in tf.nest.flatten(output)]
        total = value if total is None else [a + b for a, b in zip(total, value)]
    return total


def _improved(loss, best_loss, tol):
    """Whether ``loss`` beats ``best_loss`` by at least ``tol`` relative to it."""
    if not np.isfinite(best_loss):
        return True
    return loss < best_loss - tol * abs(best_loss)


def _diverged_message(what):
    return (
        f"Training diverged: {what}. Scale the input (for example with "
        "StandardScaler), lower learning_rate, use a larger batch_size, or "
        "for the GMM detectors raise cov_jitter."
    )


class BaseDeepDetector(BaseEstimator):
    """Base class of the deep outlier detectors. Do not use it directly.

    Semantics follow :class:`~sklearn.ensemble.IsolationForest`:
    ``score_samples`` is higher for more normal rows, ``decision_function``
    is ``score_samples - offset_`` (negative for outliers) and ``predict``
    returns +1 for inliers and -1 for outliers.
    """

    _parameter_constraints: dict = {
        "epochs": [Interval(numbers.Integral, 1, None, closed="left")],
        "batch_size": [Interval(numbers.Integral, 1, None, closed="left")],
        "learning_rate": [Interval(numbers.Real, 0, None, closed="neither")],
        "optimizer": [StrOptions(set(_OPTIMIZERS)), keras.optimizers.Optimizer],
        "contamination": [
            StrOptions({"auto"}),
            Interval(numbers.Real, 0, 0.5, closed="right"),
        ],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(numbers.Real, 0, 1, closed="neither")],
        "n_iter_no_change": [Interval(numbers.Integral, 1, None, closed="left")],
        "tol": [Interval(numbers.Real, 0, None, closed="left")],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    # ---------------------------------------------------------------- fit
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None, sample_weight=None):
        """Train the network on ``X`` and fix the decision threshold.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training rows; outliers among them are allowed (their labels are
            never used). Scale the features first (e.g. ``StandardScaler``).
        y : Ignored
            Not used, present for API consistency.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative row weights, counting copies of each row as in
            scikit-learn: with integer weights the fit equals the fit on the
            rows repeated as often as their weights (up to rounding). Each
            epoch trains on every row as often as its weight (a fractional
            part by systematic sampling), so it visits about
            ``sum(sample_weight)`` rows; the statistics fitted after
            training (GMM parameters, error scales) and the contamination
            percentile are weighted likewise. A zero weight is the same as
            leaving the row out, weights of one the same as none. The rows
            are trained on in an order set by their values, so no fit
            depends on the order of the rows of ``X``.

        Returns
        -------
        self : object
            Fitted estimator.

        Notes
        -----
        Bad input or parameters raise before anything changes: a fitted
        detector keeps its previous fit. A fit that fails after training
        began (``TrainingDivergedError``, an error from a custom network)
        leaves the detector unfitted, never half-refitted.
        """
        previous = dict(self.__dict__)
        try:
            self._check_params()
            X = self._validate_input(X, reset=True)
            X, self._sample_weight = fit_rows_and_weights(X, sample_weight)
        except Exception:
            self.__dict__.clear()  # validation may have reset feature names
            self.__dict__.update(previous)
            raise
        start_runtime_quietly()
        try:
            self._fit_training(X)
        except Exception:
            self._clear_fitted()
            raise
        finally:
            del self._sample_weight
            self.__dict__.pop("_order", None)
            self.__dict__.pop("_draws", None)
        return self

    def _clear_fitted(self):
        """Remove every fitted attribute (after a failed fit)."""
        for name in list(vars(self)):
            if (name.endswith("_") and not name.startswith("__")) or name == "_compiled":
                delattr(self, name)

    def _fit_training(self, X):
        """The fit proper, on validated rows (``_sample_weight`` is set;
        ``_order`` is the rows' canonical order, ``_draws`` the rows a
        training pass visits, in that order)."""
        with _seeded(self.random_state) as rng:
            self._order = canonical_order(X)
            self._draws = training_draws(self._order, self._sample_weight, rng)
            self.model_ = self._build_model(X)
            self.loss_curve_, self.validation_loss_curve_ = self._train(X, rng)
            self.n_iter_ = len(self.loss_curve_)
            self._fit_extra(X, rng)
        self._compile_scorer()
        scores = self._score_samples(X)
        if not np.all(np.abs(scores) < _FLOAT_MAX):  # NaN, or saturated
            raise TrainingDivergedError(_diverged_message("training rows got non-finite scores"))
        self.offset_ = self._offset(scores, self._sample_weight)

    def _validate_input(self, X, reset):
        """Validated float64 2-D array; at fit, at least two rows."""
        if reset:
            return validate_data(self, X, dtype=np.float64, ensure_min_samples=2)
        return validate_data(self, X, dtype=np.float64, reset=False)

    def _check_params(self):
        """Checks of parameters beyond ``_parameter_constraints``."""

    def _offset(self, scores, weights=None):
        """Offset on the training scores (weighted percentiles with weights).

        A float ``contamination`` takes that percentile of the training
        scores (as IsolationForest). ``'auto'`` uses Tukey's fence,
        ``Q1 - 1.5 * IQR`` of the training scores: no outlier share is
        assumed, and rows far in the low tail are flagged.
        """
        if self.contamination == "auto":
            q1, q3 = weighted_percentile(scores, [25.0, 75.0], weights)
            return float(q1 - 1.5 * (q3 - q1))
        return float(weighted_percentile(scores, 100.0 * self.contamination, weights))

    def infer_threshold(self, X, threshold_perc=95.0):
        """Set the threshold so that ``threshold_perc`` % of ``X`` are inliers.

        As alibi-detect's ``infer_threshold``: ``threshold_`` becomes the
        ``threshold_perc`` percentile of the outlier scores
        (``-score_samples``) of a reference batch ``X``, and ``offset_``
        follows (``offset_ = -threshold_``), so ``predict`` and
        ``decision_function`` use it. The network is unchanged; the next
        ``fit`` sets the threshold from ``contamination`` again.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Reference rows, for example clean validation data.
        threshold_perc : float in [0, 100], default=95.0
            Percentage of the reference rows whose outlier score is at most
            the threshold (they are predicted inliers).

        Returns
        -------
        self : object
            The detector, with ``offset_`` set.

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn_daml import AEGMMOutlierDetector
        >>> X = np.random.RandomState(0).normal(size=(300, 4))
        >>> det = AEGMMOutlierDetector(epochs=2, random_state=0).fit(X)
        >>> det = det.infer_threshold(X, threshold_perc=90)
        >>> float(np.mean(det.predict(X) == 1))
        0.9
        """
        if not isinstance(threshold_perc, numbers.Real) or not 0 <= threshold_perc <= 100:
            raise ValueError(
                f"threshold_perc must be a number in [0, 100]; got {threshold_perc!r}."
            )
        outlier_scores = -self.score_samples(X)
        self.offset_ = -float(np.percentile(outlier_scores, threshold_perc))
        return self

    @property
    def threshold_(self):
        """Decision threshold in the model's own units (energy or error).

        Rows whose outlier score (``-score_samples``) exceeds it are
        predicted as outliers; equals ``-offset_``.
        """
        check_is_fitted(self, "offset_")
        return -self.offset_

    def _make_optimizer(self):
        if isinstance(self.optimizer, keras.optimizers.Optimizer):
            return self.optimizer.__class__.from_config(self.optimizer.get_config())
        return _OPTIMIZERS[self.optimizer](learning_rate=self.learning_rate)

    # ------------------------------------------------------------ training
    def _train(self, X, rng, model=None, draws=None):
        """Mini-batch training of ``model`` (default ``model_``), one compiled
        step per batch.

        A training pass visits the rows ``draws`` of ``X`` (default
        ``_draws``: each row as often as its weight, in canonical order).
        Each epoch shuffles them and splits them into
        ``round(len(draws) / batch_size)`` nearly equal batches, so every row
        is used and no batch is tiny (the GMM statistics need rows). With
        ``early_stopping``, a random ``validation_fraction`` of them is
        held out, training stops once their loss (inference mode) has not
        improved on the best so far by at least ``tol`` times its magnitude
        for ``n_iter_no_change`` epochs, and the weights of the epoch with
        the lowest validation loss are restored. A relative tolerance means
        the same for a mean squared error near 0.1 and an ELBO in the
        hundreds.

        Returns ``(loss_curve, validation_loss_curve)``: the mean training
        loss of each epoch and, with early stopping, the validation loss of
        each epoch (else ``None``).
        """
        model = self.model_ if model is None else model
        train, val = self._validation_split(self._draws if draws is None else draws, rng)
        self._forward(model, tf.constant(X[train[:2]]), training=True)
        optimizer = self._make_optimizer()
        optimizer.build(model.trainable_variables)

        def model_loss(x, training):
            loss = tf.cast(self._loss(x, self._forward(model, x, training=training)), tf.float64)
            if model.losses:
                loss += tf.cast(tf.add_n(model.losses), tf.float64)
            return loss

        def train_step(x):
            with tf.GradientTape() as tape:
                loss = model_loss(x, training=True)
            grads = tape.gradient(loss, model.trainable_variables)
            optimizer.apply_gradients(zip(grads, model.trainable_variables))
            return loss

        train_step = _compile(train_step, X.shape[1])
        val_step = _compile(functools.partial(model_loss, training=False), X.shape[1])
        curve, val_curve = [], None if val is None else []
        best_loss, best_weights, stale = np.inf, None, 0
        for epoch in range(self.epochs):
            order = train[rng.permutation(train.shape[0])]
            epoch_loss = self._epoch_loss(train_step, X, order, epoch, progress=True)
            curve.append(epoch_loss)
            message = f"Epoch {epoch + 1}/{self.epochs} - loss: {epoch_loss:.6g}"
            if val is not None:
                val_loss = self._epoch_loss(val_step, X, val, epoch)
                val_curve.append(val_loss)
                message += f" - val_loss: {val_loss:.6g}"
                if val_loss < best_loss:
                    best_weights = model.get_weights()
                if _improved(val_loss, best_loss, self.tol):
                    stale = 0
                else:
                    stale += 1
                best_loss = min(best_loss, val_loss)
            if self.verbose:
                print(message, file=sys.stdout)
            if val is not None and stale >= self.n_iter_no_change:
                if self.verbose:
                    best_epoch = int(np.argmin(val_curve)) + 1
                    print(f"Early stopping: restoring the weights of epoch {best_epoch}.")
                break
        else:
            if val is not None:
                warnings.warn(
                    f"{type(self).__name__} reached epochs={self.epochs} while the "
                    "validation loss was still improving, so early stopping did not end "
                    "training: the fit has not converged. Raise epochs (or tol).",
                    ConvergenceWarning,
                    stacklevel=4,
                )
        if best_weights is not None:
            model.set_weights(best_weights)
        return curve, val_curve

    def _validation_split(self, draws, rng):
        """``(train, val)``: the row indices ``draws`` split at random into
        those trained on and, with early stopping, the ``validation_fraction``
        held out (else ``val`` is None). Indices, never copies of rows (a
        memory-mapped ``X`` is read batch by batch); a row of weight 2 is two
        draws, which may fall on either side, as two copies of it would."""
        if not self.early_stopping:
            return draws, None
        n_val = min(max(1, round(self.validation_fraction * len(draws))), len(draws) - 1)
        order = rng.permutation(len(draws))
        return draws[order[n_val:]], draws[order[:n_val]]

    def _epoch_loss(self, step, X, order, epoch, progress=False):
        """Mean loss of ``step`` over the batches of ``X[order]``; a
        non-finite loss raises ``TrainingDivergedError``. With ``progress``
        and ``verbose >= 2``, a ``keras.utils.Progbar`` shows the batches
        as they run (each loss is then read at once, so steps do not overlap)."""
        n_batches = max(1, round(len(order) / self.batch_size))
        batches = np.array_split(order, n_batches)
        try:
            if progress and self.verbose >= 2:
                bar = keras.utils.Progbar(n_batches, stateful_metrics=["loss"], unit_name="batch")
                losses, total = [], 0.0
                for i, idx in enumerate(batches):
                    losses.append(step(X[idx]))
                    total += float(losses[-1].numpy())
                    bar.update(i + 1, [("loss", total / (i + 1))])
            else:
                losses = [step(X[idx]) for idx in batches]
        except tf.errors.InvalidArgumentError as exc:
            raise TrainingDivergedError(
                _diverged_message(f"a numerical step failed at epoch {epoch + 1}")
            ) from exc
        loss = float(np.mean([value.numpy() for value in losses]))
        if not np.isfinite(loss):
            raise TrainingDivergedError(
                _diverged_message(f"the loss became {loss} at epoch {epoch + 1}")
            )
        return loss

    def _forward(self, model, x, training):
        """Outputs of ``model`` for a batch of validated rows."""
        return model(x, training=training)

    def _fit_extra(self, X, rng):
        """Learn what scoring needs besides the weights (GMM, noise)."""

    def _sum_over_batches(self, fn, X):
        """Sum over the row batches of ``X`` of the compiled ``fn(x, w)`` (a
        tensor or a tuple of tensors; ``w`` holds the batch's fit weights,
        ones when unweighted), accumulated in NumPy float64: statistics of
        the whole training set without holding per-row results for it."""
        compiled = _compile(fn, X.shape[1], weighted=True)
        weights = self._fit_weights(X.shape[0])
        return _summed(
            compiled(tf.constant(X[sl]), tf.constant(weights[sl]))
            for sl in self._batches(X.shape[0])
        )

    def _fit_weights(self, n_rows):
        """Weights of the training rows during ``fit`` (ones when unweighted)."""
        weights = getattr(self, "_sample_weight", None)
        return np.ones(n_rows) if weights is None else weights

    # ------------------------------------------------------------- scoring
    def _compile_scorer(self):
        """Compiled scoring functions, rebuilt after unpickling (not pickled)."""
        self._compiled = {"score": _compile(self._outlier_score, self.n_features_in_)}

    def _batches(self, n_samples):
        """Row batches of at most ``_MAX_SCORING_ROWS`` rows, fewer when
        scikit-learn's ``working_memory`` says so: the memory used while
        scoring does not grow with the number of rows."""
        row_bytes = 8 * self._scoring_row_width()
        chunk = get_chunk_n_rows(row_bytes=row_bytes, max_n_rows=min(n_samples, _MAX_SCORING_ROWS))
        return gen_batches(n_samples, max(1, chunk))

    def _scoring_row_width(self):
        """Floats held per row while scoring (a generous estimate)."""
        return 64 * self.n_features_in_ * self._n_score_samples()

    def _n_score_samples(self):
        return 1

    def _map_batches(self, fn, X):
        """``fn`` over row batches, written into one preallocated array.

        Each batch is padded with copies of its last row to a multiple of
        ``_PAD_ROWS`` rows, so a row's result is bit-identical whether it is
        scored alone, in any batch or in the full set.
        """
        out = None
        for sl in self._batches(X.shape[0]):
            batch = np.asarray(fn(tf.constant(_padded(X[sl]))))[: sl.stop - sl.start]
            if out is None:
                out = np.empty((X.shape[0],) + batch.shape[1:], dtype=np.float64)
            out[sl] = batch
        return out

    def _score_samples(self, X):
        return self._normality(self._compiled["score"], X)

    def _normality(self, outlier_fn, X):
        """``-outlier_fn`` over the row batches of validated ``X``. An outlier
        score beyond float64's range (the squared error of a row of 1e200)
        saturates at the largest float: finite, and ranked below every row
        whose score float64 can hold."""
        scores = self._map_batches(outlier_fn, X)
        np.clip(scores, -_FLOAT_MAX, _FLOAT_MAX, out=scores)
        return np.negative(scores, out=scores)

    @dask_blocks
    def score_samples(self, X):
        """Normality score of each row (higher = more normal).

        The opposite of the model's outlier score (reconstruction error or
        GMM sample energy), so it is comparable with IsolationForest's.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Or a dask array (chunked along rows) or dask DataFrame: the
            result is then a lazy dask array, scored block by block.

        Returns
        -------
        scores : ndarray of shape (n_samples,), float64
        """
        check_is_fitted(self)
        return self._score_samples(self._validate_input(X, reset=False))

    @dask_blocks
    def decision_function(self, X):
        """``score_samples(X) - offset_``: negative for outliers.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Or a dask collection, as in ``score_samples``.

        Returns
        -------
        scores : ndarray of shape (n_samples,)
        """
        return self.score_samples(X) - self.offset_

    @dask_blocks
    def predict(self, X):
        """+1 for inliers and -1 for outliers.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Or a dask collection, as in ``score_samples``.

        Returns
        -------
        is_inlier : ndarray of shape (n_samples,), int
        """
        decision = self.decision_function(X)
        is_inlier = np.ones(decision.shape[0], dtype=int)
        is_inlier[decision < 0] = -1
        return is_inlier

    # --------------------------------------------------------- persistence
    def __sklearn_clone__(self):
        """Clone as scikit-learn does; Keras networks given as parameters
        that cannot be deep-copied are shared instead.

        Keras deep-copies a network through its serialisation, which fails
        for a raw TensorFlow activation such as ``tf.nn.softmax`` (as in the
        alibi-detect examples) and would break ``GridSearchCV``. Sharing is
        safe: a detector never changes a network it is given (it trains
        fresh copies of it, or keeps a classifier frozen).
        """
        networks = {
            name: value
            for name, value in self.get_params(deep=False).items()
            if isinstance(value, keras.layers.Layer)
        }
        try:
            return super().__sklearn_clone__()
        except (TypeError, ValueError):
            if not networks:
                raise
        stripped = object.__new__(type(self))
        stripped.__dict__.update(self.__dict__)
        stripped.set_params(**dict.fromkeys(networks))
        return super(BaseDeepDetector, stripped).__sklearn_clone__().set_params(**networks)

    def save(self, path):
        """Save the detector to one file that :func:`sklearn_daml.load` reads
        without pickle, running no code from the file.

        The file holds the parameters, every fitted attribute (arrays without
        pickle), each Keras model in the ``.keras`` format and the versions
        of the libraries. It is written beside ``path`` and renamed over it,
        so a failed save leaves an existing file untouched.

        Parameters
        ----------
        path : str or path-like
            File to write; replaced if it exists.

        Raises
        ------
        TypeError
            When a parameter cannot be stored without pickle (a lambda, a
            function not registered with Keras); the message names it.

        Examples
        --------
        >>> import os, tempfile
        >>> import numpy as np
        >>> from sklearn_daml import AEOutlierDetector, load
        >>> X = np.random.RandomState(0).normal(size=(60, 3))
        >>> det = AEOutlierDetector(n_estimators=1, epochs=2, random_state=0).fit(X)
        >>> with tempfile.TemporaryDirectory() as folder:
        ...     det.save(os.path.join(folder, "detector.daml"))
        ...     loaded = load(os.path.join(folder, "detector.daml"))
        >>> loaded.offset_ == det.offset_
        True
        """
        from ._persistence import save

        save(self, path)

    def __getstate__(self):
        state = dict(super().__getstate__())  # a copy: never mutate self
        state.pop("_compiled", None)
        return state

    def __setstate__(self, state):
        super().__setstate__(state)
        if hasattr(self, "model_"):
            self._compile_scorer()


class HiddenLayersMixin:
    """``hidden_layer_sizes``: validated, and resolved at fit from the width."""

    def _check_params(self):
        super()._check_params()
        if self.hidden_layer_sizes is None:
            return
        sizes = np.asarray(self.hidden_layer_sizes)
        if sizes.ndim != 1 or not np.all(sizes == np.round(sizes)) or np.any(sizes < 1):
            raise ValueError(
                "hidden_layer_sizes must be a sequence of positive integers; "
                f"got {self.hidden_layer_sizes!r}."
            )

    def _resolved_hidden_sizes(self, n_features):
        """Hidden widths; default ``(h, h // 2)``, ``h = clip(2 n_features, 16, 128)``.

        Twice the input width gives a tiny table room to mix its features;
        the cap keeps wide tables cheap. A decoder mirrors the encoder.
        """
        if self.hidden_layer_sizes is not None:
            return tuple(int(w) for w in self.hidden_layer_sizes)
        return default_hidden_sizes(n_features)


class BaseAutoencoderDetector(HiddenLayersMixin, BaseDeepDetector):
    """Shared architecture parameters of the autoencoder-family detectors."""

    _parameter_constraints: dict = {
        **BaseDeepDetector._parameter_constraints,
        "hidden_layer_sizes": ["array-like", None],
        "latent_dim": [Interval(numbers.Integral, 1, None, closed="left"), None],
        "activation": [str, callable],
        "encoder_net": [keras.Model, callable, None],
        "decoder_net": [keras.Model, callable, None],
    }

    def _resolved_latent_dim(self, n_features):
        return self.latent_dim if self.latent_dim is not None else self._default_latent_dim(n_features)

    def _default_latent_dim(self, n_features):
        """``ceil(sqrt(n_features))``: a bottleneck that grows slowly with the
        width, so the network cannot learn the identity map."""
        return max(1, int(np.ceil(np.sqrt(n_features))))

    def _autoencoder_nets(self, n_features, variational=False):
        """Encoder and decoder: the user's (fresh copies) or the default stacks.

        Builder callables are called as ``encoder_net(n_features, latent_dim)``
        and ``decoder_net(latent_dim, n_features)``. A variational encoder
        ends at its last hidden layer; the mean and log-variance heads follow.
        """
        hidden = self._resolved_hidden_sizes(n_features)
        latent_dim = self._resolved_latent_dim(n_features)
        if self.encoder_net is not None:
            encoder = self._checked_encoder(
                instantiate_net(self.encoder_net, n_features, latent_dim), n_features, variational
            )
        else:
            encoder_out = None if variational else latent_dim
            encoder = dense_encoder(n_features, hidden, encoder_out, self.activation, _DTYPE)
        if self.decoder_net is not None:
            decoder = self._checked_decoder(
                instantiate_net(self.decoder_net, latent_dim, n_features), n_features
            )
        else:
            decoder = dense_decoder(latent_dim, hidden, n_features, self.activation, dtype=_DTYPE)
        return encoder, decoder

    def _checked_encoder(self, net, n_features, variational):
        """A user encoder must take the ``n_features`` columns of ``X`` and,
        unless variational (any width, the heads follow), return
        ``latent_dim`` columns: ``latent_dim`` is used, never ignored."""
        latent_dim = self._resolved_latent_dim(n_features)
        return check_net(
            net, "encoder_net", n_features, None if variational else latent_dim,
            f"latent_dim (resolved to {latent_dim})", _DTYPE,
        )

    def _checked_decoder(self, net, n_features):
        """A user decoder must map ``latent_dim`` columns to ``n_features``."""
        latent_dim = self._resolved_latent_dim(n_features)
        return check_net(
            net, "decoder_net", latent_dim, n_features,
            f"latent_dim (resolved to {latent_dim}; X has {n_features} features)", _DTYPE,
        )

    def _scoring_row_width(self):
        """Floats held per row while scoring (a generous estimate)."""
        hidden = self._resolved_hidden_sizes(self.n_features_in_)
        width = 4 * (2 * self.n_features_in_ + 2 * sum(hidden))
        return width * self._n_score_samples() * self._n_members()

    def _n_members(self):
        return 1


class FeatureScoresMixin:
    """``feature_score_samples`` of the reconstruction detectors.

    A detector using it implements ``_feature_outlier_scores(x)``: the
    outlier score of every feature of a batch, ``(n, n_features)``.
    """

    def _compile_scorer(self):
        super()._compile_scorer()
        self._compiled["feature"] = _compile(self._feature_outlier_scores, self.n_features_in_)

    def feature_score_samples(self, X):
        """Normality score of every feature of each row (higher = more normal).

        The negative reconstruction error of each feature, as alibi-detect's
        ``feature_score`` with the sign of ``score_samples``: the lowest
        entries of a row show which features make it an outlier.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        scores : ndarray of shape (n_samples, n_features), float64

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn_daml import AEOutlierDetector
        >>> X = np.random.RandomState(0).normal(size=(200, 4))
        >>> det = AEOutlierDetector(epochs=5, random_state=0).fit(X)
        >>> int(np.argmin(det.feature_score_samples([[0.0, 0.0, 9.0, 0.0]])))
        2
        """
        check_is_fitted(self)
        return self._normality(self._compiled["feature"], self._validate_input(X, reset=False))


class VariationalMixin:
    """Reconstruction loss and fixed scoring noise of the VAE detectors.

    alibi-detect draws fresh noise at every call, so its VAE scores are
    random. Here ``samples`` noise vectors are drawn once at fit
    (``noise_``) and every row is scored with the same ones: the score is a
    deterministic function of the row, whatever else is in the batch.
    """

    def _fit_elbo(self, X):
        """Fix the ELBO covariance (``cov_elbo``) from the training data."""
        self._elbo = None if self.cov_elbo == "mse" else Elbo(self.cov_elbo, X)

    def _reconstruction_rows(self, x, x_recon):
        """Reconstruction loss of each row and member, ``(n, n_members)``,
        for ``x_recon`` of shape ``(n, n_members, n_features)``."""
        n, n_members = tf.shape(x_recon)[0], tf.shape(x_recon)[1]
        x, x_recon = member_pairs(x, x_recon)
        if self._elbo is None:
            rows = tf.reduce_mean(tf.square(x - x_recon), axis=-1)
        else:
            rows = gaussian_nll_rows(x, x_recon, **self._elbo.kwargs)
        return tf.reshape(rows, [n, n_members])

    def _draw_noise(self, rng):
        latent_dim = self._resolved_latent_dim(self.n_features_in_)
        self.noise_ = rng.standard_normal((self.samples, latent_dim))

    def _n_score_samples(self):
        return self.samples

    def _noisy_pass(self, x):
        """Model outputs for ``samples`` copies of ``x``, stacked copy-major;
        every row and every member of an ensemble sees the same noise. The
        encoder runs once per row: the noise carries a leading axis of draws
        (see :class:`~sklearn_daml.models.Sampling`)."""
        n = tf.shape(x)[0]
        x_rep = tf.tile(x, [self.samples, 1])
        eps = tf.constant(self.noise_, tf.float64)[:, None, :]
        if getattr(self.model_, "n_members", None):
            eps = eps[:, :, None, :]
        return n, x_rep, self.model_(x, epsilon=eps)
