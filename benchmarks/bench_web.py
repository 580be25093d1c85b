"""How fast the web app's pages render on the server and how much they weigh.

The sample street (its default plan, a year of ~20,000 incidents) is copied, its default plan
published, and the app is driven through Flask's test client (no network in the timing): for
each page, the first render (cold caches) and the median of ``--repeat`` further renders, the
HTML's size, and the size of what the page fetches from the API to draw itself.  For scale,
the same run renders the page a naive folium app would serve: every incident inlined as a
``folium.plugins.HeatMap`` point list plus the grids (its CDN assets are not counted).  The
incident list API (``GET /api/incidents``: one page of 100, newest first, with the total) is
timed the same way, unfiltered, filtered and paged deep; it is not held to the page targets.

Usage::

    python benchmarks/bench_web.py [--repeat 20]
"""

from __future__ import annotations

import argparse
import re
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

#: The issue's targets: server-side render time and page weight.
TARGET_MS = 300.0
TARGET_BYTES = 1.5e6

#: API answers timed beside the pages: (name, URL, fetches), as the pages' rows.
API_ROWS = [
    ("API: incidents, newest 100", "/api/incidents?limit=100", []),
    (
        "API: incidents, closed noise since 2026-01-01",
        "/api/incidents?status=closed&category=noise&since=2026-01-01&limit=100",
        [],
    ),
    ("API: incidents, 100 from offset 20,000", "/api/incidents?limit=100&offset=20000", []),
]


def _workspace(folder: Path) -> Path:
    """A copy of the sample street with the default plan published and a viewer."""
    from gridmap import accounts, io
    from gridmap.plan import make_plan
    from gridmap.store import Workspace

    path = folder / "street.gpkg"
    shutil.copyfile(ROOT / "sample_data" / "sample_street.gpkg", path)
    ws = Workspace(path)
    ws.publish(ws.save_plan(make_plan(io.read_workspace(path)), note="bench"))
    accounts.add_user(ws, "bench", "bench-password", "editor")
    ws.close()
    return path


def _client(app):
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    response = client.post(
        "/login", data={"name": "bench", "password": "bench-password", "csrf_token": token}
    )
    assert response.status_code == 302, "log-in failed"
    return client


def _time(client, url: str, repeat: int) -> tuple[float, float, int]:
    """(first ms, median ms of ``repeat`` more, bytes) of GET ``url``."""
    start = time.perf_counter()
    response = client.get(url)
    first = (time.perf_counter() - start) * 1000
    assert response.status_code == 200, (url, response.status_code)
    size = len(response.data)
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        response = client.get(url)
        times.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200
    return first, statistics.median(times) if times else first, size


def _naive_folium(path: Path) -> tuple[float, int]:
    """(ms, bytes) of a folium page with every incident inlined in a HeatMap."""
    import folium
    from folium.plugins import HeatMap

    from gridmap import incidents
    from gridmap.store import Workspace

    ws = Workspace(path)
    start = time.perf_counter()
    points = incidents.incidents(ws)
    grids = ws.plan_grids(ws.published().plan_id)
    m = folium.Map(location=[points.geometry.y.mean(), points.geometry.x.mean()], zoom_start=14)
    folium.GeoJson(grids.to_json()).add_to(m)
    HeatMap([[p.y, p.x] for p in points.geometry if p is not None]).add_to(m)
    html = m.get_root().render()
    ms = (time.perf_counter() - start) * 1000
    ws.close()
    return ms, len(html.encode("utf-8"))


def main(argv: list[str] | None = None) -> int:
    """Print the table of render times and page weights."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=20, help="Warm renders per page.")
    args = parser.parse_args(argv)

    from web import create_app

    folder = Path(tempfile.mkdtemp(prefix="gridmap-bench-web-"))
    try:
        path = _workspace(folder)
        app = create_app(
            {"WORKSPACE": str(path), "INSTANCE_PATH": str(folder / "instance"), "TILES": "none"}
        )
        client = _client(app)
        from gridmap.store import Workspace

        ws = Workspace(path)
        codes = ws.plan_grids(ws.published().plan_id)["code"]
        code, grid_count = codes.iloc[0], len(codes)
        incidents_total = ws.incident_count()
        ws.close()
        pages = [("overview", "/", []), ("overview, per 1,000 households",
                                        "/?measure=per_1000_households", [])]  # fmt: skip
        pages.append((f"grid page ({code})", f"/grids/{code}", []))
        if "incidents.page" in app.view_functions:
            pages.append(("incidents", "/incidents", _incident_fetches(app)))
        apis = len(pages)  # the rows from here on are API answers, not pages
        pages += API_ROWS
        rows = []
        for name, url, fetches in pages:
            first, warm, size = _time(client, url, args.repeat)
            fetched = sum(_time(client, f, 0)[2] for f in fetches)
            assets = _assets(client, client.get(url).get_data(as_text=True))
            rows.append((name, url, first, warm, size, fetched, assets))
        naive_ms, naive_bytes = _naive_folium(path)
    finally:
        shutil.rmtree(folder, ignore_errors=True)

    print(
        f"Sample street: {grid_count} grids, {incidents_total:,} incidents; "
        f"{args.repeat} warm renders."
    )
    print()
    print(
        "| page | URL | first render ms | median ms | HTML bytes | data fetched bytes "
        "| scripts and styles bytes (cached) |"
    )
    print("|---|---|---:|---:|---:|---:|---:|")
    for name, url, first, warm, size, fetched, assets in rows:
        print(
            f"| {name} | `{url}` | {first:.0f} | {warm:.1f} | {size:,} | {fetched:,} | {assets:,} |"
        )
    print(
        f"| naive folium: every incident inlined as a HeatMap | | {naive_ms:.0f} | | "
        f"{naive_bytes:,} | | (from CDNs) |"
    )
    print()
    worst = max(r[3] for r in rows[:apis])
    heaviest = max(r[4] + r[5] for r in rows[:apis])
    print(
        f"Targets: median render < {TARGET_MS:.0f} ms ({'met' if worst < TARGET_MS else 'NOT met'}:"
        f" slowest {worst:.1f} ms); page + its data < {TARGET_BYTES / 1e6:.1f} MB "
        f"({'met' if heaviest < TARGET_BYTES else 'NOT met'}: heaviest {heaviest / 1e6:.2f} MB)."
    )
    return 0


def _assets(client, html: str) -> int:
    """Bytes of the scripts and style sheets a page loads from the app (browsers cache them)."""
    total = 0
    for url in set(re.findall(r'(?:src|href)="(/(?:static|vendor)/[^"]+)"', html)):
        response = client.get(url)
        total += len(response.data)
        response.close()
    return total


def _incident_fetches(app) -> list[str]:
    """The API URLs the incidents page fetches to draw its default view."""
    urls = []
    for rule in app.url_map.iter_rules():
        ours = rule.endpoint.startswith("incidents.") and rule.rule.startswith("/api/incidents/")
        if (
            ours
            and not rule.arguments
            and rule.rule.rsplit("/", 1)[-1] in ("heat", "weeks", "shapes")
        ):
            urls.append(rule.rule)
    return sorted(urls)


if __name__ == "__main__":
    raise SystemExit(main())
