"""One incident's page: details, map data, history; editors move it on, viewers only look.

A step the engine refuses (a move the status does not allow, an escalation past the street or
of a finished incident) is a message on the page in the page's language, naming statuses and
levels as the page does ("in progress", "处理中"), never as codes or command-line advice.
"""

import html
import itertools
import json
import re

import geopandas as gpd
import pytest

from gridmap.incidents import transition
from gridmap.store import Workspace

ZH = {"Accept-Language": "zh-CN,zh;q=0.9"}
EN = {"Accept-Language": "en-US,en;q=0.8"}

#: What a page message must not show: status or level codes, command-line advice.
NOT_FOR_PAGES = re.compile(
    r"\b[a-z]+_[a-z_]+\b|(?<![\w-])--[a-z]|\w+\(.*\)|gridmap |WORKSPACE|handling_level"
)


@pytest.fixture(scope="module")
def app(make_app, street_copy):
    return make_app(street_copy, TILES="none")


@pytest.fixture(scope="module")
def open_incident(street_copy):
    ws = Workspace(street_copy)
    row = (
        ws.connect()
        .execute(
            "SELECT id, grid_code FROM incidents WHERE status = 'reported' "
            "AND grid_code IS NOT NULL ORDER BY fid LIMIT 1"
        )
        .fetchone()
    )
    ws.close()
    return row


def _csrf(page):
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def test_a_viewer_sees_the_incident_but_no_buttons(app, client_as, open_incident):
    incident_id, grid = open_incident
    page = client_as(app, "viewer").get(f"/incidents/{incident_id}").get_data(as_text=True)
    assert f'data-id="{incident_id}"' in page and 'data-status="reported"' in page
    assert "transition-form" not in page and 'id="escalate"' not in page
    config = json.loads(re.search(r'id="incident-config">(.*?)</script>', page).group(1))
    assert config["grid"]["type"] in ("Polygon", "MultiPolygon") and len(config["point"]) == 2
    assert f"/grids/{grid}" in page


def test_an_editor_moves_it_on_and_the_history_grows(app, client_as, open_incident):
    incident_id, _ = open_incident
    editor = client_as(app, "editor")
    page = editor.get(f"/incidents/{incident_id}").get_data(as_text=True)
    assert 'id="to-accepted"' in page and 'id="to-in_progress"' not in page  # only next steps
    response = editor.post(
        f"/incidents/{incident_id}/transition",
        data={"status": "accepted", "note": "on my way", "csrf_token": _csrf(page)},
    )
    assert response.status_code == 302
    page = editor.get(f"/incidents/{incident_id}").get_data(as_text=True)
    assert 'data-status="accepted"' in page and "on my way" in page
    assert f"Incident {incident_id} is now accepted." in page  # the flash message
    assert 'id="to-in_progress"' in page


def test_a_refused_step_is_a_message_not_an_error_page(app, client_as, open_incident):
    incident_id, _ = open_incident
    editor = client_as(app, "editor")
    page = editor.get(f"/incidents/{incident_id}").get_data(as_text=True)
    response = editor.post(
        f"/incidents/{incident_id}/transition",
        data={"status": "closed", "csrf_token": _csrf(page)},
        follow_redirects=True,
    )
    assert response.status_code == 200
    text = response.get_data(as_text=True)
    assert "Refused:" in text and "Traceback" not in text


def test_escalation_moves_the_level_up(app, client_as, open_incident):
    incident_id, _ = open_incident
    editor = client_as(app, "editor")
    page = editor.get(f"/incidents/{incident_id}").get_data(as_text=True)
    assert 'data-level="grid"' in page
    editor.post(f"/incidents/{incident_id}/escalate", data={"csrf_token": _csrf(page)})
    page = editor.get(f"/incidents/{incident_id}?lang=zh").get_data(as_text=True)
    assert 'data-level="community"' in page and "社区" in page
    editor.get("/?lang=en")


def test_viewers_cannot_post_and_unknown_ids_are_404(app, client_as, open_incident):
    incident_id, _ = open_incident
    viewer = client_as(app, "viewer")
    page = viewer.get(f"/incidents/{incident_id}").get_data(as_text=True)
    response = viewer.post(
        f"/incidents/{incident_id}/transition",
        data={"status": "accepted", "csrf_token": _csrf(page)},
    )
    assert response.status_code == 403
    missing = viewer.get("/incidents/NOPE", headers={"Accept": "text/html"})
    assert missing.status_code == 404 and "NOPE" in missing.get_data(as_text=True)


def test_the_grid_page_links_its_incidents(app, client_as, open_incident):
    _, grid = open_incident
    page = client_as(app, "viewer").get(f"/grids/{grid}").get_data(as_text=True)
    assert re.search(r'href="/incidents/[^"]+"', page)


@pytest.fixture(scope="module")
def incident_in(street_copy):
    """``incident_in(status)``: a new incident reported inside a grid, moved to that status."""
    ws = Workspace(street_copy)
    point = ws.read_layers(["incidents"])["incidents"].dropna(subset=["grid_code"]).geometry
    steps = {"reported": [], "in_progress": ["accepted", "in_progress"],
             "closed": ["accepted", "in_progress", "resolved", "closed"]}  # fmt: skip
    made = itertools.count(1)

    def make(status: str) -> str:
        incident_id = f"PAGE-{next(made):03d}"
        frame = gpd.GeoDataFrame(
            {"id": [incident_id], "category": ["noise"], "source": ["hotline"]},
            geometry=[point.iloc[0]],
            crs=point.crs,
        )
        assert ws.add_incidents(frame)["added"].tolist() == [True]
        for step in steps[status]:
            transition(ws, incident_id, step, actor="setup")
        return incident_id

    yield make
    ws.close()


def _flash(response) -> str:
    """The page's flash message (after the redirect)."""
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    found = re.search(r'<div class="gm-flash" role="status">(.*?)</div>', page, re.S)
    assert found, "no message on the page"
    text = html.unescape(re.sub(r"<[^>]+>", " ", found.group(1))).strip()
    assert "Traceback" not in page and not NOT_FOR_PAGES.search(text), text
    return text


def _step(client, incident_id, action, lang, **data):
    page = client.get(f"/incidents/{incident_id}", headers=lang).get_data(as_text=True)
    return client.post(
        f"/incidents/{incident_id}/{action}",
        data={"csrf_token": _csrf(page), **data},
        headers=lang,
        follow_redirects=True,
    )


REFUSALS = {
    # name: (status of the incident, action, form, English words, Chinese words)
    "a status not next": (
        "reported", "transition", {"status": "closed"},
        ["Incident {id} is reported: it cannot become closed.",
         "Mark it as one of: accepted, rejected, duplicate."],
        ["事件 {id} 当前为“已上报”，不能变为“已办结”。",
         "请标记为以下之一：已受理、已驳回、重复。"],
    ),
    "a status not next, in progress": (
        "in_progress", "transition", {"status": "accepted"},
        ["Incident {id} is in progress: it cannot become accepted.",
         "Mark it as one of: resolved."],
        ["事件 {id} 当前为“处理中”，不能变为“已受理”。", "请标记为以下之一：已解决。"],
    ),
    "a final status": (
        "closed", "transition", {"status": "in_progress"},
        ["Incident {id} is closed, which is final: it cannot become in progress.",
         "Report a new incident"],
        ["事件 {id} 当前为“已办结”，已结束，不能再变为“处理中”。", "请重新上报一个事件"],
    ),
    "an unknown status": (
        "reported", "transition", {"status": "done"},
        ["“done” is not an incident status.", "statuses: reported, accepted, in progress, "
         "resolved, closed, rejected, duplicate"],
        ["“done”不是事件状态。", "已上报、已受理、处理中、已解决、已办结、已驳回、重复"],
    ),
    "no status": (
        "reported", "transition", {},
        ["No new status was chosen.", "one of the page's buttons"],
        ["未选择新的状态。", "请用页面上的按钮标记事件。"],
    ),
    "escalating a finished incident": (
        "closed", "escalate", {},
        ["Incident {id} is closed: a finished incident is not escalated.",
         "Report a new incident"],
        ["事件 {id} 当前为“已办结”：已结束的事件不能上报上一级。", "请重新上报一个事件"],
    ),
}  # fmt: skip


@pytest.mark.parametrize("lang", [EN, ZH], ids=["en", "zh"])
@pytest.mark.parametrize("name", sorted(REFUSALS))
def test_refused_steps_are_worded_for_the_page_in_its_language(
    app, client_as, incident_in, name, lang
):
    status, action, form, english, chinese = REFUSALS[name]
    incident_id = incident_in(status)
    text = _flash(_step(client_as(app, "editor"), incident_id, action, lang, **form))
    if lang is ZH:
        assert text.startswith("未执行："), text
    else:
        assert text.startswith("Refused: ") and not re.search(r"[\u4e00-\u9fff]", text), text
    for words in chinese if lang is ZH else english:
        assert words.format(id=incident_id) in text, text


@pytest.mark.parametrize("lang", [EN, ZH], ids=["en", "zh"])
def test_escalation_stops_at_the_street_with_a_message_in_the_pages_language(
    app, client_as, incident_in, lang
):
    incident_id = incident_in("reported")
    editor = client_as(app, "editor")
    first = _flash(_step(editor, incident_id, "escalate", lang))
    second = _flash(_step(editor, incident_id, "escalate", lang))
    third = _flash(_step(editor, incident_id, "escalate", lang))
    if lang is ZH:
        assert first == f"事件 {incident_id} 现由社区处理。"
        assert second == f"事件 {incident_id} 现由街道处理。"
        assert third == (f"未执行：事件 {incident_id} 已由街道处理，这是最高层级。 — "
                         "请在街道层级处理。")  # fmt: skip
    else:
        assert first == f"Incident {incident_id} is handled by the community now."
        assert second == f"Incident {incident_id} is handled by the street now."
        assert third == (f"Refused: Incident {incident_id} is already handled by the street, "
                         "the highest level. — Handle it at the street level.")  # fmt: skip


def test_a_step_made_is_announced_in_the_pages_language(app, client_as, incident_in):
    incident_id = incident_in("reported")
    editor = client_as(app, "editor")
    english = _flash(_step(editor, incident_id, "transition", EN, status="accepted"))
    assert english == f"Incident {incident_id} is now accepted."
    chinese = _flash(_step(editor, incident_id, "transition", ZH, status="in_progress"))
    assert chinese == f"事件 {incident_id} 现为“处理中”。"
