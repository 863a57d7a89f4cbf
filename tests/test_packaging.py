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


def test_the_models_layer_imports_nothing_above_it():
    """models/ sits below artifacts/, training/, runtime/ and the apps: not even a
    deferred import may reach up (AlbertBackbone.from_preset finds its loader
    through models.presets' registry, filled by the package root)."""
    import ast

    above = ("albert_tf.artifacts", "albert_tf.training", "albert_tf.runtime",
             "albert_tf.inference", "albert_tf.checkpoints", "albert_tf.apps", "albert_tf.export")
    models = os.path.join(ROOT, "albert_tf", "models")
    found = []
    for name in sorted(os.listdir(models)):
        if not name.endswith(".py"):
            continue
        with open(os.path.join(models, name), encoding="utf-8") as f:
            tree = ast.parse(f.read())
        for node in ast.walk(tree):
            modules = ([alias.name for alias in node.names] if isinstance(node, ast.Import)
                       else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            found += [f"{name}: {m}" for m in modules if m.startswith(above)]
    assert found == []


def test_the_library_starts_keras_quietly():
    """`albert_tf.train` in Python used to show TensorFlow's start-up lines that the
    command line filters; the first Keras import through `albert_tf` is quiet too."""
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    result = subprocess.run([sys.executable, "-c", "import albert_tf; albert_tf.AlbertClassifier"],
                            capture_output=True, text=True, timeout=300, env=env)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stderr == ""
