"""The architecture, checked: a track imports the top level and itself, never another track; no cycles;
no module imports another's private names; every module is listed in docs/architecture.md's layout section;
every track's tests live in tests/<track>/ and import no other track; the files of a results folder are
named in `lsml_core.layout` alone, which imports nothing from the package."""

import ast
import fnmatch
import functools
import json
import re
from pathlib import Path

import pytest

from lsml_core import layout, tracks

PACKAGE = Path(__file__).resolve().parent.parent / "lsml_core"
TRACKS = tracks.NAMES  # every registered track
SHARED_FOLDERS = ("datasets",)
REGISTRY = ("lsml_core.tracks", "lsml_core.__main__")  # the only top-level modules that know the tracks


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> list[tuple[str, list[str]]]:
    """(module, imported names) of every lsml_core import of a file, at any depth."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("lsml_core"):
            found.append((node.module, [a.name for a in node.names]))
        elif isinstance(node, ast.Import):
            found += [(a.name, []) for a in node.names if a.name.startswith("lsml_core")]
    return found


MODULES = {module_name(p): p for p in PACKAGE.rglob("*.py")}


@functools.cache
def graph() -> dict[str, set[str]]:
    """Module -> the lsml_core modules it imports (`from lsml_core import x` counts as lsml_core.x); built once,
    every test reads it."""
    edges = {}
    for name, path in MODULES.items():
        targets = set()
        for module, names in imports(path):
            subs = {f"{module}.{n}" for n in names if f"{module}.{n}" in MODULES}
            targets |= subs or {module}
        edges[name] = targets - {name}
    return edges


def area(module: str) -> str:
    """`top` for the shared top level, else the folder (a track or a shared folder)."""
    parts = module.split(".")
    return parts[1] if len(parts) > 2 and parts[1] in TRACKS + SHARED_FOLDERS else "top"


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_follow_the_layout_rule(module):
    for target in graph()[module]:
        here, there = area(module), area(target)
        if there in TRACKS and there != here:
            assert module in REGISTRY, f"{module} imports the track module {target}: only tracks.py knows the tracks"
        if here in SHARED_FOLDERS:
            assert there not in TRACKS, f"{module} (shared) imports the track module {target}"


def test_there_are_no_import_cycles():
    edges, state, path = graph(), {}, []

    def visit(node):
        state[node] = "open"
        path.append(node)
        for nxt in edges.get(node, ()):
            if state.get(nxt) == "open":
                raise AssertionError(f"import cycle: {' -> '.join(path[path.index(nxt) :] + [nxt])}")
            if nxt not in state:
                visit(nxt)
        state[node] = "done"
        path.pop()

    for module in edges:
        if module not in state:
            visit(module)


@pytest.mark.parametrize("module", sorted(MODULES))
def test_no_module_imports_private_names(module):
    private = [(m, n) for m, names in imports(MODULES[module]) for n in names if n.startswith("_")]
    assert not private, f"{module} imports private names {private}"


def test_architecture_lists_every_module():
    architecture = (PACKAGE.parent / "docs" / "architecture.md").read_text()
    section = architecture[architecture.index("## Layout") :]
    missing = [
        name
        for name in MODULES
        if not name.endswith("__init__") and name.rsplit(".", 1)[-1] not in section and name != "lsml_core"
    ]
    assert not missing, f"docs/architecture.md's layout section does not name {missing}"


def heading_anchor(heading: str) -> str:
    """The anchor GitHub gives a Markdown heading: lower case, punctuation dropped, spaces as hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def test_documentation_links_resolve():
    root = PACKAGE.parent
    pages = [root / "README.md", *sorted((root / "docs").rglob("*.md"))]
    prose = {page: re.sub(r"```.*?```", "", page.read_text(), flags=re.S) for page in pages}
    anchors = {
        page.resolve(): {heading_anchor(h) for h in re.findall(r"^#+\s+(.*)$", text, flags=re.M)}
        for page, text in prose.items()
    }
    broken = []
    for page, text in prose.items():
        for target in re.findall(r"\]\(([^)\s]+)\)", text):
            if target.startswith(("http://", "https://")):
                continue
            path, _, anchor = target.partition("#")
            linked = (page.parent / path).resolve() if path else page.resolve()
            if not linked.exists() or (anchor and linked in anchors and anchor not in anchors[linked]):
                broken.append(f"{page.relative_to(root)}: {target}")
    assert not broken, f"links to missing files or headings: {broken}"


@pytest.mark.parametrize("track", TRACKS)
def test_each_track_has_a_test_folder_that_imports_no_other_track(track):
    folder = PACKAGE.parent / "tests" / track
    assert (folder / "__init__.py").is_file(), f"tests/{track}/ is missing: a track's tests live in a folder of its own"
    for path in folder.glob("test_*.py"):
        for module, names in imports(path):
            targets = {f"{module}.{n}" for n in names} | {module}
            others = {t for t in targets if area(t) in TRACKS and area(t) != track}
            assert not others, f"{path.name} of tests/{track}/ imports another track: {sorted(others)}"


RESULT_NAMES = {value for name, value in vars(layout).items() if name.isupper() and isinstance(value, str)}
RESULT_PATTERNS = (layout.predictions("*"), layout.notebook("*"), layout.rendered("*"))
NOTEBOOKS = sorted((PACKAGE.parent / "notebooks").rglob("*.ipynb"))
BENCHMARKS = sorted((PACKAGE.parent / "benchmarks").glob("*.py"))


def names_a_result_file(text: str) -> bool:
    """Whether a path (an f-string's holes as `*`) names a file or folder of a results folder: one of its parts
    is a layout name (a bare folder name such as `runs` only within a path) or matches a layout pattern."""
    parts = text.split("/")
    named = [part for part in parts if part in RESULT_NAMES]
    if named and (len(parts) > 1 or "." in text):
        return True
    return any(
        fnmatch.fnmatch(part, pattern) for part in parts if not part.startswith(".") for pattern in RESULT_PATTERNS
    )


def template(node: ast.JoinedStr) -> str:
    """An f-string's literal text with each hole as `*`."""
    return "".join(v.value if isinstance(v, ast.Constant) else "*" for v in node.values)


FOLDERS = {name for name in RESULT_NAMES if "." not in name}  # `runs`, `notebooks`: results folders only in a path


def joined_folder(node: ast.AST) -> str | None:
    """The layout folder a path is joined with (`x / "runs"`, `Path(x, "runs")`); None for any other node, and for
    the repository's own folders (`REPO_ROOT / "notebooks"` is not a results folder)."""
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div) and isinstance(node.right, ast.Constant):
        repository = isinstance(node.left, ast.Name) and node.left.id == "REPO_ROOT"
        return None if repository or node.right.value not in FOLDERS else node.right.value
    if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "Path":
        return next((a.value for a in node.args[1:] if isinstance(a, ast.Constant) and a.value in FOLDERS), None)
    return None


def result_literals(source: str) -> list[str]:
    """The literals of a module's code that spell a results folder's file names: docstrings left out, an f-string
    read whole."""
    tree = ast.parse(source)
    skipped = {id(n.value) for n in ast.walk(tree) if isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant)}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            skipped |= {id(v) for v in node.values}
            if names_a_result_file(template(node)):
                found.append(f"line {node.lineno}: f{template(node)!r}")
        elif (folder := joined_folder(node)) is not None:
            found.append(f"line {node.lineno}: a path joined with {folder!r}")
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in skipped:
            if names_a_result_file(node.value):
                found.append(f"line {node.lineno}: {node.value!r}")
    return found


def notebook_code(path: Path) -> str:
    """A notebook's code cells as one module (IPython magics left out)."""
    cells = [c["source"] for c in json.loads(path.read_text())["cells"] if c["cell_type"] == "code"]
    lines = "\n".join("".join(c) for c in cells).splitlines()
    return "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in lines)


@pytest.mark.parametrize(
    "path",
    [p for p in MODULES.values() if p.name != "layout.py"] + NOTEBOOKS + BENCHMARKS,
    ids=lambda p: str(p.relative_to(PACKAGE.parent)),
)
def test_results_file_names_are_spelt_only_in_the_layout_module(path):
    source = notebook_code(path) if path.suffix == ".ipynb" else path.read_text()
    found = result_literals(source)
    assert not found, f"{path.name} spells file names of a results folder: {found}; use lsml_core.layout's names"


def test_the_layout_module_imports_nothing_from_the_package():
    assert not imports(MODULES["lsml_core.layout"]), "lsml_core/layout.py must stay at the bottom of the imports"


def test_the_literal_check_finds_every_way_of_spelling_a_name():
    found = result_literals(
        "a / 'metrics.json'\nb / 'runs' / r\nc.glob('*/history.csv')\nf'predictions_{s}.csv'\nf'{n}.html'\n"
        "f'notebooks/{n}'\nPath(d, 'runs')\nd = {'runs': 1}\nREPO_ROOT / 'notebooks'\nf'{x} / metrics.json read'"
    )
    assert sorted(int(text.split(":")[0].removeprefix("line ")) for text in found) == [1, 2, 3, 4, 5, 6, 7]


def test_every_end_to_end_file_is_placed_in_the_run_order():
    """tests/conftest.py hands out the end-to-end files longest first: a new one must be placed among them."""
    from tests.conftest import E2E_LONGEST_FIRST

    root = PACKAGE.parent
    marked = sorted(
        path.relative_to(root).as_posix()
        for path in (root / "tests").rglob("test_*.py")
        if re.search(r"^\s*(pytestmark = \[?)?pytest\.mark\.e2e\b", path.read_text(), re.MULTILINE)
    )
    assert marked == sorted(E2E_LONGEST_FIRST)
