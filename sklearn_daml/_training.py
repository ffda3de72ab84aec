"""The training loop: mini-batch steps, early stopping, divergence.

:class:`TrainingMixin` trains a detector's Keras model with one compiled
step per batch. It owns the optimizer built from the detector's
parameters, the epochs and their batches, the held-out rows and weight
restoring of early stopping, the progress output and the checks that turn a
non-finite loss into :class:`TrainingDivergedError`. A detector supplies
``_loss(x, outputs)`` and may override ``_forward``.
"""

import functools
import sys
import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning

from ._compiled import compiled, tf
from ._rows import dense_rows

import keras  # noqa: E402  (after TensorFlow, imported quietly)

OPTIMIZERS = {
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


def diverged_message(what):
    """The message of a :class:`TrainingDivergedError`: what happened and
    what the user can change."""
    return (
        f"Training diverged: {what}. Scale the input (for example with "
        "StandardScaler), lower learning_rate, use a larger batch_size, or "
        "for the GMM detectors raise cov_jitter."
    )


def _improved(loss, best_loss, tol):
    """Whether ``loss`` beats ``best_loss`` by at least ``tol`` relative to it."""
    if not np.isfinite(best_loss):
        return True
    return loss < best_loss - tol * abs(best_loss)


class TrainingMixin:
    """Mini-batch training of a detector's Keras model.

    Reads the detector's ``epochs``, ``batch_size``, ``learning_rate``,
    ``optimizer``, ``early_stopping``, ``validation_fraction``,
    ``n_iter_no_change``, ``tol`` and ``verbose``.
    """

    def _make_optimizer(self):
        """A fresh optimizer: a copy of the one given, or one by name."""
        if isinstance(self.optimizer, keras.optimizers.Optimizer):
            return self.optimizer.__class__.from_config(self.optimizer.get_config())
        return OPTIMIZERS[self.optimizer](learning_rate=self.learning_rate)

    def _forward(self, model, x, training):
        """Outputs of ``model`` for a batch of validated rows."""
        return model(x, training=training)

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
        self._forward(model, tf.constant(dense_rows(X, train[:2])), training=True)
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

        train_step = compiled(train_step, X.shape[1])
        val_step = compiled(functools.partial(model_loss, training=False), X.shape[1])
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
        """Mean loss of ``step`` over the batches of ``X[order]`` (each read
        with :func:`~._rows.dense_rows`, densified if sparse); a
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
                    losses.append(step(dense_rows(X, idx)))
                    total += float(losses[-1].numpy())
                    bar.update(i + 1, [("loss", total / (i + 1))])
            else:
                losses = [step(dense_rows(X, idx)) for idx in batches]
        except tf.errors.InvalidArgumentError as exc:
            raise TrainingDivergedError(
                diverged_message(f"a numerical step failed at epoch {epoch + 1}")
            ) from exc
        loss = float(np.mean([value.numpy() for value in losses]))
        if not np.isfinite(loss):
            raise TrainingDivergedError(
                diverged_message(f"the loss became {loss} at epoch {epoch + 1}")
            )
        return loss
