"""The TF-free runtime: classify text (and embed sentences) with an exported `.tflite`.

Needs only `ai-edge-litert`, `sentencepiece` and `numpy`
(`pip install -e ".[runtime]"` from the checkout); never imports TensorFlow or Keras
unless asked to fall back on `tf.lite`.

```python
from albert_tf.runtime import Classifier
classifier = Classifier.load("runs/sst2-export")
classifier.classify(["a gripping film", "a dull mess"], top_k=1)
Classifier.load("sst2", exit="confidence:0.95").classify("a gripping film").calls
```
"""

from albert_tf.errors import (InputError, ModelFileError, ModelOutputError,
                              RuntimeUnavailableError)
from albert_tf.prediction import MultiLabelPrediction, Prediction

from .adaptive import RULE_FORMS, AdaptiveRunner, ExitRule, parse_exit_rule
from .bundle import RECIPE_PREFERENCE, available_recipes, locate
from .classifier import LONG_TEXT_MODES, Classifier, combine_sentences
from .embedder import Embedder
from .interpreters import find_interpreter
from .runner import ModelRunner

__all__ = ["Classifier", "Embedder", "Prediction", "MultiLabelPrediction", "ModelRunner", "AdaptiveRunner",
           "ExitRule", "parse_exit_rule", "RULE_FORMS", "locate", "available_recipes",
           "find_interpreter", "RECIPE_PREFERENCE", "LONG_TEXT_MODES", "combine_sentences",
           "InputError", "ModelFileError",
           "ModelOutputError", "RuntimeUnavailableError"]
