"""Model directories: write them whole, load them only when intact.

```
MODEL_DIR/
  config.json           model config (Keras get_config) + training config
  model.weights.h5      weights (HDF5; no pickle anywhere)
  tokenizer/spiece.model, tokenizer/tokenizer.json
  labels.txt            one label per line, line i = class i
  history.json          per-epoch training metrics
  training_curves.png   the same as a plot (when matplotlib is installed)
  metadata.json         versions, date, eval metrics, sha256 of every file
```
"""

import copy
import json
import os

import keras
import numpy as np

from albert_tf import __version__
from albert_tf.data import LabelVocab
from albert_tf.errors import ModelDirError
from albert_tf.inference import predict_in_batches
from albert_tf.manifest import (MODEL_FORMAT, AtomicDirectory, package_versions,
                                verify_manifest, write_manifest)
from albert_tf.models import AlbertClassifier
from albert_tf.tokenizer import AlbertTokenizer

CONFIG = "config.json"
WEIGHTS = "model.weights.h5"
LABELS = "labels.txt"
TOKENIZER_DIR = "tokenizer"
REQUIRED = (CONFIG, WEIGHTS, LABELS, f"{TOKENIZER_DIR}/spiece.model")
FORMAT = MODEL_FORMAT


def save_model_dir(path, model, tokenizer, labels, training_config=None, eval_metrics=None,
                   history=None, overwrite=False, extra_metadata=None):
    """Write a complete, hashed model directory atomically."""
    config = {
        "format": FORMAT,
        "model": model.get_config(),
        "max_length": (training_config or {}).get("max_length", 128),
        "training": training_config or {},
    }
    with AtomicDirectory(path, overwrite=overwrite) as tmp:
        with open(os.path.join(tmp, CONFIG), "w", encoding="utf-8") as f:
            json.dump(config, f, indent=2, default=str)
        model.save_weights(os.path.join(tmp, WEIGHTS))
        tokenizer.save(os.path.join(tmp, TOKENIZER_DIR))
        labels.save(os.path.join(tmp, LABELS))
        if history:
            with open(os.path.join(tmp, "history.json"), "w", encoding="utf-8") as f:
                json.dump(history, f, indent=2)
            _plot_history(history, os.path.join(tmp, "training_curves.png"))
        write_manifest(
            tmp,
            format=FORMAT,
            versions={"albert_tf": __version__, "keras_backend": keras.backend.backend(),
                      **package_versions("keras", "tensorflow", "jax", "torch",
                                         "sentencepiece", "numpy")},
            eval_metrics=eval_metrics or {},
            num_parameters=int(model.count_params()),
            **(extra_metadata or {}),
        )
    return path


def _plot_history(history, path):
    """Loss and accuracy per epoch, train vs eval; skipped without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.5))
    for ax, metric in zip(axes, ("loss", "accuracy")):
        for key, style in ((metric, "-o"), (f"val_{metric}", "--s")):
            if key in history:
                epochs = range(1, len(history[key]) + 1)
                ax.plot(epochs, history[key], style, label="train" if key == metric else "eval")
        ax.set_xlabel("epoch")
        ax.set_title(metric)
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


class TrainedClassifier:
    """A loaded model directory: classifier, tokenizer and labels together.

    Example:
    ```python
    model = albert_tf.load("runs/sst2")
    model.predict(["a gripping, funny film"])[0]["label"]
    vectors = model.embed(["a film", "a movie"], pooling="mean")
    ```
    """

    def __init__(self, model, tokenizer, labels, config, metadata=None, path=None):
        self.model = model
        self.tokenizer = tokenizer
        self.labels = labels
        self.config = config
        self.metadata = metadata or {}
        self.path = path
        self.max_length = int(config.get("max_length", 128))

    @property
    def backbone(self):
        return self.model.backbone

    def predict_proba(self, texts, pairs=None, batch_size=64):
        """Class probabilities `(n, num_classes)` (softmax, or sigmoid if multi-label)."""
        logits, _ = predict_in_batches(
            self.model, self.tokenizer, texts, pairs, self.max_length, batch_size)
        return self._probs(logits)

    def predict(self, texts, pairs=None, batch_size=64, threshold=0.5):
        """One dict per text: `label` (or `labels`), `probabilities`, `truncated`."""
        if isinstance(texts, (str, bytes)):
            texts, pairs = [texts], ([pairs] if pairs is not None else None)
        logits, truncated = predict_in_batches(
            self.model, self.tokenizer, texts, pairs, self.max_length, batch_size)
        probs = self._probs(logits)
        results = []
        for row, cut in zip(probs, truncated):
            result = {"probabilities": dict(zip(self.labels.names, map(float, row))),
                      "truncated": bool(cut)}
            if self.labels.multi_label:
                result["labels"] = [n for n, p in zip(self.labels.names, row) if p >= threshold]
            else:
                result["label"] = self.labels.names[int(np.argmax(row))]
            results.append(result)
        return results

    def _probs(self, logits):
        if self.labels.multi_label:
            return 1.0 / (1.0 + np.exp(-logits))
        shifted = np.exp(logits - logits.max(axis=-1, keepdims=True))
        return shifted / shifted.sum(axis=-1, keepdims=True)

    def evaluate(self, examples, batch_size=64):
        """Metrics on labelled `Examples` (see `albert_tf.metrics`)."""
        from albert_tf.metrics import classification_report, multilabel_report

        y_true = self.labels.encode(examples)
        logits, _ = predict_in_batches(self.model, self.tokenizer, examples.texts,
                                       examples.pairs, self.max_length, batch_size)
        if self.labels.multi_label:
            return multilabel_report(y_true, logits > 0.0, self.labels.names)
        return classification_report(y_true, logits.argmax(-1), self.labels.names)

    def embed(self, texts, pooling="cls", batch_size=64):
        from albert_tf.embedding import embed

        return embed(self.backbone, self.tokenizer, texts, pooling=pooling,
                     max_length=self.max_length, batch_size=batch_size)


def load(path, dtype="float32", verify=True):
    """Load a model directory after checking every file against its manifest.

    Weights are float32 whatever precision trained them; `dtype` picks the
    compute policy for inference (e.g. "mixed_bfloat16" on a GPU).
    """
    path = os.fspath(path)
    metadata, config = read_config(path, REQUIRED, FORMAT, verify)
    model_config = config["model"]
    model = classifier_with_dtype(model_config, dtype)
    tokenizer = AlbertTokenizer.load(os.path.join(path, TOKENIZER_DIR))
    labels = LabelVocab.load(os.path.join(path, LABELS),
                             multi_label=bool(model_config.get("multi_label")))
    if len(labels) != model.num_classes:
        raise ModelDirError(f"{path}: {LABELS} has {len(labels)} labels but the model "
                            f"outputs {model.num_classes} classes")
    load_weights_checked(path, model, tokenizer)
    return TrainedClassifier(model, tokenizer, labels, config, metadata, path)


def has_config_format(path, expected):
    """Whether `path/config.json` declares the format `expected` (no hashing)."""
    try:
        with open(os.path.join(path, CONFIG), encoding="utf-8") as f:
            return json.load(f).get("format") == expected
    except (OSError, ValueError, AttributeError):
        return False


def is_model_dir(path):
    """Whether `path` holds a classifier model directory."""
    return has_config_format(path, FORMAT)


def classifier_with_dtype(model_config, dtype):
    """An `AlbertClassifier` from `get_config()` output, computing in `dtype`
    (weights are not copied)."""
    model_config = copy.deepcopy(model_config)
    model_config["backbone"]["config"]["dtype"] = dtype
    return AlbertClassifier.from_config(model_config)


def read_config(path, required, expected_format, verify=True, hint=""):
    """`(manifest, config.json)` of a directory, once its files match the manifest."""
    metadata = verify_manifest(path, required, expected_format=expected_format) if verify else {}
    with open(os.path.join(path, CONFIG), encoding="utf-8") as f:
        config = json.load(f)
    if config.get("format") != expected_format:
        raise ModelDirError(f"{path}: {CONFIG} has format {config.get('format')!r}, "
                            f"expected {expected_format!r}{hint}")
    return metadata, config


def load_weights_checked(path, model, tokenizer, weights=WEIGHTS):
    """Load `path/weights` into `model` once the tokenizer fits its embedding."""
    if tokenizer.vocab_size != model.backbone.vocabulary_size:
        raise ModelDirError(f"{path}: tokenizer has {tokenizer.vocab_size} pieces but the "
                            f"model embeds {model.backbone.vocabulary_size}")
    try:
        model.load_weights(os.path.join(path, weights))
    except (ValueError, OSError) as error:
        raise ModelDirError(f"{path}: weights do not fit the config: {error}") from None
