"""The import graph of our apps: no cycles, one-way dependencies, no tasks in services, no bench/demo on requests.

Read from the source with `ast` (nothing is imported), so a cycle hidden in a function-level
import counts too: an import inside a function to dodge a cycle means the direction is wrong.
Imports under `if TYPE_CHECKING:` are left out (they never run).
"""
from __future__ import annotations

import ast
import re
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
APPS = ("aiops", "core", "incidents", "monitoring", "models_registry")
# The documented direction (README "Layout", ARCHITECTURE.md): each app may import these apps.
MAY_IMPORT = {
    "core": set(),
    "incidents": {"core"},
    "monitoring": {"incidents", "core"},
    "models_registry": {"incidents", "core"},
    "aiops": {"monitoring", "models_registry", "incidents", "core"},
}
# Modules that hold writes or reads; they enqueue by task name (core.enqueue), never import tasks.
NO_TASKS_LAYERS = ("services", "selectors", "models", "formats", "detection", "notifications", "playbooks")


def _modules() -> dict[str, Path]:
    modules = {}
    for app in APPS:
        for path in (ROOT / app).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            modules[name.removesuffix(".__init__")] = path
    return modules


def _resolve(name: str, modules: dict[str, Path]) -> str | None:
    parts = name.split(".")
    for end in range(len(parts), 0, -1):
        candidate = ".".join(parts[:end])
        if candidate in modules:
            return candidate
    return None


def _imports(module: str, path: Path, modules: dict[str, Path]) -> list[tuple[str, int]]:
    """(imported first-party module, line) for every import that can run."""
    tree = ast.parse(path.read_text(), filename=str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: list[tuple[str, int]] = []

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.dump(child.test):
                for orelse in child.orelse:
                    visit(orelse)
                continue
            if isinstance(child, ast.Import):
                for alias in child.names:
                    target = _resolve(alias.name, modules)
                    if target:
                        found.append((target, child.lineno))
            elif isinstance(child, ast.ImportFrom):
                if child.level:
                    base = package.split(".")
                    if child.level > 1:
                        base = base[: -(child.level - 1)]
                    source = ".".join(base + ([child.module] if child.module else []))
                else:
                    source = child.module or ""
                for alias in child.names:
                    # `from . import tasks` imports the submodule, not the package.
                    full = f"{source}.{alias.name}"
                    target = full if full in modules else _resolve(source, modules)
                    if target:
                        found.append((target, child.lineno))
            visit(child)

    visit(tree)
    return [(target, line) for target, line in found if target != module]


def _graph() -> tuple[dict[str, Path], dict[str, dict[str, int]]]:
    modules = _modules()
    graph: dict[str, dict[str, int]] = defaultdict(dict)
    for module, path in modules.items():
        for target, line in _imports(module, path, modules):
            graph[module].setdefault(target, line)
    return modules, graph


def _cycles(modules: dict[str, Path], graph: dict[str, dict[str, int]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []
    counter = 0
    for root in modules:
        if root in index:
            continue
        work = [(root, iter(graph[root]))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            advanced = False
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(graph[child])))
                    advanced = True
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            if advanced:
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
                    components.append(sorted(component))
    return components


def _where(modules: dict[str, Path], module: str, line: int) -> str:
    return f"{modules[module].relative_to(ROOT)}:{line}"


def test_no_import_cycles_inside_or_between_apps():
    modules, graph = _graph()
    cycles = _cycles(modules, graph)
    described = []
    for component in cycles:
        members = set(component)
        edges = [f"{_where(modules, a, graph[a][b])} imports {b}" for a in component for b in graph[a] if b in members]
        described.append(f"cycle of {len(component)} modules:\n    " + "\n    ".join(edges))
    assert not described, "\n".join(described)


def test_apps_import_each_other_only_in_the_documented_direction():
    modules, graph = _graph()
    wrong = [
        f"{_where(modules, a, line)} imports {b}"
        for a, targets in graph.items()
        for b, line in targets.items()
        if a.split(".")[0] != b.split(".")[0] and b.split(".")[0] not in MAY_IMPORT[a.split(".")[0]]
    ]
    assert not wrong, "imports against aiops -> monitoring, models_registry -> incidents -> core:\n" + "\n".join(wrong)


def test_services_and_selectors_never_import_tasks():
    modules, graph = _graph()
    wrong = [
        f"{_where(modules, a, line)} imports {b}"
        for a, targets in graph.items()
        for b, line in targets.items()
        if b.split(".")[-1] == "tasks" and any(part in NO_TASKS_LAYERS for part in a.split(".")[1:])
    ]
    assert not wrong, "enqueue by task name through core.enqueue instead:\n" + "\n".join(wrong)


# What a web process loads: the URL map and WSGI entry, the settings and every dotted path they name
# (middleware, context processors, DRF classes), and what Django imports of each app at start-up.
REQUEST_ROOTS = ("aiops.urls", "aiops.wsgi", "aiops.settings")
APP_START_MODULES = ("apps", "models", "admin", "tasks", "urls", "api.urls")
_DOTTED = re.compile(r"^[a-z_][a-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)+$")


def _offline_only(module: str) -> bool:
    """`*/demo*.py` and demo packages, `core/bench.py` and bench packages, `management/commands/bench_*`."""
    parts = module.split(".")[1:]
    return any(part.startswith("demo") or part == "bench" or part.startswith("bench_") for part in parts)


def _named_modules(path: Path, modules: dict[str, Path]) -> set[str]:
    """First-party modules a file names in a dotted string ("incidents.api.urls", "core.x.Class")."""
    named = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and _DOTTED.match(node.value):
            if node.value in modules:
                named.add(node.value)
            elif node.value.rpartition(".")[0] in modules:
                named.add(node.value.rpartition(".")[0])
    return named


def test_benchmarks_and_demo_data_are_not_loaded_by_the_request_cycle():
    modules, graph = _graph()
    roots = [m for m in REQUEST_ROOTS if m in modules]
    roots += [f"{app}.{part}" for app in APPS for part in APP_START_MODULES if f"{app}.{part}" in modules]
    assert "aiops.urls" in roots and "aiops.settings" in roots
    reached_from: dict[str, str] = {root: "" for root in roots}
    queue = list(roots)
    while queue:
        module = queue.pop()
        for target in set(graph[module]) | _named_modules(modules[module], modules):
            if target not in reached_from:
                reached_from[target] = module
                queue.append(target)
    assert len(reached_from) > 100, "the walk should reach most of the tree; is the graph empty?"
    wrong = []
    for module in sorted(m for m in reached_from if _offline_only(m)):
        chain = [module]
        while reached_from[chain[-1]]:
            chain.append(reached_from[chain[-1]])
        wrong.append(" <- ".join(chain))
    assert not wrong, "benchmark or demo code on the request path:\n" + "\n".join(wrong)
