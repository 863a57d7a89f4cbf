"""The facts every layer of the kit shares, each written once.

The library, `export`, the TF-free runtime and the apps import these names
instead of retyping the strings. Keras-free and import-free, so the runtime
can read it. A directory or file that lacks one of these facts is an error
where it is read, never a silent default.
"""

# The model's int32 inputs, [batch, length] each: the Keras model's input
# dict, the SavedModel signature and the kit's `.tflite` signature inputs.
INPUTS = ("token_ids", "segment_ids", "padding_mask")
# MediaPipe's TextClassifier names the same three tensors (in this order of
# meaning) and feeds them as [1, L] at one static length.
MEDIAPIPE_INPUTS = ("ids", "segment_ids", "mask")
PROBABILITIES, EMBEDDING = "probabilities", "embedding"  # the kit's outputs
MEDIAPIPE_PROBABILITY = "probability"
# The SavedModel's raw-string inputs: the text, and its second text for a
# model trained on pairs.
SAVED_MODEL_TEXT_INPUTS = ("text", "text_pair")

# Tokens per text when nobody says otherwise (training, export, CLI).
DEFAULT_MAX_LENGTH = 128

# File names inside the kit's directories (model, pretrained, export).
CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.weights.h5"
LABELS_FILE = "labels.txt"
TOKENIZER_DIR = "tokenizer"
TOKENIZER_MODEL = f"{TOKENIZER_DIR}/spiece.model"
MANIFEST_FILE = "metadata.json"
HISTORY_FILE = "history.json"
HELDOUT_FILE = "heldout.txt"  # an embedder's held-out sentences, one per line

# Export recipes, by name; `export.recipes` says how each is made.
RECIPES = ("float32", "float16", "dynamic_int8", "int8")
# The recipe the runtime and the demo pick when none is asked for: fastest
# first, as measured on every CPU we had (Zen 3 AVX2; Zen 4 and Zen 5 with
# AVX-512 VNNI): dynamic_int8 was at least as fast as int8, because XNNPACK's
# GEMM with on-the-fly activation quantization runs as fast as its all-int8
# one, and int8 pays for the requantized adds and the QUANTIZE/DEQUANTIZE
# edges of its float islands (benchmarks/int8_kernels.py, docs/history.md).
# int8 stays the option for integer-only hardware.
RECIPE_PREFERENCE = ("dynamic_int8", "int8", "float16", "float32")

# Exit heads (early exit on ALBERT's shared layer, PABEE's shape): a
# classifier after every layer call, each its own (`per_call`) or one head for
# all calls (`shared`). None: the ordinary classifier, unchanged.
EXIT_HEADS = ("per_call", "shared")

# The adaptive (early-exit) file's signatures and tensors (export/adaptive.py):
# `embed`, one call of the shared `layer`, and `exit_1` ... `exit_N`.
ADAPTIVE_EMBED, ADAPTIVE_LAYER, ADAPTIVE_EXIT = "embed", "layer", "exit_"
ADAPTIVE_HIDDEN = "hidden"
ADAPTIVE_PREFIX = "adaptive_"  # adaptive_{recipe}.tflite beside {recipe}.tflite
ADAPTIVE_FILES = "adaptive_files"  # the export manifest's key listing them

# Keras backends the kit runs on (`--backend`, KERAS_BACKEND).
BACKENDS = ("tensorflow", "jax", "torch")

# How a text's token vectors become one embedding (`embed`, `--pooling`).
POOLINGS = ("cls", "mean")
