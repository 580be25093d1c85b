"""The exports and import pages in a real browser: downloads and an upload with its report."""

import json

import pytest

pytestmark = pytest.mark.browser


def test_download_grids_as_geojson(new_page, server, page_errors, shot):
    page = new_page("viewer")
    page.goto(f"{server}/exports")
    assert page.locator("#export-households").count() == 0  # household data: editors only
    shot(page, "15-exports")
    with page.expect_download() as info:
        page.click("#download-grids-geojson")
    download = info.value
    assert download.suggested_filename.endswith(".geojson")
    with open(download.path(), encoding="utf-8") as handle:
        collection = json.load(handle)
    assert collection["type"] == "FeatureCollection" and "crs" not in collection
    assert len(collection["features"]) > 50
    assert not page_errors.errors


def test_filtered_incident_export_counts_follow_the_filter(new_page, server, page_errors):
    page = new_page("viewer")
    page.goto(f"{server}/exports")
    everything = int(page.inner_text("#count-incidents").replace(",", ""))
    page.select_option("#export-filters #filter-category", "noise")
    page.click("#filter-apply")
    page.wait_for_url("**category=noise**")
    assert 0 < int(page.inner_text("#count-incidents").replace(",", "")) < everything
    assert not page_errors.errors


def test_an_editor_uploads_incidents(new_page, server, page_errors, shot, tmp_path):
    page = new_page("editor")
    page.goto(f"{server}/imports")
    csv = tmp_path / "hotline.csv"
    csv.write_text(
        "id,lon,lat,category,status,priority,reported_at,source,description\n"
        "B1,104.1097,30.6538,noise,reported,normal,2026-11-01 09:00,hotline,music\n"
        "B2,104.1116,30.6533,nonsense,reported,normal,2026-11-01 10:00,hotline,??\n",
        encoding="utf-8",
    )
    assert page.input_value("#import-kind") == "incidents"  # the usual case comes first
    page.set_input_files("#import-file", str(csv))
    page.click("#import-submit")
    page.wait_for_selector("#import-refused")
    assert "row 2" in page.inner_text("#import-refused").lower()  # nothing imported, row named
    page.set_input_files("#import-file", str(csv))
    page.check("#import-skip-bad")
    page.click("#import-submit")
    page.wait_for_selector("#import-report")
    assert page.get_attribute("#import-report", "data-imported") == "1"
    assert page.get_attribute("#import-report", "data-skipped") == "1"
    shot(page, "16-import-report")
    assert not page_errors.errors
