"""The layer rule: data flows down the layers of DESIGN.md and never back up.

Every import in the package, module-level or inside a function (type-checking imports
aside: they run nothing), is read from the source. A module may import its own layer and
the layers below, never one above; no two parts of the package import each other, and no
two modules of one package import each other (no import cycle anywhere).
"""

from __future__ import annotations

import ast
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "tcpanalyze"

# Lowest first. frames (column names and dtypes) sits just above decode: the engine builds its
# session records with it, so it cannot wait until after the pipeline as DESIGN.md lists it.
LAYERS = [
    ("errors", "jit", "malloc", "quantiles", "spill", "state", "version"),  # what every layer may use
    ("capture",),
    ("decode",),
    ("frames",),
    ("packets",),  # the one read -> decode -> TCP loop
    ("flows",),
    ("engine",),
    ("reassembly",),
    ("detect",),
    ("dfilter",),  # Wireshark display filters over the packets and sessions frames
    ("pipeline",),
    ("output", "report", "check", "plot"),  # what users see
    ("cli", "testing"),
    ("__init__", "__main__"),
]
LEVEL = {part: level for level, parts in enumerate(LAYERS) for part in parts}


def module_name(path: Path) -> str:
    parts = ["tcpanalyze", *path.relative_to(PACKAGE).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def part_of(module: str) -> str:
    """The layer part a module belongs to: ``tcpanalyze.engine.zeek`` -> ``engine``."""
    names = module.split(".")
    return names[1] if len(names) > 1 else "__init__"


def _type_checking(node: ast.If) -> bool:
    test = node.test
    return getattr(test, "id", None) == "TYPE_CHECKING" or getattr(test, "attr", None) == "TYPE_CHECKING"


def imports(path: Path) -> list[tuple[str, int]]:
    """(imported tcpanalyze module, line) for every import in the file that runs."""
    module = module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: list[tuple[str, int]] = []

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _type_checking(child):
                for other in child.orelse:
                    visit(other)
                continue
            if isinstance(child, ast.ImportFrom):
                if child.level:
                    base = package.split(".")[: len(package.split(".")) - child.level + 1]
                    target = ".".join(base + ([child.module] if child.module else []))
                    names = [target] if child.module else [f"{target}.{alias.name}" for alias in child.names]
                else:
                    names = [child.module or ""]
                found.extend((name, child.lineno) for name in names if name.split(".")[0] == "tcpanalyze")
            elif isinstance(child, ast.Import):
                found.extend((a.name, child.lineno) for a in child.names if a.name.split(".")[0] == "tcpanalyze")
            visit(child)

    visit(ast.parse(path.read_text(), str(path)))
    return found


SOURCES = sorted(PACKAGE.rglob("*.py"))
MODULES = {module_name(path) for path in SOURCES}


def _resolve(name: str) -> str:
    """A module, or the module a ``from package import name`` names a member of."""
    while name not in MODULES and "." in name:
        name = name.rpartition(".")[0]
    return name


def test_every_part_of_the_package_has_a_layer():
    assert {part_of(module_name(path)) for path in SOURCES} - set(LEVEL) == set()


def test_no_module_imports_a_layer_above_its_own():
    upward = []
    for path in SOURCES:
        mine = part_of(module_name(path))
        for target, line in imports(path):
            theirs = part_of(_resolve(target))
            if LEVEL[theirs] > LEVEL[mine]:
                upward.append(f"{path.relative_to(PACKAGE.parent)}:{line}: {mine} imports {target} ({theirs})")
    assert upward == []


@pytest.mark.parametrize("level", ["part", "module"])
def test_there_is_no_import_cycle(level):
    graph: dict[str, set[str]] = {}
    for path in SOURCES:
        source = module_name(path)
        for target, _ in imports(path):
            target = _resolve(target)
            if level == "part":
                source_key, target_key = part_of(source), part_of(target)
            else:  # modules of one package; a package's __init__ gathers its modules, so an import
                # of the package from inside it is not an edge back
                if part_of(source) != part_of(target) or target == source.rpartition(".")[0]:
                    continue
                source_key, target_key = source, target
            if source_key != target_key:
                graph.setdefault(source_key, set()).add(target_key)
    try:
        tuple(TopologicalSorter(graph).static_order())
    except CycleError as exc:
        pytest.fail(f"import cycle: {' -> '.join(exc.args[1])}")


def test_the_read_decode_tcp_loop_exists_once():
    """Above the capture layer, only ``packets`` reads record batches, decodes them and picks the
    TCP rows; every pass over a capture goes through it."""
    loops = [str(path.relative_to(PACKAGE)) for path in SOURCES if not path.is_relative_to(PACKAGE / "capture")
             and any(marker in path.read_text() for marker in ("reader.batches(", "decoder.decode(", "== status.TCP"))]
    # payloads.py re-reads a capture to copy payload bytes (and rebuild fragments), not to analyse
    assert sorted(loops) == ["packets.py", "reassembly/payloads.py"]
