"""`ExportOptions`: every option of `albert-tf export` and its default, in one place.

TensorFlow-free and Keras-free, so `albert-tf export --help` shows these
defaults without starting TensorFlow. `pipeline._validate` checks them
before any conversion starts.
"""

import dataclasses


@dataclasses.dataclass
class ExportOptions:
    model_dir: str
    out: str
    recipes: tuple = None  # None = DEFAULT_RECIPES
    calibration: str = None  # labelled or unlabelled file; default: the training file
    eval: str = None  # labelled file for the parity report
    calibration_size: int = 1000  # benchmarks/int8_calibration.py: 200 -> 1000 raised agreement
    eval_size: int = None  # None = every row
    mediapipe_recipes: tuple = ("float32", "dynamic_int8")  # int8 also passes (docs/history.md)
    mediapipe_length: int = None  # None = the model's max_length
    min_agreement: float = 0.99
    text_column: str = None
    # New names for the model's labels, "0=negative,1=positive": labels.txt, the
    # MediaPipe label file and the SavedModel's `label` say them; an eval file
    # may still hold the values the model was trained with.
    label_names: str = None
    # A model with exit heads also gets adaptive_{recipe}.tflite (early exit,
    # export/adaptive.py) for each recipe that needs no calibration.
    adaptive: bool = True
    overwrite: bool = False
