"""The documentation cannot drift from the code: the generated pages (CLI, settings, Python
API, results) equal a fresh generation, the CLI page names every subcommand and option of the
parser and the settings page every declared setting, every documented command line parses,
every code example runs (or says why not), the README stays short and its links resolve, and
the site builds in strict mode where MkDocs is installed."""

from __future__ import annotations

import importlib.util
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import ROOT

DOCS = ROOT / "docs"


def load_gen():
    spec = importlib.util.spec_from_file_location("docs_gen", DOCS / "gen.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# The pages people read, the README and the two root files the site includes. The generated
# Python API page is left out: its blocks are signatures, compared with a fresh generation.
def prose_pages() -> list[Path]:
    pages = [ROOT / "README.md", ROOT / "CONTRIBUTING.md", ROOT / "CHANGELOG.md"]
    return pages + sorted(p for p in DOCS.glob("**/*.md") if p != DOCS / "reference" / "api.md")


MARK = re.compile(r"<!--\s*example:\s*(.*?)\s*-->\s*\n\s*$")


def blocks() -> list[tuple[str, str, str, str]]:
    """(page, language, code, marker) of every fenced block; marker is the text of an
    ``<!-- example: ... -->`` comment right above the block, or ''."""
    found = []
    for page in prose_pages():
        text = page.read_text()
        for m in re.finditer(r"^```(\w*)\n(.*?)^```", text, re.S | re.M):
            before = MARK.search(text[:m.start()])
            found.append((str(page.relative_to(ROOT)), m.group(1), m.group(2), before.group(1) if before else ""))
    return found


def command_lines(code: str) -> list[str]:
    """A shell block's commands: continuations joined, comments and blank lines dropped."""
    joined = code.replace("\\\n", " ")
    out = []
    for line in joined.splitlines():
        line = line.split(" #")[0].strip()
        if line and not line.startswith("#"):
            out.append(line)
    return out


def studio_args(line: str) -> list[str] | None:
    """The arguments after ``-m gtzan_core`` (or ``gtzan-studio``) on a command line, else None."""
    words = shlex.split(line)
    for i, w in enumerate(words):
        if w == "gtzan-studio" and all(re.fullmatch(r"\w+=\S*", v) for v in words[:i]):  # the command, not a tag
            return words[i + 1:]
        if w == "-m" and i + 1 < len(words) and words[i + 1] == "gtzan_core":
            return words[i + 2:]
    return None


# --- generated pages ------------------------------------------------------------------------

def test_the_generated_pages_are_what_the_code_generates_now():
    gen = load_gen()
    assert gen.stale() == [], "run `python docs/gen.py`"


def test_a_stale_page_is_caught(tmp_path, monkeypatch):
    gen = load_gen()
    for name in gen.PAGES:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(DOCS / name, tmp_path / name)
    page = tmp_path / "reference" / "settings.md"
    page.write_text(page.read_text().replace("GTZAN_STUDIO_MAX_JOBS", "GTZAN_STUDIO_MAX_JOB"))
    monkeypatch.setattr(gen, "DOCS", tmp_path)
    assert gen.stale() == ["reference/settings.md"]
    assert gen.main(["--check"]) == 1


def test_the_cli_page_lists_every_subcommand_and_every_option_of_the_parser():
    from gtzan_core.cli.parser import build_parser

    gen = load_gen()
    text = (DOCS / "reference" / "cli.md").read_text()
    sections = dict(re.findall(r"^## (\S+)\n(.*?)(?=^## |\Z)", text, re.S | re.M))
    commands = gen.subcommands(build_parser())
    assert len(commands) >= 19 and list(sections) == list(commands)
    for name, sub in commands.items():
        for action in sub._actions:
            for flag in action.option_strings:
                if flag not in ("-h", "--help"):
                    assert f"`{flag}`" in sections[name], f"{name} {flag} is not on the CLI page"
            if not action.option_strings:
                assert f"`{action.metavar or action.dest}`" in sections[name]


def test_the_cli_page_names_every_registered_model():
    from gtzan_core.models import MODELS

    head = (DOCS / "reference" / "cli.md").read_text().split("## ")[0]
    assert len(MODELS) >= 14 and all(f"`{name}`" in head for name in MODELS)


def test_the_settings_page_lists_every_declared_setting_and_nothing_else():
    from gtzan_core.settings import SETTINGS

    text = (DOCS / "reference" / "settings.md").read_text()
    listed = re.findall(r"^\| `(GTZAN_STUDIO_\w+)` \|", text, re.M)
    assert listed == list(SETTINGS)


def test_the_results_page_holds_every_shipped_result_file_and_the_papers_rows():
    from gtzan_core.paper_results import paper_results
    from gtzan_core.reproduction.result_files import shipped_dir

    text = (DOCS / "results.md").read_text()
    shipped = sorted(p.name for p in shipped_dir().glob("*.json"))
    assert shipped and all(f"`{name}`" in text for name in shipped)
    assert text.count("paper · ") >= len(paper_results())


def test_the_architecture_page_names_every_module():
    """A module added to the library and not to the layout fails here (the layout once left out
    the vector kind, the Transformer and the vector models)."""
    text = (DOCS / "architecture.md").read_text()
    named = set(re.findall(r"`([A-Za-z_][\w./]*)", text))
    missing = []
    for pkg in ("", "inputs", "models", "runs", "jobs", "training", "search"):
        for path in sorted((ROOT / "gtzan_core" / pkg).iterdir()):
            name = path.stem if path.suffix == ".py" else path.name if (path / "__init__.py").is_file() else ""
            if name and not name.startswith("_") and not any(n == name or n.rstrip("/").split("/")[-1] == name
                                                             for n in named):
                missing.append(f"{pkg}/{name}".lstrip("/"))
    assert missing == []


# --- the README ----------------------------------------------------------------------------

def test_the_readme_is_short_and_its_links_resolve():
    text = (ROOT / "README.md").read_text()
    assert len(text.splitlines()) <= 200
    assert "python -m pytest -n 2" in text and "streamlit run app.py" in text
    links = re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text)
    assert any(link.startswith("docs/") for link in links)
    for link in links:
        if not link.startswith("http"):
            assert (ROOT / link).exists(), link
    image = ROOT / "docs" / "img" / "home.png"
    assert image.stat().st_size < 300_000


# --- code examples -------------------------------------------------------------------------

def test_every_code_example_runs_or_says_why_not():
    """Every block (but a usage line, ``text``) runs in a test (``<!-- example: runs ... -->``)
    or says why it is not run (``<!-- example: not run, ... -->``); its studio commands are
    parsed with the CLI's parser all the same (the next test)."""
    unmarked = [f"{page}: {code.splitlines()[0]}" for page, lang, code, marker in blocks()
                if lang != "text" and not marker.startswith(("runs", "not run, "))]
    assert unmarked == []


def test_every_documented_studio_command_parses():
    from gtzan_core.cli.parser import build_parser

    parser = build_parser()
    checked = 0
    for page, lang, code, _ in blocks():
        if lang != "bash":
            continue
        for line in command_lines(code):
            args = studio_args(line)
            if args is None or "--help" in args:
                continue
            try:
                parser.parse_args(args)
            except SystemExit:
                pytest.fail(f"{page}: `{line}` does not parse")
            checked += 1
    assert checked >= 15


def test_examples_run_by_other_tests_name_a_test_that_reads_their_page():
    for page, _, _, marker in blocks():
        m = re.match(r"runs in (tests/\S+\.py)", marker)
        if m:
            assert Path(page).name in (ROOT / m.group(1)).read_text(), (page, m.group(1))


def _studio_env(tmp_path) -> dict:
    return {**os.environ, "PYTHONPATH": str(ROOT), "GTZAN_STUDIO_OFFLINE": "1",
            "GTZAN_STUDIO_HOME": str(tmp_path / "home"), "GTZAN_STUDIO_RUNS": str(tmp_path / "runs")}


@pytest.mark.heavy
def test_the_examples_marked_runs_run(tmp_path):
    ran = 0
    for page, lang, code, marker in blocks():
        if marker != "runs":
            continue
        if lang == "python":
            cmds = [[sys.executable, "-c", code]]
        else:
            cmds = [[sys.executable if w == "python" else w for w in shlex.split(line)] for line in command_lines(code)]
        for cmd in cmds:
            proc = subprocess.run(cmd, cwd=tmp_path, env=_studio_env(tmp_path), capture_output=True, text=True,
                                  timeout=300)
            assert proc.returncode == 0, f"{page}: {cmd[-1][:80]}\n{proc.stderr[-2000:]}"
            ran += 1
    assert ran >= 3


# --- the site -------------------------------------------------------------------------------

def test_the_site_builds_in_strict_mode(tmp_path):
    pytest.importorskip("mkdocs", reason="mkdocs is not installed (pip install mkdocs-material; .ci/run does)")
    pytest.importorskip("material", reason="mkdocs-material is not installed (pip install mkdocs-material)")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    proc = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-d", str(tmp_path / "site")],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert (tmp_path / "site" / "reference" / "cli" / "index.html").is_file()


def test_the_api_page_documents_every_public_function_with_its_signature():
    import inspect

    from gtzan_core import api

    text = (DOCS / "reference" / "api.md").read_text()
    assert list(api.__all__) == re.findall(r"^## (\w+)$", text, re.M)
    for name in api.__all__:
        for param in inspect.signature(getattr(api, name)).parameters:
            assert re.search(rf"studio\.{name}\(.*\b{param}\b", text), (name, param)


def test_the_model_count_the_readme_and_the_registry_state_is_the_registrys():
    """The README and the registry's docstring once said "Nine models in two families" when there
    were more: the count in words is checked against the registry."""
    import gtzan_core.models as models

    words = dict(enumerate(["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
                            "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen",
                            "eighteen", "nineteen", "twenty"]))
    families = {spec.family for spec in models.MODELS.values()}
    claim = f"{words[len(models.MODELS)]} models in {words[len(families)]} families"
    assert claim in " ".join((ROOT / "README.md").read_text().split())
    assert claim.capitalize() in " ".join((models.__doc__ or "").split())
