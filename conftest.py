"""Lets a plain checkout (no `pip install -e .`) import `albert_tf.export` and
`albert_tf.apps` from the top-level `export/` and `apps/` folders, as the
install maps them (pyproject.toml `package-dir`)."""

import importlib.util
import pathlib

import albert_tf

if importlib.util.find_spec("albert_tf.export") is None:
    # A package's __path__ is where its submodules are looked for: adding the
    # repository root makes `albert_tf.export` the folder `export/`.
    albert_tf.__path__.append(str(pathlib.Path(__file__).resolve().parent))
