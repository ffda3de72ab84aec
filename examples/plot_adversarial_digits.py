"""
==============================================================
Adversarial digits: detectors that watch the classifier itself
==============================================================

A small Keras classifier is trained on scikit-learn's ``load_digits`` (8 x 8
images, no download). The fast gradient sign method (FGSM) then nudges every
pixel of each test image by 0.05 (on a 0..1 scale) in the direction that
raises the classifier's loss: the change is barely visible, yet the
classifier gets many of these images wrong.

:class:`~sklearn_daml.AdversarialAEDetector` trains an autoencoder so that the
classifier predicts the same on an image and on its reconstruction; an
adversarial image loses its perturbation in the reconstruction, and the
classifier's two predictions disagree. :class:`~sklearn_daml.ModelDistillationDetector`
trains a small network to mimic the classifier; adversarial images push the
classifier where the mimic does not follow. Both look at the classifier's
behaviour, where :class:`~sklearn.ensemble.IsolationForest` sees only the
pixels. The scores are compared on the clean test images the classifier gets
right and the FGSM images that fool it. Both detectors fit in seconds on two
CPU cores.
"""

# %%
# A classifier and its adversarial images
# ---------------------------------------
import keras
import matplotlib.pyplot as plt
import numpy as np
import tensorflow as tf
from sklearn.datasets import load_digits
from sklearn.ensemble import IsolationForest
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split

from sklearn_daml import AdversarialAEDetector, ModelDistillationDetector

X, y = load_digits(return_X_y=True)
X = X.astype("float32") / 16.0  # pixels in [0, 1]
X_train, X_test, y_train, y_test = train_test_split(
    X, y, test_size=0.3, random_state=0, stratify=y
)

keras.utils.set_random_seed(0)
classifier = keras.Sequential(
    [
        keras.Input((64,)),
        keras.layers.Dense(64, activation="relu"),
        keras.layers.Dense(10, activation="softmax"),  # the detectors need probabilities
    ]
)
classifier.compile(optimizer=keras.optimizers.Adam(1e-2), loss="sparse_categorical_crossentropy")
classifier.fit(X_train, y_train, epochs=20, batch_size=64, verbose=0)


def fgsm(model, X, y, eps):
    """One step of size ``eps`` along the sign of the loss gradient."""
    x = tf.constant(X)
    with tf.GradientTape() as tape:
        tape.watch(x)
        loss = keras.losses.sparse_categorical_crossentropy(y, model(x))
    return np.clip(X + eps * np.sign(tape.gradient(loss, x).numpy()), 0.0, 1.0)


X_adv = fgsm(classifier, X_test, y_test, eps=0.05)
pred_clean = classifier.predict(X_test, verbose=0).argmax(axis=1)
pred_adv = classifier.predict(X_adv, verbose=0).argmax(axis=1)
correct = pred_clean == y_test
fooled = correct & (pred_adv != y_test)
print(f"accuracy on clean test images: {correct.mean():.3f}, "
      f"on FGSM images: {np.mean(pred_adv == y_test):.3f}")
print(f"{correct.sum()} clean images classified right, "
      f"{fooled.sum()} FGSM images that fool the classifier")

X_eval = np.vstack([X_test[correct], X_adv[fooled]])
is_adversarial = np.r_[np.zeros(correct.sum()), np.ones(fooled.sum())]

# %%
# Three detectors, fitted on the clean training images
# ----------------------------------------------------
# The detectors take the trained classifier as their first argument and never
# train it. ``-score_samples`` is the outlier score (higher = more suspicious).
detectors = {
    "AdversarialAEDetector": AdversarialAEDetector(classifier, random_state=0),
    "ModelDistillationDetector": ModelDistillationDetector(classifier, random_state=0),
    "IsolationForest": IsolationForest(random_state=0),
}
for name, detector in detectors.items():
    detector.fit(X_train)
    auc = roc_auc_score(is_adversarial, -detector.score_samples(X_eval))
    print(f"ROC-AUC clean vs FGSM  {name:<26} {auc:.3f}")

# %%
# Correction
# ----------
# ``correct`` classifies the rows the adversarial detector flags on their
# reconstruction instead, as alibi-detect's ``AdversarialAE.correct``.
adversarial_ae = detectors["AdversarialAEDetector"]
labels = adversarial_ae.correct(X_adv[fooled])
print(f"FGSM images that fool the classifier: {np.mean(labels == y_test[fooled]):.3f} "
      "classified right after correction")
print(f"clean images still classified right after correction: "
      f"{np.mean(adversarial_ae.correct(X_test[correct]) == y_test[correct]):.3f}")

# %%
# What the autoencoder keeps
# --------------------------
# Top: clean test images; middle: their FGSM versions; bottom: the
# autoencoder's reconstruction of the FGSM image. Titles give the classifier's
# label and, on the middle row, the adversarial score (KL divergence).
picks = np.flatnonzero(fooled)[:6]
X_recon = np.asarray(adversarial_ae.model_(X_adv[picks].astype("float64")))
scores = -adversarial_ae.score_samples(X_adv[picks])
fig, axes = plt.subplots(3, len(picks), figsize=(9, 5))
for col, i in enumerate(picks):
    rows = [
        (X_test[i], f"{pred_clean[i]}"),
        (X_adv[i], f"{pred_adv[i]} (KL {scores[col]:.2f})"),
        (X_recon[col], f"{classifier.predict(X_recon[col:col + 1], verbose=0).argmax()}"),
    ]
    for row, (image, title) in enumerate(rows):
        ax = axes[row, col]
        ax.imshow(image.reshape(8, 8), cmap="gray_r", vmin=0, vmax=1)
        ax.set_title(title, fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
for row, label in enumerate(["clean", "FGSM", "reconstructed"]):
    axes[row, 0].set_ylabel(label)
fig.suptitle("Classifier labels on clean, adversarial and reconstructed digits")
fig.tight_layout()
plt.show()
