"""Execute every notebook in notebooks/ with nbclient, top to bottom, offline.

The notebooks share the demo index built once by the ``demo_index_path``
fixture (passed as ``HIPPORAG_DEMO_INDEX``). The evaluation notebook needs
``../shared/data``; it runs on ``HIPPORAG_NB_LIMIT`` questions (default 20 here)
and reuses the musique100 index at ``HIPPORAG_M100_INDEX`` (default: a folder
in the pytest cache, built on the first run, which takes a few minutes).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

ROOT = Path(__file__).resolve().parents[1]
NB_DIR = ROOT / "notebooks"
NOTEBOOKS = sorted(p.name for p in NB_DIR.glob("[0-9]*.ipynb"))
SHARED_DATA = ROOT.parent / "shared" / "data"


def execute(nb: nbformat.NotebookNode, timeout: int = 900) -> nbformat.NotebookNode:
    """Run a notebook in a fresh python3 kernel from the notebooks/ folder."""
    client = nbclient.NotebookClient(
        nb,
        timeout=timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(NB_DIR)}},
    )
    client.execute()
    return nb


def outputs(nb: nbformat.NotebookNode) -> list[dict]:
    return [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]


def text_of(nb: nbformat.NotebookNode) -> str:
    parts = []
    for o in outputs(nb):
        if o.get("output_type") == "stream":
            parts.append(o.get("text", ""))
        parts.append(str(o.get("data", {}).get("text/plain", "")))
    return "\n".join(parts)


def test_notebooks_are_generated_and_stripped() -> None:
    """The .ipynb files match notebooks/_build.py and carry no outputs."""
    assert NOTEBOOKS == [
        "01_quickstart.ipynb",
        "02_explore_graph.ipynb",
        "03_why_this_passage.ipynb",
        "04_evaluation.ipynb",
    ]
    check = subprocess.run(
        [sys.executable, str(NB_DIR / "_build.py"), "--check"], capture_output=True, text=True
    )
    assert check.returncode == 0, check.stdout + check.stderr
    for name in NOTEBOOKS:
        nb = json.loads((NB_DIR / name).read_text(encoding="utf-8"))
        for cell in nb["cells"]:
            assert not cell.get("outputs") and cell.get("execution_count") is None, name


@pytest.fixture
def notebook_env(monkeypatch: pytest.MonkeyPatch, demo_index_path: Path) -> None:
    monkeypatch.setenv("HIPPORAG_DEMO_INDEX", str(demo_index_path))
    monkeypatch.setenv("HIPPORAG_PROGRESS", "0")
    monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")


@pytest.mark.notebook
@pytest.mark.slow
@pytest.mark.parametrize("name", [n for n in NOTEBOOKS if not n.startswith("04_")])
def test_demo_notebook_runs(
    name: str, notebook_env: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setenv("TMPDIR", str(scratch))  # the kernel's temp folder
    nb = execute(nbformat.read(NB_DIR / name, as_version=4))
    assert sorted(p.name for p in scratch.iterdir() if p.name.startswith("hipporag-")) == []
    errors = [o for o in outputs(nb) if o.get("output_type") == "error"]
    assert not errors, errors
    html = [o for o in outputs(nb) if "text/html" in o.get("data", {})]
    assert html, "expected rich HTML output"
    if name.startswith(("02_", "03_")):
        assert any("image/png" in o.get("data", {}) for o in outputs(nb)), "expected a plot"


@pytest.mark.notebook
@pytest.mark.slow
def test_evaluation_notebook_without_data_says_so(
    notebook_env: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("HIPPORAG_DATA", str(tmp_path / "absent"))
    nb = execute(nbformat.read(NB_DIR / "04_evaluation.ipynb", as_version=4), timeout=300)
    assert "not found" in text_of(nb)


@pytest.mark.notebook
@pytest.mark.slow
@pytest.mark.data
def test_evaluation_notebook_on_musique100(
    notebook_env: None,
    monkeypatch: pytest.MonkeyPatch,
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    if not (SHARED_DATA / "musique100" / "questions.json").is_file():
        pytest.skip("../shared/data/musique100 is not present")
    monkeypatch.setenv("HIPPORAG_DATA", str(SHARED_DATA))
    monkeypatch.setenv("HIPPORAG_NB_LIMIT", os.environ.get("HIPPORAG_NB_LIMIT", "20"))
    if not os.environ.get("HIPPORAG_M100_INDEX"):
        cache_plugin = getattr(request.config, "cache", None)  # absent with -p no:cacheprovider
        if cache_plugin is not None:
            where = cache_plugin.mkdir("hipporag-musique100-gpt35") / "index"
        else:
            where = tmp_path_factory.mktemp("m100") / "index"
        monkeypatch.setenv("HIPPORAG_M100_INDEX", str(where))
    nb = execute(nbformat.read(NB_DIR / "04_evaluation.ipynb", as_version=4), timeout=1800)
    out = text_of(nb)
    assert "recall@5" in out and "not found" not in out
    assert any("image/png" in o.get("data", {}) for o in outputs(nb)), "expected a plot"


@pytest.mark.notebook
def test_progress_bars_in_a_kernel(monkeypatch: pytest.MonkeyPatch) -> None:
    """In a kernel, hipporag.progress draws the notebook widget by default."""
    monkeypatch.delenv("HIPPORAG_PROGRESS", raising=False)
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell(
            "from hipporag.progress import in_notebook, progress, progress_enabled\n"
            "print(in_notebook(), progress_enabled())\n"
            "print(sum(progress(range(5), total=5, desc='demo')))"
        ),
        nbformat.v4.new_code_cell(
            "import logging\n"
            "logging.getLogger('hipporag').setLevel(logging.WARNING)\n"
            "print(progress_enabled())"
        ),
    ]
    execute(nb, timeout=120)
    first, second = nb.cells[0].outputs, nb.cells[1].outputs
    printed = "".join(o.get("text", "") for o in first if o.output_type == "stream")
    assert "True True" in printed and "10" in printed
    assert any("application/vnd.jupyter.widget-view+json" in o.get("data", {}) for o in first)
    assert "False" in "".join(o.get("text", "") for o in second)
