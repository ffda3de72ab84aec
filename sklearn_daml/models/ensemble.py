"""Vectorized ensembles: ``n_members`` independent dense networks in one.

An ensemble of small networks averages away most of the variance that a
single network's random initialisation brings (RandNet, Chen et al., SDM
2017). Training the members one after another costs ``n_members`` fits; here
the members' weights are stacked along a leading axis and every layer applies
all of them in one batched matrix product, so one compiled training step
updates every member and ten members cost a fraction of ten fits.

Tensors carry the member axis second: ``(n_samples, n_members, width)``. The
batch axis stays first, as Keras expects, and a plain ``(n_samples, width)``
input is shared by every member.
"""

import keras
from keras import layers, ops

__all__ = ["EnsembleDense", "ensemble_dense_stack"]


@keras.saving.register_keras_serializable(package="sklearn_daml")
class EnsembleDense(layers.Layer):
    """``n_members`` independent dense layers applied at once.

    Member ``m`` computes ``activation(x[:, m] @ kernel[m] + bias[m])``. The
    input is either ``(n_samples, input_dim)``, shared by all members, or
    ``(n_samples, n_members, input_dim)``, one slice per member; the output
    is ``(n_samples, n_members, units)``. Each member's kernel is initialised
    as a Glorot-uniform ``(input_dim, units)`` matrix of its own: the limit is
    ``sqrt(6 / (input_dim + units))``, as for ``Dense``.

    Parameters
    ----------
    units : int
        Output width of every member.
    n_members : int
        Number of members.
    activation : str or callable, default=None
        Keras activation applied to the output.
    use_bias : bool, default=True
        Whether each member has a bias vector.
    **kwargs
        Standard layer arguments (``name``, ``dtype``, ...).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_daml.models import EnsembleDense
    >>> layer = EnsembleDense(3, n_members=5)
    >>> tuple(layer(np.zeros((4, 2), dtype="float32")).shape)
    (4, 5, 3)
    >>> tuple(layer.kernel.shape)
    (5, 2, 3)
    """

    def __init__(self, units, n_members, activation=None, use_bias=True, **kwargs):
        super().__init__(**kwargs)
        self.units = int(units)
        self.n_members = int(n_members)
        self.activation = keras.activations.get(activation)
        self.use_bias = bool(use_bias)

    def build(self, input_shape):
        input_dim = int(input_shape[-1])
        # VarianceScaling counts the leading axis as a receptive field
        # (fans multiplied by n_members); scale=n_members cancels it, which
        # gives every member the Glorot-uniform limit of its own matrix.
        initializer = keras.initializers.VarianceScaling(
            scale=float(self.n_members), mode="fan_avg", distribution="uniform"
        )
        self.kernel = self.add_weight(
            name="kernel", shape=(self.n_members, input_dim, self.units), initializer=initializer
        )
        self.bias = (
            self.add_weight(name="bias", shape=(self.n_members, self.units), initializer="zeros")
            if self.use_bias
            else None
        )

    def call(self, inputs):
        if len(inputs.shape) == 2:
            outputs = ops.einsum("ni,mio->nmo", inputs, self.kernel)
        else:
            outputs = ops.einsum("nmi,mio->nmo", inputs, self.kernel)
        if self.bias is not None:
            outputs = outputs + self.bias
        return self.activation(outputs)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.n_members, self.units)

    def get_config(self):
        return {
            **super().get_config(),
            "units": self.units,
            "n_members": self.n_members,
            "activation": keras.activations.serialize(self.activation),
            "use_bias": self.use_bias,
        }


def member_pairs(x, x_members):
    """Rows ``x`` paired with each member's output for them, as flat rows.

    ``x`` of shape ``(n_samples, ...)`` and ``x_members`` of shape
    ``(n_samples, n_members, ...)`` become two tensors of shape
    ``(n_samples * n_members, ...)``, sample-major: a member's
    reconstruction is compared with its own row. Without a member axis
    (``x_members`` of the shape of ``x``) both are returned unchanged.
    """
    x = ops.convert_to_tensor(x)
    x_members = ops.cast(x_members, x.dtype)
    if len(x_members.shape) == len(x.shape) + 1:
        x = ops.broadcast_to(ops.expand_dims(x, 1), ops.shape(x_members))
        rows = (-1,) + tuple(x_members.shape[2:])
        x, x_members = ops.reshape(x, rows), ops.reshape(x_members, rows)
    return x, x_members


def ensemble_dense_stack(
    input_dim,
    widths,
    n_members,
    activation="tanh",
    output_activation=None,
    shared_input=True,
    dtype=None,
    name=None,
):
    """Sequential stack of :class:`EnsembleDense` layers.

    ``input_dim -> widths[0] -> ... -> widths[-1]``: every layer but the last
    uses ``activation``, the last ``output_activation`` (linear by default).

    Parameters
    ----------
    input_dim : int
        Width of the input.
    widths : sequence of int
        Output widths of the layers.
    n_members : int
        Number of members.
    shared_input : bool, default=True
        ``True``: the input is ``(n_samples, input_dim)``, shared by the
        members (an encoder). ``False``: it is
        ``(n_samples, n_members, input_dim)``, one slice per member (a
        decoder fed by an ensemble encoder).
    activation : str or callable, default="tanh"
        Activation of every layer but the last.
    output_activation : str or callable, default=None
        Activation of the last layer.
    dtype : str, default=None
        Dtype of the weights and computations.
    name : str, default=None
        Name of the Sequential model.

    Returns
    -------
    model : keras.Sequential

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_daml.models import ensemble_dense_stack
    >>> encoder = ensemble_dense_stack(4, [8, 2], n_members=3)
    >>> decoder = ensemble_dense_stack(2, [8, 4], n_members=3, shared_input=False)
    >>> z = encoder(np.zeros((5, 4), dtype="float32"))
    >>> tuple(z.shape), tuple(decoder(z).shape)
    ((5, 3, 2), (5, 3, 4))
    """
    shape = (input_dim,) if shared_input else (n_members, input_dim)
    stack = [keras.Input(shape, dtype=dtype)]
    for i, width in enumerate(widths):
        last = i == len(widths) - 1
        stack.append(
            EnsembleDense(
                width,
                n_members,
                activation=output_activation if last else activation,
                dtype=dtype,
            )
        )
    return keras.Sequential(stack, name=name)
