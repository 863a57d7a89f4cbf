"""Find and verify what a classifier needs: model file, tokenizer, labels.

Two kinds of source:

- an export directory written by `albert-tf export` (or one of its
  `.tflite` files): the manifest's sha256 is checked for every file the
  runtime reads, and its labels and vocabulary size are compared with the
  files *before* an interpreter is built;
- a lone MediaPipe `.tflite` file: the tokenizer and labels are read from
  the zip archive appended to it (MediaPipe's metadata convention). Its
  sha256 is checked against a sidecar `FILE.sha256` (`sha256sum` format)
  when there is one; otherwise `verified` says "unverified", and so does
  every info line that shows it.
"""

import dataclasses
import io
import os
import zipfile

from albert_tf.artifacts.manifest import (EMBEDDER_EXPORT_FORMAT, EXPORT_FORMAT, check_kind,
                                          read_manifest, sha256_file, verify_manifest)
from albert_tf.contract import (ADAPTIVE_FILES, ADAPTIVE_PREFIX, LABELS_FILE, MANIFEST_FILE,
                                RECIPE_PREFERENCE, TOKENIZER_DIR, TOKENIZER_MODEL)
from albert_tf.errors import ModelDirError, ModelFileError
from albert_tf.prediction import MULTI_LABEL_THRESHOLD
from albert_tf.text.tokenizer import AlbertTokenizer

__all__ = ["Bundle", "RECIPE_PREFERENCE", "adaptive_file", "available_recipes", "locate",
           "parity_row"]


@dataclasses.dataclass
class Bundle:
    model_path: str
    recipe: str
    tokenizer: AlbertTokenizer
    labels: list
    max_length: int
    manifest: dict  # {} for a lone MediaPipe file
    verified: str = "manifest"  # what its sha256 was checked against, or "unverified"

    @property
    def text_pairs(self):
        """Whether the model reads text pairs (the export's contract says; False for a
        MediaPipe file, which takes one text)."""
        return bool(self.manifest.get("contract", {}).get("text_pairs"))

    @property
    def multi_label(self):
        """Whether the outputs are independent sigmoids (the export's contract says; a
        lone MediaPipe file does not, and is read as single-label)."""
        return bool(self.manifest.get("contract", {}).get("multi_label"))

    @property
    def threshold(self):
        """A multi-label model's decision threshold, from its export (None otherwise)."""
        if not self.multi_label:
            return None
        return self.manifest["contract"].get("threshold") or MULTI_LABEL_THRESHOLD

    @property
    def size_bytes(self):
        return os.path.getsize(self.model_path)

    @property
    def accuracy(self):
        """This file's own accuracy in the export's parity report (None if unmeasured)."""
        return parity_row(self.manifest, os.path.basename(self.model_path)).get("accuracy")


def parity_row(manifest, filename):
    """The export's parity measurements of one file ({} when it has none)."""
    return next((row for row in manifest.get("parity") or []
                 if isinstance(row, dict) and row.get("file") == filename), {})


def available_recipes(manifest):
    """Recipes of the kit's dynamic-shape files: those that passed their parity gate
    first, each group in `RECIPE_PREFERENCE` order, so the default is never a file
    that `albert-tf export` reported as failing while a passing one is there."""
    files = manifest.get("tflite_files", {})
    names = [f[:-len(".tflite")] for f in files if not f.startswith("mediapipe_")]
    return sorted(names, key=lambda n: (bool(parity_row(manifest, f"{n}.tflite").get("failures")),
                                        (RECIPE_PREFERENCE + (n,)).index(n)))


def _read_labels(text, source):
    labels = [line.strip() for line in text.splitlines() if line.strip()]
    if not labels:
        raise ModelFileError(f"{source}: no labels")
    if len(set(labels)) != len(labels):
        raise ModelFileError(f"{source}: duplicate labels in {labels}")
    return labels


def load_export(directory, recipe=None, filename=None, expected_format=EXPORT_FORMAT):
    """A verified `Bundle` from an export directory (a classifier's, or with
    `expected_format=EMBEDDER_EXPORT_FORMAT` an embedder's: no labels)."""
    manifest = read_manifest(directory)
    check_kind(directory, manifest, expected_format)
    needs_labels = expected_format != EMBEDDER_EXPORT_FORMAT
    recipes = available_recipes(manifest)
    if filename is None:
        if recipe is None:
            if not recipes:
                raise ModelDirError(f"{directory}: the manifest lists no .tflite file")
            recipe = recipes[0]
        elif recipe not in recipes:
            raise ModelDirError(f"{directory}: no {recipe!r} model; it has "
                                f"{', '.join(recipes) or 'none'}")
        filename = f"{recipe}.tflite"
    else:
        recipe = manifest.get("tflite_files", {}).get(filename, {}).get("recipe", "unknown")
    # Only the files read here are hashed: a base-size export also holds a
    # SavedModel and other recipes (~150 MB) that would dominate cold start.
    needed = (filename, TOKENIZER_MODEL) + ((LABELS_FILE,) if needs_labels else ())
    verify_manifest(directory, required=needed, only=needed)
    labels = []
    if needs_labels:
        with open(os.path.join(directory, LABELS_FILE), encoding="utf-8") as f:
            labels = _read_labels(f.read(), LABELS_FILE)
    if labels != manifest.get("labels", labels):
        raise ModelDirError(f"{directory}: labels.txt {labels} differs from the manifest's "
                            f"{manifest['labels']}")
    tokenizer = AlbertTokenizer.load(os.path.join(directory, TOKENIZER_DIR))
    if tokenizer.vocab_size != manifest.get("vocab_size", tokenizer.vocab_size):
        raise ModelDirError(f"{directory}: tokenizer has {tokenizer.vocab_size} pieces, the "
                            f"model was exported with {manifest['vocab_size']}")
    # Written by every `albert-tf export`: a manifest without it is not one of ours.
    length_key = "mediapipe_length" if filename.startswith("mediapipe_") else "max_length"
    max_length = manifest.get("contract", {}).get(length_key)
    if not isinstance(max_length, int) or max_length < 1:
        raise ModelDirError(f"{directory}: the manifest's contract has no {length_key}; "
                            "re-export the model with `albert-tf export`")
    return Bundle(os.path.join(directory, filename), recipe, tokenizer, labels, max_length,
                  manifest)


def adaptive_file(bundle):
    """The verified path of the adaptive (early-exit) file of `bundle`'s recipe, or
    one `ModelFileError` line saying why there is none."""
    name = f"{ADAPTIVE_PREFIX}{bundle.recipe}.tflite"
    listed = bundle.manifest.get(ADAPTIVE_FILES) or {}
    if name not in listed:
        why = bundle.manifest.get("adaptive") or (
            f"its adaptive files: {', '.join(sorted(listed))}" if listed else
            "the model has no exit heads (train or distill it with --exit-heads, then export)")
        raise ModelFileError(f"{os.path.dirname(bundle.model_path) or '.'}: no {name} for an "
                             f"exit rule; {why}")
    directory = os.path.dirname(bundle.model_path)
    verify_manifest(directory, required=(name,), only=(name,))
    return os.path.join(directory, name)


SIDECAR_SUFFIX = ".sha256"


def _check_sidecar(path):
    """"sidecar" once the file matches `path.sha256`, "unverified" without one."""
    sidecar = os.fspath(path) + SIDECAR_SUFFIX
    if not os.path.isfile(sidecar):
        return "unverified"
    with open(sidecar, encoding="utf-8", errors="replace") as f:
        expected = (f.read().split() or [""])[0].lower()
    if len(expected) != 64:
        raise ModelFileError(f"{sidecar}: not a sha256 (64 hex digits)")
    if sha256_file(path) != expected:
        raise ModelFileError(f"{path}: does not match its sha256 in {sidecar}: the file is "
                             "damaged or was replaced")
    return "sidecar"


def load_mediapipe_file(path):
    """A `Bundle` from a `.tflite` with MediaPipe metadata (tokenizer and labels inside)."""
    verified = _check_sidecar(path)
    try:
        with open(path, "rb") as f:
            archive = zipfile.ZipFile(io.BytesIO(f.read()))
        names = archive.namelist()
        spiece = next(n for n in names if n.endswith(".model"))
        label_file = next(n for n in names if n.endswith(".txt"))
        tokenizer = AlbertTokenizer(archive.read(spiece))
        labels = _read_labels(archive.read(label_file).decode("utf-8"), f"{path}:{label_file}")
    except (zipfile.BadZipFile, StopIteration, UnicodeDecodeError):
        # A MediaPipe file carries its tokenizer and labels inside it; a
        # plain .tflite (or any other file) needs its export directory.
        raise ModelFileError(
            f"{path}: has no {MANIFEST_FILE} beside it and does not carry its own tokenizer and "
            "labels (as a MediaPipe file does); pass its export directory instead") from None
    return Bundle(os.fspath(path), "mediapipe", tokenizer, labels, None, {}, verified)


def locate(source=None, recipe=None):
    """A `Bundle` for an export directory, one of its files, a MediaPipe file, or a
    bundled model by short name (`albert_tf.bundled.BUNDLED_MODELS`; None: the
    default one, as `pipeline("sentiment-analysis")` picks one)."""
    from albert_tf.bundled import BUNDLED_MODELS, resolve

    source = os.fspath(resolve(source))
    if os.path.isdir(source):
        return load_export(source, recipe)
    if not os.path.isfile(source):
        raise ModelFileError(f"{source}: no such file or directory, and not a bundled model "
                             f"({', '.join(BUNDLED_MODELS)})")
    directory, filename = os.path.split(os.path.abspath(source))
    if os.path.isfile(os.path.join(directory, MANIFEST_FILE)):
        if recipe is not None:
            raise ModelFileError("pass either a .tflite file or a recipe, not both")
        return load_export(directory, filename=filename)
    return load_mediapipe_file(source)
