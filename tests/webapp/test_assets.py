import folium
import pytest
from branca.element import MacroElement

from web.assets import LOCAL_FILES, PACKAGES, localize


@pytest.fixture(scope="module")
def app(make_app, street_copy):
    return make_app(street_copy)


@pytest.mark.parametrize(
    ("url", "mimetype"),
    [
        ("/vendor/leaflet/leaflet.js", "text/javascript"),
        ("/vendor/leaflet/leaflet.css", "text/css"),
        ("/vendor/leaflet/images/layers.png", "image/png"),
        ("/vendor/jquery/jquery.min.js", "text/javascript"),
        ("/vendor/bootstrap/css/bootstrap.min.css", "text/css"),
        ("/vendor/bootstrap/js/bootstrap.bundle.min.js", "text/javascript"),
        ("/vendor/font-awesome/css/all.min.css", "text/css"),
        ("/vendor/font-awesome/webfonts/fa-solid-900.woff2", "font/woff2"),
    ],
)
def test_vendor_files_are_served(app, url, mimetype):
    response = app.test_client().get(url)
    assert response.status_code == 200
    assert response.mimetype == mimetype
    assert len(response.data) > 100
    response.close()


@pytest.mark.parametrize(
    "url",
    [
        "/vendor/leaflet/../../../__init__.py",
        "/vendor/leaflet/%2e%2e/%2e%2e/__init__.py",
        "/vendor/leaflet//etc/passwd",
        "/vendor/xstatic/__init__.py",
        "/vendor/leaflet/no-such-file.js",
    ],
)
def test_paths_outside_the_packages_are_refused(app, url):
    response = app.test_client().get(url, follow_redirects=True)
    assert response.status_code == 404
    assert response.is_json


def test_every_local_file_exists(app):
    client = app.test_client()
    for name, local in LOCAL_FILES.items():
        if local is not None:
            assert local[0] in PACKAGES
            response = client.get(f"/vendor/{local[0]}/{local[1]}")
            assert response.status_code == 200, name
            response.close()


def test_localize_points_folium_at_the_app(app):
    with app.test_request_context():
        m = localize(folium.Map(tiles=None))
        html = m.get_root().render()
    assert "/vendor/leaflet/leaflet.js" in html
    assert "cdn." not in html and "cdnjs" not in html and "bootstrapcdn" not in html
    # folium's own defaults are left alone for other users of folium
    assert any("cdn" in url for _, url in folium.Map.default_js)


def test_localize_refuses_a_resource_it_cannot_serve(app):
    class Plugin(MacroElement):
        default_js = [("heatmap", "https://cdn.example.com/heatmap.js")]

    m = folium.Map(tiles=None)
    Plugin().add_to(m)
    with app.test_request_context(), pytest.raises(ValueError, match="heatmap"):
        localize(m)
