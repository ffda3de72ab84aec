"""Tests of the Keras 3 Seq2Seq LSTM model (sklearn_daml.models.seq2seq)."""

import pickle

import numpy as np
import pytest

from sklearn_daml.models import (
    DecoderLSTM,
    EncoderLSTM,
    Seq2Seq,
    default_threshold_net,
    squared_difference,
)

import keras  # noqa: E402  (after sklearn_daml: quiet TensorFlow import)
import tensorflow as tf  # noqa: E402
from keras import ops  # noqa: E402

N, SEQ_LEN, N_FEATURES, LATENT_DIM = 4, 6, 2, 8


def make_model(beta=1.0, dtype=None, net_dtype=None, latent_dim=LATENT_DIM, n_features=N_FEATURES):
    keras.utils.set_random_seed(0)
    return Seq2Seq(
        EncoderLSTM(latent_dim, dtype=net_dtype),
        DecoderLSTM(latent_dim, n_features, dtype=net_dtype),
        default_threshold_net(dtype=net_dtype),
        n_features,
        beta=beta,
        dtype=dtype,
    )


@pytest.fixture
def x():
    return np.random.RandomState(0).normal(size=(N, SEQ_LEN, N_FEATURES)).astype("float32")


def sine_windows(n=32, seq_len=SEQ_LEN, n_features=N_FEATURES, seed=0):
    rng = np.random.RandomState(seed)
    t = np.arange(seq_len)[None, :, None] * 0.5 + rng.uniform(0, 2 * np.pi, size=(n, 1, n_features))
    return np.sin(t).astype("float32")


def test_encoder_shapes(x):
    seq, (h, c) = EncoderLSTM(LATENT_DIM)(x)
    assert tuple(seq.shape) == (N, SEQ_LEN, LATENT_DIM)
    assert tuple(h.shape) == (N, LATENT_DIM)
    assert tuple(c.shape) == (N, LATENT_DIM)


def test_encoder_state_concatenates_both_directions(x):
    enc = EncoderLSTM(LATENT_DIM)
    seq, (h, _) = enc(x)
    half = LATENT_DIM // 2
    # forward h is the forward output at the last step, backward h the backward output at step 0
    np.testing.assert_allclose(h[:, :half], seq[:, -1, :half], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(h[:, half:], seq[:, 0, half:], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("latent_dim", [7, 1])
def test_odd_latent_dim_raises(latent_dim):
    with pytest.raises(ValueError, match="latent_dim must be even"):
        EncoderLSTM(latent_dim)


def test_decoder_shapes_and_initial_state(x):
    dec = DecoderLSTM(LATENT_DIM, N_FEATURES, output_activation="tanh")
    state = [np.ones((N, LATENT_DIM), "float32"), np.zeros((N, LATENT_DIM), "float32")]
    out, hidden, (h, c) = dec(x, state)
    assert tuple(out.shape) == (N, SEQ_LEN, N_FEATURES)
    assert tuple(hidden.shape) == (N, SEQ_LEN, LATENT_DIM)
    assert tuple(h.shape) == (N, LATENT_DIM) and tuple(c.shape) == (N, LATENT_DIM)
    assert np.all(np.abs(np.asarray(out)) <= 1.0)  # tanh output activation
    np.testing.assert_allclose(h, hidden[:, -1], rtol=1e-5, atol=1e-6)
    out0, _, _ = dec(x, [np.zeros_like(s) for s in state])
    assert not np.allclose(out, out0)  # the initial state is used


def test_model_and_decode_seq_shapes(x):
    model = make_model()
    assert tuple(model(x).shape) == (N, SEQ_LEN, N_FEATURES)
    x_recon, threshold_est = model.decode_seq(x)
    assert tuple(x_recon.shape) == (N, SEQ_LEN, N_FEATURES)
    assert tuple(threshold_est.shape) == (N, SEQ_LEN, N_FEATURES)


def test_call_is_teacher_forced(x):
    model = make_model()
    x_recon = model(x)
    _, state = model.encoder_net(x)
    x_dec = np.concatenate([x[:, :1], x[:, :-1]], axis=1)
    expected, _, _ = model.decoder_net(x_dec, state)
    np.testing.assert_allclose(x_recon, expected, rtol=1e-5, atol=1e-6)


def test_teacher_forcing_and_autoregressive_agree_first_step_only(x):
    model = make_model()
    teacher = np.asarray(model(x))
    auto, _ = model.decode_seq(x)
    auto = np.asarray(auto)
    np.testing.assert_allclose(auto[:, 0], teacher[:, 0], rtol=1e-5, atol=1e-6)
    assert not np.allclose(auto[:, 1:], teacher[:, 1:], atol=1e-4)


def test_decode_seq_equals_manual_step_loop(x):
    model = make_model()
    x_recon, threshold_est = model.decode_seq(x)
    _, state = model.encoder_net(x)
    inp, outs, hiddens = x[:, :1], [], []
    for _ in range(SEQ_LEN):
        out, hidden, state = model.decoder_net(inp, state)
        outs.append(np.asarray(out))
        hiddens.append(np.asarray(hidden))
        inp = out
    np.testing.assert_allclose(x_recon, np.concatenate(outs, axis=1), rtol=1e-5, atol=1e-6)
    expected_threshold = model.threshold_est(model.threshold_net(np.concatenate(hiddens, axis=1)))
    np.testing.assert_allclose(threshold_est, expected_threshold, rtol=1e-5, atol=1e-6)


def test_decode_seq_in_tf_function(x):
    model = make_model()
    eager = model.decode_seq(x)
    graph = tf.function(model.decode_seq)(tf.constant(x))
    for a, b in zip(eager, graph):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("beta", [1.0, 2.5])
def test_threshold_loss_value(x, beta):
    model = make_model(beta=beta)
    x_recon = model(x)
    assert len(model.losses) == 1
    _, state = model.encoder_net(x)
    x_dec = np.concatenate([x[:, :1], x[:, :-1]], axis=1)
    _, hidden, _ = model.decoder_net(x_dec, state)
    threshold_est = np.asarray(model.threshold_est(model.threshold_net(hidden)))
    score = (x - np.asarray(x_recon)) ** 2
    expected = beta * np.mean((score - threshold_est) ** 2)
    np.testing.assert_allclose(float(model.losses[0]), expected, rtol=1e-4)


def test_threshold_loss_does_not_train_reconstruction(x):
    model = make_model()
    model(x)
    with tf.GradientTape() as tape:
        model(x)
        loss = ops.sum(model.losses)
    output_kernel = model.decoder_net.dense.kernel
    grads = tape.gradient(loss, [output_kernel, model.threshold_net.trainable_weights[0]])
    assert grads[0] is None or np.allclose(grads[0], 0.0)  # score is behind stop_gradient
    assert grads[1] is not None and not np.allclose(grads[1], 0.0)


def test_alibi_style_threshold_net_gets_the_output_layer(x):
    # alibi-detect's default threshold_net: hidden layers only, no n_features output
    hidden_only = keras.Sequential(
        [keras.layers.Dense(64, activation="relu"), keras.layers.Dense(64, activation="relu")]
    )
    encoder, decoder = EncoderLSTM(LATENT_DIM), DecoderLSTM(LATENT_DIM, N_FEATURES)
    model = Seq2Seq(encoder, decoder, hidden_only, N_FEATURES)
    model(x)
    x_recon, threshold_est = model.decode_seq(x)
    assert tuple(threshold_est.shape) == (N, SEQ_LEN, N_FEATURES)
    assert model.threshold_est.kernel.shape == (64, N_FEATURES)


def test_threshold_net_learns_on_sine_windows():
    x = sine_windows()
    model = make_model()
    model(x)
    optimizer = keras.optimizers.Adam(1e-2)
    weights = model.trainable_weights

    @tf.function
    def step(batch):
        with tf.GradientTape() as tape:
            x_recon = model(batch, training=True)
            threshold_loss = ops.sum(model.losses)
            loss = ops.mean(ops.square(batch - x_recon)) + threshold_loss
        optimizer.apply_gradients(zip(tape.gradient(loss, weights), weights))
        return threshold_loss

    losses = [float(step(x)) for _ in range(30)]
    assert losses[-1] < 0.5 * losses[0]


def test_squared_difference_is_default(x):
    model = make_model()
    assert model.score_fn is squared_difference
    np.testing.assert_allclose(squared_difference(x, 2 * x), x**2, rtol=1e-6)


@pytest.mark.parametrize("net_dtype", ["float64", "float32"])
def test_float64_model(x, net_dtype):
    """A float64 model works with float64 nets and with float32 nets inside."""
    model = make_model(dtype="float64", net_dtype=net_dtype)
    x64 = x.astype("float64")
    assert model(x64).dtype == "float64"
    assert model.losses[0].dtype == "float64"
    x_recon, threshold_est = model.decode_seq(x64)
    assert x_recon.dtype == "float64" and threshold_est.dtype == "float64"
    assert model.decoder_net.lstm.weights[0].dtype == net_dtype
    assert model.encoder_net.lstm.weights[0].dtype == net_dtype
    assert model.threshold_net.weights[0].dtype == net_dtype


def _outputs(model, x):
    return [np.asarray(model(x)), *map(np.asarray, model.decode_seq(x))]


def _assert_same_outputs(a, b, x):
    for u, v in zip(_outputs(a, x), _outputs(b, x)):
        np.testing.assert_allclose(u, v, rtol=1e-6, atol=1e-7)


def test_save_load_keras_file(x, tmp_path):
    model = make_model(beta=0.5)
    model(x)
    path = tmp_path / "seq2seq.keras"
    keras.saving.save_model(model, path)
    loaded = keras.saving.load_model(path)
    assert isinstance(loaded, Seq2Seq)
    assert isinstance(loaded.encoder_net, EncoderLSTM) and isinstance(loaded.decoder_net, DecoderLSTM)
    assert loaded.beta == 0.5 and loaded.n_features == N_FEATURES
    _assert_same_outputs(model, loaded, x)


def test_pickle_round_trip(x):
    model = make_model()
    model(x)
    clone = pickle.loads(pickle.dumps(model))
    assert clone.score_fn is squared_difference
    _assert_same_outputs(model, clone, x)


def test_config_round_trip(x):
    model = make_model(beta=3.0)
    model(x)
    clone = Seq2Seq.from_config(model.get_config())
    assert clone.beta == 3.0 and clone.n_features == N_FEATURES
    assert clone.encoder_net.latent_dim == LATENT_DIM
    assert clone.decoder_net.output_dim == N_FEATURES
    clone(x)
    clone.set_weights(model.get_weights())
    _assert_same_outputs(model, clone, x)
    dec = DecoderLSTM(LATENT_DIM, N_FEATURES, output_activation="sigmoid")
    assert DecoderLSTM.from_config(dec.get_config()).output_activation == "sigmoid"
