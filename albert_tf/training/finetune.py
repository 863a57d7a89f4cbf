"""Fine-tuning: `albert_tf.train(...)` around a plain `model.fit`.

What it adds to Keras: options checked before any work, a tokenizer and a
label vocabulary built from the training file, length-bucketed batches,
AdamW with linear warm-up and decay, early stopping and best-checkpoint
saving on the eval metric, resumable runs, and a model directory at the end.

The walk, one way: options (`training.config`) -> data -> a `Run` and its
tokenizer (`training.run`) -> the model (new, pretrained or warm-started:
read from `artifacts` once) -> `model.fit` -> the model directory written
(`artifacts.model_dir`) and the same model returned in memory.
"""

import contextlib
import dataclasses
import json
import os
import time
import warnings

import keras
import numpy as np

from albert_tf.artifacts.formats import is_model_dir
from albert_tf.artifacts.model_dir import classifier_with_dtype, load, save_model_dir
from albert_tf.artifacts.pretrained import load_pretrained
from albert_tf.errors import AlbertTfError
from albert_tf.inference.trained import TrainedClassifier
from albert_tf.models.backbone import AlbertBackbone
from albert_tf.models.presets import preset_config
from albert_tf.models.tasks import AlbertClassifier
from albert_tf.text.data import LabelVocab, load_examples, parse_label_names
from albert_tf.training.batching import ClassificationBatches, EpochSync
from albert_tf.training.config import TrainConfig
from albert_tf.training.distribution import ProcessGroup, data_parallel, process_share
from albert_tf.training.exits import ExitLoss, exit_accuracies, last_exit_accuracy
from albert_tf.training.divergence import StopOnDivergence, divergence_hint
from albert_tf.training.progress import progress_callbacks
from albert_tf.training.resume import TrainingBackup, fit_resumable
from albert_tf.training.run import Run, prepare_tokenizer
from albert_tf.training.schedule import adamw

WORK_DIR_SUFFIX = ".training"


class BestRecord(keras.callbacks.Callback):
    """Persist the best monitored value so a resumed run remembers it."""

    def __init__(self, path, monitor):
        super().__init__()
        self.path, self.monitor = path, monitor

    def value(self):
        if not os.path.exists(self.path):
            return None
        with open(self.path, encoding="utf-8") as f:
            return json.load(f)["value"]

    def on_epoch_end(self, epoch, logs=None):
        current, best = (logs or {}).get(self.monitor), self.value()
        if current is not None and (best is None or current > best):
            with open(self.path, "w", encoding="utf-8") as f:
                json.dump({"value": float(current), "epoch": epoch}, f)


class EpochScores(keras.callbacks.Callback):
    """Add `val_<name>` for each `score(model)` item to the epoch's logs: held-out
    scores that are not per-batch metrics (a correlation over all held-out
    pairs), placed before the checkpoint and early stopping so they can be
    monitored, and kept in the history."""

    def __init__(self, score):
        super().__init__()
        self.score = score

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs.update({f"val_{name}": value for name, value in self.score(self.model).items()})


def read_split(config, path, labels=None, limit=None):
    """`(examples, labels, y)` of one labelled file; `labels` built from it unless given."""
    examples = load_examples(
        path, text_column=config.text_column, text_pair_column=config.text_pair_column,
        label_column=config.label_column, multi_label=config.multi_label,
        label_separator=config.label_separator)
    examples = examples.head(limit)
    names = parse_label_names(config.label_names)
    if labels is None:
        labels = LabelVocab.from_examples(examples, config.multi_label)
        if names:
            unknown = sorted(set(names) - set(labels.names))
            if unknown:
                raise AlbertTfError(f"label_names names {unknown}, which {path} does not have "
                                    f"(its labels: {', '.join(labels.names)})")
            # The file's class order, under the new names.
            labels = LabelVocab([names.get(n, n) for n in labels.names], config.multi_label)
    examples = examples.renamed(names)
    return examples, labels, labels.encode(examples)


def class_sample_weights(config, labels, y):
    """Per-example weights from `class_weight` ("balanced" or a JSON mapping)."""
    if config.class_weight is None:
        return None
    counts = np.bincount(y, minlength=len(labels))
    if config.class_weight == "balanced":
        weights = len(y) / (len(labels) * np.maximum(counts, 1))
    else:
        try:
            mapping = json.loads(config.class_weight)
            weights = np.array([float(mapping.get(n, 1.0)) for n in labels.names])
        except (json.JSONDecodeError, AttributeError, TypeError, ValueError):
            raise AlbertTfError(
                f"class_weight must be 'balanced' or a JSON object of label: weight, "
                f"got {config.class_weight!r}") from None
        unknown = set(mapping) - set(labels.names)
        if unknown:
            raise AlbertTfError(f"class_weight names unknown labels: {sorted(unknown)}")
    return weights[np.asarray(y)]


def _pretrained_backbone(config, vocabulary_size):
    backbone = load_pretrained(config.init, dtype=config.precision, dropout=config.dropout,
                               max_length=config.max_length).backbone
    if backbone.vocabulary_size != vocabulary_size:
        raise AlbertTfError(f"{config.init}: embeds {backbone.vocabulary_size} pieces but the "
                            f"tokenizer has {vocabulary_size}")
    return backbone


def _warm_start(config, vocabulary_size, labels):
    """The classifier of the model directory `config.init`, weights and head
    included, computing in the run's precision (with its dropout, if given);
    with `config.new_head`, its encoder under a new head for `labels`.

    Continuing a run this way (a new schedule over the same or new data) costs
    what the new epochs cost; a longer schedule from scratch repeats the old ones.
    """
    try:
        init = load(config.init, dtype=config.precision, dropout=config.dropout,
                    classifier_dropout=config.classifier_dropout, num_layers=config.num_layers)
    except ValueError as error:  # the backbone's check: num_groups must divide num_layers
        if config.num_layers is None:
            raise
        raise AlbertTfError(f"{config.init}: {error}") from None
    if ((init.labels.names, init.labels.multi_label) != (labels.names, labels.multi_label)
            and not config.new_head):
        raise AlbertTfError(f"{config.init}: labels {init.labels.names} do not match this "
                            f"run's {labels.names} (--new-head starts a new head on its encoder)")
    positions = init.backbone.max_sequence_length
    if config.max_length > positions:
        raise AlbertTfError(f"max_length={config.max_length} exceeds the {config.init} "
                            f"position table ({positions})")
    if init.tokenizer.vocab_size != vocabulary_size:
        raise AlbertTfError(f"{config.init}: embeds {init.tokenizer.vocab_size} pieces "
                            f"but the tokenizer has {vocabulary_size}")
    backbone = init.backbone
    untie = config.num_groups is not None and config.num_groups != backbone.num_groups
    if untie:  # more weights, same function: each new group starts as its calls' old one
        try:
            backbone = backbone.untied(config.num_groups)
        except ValueError as error:
            raise AlbertTfError(f"{config.init}: {error}") from None
    new_exits = config.exit_heads and config.exit_heads != init.model.exit_heads
    if config.new_head or new_exits or untie:
        exit_heads = config.exit_heads or init.model.exit_heads
        model = AlbertClassifier(backbone, len(labels), multi_label=config.multi_label,
                                 dropout=config.classifier_dropout, exit_heads=exit_heads)
        if not config.new_head:  # the trained head stays the last exit
            model.output_dense.set_weights(init.model.output_dense.get_weights())
            if exit_heads == init.model.exit_heads:  # and its other exits, if it had them
                for head, old in zip(model.exit_denses, init.model.exit_denses):
                    head.set_weights(old.get_weights())
        return model
    return init.model


def preset_backbone(config, vocabulary_size):
    """A random backbone of `config.preset`, with the run's dropout, layer groups and
    calls (where the config has them) and a position table for `max_length`."""
    overrides = dict(config.model_overrides)
    for name in ("dropout", "num_groups", "num_layers"):
        if getattr(config, name, None) is not None:
            overrides[name] = getattr(config, name)
    backbone_config = preset_config(config.preset, vocabulary_size=vocabulary_size,
                                    dtype=config.precision, **overrides)
    backbone_config["max_sequence_length"] = max(backbone_config["max_sequence_length"],
                                                 config.max_length)
    return AlbertBackbone(**backbone_config)


def build_model(config, vocabulary_size, labels):
    """A classifier: warm-started from a model directory or a pretrained encoder
    (`config.init`), or a random one of `config.preset`."""
    num_classes = len(labels)
    if config.init and is_model_dir(config.init):
        return _warm_start(config, vocabulary_size, labels)
    if config.init:
        return AlbertClassifier(_pretrained_backbone(config, vocabulary_size), num_classes,
                                multi_label=config.multi_label,
                                dropout=config.classifier_dropout, exit_heads=config.exit_heads)
    return AlbertClassifier(preset_backbone(config, vocabulary_size), num_classes, multi_label=config.multi_label,
                            dropout=config.classifier_dropout, exit_heads=config.exit_heads)


def task_loss_and_metrics(multi_label):
    """The fine-tuning loss on logits and its `accuracy` metric."""
    if multi_label:
        return (keras.losses.BinaryCrossentropy(from_logits=True),
                [keras.metrics.BinaryAccuracy(name="accuracy", threshold=0.0)])
    return (keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            [keras.metrics.SparseCategoricalAccuracy(name="accuracy")])


def compile_model(model, config, total_steps, loss=None, metrics=None, accuracy_fn=None):
    """AdamW (no decay on biases and LayerNorm), warm-up + linear decay, clipping.

    `loss` and `metrics` replace the task's defaults (distillation passes its
    own, with `accuracy_fn(y_true, logits)` for a model with exit heads).
    Returns the model to `fit`: `model`, or with exit heads its `exit_model()`
    (the same layers), every exit learning `loss` (`training.exits`).
    """
    optimizer = adamw(config, total_steps)
    if loss is None:
        loss, metrics = task_loss_and_metrics(config.multi_label)
        accuracy_fn = keras.metrics.sparse_categorical_accuracy
    trainee = model
    if getattr(config, "exit_heads_only", False):
        # Only the exit heads learn: the encoder (pooler included) and the last
        # exit, the model's own head, stay as the init left them.
        model.backbone.trainable = False
        model.output_dense.trainable = False
    if getattr(model, "exit_heads", None):
        trainee = model.exit_model()
        loss = ExitLoss(loss, model.num_exits)
        metrics = [last_exit_accuracy(accuracy_fn)]
    # Data-parallel batches carry zero-weight padding rows: weight the metrics.
    metric_kind = "weighted_metrics" if config.data_parallel else "metrics"
    # Under mixed_float16 Keras wraps the optimizer in a LossScaleOptimizer
    # (auto_scale_loss=True, the default), which is what we want.
    trainee.compile(optimizer=optimizer, loss=loss, **{metric_kind: metrics})
    return trainee


def train(config=None, **kwargs):
    """Fine-tune a classifier and write a model directory; returns it (a `TrainedClassifier`).

    Pass a `TrainConfig` or its fields as keyword arguments.

    Example:
    ```python
    model = albert_tf.train(train="sst2/train.tsv", eval="sst2/dev.tsv",
                            out="runs/sst2", preset="small", epochs=2)
    model.metadata["eval_metrics"]["accuracy"]
    ```
    """
    config = dataclasses.replace(config or TrainConfig(), **kwargs).validate()
    group = join_process_group(config)
    if group is not None and not group.is_writer:
        config = dataclasses.replace(config, verbose=0)  # process 0 reports
    # Data first: a bad file fails here, before a work directory exists.
    train_examples, labels, y_train = read_split(config, config.train,
                                                 limit=config.max_train_examples)
    eval_examples = y_eval = None
    if config.eval:
        eval_examples, _, y_eval = read_split(config, config.eval, labels)
    run = Run.start(config, WORK_DIR_SUFFIX, scratch=group is not None and not group.is_writer)
    with run.discarded_on_error(), (group.guard() if group else contextlib.nullcontext()):
        tokenizer = prepare_tokenizer(config, run.work_dir,
                                      train_examples.texts + (train_examples.pairs or []))
        if group is not None:
            group.check_same("tokenizer", tokenizer.sha256())
        fitted = fit_classifier(run, tokenizer, labels, train_examples, y_train,
                                eval_examples, y_eval,
                                class_sample_weights(config, labels, y_train))
    if group is not None and not group.is_writer:
        run.finish()  # process 0 writes the model directory
        return None
    return save_trained(run, fitted, tokenizer, labels, eval_examples)


def join_process_group(config):
    """The `ProcessGroup` this run is one process of (joined), or None."""
    if not config.data_parallel:
        return None
    group = ProcessGroup.resolve(config.coordinator, config.num_processes, config.process_id,
                                 config.peer_timeout)
    if group is None:
        return None
    if config.resume:
        raise AlbertTfError("resume runs in one process: each process's checkpoints "
                            "are its own; restart the whole job")
    group.join()
    return group


def _warn_if_not_learnt(eval_metrics, gold):
    """Record the majority-class baseline, and warn when the model does no better:
    a run at chance looks like any other finished run otherwise."""
    counts = np.bincount(np.asarray(gold))
    majority = float(counts.max() / counts.sum())
    eval_metrics["majority_class_accuracy"] = round(majority, 4)
    if eval_metrics["accuracy"] <= majority:
        warnings.warn(
            f"the model's eval accuracy {eval_metrics['accuracy']:.4f} is no better than "
            f"always answering the most common class ({majority:.4f}): it has not learnt the "
            "task (train longer or on more data, or start from a trained model with init=)",
            UserWarning, stacklevel=3)


@dataclasses.dataclass
class Fitted:
    """What `fit_classifier` returns: the best epoch's model and facts about the fit."""

    model: object
    history: dict
    num_train_examples: int
    padding_ratio: float
    replicas: int
    fit_seconds: float


def fit_classifier(run, tokenizer, labels, train_examples, y_train, eval_examples=None,
                   y_eval=None, sample_weights=None, loss=None, metrics=None, prepare=None,
                   accuracy_fn=None, build=None, monitor="accuracy", epoch_scores=None,
                   train_groups=None, group_size=8):
    """`model.fit` with bucketed batches, checkpoints, early stopping; the best epoch kept.

    `y_*` are whatever `loss` takes (default: class indices or multi-hot rows).
    `build(config, vocabulary_size)` makes another model than a classifier (the
    embedding student), and `monitor` names the metric the best epoch is picked by.
    With exit heads (`config.exit_heads`) every exit trains (see `compile_model`).
    `prepare(model)`, if given, runs on the new model before training (a resumed
    run then restores its checkpoint over it). `epoch_scores(model)`, if given,
    returns held-out scores `{name: value}` logged after each epoch as
    `val_<name>` (see `EpochScores`); `monitor` may name one. `train_groups`
    (per-example group ids), if given, make each training batch of runs of
    `group_size` examples of one group (see `ClassificationBatches`).
    """
    config = run.config
    with data_parallel(config.data_parallel) as replicas:
        def batches(examples, y, shuffle, weights=None, groups=None):
            packed, _ = tokenizer.encode_unpadded(examples.texts, examples.pairs,
                                                  config.max_length)
            return ClassificationBatches(packed, y, config.batch_size, config.max_length,
                                         shuffle=shuffle, seed=config.seed,
                                         sample_weights=weights, row_multiple=replicas,
                                         process_share=process_share(),
                                         groups=groups, group_size=group_size,
                                         pad_to_multiple_of=(config.max_length
                                                             if config.pad_to_max_length
                                                             else 8))

        train_batches = batches(train_examples, y_train, True, sample_weights, train_groups)
        eval_batches = batches(eval_examples, y_eval, False) if eval_examples else None

        model = (build(config, tokenizer.vocab_size) if build is not None
                 else build_model(config, tokenizer.vocab_size, labels))
        if prepare is not None:
            prepare(model)
        trainee = compile_model(model, config, total_steps=len(train_batches) * config.epochs,
                                loss=loss, metrics=metrics, accuracy_fn=accuracy_fn)

        monitor = f"val_{monitor}" if eval_batches else monitor
        best_path = run.path("best.weights.h5")
        best_record = BestRecord(run.path("best.json"), monitor)
        # Kept after the last epoch (the work dir goes once the model is saved):
        # a run killed while saving resumes without retraining.
        backup = TrainingBackup(run.path("backup"), every_seconds=config.backup_minutes * 60)
        callbacks = [
            EpochSync(train_batches),
            *([EpochScores(epoch_scores)] if epoch_scores is not None and eval_batches else []),
            # After a resume, only a better epoch may replace the saved best.
            keras.callbacks.ModelCheckpoint(best_path, monitor=monitor, mode="max",
                                            save_best_only=True, save_weights_only=True,
                                            initial_value_threshold=best_record.value()),
            best_record,
            keras.callbacks.EarlyStopping(monitor=monitor, mode="max",
                                          patience=config.patience),
            *progress_callbacks(config.verbose),
        ]
        fit_started = time.time()
        # shuffle=False: the batches are already in a seeded random order per
        # epoch; Keras' own shuffling draws from global state a resume cannot replay.
        history, _ = fit_resumable(
            trainee, train_batches, config.epochs, backup, resume=config.resume,
            # First: a diverged epoch must fail before the backup saves it.
            first_callbacks=[StopOnDivergence(divergence_hint(config))],
            callbacks=callbacks, validation_data=eval_batches, verbose=config.verbose,
            shuffle=False)
        fit_seconds = time.time() - fit_started
    if os.path.exists(best_path):
        trainee.load_weights(best_path)  # the classifier's own variables
    history = {k: [float(v) for v in values] for k, values in history.items()}
    return Fitted(model, history, len(train_examples), train_batches.padding_ratio(),
                  replicas, fit_seconds)


def save_trained(run, fitted, tokenizer, labels, eval_examples=None, extra_metadata=None,
                 extra_training=None):
    """Evaluate in float32, write the model directory, drop the work dir; return
    the model in memory as `albert_tf.load` would give it (float32 compute)."""
    config, model = run.config, fitted.model
    training_config = config.settings()
    epochs_run = len(fitted.history.get("loss", []))
    training_config.update({
        "num_train_examples": fitted.num_train_examples,
        "vocab_size_trained": tokenizer.vocab_size,
        "train_padding_ratio": round(fitted.padding_ratio, 4),
        "replicas": fitted.replicas,
        # Includes per-epoch evaluation; compare runs of equal data and epochs.
        "fit_seconds": round(fitted.fit_seconds, 1),
        "train_examples_per_second": round(
            fitted.num_train_examples * epochs_run / max(fitted.fit_seconds, 1e-9), 1),
        "train_seconds": run.seconds(),
        **(extra_training or {}),
    })
    if getattr(config, "exit_heads_only", False):
        # The freeze was this run's, not the model's: saved frozen, the directory
        # would silently train only its exits as the next run's `--init`.
        model.backbone.trainable = True
        model.output_dense.trainable = True
    # Report what inference will see: float32 compute, whatever trained it.
    inference_model = classifier_with_dtype(model.get_config(), "float32")
    inference_model.set_weights(model.get_weights())
    eval_metrics = {}
    if eval_examples is not None:
        trained = TrainedClassifier(inference_model, tokenizer, labels, training_config)
        eval_metrics = trained.evaluate(eval_examples)
        if inference_model.exit_heads:  # how well each layer call would answer alone
            eval_metrics["exit_accuracy"] = exit_accuracies(
                trained.exit_proba(eval_examples.texts, eval_examples.pairs),
                np.asarray(labels.encode(eval_examples)))
        eval_metrics["file"] = config.eval
        if not labels.multi_label:
            _warn_if_not_learnt(eval_metrics, labels.encode(eval_examples))
    written, manifest = save_model_dir(config.out, model, tokenizer, labels, training_config,
                                       eval_metrics=eval_metrics, history=fitted.history,
                                       overwrite=True, extra_metadata=extra_metadata)
    run.finish()
    return TrainedClassifier(inference_model, tokenizer, labels, written, manifest, config.out)
