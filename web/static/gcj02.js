// Line up the app's WGS84 overlays with base tiles drawn in GCJ-02 (AMap/Gaode, Tencent).
// Loaded in <head> only when the configured tiles are GCJ-02. It defines gridmapGcj02(lon, lat)
// (the published forward shift, the same formula as gridmap.crs.wgs84_to_gcj02) and, as soon as
// Leaflet defines window.L, makes every L.geoJSON layer shift its coordinates on the way in.
(function () {
  "use strict";
  var A = 6378245.0, EE = 0.00669342162296594323, PI = Math.PI;

  function inChina(lon, lat) {
    return lon >= 72.004 && lon <= 137.8347 && lat >= 0.8293 && lat <= 55.8271;
  }

  function offset(lon, lat) {
    var x = lon - 105.0, y = lat - 35.0, root = Math.sqrt(Math.abs(x));
    var wave = (20.0 * Math.sin(6.0 * PI * x) + 20.0 * Math.sin(2.0 * PI * x)) * (2.0 / 3.0);
    var east = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * root + wave;
    east += (20.0 * Math.sin(PI * x) + 40.0 * Math.sin(PI * x / 3.0)) * (2.0 / 3.0);
    east += (150.0 * Math.sin(PI * x / 12.0) + 300.0 * Math.sin(PI * x / 30.0)) * (2.0 / 3.0);
    var north = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * root + wave;
    north += (20.0 * Math.sin(PI * y) + 40.0 * Math.sin(PI * y / 3.0)) * (2.0 / 3.0);
    north += (160.0 * Math.sin(PI * y / 12.0) + 320.0 * Math.sin(PI * y / 30.0)) * (2.0 / 3.0);
    var phi = lat / 180.0 * PI, w = 1.0 - EE * Math.sin(phi) * Math.sin(phi);
    var meridian = A * (1.0 - EE) / (w * Math.sqrt(w));
    var parallel = A / Math.sqrt(w) * Math.cos(phi);
    return [east * 180.0 / (parallel * PI), north * 180.0 / (meridian * PI)];
  }

  function toGcj02(lon, lat) {
    if (!inChina(lon, lat)) { return [lon, lat]; }
    var d = offset(lon, lat);
    return [lon + d[0], lat + d[1]];
  }
  window.gridmapGcj02 = toGcj02;

  function shifted(coords) {
    var p = toGcj02(coords[0], coords[1]);
    return coords.length > 2 ? window.L.latLng(p[1], p[0], coords[2]) : window.L.latLng(p[1], p[0]);
  }

  function patch(leaflet) {
    if (leaflet && leaflet.GeoJSON && !leaflet.GeoJSON.__gridmapGcj02) {
      leaflet.GeoJSON.mergeOptions({ coordsToLatLng: shifted });
      leaflet.GeoJSON.__gridmapGcj02 = true;
    }
  }

  var current = window.L;
  patch(current);
  Object.defineProperty(window, "L", {
    configurable: true,
    get: function () { return current; },
    set: function (value) { current = value; patch(value); }
  });
})();
