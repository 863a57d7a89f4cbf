"""Every Python block of the README runs as written, in order, on the data the kit ships.

The blocks are run in one fresh working directory, each in its own process (as a
user pastes them); the one step the README gives as a shell command between
them (`albert-tf export` of the trained model) is done here through the API.
"""

import os
import re
import subprocess
import sys

import pytest

pytest.importorskip("tensorflow_text", reason="the export block needs `pip install -e .[export]`")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXPORT_STEP = """
from albert_tf.export import export_model
from albert_tf.bundled import MOVIE_REVIEWS_DEV
export_model(model_dir="runs/m", out="runs/sst2-export", recipes=["dynamic_int8"],
             mediapipe_recipes=(), eval=MOVIE_REVIEWS_DEV)
"""


# Extras kept out of `dev` (Beam pins protobuf < 7, which breaks transformers'
# SentencePiece loading): their README blocks run where they are installed.
OUTSIDE_DEV = ("apache_beam",)


def missing_outside_dev(block):
    import importlib.util

    return [m for m in OUTSIDE_DEV
            if re.search(rf"^\s*(import|from) {m}\b", block, flags=re.M)
            and importlib.util.find_spec(m) is None]


def python_blocks():
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as f:
        return re.findall(r"```python\n(.*?)```", f.read(), flags=re.S)


def run(code, cwd):
    return subprocess.run([sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True,
                          timeout=900, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3",
                                            "PYTHONPATH": ROOT})


def test_every_readme_python_block_runs_as_written(tmp_path):
    blocks = python_blocks()
    assert len(blocks) >= 4
    for number, block in enumerate(blocks, start=1):
        if missing_outside_dev(block):
            continue
        if "runs/sst2-export" in block and not (tmp_path / "runs" / "sst2-export").exists():
            done = run(EXPORT_STEP, tmp_path)
            assert done.returncode == 0, done.stderr[-3000:]
        result = run(block, tmp_path)
        assert result.returncode == 0, f"README block {number} failed:\n{block}\n" \
                                       f"{result.stderr[-3000:]}"
