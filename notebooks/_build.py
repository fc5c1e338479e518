"""Generate the notebooks in this folder from the scripts in ``notebooks/src/``.

Each ``src/NN_name.py`` is a plain Python script in "percent" format: a line
``# %%`` starts a code cell, ``# %% [markdown]`` starts a markdown cell whose
lines are comments (``# text``). The ``.ipynb`` files are build products:
edit the script, run ``python notebooks/_build.py`` to rewrite them (without
outputs, with stable cell ids), and ``python notebooks/_build.py --check`` to
verify they are up to date. Every notebook runs top to bottom offline from
this folder.

Example:
    $ python notebooks/_build.py            # writes notebooks/*.ipynb
    $ python notebooks/_build.py --check    # exit 1 if a notebook is stale
"""

from __future__ import annotations

import argparse
from pathlib import Path

import nbformat

HERE = Path(__file__).resolve().parent
SRC = HERE / "src"


def parse_cells(script: str) -> list[tuple[str, str]]:
    """Split a percent-format script into ``(kind, source)`` cells (kind: md or code)."""
    cells: list[tuple[str, list[str]]] = []
    for line in script.splitlines():
        if line.startswith("# %%"):
            kind = "md" if "[markdown]" in line else "code"
            cells.append((kind, []))
        elif cells:
            kind, lines = cells[-1]
            if kind == "md":
                line = line[2:] if line.startswith("# ") else line.lstrip("#")
            lines.append(line)
    return [(kind, "\n".join(lines).strip("\n")) for kind, lines in cells]


def sources() -> dict[str, list[tuple[str, str]]]:
    """Notebook slug -> cells, for every ``src/*.py`` script."""
    return {
        path.stem: parse_cells(path.read_text(encoding="utf-8"))
        for path in sorted(SRC.glob("[0-9]*.py"))
    }


def make_notebook(slug: str, cells: list[tuple[str, str]]) -> nbformat.NotebookNode:
    """A v4 notebook with deterministic cell ids and no outputs."""
    nb = nbformat.v4.new_notebook()
    nb.metadata = {
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
    }
    for i, (kind, source) in enumerate(cells):
        cell_id = f"{slug[:2]}-{i:02d}"
        if kind == "md":
            nb.cells.append(nbformat.v4.new_markdown_cell(source, id=cell_id))
        else:
            nb.cells.append(nbformat.v4.new_code_cell(source, id=cell_id))
    nbformat.validate(nb)
    return nb


def render(nb: nbformat.NotebookNode) -> str:
    return nbformat.writes(nb) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="only check, write nothing")
    args = parser.parse_args(argv)
    stale = []
    for slug, cells in sources().items():
        path = HERE / f"{slug}.ipynb"
        text = render(make_notebook(slug, cells))
        current = path.read_text(encoding="utf-8") if path.is_file() else None
        if current == text:
            continue
        if args.check:
            stale.append(path.name)
        else:
            path.write_text(text, encoding="utf-8")
            print(f"wrote {path.relative_to(HERE.parent)}")
    if stale:
        print("stale notebooks (run python notebooks/_build.py):", ", ".join(stale))
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
