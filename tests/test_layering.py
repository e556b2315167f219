"""Dependencies point one way: ui, ingest and evals use assistant; assistant imports none of them."""

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
FORBIDDEN = {"assistant": {"ui", "ingest", "evals"}, "ingest": {"ui", "evals"}, "evals": {"ui"}}


def imported_top_levels(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_imports_point_one_way(package):
    bad = {
        str(f.relative_to(REPO)): imported_top_levels(f) & FORBIDDEN[package] for f in (REPO / package).rglob("*.py")
    }
    assert {k: v for k, v in bad.items() if v} == {}
