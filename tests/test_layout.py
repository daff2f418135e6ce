"""The architecture, checked: a track imports the top level and itself, never another track; no cycles;
no module imports another's private names; every module is listed in docs/architecture.md's layout section;
every track's tests live in tests/<track>/ and import no other track."""

import ast
import re
from pathlib import Path

import pytest

from lsml_core import tracks

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


def graph() -> dict[str, set[str]]:
    """Module -> the lsml_core modules it imports (`from lsml_core import x` counts as lsml_core.x)."""
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
    layout = architecture[architecture.index("## Layout") :]
    missing = [
        name
        for name in MODULES
        if not name.endswith("__init__") and name.rsplit(".", 1)[-1] not in layout and name != "lsml_core"
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
