"""The source tree keeps the shape that lets the next engineer find their way: imports run from
the faces through serving to the engine, never back; no module over MAX_LINES lines, no private
name imported from another module, no import cycle among pixseek's modules, and every import of
pixseek's own modules made inside a function says why beside it."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from conftest import ROOT

PACKAGE = ROOT / "src" / "pixseek"
MAX_LINES = 450
WHY = re.compile(r"#.*\bwhy\b", re.IGNORECASE)
# The faces, by the folder or file under src/pixseek that holds each; what the servers among them
# share; and the entry point `python -m pixseek`. Everything else is the engine.
FACES = {"cli", "web", "desktop", "api", "watch", "mcp", "preview.py"}
SERVING = "serving"
ENTRY = "__main__.py"

@dataclass(frozen=True)
class Import:
    source: str  # the importing file, relative to src/pixseek
    target: str  # the module imported, or module.name for a name imported from it
    module: str  # the pixseek module it runs (target, less a name that is not a module)
    line: int
    in_function: bool


def sources() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(path) for path in sources()}


def _type_checking_only(node: ast.AST) -> bool:
    test = node.test if isinstance(node, ast.If) else None
    return isinstance(test, ast.Name) and test.id == "TYPE_CHECKING"


def _imports_under(node: ast.AST, path: Path, in_function: bool) -> Iterator[Import]:
    """The pixseek imports that run at run time (not those for type checkers only)."""
    package = module_name(path) if path.name == "__init__.py" else module_name(path).rpartition(".")[0]
    for child in ast.iter_child_nodes(node):
        if _type_checking_only(child):
            continue
        if isinstance(child, ast.Import):
            for alias in child.names:
                if alias.name.split(".")[0] == "pixseek":
                    yield Import(str(path.relative_to(PACKAGE)), alias.name, alias.name, child.lineno, in_function)
        elif isinstance(child, ast.ImportFrom):
            base = child.module or ""
            if child.level:
                anchor = package.split(".")[:len(package.split(".")) - child.level + 1]
                base = ".".join(anchor + ([child.module] if child.module else []))
            if base.split(".")[0] == "pixseek":
                for alias in child.names:
                    target = f"{base}.{alias.name}"
                    yield Import(str(path.relative_to(PACKAGE)), target, target if target in MODULES else base,
                                 child.lineno, in_function)
        yield from _imports_under(child, path, in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)))


def imports() -> list[Import]:
    return [found for path in sources() for found in _imports_under(ast.parse(path.read_text()), path, False)]


def _file_of(module: str) -> str:
    """pixseek.web.state -> web/state.py, pixseek.watch -> watch/__init__.py."""
    path = PACKAGE.parent.joinpath(*module.split("."))
    return str((path / "__init__.py" if path.is_dir() else path.with_suffix(".py")).relative_to(PACKAGE))


def _part(source: str) -> str:
    """The face, serving, the entry point or the engine: what holds a file under src/pixseek."""
    first = source.split("/")[0]
    return first if first in FACES | {SERVING, ENTRY} else "engine"


def test_imports_run_from_the_faces_to_the_engine():
    """The engine imports no face and nothing of serving, serving no face, and a face no other
    face but the CLI, whose commands start the others (`pixseek web`, `serve`, `mcp`, `gui`, `watch`)."""
    allowed = {"engine": {"engine"}, SERVING: {"engine", SERVING}, "cli": FACES | {"engine", SERVING},
               ENTRY: {"cli"}}
    wrong = set()
    for found in imports():
        importer, imported = _part(found.source), _part(_file_of(found.module))
        if imported != importer and imported not in allowed.get(importer, {"engine", SERVING}):
            wrong.add(f"{found.source} imports {found.module}")
    assert sorted(wrong) == []


def test_no_module_is_over_the_line_limit():
    long = {str(path.relative_to(PACKAGE)): length for path in sources()
            if (length := len(path.read_text().splitlines())) > MAX_LINES}
    assert long == {}


def test_no_private_name_is_imported_from_another_module():
    private = {(found.source, found.target) for found in imports()
               if any(part.startswith("_") and not part.startswith("__") for part in found.target.split("."))}
    assert private == set()


def _graph() -> dict[str, set[str]]:
    """Module -> the modules importing it runs: each one named, and the packages above it that
    the importer is not already inside (importing a.b.c runs a/__init__ and a/b/__init__ first)."""
    graph: dict[str, set[str]] = {name: set() for name in MODULES}
    for found in imports():
        importer = module_name(PACKAGE / found.source)
        parts = found.module.split(".")
        for end in range(1, len(parts) + 1):
            runs = ".".join(parts[:end])
            if runs in MODULES and runs != importer and not importer.startswith(runs + "."):
                graph[importer].add(runs)
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm, iterative)."""
    order: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for start in sorted(graph):
        if start in order:
            continue
        work = [(start, iter(sorted(graph[start])))]
        order[start] = low[start] = len(order)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is None:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == order[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        found.append(sorted(component))
            elif child not in order:
                order[child] = low[child] = len(order)
                stack.append(child)
                on_stack.add(child)
                work.append((child, iter(sorted(graph[child]))))
            elif child in on_stack:
                low[node] = min(low[node], order[child])
    return found


def test_the_cycle_finder_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycles_among_pixseeks_modules():
    """Imports made inside functions count: one that closes a cycle only hides it."""
    assert _cycles(_graph()) == []


def _explained(lines: list[str], found: Import) -> bool:
    """A `# why` on the import's line, or in the comment above it (over the imports beside it)."""
    number = found.line - 1
    if WHY.search(lines[number]):
        return True
    while number > 0:
        number -= 1
        text = lines[number].strip()
        if text.startswith("#"):
            if WHY.search(text):
                return True
        elif not text.startswith(("from ", "import ")):
            return False
    return False


def test_every_import_inside_a_function_says_why():
    """An import of pixseek's own modules put off until a function runs is a choice (a cost at
    start, an optional extra, a cycle avoided): the next reader needs its reason."""
    unexplained = set()
    for found in imports():
        if found.in_function:
            lines = (PACKAGE / found.source).read_text().splitlines()
            if not _explained(lines, found):
                unexplained.add(f"{found.source}:{found.line}")
    assert sorted(unexplained) == []
