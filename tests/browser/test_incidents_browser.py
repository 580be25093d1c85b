"""The incidents page in a real browser: heat on a canvas, filters, the week slider, hot spots."""

import pytest

pytestmark = pytest.mark.browser


def _ready(page):
    page.wait_for_selector('#incident-map[data-state="ready"]')
    return page.get_attribute("#incident-map", "data-layer")


def _attr(page, name):
    return page.get_attribute("#incident-map", f"data-{name}")


def test_heat_draws_on_a_canvas_and_filters_change_it(new_page, server, page_errors, shot):
    page = new_page()
    page.goto(f"{server}/incidents")
    assert _ready(page) == "heat"
    canvas = page.locator("#incident-map .leaflet-heat-pane canvas")
    assert canvas.count() == 1 and canvas.bounding_box()["width"] > 100
    hexagons, total = int(_attr(page, "features")), int(_attr(page, "total"))
    assert hexagons > 100 and total > 10_000
    assert page.locator("#incident-count").get_attribute("data-count") == str(total)
    # the canvas really has coloured pixels
    painted = page.evaluate(
        """() => { const c = document.querySelector('#incident-map .leaflet-heat-pane canvas');
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        let n = 0; for (let i = 3; i < d.length; i += 4) { if (d[i] > 0) n++; } return n; }"""
    )
    assert painted > 1000
    shot(page, "06-incidents-heat")
    page.select_option("#filter-category", "noise")
    page.wait_for_function(
        f"document.querySelector('#incident-map').dataset.total !== '{total}'"
        " && document.querySelector('#incident-map').dataset.state === 'ready'"
    )
    noise = int(_attr(page, "total"))
    assert 0 < noise < total and int(_attr(page, "features")) < hexagons
    assert "category=noise" in page.url  # the view can be shared
    shot(page, "07-incidents-noise")
    assert not page_errors.errors


def test_week_slider_shows_one_week(new_page, server, page_errors):
    page = new_page()
    page.goto(f"{server}/incidents")
    _ready(page)
    total = int(_attr(page, "total"))
    page.eval_on_selector(
        "#week-slider",
        "s => { s.value = Math.floor(s.max / 2); s.dispatchEvent(new Event('input'));"
        " s.dispatchEvent(new Event('change')); }",
    )
    page.wait_for_function(
        "document.querySelector('#incident-map').dataset.week !== ''"
        " && document.querySelector('#incident-map').dataset.state === 'ready'"
        f" && document.querySelector('#incident-map').dataset.total !== '{total}'"
    )
    week = _attr(page, "week")
    assert week.startswith("20") and "-W" in week
    assert 0 < int(_attr(page, "total")) < total / 20
    assert week in page.locator("#week-label").inner_text()
    assert not page_errors.errors


def test_per_grid_view_and_hot_spots(new_page, server, page_errors, shot):
    page = new_page()
    page.goto(f"{server}/incidents")
    _ready(page)
    page.check("#view-grids")
    page.wait_for_selector('#incident-map[data-layer="grids"][data-state="ready"]')
    grids = page.locator("#incident-map .leaflet-grids-pane path.gm-grid")
    assert grids.count() == int(_attr(page, "features")) > 50
    shot(page, "08-incidents-per-grid")
    page.check("#view-hotspots")
    page.wait_for_selector('#incident-map[data-layer="hotspots"][data-state="ready"]')
    classes = page.eval_on_selector_all(
        "#incident-legend [data-class]", "rows => rows.map(r => r.dataset.class)"
    )
    assert "hot 99%" in classes and "not significant" in classes
    fills = set(
        page.eval_on_selector_all(
            "#incident-map .leaflet-grids-pane path.gm-grid",
            "paths => paths.map(p => p.getAttribute('fill'))",
        )
    )
    assert len(fills) >= 2  # significant grids stand out
    shot(page, "09-incidents-hotspots")
    assert not page_errors.errors


def test_incidents_page_on_a_phone(new_page, server, page_errors, shot):
    page = new_page(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    page.goto(f"{server}/incidents?lang=zh")
    _ready(page)
    box = page.locator("#incident-map").bounding_box()
    assert box["width"] <= 390 and box["height"] > 200
    assert page.evaluate("document.documentElement.scrollWidth") <= 400
    shot(page, "10-incidents-phone-zh")
    page.goto(f"{server}/incidents?lang=en")
    assert not page_errors.errors
