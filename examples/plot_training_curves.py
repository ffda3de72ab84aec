"""
==================================
Training curves and early stopping
==================================

Every detector records the mean training loss of each epoch in ``loss_curve_``
and, with ``early_stopping=True``, the loss of the held-out
``validation_fraction`` of the rows in ``validation_loss_curve_``. Training
stops once the validation loss has not improved by ``tol`` (relative to the
best loss so far) for ``n_iter_no_change`` epochs and keeps the weights of the
best epoch; ``n_iter_`` is the number of epochs run, and ``epochs`` only a
maximum. Early stopping is off by default on every detector: the tabular
detectors train a short, fixed 20 epochs on all the rows (see their
``epochs`` parameter), so that they do not learn to reconstruct the outliers
among them. On data known to be clean, ``early_stopping=True`` with a larger
``epochs`` is the alternative; this example shows both on the breast cancer
table.
"""

# %%
import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_breast_cancer
from sklearn.preprocessing import StandardScaler

from sklearn_daml import AEGMMOutlierDetector, AEOutlierDetector

X = StandardScaler().fit_transform(load_breast_cancer().data)

detectors = {
    "AEOutlierDetector, early_stopping=True": AEOutlierDetector(
        early_stopping=True, epochs=150, random_state=0
    ),
    "AEGMMOutlierDetector, early_stopping=True": AEGMMOutlierDetector(
        early_stopping=True, epochs=100, random_state=0
    ),
    "AEOutlierDetector (defaults: 20 epochs)": AEOutlierDetector(random_state=0),
}
for name, det in detectors.items():
    det.fit(X)
    print(f"{name:<40} n_iter_={det.n_iter_:4d}")

# %%
# A run whose ``n_iter_`` equals ``epochs`` stopped at the cap, not early: its
# validation loss was still improving by more than ``tol``. Raise ``epochs``
# (or ``tol``) if the curve has not flattened.

# %%
# Plot
# ----
# Without early stopping there is no validation curve
# (``validation_loss_curve_`` is ``None``) and training runs for ``epochs``.
fig, axes = plt.subplots(1, 3, figsize=(12, 3.5))
for ax, (name, det) in zip(axes, detectors.items()):
    ax.plot(np.arange(1, det.n_iter_ + 1), det.loss_curve_, label="loss_curve_")
    if det.validation_loss_curve_ is not None:
        ax.plot(np.arange(1, det.n_iter_ + 1), det.validation_loss_curve_,
                label="validation_loss_curve_")
        best = int(np.argmin(det.validation_loss_curve_))
        ax.axvline(best + 1, color="gray", ls=":", label="best epoch (weights kept)")
    ax.set_title(name, fontsize=9)
    ax.set_xlabel("epoch")
    ax.legend(fontsize=8)
axes[0].set_ylabel("loss")
fig.tight_layout()
