"""Copies and checks of the networks a user gives a detector.

A user network is a Keras model (copied with fresh weights at every fit) or
a builder callable (called at fit); either way the result is checked against
the shapes the detector needs before any training step runs.
"""

import re

import keras


def instantiate_net(net, *args):
    """Fresh copy of a user network: clone a model, or call a builder.

    Keras' cloning rebuilds each layer from its serialised config, which
    fails for a raw TensorFlow function such as ``tf.nn.softmax`` as an
    activation (the networks of the alibi-detect examples) and for a
    ``Lambda`` layer around a Python lambda; those layers are then rebuilt
    with their own function objects (:func:`_fresh_layer`). No code is
    loaded from a serialised form: the network is the caller's own object.
    """
    if not isinstance(net, keras.Model):
        return net(*args)
    try:
        return keras.models.clone_model(net)
    except (TypeError, ValueError):
        return keras.models.clone_model(net, clone_function=_fresh_layer)


def _fresh_layer(layer):
    """A new, unbuilt copy of ``layer`` (fresh weights), its config's
    functions (activations and the like) taken from the layer itself.

    A ``Lambda`` layer is rebuilt around its own function object: Keras'
    cloning would serialize a Python lambda to bytecode and refuse to load
    it back (safe mode), though the network is the user's own, in memory.
    """
    if isinstance(layer, keras.Model):
        return instantiate_net(layer)
    if isinstance(layer, keras.layers.Lambda):
        return keras.layers.Lambda(
            layer.function,
            output_shape=layer._output_shape,
            mask=layer.mask,
            arguments=dict(layer.arguments),
            name=layer.name,
            dtype=layer.dtype_policy,
        )
    config = layer.get_config()
    keras_objects = (
        keras.layers.Layer,
        keras.initializers.Initializer,
        keras.regularizers.Regularizer,
        keras.constraints.Constraint,
    )
    for key in config:
        value = getattr(layer, key, None)
        if callable(value) and not isinstance(value, keras_objects):
            config[key] = value
    return layer.__class__.from_config(config)


def check_net(net, name, input_width, output_width, parameter, dtype):
    """Call a user network on a symbolic batch of ``input_width`` columns of
    ``dtype`` and check that it returns ``output_width`` columns (any width
    for ``None``).

    A mismatch is a ``ValueError`` naming the network, the expected and the
    received shape and ``parameter``, the setting that fixes it, instead of
    an error from deep inside the first compiled training step.
    """
    try:
        out = net(keras.Input((input_width,), dtype=dtype))
    except Exception as exc:
        reason = " ".join(re.sub(r"\x1b\[[0-9;]*m", "", str(exc)).split())
        raise ValueError(
            f"{name} does not accept input of shape (None, {input_width}). Change "
            f"{parameter} or {name} so that they fit. Keras said: {reason}"
        ) from exc
    shape = tuple(getattr(out, "shape", ()))
    if len(shape) != 2 or (output_width is not None and shape[1] != output_width):
        expected = f"(None, {output_width if output_width is not None else 'width'})"
        raise ValueError(
            f"{name} maps input of shape (None, {input_width}) to shape {shape}; "
            f"expected {expected}. Change {parameter} or {name} so that they fit."
        )
    return net
