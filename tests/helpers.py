"""Fixtures the tests build themselves: tiny data, tokenizers and models."""

import os
import random
import subprocess
import sys

import numpy as np

POSITIVE = ["great", "superb", "lovely", "moving", "clever", "fun"]
NEGATIVE = ["awful", "boring", "dull", "clumsy", "bland", "weak"]
FILLER = ["the", "film", "plot", "cast", "was", "a", "story", "with", "and", "ending",
          "music", "very", "quite", "its", "this", "movie"]

# Strings that stress the tokenizer: case, accents, punctuation, digits, CJK, emoji.
VARIED = ["A superb film.", "THE PLOT WAS AWFUL!!", "Café crème, déjà vu", "1999: 42 films",
          "東京の映画", "great 😀 fun", "  spaced   out  ", "weak " * 200]

# Prepended to `python -c` code: importing these packages raises, proving
# the code under test never needs them.
BLOCK_HEAVY_IMPORTS = """
import importlib.abc, sys
class _Blocked(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("tensorflow", "keras", "jax", "tf_keras", "torch"):
            raise ImportError(f"importing {name} is blocked in this test")
sys.meta_path.insert(0, _Blocked())
"""

# A backbone small enough that a test trains it in seconds.
MICRO_MODEL = dict(num_layers=2, hidden_dim=32, embedding_dim=16, num_heads=2,
                   intermediate_dim=64, max_sequence_length=64)


def sentiment_rows(n, seed=0):
    """(text, "pos"|"neg") rows: filler words around one sentiment word."""
    rng = random.Random(seed)
    rows = []
    for _ in range(n):
        positive = rng.random() < 0.5
        words = [rng.choice(FILLER) for _ in range(rng.randint(3, 12))]
        words.insert(rng.randint(0, len(words)), rng.choice(POSITIVE if positive else NEGATIVE))
        rows.append((" ".join(words).capitalize() + ".", "pos" if positive else "neg"))
    return rows


def write_tsv(path, rows, header=("sentence", "label")):
    with open(path, "w", encoding="utf-8") as f:
        f.write("\t".join(header) + "\n")
        for row in rows:
            f.write("\t".join(row) + "\n")
    return path


def fast_train_kwargs(data_files, out, **overrides):
    """Keyword arguments of `albert_tf.train` for a seconds-long run."""
    kwargs = dict(train=str(data_files / "train.tsv"), eval=str(data_files / "dev.tsv"),
                  out=str(out), preset="tiny", model_overrides=dict(MICRO_MODEL),
                  vocab_size=200, max_length=32, batch_size=16, epochs=4,
                  learning_rate=3e-3, warmup_ratio=0.1, verbose=0, seed=0)
    kwargs.update(overrides)
    return kwargs


def micro_backbone(vocabulary_size=200, **overrides):
    from albert_tf.models import AlbertBackbone

    return AlbertBackbone(**{"vocabulary_size": vocabulary_size, **MICRO_MODEL, **overrides})


def random_inputs(batch=3, length=16, vocabulary_size=200, seed=0, pairs=True):
    """Model inputs with padding at different lengths and two segments."""
    rng = np.random.default_rng(seed)
    token_ids = rng.integers(5, vocabulary_size, (batch, length)).astype("int32")
    mask = np.zeros((batch, length), "int32")
    segments = np.zeros((batch, length), "int32")
    for row in range(batch):
        real = length - 3 * row
        mask[row, :real] = 1
        token_ids[row, real:] = 0
        if pairs:
            segments[row, real // 2:real] = 1
    return {"token_ids": token_ids, "segment_ids": segments, "padding_mask": mask}


def run_cli(*args, stdin=None, env=None, timeout=600):
    """Run `albert-tf ARGS` in a fresh process; returns CompletedProcess."""
    return subprocess.run(
        [sys.executable, "-m", "albert_tf.apps.cli", *map(str, args)], input=stdin,
        capture_output=True, text=True, timeout=timeout,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", **(env or {})})
