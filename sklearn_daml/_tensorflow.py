"""Quiet, single-place import of TensorFlow.

TensorFlow prints oneDNN, CPU-feature and CUDA-stub notices on import. They are
useful to someone debugging an installation and noise to everyone else, so they
are hidden unless the user has chosen a log level with ``TF_CPP_MIN_LOG_LEVEL``.
"""

import os
import sys


def import_tensorflow():
    """Import TensorFlow, hiding its start-up notices unless the user asked.

    Returns
    -------
    tf : module
        The ``tensorflow`` module.
    """
    if "tensorflow" in sys.modules:
        return sys.modules["tensorflow"]
    user_chose_level = "TF_CPP_MIN_LOG_LEVEL" in os.environ
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
    if user_chose_level:
        import tensorflow as tf

        return tf
    # Some notices come from C++ before TF_CPP_MIN_LOG_LEVEL is read; they go
    # straight to file descriptor 2, so silence it for the import only.
    saved = _redirect_stderr_fd()
    try:
        import tensorflow as tf
    finally:
        _restore_stderr_fd(saved)
    return tf


def _redirect_stderr_fd():
    try:
        sys.stderr.flush()
        saved = os.dup(2)
        devnull = os.open(os.devnull, os.O_WRONLY)
    except OSError:
        return None
    os.dup2(devnull, 2)
    os.close(devnull)
    return saved


def _restore_stderr_fd(saved):
    if saved is None:
        return
    os.dup2(saved, 2)
    os.close(saved)
