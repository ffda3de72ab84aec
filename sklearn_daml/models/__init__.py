"""Keras 3 models, losses and GMM maths of sklearn-daml (public API)."""

from .._tensorflow import import_tensorflow

import_tensorflow()

from .autoencoder import AE, AEGMM, VAE, VAEGMM, Decoder, EncoderAE, EncoderVAE, Sampling  # noqa: E402
from .ensemble import EnsembleDense, ensemble_dense_stack  # noqa: E402
from .factory import create_model, dense_decoder, dense_encoder, gmm_density_net  # noqa: E402
from .features import EuclCosimFeatures, eucl_cosim_features  # noqa: E402
from .gmm import (  # noqa: E402
    gmm_cov_penalty,
    gmm_energy,
    gmm_params,
    gmm_params_from_statistics,
    gmm_responsibilities,
    gmm_sufficient_statistics,
)
from .losses import (  # noqa: E402
    Elbo,
    LossGMM,
    elbo,
    loss_adv_ae,
    loss_aegmm,
    loss_distillation,
    loss_vaegmm,
)
from .pixelcnn import (  # noqa: E402
    PixelCNN,
    WeightNormConv2D,
    WeightNormConv2DTranspose,
    WeightNormDense,
    discretized_logistic_mixture_log_prob,
)
from .seq2seq import (  # noqa: E402
    DecoderLSTM,
    EncoderLSTM,
    Seq2Seq,
    default_threshold_net,
    squared_difference,
)

__all__ = [
    "AE",
    "AEGMM",
    "VAE",
    "VAEGMM",
    "Decoder",
    "EncoderAE",
    "EncoderVAE",
    "Sampling",
    "EnsembleDense",
    "ensemble_dense_stack",
    "create_model",
    "dense_decoder",
    "dense_encoder",
    "gmm_density_net",
    "EuclCosimFeatures",
    "eucl_cosim_features",
    "gmm_cov_penalty",
    "gmm_energy",
    "gmm_params",
    "gmm_params_from_statistics",
    "gmm_responsibilities",
    "gmm_sufficient_statistics",
    "Elbo",
    "LossGMM",
    "elbo",
    "loss_aegmm",
    "loss_vaegmm",
    "loss_adv_ae",
    "loss_distillation",
    "EncoderLSTM",
    "DecoderLSTM",
    "Seq2Seq",
    "default_threshold_net",
    "squared_difference",
    "PixelCNN",
    "WeightNormConv2D",
    "WeightNormConv2DTranspose",
    "WeightNormDense",
    "discretized_logistic_mixture_log_prob",
]
