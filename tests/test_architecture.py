"""The layout keeps its promises: no import cycles, modules of a readable size, docstrings that
stay true, and a README whose architecture and transport tables match the code."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from toolkit.transports.registry import TRANSPORTS

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "toolkit"
LONG_MODULE = 500
SIZE_REASON = "Why one module of this size:"


def _modules() -> dict[str, Path]:
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


MODULES = _modules()


def _type_checking_block(node: ast.AST) -> bool:
    test = getattr(node, "test", None)
    return isinstance(node, ast.If) and (
        (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING")
        or (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")
    )


def _imports(module: str, path: Path) -> set[str]:
    """Every toolkit module this one imports, at any depth (a lazy import inside a function
    counts: it runs when the function does), except under ``if TYPE_CHECKING:``."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if _type_checking_block(node):
            return
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            found.add(base)
            found.update(f"{base}.{a.name}" for a in node.names)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return {name for name in found if name in MODULES and name != module}


def test_the_import_graph_has_no_cycle() -> None:
    graph = {name: _imports(name, path) for name, path in MODULES.items()}
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    cycles: list[list[str]] = []

    def walk(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycles.append([*path[path.index(nxt) :], nxt])
            elif nxt not in state:
                walk(nxt, [*path, nxt])
        state[node] = 2

    for name in sorted(graph):
        if name not in state:
            walk(name, [name])
    assert not cycles, "import cycles:\n" + "\n".join(" -> ".join(c) for c in cycles)


def test_the_graph_sees_lazy_imports() -> None:
    """The walker must not miss imports inside functions (else the test above proves little)."""
    assert "toolkit.sandbox" in _imports("toolkit.job", MODULES["toolkit.job"])
    assert "toolkit.aws.client" in _imports("toolkit.targets", MODULES["toolkit.targets"])


@pytest.mark.parametrize("name", sorted(MODULES))
def test_long_modules_say_why(name: str) -> None:
    path = MODULES[name]
    lines = len(path.read_text(encoding="utf-8").splitlines())
    if lines <= LONG_MODULE:
        return
    doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
    assert SIZE_REASON in doc, f"{name} has {lines} lines; say why in its docstring"


_FIGURE = re.compile(
    r"\d[\d,.]*\s*(?:µs|us\b|msgs?/s|messages/s|requests/s|req/s|rows/s|recipients/s)"
    r"|\d+\s*%\s+of\s+(?:its|the)?\s*CPU",
    re.I,
)


def _docstrings(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    nodes = [tree, *(n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.ClassDef))]
    return [d for n in nodes if (d := ast.get_docstring(n))]


@pytest.mark.parametrize("name", sorted(MODULES))
def test_docstrings_carry_no_benchmark_figures_or_outside_files(name: str) -> None:
    for doc in _docstrings(MODULES[name]):
        assert "shared/" not in doc, f"{name}: a docstring points at a file outside the repo"
        figure = _FIGURE.search(doc)
        assert figure is None, f"{name}: benchmark figure {figure.group(0)!r} will go stale"


def _readme_table(heading: str) -> list[list[str]]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split(heading, 1)[1]
    rows = []
    for line in section.splitlines()[1:]:
        if line.startswith("#"):
            break
        if line.startswith("|") and not set(line) <= set("|- "):
            rows.append([cell.strip() for cell in line.strip("|").split("|")])
    return rows[1:]  # without the header row


def test_readme_architecture_table_matches_the_folders() -> None:
    rows = _readme_table("## Architecture")
    named = " ".join(row[0] for row in rows)
    rooms = {p.name for p in PACKAGE.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    modules = {p.name for p in PACKAGE.glob("*.py") if p.name not in ("__init__.py", "__main__.py")}
    for room in sorted(rooms):
        assert f"toolkit/{room}/" in named, f"README's architecture table lacks toolkit/{room}/"
    for module in sorted(modules):
        assert module in named, f"README's architecture table lacks toolkit/{module}"
    for path in re.findall(r"toolkit/[\w/]+(?:\.py)?", named):
        assert (ROOT / path).exists(), f"README names {path}, which does not exist"


def test_readme_transport_table_is_the_registry() -> None:
    rows = _readme_table("### Transports")
    assert [row[0].strip("`") for row in rows] == list(TRANSPORTS)
    for row, kind in zip(rows, TRANSPORTS.values(), strict=True):
        assert row[1] == kind.call, f"README says {row[1]!r} for {kind.name}"
        assert row[2] == str(kind.max_batch)
        assert row[3] == kind.quota_source


def test_nothing_below_the_cli_imports_it() -> None:
    """The commands sit on top of the library: ``toolkit.cli`` imports the rooms, never the
    other way (else ``import toolkit.guide`` would load every command's parser)."""
    above = {"toolkit.__main__"} | {n for n in MODULES if n.split(".")[:2] == ["toolkit", "cli"]}
    offenders = {
        name: sorted(i for i in _imports(name, path) if i.split(".")[:2] == ["toolkit", "cli"])
        for name, path in MODULES.items()
        if name not in above
    }
    offenders = {name: found for name, found in offenders.items() if found}
    assert not offenders, f"modules below the CLI import it: {offenders}"


TRANSPORT_NAMES = frozenset({*TRANSPORTS, "ses", "ses-bulk", "pinpoint", "smtp"})
REGISTRY = "toolkit.transports.registry"


def _string_literals(node: ast.AST) -> set[str]:
    """The string constants ``node`` is, or holds as a tuple/list/set display."""
    items = node.elts if isinstance(node, ast.Tuple | ast.List | ast.Set) else [node]
    return {i.value for i in items if isinstance(i, ast.Constant) and isinstance(i.value, str)}


def _names_via(node: ast.AST) -> bool:
    return (isinstance(node, ast.Name) and node.id == "via") or (
        isinstance(node, ast.Attribute) and node.attr == "via"
    )


def _via_comparisons(source: str) -> list[str]:
    """Comparisons (``==``, ``in``, ``match``/``case``) of ``via`` with a string literal, or of
    anything with a transport's name as a literal."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Compare):
            sides = [node.left, *node.comparators]
            literals = set().union(*(_string_literals(s) for s in sides))
            if literals & TRANSPORT_NAMES or (literals and any(_names_via(s) for s in sides)):
                found.append(f"line {node.lineno}: {ast.unparse(node)}")
        elif isinstance(node, ast.Match):
            for case in node.cases:
                values = [p.value for p in ast.walk(case.pattern) if isinstance(p, ast.MatchValue)]
                literals = set().union(*(_string_literals(v) for v in values))
                if literals & TRANSPORT_NAMES or (literals and _names_via(node.subject)):
                    found.append(f"line {case.pattern.lineno}: case {ast.unparse(case.pattern)}")
    return found


def _name_lists(source: str) -> list[str]:
    """Set, tuple and list displays that list transports: a set holding a transport's name, or
    a display of string literals only, two or more of them transport names (a second list of
    transports, however it is later used: ``SES_API = frozenset({"ses", "ses-bulk"})``)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Tuple | ast.List | ast.Set):
            continue
        literals = _string_literals(node)
        named = literals & TRANSPORT_NAMES
        only_literals = len(literals) == len(node.elts)
        if (isinstance(node, ast.Set) and named) or (only_literals and len(named) >= 2):
            found.append(f"line {node.lineno}: {ast.unparse(node)}")
    return found


#: The sandbox is the provider's side: its interfaces ("ses-api", "ses-bulk", "pinpoint",
#: "smtp") are its own names for what it serves, not the toolkit's transports.
_OWN_NAMES = "toolkit.sandbox"


def test_only_the_registry_lists_transport_names() -> None:
    """A list of transport names outside the registry is a second registry: a new transport
    (or a renamed one) would silently miss it. Ask the registry (``ses_v2_api``, ...)."""
    offenders = {
        name: found
        for name, path in MODULES.items()
        if name != REGISTRY
        and not name.startswith(_OWN_NAMES)
        and (found := _name_lists(path.read_text(encoding="utf-8")))
    }
    assert not offenders, "ask the registry instead of listing transports:\n" + "\n".join(
        f"{name}: {line}" for name, lines in sorted(offenders.items()) for line in lines
    )


def test_the_list_rule_sees_each_shape() -> None:
    caught = [
        'SES_API = frozenset({"ses", "ses-bulk"})',
        'APIS = ("ses", "pinpoint")',
        'x = ["smtp", "ses-bulk", "other"]',
        'if via in {"smtp"}: pass',
    ]
    for source in caught:
        assert _name_lists(source), source
    for source in ('key = ("smtp", host, port)', 'parts = ("/v2/", "ses")', 'k = ("a", "b")'):
        assert not _name_lists(source), source


def test_only_the_registry_compares_via_with_a_transport_name() -> None:
    """What a transport is (SMTP or an AWS API, Pinpoint or SES) is asked of its
    ``TransportKind`` (``over_smtp``, ``through_pinpoint``); a ``via == "smtp"`` elsewhere is a
    second list of transports that a new one would silently miss."""
    offenders = {
        name: found
        for name, path in MODULES.items()
        if name != REGISTRY and (found := _via_comparisons(path.read_text(encoding="utf-8")))
    }
    assert not offenders, "compare via through the registry instead:\n" + "\n".join(
        f"{name}: {line}" for name, lines in sorted(offenders.items()) for line in lines
    )


def test_the_via_rule_sees_each_shape() -> None:
    """The rule above must catch what it forbids (else it proves little)."""
    caught = [
        'if via == "smtp": pass',
        'if ns.via != "x": pass',
        'ok = kind.endpoint in ("aws", "smtp")',
        'ok = "pinpoint" in vias',
        'match via:\n    case "ses-bulk": pass',
    ]
    for source in caught:
        assert _via_comparisons(source), source
    assert not _via_comparisons('if kind.over_smtp and name == "other": pass')
