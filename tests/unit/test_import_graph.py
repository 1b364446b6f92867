"""The import graph of secmon's own modules: no cycle, and the core never imports the plumbing.

Every import counts: module-level, function-level and those under `if TYPE_CHECKING:`, because a
cycle a reader has to untangle is a cycle whether or not Python happens to resolve it at runtime.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("pipeline", "detectors", "schemas")
# The pure core: parsing, detection and the contracts. It must not reach up into the Faust worker,
# the CLI or the delivery plumbing; those depend on it, never the other way round. The enrichers
# are not core: they are built from settings and read the context store (pipeline.context).
CORE = ("detectors", "schemas", "pipeline.normalizers")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def source_files() -> dict[str, Path]:
    return {module_name(p): p for pkg in PACKAGES for p in sorted((ROOT / pkg).rglob("*.py"))}


def imported_names(path: Path, module: str) -> set[str]:
    """Every module name `module` imports, resolved to absolute names (relative imports too)."""
    is_package = path.name == "__init__.py"
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = module.split(".")
                anchor = anchor[: len(anchor) - node.level + (1 if is_package else 0)]
                base = ".".join([*anchor, base] if base else anchor)
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return names


def import_graph() -> dict[str, set[str]]:
    """module -> the secmon modules it imports (a `from pkg import sub` counts as importing sub)."""
    files = source_files()
    graph: dict[str, set[str]] = {}
    for module, path in files.items():
        targets = {name for name in imported_names(path, module) if name in files}
        targets.discard(module)
        graph[module] = targets
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[list[str]] = []
    counter = 0
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is None:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        found.append(sorted(component))
            elif child not in index:
                index[child] = low[child] = counter
                counter += 1
                stack.append(child)
                on_stack.add(child)
                work.append((child, iter(sorted(graph[child]))))
            elif child in on_stack:
                low[node] = min(low[node], index[child])
    return found


def in_core(module: str) -> bool:
    return any(module == c or module.startswith(c + ".") for c in CORE)


def test_the_graph_sees_function_level_and_type_checking_imports(tmp_path: Path) -> None:
    source = (
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from pipeline.app import Runtime\n"
        "def f():\n    from .sibling import x\n    import pipeline.kafka.topics\n"
    )
    path = tmp_path / "mod.py"
    path.write_text(source)
    names = imported_names(path, "pipeline.agents.mod")
    assert {"pipeline.app", "pipeline.agents.sibling", "pipeline.kafka.topics"} <= names


def test_cycles_finds_a_loop_and_nothing_else() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(graph) == [["a", "b", "c"]]


def test_no_import_cycle_among_secmon_modules() -> None:
    found = cycles(import_graph())
    assert not found, "import cycles (break each by moving the shared piece below both):\n" + "\n".join(
        " <-> ".join(component) for component in found
    )


def test_the_core_never_imports_the_plumbing() -> None:
    offenders = sorted(
        f"{module} imports {target}"
        for module, targets in import_graph().items()
        if in_core(module)
        for target in targets
        if target.startswith("pipeline") and not in_core(target)
    )
    assert not offenders, "the core must not import pipeline/ outside the core:\n" + "\n".join(offenders)
