"""The randomness of a fit, drawn from the fit's own seed and nothing global.

Keras takes the seed of every layer that draws random numbers (weight
initializers, dropout, sampling) from Python's global ``random`` when the
layer is created (``keras.src.random.seed_generator.make_default_seed``).
Seeding that global generator for a fit, as ``keras.utils.set_random_seed``
does, makes a fit reproducible only while nothing else in the process draws
from it: a second fit in another thread, or any user code, shifts the seeds.

Here Keras' draws are routed to a generator of the current thread while a
fit runs in it (:func:`seeded`); outside a fit, and in other threads, they
go to Python's global generator as usual. The user's global Python, NumPy,
TensorFlow and Keras random states are never touched. Should a future Keras
no longer draw its seeds this way, fits fall back to seeding the global
generator under a process-wide lock (reproducible between fits, which then
run one at a time).
"""

import contextlib
import random
import threading

import numpy as np
from keras.src.random import seed_generator as _keras_seeds
from sklearn.utils import check_random_state

_local = threading.local()
_GLOBAL_FALLBACK_LOCK = threading.RLock()


class _ThreadRoutedRandom:
    """Stands in for the ``random`` module inside Keras' seed generator:
    ``randint`` draws from the current thread's fit generator if a fit is
    running in this thread, else from Python's global generator."""

    def __getattr__(self, name):
        generator = getattr(_local, "generator", None)
        return getattr(random if generator is None else generator, name)


def _route_keras_seeds():
    """Install the router once; False where Keras draws seeds otherwise."""
    module = getattr(_keras_seeds, "python_random", None)
    if isinstance(module, _ThreadRoutedRandom):
        return True
    if module is not random or not hasattr(_keras_seeds, "make_default_seed"):
        return False
    _keras_seeds.python_random = _ThreadRoutedRandom()
    return True


_ROUTED = _route_keras_seeds()


def fit_seed(random_state):
    """The integer seed of one fit, from its ``random_state``."""
    return int(check_random_state(random_state).randint(np.iinfo(np.int32).max))


@contextlib.contextmanager
def seeded(random_state):
    """Make the layers created in this block draw their seeds from the fit's
    own generator; yields a ``numpy.random.RandomState`` for the fit's own
    draws (splits, shuffling, noise)."""
    seed = fit_seed(random_state)
    if not _ROUTED:
        with _GLOBAL_FALLBACK_LOCK:
            state = random.getstate()
            random.seed(seed)
            try:
                yield np.random.RandomState(seed)
            finally:
                random.setstate(state)
        return
    previous = getattr(_local, "generator", None)
    _local.generator = random.Random(seed)
    try:
        yield np.random.RandomState(seed)
    finally:
        _local.generator = previous
