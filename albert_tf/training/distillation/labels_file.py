"""A teacher's soft labels (or sentence vectors) in one file that travels without it.

The expensive product of a teacher is its labels, not its weights: a 110M-
parameter MPNet takes an hour of two CPU cores to label 300k sentences, and
its 438 MB do not fit in a repository. A labels file holds, for every text a
distillation needs (its transfer set and eval file):

- `digests`: the first `DIGEST_BYTES` bytes of the text's sha256 (uint8 rows);
- `probabilities`: float16 rows in the teacher's label order;
- `info`: JSON with the teacher's own description (kind, sha256, labels,
  accuracy), the row count and this format's version.

Eight bytes of sha256 keep the chance of any two of a million texts colliding
under 3e-8; float16 keeps three significant digits of every probability,
small ones included (they are stored, not derived as 1 - p), which is more
than a temperature-2 soft label needs. 266k texts took 2.66 MB.

`teachers.LabelsFileTeacher` reads such a file as a teacher: same labels, same sha256
as the model that wrote it, so a student distilled from the file records the
same teacher, and a text the file lacks is an error naming how many are
missing rather than a silent guess.

```python
write_labels_file("teacher_labels/sst2-mpnet.labels.npz", teacher.describe(), texts, probs)
teacher = LabelsFileTeacher("teacher_labels/sst2-mpnet.labels.npz")
teacher.predict_proba(["a gorgeous, witty film"])
```
"""

import hashlib
import io
import json
import os

import numpy as np

from albert_tf.artifacts.manifest import sha256_file
from albert_tf.errors import AlbertTfError

LABELS_SUFFIX = ".labels.npz"
LABELS_FORMAT = "albert_tf.teacher_labels/1"
LABELS_FILE_KIND = "labels_file"  # the teacher kind such a file is
# An embedding teacher's sentence vectors, in the same layout (`write_vectors_file`).
VECTORS_SUFFIX = ".vectors.npz"
VECTORS_FORMAT = "albert_tf.teacher_vectors/1"
VECTORS_FILE_KIND = "vectors_file"  # the teacher kind such a file is
DIGEST_BYTES = 8


def text_digest(text):
    """sha256 of a text's UTF-8: the key of every teacher label, cached or portable."""
    return hashlib.sha256(text.encode("utf-8")).digest()


def short_digest(text):
    return text_digest(text)[:DIGEST_BYTES]


def write_labels_file(path, card, texts, probabilities):
    """Write `texts`' probabilities (each distinct text once) with the teacher's `card`
    (`Teacher.describe()`: its kind, sha256, labels and accuracy).

    Compressed, written to a temporary name and renamed. Returns the file's sha256.
    """
    return write_rows_file(path, LABELS_SUFFIX, LABELS_FORMAT, card, texts, probabilities,
                           len(card["labels"]), "labels")


def write_vectors_file(path, card, texts, vectors):
    """Write an embedding teacher's vectors of `texts` with its `card`
    (`SentenceTeacher.describe()`: kind, sha256, dim, pooling). float16, as
    labels are: a cosine between float16 and float32 unit vectors differs by
    under 1e-3, far below what a student's own error is."""
    return write_rows_file(path, VECTORS_SUFFIX, VECTORS_FORMAT, card, texts, vectors,
                           int(card["dim"]), "vectors")


def write_rows_file(path, suffix, file_format, card, texts, rows_in, width, what):
    """The one writer of labels and vectors files: digests, float16 rows, info."""
    path = os.fspath(path)
    if not path.endswith(suffix):
        raise AlbertTfError(f"{path}: a {what} file's name must end in {suffix}")
    rows_in = np.asarray(rows_in, np.float32)
    if rows_in.shape != (len(texts), width):
        raise AlbertTfError(f"{what} of shape {rows_in.shape} for {len(texts)} texts and "
                            f"width {width}")
    rows = {}
    for text, row in zip(texts, rows_in):
        digest = short_digest(text)
        if digest in rows and not np.allclose(rows[digest], row, atol=1e-3):
            raise AlbertTfError(f"two texts share a digest but not their {what}; "
                                f"a {DIGEST_BYTES}-byte collision is not expected")
        rows[digest] = row
    digests = np.frombuffer(b"".join(rows), np.uint8).reshape(-1, DIGEST_BYTES)
    info = {"format": file_format, "teacher": card, "rows": len(rows),
            "digest_bytes": DIGEST_BYTES}
    buffer = io.BytesIO()
    np.savez_compressed(buffer, digests=digests,
                        probabilities=np.stack(list(rows.values())).astype(np.float16),
                        info=np.frombuffer(json.dumps(info).encode("utf-8"), np.uint8))
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(buffer.getvalue())
    os.replace(tmp, path)
    return sha256_file(path)


def read_labels_file(path):
    """`(info, {digest: float32 row})`; a clear error for anything else."""
    info, digests, probabilities = read_rows_file(path, LABELS_FORMAT, "labels")
    labels = info["teacher"]["labels"]
    if probabilities.shape != (len(digests), len(labels)):
        raise AlbertTfError(f"{path}: {probabilities.shape} probabilities for {len(digests)} "
                            f"texts and {len(labels)} labels")
    rows = probabilities.astype(np.float32)
    rows /= rows.sum(-1, keepdims=True)  # float16 rounding: make each row sum to 1 again
    return info, {bytes(d): row for d, row in zip(digests, rows)}


def read_vectors_file(path):
    """`(info, {digest: float32 vector})`; a clear error for anything else."""
    info, digests, vectors = read_rows_file(path, VECTORS_FORMAT, "vectors")
    if vectors.shape != (len(digests), int(info["teacher"]["dim"])):
        raise AlbertTfError(f"{path}: {vectors.shape} vectors for {len(digests)} texts of "
                            f"width {info['teacher']['dim']}")
    return info, {bytes(d): row for d, row in zip(digests, vectors.astype(np.float32))}


def read_rows_file(path, file_format, what):
    path = os.fspath(path)
    try:
        with np.load(path) as data:
            info = json.loads(bytes(data["info"]).decode("utf-8"))
            digests, rows = data["digests"], data["probabilities"]
    except (OSError, ValueError, KeyError, EOFError) as error:
        raise AlbertTfError(f"{path}: not a readable {what} file ({error})") from None
    if info.get("format") != file_format:
        raise AlbertTfError(f"{path}: {what} format {info.get('format')!r}, this kit reads "
                            f"{file_format!r}")
    return info, digests, rows


def file_rows(path, rows, texts, width, what, hint):
    """`(n, width)` float32 rows of a labels or vectors file for `texts`; a text the
    file lacks is an error naming how many are missing (and `hint`), never a guess."""
    texts = list(texts)
    digests = [short_digest(text) for text in texts]
    missing = [text for text, d in zip(texts, digests) if d not in rows]
    if missing:
        raise AlbertTfError(f"{path}: {len(missing)} of {len(texts)} texts are not in this "
                            f"{what} file (first: {missing[0][:60]!r}); {hint}")
    return (np.stack([rows[d] for d in digests]) if texts
            else np.zeros((0, width), np.float32))
