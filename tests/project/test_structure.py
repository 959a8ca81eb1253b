"""The library's shape, read from its source with ``ast``: no import cycles (imports
inside functions included), pages never imported by the library, the trainer free of
the run store, and a run's life written by one module."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.helpers import ROOT

PACKAGE = ROOT / "gtzan_core"


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in PACKAGE.rglob("*.py")}


def imports_of(name: str, path: Path, known: set[str]) -> set[str]:
    """The modules of the package that ``path`` imports, anywhere in it (a name imported
    from a package counts as that package's submodule when one has that name)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name in known}
        elif isinstance(node, ast.ImportFrom):
            base = package
            for _ in range(max(node.level - 1, 0)):
                base = base.rpartition(".")[0]
            target = (f"{base}.{node.module}" if node.module else base) if node.level else node.module
            for alias in node.names:
                if f"{target}.{alias.name}" in known:
                    out.add(f"{target}.{alias.name}")
                elif target in known:
                    out.add(target)
    return out - {name}


def graph() -> dict[str, set[str]]:
    mods = modules()
    known = set(mods)
    return {name: imports_of(name, path, known) for name, path in mods.items()}


def cycles(g: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in g.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for v in g:
        if v not in index:
            visit(v)
    return out


def test_the_library_has_no_import_cycles():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]  # the check can fail
    g = graph()
    # a package's face (its __init__) re-exports its own modules: a module's edge to the face of a
    # package it belongs to is the face's business, not a cycle of code
    faces = {name for name, path in modules().items() if path.name == "__init__.py"}
    code = {v: {w for w in ws if not (w in faces and v.startswith(w + "."))} for v, ws in g.items()}
    assert cycles(code) == []


def test_no_cycles_between_the_librarys_packages_and_modules_either():
    """Folded to ``gtzan_core.<top>`` (a subpackage is one node): no two parts need each
    other, even through different modules (``features`` drew pictures with ``spectrogram``
    while ``spectrogram.similarity`` took its resize from ``features``)."""
    def top(m):
        return ".".join(m.split(".")[:2])

    folded: dict[str, set[str]] = {}
    for v, ws in graph().items():
        folded.setdefault(top(v), set()).update(top(w) for w in ws if top(w) != top(v))
    assert cycles(folded) == []


def test_the_training_package_imports_no_run_store_and_no_job():
    """The trainer reports to a sink and returns its outcome; the job's execution
    (gtzan_core.jobs) wires it to the run store."""
    g = graph()
    for name, deps in g.items():
        if name == "gtzan_core.training" or name.startswith("gtzan_core.training."):
            assert not {m for m in deps if m.startswith(("gtzan_core.runs", "gtzan_core.jobs"))}, name


def test_one_public_train():
    """One function called ``train`` in the library (gtzan_core.jobs.recorded; the notebook
    API's train is a layer over the CLI's), none in the training package."""
    found = []
    for name, path in modules().items():
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.FunctionDef) and node.name == "train":
                found.append(name)
    assert sorted(found) == ["gtzan_core.api", "gtzan_core.jobs.recorded"]


def test_pages_and_the_web_layer_are_never_imported_by_the_library():
    for name, deps in graph().items():
        if not name.startswith("gtzan_core.webapp"):
            assert not {d for d in deps if d.startswith("gtzan_core.webapp")}, name
        assert not any(d.startswith("pages") for d in deps), name


def test_status_and_phase_are_written_by_the_lifecycle_alone():
    """No call outside ``runs/lifecycle.py`` passes ``status=`` or ``phase=`` to a store
    write, and no code assigns ``record["status"]``/``["phase"]``."""
    writers = {"update", "write_life", "new_run", "merge", "write_record"}
    found = []
    for name, path in modules().items():
        if name == "gtzan_core.runs.lifecycle":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in writers \
                    and ast.unparse(node.func.value) != "self._state":  # a background task's own state, not a run
                keys = {k.arg for k in node.keywords}
                keys |= {k.value for a in node.args if isinstance(a, ast.Dict) for k in a.keys
                         if isinstance(k, ast.Constant)}
                if keys & {"status", "phase", "finished", "error"}:
                    found.append(f"{name}:{node.lineno}")
            if isinstance(node, ast.Assign):
                for t in node.targets:
                    if isinstance(t, ast.Subscript) and isinstance(t.slice, ast.Constant) and \
                            t.slice.value in ("status", "phase"):
                        found.append(f"{name}:{node.lineno}")
    assert found == []


def test_every_setting_is_read_by_the_settings_module_and_listed_in_the_settings_page():
    from gtzan_core.settings import SETTINGS, settings_table

    readers = []
    for name, path in modules().items():
        if name == "gtzan_core.settings":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            # os.environ.get("GTZAN_STUDIO_X") / os.environ["GTZAN_STUDIO_X"] / env.get("GTZAN_STUDIO_X", ...)
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "get" \
                    and node.args and isinstance(node.args[0], ast.Constant) \
                    and str(node.args[0].value).startswith("GTZAN_STUDIO_") and "environ" in ast.unparse(node.func):
                readers.append(f"{name}:{node.lineno}")
            if isinstance(node, ast.Subscript) and "environ" in ast.unparse(node.value) and \
                    isinstance(node.slice, ast.Constant) and str(node.slice.value).startswith("GTZAN_STUDIO_"):
                readers.append(f"{name}:{node.lineno}")
    assert readers == []
    named = {s for path in modules().values() for s in __import__("re").findall(r"GTZAN_STUDIO_[A-Z_]+[A-Z]",
                                                                                  path.read_text())}
    assert named - {"GTZAN_STUDIO_"} <= set(SETTINGS)  # every variable the library names is declared
    assert settings_table() in (ROOT / "docs" / "reference" / "settings.md").read_text()


# A comparison of a kind with something: `kind == "image"`, `spec.input_kind != "mfcc"`,
# `record.get("input_kind") == "mfcc"`, `kind in ("mfcc", "musicnn")`, `inp.kind not in GRID_KINDS`
# (any name ending in "kind", or the string "input_kind" as a key). A `for kind in ...` loop is
# not a branch.
KIND_BRANCH = __import__("re").compile(
    r"""(?<!for )(?:\b\w*kind\b|["']input_kind["']\)?|["']input_kind["']\])\s*(?:==|!=|\bnot\s+in\b|\bin\b)""")
#: The grep of issue 34: what it finds must be inside gtzan_core/inputs/ only.
ISSUE_GREP = __import__("re").compile(r"kind (==|!=|in \()")


def kind_branches(text: str) -> list[int]:
    return [n for n, line in enumerate(text.splitlines(), 1)
            if KIND_BRANCH.search(line.split("#", 1)[0]) or ISSUE_GREP.search(line)]


def test_the_kind_branch_check_can_fail():
    for line in ('if kind == "image":', 'x = 1 if spec.input_kind != "mfcc" else 2',
                 'if record.get("input_kind") == "mfcc":', 'if input_kind in ("mfcc", "musicnn"):',
                 "if inp.kind not in GRID_KINDS:", 'ok = meta["input_kind"] == "image"',
                 'if self.chord_kind != "minor7":'):
        assert kind_branches(line) == [1], line
    for line in ("for kind in KINDS:", "kind = get_kind(name)", "[k for kind in kinds]",
                 'return {"input_kind": spec.input_kind}', "  # a kind: image, in a comment"):
        assert kind_branches(line) == [], line


def test_what_an_input_kind_is_lives_in_the_input_kinds_alone():
    """No module of the library or the app branches on an input kind's name (or on any
    value called a kind) outside ``gtzan_core/inputs/``: each kind's facts are the kind's."""
    inputs = PACKAGE / "inputs"
    found = []
    for path in [*PACKAGE.rglob("*.py"), *(ROOT / "pages").glob("*.py"), ROOT / "app.py"]:
        if inputs in path.parents:
            continue
        found += [f"{path.relative_to(ROOT)}:{n}" for n in kind_branches(path.read_text())]
    assert found == []


# A dispatch on a kind's or a model's name, whatever the variable is called: a comparison with a
# string (or a tuple, list or set of strings) that is the name of an input kind or a model
# (`unit == "image"`, `model == "musicnn"`, `x in ("mfcc", "vector")`, `model_name != "resnext"`),
# or a `match` case on one. Read with ast: strings in messages, keys and comments are not dispatches.
_OPS = (ast.Eq, ast.NotEq, ast.In, ast.NotIn)
#: the words that name a kind's own inputs, never compared in the modules every kind goes through
KIND_WORDS = ("picture", "png", "render", "patch", "vector", "segment", "window")
#: the modules every kind goes through: they compare no kind's, model's or input's name at all
KIND_FREE = ("gtzan_core/feature_cache.py", "gtzan_core/inference.py", "gtzan_core/training/trainer.py",
             "gtzan_core/data/discovery.py")
#: dispatches found outside the kind and model modules that are not on a kind or a model, each with why
NOT_A_KIND_DISPATCH = {
    "gtzan_core/paper_results.py": "the paper's result rows' own unit ('image': the paper's per-picture rows), "
                                   "a fact of the shipped paper table, not a run's input kind",
    "gtzan_core/audio_features.py": "'mfcc' is a feature group of the handcrafted vector (its MFCC columns)",
    "gtzan_core/reproduction/feature_study.py": "the feature study's own scikit-learn classifiers ('hgb', 'mlp') "
                                                "and the table's 'mfcc' feature group, not the studio's models",
}


def _strings(node) -> set[str]:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return {node.value}
    if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
        return {e.value for e in node.elts if isinstance(e, ast.Constant) and isinstance(e.value, str)}
    return set()


def name_dispatches(text: str, names) -> list[int]:
    """Lines of ``text`` that compare something with one of ``names`` (or match a case on one)."""
    names, out = set(names), set()
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.Compare) and any(isinstance(op, _OPS) for op in node.ops):
            if set().union(*(_strings(n) for n in (node.left, *node.comparators))) & names:
                out.add(node.lineno)
        elif isinstance(node, ast.MatchValue) and _strings(node.value) & names:
            out.add(node.lineno)
    return sorted(out)


def _kind_and_model_names() -> set[str]:
    from gtzan_core.inputs import KINDS
    from gtzan_core.models import MODELS

    return set(KINDS) | set(MODELS)


def test_the_name_dispatch_check_can_fail():
    names = {"image", "musicnn", "mfcc", "resnext", "vector"}
    for line in ('if unit == "image": pass', 'ok = model == "musicnn"', 'ok = x in ("mfcc", "other")',
                 'ok = model_name != "resnext"', 'ok = "vector" not in kinds', 'ok = {"image"} == s',
                 'match m:\n    case "musicnn": pass'):
        assert name_dispatches(line, names), line
    for line in ('x = record.get("input_kind", "mfcc")', 'print("image == musicnn")', 'd = {"mfcc": 1}',
                 'ok = source == "png"', "# unit == 'image'", 'ok = kind is KINDS["image"]'):
        assert name_dispatches(line, names) == [], line


def test_no_module_dispatches_on_a_kinds_or_a_models_name():
    """Outside the kind modules (``gtzan_core/inputs/``) and the model modules
    (``gtzan_core/models/``), nothing compares a value with a kind's or a model's name (a few
    comparisons that are on something else of the same spelling are allowed, each with why);
    the modules every kind goes through (feature cache, inference, trainer, discovery) compare
    none of a kind's input words either."""
    names = _kind_and_model_names()
    found, allowed = [], set()
    for path in [*PACKAGE.rglob("*.py"), *(ROOT / "pages").glob("*.py"), ROOT / "app.py"]:
        rel = str(path.relative_to(ROOT))
        if {"inputs", "models"} & set(path.relative_to(PACKAGE).parts[:-1] if PACKAGE in path.parents else ()):
            continue
        words = names | set(KIND_WORDS) if rel in KIND_FREE else names
        lines = name_dispatches(path.read_text(), words)
        if lines and rel in NOT_A_KIND_DISPATCH:
            allowed.add(rel)
            continue
        found += [f"{rel}:{n}" for n in lines]
    assert found == []
    assert allowed == set(NOT_A_KIND_DISPATCH)  # no stale allowance
    assert not set(KIND_FREE) & set(NOT_A_KIND_DISPATCH)


#: the modules a new input kind needs no edit of: they name no kind at all (issue 43)
NAME_NO_KIND = ("gtzan_core/feature_cache.py", "gtzan_core/inference.py", "gtzan_core/training/trainer.py")


def kind_words_in(text: str) -> list[str]:
    """Every kind's name and its inputs' words (``mfcc``, ``image``, ``musicnn``, ``vector``,
    ``picture``, ``png``, ``patch``) anywhere in ``text``: code, strings, comments, docstrings."""
    import re

    from gtzan_core.inputs import KINDS

    words = sorted({*KINDS, "picture", "png", "patch"}, key=len, reverse=True)
    return [m.group(0) for m in re.finditer("|".join(map(re.escape, words)), text, re.IGNORECASE)]


def test_the_kind_word_check_can_fail():
    assert kind_words_in('fs.mfcc_params  # pictures\n"a PNG" patches.shape vectors') == [
        "mfcc", "picture", "PNG", "patch", "vector"]
    assert kind_words_in("fs.samples(name)  # each kind's rows") == []


def test_the_feature_cache_inference_and_the_trainer_name_no_kind():
    """A new input kind is one module and one registry line: the feature cache, inference and
    the trainer know kinds only through the registry, so none of them names one."""
    found = {rel: kind_words_in((ROOT / rel).read_text()) for rel in NAME_NO_KIND}
    assert {rel: words for rel, words in found.items() if words} == {}


def test_every_model_and_kind_fact_is_on_its_spec_or_its_kind():
    """The per-model tables that lived in other modules are fields of ModelSpec now."""
    from gtzan_core.explain.gradcam import conv_models
    from gtzan_core.inputs import KINDS
    from gtzan_core.models import MODELS
    from gtzan_core.models.weights import RESNEXT_VARIANTS

    assert {n for n, s in MODELS.items() if not s.amp} == {"lstm", "gru"}
    assert set(conv_models()) == {"cnn", "vgg19", "resnext", "squeezenet", "efficientnet_lite0"}
    assert all(s.cpu_epoch_per_100 for s in MODELS.values())
    assert {n for n, s in MODELS.items() if s.cpu_backbone_per_100} == {n for n, s in MODELS.items()
                                                                         if s.frozen_backbone}
    assert MODELS["resnext"].variant_names == RESNEXT_VARIANTS
    assert all(s.input_kind in KINDS and s.kind is KINDS[s.input_kind] for s in MODELS.values())
    for name in ("NO_AMP", "CPU_EPOCH_PER_100", "CPU_BACKBONE_PER_100", "GRID_KINDS", "SAMPLE_UNITS"):
        assert not any(f"{name} =" in p.read_text() for p in PACKAGE.rglob("*.py")), name


def spelled_active(text: str) -> list[int]:
    """Lines holding a tuple, list or set of both "queued" and "running" (strings, or
    ``Status.QUEUED`` / ``Status.RUNNING`` with or without ``.value``): "queued or running"
    spelled by hand."""
    def name(node) -> str | None:
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return node.value
        if isinstance(node, ast.Attribute) and node.attr == "value":
            node = node.value
        if isinstance(node, ast.Attribute) and node.attr in ("QUEUED", "RUNNING"):
            return node.attr.lower()
        return None

    return sorted({node.lineno for node in ast.walk(ast.parse(text))
                   if isinstance(node, (ast.Tuple, ast.List, ast.Set))
                   and {"queued", "running"} <= {name(e) for e in node.elts}})


def test_the_active_check_can_fail():
    for line in ('x = s not in ("queued", "running")', "x = s in [Status.RUNNING.value, Status.QUEUED.value]",
                 "x = self in {Status.QUEUED, Status.RUNNING}"):
        assert spelled_active(line) == [1], line
    for line in ('x = s in ("queued", "finished")', "x = record.active", 'x = s == "running"'):
        assert spelled_active(line) == [], line


def test_queued_or_running_is_defined_once():
    """"Queued or running" is the typed core's (``Status.active``, ``RunRecord.active``,
    ``ACTIVE`` in ``runs/record.py``): no other module of the library or the app spells it."""
    owner = PACKAGE / "runs" / "record.py"
    found = [f"{path.relative_to(ROOT)}:{n}"
             for path in [*PACKAGE.rglob("*.py"), *(ROOT / "pages").glob("*.py"), ROOT / "app.py"]
             if path != owner for n in spelled_active(path.read_text())]
    assert found == []


# -- the pages read the record's attributes ---------------------------------------------

#: Reads in ``pages/`` whose key is also a record field's name but whose receiver is not a
#: record: (page, the receiver as ``ast.unparse`` writes it) -> why.
NOT_RECORDS = {
    ("home.py", "download_job().state()"): "the dataset download's state (its own status and error)",
    ("home.py", "state"): "the dataset download's state (its own status and error)",
    ("home.py", "summary"): "a dataset's summary (data.discovery), not a run",
    ("train.py", "summary"): "a dataset's summary (data.discovery), not a run",
    ("train.py", "summary or {}"): "a dataset's summary (data.discovery), not a run",
    ("train.py", "overrides[m]"): "a model's knob values from the Train form",
    ("train.py", "prog"): "job_progress's dict: what a job's card draws",
    ("leaderboard.py", "job_progress(r)"): "job_progress's dict: what a job's card draws",
    ("predict.py", "a"): "a row of the default answer (ensemble.Answer.runs), not a record",
    ("reproduction.py", "s"): "a transfer study's summary (reproduction.transfer)",
    ("reproduction.py", "r"): "a reproduction's summary (list_reproductions)",
    ("reproduction.py", "info"): "a reproduction's summary (list_reproductions)",
    ("reproduction.py", "doc"): "a shipped result file (reproduction.result_files)",
    ("reproduction.py", "d"): "a shipped result file (reproduction.result_files)",
    ("reproduction.py", "comparison"): "a DataFrame's column",
}


def record_key_reads(text: str, fields: set[str]) -> list[tuple[int, str, str]]:
    """``(line, receiver, key)`` of each ``x["key"]`` and ``x.get("key", ...)`` whose key is
    a record field's name, and of each such read off a record's attribute
    (``r.study.get("label")``: a nested key where the typed field has attributes)."""
    out = []
    for node in ast.walk(ast.parse(text)):
        receiver = key = None
        if isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant):
            receiver, key = node.value, node.slice.value
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "get"
              and node.args and isinstance(node.args[0], ast.Constant)):
            receiver, key = node.func.value, node.args[0].value
        if receiver is None or not isinstance(key, str):
            continue
        off_a_field = isinstance(receiver, ast.Attribute) and receiver.attr in fields
        if key in fields or off_a_field:
            out.append((node.lineno, ast.unparse(receiver), key))
    return out


def test_the_record_read_check_can_fail():
    fields = {"run_id", "owner", "study"}
    for line in ('x = r["run_id"]', "x = runs[rid].get('owner')", 'x = r.get("owner", "nobody")',
                 'x = r.study.get("label")', 'x = r.study["trial"]'):
        assert len(record_key_reads(line, fields)) == 1, line
    for line in ("x = r.run_id", "x = r.owner or 'nobody'", 'x = st.session_state.get("compare_ids")',
                 'x = table["right"]', "x = r.study.label"):
        assert record_key_reads(line, fields) == [], line


def test_pages_read_the_records_attributes_not_its_keys():
    """The pages read a run's record by its typed attributes (``r.owner``, ``r.evaluation``),
    never by a raw key (``r["owner"]``, ``r.get("owner")``) or a key under a typed field: a
    field is then declared in one place (``runs/record.py``) and a renamed or retyped one
    fails here or in the type checker, not on a page. The reads listed in NOT_RECORDS are of
    other dicts that share a field's name, each with its reason."""
    from gtzan_core.runs.record import RECORD

    found = [f"pages/{path.name}:{line}: {receiver}[{key!r}]"
             for path in sorted((ROOT / "pages").glob("*.py"))
             for line, receiver, key in record_key_reads(path.read_text(), set(RECORD))
             if (path.name, receiver) not in NOT_RECORDS]
    assert found == []
    assert all(why for why in NOT_RECORDS.values())


#: The same for the web layer and the CLI: (file, receiver) -> why it is not a record.
NOT_RECORDS_BEYOND_PAGES = {
    ("gtzan_core/webapp/hyperparameters.py", "overrides[name]"): "a model's knob values from the Train form",
    ("gtzan_core/webapp/hyperparameters.py", "d"): "a model's knob values from the Train form",
    ("gtzan_core/webapp/listening.py", "row"): "a track of a run's map (insight.embedding_map)",
    ("gtzan_core/webapp/listening.py", "r"): "a track of a run's map (insight.embedding_map)",
    ("gtzan_core/webapp/resources.py", "state"): "a background job's state (jobs.background)",
    ("gtzan_core/webapp/resources.py", "job.state()"): "a background job's state (jobs.background)",
    ("gtzan_core/webapp/search.py", "figures"): "a study's Optuna figures",
    ("gtzan_core/webapp/search.py", "s"): "a study's summary (search.study)",
    ("gtzan_core/webapp/search.py", "t"): "a trial of a study's summary (search.study)",
    ("gtzan_core/webapp/search.py", "tested"): "a study's tested best trial (search.study)",
    ("gtzan_core/cli/insight.py", "r"): "a track of a run's map (insight.embedding_map)",
    ("gtzan_core/cli/insight.py", "found"): "a run's map (insight.embedding_map)",
    ("gtzan_core/cli/search.py", "before"): "a study's own settings (search.study.existing)",
    ("gtzan_core/cli/search.py", "summary"): "a study's summary (search.study)",
    ("gtzan_core/cli/search.py", "t"): "a trial of a study's summary (search.study)",
    ("gtzan_core/cli/search.py", "tested"): "a study's tested best trial (search.study)",
    ("gtzan_core/cli/study.py", "doc"): "a shipped result file (reproduction.result_files)",
    ("gtzan_core/cli/study.py", "r"): "a row of a shipped result file",
    ("gtzan_core/cli/training.py", "r"): "a model's row of `models` (models.describe_models)",
    ("gtzan_core/cli/use.py", "a"): "a row of the default answer (ensemble.Answer.runs), not a record",
}


def test_the_web_layer_and_the_cli_read_the_records_attributes_too():
    from gtzan_core.runs.record import RECORD

    found = [f"{path.relative_to(ROOT)}:{line}: {receiver}[{key!r}]"
             for folder in (PACKAGE / "webapp", PACKAGE / "cli") for path in sorted(folder.glob("*.py"))
             for line, receiver, key in record_key_reads(path.read_text(), set(RECORD))
             if (str(path.relative_to(ROOT)), receiver) not in NOT_RECORDS_BEYOND_PAGES]
    assert found == []
