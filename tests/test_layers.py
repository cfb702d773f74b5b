"""The package is layered and data flows one way (media → encoders → index → search →
library → api/cli): every import of one sceneseek module by another goes to a lower
layer or stays inside its own package. Imports inside functions (lazy, for start-up
time) and under TYPE_CHECKING count too: they are dependencies all the same."""

from __future__ import annotations

import ast
from pathlib import Path

import sceneseek

PACKAGE = Path(sceneseek.__file__).parent
# Lowest first; a module or package may import only from the layers before its own.
LAYERS = [
    {"errors", "faults", "modalities", "registry", "records"},
    {"paths", "config"},
    {"media", "language", "encoders", "local_server"},
    {"index"},
    {"ingest"},
    {"ingest_ray", "search"},
    {"alerts", "monitor"},
    {"learning"},
    {"versions"},
    {"library"},
    {"live"},
    {"eval", "api"},
    {"cli"},
]


def _layer(part: str) -> int:
    found = [n for n, names in enumerate(LAYERS) if part in names]
    assert found, f"sceneseek.{part} is in no layer: add it to LAYERS in {__file__}"
    return found[0]


def _imported(tree: ast.AST) -> set[str]:
    """The top-level parts of the package (``index`` for sceneseek.index.base) named by
    every import in the module; ``from sceneseek import X`` names X."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            parts = node.module.split(".")
            if parts[0] != "sceneseek":
                continue
            if len(parts) > 1:
                names.add(parts[1])
            else:
                names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.Import):
            names.update(
                alias.name.split(".")[1]
                for alias in node.names
                if alias.name.startswith("sceneseek.")
            )
    return names


def test_no_module_imports_one_above_it() -> None:
    upward = []
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE).with_suffix("").parts
        if parts in {("__init__",), ("__main__",)}:
            continue  # the package's lazy facade (Config, Library) and entry point
        source = parts[0]
        for target in _imported(ast.parse(path.read_text(), str(path))):
            if target in {source, "__version__"}:
                continue
            if _layer(target) >= _layer(source):
                upward.append(f"{path.relative_to(PACKAGE)} imports sceneseek.{target}")
    assert upward == []
