"""A sentence-transformers model as an embedding teacher: texts -> sentence vectors.

A sentence-transformers directory is a Hugging Face encoder plus a list of
modules (`modules.json`): the transformer, a pooling step (`1_Pooling/
config.json`: mean, CLS, max or mean-sqrt-len over the tokens) and often a
`Normalize` step. The teacher's vectors are what those modules compute, so
we read the same files and apply the same steps; `sentence-transformers`
itself is not needed (its `encode` here ran at 17 sentences/s with bf16
autocast on two Zen 5 cores where this loop, batches sorted by length and
padded to a multiple of 8, runs several times faster; tests check the
vectors against `SentenceTransformer.encode` when it is installed).

A teacher is named by its directory or by a packaged base (`"mpnet"`,
`"minilm"`: `packaged_bases.unpack_base` joins and verifies it first).
Anything the kit cannot reproduce (a Dense module, an unknown pooling mode)
is refused in one line before any text is encoded.

```python
teacher = SentenceTeacher("mpnet")          # all-mpnet-base-v2, sha256-checked
vectors = teacher.encode(["a gripping, funny film", "an entertaining movie"])
float(vectors[0] @ vectors[1])              # cosine: the vectors are normalised
```
"""

import json
import os

import numpy as np

from albert_tf.artifacts.manifest import recorded_path, sha256_file
from albert_tf.errors import AlbertTfError
from albert_tf.training.distillation.hf_teacher import (HF_WEIGHTS, import_torch_transformers,
                                                        padded_batches)
from albert_tf.training.distillation.labels_file import (VECTORS_FILE_KIND, VECTORS_SUFFIX,
                                                        file_rows, read_vectors_file)
from albert_tf.training.distillation.packaged_bases import PACKAGED_BASES, unpack_base

MODULES_FILE = "modules.json"
SENTENCE_TEACHER_KIND = "sentence_transformers"
ST_MODULE = "sentence_transformers.models."
POOLING_MODES = ("cls_token", "mean_tokens", "max_tokens", "mean_sqrt_len_tokens")
# Longer than any sentence of a transfer set; the student truncates at its own length.
DEFAULT_TEACHER_LENGTH = 128


def is_sentence_transformers_dir(path):
    return os.path.isfile(os.path.join(os.fspath(path), MODULES_FILE))


def read_modules(path):
    """`(pooling_mode, normalize)` from a sentence-transformers directory's files."""
    try:
        with open(os.path.join(path, MODULES_FILE), encoding="utf-8") as f:
            modules = json.load(f)
    except (OSError, ValueError) as error:
        raise AlbertTfError(f"{path}: unreadable {MODULES_FILE} ({error})") from None
    types = [str(m.get("type", "")).replace(ST_MODULE, "") for m in modules]
    unknown = [t for t in types if t not in ("Transformer", "Pooling", "Normalize")]
    if unknown or types[:2] != ["Transformer", "Pooling"]:
        raise AlbertTfError(f"{path}: modules {types}; an embedding teacher must be "
                            "Transformer, Pooling and optionally Normalize")
    pooling_dir = os.path.join(path, modules[1].get("path") or "1_Pooling")
    try:
        with open(os.path.join(pooling_dir, "config.json"), encoding="utf-8") as f:
            pooling = json.load(f)
    except (OSError, ValueError) as error:
        raise AlbertTfError(f"{pooling_dir}: unreadable pooling config ({error})") from None
    modes = [m for m in POOLING_MODES if pooling.get(f"pooling_mode_{m}")]
    if len(modes) != 1:
        raise AlbertTfError(f"{pooling_dir}: pooling modes {modes or 'none'}; exactly one of "
                            f"{', '.join(POOLING_MODES)} is supported")
    return modes[0], "Normalize" in types


def resolve_teacher_path(name_or_path, cache_dir=None):
    """A directory for a path, or the unpacked, verified packaged base for a base name."""
    name_or_path = os.fspath(name_or_path)
    if not os.path.exists(name_or_path) and name_or_path in PACKAGED_BASES:
        return unpack_base(name_or_path, cache_dir)[0]
    if not is_sentence_transformers_dir(name_or_path):
        raise AlbertTfError(f"{name_or_path}: not a sentence-transformers directory (no "
                            f"{MODULES_FILE}) nor a packaged base "
                            f"({', '.join(PACKAGED_BASES)})")
    return name_or_path


def pool(hidden, mask, mode):
    """Sentence vectors from token vectors `(n, t, d)` and the attention mask `(n, t)`."""
    mask = mask[..., None].astype(hidden.dtype)
    if mode == "cls_token":
        return hidden[:, 0]
    if mode == "max_tokens":
        return np.where(mask > 0, hidden, -1e9).max(axis=1)
    total, count = (hidden * mask).sum(axis=1), np.maximum(mask.sum(axis=1), 1e-9)
    return total / (np.sqrt(count) if mode == "mean_sqrt_len_tokens" else count)


class SentenceTeacher:
    """`encode(texts) -> (n, dim) float32`, as the directory's modules define it.

    `sha256` is the weights file's (the key of the vector cache), `dim` the
    vector width, `normalize` whether vectors have unit length.
    """

    kind = SENTENCE_TEACHER_KIND

    def __init__(self, path, max_length=None, batch_size=64, bf16=False, num_threads=None,
                 cache_dir=None):
        torch, transformers = import_torch_transformers()
        self.name = os.fspath(path)
        self.path = resolve_teacher_path(path, cache_dir)
        self.pooling, self.normalize = read_modules(self.path)
        weights = os.path.join(self.path, HF_WEIGHTS)
        if not os.path.isfile(weights):
            raise AlbertTfError(f"{self.path}: no {HF_WEIGHTS}")
        if num_threads:
            torch.set_num_threads(int(num_threads))
        self.sha256 = sha256_file(weights)
        self.tokenizer = transformers.AutoTokenizer.from_pretrained(self.path)
        self.model = transformers.AutoModel.from_pretrained(self.path).eval()
        self.dim = int(self.model.config.hidden_size)
        self.max_length = int(max_length or DEFAULT_TEACHER_LENGTH)
        self.batch_size = int(batch_size)
        self.bf16 = bool(bf16)
        self._torch = torch

    def encode(self, texts, progress=None):
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for rows, batch in padded_batches(self._torch, self.tokenizer, texts, self.max_length,
                                          self.batch_size, self.bf16):
            hidden = self.model(**batch).last_hidden_state.float().numpy()
            out[rows] = pool(hidden, batch["attention_mask"].numpy(), self.pooling)
            if progress is not None:
                progress(len(rows))
        if self.normalize:
            out /= np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)
        return out

    def describe(self):
        return {"kind": self.kind, "name": self.name, "path": recorded_path(self.path),
                "sha256": self.sha256, "dim": self.dim, "pooling": self.pooling,
                "normalize": self.normalize, "max_length": self.max_length,
                "bf16": self.bf16}


class VectorsFileTeacher:
    """A vectors file (`albert-tf label --task embedding`) as an embedding teacher:
    the writer's card, sha256 and width; a text the file lacks is an error naming
    how many are missing, never a guess. Needs neither torch nor the teacher."""

    kind = VECTORS_FILE_KIND

    def __init__(self, path):
        self.path = os.fspath(path)
        info, self.rows = read_vectors_file(self.path)
        self.card = info["teacher"]
        self.sha256 = self.card["sha256"]
        self.dim = int(self.card["dim"])
        self.file_sha256 = sha256_file(self.path)
        self.hits = 0

    def encode(self, texts, progress=None):
        vectors = file_rows(self.path, self.rows, texts, self.dim, "vectors",
                            "encode them with the teacher itself or build the corpus with "
                            "the options the file was made with")
        self.hits += len(vectors)
        if progress is not None:
            progress(len(vectors))
        return vectors

    def describe(self):
        return {**self.card, "vectors_file": {"path": recorded_path(self.path),
                                              "sha256": self.file_sha256,
                                              "rows": len(self.rows)}}


def load_sentence_teacher(teacher, batch_size=64, bf16=False, cache_dir=None):
    """A vectors file, a sentence-transformers directory or a packaged base name."""
    teacher = os.fspath(teacher)
    if teacher.endswith(VECTORS_SUFFIX):
        return VectorsFileTeacher(teacher)
    return SentenceTeacher(teacher, batch_size=batch_size, bf16=bf16, cache_dir=cache_dir)
