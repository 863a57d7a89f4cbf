"""Average the weights of model directories into one ("model soup").

Fine-tuned models that share a starting point (successive epochs of one
run, or runs continued from the same weights) lie in one basin of the loss,
and the mean of their weights is often better than each of them: a uniform
"model soup" (Wortsman et al., 2022), checkpoint averaging as the
Transformer paper did with its last checkpoints (Vaswani et al., 2017). It
costs one forward pass per prediction, unlike an ensemble of the same models.
Measured on SST-2 dev (docs/history.md): the mean of the distilled student's
epochs 2 and 3 scored 86.93%, each of them 86.58% and 86.35%.

Keras has no model-level averaging (its optimizers' `use_ema` averages
during one `fit`); this works on finished directories, from any runs.

Example:
```python
import albert_tf
from albert_tf.artifacts.averaging import average_model_dirs

soup = average_model_dirs(["runs/epoch2", "runs/epoch3"], out="runs/soup")
soup.predict(["a gripping, funny film"])
```
"""

import copy
import os

import numpy as np

from albert_tf.artifacts.manifest import (AVERAGED_FROM, PROVENANCE_KEYS, check_output_dir,
                                          sha256_file)
from albert_tf.artifacts.model_dir import load, save_model_dir
from albert_tf.contract import WEIGHTS_FILE
from albert_tf.errors import ModelDirError

# What only acts in training (rates, a freeze an older exit-heads-only run saved):
# models that differ in them still average.
TRAINING_ONLY_KEYS = ("dropout", "trainable")


def _architecture(model_config):
    """The model config without training-only rates: what must match to average."""
    config = copy.deepcopy(model_config)
    for key in TRAINING_ONLY_KEYS:
        config.pop(key, None)
        config["backbone"]["config"].pop(key, None)
    return config


def _check_same_kind(first, other):
    """`ModelDirError` naming the first thing that differs between two models."""
    differences = (
        ("architecture (model config)",
         _architecture(first.config["model"]) != _architecture(other.config["model"])),
        ("max_length", first.max_length != other.max_length),
        ("labels", first.labels.names != other.labels.names),
        ("tokenizer", first.tokenizer.model_proto != other.tokenizer.model_proto
         or first.tokenizer.get_config() != other.tokenizer.get_config()),
    )
    for what, differs in differences:
        if differs:
            raise ModelDirError(f"cannot average {first.path} and {other.path}: their {what} "
                                "differ (average models of one run, or runs continued from "
                                "the same weights)")


def average_weights(weight_lists):
    """The element-wise mean of several `model.get_weights()` lists (in float64, then
    cast back to each variable's dtype)."""
    return [np.mean(np.stack([np.asarray(w, np.float64) for w in group]), axis=0)
            .astype(np.asarray(group[0]).dtype) for group in zip(*weight_lists)]


def average_model_dirs(paths, out, eval_examples=None, overwrite=False):
    """Write the mean of the model directories `paths` to `out` and return it loaded.

    All must have the same architecture, max length, labels and tokenizer
    (dropout rates may differ). `eval_examples` (an `Examples`) scores the
    sources and the average; the figures go in `out/metadata.json`. The
    output records each source's path, weights sha256 and provenance
    (`distillation`, `averaged_from`) under `averaged_from`. Nothing is written
    when a check fails.
    """
    paths = [os.fspath(path) for path in paths]
    if len(paths) < 2:
        raise ModelDirError(f"averaging needs at least two model directories, got {len(paths)}")
    if len(set(os.path.realpath(path) for path in paths)) < len(paths):
        raise ModelDirError(f"a model directory is listed twice: {paths}")
    check_output_dir(out, overwrite)
    models = [load(path) for path in paths]
    for other in models[1:]:
        _check_same_kind(models[0], other)
    soup = models[0]
    # Each source's own provenance (teacher, transfer set) travels with the
    # average, through export, to a bundle's README.
    sources = [{"path": path, "weights_sha256": sha256_file(os.path.join(path, WEIGHTS_FILE)),
                **{key: model.metadata[key] for key in PROVENANCE_KEYS if key in model.metadata}}
               for path, model in zip(paths, models)]
    if eval_examples is not None:
        for source, model in zip(sources, models):
            source["eval_accuracy"] = model.evaluate(eval_examples)["accuracy"]
    soup.model.set_weights(average_weights([model.model.get_weights() for model in models]))
    eval_metrics = soup.evaluate(eval_examples) if eval_examples is not None else None
    save_model_dir(out, soup.model, soup.tokenizer, soup.labels, soup.config["training"],
                   eval_metrics=eval_metrics, overwrite=overwrite,
                   extra_metadata={AVERAGED_FROM: sources})
    return load(out)
