"""Self-describing artifact directories: a manifest with a sha256 per file.

Every directory the kit writes (model, tokenizer, export) ends with a
`metadata.json` listing each file's sha256 and size. Readers call
`verify_manifest` first and refuse a tampered or incomplete directory
before deserializing anything. Keras-free, for the runtime too.
"""

import datetime
import hashlib
import json
import os
import platform
import shutil
import tempfile

from albert_tf.contract import MANIFEST_FILE
from albert_tf.errors import ModelDirError


# The kinds of directory the kit writes, by their manifest's `format`, and
# what writes each: a reader handed the wrong kind names what it got.
MODEL_FORMAT = "albert_tf.classifier/1"
PRETRAINED_FORMAT = "albert_tf.pretrained/1"
EXPORT_FORMAT = "albert_tf.export/1"
HF_TEACHER_FORMAT = "albert_tf.hf_teacher/1"
EMBEDDER_FORMAT = "albert_tf.embedder/1"
EMBEDDER_EXPORT_FORMAT = "albert_tf.embedder_export/1"
DIRECTORY_KINDS = {
    MODEL_FORMAT: "a model directory (from `albert-tf train`, `distill` or `quickstart`)",
    PRETRAINED_FORMAT: "a pretrained directory (from `albert-tf import` or `pretrain`)",
    EXPORT_FORMAT: "an export directory (from `albert-tf export`)",
    HF_TEACHER_FORMAT: "a Hugging Face teacher directory (from `albert-tf teacher`)",
    EMBEDDER_FORMAT: "a sentence-embedder directory (from `albert-tf distill --task embedding`)",
    EMBEDDER_EXPORT_FORMAT: "a sentence-embedder export (from `albert-tf export` on an embedder)",
}


# What a model directory's metadata says about how it was made, beyond its
# training config: kept by `albert-tf export` and by an average of models.
DISTILLATION = "distillation"    # teacher, transfer set, T, alpha (albert-tf distill)
AVERAGED_FROM = "averaged_from"  # the sources of a weight average (albert-tf average)
PROVENANCE_KEYS = (DISTILLATION, AVERAGED_FROM)


def check_kind(directory, manifest, expected):
    """`ModelDirError` unless the manifest's format is `expected`, naming both kinds."""
    found = manifest.get("format")
    if found != expected:
        got = DIRECTORY_KINDS.get(found, f"a directory of format {found!r}")
        raise ModelDirError(f"{directory} is {got}; expected {DIRECTORY_KINDS[expected]}")


def sha256_file(path, chunk=1 << 20):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(chunk), b""):
            digest.update(block)
    return digest.hexdigest()


def list_files(directory):
    """Relative POSIX paths of every file under `directory`, except the manifest."""
    found = []
    for root, _, files in os.walk(directory):
        for name in files:
            relative = os.path.relpath(os.path.join(root, name), directory)
            if relative != MANIFEST_FILE:
                found.append(relative.replace(os.sep, "/"))
    return sorted(found)


def package_versions(*names):
    from importlib import metadata

    versions = {"python": platform.python_version()}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return versions


def write_manifest(directory, **fields):
    """Hash every file in `directory` and write `metadata.json` beside them."""
    manifest = {
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        **fields,
        "files": {
            name: {"sha256": sha256_file(os.path.join(directory, name)),
                   "bytes": os.path.getsize(os.path.join(directory, name))}
            for name in list_files(directory)
        },
    }
    with open(os.path.join(directory, MANIFEST_FILE), "w", encoding="utf-8") as f:
        json.dump(manifest, f, indent=2, sort_keys=False)
        f.write("\n")
    return manifest


def read_manifest(directory):
    path = os.path.join(directory, MANIFEST_FILE)
    if not os.path.isdir(directory):
        raise ModelDirError(f"{directory}: not a directory")
    if not os.path.isfile(path):
        raise ModelDirError(f"{directory}: no {MANIFEST_FILE}; not a directory written by "
                            "albert_tf")
    try:
        with open(path, encoding="utf-8") as f:
            manifest = json.load(f)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ModelDirError(f"{path}: unreadable manifest: {error}") from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("files"), dict):
        raise ModelDirError(f"{path}: manifest has no 'files' table")
    return manifest


def verify_manifest(directory, required=(), only=None, expected_format=None):
    """Check the directory's kind (`expected_format`), then presence and sha256
    of every listed file; return the manifest.

    `required` files must be listed too, so deleting a file *and* its
    manifest entry is caught as well. `only` restricts the hashing to the
    files a reader will actually open.
    """
    manifest = read_manifest(directory)
    if expected_format is not None:
        check_kind(directory, manifest, expected_format)
    files = manifest["files"]
    for name in required:
        if name not in files:
            raise ModelDirError(f"{directory}: incomplete, the manifest does not list {name}")
    root = os.path.realpath(directory)
    for name, entry in files.items():
        if only is not None and name not in only:
            continue
        path = os.path.realpath(os.path.join(directory, name))
        if os.path.commonpath([root, path]) != root:
            raise ModelDirError(f"{directory}: manifest entry {name!r} points outside it")
        if not os.path.isfile(path):
            raise ModelDirError(f"{directory}: incomplete, {name} is missing")
        if sha256_file(path) != entry.get("sha256"):
            raise ModelDirError(
                f"{directory}: {name} does not match its sha256 in {MANIFEST_FILE} "
                "(modified or corrupted); re-create the directory")
    return manifest


def _umask():
    # Linux reports it; elsewhere the only way to read it is to set it (for
    # an instant, which another thread creating a file could observe).
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            return next(int(line.split()[1], 8) for line in f if line.startswith("Umask:"))
    except (OSError, StopIteration, ValueError, IndexError):
        mask = os.umask(0o022)
        os.umask(mask)
        return mask


def recorded_path(path):
    """A path as metadata records it: relative to the working directory (the
    project) when it is inside it, else as given when relative, else its last
    two components. Never the building machine's absolute layout: records travel
    (a bundled model's metadata ships to every user), and hashes identify the
    files anyway."""
    path = os.fspath(path)
    absolute = os.path.abspath(path)
    cwd = os.getcwd()
    if absolute == cwd or absolute.startswith(cwd.rstrip(os.sep) + os.sep):
        return os.path.relpath(absolute, cwd)
    if not os.path.isabs(path):
        return path
    parts = absolute.rstrip(os.sep).split(os.sep)
    return os.path.join(*parts[-2:]) if len(parts) > 2 else absolute


def check_output_dir(target, overwrite=False, error=ModelDirError):
    """Refuse, before any work, to write to a non-empty `target` unless `overwrite`."""
    if os.path.exists(target) and not overwrite and (
            not os.path.isdir(target) or os.listdir(target)):
        raise error(f"{target} exists and is not empty; pass overwrite=True / --overwrite")


class AtomicDirectory:
    """Build a directory in a temporary sibling and move it into place at the end.

    A crash or error half way leaves the previous directory (if any)
    untouched and no half-written one behind.

    ```python
    with AtomicDirectory("runs/model", overwrite=True) as tmp:
        write_files(tmp)
    ```
    """

    def __init__(self, target, overwrite=False):
        check_output_dir(target, overwrite)
        self.target = os.path.abspath(target)

    def __enter__(self):
        parent = os.path.dirname(self.target)
        try:
            os.makedirs(parent, exist_ok=True)
            self.tmp = tempfile.mkdtemp(prefix=".tmp-" + os.path.basename(self.target),
                                        dir=parent)
        except OSError as error:
            raise _write_error(self.target, error) from None
        # mkdtemp makes it 0700; the finished directory gets the mode any new
        # directory would (0777 less the umask), so other users and
        # containers can read it.
        os.chmod(self.tmp, 0o777 & ~_umask())
        return self.tmp

    def __exit__(self, kind, error, traceback):
        if kind is not None:
            shutil.rmtree(self.tmp, ignore_errors=True)
            if issubclass(kind, OSError) and not isinstance(error, ModelDirError):
                raise _write_error(self.target, error) from None
            return False
        kill_point("before_rename")
        old = None
        if os.path.exists(self.target):
            old = self.target + ".old"
            shutil.rmtree(old, ignore_errors=True)
            os.rename(self.target, old)
        # Killed here, the path holds nothing (the previous directory is at .old).
        kill_point("between_renames")
        os.rename(self.tmp, self.target)
        if old:
            shutil.rmtree(old, ignore_errors=True)
        return False


def _write_error(target, error):
    """A full disk, a read-only or forbidden location: one line, not a traceback."""
    reason = error.strerror or type(error).__name__
    return ModelDirError(f"{target}: cannot write it ({reason}); nothing was left there")


# Fault injection (tests/test_faults.py, benchmarks/kill_writes.py): with
# ALBERT_TF_KILL_AT=<point>, the process sends itself SIGKILL at that point:
# a real signal at a known moment, where a timer would land anywhere.
KILL_POINTS = ("before_rename", "between_renames")


def kill_point(name):
    if os.environ.get("ALBERT_TF_KILL_AT") == name:
        import signal

        os.kill(os.getpid(), signal.SIGKILL)
