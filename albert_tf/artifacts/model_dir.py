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

from albert_tf.artifacts.formats import (MODEL_REQUIRED, load_weights_checked, read_config,
                                         writer_versions)
from albert_tf.artifacts.manifest import MODEL_FORMAT, AtomicDirectory, write_manifest
from albert_tf.contract import (CONFIG_FILE, HISTORY_FILE, LABELS_FILE, TOKENIZER_DIR,
                                WEIGHTS_FILE)
from albert_tf.errors import ModelDirError
from albert_tf.inference.trained import TrainedClassifier
from albert_tf.models.tasks import AlbertClassifier
from albert_tf.text.data import LabelVocab
from albert_tf.text.tokenizer import AlbertTokenizer

FORMAT = MODEL_FORMAT
TRAINING_CURVES = "training_curves.png"


def save_model_dir(path, model, tokenizer, labels, training_config, eval_metrics=None,
                   history=None, overwrite=False, extra_metadata=None):
    """Write a complete, hashed model directory atomically; returns
    `(config.json, manifest)` as written."""
    config = {
        "format": FORMAT,
        "model": model.get_config(),
        # Required: the length the model was trained for is what it reads.
        "max_length": training_config["max_length"],
        "training": training_config,
    }
    with AtomicDirectory(path, overwrite=overwrite) as tmp:
        with open(os.path.join(tmp, CONFIG_FILE), "w", encoding="utf-8") as f:
            json.dump(config, f, indent=2, default=str)
        model.save_weights(os.path.join(tmp, WEIGHTS_FILE))
        tokenizer.save(os.path.join(tmp, TOKENIZER_DIR))
        labels.save(os.path.join(tmp, LABELS_FILE))
        if history:
            with open(os.path.join(tmp, HISTORY_FILE), "w", encoding="utf-8") as f:
                json.dump(history, f, indent=2)
            plot_history(history, os.path.join(tmp, TRAINING_CURVES))
        manifest = write_manifest(
            tmp,
            format=FORMAT,
            versions=writer_versions(),
            eval_metrics=eval_metrics or {},
            num_parameters=int(model.count_params()),
            **(extra_metadata or {}),
        )
    return config, manifest


def plot_history(history, path, metrics=("loss", "accuracy")):
    """`metrics` per epoch, train vs eval; skipped without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    fig, axes = plt.subplots(1, len(metrics), figsize=(4.5 * len(metrics), 3.5))
    for ax, metric in zip(axes, metrics):
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


def read_model_config(path, verify=True):
    """`(metadata, config)` of a model directory, without building its model
    (`verify`: check every file against the manifest first)."""
    return read_config(os.fspath(path), MODEL_REQUIRED, FORMAT, verify)


def is_multi_label(config):
    """Whether the model whose `config.json` is `config` scores each label alone."""
    return bool(config["model"].get("multi_label"))


def load(path, dtype="float32", verify=True, dropout=None, classifier_dropout=None,
         num_layers=None):
    """Load a model directory after checking every file against its manifest.

    Weights are float32 whatever precision trained them; `dtype` picks the
    compute policy (e.g. "mixed_bfloat16" on a GPU). `dropout` and
    `classifier_dropout` replace the stored rates (to continue training).
    `num_layers` calls the stored layer weights that many times instead (see
    `classifier_with_dtype`).
    """
    path = os.fspath(path)
    metadata, config = read_model_config(path, verify)
    model_config = config["model"]
    model = classifier_with_dtype(model_config, dtype, dropout, classifier_dropout, num_layers)
    tokenizer = AlbertTokenizer.load(os.path.join(path, TOKENIZER_DIR))
    labels = LabelVocab.load(os.path.join(path, LABELS_FILE),
                             multi_label=is_multi_label(config))
    if len(labels) != model.num_classes:
        raise ModelDirError(f"{path}: {LABELS_FILE} has {len(labels)} labels but the model "
                            f"outputs {model.num_classes} classes")
    load_weights_checked(path, model, tokenizer)
    return TrainedClassifier(model, tokenizer, labels, config, metadata, path)


def classifier_with_dtype(model_config, dtype, dropout=None, classifier_dropout=None,
                          num_layers=None):
    """An `AlbertClassifier` from `get_config()` output, computing in `dtype`, with
    `dropout` / `classifier_dropout` replacing the stored rates if given (weights
    are not copied).

    `num_layers` replaces the number of layer calls. ALBERT calls its layer
    groups in turn, so the same weights run at any depth that `num_groups`
    divides: a shared-layer model trained with 6 calls answers with 4 (less
    compute per token, and a little less accuracy until it is distilled again).
    """
    model_config = copy.deepcopy(model_config)
    model_config["backbone"]["config"]["dtype"] = dtype
    if num_layers is not None:
        model_config["backbone"]["config"]["num_layers"] = num_layers
    if dropout is not None:
        model_config["backbone"]["config"]["dropout"] = dropout
    if classifier_dropout is not None:
        model_config["dropout"] = classifier_dropout
    return AlbertClassifier.from_config(model_config)
