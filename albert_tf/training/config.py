"""Every option of a training run, its default and its check, in one Keras-free place.

`RunConfig` is the shared base (as MediaPipe Model Maker's `BaseHParams`):
output, model shape, tokenizer, schedule, precision, seed and resume, with
their validation. `TrainConfig` (fine-tuning) and `PretrainConfig` (MLM + SOP)
add what only they need; `DistillConfig` (in `training.distillation.config`)
extends `TrainConfig`. Keras-free, so the command line shows these defaults
in `--help` without importing a backend.

Example:
```python
from albert_tf.training.config import TrainConfig
config = TrainConfig(train="train.tsv", out="runs/m", preset="tiny").validate()
config.max_length  # 128
```
"""

import dataclasses

from albert_tf.artifacts.formats import is_model_dir
from albert_tf.contract import DEFAULT_MAX_LENGTH, EXIT_HEADS
from albert_tf.errors import DataError
from albert_tf.text.data import parse_label_names
from albert_tf.training.options import (check_choice, check_init, check_inputs,
                                        check_output, check_positive, check_rates, fail)

PRECISIONS = ("float32", "mixed_bfloat16", "mixed_float16")
# How often a training run backs up inside an epoch (`training.resume`).
# Saving the `small` student (2M weights and their AdamW moments, ~25 MB)
# takes well under a second: every 10 minutes costs nothing measurable and
# bounds what a kill can lose.
BACKUP_EVERY_MINUTES = 10.0


def preset_names():
    # Imported here: `albert_tf.models` builds Keras layers; the presets
    # module itself is plain data.
    from albert_tf.models.presets import PRESETS

    return PRESETS


# How a run was spread over processes: not recorded with its result.
PROCESS_OPTIONS = ("coordinator", "num_processes", "process_id", "peer_timeout")
# Seconds to wait for every training process to join, and for a silent peer
# (JAX's heartbeat) before giving up on it.
PEER_TIMEOUT = 120


@dataclasses.dataclass
class RunConfig:
    """Options every training run has; subclasses add theirs and call `validate()`."""

    out: str = None
    preset: str = "small"
    # A pretrained directory (albert-tf import / pretrain) to start from, which
    # brings its tokenizer; fine-tuning also takes a model directory.
    init: str = None
    tokenizer: str = None  # spiece.model or tokenizer dir; None = train one
    vocab_size: int = 8000
    text_column: str = None
    max_length: int = DEFAULT_MAX_LENGTH
    learning_rate: float = 1e-4
    warmup_ratio: float = 0.1
    weight_decay: float = 0.01
    clipnorm: float = 1.0
    dropout: float = None  # None = the preset's
    precision: str = "float32"
    seed: int = 0
    resume: bool = False
    # Minutes between backups inside an epoch (pretraining: an evaluation
    # period), besides one at every epoch's end; --resume goes on from the
    # last one's exact batch. 0 = after every batch.
    backup_minutes: float = BACKUP_EVERY_MINUTES
    overwrite: bool = False
    model_overrides: dict = dataclasses.field(default_factory=dict)
    verbose: object = "auto"

    # Shortest max_length the run accepts, and whether `init` may be a
    # trained model directory (fine-tuning continues one; pretraining cannot).
    MIN_LENGTH = 8
    INIT_TAKES_MODEL_DIR = False

    def validate(self):
        """Fail before any work with a message naming the bad value."""
        check_output(self.out, self.overwrite)
        check_choice("preset", self.preset, preset_names())
        check_choice("precision", self.precision, PRECISIONS)
        check_positive(self, "max_length", "vocab_size")
        if self.max_length < self.MIN_LENGTH:
            fail(f"max_length must be at least {self.MIN_LENGTH}, got {self.max_length}")
        check_rates(self, "learning_rate", open_low=True)
        check_rates(self, "warmup_ratio", "dropout")
        check_inputs(self.init, self.tokenizer)
        check_init(self.init, self.tokenizer, model_dir_ok=self.INIT_TAKES_MODEL_DIR)
        if not isinstance(self.backup_minutes, (int, float)) or self.backup_minutes < 0:
            fail(f"backup_minutes must be a number >= 0, got {self.backup_minutes!r}")
        return self

    def settings(self):
        """The options worth recording with the result (not how it was run)."""
        return {k: v for k, v in dataclasses.asdict(self).items()
                if k not in ("verbose", "overwrite", "resume", "backup_minutes")
                + PROCESS_OPTIONS}


@dataclasses.dataclass
class TrainConfig(RunConfig):
    """Every option of a fine-tuning run; saved in the model's config.json."""

    train: str = None
    eval: str = None
    text_pair_column: str = None
    label_column: str = "label"
    multi_label: bool = False
    label_separator: str = "|"
    # Names for the file's label values, "0=negative,1=positive" (or a JSON
    # object): the model, its exports and the demo say "negative", not "0".
    label_names: str = None
    batch_size: int = 32
    epochs: int = 3
    # Distinct layer weight groups: None = the preset's 1 (ALBERT's one shared
    # layer). The preset's num_layers unshares every layer: the same compute per
    # token, num_layers x the encoder's parameters. With init= a model directory,
    # its groups are untied into this many, each starting as the one it replaces.
    num_groups: int = None
    # Layer calls: None = the preset's, or the --init model's. A model directory
    # given as --init runs its (shared) layers this many times instead.
    num_layers: int = None
    classifier_dropout: float = 0.1
    patience: int = 2
    class_weight: str = None  # None, "balanced" or JSON {"label": weight}
    data_parallel: bool = False  # all local devices (JAX DataParallel / TF MirroredStrategy)
    # Several JAX processes, one data-parallel job (`training.distribution`);
    # None: from KERAS_DISTRIBUTION_* / JAX_* variables, else one process.
    coordinator: str = None  # HOST:PORT of process 0
    num_processes: int = None
    process_id: int = None
    peer_timeout: int = PEER_TIMEOUT  # seconds to wait for peers to join, or a silent one
    pad_to_max_length: bool = False  # fixed-shape batches (for comparison with bucketing)
    max_train_examples: int = None
    # With init= a model directory: keep its encoder and tokenizer, draw a new
    # head for this run's labels (a new task from a fine-tuned model, as Hugging
    # Face's `ignore_mismatched_sizes=True`). Off, other labels are an error.
    new_head: bool = False
    # Early exit: a classifier after every layer call, trained together
    # ("per_call" heads, or one "shared" head; see training.exits). None: the
    # ordinary classifier (or, with init= a model directory, the init's heads).
    exit_heads: str = None
    # Train the exit heads alone, the init model (encoder, pooler, its own head)
    # frozen: DeeBERT's second stage. The last exit then answers exactly as the
    # init did, so a shipped model gains exits without losing a sentence.
    exit_heads_only: bool = False

    INIT_TAKES_MODEL_DIR = True

    def validate(self):
        if not self.train:
            fail("a training file is required (train=... / --train)")
        super().validate()
        check_positive(self, "batch_size", "epochs", "patience")
        if self.max_train_examples is not None:  # 0 used to mean "every row", silently
            check_positive(self, "max_train_examples")
        check_rates(self, "classifier_dropout")
        check_inputs(self.train, self.eval)
        if self.num_layers is not None:
            check_positive(self, "num_layers")
            if self.init and not is_model_dir(self.init):
                fail(f"num_layers={self.num_layers} with --init takes a model directory; "
                     f"{self.init} is a pretrained one")
        if self.new_head and not (self.init and is_model_dir(self.init)):
            fail(f"new_head takes init= a model directory; got init={self.init!r}")
        if self.num_groups is not None and self.init:
            # A model directory's shared layer is untied into the groups (the same
            # function at step 0, AlbertBackbone.untied); a pretrained one keeps its own.
            check_positive(self, "num_groups")
            if not is_model_dir(self.init):
                fail(f"num_groups={self.num_groups} with --init takes a model directory; "
                     f"{self.init} is a pretrained one")
        elif self.num_groups is not None:
            layers = self.num_layers or self.model_overrides.get(
                "num_layers", preset_names()[self.preset]["num_layers"])
            if self.num_groups < 1 or layers % self.num_groups:
                fail(f"num_groups must divide the model's {layers} layers, "
                     f"got {self.num_groups}")
        if self.class_weight is not None and self.multi_label:
            fail("class weights are for single-label tasks; multi-label is not supported")
        given = [f"{k}={getattr(self, k)!r}" for k in PROCESS_OPTIONS[:3]
                 if getattr(self, k) is not None]
        if given and not self.data_parallel:
            fail(f"{', '.join(given)}: several processes train one data-parallel job; "
                 "add data_parallel=True (--data-parallel)")
        if self.label_names is not None:
            try:
                parse_label_names(self.label_names)
            except DataError as error:
                fail(str(error))
        if self.exit_heads is not None:
            check_choice("exit_heads", self.exit_heads, EXIT_HEADS)
            if self.multi_label:
                fail(f"exit_heads={self.exit_heads!r} is for single-label tasks; "
                     "multi_label is not supported")
        if self.exit_heads_only:
            if self.exit_heads != "per_call":
                fail(f"exit_heads_only trains per-call heads beside a frozen model; got "
                     f"exit_heads={self.exit_heads!r} (a shared head is the model's own)")
            if not (self.init and is_model_dir(self.init)):
                fail(f"exit_heads_only freezes a trained model: init= a model directory, "
                     f"got init={self.init!r}")
        return self


@dataclasses.dataclass
class PretrainConfig(RunConfig):
    """Every option of a pretraining run; saved in the directory's metadata."""

    corpus: list = None  # text/data files; each row is a document
    vocab_size: int = 30000
    token_budget: int = 16384  # padded tokens per batch (128 rows x 128)
    steps: int = 10000
    eval_every: int = 1000
    learning_rate: float = 1e-3
    warmup_ratio: float = 0.05
    dropout: float = 0.0  # ALBERT v2 pretrains without dropout
    short_seq_prob: float = 0.1
    mask_rate: float = 0.15
    heldout_fraction: float = 0.01
    max_heldout_pairs: int = 2000
    max_documents: int = None
    time_limit_minutes: float = None
    workers: int = 1

    MIN_LENGTH = 16

    def validate(self):
        if not self.corpus:
            fail("at least one corpus file is required (corpus=[...] / --corpus)")
        check_inputs(*self.corpus)
        super().validate()
        check_positive(self, "steps", "eval_every", "token_budget", "workers")
        if self.token_budget < self.max_length:
            fail(f"token_budget={self.token_budget} must hold one sequence of "
                 f"max_length={self.max_length}")
        check_rates(self, "mask_rate", "heldout_fraction", open_low=True)
        check_rates(self, "short_seq_prob")
        return self
