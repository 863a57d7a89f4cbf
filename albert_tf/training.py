"""Fine-tuning: `albert_tf.train(...)` around a plain `model.fit`.

What it adds to Keras: options checked before any work, a tokenizer and a
label vocabulary built from the training file, length-bucketed batches,
AdamW with linear warm-up and decay, early stopping and best-checkpoint
saving on the eval metric, resumable runs, and a model directory at the end.
"""

import contextlib
import dataclasses
import json
import os
import shutil
import time

import keras
import numpy as np
from keras import ops

from albert_tf.batching import ClassificationBatches, EpochSync
from albert_tf.data import LabelVocab, load_examples
from albert_tf.distribution import data_parallel
from albert_tf.errors import AlbertTfError
from albert_tf.models import PRESETS, AlbertClassifier, AlbertBackbone, preset_config
from albert_tf.options import (check_choice, check_init, check_inputs, check_output,
                               check_positive, check_rates, fail)
from albert_tf.tokenizer import AlbertTokenizer

PRECISIONS = ("float32", "mixed_bfloat16", "mixed_float16")
WORK_DIR_SUFFIX = ".training"


@keras.saving.register_keras_serializable(package="albert_tf")
class WarmupLinearDecay(keras.optimizers.schedules.LearningRateSchedule):
    """Linear warm-up from 0 to `peak` over `warmup_steps`, then linear decay to 0."""

    def __init__(self, peak, warmup_steps, total_steps):
        self.peak = peak
        self.warmup_steps = warmup_steps
        self.total_steps = total_steps

    def __call__(self, step):
        step = ops.cast(step, "float32")
        warmup = step / max(self.warmup_steps, 1)
        decay = (self.total_steps - step) / max(self.total_steps - self.warmup_steps, 1)
        return self.peak * ops.clip(ops.minimum(warmup, decay), 0.0, 1.0)

    def get_config(self):
        return {"peak": self.peak, "warmup_steps": self.warmup_steps,
                "total_steps": self.total_steps}


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


@dataclasses.dataclass
class TrainConfig:
    """Every option of a fine-tuning run; saved in the model's config.json."""

    train: str = None
    eval: str = None
    out: str = None
    preset: str = "small"
    # A pretrained directory (albert-tf import / pretrain), or a model directory
    # with the same labels to warm-start from; overrides preset.
    init: str = None
    tokenizer: str = None  # spiece.model or tokenizer dir; None = train one
    vocab_size: int = 8000
    text_column: str = None
    text_pair_column: str = None
    label_column: str = "label"
    multi_label: bool = False
    label_separator: str = "|"
    max_length: int = 128
    batch_size: int = 32
    epochs: int = 3
    learning_rate: float = 1e-4
    warmup_ratio: float = 0.1
    weight_decay: float = 0.01
    clipnorm: float = 1.0
    dropout: float = None  # None = the preset's
    # Distinct layer weight groups: None = the preset's 1 (ALBERT's one shared
    # layer). The preset's num_layers unshares every layer: the same compute per
    # token, num_layers x the encoder's parameters.
    num_groups: int = None
    classifier_dropout: float = 0.1
    patience: int = 2
    class_weight: str = None  # None, "balanced" or JSON {"label": weight}
    precision: str = "float32"
    data_parallel: bool = False  # all local devices (JAX DataParallel / TF MirroredStrategy)
    pad_to_max_length: bool = False  # fixed-shape batches (for comparison with bucketing)
    seed: int = 0
    resume: bool = False
    overwrite: bool = False
    max_train_examples: int = None
    model_overrides: dict = dataclasses.field(default_factory=dict)
    verbose: object = "auto"

    def validate(self):
        """Fail before any work with a message naming the bad value."""
        if not self.train:
            fail("a training file is required (train=... / --train)")
        check_output(self.out, self.overwrite)
        check_choice("preset", self.preset, PRESETS)
        check_choice("precision", self.precision, PRECISIONS)
        check_positive(self, "batch_size", "epochs", "max_length", "vocab_size")
        if self.max_length < 8:
            fail(f"max_length must be at least 8, got {self.max_length}")
        check_rates(self, "learning_rate", open_low=True)
        check_rates(self, "warmup_ratio", "dropout", "classifier_dropout")
        check_inputs(self.train, self.eval, self.tokenizer)
        check_init(self.init, self.tokenizer, model_dir_ok=True)
        if self.num_groups is not None:
            layers = self.model_overrides.get("num_layers", PRESETS[self.preset]["num_layers"])
            if self.init:
                fail(f"num_groups={self.num_groups} shapes a new model; --init brings its own")
            if self.num_groups < 1 or layers % self.num_groups:
                fail(f"num_groups must divide the model's {layers} layers, "
                     f"got {self.num_groups}")
        if self.class_weight is not None and self.multi_label:
            fail("class weights are for single-label tasks; multi-label is not supported")
        return self


def _read_split(config, path, labels=None, limit=None):
    examples = load_examples(
        path, text_column=config.text_column, text_pair_column=config.text_pair_column,
        label_column=config.label_column, multi_label=config.multi_label,
        label_separator=config.label_separator)
    if limit:
        examples = examples.subset(range(min(limit, len(examples))))
    labels = labels or LabelVocab.from_examples(examples, config.multi_label)
    return examples, labels, labels.encode(examples)


def _class_sample_weights(config, labels, y):
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
    from albert_tf.pretrained import load_pretrained

    backbone = load_pretrained(config.init, dtype=config.precision, dropout=config.dropout,
                               max_length=config.max_length).backbone
    if backbone.vocabulary_size != vocabulary_size:
        raise AlbertTfError(f"{config.init}: embeds {backbone.vocabulary_size} pieces but the "
                            f"tokenizer has {vocabulary_size}")
    return backbone


def _warm_start(config, vocabulary_size, labels):
    """The classifier of the model directory `config.init`, weights and head
    included, computing in the run's precision (with its dropout, if given).

    Continuing a run this way (a new schedule over the same or new data) costs
    what the new epochs cost; a longer schedule from scratch repeats the old ones.
    """
    from albert_tf.model_dir import (CONFIG, LABELS, TOKENIZER_DIR, classifier_with_dtype,
                                     load_weights_checked)

    with open(os.path.join(config.init, CONFIG), encoding="utf-8") as f:
        model_config = json.load(f)["model"]
    init_labels = LabelVocab.load(os.path.join(config.init, LABELS),
                                  multi_label=bool(model_config.get("multi_label")))
    if (init_labels.names, init_labels.multi_label) != (labels.names, labels.multi_label):
        raise AlbertTfError(f"{config.init}: labels {init_labels.names} do not match this "
                            f"run's {labels.names}")
    backbone = model_config["backbone"]["config"]
    if config.max_length > backbone["max_sequence_length"]:
        raise AlbertTfError(f"max_length={config.max_length} exceeds the {config.init} "
                            f"position table ({backbone['max_sequence_length']})")
    if config.dropout is not None:
        backbone["dropout"] = config.dropout
    model_config["dropout"] = config.classifier_dropout
    model = classifier_with_dtype(model_config, config.precision)
    if model.backbone.vocabulary_size != vocabulary_size:
        raise AlbertTfError(f"{config.init}: embeds {model.backbone.vocabulary_size} pieces "
                            f"but the tokenizer has {vocabulary_size}")
    load_weights_checked(config.init, model,
                         AlbertTokenizer.load(os.path.join(config.init, TOKENIZER_DIR)))
    return model


def build_model(config, vocabulary_size, labels):
    """A classifier: warm-started from a model directory or a pretrained encoder
    (`config.init`), or a random one of `config.preset`."""
    from albert_tf.model_dir import is_model_dir

    num_classes = len(labels)
    if config.init and is_model_dir(config.init):
        return _warm_start(config, vocabulary_size, labels)
    if config.init:
        return AlbertClassifier(_pretrained_backbone(config, vocabulary_size), num_classes,
                                multi_label=config.multi_label,
                                dropout=config.classifier_dropout)
    overrides = dict(config.model_overrides)
    if config.dropout is not None:
        overrides["dropout"] = config.dropout
    if config.num_groups is not None:
        overrides["num_groups"] = config.num_groups
    backbone_config = preset_config(config.preset, vocabulary_size=vocabulary_size,
                                    dtype=config.precision, **overrides)
    backbone_config["max_sequence_length"] = max(backbone_config["max_sequence_length"],
                                                 config.max_length)
    backbone = AlbertBackbone(**backbone_config)
    return AlbertClassifier(backbone, num_classes, multi_label=config.multi_label,
                            dropout=config.classifier_dropout)


def task_loss_and_metrics(multi_label):
    """The fine-tuning loss on logits and its `accuracy` metric."""
    if multi_label:
        return (keras.losses.BinaryCrossentropy(from_logits=True),
                [keras.metrics.BinaryAccuracy(name="accuracy", threshold=0.0)])
    return (keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            [keras.metrics.SparseCategoricalAccuracy(name="accuracy")])


def compile_model(model, config, total_steps, loss=None, metrics=None):
    """AdamW (no decay on biases and LayerNorm), warm-up + linear decay, clipping.

    `loss` and `metrics` replace the task's defaults (distillation passes its own).
    """
    schedule = WarmupLinearDecay(config.learning_rate,
                                 int(total_steps * config.warmup_ratio), total_steps)
    optimizer = keras.optimizers.AdamW(
        learning_rate=schedule, weight_decay=config.weight_decay,
        global_clipnorm=config.clipnorm or None)
    optimizer.exclude_from_weight_decay(var_names=["bias", "gamma", "beta"])
    if loss is None:
        loss, metrics = task_loss_and_metrics(config.multi_label)
    # Data-parallel batches carry zero-weight padding rows: weight the metrics.
    metric_kind = "weighted_metrics" if config.data_parallel else "metrics"
    # Under mixed_float16 Keras wraps the optimizer in a LossScaleOptimizer
    # (auto_scale_loss=True, the default), which is what we want.
    model.compile(optimizer=optimizer, loss=loss, **{metric_kind: metrics})
    return model


def prepare_tokenizer(config, work_dir, texts):
    """The run's tokenizer: resumed from the work dir, the `init` directory's,
    the given one, or trained now on `texts` (an iterable of strings)."""
    saved = os.path.join(work_dir, "tokenizer")
    if config.resume and os.path.isdir(saved):
        return AlbertTokenizer.load(saved)
    if config.init:
        tokenizer = AlbertTokenizer.load(os.path.join(config.init, "tokenizer"))
    elif config.tokenizer:
        tokenizer = AlbertTokenizer.load(config.tokenizer)
    else:
        tokenizer = AlbertTokenizer.train(texts, vocab_size=config.vocab_size, seed=config.seed)
    tokenizer.save(saved)
    return tokenizer


def train(config=None, **kwargs):
    """Fine-tune a classifier and write a model directory; returns it loaded.

    Pass a `TrainConfig` or its fields as keyword arguments.

    Example:
    ```python
    model = albert_tf.train(train="sst2/train.tsv", eval="sst2/dev.tsv",
                            out="runs/sst2", preset="small", epochs=2)
    model.metadata["eval_metrics"]["accuracy"]
    ```
    """
    config = (config or TrainConfig())
    config = dataclasses.replace(config, **kwargs).validate()
    # Data first: a bad file fails here, before a work directory exists.
    train_examples, labels, y_train = _read_split(config, config.train,
                                                  limit=config.max_train_examples)
    eval_examples = y_eval = None
    if config.eval:
        eval_examples, _, y_eval = _read_split(config, config.eval, labels)
    run = Run.start(config)
    with run.discarded_on_error():
        tokenizer = prepare_tokenizer(config, run.work_dir,
                                      train_examples.texts + (train_examples.pairs or []))
        fitted = fit_classifier(run, tokenizer, labels, train_examples, y_train,
                                eval_examples, y_eval,
                                _class_sample_weights(config, labels, y_train))
    return save_trained(run, fitted, tokenizer, labels, eval_examples)


@dataclasses.dataclass
class Run:
    """A run's options, its work directory (checkpoints, for --resume) and start time."""

    config: TrainConfig
    work_dir: str
    started: float

    @classmethod
    def start(cls, config):
        keras.utils.set_random_seed(config.seed)
        work_dir = os.path.abspath(config.out.rstrip("/\\") + WORK_DIR_SUFFIX)
        if not config.resume and os.path.exists(work_dir):
            shutil.rmtree(work_dir)
        os.makedirs(work_dir, exist_ok=True)
        return cls(config, work_dir, time.time())

    def has_checkpoint(self):
        return os.path.exists(os.path.join(self.work_dir, "backup"))

    @contextlib.contextmanager
    def discarded_on_error(self):
        """A user error (`AlbertTfError`) before the first finished epoch
        removes the work directory: there is nothing in it to resume. Any
        other failure keeps it, for `--resume`."""
        try:
            yield
        except AlbertTfError:
            if not self.has_checkpoint():
                shutil.rmtree(self.work_dir, ignore_errors=True)
            raise


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
                   y_eval=None, sample_weights=None, loss=None, metrics=None):
    """`model.fit` with bucketed batches, checkpoints, early stopping; the best epoch kept.

    `y_*` are whatever `loss` takes (default: class indices or multi-hot rows).
    """
    config = run.config
    with data_parallel(config.data_parallel) as replicas:
        def batches(examples, y, shuffle, weights=None):
            packed, _ = tokenizer.encode_unpadded(examples.texts, examples.pairs,
                                                  config.max_length)
            return ClassificationBatches(packed, y, config.batch_size, config.max_length,
                                         shuffle=shuffle, seed=config.seed,
                                         sample_weights=weights, row_multiple=replicas,
                                         pad_to_multiple_of=(config.max_length
                                                             if config.pad_to_max_length
                                                             else 8))

        train_batches = batches(train_examples, y_train, True, sample_weights)
        eval_batches = batches(eval_examples, y_eval, False) if eval_examples else None

        model = build_model(config, tokenizer.vocab_size, labels)
        compile_model(model, config, total_steps=len(train_batches) * config.epochs,
                      loss=loss, metrics=metrics)

        monitor = "val_accuracy" if eval_batches else "accuracy"
        best_path = os.path.join(run.work_dir, "best.weights.h5")
        best_record = BestRecord(os.path.join(run.work_dir, "best.json"), monitor)
        callbacks = [
            # Kept after the last epoch (the work dir goes once the model is
            # saved): a run killed while saving resumes without retraining.
            keras.callbacks.BackupAndRestore(os.path.join(run.work_dir, "backup"),
                                             delete_checkpoint=False),
            EpochSync(train_batches),
            # After a resume, only a better epoch may replace the saved best.
            keras.callbacks.ModelCheckpoint(best_path, monitor=monitor, mode="max",
                                            save_best_only=True, save_weights_only=True,
                                            initial_value_threshold=best_record.value()),
            best_record,
            keras.callbacks.EarlyStopping(monitor=monitor, mode="max",
                                          patience=config.patience),
        ]
        fit_started = time.time()
        # shuffle=False: the batches are already in a seeded random order per
        # epoch; Keras' own shuffling draws from global state a resume cannot replay.
        fit = model.fit(train_batches, validation_data=eval_batches, epochs=config.epochs,
                        callbacks=callbacks, verbose=config.verbose, shuffle=False)
        fit_seconds = time.time() - fit_started
    if os.path.exists(best_path):
        model.load_weights(best_path)
    history = {k: [float(v) for v in values] for k, values in fit.history.items()}
    return Fitted(model, history, len(train_examples), train_batches.padding_ratio(),
                  replicas, fit_seconds)


def save_trained(run, fitted, tokenizer, labels, eval_examples=None, extra_metadata=None,
                 extra_training=None):
    """Evaluate in float32, write the model directory, drop the work dir; return it loaded."""
    from albert_tf.model_dir import (TrainedClassifier, classifier_with_dtype, load,
                                     save_model_dir)

    config, model = run.config, fitted.model
    training_config = {k: v for k, v in dataclasses.asdict(config).items()
                       if k not in ("verbose", "overwrite", "resume")}
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
        "train_seconds": round(time.time() - run.started, 1),
        **(extra_training or {}),
    })
    eval_metrics = {}
    if eval_examples is not None:
        # Report what inference will see: float32 compute, whatever trained it.
        inference_model = classifier_with_dtype(model.get_config(), "float32")
        inference_model.set_weights(model.get_weights())
        eval_metrics = TrainedClassifier(inference_model, tokenizer, labels, training_config
                                         ).evaluate(eval_examples)
        eval_metrics["file"] = config.eval
    save_model_dir(config.out, model, tokenizer, labels, training_config,
                   eval_metrics=eval_metrics, history=fitted.history, overwrite=True,
                   extra_metadata=extra_metadata)
    trained = load(config.out, dtype="float32")
    shutil.rmtree(run.work_dir, ignore_errors=True)
    return trained
