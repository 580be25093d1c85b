/* The incidents page: heat (hexagons on a canvas), per-grid choropleth and Gi* hot spots.
 *
 * Everything drawn comes from the app's API (/api/incidents/...), aggregated on the server.
 * State for browser tests is kept on the map container #incident-map:
 *   data-state    "loading" | "ready" | "error"
 *   data-layer    "heat" | "grids" | "hotspots" (the layer last drawn)
 *   data-features number of hexagons (heat) or grids (grids, hotspots) last drawn
 *   data-total    incidents matching the filters
 *   data-week     the ISO week shown ("" for all weeks)
 * Panes: .leaflet-heat-pane holds the hexagons' <canvas>, .leaflet-grids-pane one SVG path
 * per grid (class gm-grid, coloured in the grid and hot spot views).
 */
(function () {
  "use strict";

  var config = JSON.parse(document.getElementById("incident-config").textContent);
  var labels = config.labels;
  var form = document.getElementById("incident-filters");
  var container = document.getElementById("incident-map");
  var slider = document.getElementById("week-slider");
  var weekLabel = document.getElementById("week-label");
  var weekInput = document.getElementById("filter-week");
  var playButton = document.getElementById("week-play");
  var countBox = document.getElementById("incident-count");
  var noteBox = document.getElementById("incident-note");
  var errorBox = document.getElementById("incident-error");
  var legendBox = document.getElementById("incident-legend");

  var map = window.gridmapBaseTiles(L.map(container, { zoomControl: true }), config);
  L.control.scale().addTo(map);
  map.createPane("heat").style.zIndex = 410;
  map.createPane("grids").style.zIndex = 420;
  map.createPane("outline").style.zIndex = 430;
  map.getPane("outline").style.pointerEvents = "none";
  var heatRenderer = L.canvas({ pane: "heat", padding: 0.2 });
  var gridRenderer = L.svg({ pane: "grids" });

  var gridLayer = null;   // one path per grid of the published plan
  var gridPaths = {};     // code -> path
  var heatLayer = null;   // hexagons on the canvas
  var rowsByCode = {};    // code -> row of the last grids / hotspots answer
  var weeks = [];         // [{week, start, end, count}]
  var request = 0;        // number of the latest layer request (older answers are dropped)
  var weekRequest = 0;
  var timer = null;
  var playing = null;

  function fmt(text, values) {
    return text.replace(/\{(\w+)\}/g, function (m, k) {
      return values[k] === undefined ? m : values[k];
    });
  }

  function escapeHtml(text) {
    return String(text).replace(/[&<>"']/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c];
    });
  }

  function number(value, digits) {
    if (value === null || value === undefined) return "–";
    var n = Number(value);
    return digits === undefined ? n.toLocaleString() : n.toLocaleString(undefined, {
      maximumFractionDigits: digits, minimumFractionDigits: 0 });
  }

  // ------------------------------------------------------------ filters and URL

  function view() {
    var checked = form.querySelector('input[name="view"]:checked');
    return checked ? checked.value : "heat";
  }

  function filterParams(withWeek) {
    var params = new URLSearchParams();
    ["category", "status", "level", "from", "to"].forEach(function (name) {
      var field = form.elements[name];
      if (field && field.value) params.set(name, field.value);
    });
    if (withWeek && weekInput.value) params.set("week", weekInput.value);
    return params;
  }

  function pageParams() {
    var params = filterParams(true);
    params.set("view", view());
    if (view() === "heat") params.set("size", form.elements.size.value);
    else params.set("measure", form.elements.measure.value);
    return params;
  }

  function keepInUrl() {
    var query = pageParams().toString();
    history.replaceState(null, "", location.pathname + (query ? "?" + query : ""));
  }

  function showViewControls() {
    var v = view();
    form.querySelectorAll(".gm-when-heat").forEach(function (el) { el.hidden = v !== "heat"; });
    form.querySelectorAll(".gm-when-grids").forEach(function (el) { el.hidden = v === "heat"; });
    container.setAttribute("data-view", v);
  }

  // ------------------------------------------------------------ fetching

  function getJson(url, params) {
    var query = params.toString();
    return fetch(url + (query ? "?" + query : ""), {
      headers: { Accept: "application/json" }, credentials: "same-origin",
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (body) {
        if (!response.ok) {
          var error = new Error(body.message || response.statusText);
          error.fix = body.fix || "";
          throw error;
        }
        return body;
      });
    });
  }

  function showError(error) {
    container.setAttribute("data-state", "error");
    errorBox.hidden = false;
    errorBox.textContent = labels.error + ": " + error.message + (error.fix ? " " + error.fix : "");
  }

  function clearError() {
    errorBox.hidden = true;
    errorBox.textContent = "";
  }

  // ------------------------------------------------------------ layers

  function gridTooltip(code) {
    var row = rowsByCode[code];
    var feature = gridPaths[code] && gridPaths[code].feature;
    var props = feature ? feature.properties : {};
    var lines = ["<strong>" + escapeHtml(labels.grid) + " " + escapeHtml(code) + "</strong>"];
    if (props.community_name) lines.push(escapeHtml(labels.community) + ": " + escapeHtml(props.community_name));
    if (props.households !== undefined) lines.push(escapeHtml(labels.households) + ": " + number(props.households));
    if (row && container.getAttribute("data-layer") !== "heat") {
      lines.push(escapeHtml(labels.incidents) + ": " + number(row.count));
      if (row.per_1000 !== undefined) lines.push(escapeHtml(labels.per_1000) + ": " + number(row.per_1000, 1));
      if (row.rate !== undefined && row.rate !== null) lines.push(escapeHtml(labels.per_1000) + ": " + number(row.rate, 1));
      if (row.hotspot) {
        lines.push("<em>" + escapeHtml(row.label) + "</em>");
        lines.push(escapeHtml(labels.z) + " = " + number(row.gi_star, 2) + ", " +
                   escapeHtml(labels.p) + " = " + number(row.p_value, 4));
        if (row.p_sim !== null && row.p_sim !== undefined) {
          lines.push(escapeHtml(labels.p_sim) + " = " + number(row.p_sim, 4));
        }
      }
    }
    return lines.join("<br>");
  }

  function drawShapes(body) {
    var outline = [];
    if (body.street) {
      outline.push(L.geoJSON(body.street, { pane: "outline", interactive: false,
        style: { fill: false, color: "#000", weight: 3 } }).addTo(map));
    }
    if (body.communities) {
      L.geoJSON(body.communities, { pane: "outline", interactive: false,
        style: { fill: false, color: "#1f4e79", weight: 2, dashArray: "6 4" } }).addTo(map);
    }
    gridLayer = L.geoJSON(body.grids, {
      renderer: gridRenderer,
      pane: "grids",
      style: { color: "#555", weight: 1, fill: true, fillOpacity: 0, className: "gm-grid" },
      onEachFeature: function (feature, layer) {
        var code = String(feature.properties.code);
        gridPaths[code] = layer;
        layer.bindTooltip(function () { return gridTooltip(code); }, { sticky: true });
      },
    }).addTo(map);
    Object.keys(gridPaths).forEach(function (code) {
      var el = gridPaths[code].getElement && gridPaths[code].getElement();
      if (el) el.setAttribute("data-code", code);
    });
    var bounds = (outline.length ? outline[0] : gridLayer).getBounds();
    if (bounds.isValid()) map.fitBounds(bounds);
  }

  function clearHeat() {
    if (heatLayer) { map.removeLayer(heatLayer); heatLayer = null; }
    map.getPane("heat").hidden = true;  // the canvas stays in the pane: hide it
  }

  function styleGrids(fills) {
    Object.keys(gridPaths).forEach(function (code) {
      var fill = fills ? fills[code] : null;
      gridPaths[code].setStyle(fill
        ? { fillColor: fill, fillOpacity: 0.7, color: "#444", weight: 1 }
        : { fillOpacity: 0, color: "#555", weight: 1 });
    });
  }

  function legendRows(title, rows, note) {
    var html = '<div class="gm-legend-title">' + escapeHtml(title) + "</div>";
    rows.forEach(function (r) {
      html += '<div class="gm-legend-row" data-class="' + escapeHtml(r.key || "") + '">' +
        '<span class="gm-swatch" style="background:' + escapeHtml(r.fill) + '"></span> ' +
        escapeHtml(r.text) + "</div>";
    });
    if (note) html += '<p class="gm-muted gm-legend-note">' + escapeHtml(note) + "</p>";
    legendBox.innerHTML = html;
    legendBox.setAttribute("data-layer", container.getAttribute("data-layer"));
  }

  function rangeText(row) {
    if (row.from === null || row.from === undefined) return fmt(labels.up_to, { v: number(row.to, 1) });
    if (row.from === row.to) return number(row.to, 1);
    return number(row.from, 1) + " – " + number(row.to, 1);
  }

  function drawHeat(body) {
    clearHeat();
    styleGrids(null);
    rowsByCode = {};
    heatLayer = L.geoJSON(body, {
      renderer: heatRenderer,
      pane: "heat",
      style: function (f) {
        return { fillColor: f.properties.fill, fillOpacity: 0.75, color: "#7f2704",
                 weight: 0.4, opacity: 0.5 };
      },
      onEachFeature: function (f, layer) {
        layer.bindTooltip(escapeHtml(labels.incidents) + ": " + number(f.properties.count), { sticky: true });
      },
    }).addTo(map);
    map.getPane("heat").hidden = false;
    container.setAttribute("data-layer", "heat");
    container.setAttribute("data-features", String(body.features.length));
    legendRows(fmt(labels.heat_title, { size: body.size_m }),
      body.features.length ? body.legend.map(function (r) { return { fill: r.fill, text: rangeText(r) }; }) : []);
    var notes = [];
    if (body.outside) notes.push(fmt(labels.outside, { n: number(body.outside) }));
    return notes;
  }

  function drawGrids(body) {
    clearHeat();
    var fills = {};
    rowsByCode = {};
    body.grids.forEach(function (row) { fills[row.code] = row.fill; rowsByCode[row.code] = row; });
    styleGrids(fills);
    container.setAttribute("data-layer", "grids");
    container.setAttribute("data-features", String(body.grids.length));
    var title = body.measure === "per_1000" ? labels.per_1000 : labels.grids_title;
    legendRows(title, body.legend.map(function (r) { return { fill: r.fill, text: rangeText(r) }; }));
    return body.unassigned ? [fmt(labels.unassigned, { n: number(body.unassigned) })] : [];
  }

  function drawHotspots(body) {
    clearHeat();
    var fills = {};
    rowsByCode = {};
    body.grids.forEach(function (row) { fills[row.code] = row.fill; rowsByCode[row.code] = row; });
    styleGrids(fills);
    container.setAttribute("data-layer", "hotspots");
    container.setAttribute("data-features", String(body.grids.length));
    legendRows(labels.hot_title, body.classes.map(function (c) {
      return { key: c.hotspot, fill: c.fill, text: c.label + " (" + c.grids + ")" };
    }), labels.hot_note + (body.note ? " " + body.note : ""));
    return body.unassigned ? [fmt(labels.unassigned, { n: number(body.unassigned) })] : [];
  }

  function refresh() {
    var mine = ++request;
    var v = view();
    var params = filterParams(true);
    if (v === "heat") params.set("size", form.elements.size.value);
    else params.set("measure", form.elements.measure.value);
    container.setAttribute("data-state", "loading");
    keepInUrl();
    return getJson(config.api[v], params).then(function (body) {
      if (mine !== request || !gridLayer) return;
      clearError();
      var notes = v === "heat" ? drawHeat(body) : v === "grids" ? drawGrids(body) : drawHotspots(body);
      countBox.textContent = number(body.total);
      countBox.setAttribute("data-count", String(body.total));
      container.setAttribute("data-total", String(body.total));
      container.setAttribute("data-week", weekInput.value);
      noteBox.textContent = notes.join(" · ");
      container.setAttribute("data-state", "ready");
    }).catch(function (error) {
      if (mine === request) showError(error);
    });
  }

  function later(fn, ms) {
    clearTimeout(timer);
    timer = setTimeout(fn, ms);
  }

  // ------------------------------------------------------------ weeks

  function showWeek() {
    var i = Number(slider.value);
    var w = i > 0 ? weeks[i - 1] : null;
    weekInput.value = w ? w.week : "";
    weekLabel.textContent = w ? w.week + " (" + w.start + " – " + w.end + "): " + number(w.count)
                              : labels.all_weeks;
    slider.setAttribute("aria-valuetext", weekLabel.textContent);
  }

  function loadWeeks() {
    var mine = ++weekRequest;
    return getJson(config.api.weeks, filterParams(false)).then(function (body) {
      if (mine !== weekRequest) return;
      weeks = body.weeks;
      var wanted = weekInput.value;
      var index = 0;
      weeks.forEach(function (w, i) { if (w.week === wanted) index = i + 1; });
      slider.max = String(weeks.length);
      slider.value = String(index);
      slider.disabled = weeks.length === 0;
      showWeek();
    });
  }

  function stop() {
    if (playing) { clearInterval(playing); playing = null; }
    playButton.textContent = "▶";
    playButton.title = labels.play;
    playButton.setAttribute("aria-pressed", "false");
  }

  function play() {
    if (playing) { stop(); return; }
    if (!weeks.length) return;
    playButton.textContent = "⏸";
    playButton.title = labels.pause;
    playButton.setAttribute("aria-pressed", "true");
    playing = setInterval(function () {
      if (container.getAttribute("data-state") === "loading") return;  // wait for the draw
      var next = Number(slider.value) + 1;
      if (next > weeks.length) { stop(); return; }
      slider.value = String(next);
      showWeek();
      refresh();
    }, 1200);
  }

  // ------------------------------------------------------------ events

  function applyFilters() {
    stop();
    showViewControls();
    loadWeeks().then(refresh, function (error) { showError(error); });
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    applyFilters();
  });
  form.addEventListener("change", function (event) {
    var name = event.target.name;
    if (name === "view" || name === "size" || name === "measure") {
      showViewControls();
      refresh();
    } else {
      later(applyFilters, 300);
    }
  });
  slider.addEventListener("input", function () {
    stop();
    showWeek();
    later(refresh, 250);
  });
  playButton.addEventListener("click", play);

  showViewControls();
  container.setAttribute("data-state", "loading");
  getJson(config.api.shapes, new URLSearchParams()).then(function (body) {
    drawShapes(body);
    return loadWeeks();
  }).then(refresh).catch(showError);
})();
