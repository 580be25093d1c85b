// One incident's small map: its grid's outline and the point, on the app's base tiles.
(function () {
  "use strict";
  var box = document.getElementById("incident-map");
  var cfg = JSON.parse(document.getElementById("incident-config").textContent);
  if (!box || !cfg.point) { if (box) { box.hidden = true; } return; }
  var map = window.gridmapBaseTiles(L.map(box, { scrollWheelZoom: false }), cfg);
  var layers = [];
  if (cfg.grid) {
    layers.push(L.geoJSON(cfg.grid, { style: { color: "#1f4e79", weight: 2, fillOpacity: 0.08 } }));
  }
  // the point as GeoJSON too, so that it is shifted with the grid over GCJ-02 tiles
  var point = L.geoJSON({ type: "Point", coordinates: cfg.point }, {
    pointToLayer: function (feature, latlng) {
      return L.circleMarker(latlng, { radius: 8, color: "#a40000", fillOpacity: 0.8 });
    }
  });
  layers.push(point);
  var group = L.featureGroup(layers).addTo(map);
  map.fitBounds(group.getBounds(), { maxZoom: 17, padding: [20, 20] });
  box.dataset.state = "ready";
})();
