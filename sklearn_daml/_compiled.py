"""Compiled TensorFlow functions over float64 row batches.

Every computation a detector runs on its rows (a training step, a score, a
statistic of the training set) is a ``tf.function`` with a fixed input
signature, built here, so that it traces once per fit. The networks compute
in float64 (:data:`DTYPE`): a row's output then does not depend on the batch
it is computed in, and the GMM energy's log-determinants stay accurate.
"""

import functools

import numpy as np

from ._tensorflow import float64_function, import_tensorflow, start_runtime_quietly

tf = import_tensorflow()

DTYPE = "float64"
# the largest float64: scores beyond it saturate there
FLOAT_MAX = np.finfo(np.float64).max


def compiled(fn, *shapes, weighted=False):
    """``tf.function`` over float64 batches, one argument per shape in
    ``shapes``: of that many columns (an int) or of rows of that shape (a
    tuple).

    The fixed signature means one trace per function. TensorFlow's retracing
    detector counts traces per code object, and every fit builds new
    functions on purpose; wrapping in a ``partial`` (which has no code
    object) makes it count per function, so no false retracing warning.
    :func:`float64_function` keeps Grappler's oneDNN remapper from logging
    about float64 when the user imported TensorFlow first.
    """
    start_runtime_quietly()
    spec = [
        tf.TensorSpec([None, *(shape if isinstance(shape, tuple) else [shape])], tf.float64)
        for shape in shapes
    ]
    if weighted:  # and a last argument, one weight per row
        spec.append(tf.TensorSpec([None], tf.float64))
    return float64_function(tf.function(functools.partial(fn), input_signature=spec))


def summed(outputs):
    """Sum of a sequence of tensors or tuples of tensors, accumulated in
    NumPy float64 in the sequence's order."""
    total = None
    for output in outputs:
        value = [t.numpy() for t in tf.nest.flatten(output)]
        total = value if total is None else [a + b for a, b in zip(total, value)]
    return total
