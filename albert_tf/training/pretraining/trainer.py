"""`albert_tf.training.pretraining.pretrain(...)`: MLM + SOP pretraining around `model.fit`.

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
import time

import keras
import numpy as np

from albert_tf.artifacts.pretrained import (PretrainedAlbert, load_pretrained,
                                            pretrainer_with_dtype, save_pretrained)
from albert_tf.errors import AlbertTfError
from albert_tf.models.backbone import AlbertBackbone
from albert_tf.models.presets import preset_config
from albert_tf.models.tasks import AlbertPretrainer
from albert_tf.text.sentences import split_sentences
from albert_tf.training.batching import EpochSync
from albert_tf.training.config import PretrainConfig
from albert_tf.training.divergence import StopOnDivergence, divergence_hint
from albert_tf.training.pretraining.batches import PretrainingBatches
from albert_tf.training.pretraining.corpus import fingerprint, read_documents
from albert_tf.training.pretraining.instances import build_segment_pairs, tokenize_documents
from albert_tf.training.progress import progress_callbacks
from albert_tf.training.resume import TrainingBackup, fit_resumable
from albert_tf.training.run import Run, prepare_tokenizer
from albert_tf.training.schedule import adamw

WORK_DIR_SUFFIX = ".pretraining"
MLM_ACCURACY, SOP_ACCURACY = "mlm_logits_accuracy", "sop_logits_accuracy"


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
        return load_pretrained(config.init, dtype=config.precision, dropout=config.dropout,
                               max_length=config.max_length).pretrainer
    kwargs = preset_config(config.preset, vocabulary_size=vocabulary_size,
                           dropout=config.dropout, dtype=config.precision,
                           **config.model_overrides)
    kwargs["max_sequence_length"] = max(kwargs["max_sequence_length"], config.max_length)
    return AlbertPretrainer(AlbertBackbone(**kwargs))


def compile_pretrainer(pretrainer, config):
    optimizer = adamw(config, config.steps)
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
    from albert_tf.training.pretraining import pretrain

    pretrained = pretrain(corpus=["reviews.jsonl.gz"], out="runs/pretrained",
                          preset="small", steps=20000, precision="mixed_bfloat16")
    pretrained.metadata["heldout"]  # MLM and SOP accuracy
    ```
    """
    config = dataclasses.replace(config or PretrainConfig(), **kwargs).validate()
    run = Run.start(config, WORK_DIR_SUFFIX)
    work_dir = run.work_dir
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
    history, periods = fit_resumable(
        pretrainer, train_batches, epochs,
        TrainingBackup(run.path("backup"), every_seconds=config.backup_minutes * 60),
        resume=config.resume,
        # First: a diverged period fails before its backup is saved.
        first_callbacks=[StopOnDivergence(divergence_hint(config))],
        callbacks=[EpochSync(train_batches), time_limit, *progress_callbacks(config.verbose)],
        validation_data=heldout_batches, verbose=config.verbose, shuffle=False)
    history = {k: [float(v) for v in values] for k, values in history.items()}

    scores = pretrainer.evaluate(heldout_batches, verbose=0, return_dict=True)
    heldout = {"mlm_accuracy": float(scores[MLM_ACCURACY]),
               "sop_accuracy": float(scores[SOP_ACCURACY]),
               "loss": float(scores["loss"]), "pairs": len(heldout_pairs)}
    steps_run = int(pretrainer.optimizer.iterations.numpy())
    # The periods trained now (a resumed run's first is not period 1); a time
    # limit can end the last one early.
    history["step"] = [min(config.eval_every * (period + 1), steps_run) for period in periods]
    written, manifest = save_pretrained(
        config.out, pretrainer, tokenizer, heads="trained", overwrite=True, history=history,
        plot=plot_curves, corpus=corpus_hashes, command=command, pretraining=config.settings(),
        heldout=heldout,
        run={"steps": steps_run, "stopped_by_time_limit": time_limit.stopped,
             "train_pairs": len(train_pairs), "tokens_per_pass": train_batches.tokens_per_pass(),
             "padding_ratio": round(train_batches.padding_ratio(), 4),
             "seconds": run.seconds(),
             "keras_backend": keras.backend.backend()})
    run.finish()
    # Returned as `load_pretrained` would give it: float32 compute, whatever trained it.
    inference = pretrainer_with_dtype(written["backbone"], "float32")
    inference.set_weights(pretrainer.get_weights())
    return PretrainedAlbert(inference, tokenizer, written, manifest, config.out)
