"""A grid member on a phone opens an incident from the grid's page and moves it on."""

import pytest

pytestmark = pytest.mark.browser


def test_member_accepts_an_incident_on_a_phone(new_page, server, page_errors, shot):
    page = new_page("editor", viewport={"width": 390, "height": 844}, is_mobile=True)
    page.goto(f"{server}/")
    found = page.evaluate("fetch('/api/incidents?status=reported&limit=1').then(r => r.json())")[
        "incidents"
    ][0]
    page.goto(f"{server}/grids/{found['grid_code']}")
    link = page.locator(f"#recent-incidents a[href='/incidents/{found['id']}']")
    if link.count():  # among the grid's latest incidents
        link.click()
    else:
        page.goto(f"{server}/incidents/{found['id']}")
    page.wait_for_selector(f'#incident-page[data-id="{found["id"]}"]')
    page.wait_for_selector('#incident-map[data-state="ready"]')
    assert page.locator("#incident-map path").count() >= 2  # the grid and the point
    assert page.evaluate("document.documentElement.scrollWidth") <= 400
    assert page.get_attribute("#incident-page", "data-status") == "reported"
    page.fill("#transition-note", "checked on site")
    page.click("#to-accepted")
    page.wait_for_selector('#incident-page[data-status="accepted"]')
    assert "checked on site" in page.inner_text("#incident-history")
    shot(page, "18-incident-phone")
    assert not page_errors.errors
