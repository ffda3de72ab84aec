"""Quiet, single-place import of TensorFlow.

TensorFlow prints oneDNN, CPU-feature and CUDA-stub notices on import, and
device notices when its runtime starts. They are useful to someone debugging
an installation and noise to everyone else, so they are hidden unless the
user has chosen a log level with ``TF_CPP_MIN_LOG_LEVEL``.

When TensorFlow was imported before sklearn-daml, oneDNN is on (its
default) and Grappler's remapper, looking for oneDNN fusions, logs a warning
``Not handling type DT_DOUBLE`` for every float64 pattern of every compiled
function it optimises (``tensorflow/core/util/util.cc``,
``IsDataTypeSupportedByOneDNNOnThisCPU``). sklearn-daml computes in float64,
so its compiled functions run without the remapper in that case
(:func:`float64_function`): a per-thread, per-call option, so the user's own
functions and messages are untouched.
"""

import contextlib
import copy
import functools
import os
import sys

# TF_CPP_MIN_LOG_LEVEL set by this module, not by the user: worker processes
# (joblib/loky) inherit the environment and must tell the two apart
_QUIET_MARKER = "SKLEARN_DAML_DEFAULT_TF_CPP_MIN_LOG_LEVEL"
_QUIET_LEVEL = "3"


def _user_chose_level():
    level = os.environ.get("TF_CPP_MIN_LOG_LEVEL")
    return level is not None and level != os.environ.get(_QUIET_MARKER)


def import_tensorflow():
    """Import TensorFlow, hiding its start-up notices unless the user asked.

    Returns
    -------
    tf : module
        The ``tensorflow`` module.
    """
    if "tensorflow" in sys.modules:
        return sys.modules["tensorflow"]
    if _user_chose_level():
        os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
        import tensorflow as tf

        return tf
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = _QUIET_LEVEL
    os.environ[_QUIET_MARKER] = _QUIET_LEVEL
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
    # Some notices come from C++ before TF_CPP_MIN_LOG_LEVEL is read; they go
    # straight to file descriptor 2, so silence it for the import only.
    with _stderr_fd_silenced():
        import tensorflow as tf
    return tf


def start_runtime_quietly():
    """Start TensorFlow's runtime (device discovery) with its notices hidden,
    unless it already runs or the user chose a log level.

    Called before sklearn-daml's first TensorFlow operation, so that a user
    who imported TensorFlow but never ran an operation does not see CUDA
    notices printed from inside ``fit``. Device settings made by the user
    before this point (``tf.config``) are honoured; after it they can no
    longer be changed, as after any first TensorFlow operation.
    """
    from tensorflow.python.eager import context

    ctx = context.context()
    if getattr(ctx, "_initialized", True) or _user_chose_level():
        return
    with _stderr_fd_silenced():
        ctx.ensure_initialized()


@functools.lru_cache(maxsize=1)
def _onednn_enabled():
    try:
        from tensorflow.python.util import _pywrap_util_port

        return bool(_pywrap_util_port.IsMklEnabled())
    except (ImportError, AttributeError):  # pragma: no cover - other builds
        return False


@functools.lru_cache(maxsize=8)
def _without_remapper(executor_type, config_serialized):
    """Function call options equal to the given ones but for the remapper."""
    from tensorflow.core.protobuf import config_pb2, rewriter_config_pb2
    from tensorflow.python.eager import context

    config = config_pb2.ConfigProto()
    config.ParseFromString(config_serialized)
    config.graph_options.rewrite_options.remapping = rewriter_config_pb2.RewriterConfig.OFF
    return context.FunctionCallOptions(executor_type=executor_type, config_proto=config)


@contextlib.contextmanager
def _remapper_off():
    """This thread's function calls run without Grappler's remapper."""
    from tensorflow.python.eager import context

    ctx = context.context()
    saved = ctx.function_call_options
    options = _without_remapper(saved.executor_type, saved.config_proto_serialized)
    ctx.function_call_options = copy.copy(options)
    try:
        yield
    finally:
        ctx.function_call_options = saved


def float64_function(function):
    """``function`` (a ``tf.function``), called without Grappler's remapper
    when oneDNN is on.

    With oneDNN on, the remapper only looks for oneDNN fusions, which do not
    exist for float64, and logs one ``Not handling type DT_DOUBLE`` warning
    per candidate. Turning it off for these calls alone (the option is part
    of the call, per thread) stops the warnings and changes nothing else.
    With oneDNN off, ``function`` is returned as is.
    """
    if not _onednn_enabled():
        return function

    @functools.wraps(function)
    def call(*args, **kwargs):
        with _remapper_off():
            return function(*args, **kwargs)

    return call


@contextlib.contextmanager
def _stderr_fd_silenced():
    saved = _redirect_stderr_fd()
    try:
        yield
    finally:
        _restore_stderr_fd(saved)


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
