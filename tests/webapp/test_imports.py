"""The import page: uploads of incidents with a validation report, all-or-nothing by default.

Messages are worded for the web (no command-line flags) and in Chinese for Chinese pages.
"""

import re

import pytest

from gridmap.store import Workspace

HEADER = "id,lon,lat,category,status,priority,reported_at,source,description\n"
GOOD = (
    HEADER + "W1,104.1097,30.6538,noise,reported,normal,2026-11-01 09:00,hotline,loud music\n"
    "W2,104.1116,30.6533,sanitation,reported,normal,2026-11-01 10:00,web,rubbish\n"
)  # both inside grids of the sample street
BAD = GOOD + "W3,104.1092,30.6520,aliens,reported,normal,2026-11-01 11:00,web,ufo\n"
#: Row 2 is about 1.6 km west of the street: outside every grid.
OUTSIDE = (
    HEADER + "X1,104.1097,30.6538,noise,reported,normal,2026-11-02 09:00,hotline,inside\n"
    "X2,104.0800,30.6500,noise,reported,normal,2026-11-02 10:00,hotline,far away\n"
    "X3,104.1092,30.6520,noise,reported,normal,2026-11-02 11:00,hotline,inside too\n"
)
CLI_FLAG = re.compile(r"(?<![\w-])--[a-z]")
ZH = {"Accept-Language": "zh-CN,zh;q=0.9"}
EN = {"Accept-Language": "en-GB,en;q=0.9"}


@pytest.fixture(scope="module")
def app(make_app, street_copy):
    return make_app(street_copy)


@pytest.fixture(scope="module")
def editor(app, client_as):
    return client_as(app, "editor")


def _token(client):
    page = client.get("/imports").get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def _upload(client, text, name="incidents.csv", headers=None, **fields):
    from io import BytesIO

    data = {"kind": "incidents", "coords": "wgs84", "mapping": "", "csrf_token": _token(client)}
    data.update(fields)
    data["file"] = (BytesIO(text.encode("utf-8")), name)
    return client.post(
        "/imports", data=data, content_type="multipart/form-data", headers=headers or {}
    )


def _section(page, ident):
    """The text of the page element with id ``ident`` (tags dropped, whitespace squeezed)."""
    found = re.search(rf'<(\w+)[^>]*id="{ident}"[^>]*>(.*?)</\1>', page, re.S)
    assert found, f"no #{ident} on the page"
    return " ".join(re.sub(r"<[^>]+>", " ", found.group(2)).split())


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
    assert "Row 3: " in _section(page, "import-problems") and "aliens" in page
    assert "/tmp/" not in page and "upload-" not in page  # the temporary path stays hidden
    assert _count(app) == before


def test_skip_bad_rows_imports_the_others_and_lists_the_skipped(app, editor):
    before = _count(app)
    response = _upload(editor, BAD, "bad.csv", skip_bad="on")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert 'data-imported="2"' in page and 'data-skipped="1"' in page
    assert re.search(r"Row 3: .*aliens", _section(page, "import-skipped"))
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


def test_incidents_outside_the_street_are_bad_rows(app, editor):
    before = _count(app)
    response = _upload(editor, OUTSIDE, "outside.csv", headers=EN)
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    refused = _section(page, "import-refused")
    assert "outside.csv: 1 of 3 rows cannot be imported" in refused
    assert "Nothing was imported" in refused
    problems = _section(page, "import-problems")
    assert problems.startswith("Row 2: Outside the street: 1,568 m from the nearest grid")
    assert "farther than the 30 m allowed" in problems and "Check the coordinates" in problems
    assert _count(app) == before


def test_skip_bad_rows_skips_incidents_outside_the_street_and_says_why(app, editor):
    before = _count(app)
    response = _upload(editor, OUTSIDE, "outside.csv", headers=EN, skip_bad="on")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert 'data-imported="2"' in page and 'data-skipped="1"' in page
    skipped = _section(page, "import-skipped")
    assert skipped == (
        "Row 2: Outside the street: 1,568 m from the nearest grid, farther than the 30 m allowed"
    )
    assert 'data-flag="inside">2<' in page and "unassigned" not in page
    assert _count(app) == before + 2
    ws = Workspace(app.config["WORKSPACE"])
    try:
        stored = ws.connect().execute("SELECT id FROM incidents WHERE id LIKE 'X%' ORDER BY id")
        assert [r[0] for r in stored] == ["X1", "X3"]
    finally:
        ws.close()


def _messages(page):
    """The refusal or report of an import page, as text."""
    parts = [_section(page, i) for i in ("import-refused", "import-report") if f'id="{i}"' in page]
    assert parts, "neither a refusal nor a report on the page"
    return " ".join(parts)


BAD_FILES = {
    # name: (text, English words, Chinese words)
    "category.csv": (
        BAD.replace("W1,", "C1,").replace("W2,", "C2,").replace("W3,", "C3,"),
        ["Row 3: The column “category” holds values that are not allowed: “aliens”",
         "Use one of: sanitation,"],
        ["第 3 行：列“category”含有不允许的值：“aliens”", "请使用以下值之一：sanitation、"],
    ),
    "columns.csv": (
        "id,lon,lat,status\nM1,104.1097,30.6538,reported\n",
        ["columns.csv: The required column “category” is missing.", "Nothing was imported.",
         "Add a “category” column, or rename the column that holds it (the file has: “id”, "
         "“lon”, “lat”, “status”).",
         "The required column “reported_at” is missing."],
        ["columns.csv：缺少必需的列“category”。", "请添加“category”列", "未导入任何数据",
         "缺少必需的列“reported_at”"],
    ),
    "coordinates.csv": (
        HEADER + "K1,,30.6538,noise,reported,normal,2026-11-01 09:00,web,x\n"
        "K2,east,30.6538,noise,reported,normal,2026-11-01 09:00,web,x\n"
        "K3,104.1097,30.6538,noise,reported,normal,2026-11-01 09:00,web,x\n"
        "K3,104.1097,30.6538,noise,reported,normal,2026-11-01 09:00,web,x\n",
        ["Row 1: No coordinates (blank “lon”, “lat”).",
         "Row 2: The coordinates in “lon”, “lat” are not numbers.",
         "Rows 3, 4: The id “K3” appears more than once in “id”."],
        ["第 1 行：没有坐标（“lon”、“lat” 为空）。", "第 2 行：“lon”、“lat” 中的坐标不是数字。",
         "第 3、4 行：编号 “K3” 在“id”列中出现多次。"],
    ),
    "nocoords.csv": (
        "id,x\n1,2\n",
        ["nocoords.csv: The file has no coordinate columns (it has: “id”, “x”).",
         "Name the longitude and latitude columns “lon” and “lat”"],
        ["nocoords.csv：文件中没有坐标列（现有列：“id”、“x”）。", "请将经度、纬度列命名为"],
    ),
    "swapped.csv": (
        HEADER + "S1,30.6538,104.1097,noise,reported,normal,2026-11-01 09:00,web,x\n",
        ["The columns “lon”, “lat” hold values outside longitude/latitude ranges",
         "If longitude and latitude are swapped, swap the two columns"],
        ["列 “lon”、“lat” 的数值超出经纬度范围", "如果经度和纬度写反了，请交换这两列"],
    ),
    "garbled.geojson": (
        "this is not json",
        ["garbled.geojson: The file cannot be read as GeoJSON", "Check that the file opens"],
        ["garbled.geojson：无法按 GeoJSON 读取该文件", "请确认文件能在 QGIS 中打开"],
    ),
    "table.xlsx": (
        "a,b\n1,2\n",
        ["table.xlsx: files of this type cannot be imported"],
        ["table.xlsx：不支持此类文件"],
    ),
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(BAD_FILES))
@pytest.mark.parametrize(("lang", "headers"), [("en", EN), ("zh", ZH)])
def test_refusals_speak_the_pages_language_without_command_line_flags(
    app, editor, name, lang, headers
):
    text, english, chinese = BAD_FILES[name]
    before = _count(app)
    response = _upload(editor, text, name, headers=headers)
    assert response.status_code == 400
    shown = _messages(response.get_data(as_text=True))
    for words in english if lang == "en" else chinese:
        assert words in shown, shown
    assert not CLI_FLAG.search(shown), shown
    assert "skip_bad" not in shown and "Fix:" not in shown and "/tmp/" not in shown
    assert _count(app) == before


@pytest.mark.parametrize(("headers", "words"), [
    (EN, ["Row 2: Outside the street", "Row 3: The column “category” holds values",
          "The file has no column “closed_at”; every row got closed_at = (empty)",
          "Grid: Inside"]),
    (ZH, ["第 2 行：在街道范围外：距最近的网格 1,568 米", "第 3 行：列“category”含有不允许的值",
          "文件没有 “closed_at” 列；所有行均取：closed_at = （空）", "网格：在网格内"]),
])  # fmt: skip
def test_the_report_speaks_the_pages_language(app, editor, headers, words):
    lang = "zh" if headers is ZH else "en"
    text = (
        "id,lon,lat,category,status,priority,reported_at,source,description\n"
        f"{lang}1,104.1097,30.6538,noise,reported,normal,2026-11-03 09:00,web,x\n"
        f"{lang}2,104.0800,30.6500,noise,reported,normal,2026-11-03 09:00,web,x\n"
        f"{lang}3,104.1092,30.6520,aliens,reported,normal,2026-11-03 09:00,web,x\n"
    )
    response = _upload(editor, text, f"report-{lang}.csv", headers=headers, skip_bad="on")
    assert response.status_code == 200
    shown = _messages(response.get_data(as_text=True))
    for expected in words:
        assert expected in shown, shown
    assert not CLI_FLAG.search(shown), shown


def test_an_oversize_upload_is_refused_in_chinese_on_the_form(make_app, street_copy, client_as):
    small = client_as(make_app(street_copy, MAX_CONTENT_LENGTH=2000), "editor")
    response = _upload(small, GOOD * 40, "big.csv", headers=ZH)
    assert response.status_code == 413
    page = response.get_data(as_text=True)
    assert 'id="import-form"' in page
    assert "文件超过服务器允许的大小（0.002 MB）" in _section(page, "import-refused")
