"""Sentence-embedder directories: write them whole, load them only when intact.

```
EMBEDDER_DIR/
  config.json           format, the encoder's Keras config, max_length, training config
  model.weights.h5      weights (HDF5)
  tokenizer/spiece.model, tokenizer/tokenizer.json
  history.json          per-epoch loss and cosine with the teacher
  heldout.txt           the sentences agreement was measured on (a distillation's),
                        to pin as the next stage's --heldout-file
  training_curves.png   the same as a plot (when matplotlib is installed)
  metadata.json         versions, teacher, corpus, eval metrics, sha256 of every file
```
No labels: the output is a vector. `albert_tf.load` refuses such a directory
with a message naming `load_embedder`.
"""

import copy
import json
import os

from albert_tf.artifacts.formats import (EMBEDDER_REQUIRED, load_weights_checked, read_config,
                                         writer_versions)
from albert_tf.artifacts.manifest import EMBEDDER_FORMAT, AtomicDirectory, write_manifest
from albert_tf.artifacts.model_dir import TRAINING_CURVES, plot_history
from albert_tf.contract import (CONFIG_FILE, HELDOUT_FILE, HISTORY_FILE, TOKENIZER_DIR,
                                WEIGHTS_FILE)
from albert_tf.inference.sentence_embedder import TrainedEmbedder
from albert_tf.models.tasks import AlbertSentenceEncoder
from albert_tf.text.data import write_text_lines
from albert_tf.text.tokenizer import AlbertTokenizer

# What an embedder's training curves show (its `metrics` are cosine, not accuracy).
CURVES = ("loss", "cosine", "pairwise_spearman", "graded_spearman")


def save_embedder_dir(path, model, tokenizer, training_config, eval_metrics=None,
                      history=None, overwrite=False, extra_metadata=None, heldout=None):
    """Write a complete, hashed embedder directory atomically; returns
    `(config.json, manifest)` as written."""
    config = {"format": EMBEDDER_FORMAT, "model": model.get_config(),
              "max_length": training_config["max_length"], "training": training_config}
    with AtomicDirectory(path, overwrite=overwrite) as tmp:
        with open(os.path.join(tmp, CONFIG_FILE), "w", encoding="utf-8") as f:
            json.dump(config, f, indent=2, default=str)
        model.save_weights(os.path.join(tmp, WEIGHTS_FILE))
        tokenizer.save(os.path.join(tmp, TOKENIZER_DIR))
        if history:
            with open(os.path.join(tmp, HISTORY_FILE), "w", encoding="utf-8") as f:
                json.dump(history, f, indent=2)
            plot_history(history, os.path.join(tmp, TRAINING_CURVES), CURVES)
        if heldout:
            write_text_lines(os.path.join(tmp, HELDOUT_FILE), heldout)
        manifest = write_manifest(tmp, format=EMBEDDER_FORMAT, versions=writer_versions(),
                                  eval_metrics=eval_metrics or {},
                                  num_parameters=int(model.count_params()),
                                  **(extra_metadata or {}))
    return config, manifest


def encoder_with_dtype(model_config, dtype, dropout=None, num_layers=None):
    """An `AlbertSentenceEncoder` from `get_config()` output, computing in `dtype`,
    with `dropout` / `num_layers` (layer calls: the shared layer's weights run at any
    depth its groups divide) replacing the stored ones if given."""
    model_config = copy.deepcopy(model_config)
    backbone = model_config["backbone"]["config"]
    backbone["dtype"] = dtype
    if dropout is not None:
        backbone["dropout"] = dropout
    if num_layers is not None:
        backbone["num_layers"] = num_layers
    return AlbertSentenceEncoder.from_config(model_config)


def load_embedder(path, dtype="float32", verify=True, dropout=None, num_layers=None):
    """Load an embedder directory after checking every file against its manifest;
    `dropout` and `num_layers` as `encoder_with_dtype` (to continue training it).

    ```python
    embedder = albert_tf.load_embedder("runs/embedder")
    embedder.embed(["a film", "a movie"]).shape   # (2, 768)
    ```
    """
    path = os.fspath(path)
    metadata, config = read_config(path, EMBEDDER_REQUIRED, EMBEDDER_FORMAT, verify)
    model = encoder_with_dtype(config["model"], dtype, dropout, num_layers)
    tokenizer = AlbertTokenizer.load(os.path.join(path, TOKENIZER_DIR))
    load_weights_checked(path, model, tokenizer)
    return TrainedEmbedder(model, tokenizer, config, metadata, path)
