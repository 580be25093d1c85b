"""One incident's page: details, map data, history; editors move it on, viewers only look."""

import json
import re

import pytest

from gridmap.store import Workspace


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
    assert "is now Accepted" in page  # the flash message
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
