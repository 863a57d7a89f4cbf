"""`albert_tf.pretraining.pretrain(...)`: MLM + SOP pretraining around `model.fit`.

What it adds to Keras: options checked before any work, a tokenizer trained
on the corpus, a held-out split (by document) scored for MLM and SOP
accuracy, AdamW with warm-up and linear decay, mixed precision, resumable
runs (same batches, same weights as an uninterrupted run), a time limit that
still writes the model, and a pretrained directory whose metadata records
the corpus hashes, the command and the held-out accuracies.
"""

import dataclasses
import json
import math
import os
import shutil
import time

import keras
import numpy as np

from albert_tf.batching import EpochSync
from albert_tf.errors import AlbertTfError
from albert_tf.models import PRESETS, AlbertBackbone, AlbertPretrainer, preset_config
from albert_tf.options import (check_choice, check_init, check_inputs, check_output,
                               check_positive, check_rates, fail)
from albert_tf.pretraining.batches import PretrainingBatches
from albert_tf.pretraining.corpus import fingerprint, read_documents
from albert_tf.sentences import split_sentences
from albert_tf.pretraining.instances import build_segment_pairs, tokenize_documents
from albert_tf.training import PRECISIONS, WarmupLinearDecay, prepare_tokenizer

WORK_DIR_SUFFIX = ".pretraining"
MLM_ACCURACY, SOP_ACCURACY = "mlm_logits_accuracy", "sop_logits_accuracy"


@dataclasses.dataclass
class PretrainConfig:
    """Every option of a pretraining run; saved in the directory's metadata."""

    corpus: list = None  # text/data files; each row is a document
    out: str = None
    preset: str = "small"
    init: str = None  # pretrained directory to continue from (brings its tokenizer)
    tokenizer: str = None  # tokenizer dir or spiece.model; None = train on the corpus
    vocab_size: int = 30000
    text_column: str = None
    max_length: int = 128
    token_budget: int = 16384  # padded tokens per batch (128 rows x 128)
    steps: int = 10000
    eval_every: int = 1000
    learning_rate: float = 1e-3
    warmup_ratio: float = 0.05
    weight_decay: float = 0.01
    clipnorm: float = 1.0
    dropout: float = 0.0  # ALBERT v2 pretrains without dropout
    short_seq_prob: float = 0.1
    mask_rate: float = 0.15
    heldout_fraction: float = 0.01
    max_heldout_pairs: int = 2000
    max_documents: int = None
    precision: str = "float32"
    time_limit_minutes: float = None
    workers: int = 1
    seed: int = 0
    resume: bool = False
    overwrite: bool = False
    model_overrides: dict = dataclasses.field(default_factory=dict)
    verbose: object = "auto"

    def validate(self):
        """Fail before any work with a message naming the bad value."""
        if not self.corpus:
            fail("at least one corpus file is required (corpus=[...] / --corpus)")
        check_output(self.out, self.overwrite)
        check_inputs(*self.corpus, self.init, self.tokenizer)
        check_init(self.init, self.tokenizer)
        check_choice("preset", self.preset, PRESETS)
        check_choice("precision", self.precision, PRECISIONS)
        check_positive(self, "steps", "eval_every", "token_budget", "vocab_size", "workers")
        if self.max_length < 16:
            fail(f"max_length must be at least 16, got {self.max_length}")
        if self.token_budget < self.max_length:
            fail(f"token_budget={self.token_budget} must hold one sequence of "
                 f"max_length={self.max_length}")
        check_rates(self, "learning_rate", "mask_rate", "heldout_fraction", open_low=True)
        check_rates(self, "warmup_ratio", "dropout", "short_seq_prob")
        return self


class TimeLimit(keras.callbacks.Callback):
    """Stop `fit` after `minutes`, at a batch boundary (the model is still saved)."""

    def __init__(self, minutes):
        super().__init__()
        self.deadline = time.time() + 60 * minutes if minutes else None
        self.stopped = False

    def on_train_batch_end(self, batch, logs=None):
        if self.deadline and time.time() > self.deadline:
            self.model.stop_training = self.stopped = True


def _documents(config):
    docs = []
    for _, text in read_documents(config.corpus, config.text_column):
        docs.append(split_sentences(text))
        if config.max_documents and len(docs) >= config.max_documents:
            break
    if len(docs) < 2:
        raise AlbertTfError(f"the corpus has {len(docs)} document(s); pretraining needs more")
    return docs


def _split_pairs(config, tokenizer, docs):
    """Train and held-out segment pairs; held-out documents never train."""
    order = np.random.default_rng(config.seed).permutation(len(docs))
    heldout = max(1, int(round(len(docs) * config.heldout_fraction)))
    tokenized = tokenize_documents(tokenizer, (docs[i] for i in order), config.max_length)
    train = build_segment_pairs(tokenized[heldout:], config.max_length,
                                config.short_seq_prob, seed=config.seed)
    test = build_segment_pairs(tokenized[:heldout], config.max_length,
                               config.short_seq_prob, seed=config.seed + 1)
    return train, test[:config.max_heldout_pairs]


def _build_pretrainer(config, vocabulary_size):
    if config.init:
        from albert_tf.pretrained import load_pretrained

        return load_pretrained(config.init, dtype=config.precision, dropout=config.dropout,
                               max_length=config.max_length).pretrainer
    kwargs = preset_config(config.preset, vocabulary_size=vocabulary_size,
                           dropout=config.dropout, dtype=config.precision,
                           **config.model_overrides)
    kwargs["max_sequence_length"] = max(kwargs["max_sequence_length"], config.max_length)
    return AlbertPretrainer(AlbertBackbone(**kwargs))


def compile_pretrainer(pretrainer, config):
    schedule = WarmupLinearDecay(config.learning_rate,
                                 int(config.steps * config.warmup_ratio), config.steps)
    optimizer = keras.optimizers.AdamW(learning_rate=schedule, weight_decay=config.weight_decay,
                                       global_clipnorm=config.clipnorm or None)
    optimizer.exclude_from_weight_decay(var_names=["bias", "gamma", "beta"])
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    accuracy = keras.metrics.SparseCategoricalAccuracy
    pretrainer.compile(
        optimizer=optimizer,
        loss={"mlm_logits": loss, "sop_logits": loss},
        # Weighted: MLM padding slots carry weight 0.
        weighted_metrics={"mlm_logits": [accuracy(name="accuracy")],
                          "sop_logits": [accuracy(name="accuracy")]})
    return pretrainer


def plot_curves(history, path):
    """Loss and MLM/SOP accuracy against steps, train vs held-out; needs matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    steps = history.get("step", [])
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.5))
    for ax, metric in zip(axes, ("loss", MLM_ACCURACY, SOP_ACCURACY)):
        for key, style in ((metric, "-o"), (f"val_{metric}", "--s")):
            if key in history:
                ax.plot(steps[:len(history[key])], history[key], style,
                        label="train" if key == metric else "held-out")
        ax.set_xlabel("step")
        ax.set_title(metric.replace("_logits_", " "))
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _check_resumable(work_dir, corpus_hashes, resume):
    """A resumed run must read the very corpus it started on."""
    path = os.path.join(work_dir, "corpus.json")
    if resume and os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            if json.load(f) != corpus_hashes:
                raise AlbertTfError(f"{work_dir}: the corpus changed since this run started; "
                                    "start over without --resume")
    with open(path, "w", encoding="utf-8") as f:
        json.dump(corpus_hashes, f)


def pretrain(config=None, command=None, **kwargs):
    """Pretrain (or keep pretraining) an ALBERT; writes and returns a pretrained directory.

    Example:
    ```python
    from albert_tf.pretraining import pretrain

    pretrained = pretrain(corpus=["reviews.jsonl.gz"], out="runs/pretrained",
                          preset="small", steps=20000, precision="mixed_bfloat16")
    pretrained.metadata["heldout"]  # MLM and SOP accuracy
    ```
    """
    from albert_tf.pretrained import load_pretrained, save_pretrained

    config = dataclasses.replace(config or PretrainConfig(), **kwargs).validate()
    started = time.time()
    keras.utils.set_random_seed(config.seed)
    work_dir = os.path.abspath(config.out.rstrip("/\\") + WORK_DIR_SUFFIX)
    if not config.resume and os.path.exists(work_dir):
        shutil.rmtree(work_dir)
    os.makedirs(work_dir, exist_ok=True)
    corpus_hashes = fingerprint(config.corpus)
    _check_resumable(work_dir, corpus_hashes, config.resume)

    docs = _documents(config)
    tokenizer = prepare_tokenizer(config, work_dir, (" ".join(d) for d in docs))
    train_pairs, heldout_pairs = _split_pairs(config, tokenizer, docs)
    workers = dict(workers=config.workers, use_multiprocessing=False) if config.workers > 1 else {}
    train_batches = PretrainingBatches(train_pairs, tokenizer, config.token_budget,
                                       steps=config.eval_every, seed=config.seed,
                                       mask_rate=config.mask_rate, **workers)
    heldout_batches = PretrainingBatches(heldout_pairs, tokenizer, config.token_budget,
                                         seed=config.seed + 1, fixed=True,
                                         mask_rate=config.mask_rate)

    pretrainer = compile_pretrainer(_build_pretrainer(config, tokenizer.vocab_size), config)
    time_limit = TimeLimit(config.time_limit_minutes)
    epochs = math.ceil(config.steps / config.eval_every)
    # shuffle=False: the batches already come in a seeded random order, and
    # Keras' own shuffling draws from global state a resumed run cannot replay.
    fit = pretrainer.fit(
        train_batches, validation_data=heldout_batches, epochs=epochs, verbose=config.verbose,
        shuffle=False,
        callbacks=[keras.callbacks.BackupAndRestore(os.path.join(work_dir, "backup")),
                   EpochSync(train_batches), time_limit])
    history = {k: [float(v) for v in values] for k, values in fit.history.items()}

    scores = pretrainer.evaluate(heldout_batches, verbose=0, return_dict=True)
    heldout = {"mlm_accuracy": float(scores[MLM_ACCURACY]),
               "sop_accuracy": float(scores[SOP_ACCURACY]),
               "loss": float(scores["loss"]), "pairs": len(heldout_pairs)}
    steps_run = int(pretrainer.optimizer.iterations.numpy())
    # A time limit can end the last evaluation period early.
    history["step"] = [min(config.eval_every * (i + 1), steps_run)
                       for i in range(len(history.get("loss", [])))]
    settings = {k: v for k, v in dataclasses.asdict(config).items()
                if k not in ("verbose", "overwrite", "resume")}
    save_pretrained(
        config.out, pretrainer, tokenizer, heads="trained", overwrite=True, history=history,
        plot=plot_curves, corpus=corpus_hashes, command=command, pretraining=settings,
        heldout=heldout,
        run={"steps": steps_run, "stopped_by_time_limit": time_limit.stopped,
             "train_pairs": len(train_pairs), "tokens_per_pass": train_batches.tokens_per_pass(),
             "padding_ratio": round(train_batches.padding_ratio(), 4),
             "seconds": round(time.time() - started, 1),
             "keras_backend": keras.backend.backend()})
    shutil.rmtree(work_dir, ignore_errors=True)
    return load_pretrained(config.out)
