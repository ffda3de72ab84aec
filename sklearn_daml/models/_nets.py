"""Configuration of Keras models whose constructor arguments are networks.

A model that takes Keras networks (an encoder, a decoder) or registered
functions as arguments returns them serialized from ``get_config`` and
rebuilds them in ``from_config``, so it saves to ``.keras`` files and
pickles. Every class is registered under the package ``sklearn_daml``.
"""

import keras

serializable = keras.saving.register_keras_serializable(package="sklearn_daml")
_serialize = keras.saving.serialize_keras_object
_deserialize = keras.saving.deserialize_keras_object


class NetsMixin:
    """get_config/from_config for models whose arguments include Keras nets."""

    _net_args = ()
    _fn_args = ()

    def get_config(self):
        config = super().get_config()
        for name in self._net_args + self._fn_args:
            config[name] = _serialize(getattr(self, name))
        config.update(self._plain_config())
        return config

    def _plain_config(self):
        return {}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for name in cls._net_args + cls._fn_args:
            config[name] = _deserialize(config[name])
        return cls(**config)
