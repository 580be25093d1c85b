"""The log-in, overview and grid pages in a real browser: the map really draws and reacts."""

import re

import pytest

pytestmark = pytest.mark.browser


def _grid_paths(page) -> int:
    """Interactive vector paths in the map's overlay pane (one per grid polygon part)."""
    return page.locator("#overview-map .leaflet-overlay-pane path.leaflet-interactive").count()


def test_log_in_page_then_overview_draws_every_grid(new_page, server, page_errors, shot):
    page = new_page(role=None)
    page.goto(f"{server}/")
    assert "/login" in page.url
    shot(page, "01-login")
    page.fill("input[name=name]", "viewer")
    page.fill("input[name=password]", "wrong-password")
    page.click("button[type=submit]")
    assert page.locator("#login-error").is_visible()
    page.fill("input[name=name]", "viewer")
    page.fill("input[name=password]", "viewer-password")
    page.click("button[type=submit]")
    page.wait_for_selector("#overview-map .leaflet-overlay-pane path")
    grids = int(page.get_attribute("#overview-map", "data-grids"))
    assert grids > 50
    # Leaflet made its panes, and drew a path for every grid (multi-part grids draw one)
    for pane in ("leaflet-map-pane", "leaflet-overlay-pane", "leaflet-tooltip-pane"):
        assert page.locator(f"#overview-map .{pane}").count() >= 1
    assert _grid_paths(page) == grids
    assert page.locator("#grid-table tbody tr").count() == grids
    shot(page, "02-overview")
    assert not page_errors.errors


def test_measure_switch_recolours_the_map(new_page, server, page_errors, shot):
    page = new_page()
    page.goto(f"{server}/")
    page.wait_for_selector("#overview-map .leaflet-overlay-pane path")

    def fills():
        return page.eval_on_selector_all(
            "#overview-map .leaflet-overlay-pane path.leaflet-interactive",
            "paths => paths.map(p => p.getAttribute('fill'))",
        )

    before = fills()
    page.select_option("#measure-select", "deviation_pct")
    page.wait_for_selector('#overview-map[data-measure="deviation_pct"] .leaflet-overlay-pane path')
    after = fills()
    assert len(after) == len(before) and after != before
    assert page.locator("#legend .gm-legend-title").inner_text().startswith("Deviation")
    shot(page, "03-overview-deviation")
    assert not page_errors.errors


def test_tooltip_and_click_through_to_the_grid_page(new_page, server, page_errors, shot):
    page = new_page()
    page.goto(f"{server}/")
    path = page.locator("#overview-map .leaflet-overlay-pane path.leaflet-interactive").nth(10)
    path.hover(force=True)
    tooltip = page.locator(".leaflet-tooltip")
    tooltip.wait_for()
    text = tooltip.inner_text()
    code = re.search(r"\b(\d{15})\b", text).group(1)
    assert "Households" in text and "Member" in text
    path.click(force=True)
    page.wait_for_url(f"**/grids/{code}")
    assert page.get_attribute("#grid-page", "data-code") == code
    assert page.locator("#month-chart svg rect").count() == 12
    assert page.locator("#recent-incidents tbody tr").count() >= 1
    shot(page, "04-grid-page")
    assert not page_errors.errors


def test_table_sorts_by_households(new_page, server):
    page = new_page()
    page.goto(f"{server}/")
    page.click("#grid-table thead th:nth-child(4)")
    values = [
        int(v)
        for v in page.eval_on_selector_all(
            "#grid-table tbody tr td:nth-child(4)", "cells => cells.map(c => c.textContent)"
        )
    ]
    assert values == sorted(values)


def test_chinese_switch_and_phone_layout(new_page, server, page_errors, shot):
    page = new_page(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    page.goto(f"{server}/")
    page.click("#lang-zh")
    page.wait_for_selector("html[lang=zh-Hans]")
    assert "概览" in page.locator("header").inner_text()
    box = page.locator("#overview-map").bounding_box()
    assert box["width"] <= 390 and box["height"] > 200  # the map fills the phone's width
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 400, "the page scrolls sideways on a phone"
    shot(page, "05-overview-phone-zh")
    page.click("#lang-en")
    page.wait_for_selector("html[lang=en]")
    assert not page_errors.errors


def test_log_out(new_page, server):
    page = new_page()
    page.goto(f"{server}/")
    page.click("header form button[type=submit]")
    page.wait_for_url("**/login")
    page.goto(f"{server}/")
    assert "/login" in page.url


def test_grid_page_on_a_phone(new_page, server, page_errors, shot):
    page = new_page(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    page.goto(f"{server}/")
    code = page.locator("#grid-table tbody tr").first.get_attribute("data-code")
    page.goto(f"{server}/grids/{code}?lang=zh")
    assert page.locator("#month-chart svg").bounding_box()["width"] <= 390
    assert page.evaluate("document.documentElement.scrollWidth") <= 400
    assert "每月事件数" in page.inner_text("body")
    shot(page, "14-grid-page-phone-zh")
    page.goto(f"{server}/?lang=en")
    assert not page_errors.errors
