"""Visitors' strings are text (issue 30): display names follow one set of rules and a
look-alike of a claimed name is refused as taken; every string a visitor controls (a
name, a run's title, a file or folder name, a field of an imported run) is drawn as
text, never read as Markdown or HTML: in the helpers, in what the pages hand
Streamlit (AppTest), and in what a real browser draws (Chromium)."""

from __future__ import annotations

import contextlib
import json
import re
import secrets
import time

import pandas as pd
import pytest
from hypothesis import given, settings, strategies as st
from streamlit.testing.v1 import AppTest

from gtzan_core.classroom import names
from gtzan_core.classroom.names import NameRegistry, check_name, looks_alike, name_problem, normalise_name
from gtzan_core.classroom.tokens import TokenBook
from gtzan_core.errors import StudioError
from gtzan_core.hparams import make_config
from gtzan_core.plots import figure_text, probabilities_figure
from gtzan_core.runs import RunStore, lifecycle
from gtzan_core.webapp.formatting import WORD_JOINER, empty_jobs_text, md_code, md_frame, md_text, plain_text, run_label
from tests.helpers import CHROMIUM, ROOT, headless_chromium

#: Names that must never be claimed: Markdown, HTML, LaTeX, shortcodes, bidirectional and zero-width
#: characters, invisible letters, control characters. Each is refused, saying why.
HOSTILE_NAMES = {
    "![](http://127.0.0.1:9/t.png)x": "start it with a letter or a digit",
    "x![](http://127.0.0.1:9/t.png)": "U+0021 EXCLAMATION MARK cannot be in a name",
    "[Admin: reset here](https://example.com/x)": "at most 40 characters",
    "[Admin](https://example.com)": "start it with a letter or a digit",
    "Admin [reset](http://e.com)": "U+005B LEFT SQUARE BRACKET cannot be in a name",
    "<img src=x onerror=alert(1)>": "start it with a letter or a digit",
    "bob<b>bold</b>": "U+003C LESS-THAN SIGN cannot be in a name",
    "**bold**": "start it with a letter or a digit",
    "a*b*c": "U+002A ASTERISK",
    "bob :smile:": "U+003A COLON",
    "x $e^x$": "U+0024 DOLLAR SIGN",
    "bob`code`": "U+0060 GRAVE ACCENT",
    "a|b": "U+007C VERTICAL LINE",
    "alice\u202eecila": "U+202E RIGHT-TO-LEFT OVERRIDE",
    "bob\u2066x\u2069": "U+2066 LEFT-TO-RIGHT ISOLATE",
    "ali\u200dce": "U+200D ZERO WIDTH JOINER",
    "ali\u200bce": "U+200B ZERO WIDTH SPACE",
    "ali\u00adce": "U+00AD SOFT HYPHEN",
    "bob\x07": "U+0007",
    "\u3164\u3164": "is not a name",
    "bob\u3164": "draws nothing",
    "e\u0301\u0301\u0301\u0301\u0301": "too many accents or marks",
    "\u0301bob": "is not a name: start it with a letter or a digit",
    "   ": "at least one letter or digit",
    "---": "is not a name",
    "x" * 41: "at most 40 characters",
}
#: Names people have, in many scripts: accepted as they are (after NFKC).
GOOD_NAMES = ["alice", "Zoë", "José María", "李小龙", "O'Brien", "anna-lena_2", "J. R. R. Tolkien", "Nguyễn Văn An",
              "देवनागरी", "Ёлка", "محمد", "x" * 40]
#: Look-alikes of a claimed "alice": refused as taken.
ALICE_LOOKALIKES = ["аlice",  # Cyrillic а
                    "alіce",  # Ukrainian і
                    "ΑLICE",  # Greek capital alpha
                    "a1ice", "aIice", "ALICE", "ａｌｉｃｅ", "  alice  "]


# -- the rules of names ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name,why", HOSTILE_NAMES.items())
def test_a_hostile_name_is_refused_saying_why(name, why):
    assert why in name_problem(name)
    with pytest.raises(StudioError, match=re.escape(why)):
        check_name(name)
    with pytest.raises(StudioError, match=re.escape(why)):
        NameRegistry().claim(name, "a passcode")
    assert NameRegistry().claimed() == []


@pytest.mark.parametrize("name", GOOD_NAMES)
def test_names_of_every_script_are_accepted(name):
    assert name_problem(name) is None
    assert NameRegistry().claim(name, "a passcode") == name and NameRegistry().verify(name, "a passcode")


def test_names_are_normalised_nfkc_with_spaces_collapsed():
    assert normalise_name("  ａｌｉｃｅ \t  ﬁsher ") == "alice fisher"  # fullwidth letters, a ligature
    assert check_name("Zoe\u0308") == "Zoë"  # composed
    assert normalise_name("line\nbreak") == "line break"


@pytest.mark.parametrize("lookalike", ALICE_LOOKALIKES)
def test_a_lookalike_of_a_claimed_name_is_refused_as_taken(lookalike):
    registry = NameRegistry()
    registry.claim("alice", "alice's passcode")
    with pytest.raises(StudioError, match="already taken"):
        registry.claim(lookalike, "mallory's passcode")
    assert registry.claimed() == ["alice"]
    assert not registry.verify(lookalike, "mallory's passcode")


def test_lookalikes_by_the_skeleton_and_names_that_only_resemble():
    for a, b in [("mary", "rnary"), ("bob", "B0B"), ("bill", "bi11"), ("lan", "Ian"), ("ΑΒΓ", "ABГ")]:
        assert looks_alike(a, b) and looks_alike(b, a)
    for a, b in [("alice", "alicia"), ("alice", "alíce"), ("bob", "bobby"), ("ann", "anne")]:
        assert not looks_alike(a, b)
    registry = NameRegistry()  # either way round: the look-alike claimed first takes the name
    registry.claim("rnary", "first")
    with pytest.raises(StudioError, match="it looks like 'rnary'"):
        registry.claim("mary", "second")


def test_the_confusables_table_is_unicodes_and_never_maps_to_a_mapped_character():
    table = names._confusables()
    assert len(table) > 2000 and table["а"] == "a" and table["0"] == "O" and table["m"] == "rn"
    assert not [s for s, t in table.items() if any(c in table for c in t)]  # TR39's prototypes are fixed points


def old_claim(name: str, passcode: str) -> None:
    """A name claimed by a studio of before these rules: stored under its old key."""
    path = names.studio_home() / "names.json"
    data = json.loads(path.read_text()) if path.exists() else {"names": {}}
    salt = secrets.token_bytes(16)
    data["names"][names.clean_name(name).casefold()] = {
        "name": names.clean_name(name), "salt": salt.hex(), "hash": names._hash(passcode, salt, names.SCRYPT).hex(),
        **names.SCRYPT, "claimed": time.time()}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))


def test_a_name_claimed_before_the_rules_still_signs_in_and_can_be_reset():
    old_claim("![](http://127.0.0.1:9/t.png)x", "old passcode")
    old_claim("ａｌｉｃｅ", "alice's")  # fullwidth: NFKC makes it "alice", the old key keeps its width
    registry = NameRegistry()
    assert registry.find("![](http://127.0.0.1:9/t.png)x") == "![](http://127.0.0.1:9/t.png)x"
    assert registry.verify("![](http://127.0.0.1:9/t.png)x", "old passcode")
    assert registry.verify("ａｌｉｃｅ", "alice's") and registry.find("ＡＬＩＣＥ") == "ａｌｉｃｅ"
    registry.claim("carol", "carol's")  # the old rules dropped a zero-width joiner; "car" ZWJ "ol" is not carol
    assert registry.find("car\u200dol") is None and "ZERO WIDTH JOINER" in registry.claim_problem("car\u200dol")
    with pytest.raises(StudioError, match="already taken"):  # its look-alike (its NFKC form) is taken
        registry.claim("alice", "mallory's")
    book = TokenBook()  # and the sign-in token of an old name verifies
    assert book.verify(book.issue("![](http://127.0.0.1:9/t.png)x")) == "![](http://127.0.0.1:9/t.png)x"
    old = "![](http://127.0.0.1:9/t.png)x"
    assert registry.reset(old) and not registry.is_claimed(old)
    with pytest.raises(StudioError, match="start it with a letter"):  # reset, it is claimed under today's rules
        registry.claim("![](http://127.0.0.1:9/t.png)x", "old passcode")


# -- drawn as text: the helpers ----------------------------------------------------------------------------------

ESCAPE = re.compile(r"\\([!-/:-@\[-`{-~])")  # CommonMark's backslash escapes
#: What starts Markdown wherever it stands (emphasis, code, links, images, HTML, autolinks, headings, tables,
#: strikethrough, LaTeX, entities) and the escape itself.
ANYWHERE = set("\\`*[]<#|~$&")


def shown(markdown: str) -> str:
    """The characters Markdown made of escapes only draws: escapes read, word joiners drawn as nothing."""
    return ESCAPE.sub(r"\1", markdown).replace(WORD_JOINER, "").replace("  \n", "\n")


def tokens(markdown: str) -> list[tuple[bool, str]]:
    """``markdown`` as (escaped?, character) pairs."""
    out, i = [], 0
    while i < len(markdown):
        if markdown[i] == "\\" and i + 1 < len(markdown) and ESCAPE.match(markdown, i):
            out.append((True, markdown[i + 1]))
            i += 2
        else:
            out.append((False, markdown[i]))
            i += 1
    return out


def nothing_can_start(markdown: str) -> None:
    """No unescaped character of ``markdown`` can start a Markdown construct (see md_text)."""
    for line in markdown.split("  \n"):
        toks = tokens(line)
        raw = "".join(c if not esc else "\0" for esc, c in toks)  # an escaped character: no syntax
        for k, (esc, c) in enumerate(toks):
            if esc:
                continue
            assert c not in ANYWHERE, (c, line)
            if c == "_":
                assert 0 < k < len(toks) - 1 and raw[k - 1].isalnum() and raw[k + 1].isalnum(), line
        # bare addresses, shortcodes and directives are found after escapes are read: a word joiner breaks them
        plain = "".join(c for _, c in toks)
        assert "://" not in plain and not re.search(r"(?<![^\W_])www\.", plain, re.I), line
        assert not re.search(r":[\w+/-]", plain) and not re.search(r"[-.\w+]@", plain), line
        assert not re.match(r"[-+=>]|\d{1,9}[.)](\s|$)", raw), line
        assert "\n" not in line and not line.startswith(" ") and not line.endswith(" ")


markdown_heavy = st.lists(st.sampled_from(list("*_[]()!<>#|~$&@:/.\\`-+=>{}^\"' aZé09\n\t\r")
                                          + ["www.", "http://", ":smile:", "1. ", "\u202e", "\u2060", "\x00"]),
                          max_size=40).map("".join)


@settings(max_examples=300, deadline=None)
@given(st.one_of(markdown_heavy, st.text(max_size=60)))
def test_md_text_escapes_every_construct_and_draws_the_same_characters(text):
    md = md_text(text)
    nothing_can_start(md)
    lines = [" ".join(plain_text(line).split()) for line in re.split("\r\n|[\n\r\u2028\u2029]", text)]
    assert shown(md) == "\n".join(line for line in lines if line).replace(WORD_JOINER, "")


def test_md_text_of_hostile_strings():
    wj = WORD_JOINER
    assert md_text("![](http://127.0.0.1:9/t.png)x") == f"!\\[\\](http:{wj}//127.0.0.1:{wj}9/t.png)x"
    assert md_text("[Admin: reset](https://e.com/x)") == f"\\[Admin: reset\\](https:{wj}//e.com/x)"
    assert md_text("www.e.com, WWW.e.com, a@b.co") == f"www{wj}.e.com, WWW{wj}.e.com, a{wj}@b.co"
    assert md_text("<img src=x>") == "\\<img src=x>" and md_text("&lt;") == "\\&lt;"
    assert md_text(":smile: :red[x]") == f":{WORD_JOINER}smile: :{WORD_JOINER}red\\[x\\]"
    assert md_text("$x$ # h | a ~b~ `c`") == "\\$x\\$ \\# h \\| a \\~b\\~ \\`c\\`"
    assert md_text("- item") == "\\- item" and md_text("1. item") == "1\\. item" and md_text("> q") == "\\> q"
    assert md_text("bob\u202eevil") == "bobevil" and md_text("a\x1b[31mb") == "a [31mb".replace("[", "\\[")
    # ordinary messages read as they are: only what could start Markdown is escaped
    plain = "wrong passcode for 'alice' (wrong try 1; after 5, every try waits longer): images_original/ 3.5 s"
    assert md_text(plain) == plain


@given(st.text(max_size=40))
def test_md_code_holds_exactly_its_characters(text):
    code = md_code(text)
    body = plain_text(text)
    if not body:
        assert code == ""
        return
    fence = re.match(r"`+", code).group()
    assert code.endswith(fence) and "`" * len(fence) not in code[len(fence):-len(fence)]
    inner = code[len(fence):-len(fence)]
    if inner.startswith(" ") and inner.endswith(" ") and inner.strip(" "):
        inner = inner[1:-1]  # CommonMark strips one space each side
    assert inner == body.replace(":material/", ":" + WORD_JOINER + "material/")


def test_md_frame_escapes_cells_index_and_column_names_and_keeps_numbers():
    df = pd.DataFrame({"[t](x)": ["**b**", "ok"], "n": [1.5, 2.0]}, index=["<i>", "c"])
    out = md_frame(df)
    assert list(out.columns) == ["\\[t\\](x)", "n"] and list(out.index) == ["\\<i>", "c"]
    assert out.iloc[0, 0] == "\\*\\*b\\*\\*" and out["n"].tolist() == [1.5, 2.0]
    assert df.iloc[0, 0] == "**b**"  # a copy


def test_plain_text_figures_and_labels_hold_no_controls_or_markup():
    assert plain_text("a\u202eb\nc\td") == "ab c d"
    assert figure_text("<a href='http://e.com'>x</a> & co") == "&lt;a href='http://e.com'&gt;x&lt;/a&gt; &amp; co"
    record = {"run_id": "r1", "model": "cnn", "title": "CNN\u202e <b>x</b>", "protocol": "track"}
    assert "\u202e" not in run_label(record) and "<b>x</b>" in run_label(record)  # a select box draws text

    class Result:
        title, probs = "<a href='http://127.0.0.1:9/'>evil</a>", [0.1] * 10

    fig = probabilities_figure({"run-abcdef": Result()})
    assert fig.data[0].name == "&lt;a href='http://127.0.0.1:9/'&gt;evil&lt;/a&gt; · abcdef"


def test_train_says_whose_jobs_there_are_as_text():
    now = 1000.0
    records = [{"owner": "[x](http://e.com)", "status": "queued"}, {"owner": "**bob**", "status": "running"}]
    text = empty_jobs_text(records, "carol_", "mine", now=now)
    assert text == ("No jobs of yours (carol\\_) in the last hour. The recent jobs belong to others "
                    "(1 of \\*\\*bob\\*\\*, "
                    f"1 of \\[x\\](http:{WORD_JOINER}//e.com)): choose **everyone's** to see them.")


# -- drawn as text: what the pages hand Streamlit (AppTest) ------------------------------------------------------

HOSTILE_OWNER = "![](http://127.0.0.1:9/t.png)x"
HOSTILE_TITLE = "[Admin: reset here](https://example.com/x) **big** <img src=x> :smile: $e^x$ www.example.com"
HOSTILE_ERROR = "failed: see [the fix](https://example.com/fix) ![](http://127.0.0.1:9/e.png)"


def hostile_job(store: RunStore, owner: str = HOSTILE_OWNER) -> str:
    """A job of ``owner``, titled ``HOSTILE_TITLE``, that failed with ``HOSTILE_ERROR`` before its first epoch."""
    rid = lifecycle.create(store, {"model": "mlp", "title": HOSTILE_TITLE, "protocol": "track", "owner": owner,
                                   "config": make_config("mlp", epochs=3).as_dict(), "history": [],
                                   "job": {"data_path": None, "image_source": "auto", "extra": {}},
                                   "queue_owner": None})
    lifecycle.fail(store, rid, HOSTILE_ERROR)
    return rid


def app(page: str) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60).run()
    at.switch_page(f"pages/{page}.py")
    return at.run()


def type_name(at: AppTest, name: str) -> AppTest:
    at.sidebar.text_input(key="name-input").input(name)
    return at.run()


def test_the_sign_in_refuses_hostile_names_and_lookalikes_before_asking_a_passcode(classroom):
    registry = NameRegistry()
    registry.claim("alice", "alice's passcode")
    at = app("train")  # one visitor trying one name after another
    for name, why in [("![](http://127.0.0.1:9/t.png)x", "start it with a letter"),
                      ("ali\u200dce", "U+200D ZERO WIDTH JOINER"), ("аlice", "it looks like 'alice'"),
                      ("a1ice", "it looks like 'alice'")]:
        type_name(at, name)
        assert not at.exception
        [error] = at.sidebar.error
        assert why in registry.claim_problem(name) and error.value == md_text(registry.claim_problem(name))
        assert not [t for t in at.sidebar.text_input if t.key == "passcode-input"]  # no claim offered
    type_name(at, "ALICE")  # alice herself, in capitals: her passcode signs in
    at.sidebar.text_input(key="passcode-input").input("alice's passcode")
    at.sidebar.button(key="name-sign-in").click().run()
    assert "Signed in as **alice**" in " ".join(c.value for c in at.sidebar.caption)


def test_a_name_of_before_the_rules_signs_in_and_shows_as_text(classroom):
    old_claim(HOSTILE_OWNER, "old passcode")
    at = app("train")
    type_name(at, HOSTILE_OWNER)
    assert at.sidebar.text_input(key="passcode-input").label == "Passcode"
    at.sidebar.text_input(key="passcode-input").input("old passcode")
    at.sidebar.button(key="name-sign-in").click().run()
    captions = " ".join(c.value for c in at.sidebar.caption)
    assert f"Signed in as **{md_text(HOSTILE_OWNER)}**" in captions and HOSTILE_OWNER not in captions


def test_personal_mode_refuses_a_hostile_name_in_the_address(demo_app):
    at = demo_app()
    at.query_params["who"] = "[x](http://e.com)"
    at.run()
    assert not at.exception and at.sidebar.text_input(key="visitor-input").value == ""
    assert any("start it with a letter or a digit" in e.value for e in at.sidebar.error)
    at.sidebar.text_input(key="visitor-input").input("Zoë").run()
    assert not at.sidebar.error and at.session_state["visitor"] == "Zoë"


def test_train_and_the_leaderboard_draw_a_hostile_owner_title_and_error_as_text(classroom):
    store = RunStore()
    rid = hostile_job(store)
    train = app("train")
    assert not train.exception
    [card] = [m.value for m in train.markdown if rid in m.value]
    assert f"**{md_text(HOSTILE_TITLE)}**" in card and f"by **{md_text(HOSTILE_OWNER)}**" in card
    assert HOSTILE_OWNER not in card and "](" not in card.replace("\\](", "")
    assert md_text(HOSTILE_ERROR) in [e.value for e in train.error]
    board = app("leaderboard")
    assert not board.exception
    [pending] = [t.value for t in board.table if "owner" in t.value.columns]  # the jobs without results (st.table)
    assert pending["owner"].tolist() == [md_text(HOSTILE_OWNER)]
    assert pending["model"].tolist() == [md_text(HOSTILE_TITLE)]
    assert pending["where it is"].tolist() == [md_text(HOSTILE_ERROR)]
    owner = board.selectbox(key="board-owner")
    assert HOSTILE_OWNER in owner.options  # a select box draws its options as text: as it is


# -- drawn as text: what a real browser draws ---------------------------------------------------------------------

#: A legacy (pre-rules) claimed name, signed in for the browser test; and what must never be in the page.
LINKS = "a[href*='127.0.0.1:9/'], a[href*='example.com'], a[href^='mailto'], img[src*='127.0.0.1:9/'], img[src$='/x']"


def links_made(page) -> list[str]:
    """The links and images in the page that a visitor's string made (outer HTML, shortened)."""
    return page.eval_on_selector_all(LINKS, "els => els.map(e => e.outerHTML.slice(0, 300))")


def marked_up(page) -> list[str]:
    """The texts of the page's emphasis, strikethrough and heading elements, and its links' and images' addresses."""
    return page.evaluate("""() => [...document.querySelectorAll('[data-testid=stMain] :is(em, del, h4, h5, h6)')]
        .map(e => e.textContent.trim())
        .concat([...document.querySelectorAll('[data-testid=stMain] strong')].map(e => e.textContent.trim()))
        .concat([...document.querySelectorAll('a[href], img[src]')].map(e => e.href || e.src))""")


@pytest.mark.browser
@pytest.mark.heavy
@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (apt-get install chromium)")
def test_in_the_browser_no_visitor_string_becomes_a_link_an_image_or_markup(tiny_features, tmp_path):
    from gtzan_core.jobs import train
    from tests.helpers import RECORD_CANVAS_TEXT, drawn, settle, shots_on_failure, streamlit_server

    home = tmp_path / "home"
    store = RunStore(home / "runs")
    done = train(make_config("mlp", epochs=1, device="cpu"), tiny_features, store)["run_id"]
    store.update(done, owner=HOSTILE_OWNER, title=HOSTILE_TITLE)  # (an imported run's record says what it likes)
    failed = hostile_job(store, owner="[Admin: reset](https://example.com/r)")
    (home / "names.json").parent.mkdir(parents=True, exist_ok=True)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GTZAN_STUDIO_HOME", str(home))
        old_claim(HOSTILE_OWNER, "old passcode")
    requests = []
    with streamlit_server(GTZAN_STUDIO_HOME=str(home), GTZAN_STUDIO_RUNS=str(home / "runs"),
                          GTZAN_STUDIO_MODE="classroom", GTZAN_STUDIO_OFFLINE="1",
                          TORCH_HOME=str(home / "torch-home")) as url, headless_chromium() as browser, \
            contextlib.ExitStack() as stack:
        context = browser.new_context(viewport={"width": 1400, "height": 1600})
        context.add_init_script(RECORD_CANVAS_TEXT)
        context.on("request", lambda r: requests.append(r.url))
        page = context.new_page()
        stack.enter_context(shots_on_failure(context, "visitor-strings"))
        page.goto(f"{url}/train")
        settle(page, 120_000)
        side = page.locator("[data-testid=stSidebar]")
        side.get_by_role("textbox", name="Your name").fill(HOSTILE_OWNER)
        side.get_by_role("textbox", name="Your name").press("Enter")
        side.get_by_role("textbox", name="Passcode").fill("old passcode")
        side.get_by_role("button", name="Sign in").click()
        side.get_by_text("Signed in as").wait_for(timeout=60_000)

        def text_of(locator) -> str:
            return locator.inner_text().replace(WORD_JOINER, "")

        assert HOSTILE_OWNER in text_of(side)
        main = page.locator("[data-testid=stMain]")
        main.get_by_text(done).wait_for(timeout=60_000)
        settle(page)
        seen = text_of(main)
        assert f"by {HOSTILE_OWNER}" in seen and HOSTILE_TITLE in seen
        assert "by [Admin: reset](https://example.com/r)" in seen and HOSTILE_ERROR in seen
        assert not links_made(page), links_made(page)
        assert "big" not in marked_up(page) and page.locator(".katex").count() == 0 and "😄" not in seen

        page.goto(f"{url}/leaderboard")
        settle(page, 60_000)
        main.get_by_text("Jobs without results").click()
        main.locator("[data-testid=stTable]").filter(has_text="where it is").wait_for(timeout=30_000)
        table = text_of(main.locator("[data-testid=stTable]").filter(has_text="where it is"))
        assert "[Admin: reset](https://example.com/r)" in table and HOSTILE_ERROR in table
        grid = [d["text"] for d in drawn(page, "board")]
        for text in (HOSTILE_OWNER, HOSTILE_TITLE):  # the grid (a canvas) drew them as they are, cut to its columns
            assert any(len(t) >= 8 and text.startswith(t.rstrip("…")) for t in grid), (text, grid)
        assert not links_made(page), links_made(page) and page.locator(".katex").count() == 0
        assert not {"big", "e^x"} & set(marked_up(page))
    assert not [u for u in requests if "127.0.0.1:9/" in u or "example.com" in u], requests


def test_a_model_card_shows_an_imported_title_and_a_folder_name_as_text():
    from gtzan_core.share.card import model_card

    record = {"run_id": "r1", "model": "mlp", "status": "finished", "title": "[click](http://evil.example) **x**",
              "dataset": {"label": "<img src=x onerror=alert(1)>"}, "trainable_params": 1, "total_params": 1}
    card = model_card(record)
    first = card.splitlines()[0]
    assert "](http" not in first and "**x**" not in first and "\\[click\\]" in first
    assert re.search(r"(?<!\\)<img", card) is None and "\\<img" in card  # every < escaped
