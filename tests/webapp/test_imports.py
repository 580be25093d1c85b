"""The import page: uploads of incidents with a validation report, all-or-nothing by default."""

import re

import pytest

from gridmap.store import Workspace

GOOD = (
    "id,lon,lat,category,status,priority,reported_at,source,description\n"
    "W1,104.0800,30.6500,noise,reported,normal,2026-11-01 09:00,hotline,loud music\n"
    "W2,104.0810,30.6510,sanitation,reported,normal,2026-11-01 10:00,web,rubbish\n"
)
BAD = GOOD + "W3,104.0820,30.6520,aliens,reported,normal,2026-11-01 11:00,web,ufo\n"


@pytest.fixture(scope="module")
def app(make_app, street_copy):
    return make_app(street_copy)


@pytest.fixture(scope="module")
def editor(app, client_as):
    return client_as(app, "editor")


def _token(client):
    page = client.get("/imports").get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def _upload(client, text, name="incidents.csv", **fields):
    from io import BytesIO

    data = {"kind": "incidents", "coords": "wgs84", "mapping": "", "csrf_token": _token(client)}
    data.update(fields)
    data["file"] = (BytesIO(text.encode("utf-8")), name)
    return client.post("/imports", data=data, content_type="multipart/form-data")


def _count(app):
    ws = Workspace(app.config["WORKSPACE"])
    try:
        return ws.incident_count()
    finally:
        ws.close()


def test_only_editors_import(app, client_as):
    assert client_as(app, "viewer").get("/imports").status_code == 403
    assert app.test_client().get("/imports").status_code == 302


def test_a_file_with_a_bad_row_imports_nothing_and_names_the_row(app, editor):
    before = _count(app)
    response = _upload(editor, BAD, "bad.csv")
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "Nothing was imported" in page and "bad.csv" in page
    assert "row 3" in page and "aliens" in page
    assert "/tmp/" not in page and "upload-" not in page  # the temporary path stays hidden
    assert _count(app) == before


def test_skip_bad_rows_imports_the_others_and_lists_the_skipped(app, editor):
    before = _count(app)
    response = _upload(editor, BAD, "bad.csv", skip_bad="on")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert 'data-imported="2"' in page and 'data-skipped="1"' in page
    assert re.search(r"row 3</?[^>]*>?: .*aliens|row 3: .*aliens", page)
    assert _count(app) == before + 2
    again = _upload(editor, BAD, "bad.csv", skip_bad="on").get_data(as_text=True)
    assert "imported before" in again and _count(app) == before + 2


@pytest.mark.parametrize(
    ("text", "name", "words"),
    [
        ("", "empty.csv", "is empty"),
        ("a,b\n1,2\n", "table.txt", "cannot be imported"),
        ("id,x\n1,2\n", "nocoords.csv", "nocoords.csv"),
    ],
)
def test_bad_files_are_refused_with_a_reason(app, editor, text, name, words):
    response = _upload(editor, text, name)
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert words in page and "Traceback" not in page


def test_an_upload_without_its_csrf_token_is_refused(app, editor):
    from io import BytesIO

    response = editor.post(
        "/imports",
        data={"kind": "incidents", "file": (BytesIO(GOOD.encode()), "g.csv")},
        content_type="multipart/form-data",
        headers={"Accept": "text/html"},
    )
    assert response.status_code == 400 and "CSRF" in response.get_data(as_text=True)


def test_an_oversize_upload_is_refused_with_the_limit(make_app, street_copy, client_as):
    small = client_as(make_app(street_copy, MAX_CONTENT_LENGTH=2000), "editor")
    response = _upload(small, GOOD * 40, "big.csv")
    assert response.status_code == 413
    page = response.get_data(as_text=True)
    assert "larger than this server accepts" in page and "MAX_CONTENT_LENGTH" in page
