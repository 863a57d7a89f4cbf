"""`albert_tf.distill(...)`: a teacher labels a transfer set, an ALBERT student learns it.

Everything `train` has is reused, not copied: option checks, the tokenizer,
length-bucketed `ClassificationBatches`, mixed precision, `model.fit` with
checkpoints, `--resume`, early stopping on the eval file's gold accuracy and
the best epoch kept, and the same model directory at the end. What is new is
the transfer set, the teacher's cached soft labels, and the loss.

Example:
```python
import albert_tf
student = albert_tf.distill(teacher="runs/teacher-sst2", train="sst2/train.tsv",
                            transfer=["imdb/unsup.jsonl.gz"], eval="sst2/dev.tsv",
                            out="runs/student", preset="small", temperature=2.0)
student.metadata["distillation"]["teacher"]["accuracy"]
```
A list of teachers is an ensemble: `teacher=["runs/teacher-a", "runs/teacher-b"]`
averages their probabilities, each member labelling into its own cache.
"""

import dataclasses
import os

import numpy as np

from albert_tf.artifacts.manifest import DISTILLATION, recorded_path, sha256_file
from albert_tf.errors import AlbertTfError
from albert_tf.inference.trained import TrainedClassifier
from albert_tf.text.data import Examples, LabelVocab, load_examples, parse_label_names
from albert_tf.training.distillation.cache import open_cache, texts_digest
from albert_tf.training.distillation.config import CACHE_SUFFIX, DistillConfig
from albert_tf.training.distillation.embeddings import check_teacher, transfer_embeddings
from albert_tf.training.distillation.labels_file import LABELS_SUFFIX, write_labels_file
from albert_tf.training.distillation.loss import (DistillationLoss, accuracy_metric,
                                                  target_accuracy)
from albert_tf.training.distillation.transfer import NO_LABEL, build_transfer_set
from albert_tf.training.finetune import WORK_DIR_SUFFIX, fit_classifier, save_trained
from albert_tf.training.run import Run, prepare_tokenizer


def student_labels(teacher, examples, source):
    """The student's label vocabulary: the teacher's names, in the teacher's order.

    Every gold label of the training file must be one of them.
    """
    vocab = LabelVocab(teacher.labels)
    unknown = sorted(set(examples.labels) - set(teacher.labels))
    if unknown:
        raise AlbertTfError(
            f"{source} has labels {unknown} that the teacher does not know; the teacher's "
            f"labels are {teacher.labels} (student labels are matched to the teacher's by name)")
    return vocab


def targets(probabilities, gold):
    """`(n, C + 1)`: teacher probabilities, then the gold id (-1 where none)."""
    return np.concatenate([np.asarray(probabilities, np.float32),
                           np.asarray(gold, np.float32)[:, None]], axis=1)


def prepare_transfer(config, teacher):
    """`(labels, eval examples or None, transfer set)` of a distillation: what the
    teacher must label. `distill` and `label_teacher` build it the same way."""
    names = parse_label_names(config.label_names)
    train_examples = load_examples(config.train, text_column=config.text_column,
                                   label_column=config.label_column).head(config.max_train_examples)
    labels = student_labels(teacher, train_examples, config.train)
    if names:  # the teacher's classes, in its order, under the new names
        labels = LabelVocab([names.get(n, n) for n in labels.names])
        train_examples = train_examples.renamed(names)
    eval_examples = None
    if config.eval:
        eval_examples = load_examples(config.eval, text_column=config.text_column,
                                      label_column=config.label_column)
        student_labels(teacher, eval_examples, config.eval)
        eval_examples = eval_examples.renamed(names)
    transfer = build_transfer_set(
        train_examples.texts, labels.encode(train_examples), config.transfer,
        text_column=config.transfer_text_column, split_sentences=config.split_sentences,
        min_words=config.min_words, max_words=config.max_words,
        max_unlabelled=config.max_unlabelled, augment_copies=config.augment_copies,
        mask_rate=config.mask_rate, ngram_rate=config.ngram_rate,
        exclude=eval_examples.texts if eval_examples else (), seed=config.seed)
    return labels, eval_examples, transfer


def label_teacher(config=None, labels_file=None, **kwargs):
    """Label a distillation's texts (transfer set and eval file) with its one teacher,
    as `distill` with the same options would, and write them to `labels_file`
    (`.labels.npz`, see `labels_file`); no student is trained. The teacher's
    cache (`cache_dir`, default `labels_file` minus the suffix + `.teacher-cache`)
    makes an interrupted run go on where it stopped. Returns a summary dict.

    ```python
    label_teacher(teacher="runs/teacher-mpnet", train="sst2/train.tsv", eval="sst2/dev.tsv",
                  transfer=["imdb/unsup.jsonl.gz"], labels_file="labels/sst2.labels.npz")
    ```
    """
    from albert_tf.training.distillation.teachers import load_teacher

    labels_file = os.fspath(labels_file or "")
    if not labels_file.endswith(LABELS_SUFFIX):
        raise AlbertTfError(f"labels_file must end in {LABELS_SUFFIX}, got {labels_file!r}")
    # `out` is the labels file: validate() refuses an existing one without overwrite.
    config = dataclasses.replace(config or DistillConfig(), **kwargs, out=labels_file).validate()
    if isinstance(config.teacher, list):
        raise AlbertTfError(f"one teacher per labels file, got {len(config.teacher)}: label "
                            "with each, then pass the files to distill as an ensemble")
    teacher = load_teacher(config.teacher, batch_size=config.teacher_batch_size,
                           recipe=config.teacher_recipe)
    _, eval_examples, transfer = prepare_transfer(config, teacher)
    texts = transfer.texts + (eval_examples.texts if eval_examples is not None else [])
    cache = open_cache(config.cache_dir or labels_file[:-len(LABELS_SUFFIX)] + CACHE_SUFFIX,
                       teacher)
    probabilities = cache.probabilities(texts, progress=config.verbose != 0)
    digest = write_labels_file(labels_file, teacher.describe(), texts, probabilities)
    return {"labels_file": labels_file, "sha256": digest,
            "bytes": os.path.getsize(labels_file), "texts": len(texts),
            "transfer_texts_sha256": texts_digest(transfer.texts),
            "transfer": transfer.counts, "teacher_calls": cache.teacher_calls,
            "teacher": {"sha256": teacher.sha256, "accuracy": teacher.accuracy}}


def distill(config=None, **kwargs):
    """Distil a teacher into an ALBERT student; write and return its model directory.

    Pass a `DistillConfig` or its fields as keyword arguments.
    """
    from albert_tf.training.distillation.teachers import load_teacher

    config = dataclasses.replace(config or DistillConfig(), **kwargs).validate()
    teacher = load_teacher(config.teacher, batch_size=config.teacher_batch_size,
                           recipe=config.teacher_recipe)
    if config.teacher_embeddings:
        check_teacher(teacher)
    labels, eval_examples, transfer = prepare_transfer(config, teacher)
    cache = open_cache(config.cache_dir or config.out.rstrip("/\\") + CACHE_SUFFIX, teacher)
    soft = cache.probabilities(transfer.texts, progress=config.verbose != 0)

    y_eval = None
    eval_report = {}
    if eval_examples is not None:
        eval_gold = labels.encode(eval_examples)
        y_eval = targets(np.eye(len(labels), dtype=np.float32)[eval_gold], eval_gold)
        teacher_eval = cache.probabilities(eval_examples.texts, progress=False)
        eval_report = {"teacher_accuracy": float(np.mean(teacher_eval.argmax(-1) ==
                                                         np.asarray(eval_gold)))}
    run = Run.start(config, WORK_DIR_SUFFIX)
    with run.discarded_on_error():
        tokenizer = prepare_tokenizer(config, run.work_dir, transfer.texts)
        embedding_report = {}

        def prepare(model):
            embedding_report.update(transfer_embeddings(teacher, tokenizer, model))

        fitted = fit_classifier(
            run, tokenizer, labels, Examples(transfer.texts), targets(soft, transfer.gold),
            eval_examples, y_eval, loss=DistillationLoss(config.temperature, config.alpha),
            metrics=[accuracy_metric()], accuracy_fn=target_accuracy,
            prepare=prepare if config.teacher_embeddings else None)

    record = {
        "teacher": {**teacher.describe(), **eval_report},
        "transfer": {"train": {"path": recorded_path(config.train),
                               "sha256": sha256_file(config.train)},
                     "files": transfer.files, "counts": transfer.counts,
                     "texts_sha256": texts_digest(transfer.texts),
                     "gold_fraction": round(float(np.mean(np.asarray(transfer.gold)
                                                          != NO_LABEL)), 4)},
        "temperature": config.temperature, "alpha": config.alpha,
        "cache": recorded_path(cache.directory), "teacher_calls": cache.teacher_calls,
        "labels_from_files": cache.file_hits,
        "teacher_embeddings": embedding_report or None,
    }
    if eval_examples is not None:
        record["eval_agreement_with_teacher"] = _agreement(
            fitted, tokenizer, labels, eval_examples, teacher_eval, config.max_length)
    return save_trained(run, fitted, tokenizer, labels, eval_examples,
                        extra_metadata={DISTILLATION: record},
                        extra_training={"num_transfer_examples": len(transfer)})


def _agreement(fitted, tokenizer, labels, eval_examples, teacher_probabilities, max_length):
    """Share of eval texts on which the student's class is the teacher's."""
    student = TrainedClassifier(fitted.model, tokenizer, labels, {"max_length": max_length})
    predicted = student.predict_proba(eval_examples.texts).argmax(-1)
    return float(np.mean(predicted == teacher_probabilities.argmax(-1)))
