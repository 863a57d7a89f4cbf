"""What native code (TensorFlow, the TFLite converter, LiteRT) writes to stderr,
held back and filtered: the user sees what concerns them, not start-up noise.

Standard library only, so the command line, the TF-free runtime's callers and
the export all use the same filter.
"""

import contextlib
import os
import sys
import tempfile

# Lines known to be noise, by a fragment of each.
NATIVE_NOISE = ("absl::InitializeLog", "oneDNN custom operations", "cudart_stub",
                "cuInit", "cuda drivers", "TensorFlow binary is optimized",
                "rebuild TensorFlow with the appropriate compiler flags",
                "Unable to register cu", "computation placer already registered")
# LiteRT's one line at an interpreter's first call, and the TFLite converter's
# echo of its quantization settings (twice per calibrated conversion).
XNNPACK_NOTICE = "Created TensorFlow Lite XNNPACK delegate"
# What a LiteRT interpreter's first call may write: start-up noise and that notice.
RUNTIME_NOISE = NATIVE_NOISE + (XNNPACK_NOTICE,)
CONVERTER_NOISE = ("fully_quantize:",)


@contextlib.contextmanager
def native_stderr_filtered(noise=NATIVE_NOISE):
    """Hold back what native code writes to stderr (fd 2) inside the block,
    then pass on every line but the known start-up noise."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            for line in captured.read().decode("utf-8", "replace").splitlines():
                if line.strip() and not any(n in line for n in noise):
                    print(line, file=sys.stderr)


@contextlib.contextmanager
def quiet_backend_start():
    """The first import of Keras (and its TensorFlow backend) with the start-up
    noise filtered and, unless the user chose a level, TensorFlow's INFO lines
    off: what the command line does, for `import albert_tf` users too."""
    if "keras" in sys.modules:
        yield
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    with native_stderr_filtered():
        yield
