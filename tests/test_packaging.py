import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_import_needs_neither_tensorflow_nor_keras():
    code = ("import sys, albert_tf, albert_tf.text.tokenizer, albert_tf.text.data, albert_tf.artifacts.manifest\n"
            "heavy = [m for m in ('tensorflow', 'keras', 'jax') if m in sys.modules]\n"
            "assert not heavy, heavy\n"
            "assert albert_tf.__version__")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_models_on_jax_never_import_tensorflow():
    code = ("import sys\n"
            "import albert_tf\n"
            "albert_tf.AlbertBackbone(vocabulary_size=50, num_layers=1, num_heads=1,\n"
            "    embedding_dim=4, hidden_dim=4, intermediate_dim=4)\n"
            "assert 'tensorflow' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=300,
                   env={**os.environ, "KERAS_BACKEND": "jax"})


def _pins(lines):
    return {re.split(r"[=<>\[]", line)[0].lower(): line.strip()
            for line in lines if line.strip() and not line.startswith(("#", "-"))}


def test_requirements_mirror_pyproject():
    import tomllib

    with open(os.path.join(ROOT, "pyproject.toml"), "rb") as f:
        project = tomllib.load(f)["project"]
    declared = _pins(project["dependencies"] + project["optional-dependencies"]["dev"])
    with open(os.path.join(ROOT, "requirements.txt")) as f:
        required = _pins(f)
    assert required == declared
