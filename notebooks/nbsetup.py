"""Setup shared by the notebooks in this folder: one import instead of a copied cell.

Each notebook starts with ``from nbsetup import ...``. Importing this module
finds the hipporag-toolkit checkout (or the installed package), puts it on
``sys.path`` when it is not installed, and names the bundled data.

Example:
    >>> from nbsetup import ROOT, DEMO_CORPUS
    >>> DEMO_CORPUS.is_file()
    True
"""

from __future__ import annotations

import atexit
import os
import shutil
import sys
import tempfile
from pathlib import Path


def find_repo_root(start: Path) -> Path:
    """The hipporag-toolkit checkout holding ``start`` (or the installed package's)."""
    for folder in (start, *start.parents):
        if (folder / "pyproject.toml").is_file() and (folder / "hipporag").is_dir():
            return folder
    import hipporag  # installed elsewhere: use the package's checkout

    return Path(hipporag.__file__).resolve().parents[1]


ROOT = find_repo_root(Path(__file__).resolve().parent)
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

DEMO_CORPUS = ROOT / "pipelines" / "demo_data" / "corpus.json"
DEMO_QUESTIONS = ROOT / "pipelines" / "demo_data" / "questions.json"
SHARED_DATA = Path(os.environ.get("HIPPORAG_DATA") or ROOT.parent / "shared" / "data")


_SCRATCH: list[Path] = []


def scratch_dir(prefix: str) -> Path:
    """A new temporary folder for this notebook, removed by :func:`remove_scratch`.

    Removal also happens when the kernel exits, so a notebook run leaves nothing
    behind in the temp folder; only folders made here are ever removed.
    """
    path = Path(tempfile.mkdtemp(prefix=prefix))
    if not _SCRATCH:
        atexit.register(remove_scratch)
    _SCRATCH.append(path)
    return path


def remove_scratch() -> None:
    """Delete the folders :func:`scratch_dir` made (and only those)."""
    while _SCRATCH:
        shutil.rmtree(_SCRATCH.pop(), ignore_errors=True)


def demo_index_dir() -> Path:
    """``HIPPORAG_DEMO_INDEX``, else ``.demo-index``, else a fresh build in a temp dir."""
    from hipporag.errors import IndexFormatError
    from hipporag.index.reader import Index

    wanted = os.environ.get("HIPPORAG_DEMO_INDEX")
    for candidate in [*([Path(wanted)] if wanted else []), ROOT / ".demo-index"]:
        try:
            Index.open(candidate).close()
            return candidate
        except IndexFormatError:
            continue
    from hipporag import HippoRAG

    out = Path(wanted) if wanted else scratch_dir("hipporag-demo-") / "index"
    HippoRAG.build(DEMO_CORPUS, out)
    return out


__all__ = [
    "DEMO_CORPUS",
    "DEMO_QUESTIONS",
    "ROOT",
    "SHARED_DATA",
    "demo_index_dir",
    "find_repo_root",
    "remove_scratch",
    "scratch_dir",
]
