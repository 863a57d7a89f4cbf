"""Teachers: anything that maps texts to class probabilities, with label names.

One small interface over three sources, picked from what the path holds:

| path holds | teacher | needs |
|---|---|---|
| a kit model directory (`albert-tf train`) | `KitModelTeacher` | Keras |
| a kit export directory or `.tflite` | `ExportTeacher` (the TF-free runtime) | `[runtime]` |
| a Hugging Face `AutoModelForSequenceClassification` directory | `HFTeacher` | `[teacher]` |
| a `.labels.npz` file (`albert-tf label`): a teacher's labels, no model | `LabelsFileTeacher` | nothing |
| several of the above | `EnsembleTeacher` (their mean probability) | what each needs |

A Hugging Face teacher also has `token_vectors(pieces)`, its input embeddings
spelled out for another vocabulary (`teacher_embeddings=True`).

Every teacher has `labels` (class order), `sha256` (what the label cache is
keyed by: change a weight and every text is labelled again), `accuracy` (the
figure its own directory records, if any) and `predict_proba(texts)`.
"""

import hashlib
import json
import os

import numpy as np

from albert_tf.artifacts.formats import is_model_dir, is_pretrained_dir
from albert_tf.artifacts.manifest import recorded_path, sha256_file
from albert_tf.contract import CONFIG_FILE, MANIFEST_FILE
from albert_tf.errors import AlbertTfError
from albert_tf.training.distillation.labels_file import (LABELS_FILE_KIND, LABELS_SUFFIX,
                                                        file_rows, read_labels_file)


class Teacher:
    """Interface: `predict_proba(texts, progress=None) -> (n, len(labels)) float32`."""

    kind = "teacher"

    def __init__(self, path, labels, sha256, accuracy=None, original_labels=None):
        self.path = os.fspath(path)
        self.labels = [str(label) for label in labels]
        self.sha256 = sha256
        self.accuracy = accuracy
        # The ids the labels were renamed from, in the same order (a bundled export
        # says negative/positive for its training file's 0/1), or None (also when
        # their count does not match the labels').
        self.original_labels = ([str(label) for label in original_labels]
                                if original_labels and len(original_labels) == len(self.labels)
                                else None)

    def predict_proba(self, texts, progress=None):
        raise NotImplementedError

    def describe(self):
        """What the student's metadata records about its teacher."""
        return {"kind": self.kind, "path": recorded_path(self.path), "sha256": self.sha256,
                "labels": self.labels, "accuracy": self.accuracy}


def _manifest_digest(directory):
    """sha256 of a kit directory's manifest, which pins every file's sha256."""
    return sha256_file(os.path.join(directory, MANIFEST_FILE))


class KitModelTeacher(Teacher):
    """A kit model directory (`albert_tf.load`), run by Keras in float32."""

    kind = "albert_tf_model"

    def __init__(self, path, batch_size=64):
        from albert_tf.artifacts.model_dir import load

        self.model = load(path)
        if self.model.labels.multi_label:
            raise AlbertTfError(f"{path}: a multi-label teacher cannot be distilled (yet)")
        super().__init__(path, self.model.labels.names, _manifest_digest(path),
                         self.model.metadata.get("eval_metrics", {}).get("accuracy"))
        self.batch_size = batch_size

    def predict_proba(self, texts, progress=None):
        probabilities = self.model.predict_proba(list(texts), batch_size=self.batch_size)
        if progress is not None:
            progress(len(texts))
        return probabilities.astype(np.float32)


class ExportTeacher(Teacher):
    """A kit export (directory or `.tflite`), run by the TF-free runtime."""

    kind = "albert_tf_export"

    def __init__(self, path, recipe=None, num_threads=None):
        from albert_tf.runtime import Classifier

        self.classifier = Classifier.load(path, recipe=recipe, num_threads=num_threads)
        bundle = self.classifier.bundle
        accuracy = next((row.get("accuracy") for row in bundle.manifest.get("parity") or []
                         if isinstance(row, dict) and row.get("recipe") == bundle.recipe), None)
        super().__init__(path, self.classifier.labels, sha256_file(bundle.model_path), accuracy,
                         original_labels=bundle.manifest.get("original_labels"))
        self.recipe = bundle.recipe

    def predict_proba(self, texts, progress=None):
        probabilities = self.classifier.predict_proba(list(texts))
        if progress is not None:
            progress(len(texts))
        return np.asarray(probabilities, dtype=np.float32)

    def describe(self):
        return {**super().describe(), "recipe": self.recipe}


class HuggingFaceTeacher(Teacher):
    """A transformers sequence classifier (torch, imported lazily)."""

    kind = "huggingface"

    def __init__(self, path, batch_size=64, bf16="auto", max_length=None):
        from albert_tf.training.distillation.hf_teacher import (HF_WEIGHTS, HFTeacher,
                                                                read_teacher_record,
                                                                resolve_bf16)

        use_bf16 = resolve_bf16(bf16)
        self.model = HFTeacher(path, max_length=max_length, batch_size=batch_size,
                               bf16=use_bf16)
        record = read_teacher_record(path)
        weights = os.path.join(path, HF_WEIGHTS)
        digest = sha256_file(weights) if os.path.isfile(weights) else _tree_digest(path)
        super().__init__(path, self.model.labels, digest,
                         (record.get("eval") or {}).get("accuracy"))
        self.bf16 = use_bf16

    def predict_proba(self, texts, progress=None):
        return self.model.predict_proba(list(texts), progress)

    def token_vectors(self, pieces):
        return self.model.token_vectors(pieces)

    def describe(self):
        return {**super().describe(), "max_length": self.model.max_length, "bf16": self.bf16}


class LabelsFileTeacher(Teacher):
    """A labels file as a teacher: the writer's labels, sha256 and accuracy."""

    kind = LABELS_FILE_KIND

    def __init__(self, path):
        info, self.rows = read_labels_file(path)
        card = info["teacher"]
        super().__init__(path, card["labels"], card["sha256"], card.get("accuracy"))
        self.card = card
        self.file_sha256 = sha256_file(path)
        self.hits = 0  # texts answered from the file

    def predict_proba(self, texts, progress=None):
        probabilities = file_rows(
            self.path, self.rows, texts, len(self.labels), "labels",
            f"label them with the teacher itself (sha256 {self.sha256[:16]}...) or with the "
            "options the file was made with")
        self.hits += len(probabilities)
        if progress is not None:
            progress(len(probabilities))
        return probabilities

    def describe(self):
        """The writing teacher's own card, plus where its labels came from."""
        return {**self.card, "labels_file": {"path": recorded_path(self.path),
                                             "sha256": self.file_sha256,
                                             "rows": len(self.rows)}}


def _label_names(teacher):
    """Each of a teacher's labels with the id it was renamed from, if any."""
    original = getattr(teacher, "original_labels", None) or [None] * len(teacher.labels)
    return [{str(label)} | ({str(renamed)} if renamed is not None else set())
            for label, renamed in zip(teacher.labels, original)]


class EnsembleTeacher(Teacher):
    """Several teachers whose probabilities are averaged: the original distillation
    recipe (Hinton et al. 2015 distilled an ensemble into one model), and the
    cheap way to a stronger teacher when fine-tuning runs of one base differ by a
    point from seed to seed.

    Members must have the same labels (in any order: each member's columns are
    put in the first member's order), matched by name or by the id a label was
    renamed from (a bundled export's "negative" is a labels file's "0"). Each
    member keeps its own label cache (`EnsembleCache`), so adding a member to an
    ensemble labels only with it.
    """

    kind = "ensemble"

    def __init__(self, members):
        members = list(members)
        if len(members) < 2:
            raise AlbertTfError(f"an ensemble needs at least 2 teachers, got {len(members)}")
        first = members[0]
        self.columns = [self._columns(first, member) for member in members]
        digests = [member.sha256 for member in members]
        repeated = sorted({d for d in digests if digests.count(d) > 1})
        if repeated:
            raise AlbertTfError(f"an ensemble teacher is given twice (sha256 {repeated[0][:16]}"
                                "...): each member must be a different model")
        self.members = members
        digest = hashlib.sha256(("ensemble:" + ",".join(digests)).encode()).hexdigest()
        super().__init__(first.path, first.labels, digest, accuracy=None)

    @staticmethod
    def _columns(first, member):
        """For each of `first`'s labels, the column of `member` that is the same
        label (by name or original id); an error unless they pair one to one."""
        names = _label_names(member)
        matches = [[i for i, known in enumerate(names) if wanted & known]
                   for wanted in _label_names(first)]
        columns = [found[0] for found in matches if len(found) == 1]
        if len(first.labels) != len(member.labels) or len(set(columns)) != len(matches):
            raise AlbertTfError(
                f"ensemble teachers disagree on labels: {first.path} has {first.labels}, "
                f"{member.path} has {member.labels}")
        return columns

    def combine(self, member_probabilities):
        """Mean of the members' `(n, C)` probabilities, each put in the ensemble's order."""
        return np.mean([np.asarray(p, np.float32)[:, columns] for p, columns
                        in zip(member_probabilities, self.columns)], axis=0).astype(np.float32)

    def predict_proba(self, texts, progress=None):
        texts = list(texts)
        return self.combine([member.predict_proba(texts) for member in self.members])

    def describe(self):
        return {"kind": self.kind, "sha256": self.sha256, "labels": self.labels,
                "accuracy": None, "members": [member.describe() for member in self.members]}


def _tree_digest(directory):
    """sha256 over every file's name and sha256 (a sharded or .bin checkpoint)."""
    digest = hashlib.sha256()
    for root, _, files in sorted(os.walk(directory)):
        for name in sorted(files):
            path = os.path.join(root, name)
            digest.update(os.path.relpath(path, directory).encode() + sha256_file(path).encode())
    return digest.hexdigest()


def teacher_kind(path):
    """Which teacher `path` is, from its files; a clear error when none fits."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise AlbertTfError(f"{path}: no such teacher (expected a model directory, an export "
                            f"directory, a .tflite file, a {LABELS_SUFFIX} file or a Hugging "
                            "Face directory)")
    if os.path.isfile(path):
        if path.endswith(".tflite"):
            return ExportTeacher.kind
        if path.endswith(LABELS_SUFFIX):
            return LabelsFileTeacher.kind
        raise AlbertTfError(f"{path}: a teacher file must be a .tflite or a {LABELS_SUFFIX}")
    if is_model_dir(path):
        return KitModelTeacher.kind
    if is_pretrained_dir(path):
        raise AlbertTfError(f"{path}: a pretrained directory has no classifier; fine-tune "
                            "it first (albert-tf train --init) to use it as a teacher")
    config_path = os.path.join(path, CONFIG_FILE)
    if os.path.isfile(config_path):
        try:
            with open(config_path, encoding="utf-8") as f:
                config = json.load(f)
        except (OSError, ValueError):
            config = {}
        if isinstance(config, dict) and "model_type" in config:
            return HuggingFaceTeacher.kind
    if any(name.endswith(".tflite") for name in os.listdir(path)):
        return ExportTeacher.kind
    raise AlbertTfError(f"{path}: not a teacher (no kit model, export or Hugging Face "
                        "classifier files in it)")


def load_teacher(path, batch_size=64, recipe=None, bf16="auto"):
    """The teacher at `path` (kind detected from its files); a list of two or
    more paths is an `EnsembleTeacher` of them."""
    if isinstance(path, (list, tuple)):
        if len(path) == 1:
            return load_teacher(path[0], batch_size, recipe, bf16)
        return EnsembleTeacher([load_teacher(p, batch_size, recipe, bf16) for p in path])
    kind = teacher_kind(path)
    if kind == KitModelTeacher.kind:
        return KitModelTeacher(path, batch_size=batch_size)
    if kind == ExportTeacher.kind:
        return ExportTeacher(path, recipe=recipe)
    if kind == LabelsFileTeacher.kind:
        return LabelsFileTeacher(path)
    return HuggingFaceTeacher(path, batch_size=batch_size, bf16=bf16)
