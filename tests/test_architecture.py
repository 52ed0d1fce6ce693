"""No circles: no module of agent_cli imports, directly or through others, a module that imports it.

Every import counts, wherever it stands: at module level, inside a function (a "lazy" import only
moves the cycle to call time) and under `if TYPE_CHECKING:` (a cycle the type checker still sees).
A shared piece two modules need goes down into a module both import.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import agent_cli

PACKAGE = "agent_cli"
ROOT = Path(agent_cli.__file__).resolve().parent
# Cycles that may stay, each as the sorted list of its modules, with the reason. Keep it empty.
ALLOWED_CYCLES: list[list[str]] = []


def modules() -> dict[str, tuple[Path, bool]]:
    """Dotted name -> (file, is a package) for every module of agent_cli."""
    found = {}
    for path in ROOT.rglob("*.py"):
        parts = [PACKAGE, *path.relative_to(ROOT).with_suffix("").parts]
        is_package = parts[-1] == "__init__"
        found[".".join(parts[:-1] if is_package else parts)] = (path, is_package)
    return found


def _known(name: str, known: dict[str, tuple[Path, bool]]) -> str | None:
    """The module `name` names, or the innermost module holding it (`agent_cli.x.func` -> `agent_cli.x`)."""
    while name and name not in known:
        name = name.rpartition(".")[0]
    return name or None


def imports_of(module: str, known: dict[str, tuple[Path, bool]]) -> set[str]:
    """Every agent_cli module `module` imports, anywhere in its text."""
    path, is_package = known[module]
    package = module if is_package else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                origin = ".".join([*base, node.module] if node.module else base)
            else:
                origin = node.module or ""
            # `from agent_cli.detect import logcat` imports the submodule; `from agent_cli.x import func` the module x.
            targets = [f"{origin}.{alias.name}" if f"{origin}.{alias.name}" in known else origin for alias in node.names]
        else:
            continue
        for target in targets:
            if target == PACKAGE or target.startswith(PACKAGE + "."):
                resolved = _known(target, known)
                if resolved is not None and resolved != module:
                    found.add(resolved)
    return found


def import_graph() -> dict[str, set[str]]:
    known = modules()
    return {module: imports_of(module, known) for module in known}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan, iterative), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
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
    return sorted(found)


def _edges_within(graph: dict[str, set[str]], component: list[str]) -> list[str]:
    return [f"{a} -> {b}" for a in component for b in sorted(graph[a]) if b in component]


def test_no_module_imports_a_module_that_imports_it() -> None:
    graph = import_graph()
    found = [c for c in cycles(graph) if c not in ALLOWED_CYCLES]
    assert not found, "import cycles (move the shared piece down into a module both import):\n" + "\n".join(
        f"  {' <-> '.join(c)}: " + "; ".join(_edges_within(graph, c)) for c in found
    )


def test_the_graph_sees_every_kind_of_import() -> None:
    """Guards the test above against passing on a graph that misses edges."""
    graph = import_graph()
    assert "agent_cli.detect.logcat" in graph["agent_cli.detect.events"]  # from a package, a submodule
    assert "agent_cli.detect.masking" in graph["agent_cli.detect.events"]  # from a module, a name
    assert "agent_cli.sourcemap" in graph["agent_cli.detect.fingerprint"]  # inside a function
    assert "agent_cli.config" in graph["agent_cli.sandbox"]  # under TYPE_CHECKING


def test_cycles_finds_a_circle_through_others() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a", "d"}, "d": set(), "e": {"e"}}
    assert cycles(graph) == [["a", "b", "c"]]


# --- SQL lives in agent_cli/store/ (and the schema in agent_cli/state.py) ---------------------------------------------

SQL = re.compile(r"\b(SELECT\b[\s\S]*\bFROM|INSERT\s+(OR\s+\w+\s+)?INTO|UPDATE\s+\w+\s+SET|DELETE\s+FROM|CREATE\s+(TABLE|INDEX|TRIGGER)|"
                 r"ALTER\s+TABLE|PRAGMA\s+\w+|BEGIN\s+IMMEDIATE)\b")
SQL_HOMES = ("agent_cli.store", "agent_cli.state")  # the aggregates' queries; the schema, its migrations and the connection


def sql_strings(path: Path) -> list[tuple[int, str]]:
    """(line, text) of every string literal in `path` that reads as SQL (f-strings by their literal parts)."""
    found = []
    tree = ast.parse(path.read_text(encoding="utf-8"))
    parts = {id(v) for node in ast.walk(tree) if isinstance(node, ast.JoinedStr) for v in node.values}  # read with their f-string
    for node in ast.walk(tree):
        if id(node) in parts:
            continue
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and SQL.search(node.value):
            found.append((node.lineno, node.value))
        elif isinstance(node, ast.JoinedStr):
            text = "".join(v.value if isinstance(v, ast.Constant) else "{}" for v in node.values)
            if SQL.search(text):
                found.append((node.lineno, text))
    return found


def test_no_sql_outside_the_store() -> None:
    offenders = [f"{name}:{line}: {' '.join(text.split())[:80]}"
                 for name, (path, _) in sorted(modules().items()) if not name.startswith(SQL_HOMES)
                 for line, text in sql_strings(path)]
    assert offenders == [], "SQL outside agent_cli/store:\n" + "\n".join(offenders)


def test_the_sql_check_sees_sql(tmp_path: Path) -> None:
    sample = tmp_path / "m.py"
    sample.write_text('A = "SELECT id FROM issues"\nB = f"UPDATE issues SET status = {1}"\nC = "select the best"\n'
                      'D = "INSERT OR IGNORE INTO x VALUES (1)"\nE = "the issue was updated"\n')
    assert [line for line, _ in sql_strings(sample)] == [1, 2, 4]
