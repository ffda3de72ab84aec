"""The estimator every detector derives from: the sequence of a fit and of
a score, composed from the mechanisms.

A fit validates the input and parameters, fixes the rows' canonical order
and the rows a training pass visits, builds the network (``_build_model``),
trains it (:mod:`._training`), learns what scoring needs besides the
weights (``_fit_extra``), compiles the scorer (:mod:`._scoring`) and sets
``offset_`` from the scores of the training rows, or of the rows
``calibration_size`` held out of training (:mod:`._thresholds`). A failed fit
leaves the detector as it was (bad input) or unfitted (failed training).
A score validates the rows and runs the compiled scorer in batches; dask
collections are scored block by block (:mod:`._dask`). Saving uses the
safe format of :mod:`._persistence`.

A detector subclass says only what its network is (``_build_model``), what
its loss is (``_loss``), what it learns after training (``_fit_extra``) and
how a batch is scored (``_outlier_score``, larger = more abnormal).
"""

import numbers

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, _fit_context
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data

from ._compiled import FLOAT_MAX
from ._dask import dask_blocks
from ._persistence import save
from ._scoring import ScoringMixin
from ._seeding import seeded
from ._tensorflow import start_runtime_quietly
from ._thresholds import ThresholdMixin
from ._training import OPTIMIZERS, TrainingDivergedError, TrainingMixin, diverged_message
from ._weights import canonical_order, fit_rows_and_weights, training_draws

import keras  # noqa: E402  (after TensorFlow, imported quietly)


def input_ndim(X):
    """Dimensions of an array or nested list, without converting other inputs
    (array-likes may refuse NumPy's array functions)."""
    if isinstance(X, (list, tuple)):
        return np.ndim(X)
    return None if sp.issparse(X) else getattr(X, "ndim", None)


class BaseDeepDetector(TrainingMixin, ScoringMixin, ThresholdMixin, BaseEstimator):
    """Base class of the deep outlier detectors. Do not use it directly.

    Semantics follow :class:`~sklearn.ensemble.IsolationForest`:
    ``score_samples`` is higher for more normal rows, ``decision_function``
    is ``score_samples - offset_`` (negative for outliers) and ``predict``
    returns +1 for inliers and -1 for outliers.
    """

    # whether X may be a sparse matrix (the tabular detectors); the image and
    # series detectors read their rows as images and windows, and refuse it
    _accepts_sparse = False

    _parameter_constraints: dict = {
        "epochs": [Interval(numbers.Integral, 1, None, closed="left")],
        "batch_size": [Interval(numbers.Integral, 1, None, closed="left")],
        "learning_rate": [Interval(numbers.Real, 0, None, closed="neither")],
        "optimizer": [StrOptions(set(OPTIMIZERS)), keras.optimizers.Optimizer],
        "contamination": [
            StrOptions({"auto"}),
            Interval(numbers.Real, 0, 0.5, closed="right"),
        ],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(numbers.Real, 0, 1, closed="neither")],
        "n_iter_no_change": [Interval(numbers.Integral, 1, None, closed="left")],
        "tol": [Interval(numbers.Real, 0, None, closed="left")],
        **ThresholdMixin._calibration_constraints,
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    # ---------------------------------------------------------------- fit
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None, sample_weight=None):
        """Train the network on ``X`` and fix the decision threshold.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training rows; outliers among them are allowed (their labels are
            never used). Scale the features first (e.g. ``StandardScaler``).
            Sparse matrices are also supported by the tabular detectors (not
            by the image and series detectors): any sparse format is
            converted to a sparse ``csr_matrix``, whose rows are densified
            one batch at a time, never whole; the fit equals the fit on
            ``X.toarray()``, bit for bit.
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

    def _fit_training(self, X):
        """The fit proper, on validated rows (``_sample_weight`` is set;
        ``_order`` is the rows' canonical order, ``_draws`` the rows a
        training pass visits, in that order). The rows held out by
        ``calibration_size`` get weight zero first; every row is scored
        once at the end, for the divergence check and the threshold."""
        held_out = self._hold_out(X)
        with seeded(self.random_state) as rng:
            self._order = canonical_order(X)
            self._draws = training_draws(self._order, self._sample_weight, rng)
            self.model_ = self._build_model(X)
            self.loss_curve_, self.validation_loss_curve_ = self._train(X, rng)
            self.n_iter_ = len(self.loss_curve_)
            self._fit_extra(X, rng)
        self._compile_scorer()
        scores = self._score_samples(X)
        if not np.all(np.abs(scores) < FLOAT_MAX):  # NaN, or saturated
            raise TrainingDivergedError(diverged_message("training rows got non-finite scores"))
        self._set_offset(scores, held_out)

    def _clear_fitted(self):
        """Remove every fitted attribute (after a failed fit)."""
        for name in list(vars(self)):
            if (name.endswith("_") and not name.startswith("__")) or name == "_compiled":
                delattr(self, name)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = self._accepts_sparse
        return tags

    def _validate_input(self, X, reset):
        """Validated float64 2-D array, or CSR matrix where the detector
        takes sparse input (any sparse format is converted to CSR once; its
        rows are densified a batch at a time, see :mod:`._rows`); at fit, at
        least two rows."""
        if sp.issparse(X) and not self._accepts_sparse:
            raise TypeError(
                f"{type(self).__name__} does not take sparse input: a sparse matrix was "
                "passed for X. Pass a dense array instead (for example X.toarray(), "
                "for data that fits in memory dense)."
            )
        accept_sparse = "csr" if self._accepts_sparse else False
        if reset:
            try:
                return validate_data(
                    self, X, accept_sparse=accept_sparse, dtype=np.float64, ensure_min_samples=2
                )
            except ValueError as exc:
                if "1 sample(s)" not in str(exc):
                    raise
                raise ValueError(
                    f"{exc} A deep detector learns what its training rows share and sets "
                    "its threshold from the spread of their scores; one row has neither. "
                    "(IsolationForest fits one row, but then scores every row alike.)"
                ) from None
        return validate_data(self, X, accept_sparse=accept_sparse, dtype=np.float64, reset=False)

    def _check_params(self):
        """Checks of parameters beyond ``_parameter_constraints``."""

    def _fit_extra(self, X, rng):
        """Learn what scoring needs besides the weights (GMM, noise)."""

    # ------------------------------------------------------------- scoring
    @dask_blocks
    def score_samples(self, X):
        """Normality score of each row (higher = more normal).

        The opposite of the model's outlier score (reconstruction error or
        GMM sample energy), so it is comparable with IsolationForest's.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            The input samples. Where the detector supports sparse input (the
            tabular detectors), a sparse matrix is converted to a sparse
            ``csr_matrix`` and densified one batch of rows at a time; its
            scores equal those of ``X.toarray()``, bit for bit. Or a dask
            array (chunked along rows) or dask DataFrame: the result is then
            a lazy dask array, scored block by block.

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
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            The input samples, as in ``score_samples`` (a sparse matrix is
            converted to a sparse ``csr_matrix``); or a dask collection.

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
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            The input samples, as in ``score_samples`` (a sparse matrix is
            converted to a sparse ``csr_matrix``); or a dask collection.

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
        save(self, path)

    def __getstate__(self):
        state = dict(super().__getstate__())  # a copy: never mutate self
        state.pop("_compiled", None)
        return state

    def __setstate__(self, state):
        super().__setstate__(state)
        if hasattr(self, "model_"):
            self._compile_scorer()
