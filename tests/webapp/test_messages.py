"""Engine refusals on web pages: worded for a web user, in Chinese for Chinese pages.

The workbench shows the engine's edit refusals (contiguity, community lines, empty grids, grids
that do not touch, locked grids) and plan-run refusals (a range no whole number of grids fits)
as its scripts receive them; these tests ask for them as the page would, in English and in
Chinese, and check that neither speaks the command line's language (``--flags``, function
calls).  The workbench's own input checks (a range without its target, bad numbers, a community
left without grids) are worded the same way, and every text the web refuses with is in the
catalogue with the same fields.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from web.i18n import CATALOGUE
from web.messages import MESSAGES, word

API = "/workbench/api"
ZH = {"Accept-Language": "zh-CN,zh;q=0.9"}
EN = {"Accept-Language": "en-US,en;q=0.8"}
CLI = re.compile(r"(?<![\w-])--[a-z]|\w+\(.*\)|skip_bad|editor\.")
SNAKE = re.compile(r"\b[a-z]+_[a-z_]+\b")
CJK = re.compile(r"[\u4e00-\u9fff]")
WEB = Path(__file__).resolve().parents[2] / "web"


@pytest.fixture(scope="module")
def app(make_app, street_copy):
    return make_app(street_copy)


@pytest.fixture(scope="module")
def editor(app, client_as):
    return client_as(app, "editor")


@pytest.fixture(scope="module")
def token(editor):
    page = editor.get("/workbench").get_data(as_text=True)
    return re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)


@pytest.fixture(scope="module")
def post(editor, token):
    def send(path, body=None, lang=EN):
        headers = {"X-CSRFToken": token, "Accept": "application/json", **lang}
        return editor.post(API + path, json=body or {}, headers=headers)

    return send


@pytest.fixture(scope="module")
def draft(post):
    """A redraw of the published plan, its grids and units."""
    response = post("/run", {"mode": "redraw", "target": 400, "minimum": 300, "maximum": 500})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


@pytest.fixture(scope="module")
def street(editor, draft):
    """Units (index -> grid, community, touching units) and grids (code -> community, units)."""
    features = editor.get(f"{API}/{draft['draft']}/units").get_json()["features"]
    units = {f["properties"]["unit"]: f["properties"] for f in features}
    grids: dict[str, dict] = {}
    for unit, p in units.items():
        grid = grids.setdefault(p["code"], {"community": p["community"], "units": []})
        grid["units"].append(unit)
    for code, grid in grids.items():
        grid["neighbours"] = {
            units[v]["code"] for u in grid["units"] for v in units[u]["touches"]
        } - {code}
    return units, grids


def _refusal(response):
    assert response.status_code == 400, response.get_json()
    body = response.get_json()
    assert body["message"] and body["fix"]
    text = f"{body['message']} {body['fix']}"
    assert not CLI.search(text), text
    return text


def _cases(street):
    """One request per kind of refusal: (name, path, body)."""
    units, grids = street
    codes = sorted(grids)
    a = codes[0]
    near = sorted(
        c for c in grids[a]["neighbours"] if grids[c]["community"] == grids[a]["community"]
    )
    same = [c for c in codes if grids[c]["community"] == grids[a]["community"]]
    apart = next(c for c in same if c != a and c not in grids[a]["neighbours"])
    other = next(c for c in codes if grids[c]["community"] != grids[a]["community"])
    unit = grids[a]["units"][0]
    touched = {units[v]["code"] for v in units[unit]["touches"]}
    return {
        "not_touching": ("/move", {"units": [unit], "to": next(
            c for c in same if c != a and c not in touched
        )}),
        "crosses_community": ("/move", {"units": [unit], "to": other}),
        "leaves_grid_empty": ("/move", {"units": grids[a]["units"], "to": near[0]}),
        "merge_not_neighbours": ("/merge", {"keep": a, "other": apart}),
        "merge_across_communities": ("/merge", {"keep": a, "other": other}),
        "merge_itself": ("/merge", {"keep": a, "other": a}),
        "unknown_grid": ("/split", {"code": "510104090001999"}),
        "nothing_to_undo": ("/undo", {}),
        "nothing_to_redo": ("/redo", {}),
    }  # fmt: skip


ENGLISH = {
    "not_touching": "does not touch unit",
    "crosses_community": "a grid never crosses a community line",
    "leaves_grid_empty": "without units",
    "merge_not_neighbours": "do not touch: merged, they would be in two pieces",
    "merge_across_communities": "a grid never crosses a community line",
    "merge_itself": "cannot be merged with itself",
    "unknown_grid": "Grid 510104090001999 does not exist.",
    "nothing_to_undo": "There is nothing to undo.",
    "nothing_to_redo": "There is nothing to redo.",
}
CHINESE = {
    "not_touching": "不相邻：移入后网格将分成几块",
    "crosses_community": "网格不能跨越社区界线",
    "leaves_grid_empty": "没有任何单元",
    "merge_not_neighbours": "不相邻：合并后将分成两块",
    "merge_across_communities": "网格不能跨越社区界线",
    "merge_itself": "不能与自身合并",
    "unknown_grid": "网格 510104090001999 不存在。",
    "nothing_to_undo": "没有可撤销的调整。",
    "nothing_to_redo": "没有可重做的调整。",
}


@pytest.mark.parametrize("kind", sorted(ENGLISH))
def test_edit_refusals_in_english_are_worded_for_the_page(post, draft, street, kind):
    path, body = _cases(street)[kind]
    text = _refusal(post(f"/{draft['draft']}{path}", body, EN))
    assert ENGLISH[kind] in text
    assert not re.search(r"[\u4e00-\u9fff]", text)


@pytest.mark.parametrize("kind", sorted(CHINESE))
def test_edit_refusals_in_chinese(post, draft, street, kind):
    path, body = _cases(street)[kind]
    text = _refusal(post(f"/{draft['draft']}{path}", body, ZH))
    assert CHINESE[kind] in text, text


def test_edits_of_a_locked_grid_are_refused_in_both_languages(post, draft, street):
    # after the tests above: its lock and unlock give the draft something to undo
    _, grids = street
    code = sorted(grids)[0]
    neighbour = sorted(grids[code]["neighbours"])[0]
    assert post(f"/{draft['draft']}/lock", {"code": code}).status_code == 200
    try:
        english = _refusal(post(f"/{draft['draft']}/merge", {"keep": neighbour, "other": code}))
        assert f"Grid {code} is locked." in english and "“Unlock grid”" in english
        chinese = _refusal(post(f"/{draft['draft']}/merge", {"keep": neighbour, "other": code}, ZH))
        assert f"网格 {code} 已锁定。" in chinese and "“解锁网格”" in chinese
        again = _refusal(post(f"/{draft['draft']}/lock", {"code": code}, ZH))
        assert f"网格 {code} 已经锁定。" in again
    finally:
        assert post(f"/{draft['draft']}/unlock", {"code": code}).status_code == 200


@pytest.mark.parametrize(
    ("lang", "words"),
    [
        (EN, ["no whole number of grids gives 395–405 per grid", "Widen the allowed range"]),
        (ZH, ["任何整数个网格都无法使每格在 395–405 之间", "住户数为", "请放宽允许范围"]),
    ],
)
def test_a_range_no_plan_can_meet_is_refused_in_the_pages_language(post, lang, words):
    body = {"mode": "afresh", "target": 400, "minimum": 395, "maximum": 405}
    text = _refusal(post("/run", body, lang))
    for expected in words:
        assert expected in text, text


@pytest.mark.parametrize(
    ("lang", "words"),
    [
        (EN, ["2 grids cannot cover 7 communities", "Ask for at least 7 grids"]),
        (ZH, ["7", "社区"]),
    ],
)
def test_too_few_grids_for_the_communities_is_refused_in_the_pages_language(post, lang, words):
    text = _refusal(post("/run", {"mode": "afresh", "grids": 2}, lang))
    for expected in words:
        assert expected in text, text
    assert not CLI.search(text) and (lang is EN or CJK.search(text))
    assert "--grids" not in text


def test_every_message_has_a_chinese_translation_with_the_same_fields(app):
    from web.i18n import CATALOGUE

    field = re.compile(r"\{(\w+)")
    for code, texts in MESSAGES.items():
        for text in texts:
            assert text in CATALOGUE, f"{code}: no Chinese for {text!r}"
            assert set(field.findall(CATALOGUE[text])) == set(field.findall(text)), code
            assert not CLI.search(text), text


def test_unknown_codes_and_unfit_params_keep_the_engines_text(app):
    with app.test_request_context(headers=ZH):
        app.preprocess_request()
        assert word("", {}, "engine text.", "engine fix.") == ("engine text.", "engine fix.")
        assert word("no_such_code", {}, "text.", "fix.") == ("text.", "fix.")
        assert word("merge_itself", {}, "text.", "fix.") == ("text.", "fix.")  # no {grid}
        message, fix = word("merge_itself", {"grid": "A", "neighbours": ["B", "C"]}, "t", "f")
        assert message == "网格 A 不能与自身合并。" and fix == "请与其相邻网格之一合并：B、C。"


# ------------------------------------------------------------------ the workbench's input checks


@pytest.fixture(scope="module")
def community(editor):
    """A community of the street: (code, name)."""
    first = editor.get("/api/street").get_json()["communities"][0]
    return first["code"], first["name"]


def _run_cases(community):
    """Run requests the page's form can send that the workbench refuses: (body, en, zh)."""
    code, name = community
    return {
        "range without its target": (
            {"target": 400, "minimum": 450, "maximum": 500},
            ["the range 450-500 does not hold the target 400.", "give minimum <= target"],
            ["范围 450–500 不包含目标 400。", "请使下限 ≤ 目标 ≤ 上限"],
        ),
        "negative target": (
            {"target": -5},
            ["target must be a number greater than 0, not -5.", "enter a number greater than 0"],
            ["目标必须是大于 0 的数字，而不是 -5。", "请为目标填写大于 0 的数字。"],
        ),
        "empty maximum typed as text": (
            {"maximum": "abc"},
            ["maximum must be a number greater than 0, not abc."],
            ["上限必须是大于 0 的数字，而不是 abc。"],
        ),
        "fractional number of grids": (
            {"mode": "afresh", "grids": "2.5"},
            ["number of grids must be a whole number greater than 0, not 2.5."],
            ["网格总数必须是大于 0 的整数，而不是 2.5。", "请为网格总数填写大于 0 的整数。"],
        ),
        "too many grids": (
            {"mode": "afresh", "grids": 5000},
            ["number of grids must be at most 999, not 5000.", "ask for at most 999 grids."],
            ["网格总数最多为 999，不能是 5000。", "网格数最多为 999 个。"],
        ),
        "a community left without grids": (
            {"mode": "afresh", "per_community": {code: ""}},
            [f"no number of grids is given for community {name}.", "(1 or more)"],
            [f"未填写社区 {name} 的网格数。", "请为每个社区填写网格数（1 或以上）。"],
        ),
        "a community with zero grids": (
            {"mode": "afresh", "per_community": {code: "0"}},
            [f"the number of grids of community {name} must be a whole number greater than 0"],
            [f"社区 {name} 的网格数必须是大于 0 的整数，而不是 0。"],
        ),
    }


@pytest.mark.parametrize("lang", [EN, ZH], ids=["en", "zh"])
@pytest.mark.parametrize(
    "case",
    ["range without its target", "negative target", "empty maximum typed as text",
     "fractional number of grids", "too many grids", "a community left without grids",
     "a community with zero grids"],
)  # fmt: skip
def test_run_requests_of_the_page_are_refused_in_its_language(post, community, case, lang):
    body, english, chinese = _run_cases(community)[case]
    text = _refusal(post("/run", body, lang))
    assert not SNAKE.search(text), text  # the page's words, not the API's keys
    for words in chinese if lang is ZH else english:
        assert words in text, text
    assert bool(CJK.search(text.replace(community[1], ""))) == (lang is ZH), text


@pytest.mark.parametrize(
    ("body", "english", "chinese"),
    [
        ({"mode": "afresh", "per_community": {"999": 3}},
         "per_community names unknown communities: 999.", "per_community 中有未知社区：999。"),
        ({"mode": "sideways"}, "mode 'sideways' is not one of redraw, afresh.",
         "方式 'sideways' 不是以下之一：redraw, afresh。"),
        ({"mode": "afresh", "locked": ["510104090001001"]},
         "locked grids apply to a redraw of the published plan.",
         "锁定网格仅适用于在已发布方案基础上调整。"),
    ],
)  # fmt: skip
def test_requests_of_other_clients_are_refused_in_their_language(post, body, english, chinese):
    assert post("/run", body, EN).get_json()["message"] == english
    answer = post("/run", body, ZH).get_json()
    assert answer["message"] == chinese and CJK.search(answer["fix"])


def test_a_lost_draft_is_404_in_the_pages_language(post):
    english = post("/feedc0ffee00/undo", {}, EN)
    assert english.status_code == 404
    assert english.get_json()["message"] == "there is no draft 'feedc0ffee00' of editor."
    assert "“Run”" in english.get_json()["fix"]
    chinese = post("/feedc0ffee00/undo", {}, ZH).get_json()
    assert chinese["message"] == "用户 editor 没有草稿 'feedc0ffee00'。"
    assert "“运行”" in chinese["fix"]


def _refusal_texts(path: Path) -> list[str]:
    """The English texts of every ``refusal(status, message, fix, ...)`` call of a module.

    A text given as a name is looked up among the string constants that name is assigned in
    the same function; anything else (an f-string) cannot be translated and fails the test.
    """
    texts = []
    for function in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not isinstance(function, ast.FunctionDef):
            continue
        assigned: dict[str, list[str]] = {}
        for node in ast.walk(function):
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant):
                for target in node.targets:
                    if isinstance(target, ast.Name):
                        assigned.setdefault(target.id, []).append(node.value.value)
        for node in ast.walk(function):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "refusal":
                for arg in node.args[1:3]:
                    if isinstance(arg, ast.Constant):
                        texts.append(arg.value)
                    elif isinstance(arg, ast.Name) and arg.id in assigned:
                        texts.extend(assigned[arg.id])
                    else:
                        raise AssertionError(f"{path.name}: refusal text {ast.unparse(arg)}")
    return texts


def test_every_refusal_of_the_web_has_its_chinese_with_the_same_fields():
    from web.workbench import FIELDS

    field = re.compile(r"\{(\w+)")
    texts = [text for path in sorted(WEB.glob("*.py")) for text in _refusal_texts(path)]
    assert len(texts) > 30  # the workbench's and the API's, at least
    words = [*FIELDS.values(), "a whole number", "a number",
             "the number of grids of community {name}"]  # fmt: skip
    for text in [*texts, *words]:
        assert text in CATALOGUE, f"no Chinese for {text!r}"
        assert set(field.findall(CATALOGUE[text])) == set(field.findall(text)), text
        assert CJK.search(CATALOGUE[text]), text


def test_grids_out_of_range_warning_in_both_languages(app):
    from gridmap.errors import Problem
    from web.messages import problem_text

    grids = [{"code": "510104090007008", "community": "510104090007", "weight": 297.0}]
    params = {"count": 1, "minimum": 300.0, "maximum": 500.0, "weight_name": "households",
              "grids": grids, "widened_minimum": 297.0, "widened_maximum": 500.0}  # fmt: skip
    problem = Problem("warning", "1 grid(s) are out...", "widen (--min/--max)",
                      code="grids_out_of_range", params=params)  # fmt: skip
    with app.test_request_context(headers=EN):
        app.preprocess_request()
        message, fix = problem_text(problem)
    assert message == "Grids outside 300-500 households (1): 510104090007008 (297)."
    assert "297-500" in fix and "Grids per community" in fix and not CLI.search(fix)
    with app.test_request_context(headers=ZH):
        app.preprocess_request()
        message, fix = problem_text(problem)
    assert message.startswith("超出 300-500") and "510104090007008 (297)" in message
    assert "297-500" in fix and "各社区网格数" in fix


@pytest.mark.parametrize(
    ("code", "params", "english", "chinese"),
    [
        ("redraw_out_of_range",
         {"count": 1, "minimum": 300.0, "maximum": 500.0, "weight_name": "households",
          "grids": [{"code": "510104090002003", "weight": 512.0}]},
         "Grids still outside 300-500 households (1): 510104090002003 (512).", "仍超出 300-500"),
        ("community_range_infeasible",
         {"community": "510104090003", "side": False, "total": 520.0, "minimum": 300.0,
          "maximum": 500.0},
         "Community 510104090003 has 520 households", "社区 510104090003 有 520 户"),
        ("community_range_infeasible",
         {"community": "510104090003", "side": True, "total": 520.0, "minimum": 300.0,
          "maximum": 500.0},
         "One side of community 510104090003", "被禁止跨越的障碍分开的一侧"),
    ],
)  # fmt: skip
def test_redraw_warnings_in_both_languages(app, code, params, english, chinese):
    from gridmap.errors import Problem
    from web.messages import problem_text

    problem = Problem("warning", "engine text", "engine fix (gridmap partition)", code=code,
                      params=params)  # fmt: skip
    with app.test_request_context(headers=EN):
        app.preprocess_request()
        message, fix = problem_text(problem)
    assert message.startswith(english) and not CLI.search(fix)
    with app.test_request_context(headers=ZH):
        app.preprocess_request()
        message, fix = problem_text(problem)
    assert chinese in message and CJK.search(fix)


def test_a_split_refused_under_an_open_ended_range_names_no_infinity(app):
    from gridmap.errors import GridmapError
    from web.messages import error_text

    params = {"grid": "A", "total": 448.0, "halves": [219.0, 229.0], "minimum": 300.0,
              "maximum": float("inf"), "weight": "households", "need": 600.0, "smaller": 219.0,
              "larger": 229.0, "reason": "open"}  # fmt: skip
    error = GridmapError("engine text", fix="engine fix", code="split_out_of_range", params=params)
    for headers, expected in ((EN, "two grids of at least 300 need at least 600"),
                              (ZH, "两个至少 300 的网格至少需要 600")):  # fmt: skip
        with app.test_request_context(headers=headers):
            app.preprocess_request()
            message, _fix = error_text(error)
        assert expected in message and "inf" not in message
