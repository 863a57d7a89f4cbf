"""Named TFLite quantization recipes, in the spirit of MediaPipe Model Maker.

A recipe is data: which converter switches it sets, what it needs (a
calibration set), and the parity it must reach. Conversion code reads the
recipe; nothing else branches on recipe names.
"""

import dataclasses

from albert_tf.errors import AlbertTfError
from albert_tf.contract import RECIPES as CONTRACT_RECIPES
from albert_tf.models.attention import RENORMALIZATION_SCOPE
from albert_tf.models.layers import LAYER_NORM_NAMES


@dataclasses.dataclass(frozen=True)
class Recipe:
    name: str
    description: str
    bytes_per_weight: float  # for the size sanity check
    optimize: bool = False  # converter.optimizations = [DEFAULT]
    float16_weights: bool = False
    calibrated: bool = False  # needs a representative dataset
    float_ops: tuple = ()  # TFLite op types kept in float (selective quantization)
    float_scopes: tuple = ()  # ...and every op whose name is under one of these scopes
    max_prob_diff: float = None  # max |p_tflite - p_keras| allowed, None = unchecked


RECIPES = {r.name: r for r in (
    Recipe("float32", "float32 weights and activations; the parity reference", 4.0,
           max_prob_diff=1e-4),
    Recipe("float16", "float16 weights, float32 compute (half the size, GPU friendly)", 2.0,
           optimize=True, float16_weights=True, max_prob_diff=1e-2),
    Recipe("dynamic_int8", "int8 weights, activations quantized on the fly", 1.0,
           optimize=True),
    # Selective quantization. Kept in float:
    # - the attention renormalization (DIV): int8 DIV rejects a denominator
    #   that rounds to zero;
    # - the attention core (BATCH_MATMUL, SOFTMAX) and layer norms (MEAN,
    #   SQUARED_DIFFERENCE, RSQRT): their int8 kernels are not run by
    #   XNNPACK and made the all-int8 graph *slower* than float32 (base
    #   shape, L=128: 438 ms against 295 ms with these ops in float, one
    #   run interleaved; see docs/history.md). They hold ~3% of the MACs.
    # - the attention renormalization's MUL and SUM, by the scope the attention
    #   layer puts them under (albert_tf/models/attention.py): in int8 their
    #   8-bit steps made answers depend on how far a batch was padded.
    # - every op of every layer norm, by layer name: the quantization
    #   debugger ranks their int8 ADD (variance + epsilon) and MULs as the
    #   worst tensors of the graph; kept float, SST-2 agreement of the bundled
    #   student went 99.66% -> 99.77% at 1,000 calibration texts, max |Δp|
    #   0.18 -> 0.13 (benchmarks/int8_calibration.py, docs/history.md).
    Recipe("int8", "int8 weights and activations for every matmul with weights (calibrated); "
                   "attention core, its padding renormalization and layer norms in float32; "
                   "float32 inputs/outputs; for integer-only hardware and batch throughput",
           1.0,
           optimize=True, calibrated=True,
           float_ops=("DIV", "BATCH_MATMUL", "SOFTMAX", "MEAN", "SQUARED_DIFFERENCE",
                      "RSQRT"),
           float_scopes=(RENORMALIZATION_SCOPE, *LAYER_NORM_NAMES)),
)}
# Every recipe, in the order `albert-tf export` writes them (names: albert_tf.contract).
DEFAULT_RECIPES = CONTRACT_RECIPES
if tuple(RECIPES) != CONTRACT_RECIPES:
    raise ImportError(f"export recipes {tuple(RECIPES)} differ from albert_tf.contract.RECIPES")


def resolve_recipes(names):
    """Recipe objects for `names` (list or comma-separated), failing on unknown ones."""
    if isinstance(names, str):
        names = [n.strip() for n in names.split(",") if n.strip()]
    names = list(names or DEFAULT_RECIPES)
    unknown = [n for n in names if n not in RECIPES]
    if unknown:
        raise AlbertTfError(
            f"unknown recipe {unknown[0]!r}; choose from {', '.join(RECIPES)}")
    if len(set(names)) != len(names):
        raise AlbertTfError(f"recipe listed twice in {names}")
    return [RECIPES[n] for n in names]
