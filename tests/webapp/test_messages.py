"""Engine refusals on web pages: worded for a web user, in Chinese for Chinese pages.

The workbench shows the engine's edit refusals (contiguity, community lines, empty grids, grids
that do not touch, locked grids) and plan-run refusals (a range no whole number of grids fits)
as its scripts receive them; these tests ask for them as the page would, in English and in
Chinese, and check that neither speaks the command line's language (``--flags``, function
calls).
"""

from __future__ import annotations

import re

import pytest

from web.messages import MESSAGES, word

API = "/workbench/api"
ZH = {"Accept-Language": "zh-CN,zh;q=0.9"}
EN = {"Accept-Language": "en-US,en;q=0.8"}
CLI = re.compile(r"(?<![\w-])--[a-z]|\w+\(.*\)|skip_bad|editor\.")


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
