// The app's base tiles on a Leaflet map, as the TILES setting says: "osm", "none" or a URL
// template (cfg.tiles) with its attribution (cfg.attribution). Shared by the map pages.
window.gridmapBaseTiles = function (map, cfg) {
  "use strict";
  if (cfg.tiles === "osm") {
    L.tileLayer("https://tile.openstreetmap.org/{z}/{x}/{y}.png", {
      attribution:
        '&copy; <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a> contributors',
      maxZoom: 19
    }).addTo(map);
  } else if (cfg.tiles !== "none") {
    L.tileLayer(cfg.tiles, { attribution: cfg.attribution, maxZoom: 20 }).addTo(map);
  }
  return map;
};
