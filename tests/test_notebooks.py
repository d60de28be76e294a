"""The notebooks run clean from top to bottom."""
import glob
import os

import pytest

NOTEBOOKS = sorted(glob.glob(os.path.join(os.path.dirname(__file__), "..", "notebooks", "*.ipynb")))


def test_there_are_notebooks():
    assert NOTEBOOKS


@pytest.mark.parametrize("path", NOTEBOOKS, ids=os.path.basename)
def test_notebook_runs_clean(path, monkeypatch):
    # the kernel imports this checkout's sct (not another installed copy)
    root = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([root] + [p for p in os.environ.get(
        "PYTHONPATH", "").split(os.pathsep) if p]))
    monkeypatch.setenv("SCT_EXAMPLES_QUICK", "1")        # the examples' notebooks train briefly
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    nb = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(nb, timeout=120, kernel_name="python3",
                                     resources={"metadata": {"path": os.path.dirname(path)}})
    client.execute()
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
              if o.get("output_type") == "error"]
    assert not errors
    # every cell that shows a plot has the picture among its outputs (a non-interactive
    # backend would run clean and show nothing)
    plotting = [c for c in nb.cells if c.cell_type == "code" and "plt.show()" in c.source]
    for cell in plotting:
        images = [o for o in cell.get("outputs", []) if o.get("output_type") == "display_data"
                  and "image/png" in o.get("data", {})]
        assert images, f"no image shown by the cell:\n{cell.source}"
    if os.path.basename(path) in ("01_rosenbrock.ipynb", "03_training.ipynb"):
        assert plotting
