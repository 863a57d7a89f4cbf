"""Teacher outputs, computed once and kept on disk.

Labelling 500k sentences with a 22M-parameter teacher is the most expensive
step of a distillation on a CPU, so it is never done twice. The cache is a
directory per teacher (named by the teacher's sha256) holding parts; each part
is an `.npz` of text digests (sha256 of the UTF-8 text) and probabilities,
written to a temporary name and renamed, so an interrupted run loses at most
the part it was writing and a repeated run labels nothing at all.

```python
cache = open_cache("runs/student.teacher-cache", teacher)
probabilities = cache.probabilities(texts)   # only unseen texts reach the teacher
```
"""

import hashlib
import json
import os

import numpy as np

from albert_tf.errors import AlbertTfError
from albert_tf.training.distillation.labels_file import (LABELS_FILE_KIND, VECTORS_FILE_KIND,
                                                        text_digest)

PART_SIZE = 8192
# Teachers that are files of outputs already: nothing to cache.
FILE_TEACHER_KINDS = (LABELS_FILE_KIND, VECTORS_FILE_KIND)


def texts_digest(texts):
    """sha256 of a list of texts (order included): the transfer set's fingerprint."""
    digest = hashlib.sha256()
    for text in texts:
        digest.update(text_digest(text))
    return digest.hexdigest()


def output_width(teacher):
    """Columns of a teacher's output: its vector width, else its number of labels."""
    return int(teacher.dim) if hasattr(teacher, "encode") else len(teacher.labels)


class TeacherCache:
    """Outputs of one teacher, keyed by text; `probabilities(texts)` fills gaps.

    A classifier teacher's outputs are probabilities (`predict_proba`); an
    embedding teacher's (one with `encode` and `dim`) are its sentence vectors,
    which `vectors(texts)` returns.
    """

    def __init__(self, directory, teacher, part_size=PART_SIZE):
        self.directory = os.path.join(os.fspath(directory), teacher.sha256)
        self.teacher = teacher
        self.part_size = part_size
        self.teacher_calls = 0  # texts sent to the teacher by this object
        self.file_hits = 0  # texts answered by a labels file (see FileLabels)
        self.width = output_width(teacher)
        os.makedirs(self.directory, exist_ok=True)
        self._write_info()
        self._known = self._read_parts()

    def _write_info(self):
        path = os.path.join(self.directory, "teacher.json")
        if not os.path.exists(path):
            tmp = path + ".tmp"
            with open(tmp, "w", encoding="utf-8") as f:
                json.dump(self.teacher.describe(), f, indent=2)
            os.replace(tmp, path)

    def _parts(self):
        return sorted(name for name in os.listdir(self.directory)
                      if name.startswith("part-") and name.endswith(".npz"))

    def _read_parts(self):
        known = {}
        for name in self._parts():
            try:
                with np.load(os.path.join(self.directory, name)) as part:
                    digests, probabilities = part["digests"], part["probabilities"]
            except (OSError, ValueError, KeyError) as error:
                raise AlbertTfError(f"{self.directory}/{name}: unreadable teacher cache part "
                                    f"({error}); delete it to label those texts again") from None
            if probabilities.shape[1:] != (self.width,):
                raise AlbertTfError(f"{self.directory}/{name}: holds {probabilities.shape[1]} "
                                    f"columns, the teacher gives {self.width}")
            for digest, row in zip(digests, probabilities):
                known[bytes(digest)] = row
        return known

    def __len__(self):
        return len(self._known)

    def _save_part(self, digests, probabilities):
        number = len(self._parts())
        path = os.path.join(self.directory, f"part-{number:05d}.npz")
        tmp = path[:-4] + ".tmp.npz"
        np.savez(tmp, digests=np.frombuffer(b"".join(digests), np.uint8).reshape(-1, 32),
                 probabilities=probabilities.astype(np.float32))
        os.replace(tmp, path)

    def probabilities(self, texts, progress=True):
        """`(n, num_labels)` float32 for `texts`, labelling only the unseen ones."""
        digests = [text_digest(t) for t in texts]
        missing, seen = [], set()
        for i, digest in enumerate(digests):
            if digest not in self._known and digest not in seen:
                seen.add(digest)
                missing.append(i)
        if missing:
            self._label(texts, digests, missing, progress)
        return np.stack([self._known[d] for d in digests]).astype(np.float32)

    vectors = probabilities  # an embedding teacher's outputs are its sentence vectors

    def _label(self, texts, digests, missing, progress):
        embedding = hasattr(self.teacher, "encode")
        compute = self.teacher.encode if embedding else self.teacher.predict_proba
        what = "vectors" if embedding else "labels"
        bar = progress_bar(len(missing), f"teacher {what} ({self.teacher.kind})", progress)
        try:
            for start in range(0, len(missing), self.part_size):
                rows = missing[start:start + self.part_size]
                probabilities = np.asarray(compute(
                    [texts[i] for i in rows], progress=bar.update if bar else None))
                self.teacher_calls += len(rows)
                if embedding:
                    _check_vectors(probabilities, len(rows), self.width)
                else:
                    _check_probabilities(probabilities, len(rows), self.width)
                part_digests = [digests[i] for i in rows]
                self._save_part(part_digests, probabilities)
                self._known.update(zip(part_digests, probabilities))
        finally:
            if bar:
                bar.close()


class EnsembleCache:
    """An `EnsembleTeacher`'s probabilities from one `TeacherCache` per member.

    Each member's labels live under its own sha256, as if it were distilled
    alone: a run with teachers A and B reuses the labels of an earlier run with
    A, and only B labels the transfer set.
    """

    def __init__(self, directory, teacher, part_size=PART_SIZE):
        self.directory = os.fspath(directory)
        self.teacher = teacher
        self.members = [open_cache(directory, member, part_size) for member in teacher.members]

    @property
    def teacher_calls(self):
        return sum(cache.teacher_calls for cache in self.members)

    @property
    def file_hits(self):
        return sum(cache.file_hits for cache in self.members)

    def probabilities(self, texts, progress=True):
        return self.teacher.combine([cache.probabilities(texts, progress)
                                     for cache in self.members])


class FileLabels:
    """A labels-file teacher needs no cache: it is one. Nothing is written, and
    every text answered counts in `file_hits`, none in `teacher_calls`."""

    def __init__(self, teacher):
        self.teacher = teacher
        self.directory = teacher.path
        self.teacher_calls = 0

    @property
    def file_hits(self):
        return self.teacher.hits

    def probabilities(self, texts, progress=True):
        if hasattr(self.teacher, "encode"):
            return self.teacher.encode(texts)
        return self.teacher.predict_proba(texts)

    vectors = probabilities


def open_cache(directory, teacher, part_size=PART_SIZE):
    """The cache for `teacher`: per member for an ensemble (`members`), the file
    itself for a labels file, else one directory."""
    if getattr(teacher, "members", None):
        return EnsembleCache(directory, teacher, part_size)
    if teacher.kind in FILE_TEACHER_KINDS:
        return FileLabels(teacher)
    return TeacherCache(directory, teacher, part_size)


def _check_probabilities(probabilities, rows, classes):
    if probabilities.shape != (rows, classes):
        raise AlbertTfError(f"the teacher returned shape {probabilities.shape} for {rows} "
                            f"texts and {classes} labels")
    if not np.isfinite(probabilities).all() or (probabilities < 0).any():
        raise AlbertTfError("the teacher returned non-finite or negative probabilities")
    if not np.allclose(probabilities.sum(-1), 1.0, atol=1e-3):
        raise AlbertTfError("the teacher's probabilities do not sum to 1 (multi-label "
                            "teachers are not supported)")


def _check_vectors(vectors, rows, width):
    if vectors.shape != (rows, width):
        raise AlbertTfError(f"the teacher returned shape {vectors.shape} for {rows} texts "
                            f"and {width}-wide vectors")
    if not np.isfinite(vectors).all():
        raise AlbertTfError("the teacher returned non-finite vectors")


def progress_bar(total, description, enabled):
    """tqdm on stderr when installed (it is with transformers), else Keras' Progbar."""
    if not enabled:
        return None
    import sys

    try:
        from tqdm.auto import tqdm
    except ImportError:
        return _KerasBar(total, description)
    return tqdm(total=total, desc=description, unit="text", file=sys.stderr, mininterval=2.0)


class _KerasBar:
    def __init__(self, total, description):
        import keras

        print(description, file=__import__("sys").stderr)
        self.bar, self.done = keras.utils.Progbar(total, unit_name="text"), 0

    def update(self, count):
        self.done += count
        self.bar.update(self.done)

    def close(self):
        pass
