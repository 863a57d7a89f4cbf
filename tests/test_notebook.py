"""notebooks/quickstart.ipynb runs top to bottom (tiny settings, a few minutes)."""

import os

import pytest

nbformat = pytest.importorskip("nbformat", reason="needs `pip install -e .[dev]`")
nbclient = pytest.importorskip("nbclient", reason="needs `pip install -e .[dev]`")
pytest.importorskip("tensorflow_text", reason="the notebook exports (needs .[export])")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_quickstart_notebook_executes(tmp_path):
    notebook = nbformat.read(os.path.join(ROOT, "notebooks", "quickstart.ipynb"), as_version=4)
    client = nbclient.NotebookClient(notebook, timeout=900, kernel_name="python3",
                                     resources={"metadata": {"path": str(tmp_path)}})
    client.execute()
    outputs = [o for cell in notebook.cells if cell.cell_type == "code"
               for o in cell.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    text = "".join(o.get("text", "") for o in outputs)
    assert "dev accuracy:" in text and "int8.tflite" in text
    assert any("image/png" in o.get("data", {}) for o in outputs)  # the plots rendered
    assert (tmp_path / "runs" / "notebook" / "export" / "metadata.json").exists()
