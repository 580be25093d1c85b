"""Overlays line up with GCJ-02 base tiles: the browser shifts them as gridmap.crs does."""

import threading

import pytest

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def gcj_server(tmp_path_factory, published_gpkg):
    """The app with GCJ-02 tiles from a local (absent) mirror, on its own port."""
    import shutil

    from werkzeug.serving import make_server

    from web import create_app

    folder = tmp_path_factory.mktemp("gcj")
    shutil.copyfile(published_gpkg, folder / "street.gpkg")
    app = create_app(
        {
            "WORKSPACE": str(folder / "street.gpkg"),
            "INSTANCE_PATH": str(folder / "instance"),
            "TILES": "/no-tiles/{z}/{x}/{y}.png",
            "TILES_COORDS": "gcj02",
        }
    )
    httpd = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_port}"
    httpd.shutdown()


def test_the_shift_matches_the_engine(browser, gcj_server, sign_in):
    from gridmap.crs import wgs84_to_gcj02

    page = browser.new_page()
    sign_in(page, gcj_server, "viewer")
    points = [(104.08, 30.65), (104.1, 30.62), (116.39, 39.9), (2.35, 48.85)]
    for lon, lat in points:
        got = page.evaluate(f"window.gridmapGcj02({lon}, {lat})")
        want = wgs84_to_gcj02(lon, lat)
        assert got == pytest.approx([float(want[0]), float(want[1])], abs=1e-9)
    page.close()


def test_grids_are_drawn_shifted(browser, gcj_server, sign_in):
    from gridmap.crs import wgs84_to_gcj02

    page = browser.new_page()
    sign_in(page, gcj_server, "viewer")
    page.goto(f"{gcj_server}/")
    page.wait_for_selector("#overview-map .leaflet-overlay-pane path")
    pairs = page.evaluate(
        """() => {
        for (const name of Object.keys(window)) {
          const layer = window[name];
          if (name.startsWith('geo_json_') && layer && layer.getLayers) {
            const first = layer.getLayers()[0];
            const ring = first.feature.geometry.type === 'Polygon'
              ? first.feature.geometry.coordinates[0][0]
              : first.feature.geometry.coordinates[0][0][0];
            let drawn = first.getLatLngs();
            while (Array.isArray(drawn[0])) { drawn = drawn[0]; }
            return [ring, [drawn[0].lng, drawn[0].lat]];
          }
        }
        return null;
    }"""
    )
    assert pairs is not None
    (lon, lat), drawn = pairs
    want = wgs84_to_gcj02(lon, lat)
    assert drawn == pytest.approx([float(want[0]), float(want[1])], abs=1e-9)
    assert abs(drawn[0] - lon) > 1e-3  # a real shift: a few hundred metres in Chengdu
    page.close()
