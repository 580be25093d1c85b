"""The redraw workbench in a real browser: run, move a unit by clicking, undo, redo, publish."""

import pytest

pytestmark = pytest.mark.browser


def _api(page, path):
    return page.evaluate(f"fetch('{path}').then(r => r.json())")


def test_viewers_cannot_open_the_workbench(new_page, server):
    page = new_page("viewer")
    response = page.goto(f"{server}/workbench")
    assert response.status == 403
    assert page.locator("a[href='/workbench']").count() == 0


def test_run_edit_undo_and_publish(new_page, server, page_errors, shot):
    page = new_page("editor")
    page.goto(f"{server}/workbench")
    page.wait_for_selector('#published-map[data-state="ready"]')
    before = _api(page, "/api/plans")["plans"]
    published_before = next(p for p in before if p["status"] == "published")
    grids_before = {
        f["properties"]["code"]: f["properties"]["area_m2"]
        for f in _api(page, "/api/grids")["features"]
    }

    page.click("#run")  # redraw from the published plan with the default range
    page.wait_for_selector('#proposed-map[data-state="ready"]', timeout=90_000)
    page.wait_for_selector('#workbench[data-state="idle"]')
    units = int(page.get_attribute("#proposed-map", "data-units"))
    assert units > 100 and int(page.get_attribute("#proposed-map", "data-grids")) > 50
    assert page.locator("#balance-bars").inner_text().strip()
    assert page.locator("#plan-metrics [data-metric]").count() >= 5
    shot(page, "11-workbench-run")

    # find a unit the engine lets move to a neighbouring grid (many would break contiguity)
    found = page.evaluate(
        """async () => {
        const wb = window.gridmapWorkbench;
        const n = wb.state().units;
        for (let unit = 0; unit < n; unit++) {
          const from = wb.gridOf(unit);
          for (const to of wb.neighbours(unit)) {
            if (to === from) continue;
            const result = await wb.moveUnit(unit, to);
            if (result.ok) { await wb.undo(); return [unit, from, to]; }
          }
        }
        return null;
    }"""
    )
    assert found is not None, "no unit could move anywhere"
    unit, source, target = found
    revision = int(page.get_attribute("#proposed-map", "data-revision"))

    # now the same move by hand: click the unit, then the button of the target grid
    page.locator(f"#proposed-map path.unit-{unit}").first.click(force=True)
    page.click(f"#selection #move-to-{target}")
    page.wait_for_selector('#edit-message[data-kind="done"]')
    page.wait_for_function(
        f"Number(document.querySelector('#proposed-map').dataset.revision) > {revision}"
    )
    assert page.evaluate(f"window.gridmapWorkbench.gridOf({unit})") == target
    shot(page, "12-workbench-moved")

    # a refused edit says why: moving every unit of a grid out would leave it empty
    refused = page.evaluate(
        f"""async () => {{
        const wb = window.gridmapWorkbench;
        const r = await wb.moveUnits(wb.unitsOf('{target}'), '{source}');
        return [r.ok, r.status];
    }}"""
    )
    assert refused[0] is False and refused[1] == 400
    assert page.get_attribute("#edit-message", "data-kind") == "refused"
    assert page.locator("#edit-message").inner_text().strip()

    page.click("#undo")
    page.wait_for_function(f"window.gridmapWorkbench.gridOf({unit}) === '{source}'")
    page.click("#redo")
    page.wait_for_function(f"window.gridmapWorkbench.gridOf({unit}) === '{target}'")

    page.on("dialog", lambda dialog: dialog.accept())
    page.click("#publish")
    page.wait_for_selector('#save-result[data-kind="published"]', timeout=60_000)
    new_id = int(page.get_attribute("#save-result", "data-plan-id"))
    assert new_id != published_before["plan_id"]
    shot(page, "13-workbench-published")

    after = _api(page, "/api/plans")["plans"]
    published = [p for p in after if p["status"] == "published"]
    assert [p["plan_id"] for p in published] == [new_id]
    grids_after = {
        f["properties"]["code"]: f["properties"]["area_m2"]
        for f in _api(page, "/api/grids")["features"]
    }
    changed = {c for c in grids_after if grids_after[c] != pytest.approx(grids_before.get(c))}
    assert {source, target} <= changed  # the unit (perhaps a park: no households) moved
    info = page.locator("#published-info")
    assert info.get_attribute("data-version") == str(published[0]["version"])
    assert info.inner_text().endswith(str(published[0]["version"]))  # the heading follows
    page.goto(f"{server}/")
    assert f"version {published[0]['version']}" in page.locator("h1").inner_text()
    assert not page_errors.errors


@pytest.mark.parametrize("path", ["/workbench", "/exports", "/imports", "/api/docs"])
def test_pages_fit_a_phone(new_page, server, page_errors, shot, path):
    page = new_page("editor", viewport={"width": 390, "height": 844}, is_mobile=True)
    page.goto(f"{server}{path}")
    page.wait_for_load_state("networkidle")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 400, f"{path} is {width} px wide on a 390 px phone"
    shot(page, "17-phone" + path.replace("/", "-"))
    assert not page_errors.errors
