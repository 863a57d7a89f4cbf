"""A teacher's soft labels in one small file that travels without the teacher.

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
    path = os.fspath(path)
    if not path.endswith(LABELS_SUFFIX):
        raise AlbertTfError(f"{path}: a labels file's name must end in {LABELS_SUFFIX}")
    probabilities = np.asarray(probabilities, np.float32)
    if probabilities.shape != (len(texts), len(card["labels"])):
        raise AlbertTfError(f"probabilities of shape {probabilities.shape} for {len(texts)} "
                            f"texts and {len(card['labels'])} labels")
    rows = {}
    for text, row in zip(texts, probabilities):
        digest = short_digest(text)
        if digest in rows and not np.allclose(rows[digest], row, atol=1e-3):
            raise AlbertTfError("two texts share a digest but not their labels; "
                                f"a {DIGEST_BYTES}-byte collision is not expected")
        rows[digest] = row
    digests = np.frombuffer(b"".join(rows), np.uint8).reshape(-1, DIGEST_BYTES)
    info = {"format": LABELS_FORMAT, "teacher": card, "rows": len(rows),
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
    path = os.fspath(path)
    try:
        with np.load(path) as data:
            info = json.loads(bytes(data["info"]).decode("utf-8"))
            digests, probabilities = data["digests"], data["probabilities"]
    except (OSError, ValueError, KeyError, EOFError) as error:
        raise AlbertTfError(f"{path}: not a readable labels file ({error})") from None
    if info.get("format") != LABELS_FORMAT:
        raise AlbertTfError(f"{path}: labels format {info.get('format')!r}, this kit reads "
                            f"{LABELS_FORMAT!r}")
    labels = info["teacher"]["labels"]
    if probabilities.shape != (len(digests), len(labels)):
        raise AlbertTfError(f"{path}: {probabilities.shape} probabilities for {len(digests)} "
                            f"texts and {len(labels)} labels")
    rows = probabilities.astype(np.float32)
    rows /= rows.sum(-1, keepdims=True)  # float16 rounding: make each row sum to 1 again
    return info, {bytes(d): row for d, row in zip(digests, rows)}
