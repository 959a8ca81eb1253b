"""The test suite's own shape: tests filed by area (folders that mirror the library's
packages, the app, the browser, hostile input, the project), tools in one helpers package,
fixtures in one conftest; no test file imports another test file."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.helpers import ROOT

TESTS = ROOT / "tests"
#: The areas a test file lives in, besides ``unit/<package>/``.
AREAS = {"app", "e2e", "hostile", "project"}


def suite_files() -> list[Path]:
    return sorted(p for p in TESTS.rglob("test_*.py") if "helpers" not in p.parts)


def imported_modules(path: Path, source: str | None = None) -> set[str]:
    """Every module ``path`` (or ``source``, as if it were at ``path``) imports from, anywhere in it."""
    out = set()
    package = ".".join(path.relative_to(ROOT).with_suffix("").parts[:-1])
    for node in ast.walk(ast.parse(path.read_text() if source is None else source)):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = package
            for _ in range(max(node.level - 1, 0)):
                base = base.rpartition(".")[0]
            out.add((f"{base}.{node.module}" if node.module else base) if node.level else node.module)
    return out


def test_every_test_file_is_filed_by_area():
    misplaced = []
    for path in suite_files():
        area = path.relative_to(TESTS).parts
        if len(area) == 3 and area[0] == "unit":
            package = area[1]
            library = ROOT / "gtzan_core" / package
            # unit/<package> mirrors gtzan_core/<package>/; unit/core holds the top-level modules' tests
            if package != "core" and not (library / "__init__.py").is_file():
                misplaced.append(f"{path.relative_to(ROOT)}: no package gtzan_core/{package}")
        elif not (len(area) == 2 and area[0] in AREAS):
            misplaced.append(str(path.relative_to(ROOT)))
    assert len(suite_files()) > 50 and not misplaced, misplaced


def test_every_test_folder_is_a_package():
    """So that two areas may each hold a ``test_models.py`` without pytest confusing them."""
    missing = sorted(str(p.parent.relative_to(ROOT)) for p in suite_files() if not (p.parent / "__init__.py").is_file())
    assert not missing, missing


def test_no_test_file_imports_another_test_file_or_the_conftest():
    """Tools come from ``tests.helpers``; fixtures reach a test by name from ``tests/conftest.py``."""
    found = {}
    for path in [*suite_files(), *(TESTS / "helpers").glob("*.py"), TESTS / "conftest.py"]:
        bad = sorted(m for m in imported_modules(path)
                     if m and m.startswith("tests.") and not (m == "tests.helpers" or m.startswith("tests.helpers.")))
        if bad:
            found[str(path.relative_to(ROOT))] = bad
    assert not found, found


def test_the_import_check_can_fail():
    """The check above sees a test file that imports another one, inside a function too, and relatively."""
    probe = TESTS / "unit" / "core" / "test_probe.py"
    source = "def test_x():\n    from tests.unit.core.test_audio import x\n    from .test_splits import y\n"
    assert {"tests.unit.core.test_audio", "tests.unit.core.test_splits"} <= imported_modules(probe, source)


def test_fixtures_are_defined_in_the_conftest_alone():
    """A fixture a second file needs would be imported from the first; one place holds them all,
    except fixtures a single test file keeps to itself (module-scoped setups)."""
    names: dict[str, list[str]] = {}
    for path in suite_files():
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.FunctionDef) and any(
                    "fixture" in ast.unparse(d) for d in node.decorator_list):
                names.setdefault(node.name, []).append(str(path.relative_to(ROOT)))
    conftest = {n.name for n in ast.parse((TESTS / "conftest.py").read_text()).body
                if isinstance(n, ast.FunctionDef)}
    shadowing = {n: files for n, files in names.items() if n in conftest}
    assert not shadowing, f"fixtures defined again beside the conftest's: {shadowing}"
