"""Every option of a distillation run: `TrainConfig` plus the teacher, the transfer
set and the loss.

Keras-free (see `training.config`), so `albert-tf distill --help` shows these
defaults without importing a backend.
"""

import dataclasses

from albert_tf.artifacts.formats import is_embedder_dir, is_model_dir
from albert_tf.training.config import PROCESS_OPTIONS, RunConfig, TrainConfig
from albert_tf.training.options import (check_choice, check_inputs, check_positive, check_rates,
                                        fail)

CACHE_SUFFIX = ".teacher-cache"
# What a distillation teaches: a classifier's soft labels, or a sentence space.
TASKS = ("classification", "embedding")
# Embedding distillation's losses on the teacher's vectors: mean squared error
# (Reimers & Gurevych 2020), 1 - cosine (the direction only), or 1 - cosine plus
# 1 - the correlation of each sentence's cosines to the rest of its batch with
# the teacher's (the ranking that search and similarity read).
EMBEDDING_LOSSES = ("mse", "cosine", "cosine+pearson")


@dataclasses.dataclass
class DistillConfig(TrainConfig):
    """`TrainConfig` plus the teacher, the transfer set and the loss."""

    # Kit model dir, export dir / .tflite, or HF classifier dir; a list of two or
    # more is an ensemble (their mean probability).
    teacher: str = None
    transfer: list = dataclasses.field(default_factory=list)  # unlabelled files
    transfer_text_column: str = None
    split_sentences: bool = True
    min_words: int = 3
    max_words: int = None  # None: MAX_SENTENCE_WORDS when splitting, else no limit
    max_unlabelled: int = None
    augment_copies: int = 0
    mask_rate: float = 0.1
    ngram_rate: float = 0.25
    temperature: float = 2.0
    alpha: float = 0.5
    teacher_batch_size: int = 64
    teacher_recipe: str = None  # export teachers: which .tflite (default: the runtime's)
    cache_dir: str = None  # default OUT.teacher-cache
    # Start the student's token embeddings from the (Hugging Face) teacher's,
    # spelled across the two vocabularies (distillation.embeddings).
    teacher_embeddings: bool = False

    def validate(self):
        if not self.teacher:
            fail("a teacher is required (teacher=... / --teacher)")
        if isinstance(self.teacher, (list, tuple)):
            self.teacher = [str(path) for path in self.teacher]
            if len(self.teacher) == 1:
                self.teacher = self.teacher[0]
        teachers = self.teacher if isinstance(self.teacher, list) else [self.teacher]
        if len(set(teachers)) < len(teachers):
            fail(f"a teacher is given twice: {teachers}")
        check_inputs(*teachers, *self.transfer)
        super().validate()
        given = [k for k in PROCESS_OPTIONS[:3] if getattr(self, k) is not None]
        if given:
            fail(f"{', '.join(given)}: distillation runs in one process (its devices with "
                 "data_parallel=True); several processes train with `train`")
        if self.multi_label:
            fail("distillation is for single-label tasks; multi_label is not supported")
        if self.class_weight is not None:
            fail("class weights do not apply to soft labels; leave class_weight unset")
        check_positive(self, "teacher_batch_size", "min_words")
        if self.max_words is not None:
            check_positive(self, "max_words")
        if self.augment_copies < 0:
            fail(f"augment_copies must be >= 0, got {self.augment_copies}")
        if self.max_unlabelled is not None and self.max_unlabelled < 0:
            fail(f"max_unlabelled must be >= 0, got {self.max_unlabelled}")
        check_rates(self, "mask_rate", "ngram_rate")
        if self.teacher_embeddings and len(teachers) > 1:
            fail("teacher_embeddings takes its embeddings from one teacher; "
                 f"{len(teachers)} were given")
        if self.teacher_embeddings and self.init:
            fail(f"teacher_embeddings starts a new student's embeddings; init={self.init!r} "
                 "already brings its own (use one or the other)")
        if not self.temperature > 0:
            fail(f"temperature must be > 0, got {self.temperature}")
        if not self.alpha >= 0:
            fail(f"alpha must be >= 0, got {self.alpha}")
        return self


@dataclasses.dataclass
class EmbeddingDistillConfig(RunConfig):
    """Options of an embedding distillation (`albert-tf distill --task embedding`):
    a sentence-transformers teacher's vectors regressed by an ALBERT encoder on
    the sentences of `transfer` (see `distillation.sentence_corpus`)."""

    # A sentence-transformers directory, a packaged base name ("mpnet",
    # "minilm") or a `.vectors.npz` file of its vectors.
    teacher: str = None
    transfer: list = dataclasses.field(default_factory=list)
    transfer_text_column: str = None
    split_sentences: bool = True
    min_words: int = 3
    max_words: int = None  # None: MAX_SENTENCE_WORDS when splitting, else no limit
    per_file: int = None  # at most this many sentences from each transfer file
    holdout: float = 0.02  # share kept apart to measure agreement with the teacher
    # A file of held-out sentences, one per line (an earlier run's heldout.txt):
    # measured on instead of a drawn share, and kept out of training.
    heldout_file: str = None
    loss: str = "mse"
    # 0: batches of random sentences (length-bucketed). N: batches made of runs of
    # N sentences from one k-means cluster of the teacher's vectors, so the
    # pairwise loss term sees related pairs (see sentence_distill.neighbour_groups).
    neighbour_group: int = 0
    teacher_batch_size: int = 64
    teacher_bf16: bool = None  # None: bf16 autocast where the CPU has bf16 dot products
    cache_dir: str = None  # default OUT.teacher-cache
    # The schedule's fields and defaults are fine-tuning's (`TrainConfig`), so
    # `albert-tf distill --help` shows one true default for either task.
    batch_size: int = TrainConfig.batch_size
    epochs: int = TrainConfig.epochs
    patience: int = TrainConfig.patience
    # Layer calls, as fine-tuning's: None = the preset's, or the --init model's.
    # An embedder or model directory given as init runs its shared layer this many
    # times instead (the same weights: 6 calls of a 4-call embedder start close
    # to it and train on from there).
    num_layers: int = TrainConfig.num_layers
    data_parallel: bool = False
    pad_to_max_length: bool = False

    # init: a pretrained encoder, a classifier (its encoder starts the student:
    # the bundled student knows words) or an embedder (continued).
    INIT_TAKES_MODEL_DIR = True

    def validate(self):
        if not self.teacher:
            fail("a teacher is required (teacher=... / --teacher)")
        if not self.transfer:
            fail("an embedding distillation needs sentences: transfer=[...] / --transfer")
        check_inputs(*self.transfer, self.heldout_file)
        if self.init and is_embedder_dir(self.init):
            # Continue an embedder: RunConfig's init check knows encoders and classifiers.
            init, self.init = self.init, None
            try:
                super().validate()
            finally:
                self.init = init
            if self.tokenizer is not None:
                fail("pass either init (which brings its tokenizer) or tokenizer, not both")
        else:
            super().validate()
        if self.num_layers is not None:
            check_positive(self, "num_layers")
            if self.init and not (is_embedder_dir(self.init) or is_model_dir(self.init)):
                fail(f"num_layers={self.num_layers} with init takes an embedder or model "
                     f"directory; {self.init} is a pretrained one")
        check_choice("loss", self.loss, EMBEDDING_LOSSES)
        if self.neighbour_group and not 2 <= self.neighbour_group <= self.batch_size:
            fail(f"neighbour_group must be 0 (off) or 2..batch_size ({self.batch_size}), "
                 f"got {self.neighbour_group}")
        check_positive(self, "batch_size", "epochs", "patience", "teacher_batch_size",
                       "min_words")
        if self.max_words is not None:
            check_positive(self, "max_words")
        if self.per_file is not None:
            check_positive(self, "per_file")
        if not 0 <= self.holdout < 1:
            fail(f"holdout must be a share in [0, 1), got {self.holdout}")
        return self
