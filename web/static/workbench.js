/* The redraw workbench: run a plan, see it beside the published one, edit it by hand, publish.
 *
 * Everything comes from the workbench API (/workbench/api/...); POSTs carry the CSRF header.
 * Hooks for browser tests:
 *   #proposed-map  data-grids, data-units (features drawn), data-revision, data-state
 *                  ("empty" | "loading" | "ready" | "error"); unit paths have the classes
 *                  "gm-unit unit-<index>", grid paths "gm-grid grid-<code>".
 *   #published-map data-grids, data-state.
 *   #workbench     data-draft (current draft id), data-state ("idle" | "busy").
 *   #edit-message  data-kind ("done" | "refused" | "error") after each edit.
 *   window.gridmapWorkbench: state() -> {draft, grids, units, history_length, revision,
 *     can_undo, can_redo}; moveUnit(unit, code), split(code), merge(keep, other), lock(code),
 *     unlock(code), undo(), redo() -> Promise of {ok, status, body}; run(params) -> Promise;
 *     selectUnit(unit, add); neighbours(unit) -> grid codes; unitsOf(code) -> unit indices.
 */
(function () {
  "use strict";

  var cfg = JSON.parse(document.getElementById("workbench-config").textContent);
  var T = cfg.texts;
  var csrf = document.querySelector('meta[name="csrf-token"]').content;
  var root = document.getElementById("workbench");
  var form = document.getElementById("workbench-params");
  var busyBox = document.getElementById("busy");
  var runMessage = document.getElementById("run-message");
  var editMessage = document.getElementById("edit-message");
  var selectionBox = document.getElementById("selection");
  var proposedBox = document.getElementById("proposed-map");
  var publishedBox = document.getElementById("published-map");
  var undoButton = document.getElementById("undo");
  var redoButton = document.getElementById("redo");
  var saveButton = document.getElementById("save-draft");
  var publishButton = document.getElementById("publish");
  var saveResult = document.getElementById("save-result");
  var draftSelect = document.getElementById("draft-select");

  // deviation classes (share of the target): below -25 %, -25..-10, -10..10, 10..25, above 25 %
  var BREAKS = [-0.25, -0.1, 0.1, 0.25];
  var DIVERGING = ["#0571b0", "#92c5de", "#f7f7f7", "#f4a582", "#ca0020"];

  var S = {
    draft: null, state: null, unitCode: {}, unitTouches: {}, unitCommunity: {},
    unitLayers: {}, gridLayers: {}, selected: [], drafts: cfg.drafts.slice(), busy: 0,
  };

  function fill(text, values) {
    return String(text).replace(/\{(\w+)\}/g, function (m, key) {
      return values && key in values ? values[key] : m;
    });
  }

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (key) {
      if (key === "text") node.textContent = attrs[key];
      else if (key === "className") node.className = attrs[key];
      else node.setAttribute(key, attrs[key]);
    });
    (children || []).forEach(function (child) { node.appendChild(child); });
    return node;
  }

  function setBusy(on) {
    S.busy += on ? 1 : -1;
    var busy = S.busy > 0;
    busyBox.hidden = !busy;
    root.dataset.state = busy ? "busy" : "idle";
    document.getElementById("run").disabled = busy;
  }

  function call(method, path, body) {
    var options = {
      method: method,
      credentials: "same-origin",
      headers: { Accept: "application/json", "X-CSRFToken": csrf },
    };
    if (method !== "GET") {
      options.headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(body || {});
    }
    return fetch(cfg.api + path, options).then(function (response) {
      return response.json().then(function (json) {
        return { ok: response.ok, status: response.status, body: json };
      }, function () {
        return { ok: false, status: response.status, body: { message: response.statusText } };
      });
    });
  }

  function errorText(result) {
    var body = result.body || {};
    return (body.message || T.failed) + (body.fix ? " — " + body.fix : "");
  }

  // ---------------------------------------------------------------- maps

  function makeMap(box) {
    var map = window.gridmapBaseTiles(L.map(box, { zoomControl: true }), cfg);
    L.control.scale().addTo(map);
    map.setView([30.65, 104.06], 14);
    return map;
  }

  var publishedMap = makeMap(publishedBox);
  var proposedMap = makeMap(proposedBox);
  var syncing = false;
  function sync(from, to) {
    from.on("moveend", function () {
      if (syncing) return;
      syncing = true;
      to.setView(from.getCenter(), from.getZoom(), { animate: false });
      syncing = false;
    });
  }
  sync(publishedMap, proposedMap);
  sync(proposedMap, publishedMap);

  function colour(deviation) {
    if (deviation === null || deviation === undefined) return "#cccccc";
    var i = 0;
    while (i < BREAKS.length && deviation > BREAKS[i]) i += 1;
    return DIVERGING[i];
  }

  function gridStyle(feature) {
    var p = feature.properties;
    return {
      className: "gm-grid grid-" + p.code,
      color: p.locked ? "#6a3d9a" : "#333333",
      weight: p.locked ? 3 : 1.5,
      fillColor: colour(p.deviation),
      fillOpacity: 0.7,
      dashArray: p.in_range === false ? "4 3" : null,
    };
  }

  function percent(value) {
    if (value === null || value === undefined) return "–";
    return (value * 100).toFixed(1) + " %";
  }

  function gridTooltip(p) {
    return (
      T.grid + " " + p.code + "<br>" + T.community + " " + (p.community_name || p.community) +
      "<br>" + T.households + " " + p.households + " · " + T.persons + " " + p.persons +
      "<br>" + T.deviation + " " + percent(p.deviation) + (p.locked ? " · " + T.locked : "")
    );
  }

  var publishedLayer = L.geoJSON(null, {
    style: gridStyle,
    onEachFeature: function (feature, layer) {
      layer.bindTooltip(gridTooltip(feature.properties), { sticky: true });
    },
  }).addTo(publishedMap);

  var gridsLayer = L.geoJSON(null, {
    style: gridStyle,
    interactive: false,
    onEachFeature: function (feature, layer) {
      S.gridLayers[feature.properties.code] = layer;
    },
  }).addTo(proposedMap);

  function unitStyle(feature) {
    var u = feature.properties.unit;
    var selected = S.selected.indexOf(u) >= 0;
    return {
      className: "gm-unit unit-" + u,
      color: selected ? "#000000" : "#777777",
      weight: selected ? 2.5 : 0.5,
      fillColor: "#000000",
      fillOpacity: selected ? 0.35 : 0,
    };
  }

  var unitsLayer = L.geoJSON(null, {
    style: unitStyle,
    onEachFeature: function (feature, layer) {
      var u = feature.properties.unit;
      S.unitLayers[u] = layer;
      layer.on("click", function (event) {
        selectUnit(u, event.originalEvent && event.originalEvent.shiftKey, event.latlng);
      });
    },
  }).addTo(proposedMap);

  function drawLegend() {
    var box = document.getElementById("wb-legend");
    box.textContent = "";
    box.appendChild(el("div", { className: "gm-legend-title", text: T.deviation }));
    var labels = ["< -25 %", "-25 – -10 %", "-10 – 10 %", "10 – 25 %", "> 25 %"];
    DIVERGING.forEach(function (fillColour, i) {
      var row = el("div", { className: "gm-legend-row" }, [
        el("span", { className: "gm-swatch", style: "background: " + fillColour }),
      ]);
      row.appendChild(document.createTextNode(" " + labels[i]));
      box.appendChild(row);
    });
  }

  function loadPublished() {
    publishedBox.dataset.state = "loading";
    return call("GET", "/published").then(function (result) {
      if (!result.ok) {
        publishedBox.dataset.state = "error";
        return;
      }
      publishedLayer.clearLayers();
      publishedLayer.addData(result.body);
      publishedBox.dataset.grids = String(result.body.features.length);
      publishedBox.dataset.planId = String(result.body.plan_id);
      publishedBox.dataset.state = "ready";
      var info = document.getElementById("published-info");
      info.dataset.planId = String(result.body.plan_id);
      info.dataset.version = String(result.body.version);
      if (!S.draft) {
        var bounds = publishedLayer.getBounds();
        if (bounds.isValid()) publishedMap.fitBounds(bounds);
      }
    });
  }

  function countGrids() {
    proposedBox.dataset.grids = String(Object.keys(S.gridLayers).length);
  }

  function replaceGrids(features, retired) {
    (retired || []).forEach(function (code) {
      var layer = S.gridLayers[code];
      if (layer) gridsLayer.removeLayer(layer);
      delete S.gridLayers[code];
    });
    features.forEach(function (feature) {
      var old = S.gridLayers[feature.properties.code];
      if (old) gridsLayer.removeLayer(old);
      gridsLayer.addData(feature);
    });
    countGrids();
  }

  function loadGeometry(draftId) {
    proposedBox.dataset.state = "loading";
    return Promise.all([
      call("GET", "/" + draftId + "/grids"),
      call("GET", "/" + draftId + "/units"),
    ]).then(function (results) {
      if (draftId !== S.draft) return;
      if (!results[0].ok || !results[1].ok) {
        proposedBox.dataset.state = "error";
        showEdit("error", errorText(results[0].ok ? results[1] : results[0]));
        return;
      }
      gridsLayer.clearLayers();
      unitsLayer.clearLayers();
      S.gridLayers = {};
      S.unitLayers = {};
      S.unitCode = {};
      S.unitTouches = {};
      S.unitCommunity = {};
      S.selected = [];
      gridsLayer.addData(results[0].body);
      results[1].body.features.forEach(function (f) {
        var p = f.properties;
        S.unitCode[p.unit] = p.code;
        S.unitTouches[p.unit] = p.touches;
        S.unitCommunity[p.unit] = p.community;
      });
      unitsLayer.addData(results[1].body);
      countGrids();
      proposedBox.dataset.units = String(results[1].body.features.length);
      proposedBox.dataset.revision = String(results[0].body.revision);
      proposedBox.dataset.state = "ready";
      var bounds = gridsLayer.getBounds();
      if (bounds.isValid()) proposedMap.fitBounds(bounds);
      renderSelection();
    });
  }

  // ---------------------------------------------------------------- panels

  function formatMetric(name, value) {
    if (value === null || value === undefined) return "–";
    if (name === "in_range_share" || name === "contiguous_share" || name === "max_abs_deviation") {
      return percent(value);
    }
    if (name === "mean_polsby_popper") return Number(value).toFixed(3);
    return String(value);
  }

  function renderMetrics(rows) {
    var body = document.querySelector("#plan-metrics tbody");
    body.textContent = "";
    rows.forEach(function (row) {
      var tr = el("tr", { "data-metric": row.metric }, [
        el("th", { text: T[row.metric] || row.metric }),
        el("td", { className: "gm-num", "data-value": row.published === null ? "" : row.published,
                   text: formatMetric(row.metric, row.published) }),
        el("td", { className: "gm-num", "data-value": row.proposed === null ? "" : row.proposed,
                   text: formatMetric(row.metric, row.proposed) }),
      ]);
      body.appendChild(tr);
    });
  }

  function renderBars(state) {
    var box = document.getElementById("balance-bars");
    box.textContent = "";
    var grids = state.grids;
    var top = Math.max.apply(null, grids.map(function (g) { return g.weight || 0; }).concat([1]));
    if (state.maximum) top = Math.max(top, state.maximum * 1.15);
    var scale = function (v) { return Math.max(0, Math.min(100, (100 * v) / top)); };
    grids.forEach(function (g) {
      var bar = el("span", { className: "gm-wb-bar-fill" });
      bar.style.width = scale(g.weight || 0) + "%";
      bar.style.background = colour(g.deviation);
      var track = el("span", { className: "gm-wb-bar-track" });
      if (state.minimum && state.maximum) {
        var band = el("span", { className: "gm-wb-bar-range", title: T.range });
        band.style.left = scale(state.minimum) + "%";
        band.style.width = scale(state.maximum) - scale(state.minimum) + "%";
        track.appendChild(band);
      }
      track.appendChild(bar);
      var row = el("div", {
        className: "gm-wb-bar" + (g.in_range === false ? " gm-wb-out" : ""),
        "data-code": g.code, "data-weight": g.weight,
        title: g.code + " · " + g.weight + (g.in_range === false ? " · " + T.out_of_range : ""),
      }, [
        el("span", { className: "gm-wb-bar-label", text: String(g.code).slice(-6) }),
        track,
        el("span", { className: "gm-wb-bar-value gm-num", text: String(Math.round(g.weight || 0)) }),
      ]);
      box.appendChild(row);
    });
    box.dataset.grids = String(grids.length);
  }

  function renderChanges(changes) {
    var box = document.getElementById("changes");
    box.dataset.households = String(changes.households_moved);
    box.dataset.buildings = String(changes.buildings_moved);
    box.dataset.flows = String(changes.flows.length);
    document.getElementById("changes-summary").textContent = changes.buildings_moved
      ? fill(T.changes, { b: changes.buildings_moved, h: changes.households_moved,
                          p: changes.persons_moved === null ? "–" : changes.persons_moved,
                          i: changes.incidents_changing_grid })
      : T.no_changes;
    var body = document.querySelector("#changes-table tbody");
    body.textContent = "";
    changes.flows.slice(0, 300).forEach(function (f) {
      body.appendChild(el("tr", { "data-from": f.from || "", "data-to": f.to || "" }, [
        el("td", { text: f.from || T.none }),
        el("td", { text: f.to || T.none }),
        el("td", { className: "gm-num", text: String(f.buildings) }),
        el("td", { className: "gm-num", text: String(f.households) }),
        el("td", { className: "gm-num", text: f.persons === null ? "–" : String(f.persons) }),
        el("td", { className: "gm-num", text: String(f.incidents) }),
      ]));
    });
  }

  function renderHistory(state) {
    var list = document.getElementById("history");
    list.textContent = "";
    state.history.forEach(function (op) { list.appendChild(el("li", { text: op })); });
    undoButton.disabled = !state.can_undo;
    redoButton.disabled = !state.can_redo;
  }

  function renderDraftInfo(state) {
    document.getElementById("draft-info").hidden = false;
    document.getElementById("draft-label").textContent = fill(T.draft, {
      id: state.draft, mode: T[state.mode] || state.mode, n: state.grids.length,
      s: state.seconds, v: state.base.version,
    });
    document.getElementById("draft-stale").hidden = !state.stale;
    draftSelect.textContent = "";
    S.drafts.forEach(function (id) {
      var option = el("option", { value: id, text: id });
      if (id === state.draft) option.selected = true;
      draftSelect.appendChild(option);
    });
    var problems = document.getElementById("run-problems");
    problems.textContent = "";
    state.problems.forEach(function (p) {
      problems.appendChild(el("li", { className: "gm-wb-" + p.severity,
                                      text: p.message + (p.fix ? " — " + p.fix : "") }));
    });
  }

  function render(state) {
    S.state = state;
    root.dataset.draft = state.draft;
    renderDraftInfo(state);
    renderMetrics(state.metrics);
    renderBars(state);
    renderChanges(state.changes);
    renderHistory(state);
    saveButton.disabled = false;
    publishButton.disabled = false;
    proposedBox.dataset.revision = String(state.revision);
  }

  function showEdit(kind, text) {
    editMessage.dataset.kind = kind;
    editMessage.className = "gm-wb-message gm-wb-" + kind;
    editMessage.textContent = text;
  }

  // ---------------------------------------------------------------- selection and edits

  function neighbours(unit) {
    var own = S.unitCode[unit];
    var seen = {};
    (S.unitTouches[unit] || []).forEach(function (v) {
      var code = S.unitCode[v];
      if (code !== undefined && code !== own && S.unitCommunity[v] === S.unitCommunity[unit]) {
        seen[code] = true;
      }
    });
    return Object.keys(seen).sort();
  }

  function unitsOf(code) {
    return Object.keys(S.unitCode).filter(function (u) { return S.unitCode[u] === code; })
      .map(Number);
  }

  function gridNeighbours(code) {
    var seen = {};
    unitsOf(code).forEach(function (u) {
      neighbours(u).forEach(function (c) { seen[c] = true; });
    });
    return Object.keys(seen).sort();
  }

  function restyle(units) {
    units.forEach(function (u) {
      var layer = S.unitLayers[u];
      if (layer) layer.setStyle(unitStyle(layer.feature));
    });
  }

  function button(text, id, action) {
    var b = el("button", { type: "button", text: text, id: id });
    b.addEventListener("click", function () {
      proposedMap.closePopup();
      action();
    });
    return b;
  }

  function actions() {
    var box = el("div", { className: "gm-wb-actions" });
    if (!S.selected.length) {
      box.appendChild(el("p", { className: "gm-muted", text: T.nothing_selected }));
      return box;
    }
    var code = S.unitCode[S.selected[0]];
    var targets = {};
    S.selected.forEach(function (u) {
      neighbours(u).forEach(function (c) { targets[c] = true; });
    });
    var codes = Object.keys(targets).sort().filter(function (c) {
      return S.selected.some(function (u) { return S.unitCode[u] !== c; });
    });
    box.appendChild(el("p", { text: fill(T.selected, { n: S.selected.length, code: code }) }));
    if (!codes.length) box.appendChild(el("p", { className: "gm-muted", text: T.no_neighbour }));
    codes.forEach(function (c) {
      box.appendChild(button(fill(T.move_to, { code: c }), "move-to-" + c, function () {
        moveUnits(S.selected.slice(), c);
      }));
    });
    var grid = (S.state && S.state.grids.filter(function (g) { return g.code === code; })[0]) || {};
    box.appendChild(button(fill(T.split, { code: code }), "split-" + code, function () {
      edit("split", { code: code });
    }));
    gridNeighbours(code).forEach(function (other) {
      box.appendChild(button(fill(T.merge, { code: code, other: other }), "merge-" + other,
        function () { edit("merge", { keep: code, other: other }); }));
    });
    var locked = grid.locked;
    box.appendChild(button(fill(locked ? T.unlock : T.lock, { code: code }), "lock-" + code,
      function () { edit(locked ? "unlock" : "lock", { code: code }); }));
    return box;
  }

  function renderSelection(latlng) {
    selectionBox.textContent = "";
    selectionBox.dataset.units = S.selected.join(",");
    selectionBox.appendChild(actions());
    if (latlng && S.selected.length) {
      L.popup({ maxWidth: 320 }).setLatLng(latlng).setContent(actions()).openOn(proposedMap);
    }
  }

  function selectUnit(unit, add, latlng) {
    unit = Number(unit);
    if (!(unit in S.unitCode)) return false;
    var before = S.selected.slice();
    if (add && S.selected.length && S.unitCode[S.selected[0]] === S.unitCode[unit]) {
      var at = S.selected.indexOf(unit);
      if (at >= 0) S.selected.splice(at, 1);
      else S.selected.push(unit);
    } else {
      S.selected = [unit];
    }
    restyle(before.concat(S.selected));
    renderSelection(latlng);
    return true;
  }

  function applyEdit(body) {
    Object.keys(body.units).forEach(function (u) {
      S.unitCode[u] = body.units[u];
    });
    replaceGrids(body.features, body.retired);
    render(body);
    var before = S.selected;
    S.selected = [];
    restyle(before);
    renderSelection();
  }

  function edit(name, payload) {
    if (!S.draft) return Promise.resolve({ ok: false, status: 0, body: {} });
    setBusy(true);
    return call("POST", "/" + S.draft + "/" + name, payload).then(function (result) {
      setBusy(false);
      if (result.ok) {
        applyEdit(result.body);
        showEdit("done", T.done + ": " + result.body.operation);
      } else {
        showEdit(result.body && result.body.refused ? "refused" : "error",
                 (result.body && result.body.refused ? T.refused + ": " : "") + errorText(result));
      }
      return result;
    }, function (error) {
      setBusy(false);
      showEdit("error", String(error));
      return { ok: false, status: 0, body: { message: String(error) } };
    });
  }

  function moveUnits(units, code) {
    return edit("move", { units: units.map(Number), to: String(code) });
  }

  undoButton.addEventListener("click", function () { edit("undo", {}); });
  redoButton.addEventListener("click", function () { edit("redo", {}); });

  // ---------------------------------------------------------------- run, drafts, save

  function sizeMode() {
    return form.querySelector('input[name="size"]:checked').value;
  }

  function formParams() {
    var mode = form.querySelector('input[name="mode"]:checked').value;
    var params = {
      mode: mode,
      weight: form.elements.weight.value,
      target: form.elements.target.value,
      minimum: form.elements.minimum.value,
      maximum: form.elements.maximum.value,
    };
    var size = sizeMode();
    if (mode === "afresh" && size === "grids") params.grids = form.elements.grids.value;
    if (mode === "afresh" && size === "communities") {
      params.per_community = {};
      form.querySelectorAll("input[data-community]").forEach(function (input) {
        params.per_community[input.dataset.community] = input.value;
      });
    }
    if (mode === "redraw") {
      params.locked = form.elements.locked.value.split(/[\s,;]+/).filter(Boolean);
    }
    return params;
  }

  function updateForm() {
    var mode = form.querySelector('input[name="mode"]:checked').value;
    var size = sizeMode();
    form.querySelectorAll("[data-size]").forEach(function (row) {
      row.hidden = mode !== "afresh" || row.dataset.size !== size;
    });
    form.querySelectorAll("[data-mode]").forEach(function (row) {
      row.hidden = row.dataset.mode !== mode;
    });
    form.querySelectorAll('input[name="size"]').forEach(function (input) {
      input.disabled = mode === "redraw" && input.value !== "range";
    });
    if (mode === "redraw") document.getElementById("size-range").checked = true;
  }
  form.addEventListener("change", updateForm);
  updateForm();

  function openDraft(state) {
    S.draft = state.draft;
    if (S.drafts.indexOf(state.draft) < 0) S.drafts.push(state.draft);
    (state.dropped || []).forEach(function (id) {
      var at = S.drafts.indexOf(id);
      if (at >= 0) S.drafts.splice(at, 1);
    });
    render(state);
    saveResult.textContent = "";
    showEdit("", "");
    return loadGeometry(state.draft);
  }

  function run(params) {
    runMessage.textContent = "";
    setBusy(true);
    return call("POST", "/run", params || formParams()).then(function (result) {
      setBusy(false);
      if (!result.ok) {
        runMessage.textContent = errorText(result);
        return result;
      }
      return openDraft(result.body).then(function () { return result; });
    }, function (error) {
      setBusy(false);
      runMessage.textContent = String(error);
      return { ok: false, status: 0, body: { message: String(error) } };
    });
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    run();
  });

  function loadDraft(id) {
    setBusy(true);
    return call("GET", "/" + id).then(function (result) {
      setBusy(false);
      if (result.ok) return openDraft(result.body);
      var at = S.drafts.indexOf(id);
      if (at >= 0) S.drafts.splice(at, 1);
      runMessage.textContent = errorText(result);
    });
  }

  draftSelect.addEventListener("change", function () { loadDraft(draftSelect.value); });

  function save() {
    setBusy(true);
    var note = document.getElementById("save-note").value;
    return call("POST", "/" + S.draft + "/save", { note: note }).then(function (result) {
      setBusy(false);
      saveResult.dataset.kind = result.ok ? "saved" : "error";
      if (result.ok) {
        saveResult.dataset.planId = String(result.body.plan_id);
        saveResult.textContent = fill(T.saved, { id: result.body.plan_id,
          version: result.body.version, status: result.body.status });
      } else {
        saveResult.textContent = errorText(result);
      }
      return result;
    });
  }

  function publish(skipConfirm) {
    if (!skipConfirm && !window.confirm(T.confirm_publish)) {
      return Promise.resolve({ ok: false, status: 0, body: { message: "cancelled" } });
    }
    setBusy(true);
    var note = document.getElementById("save-note").value;
    return call("POST", "/" + S.draft + "/publish", { note: note }).then(function (result) {
      setBusy(false);
      saveResult.dataset.kind = result.ok ? "published" : "error";
      if (result.ok) {
        var done = result.body.publish_result;
        saveResult.dataset.planId = String(done.plan_id);
        saveResult.textContent = fill(T.published, { id: done.plan_id, version: done.version,
                                                     n: done.incidents_reassigned });
        var info = document.getElementById("published-info");
        if (info) {
          info.dataset.planId = String(done.plan_id);
          info.dataset.version = String(done.version);
          info.textContent = info.textContent.replace(/\d+(?!.*\d)/, String(done.version));
        }
        render(result.body);
        return loadPublished().then(function () { return result; });
      }
      saveResult.textContent = errorText(result);
      return result;
    });
  }

  saveButton.addEventListener("click", function () { save(); });
  publishButton.addEventListener("click", function () { publish(false); });

  // ---------------------------------------------------------------- phones: one map at a time

  var mapsBox = document.getElementById("wb-maps");
  function show(which) {
    mapsBox.dataset.show = which;
    document.getElementById("show-proposed").setAttribute("aria-pressed", which === "proposed");
    document.getElementById("show-published").setAttribute("aria-pressed", which === "published");
    publishedMap.invalidateSize();
    proposedMap.invalidateSize();
  }
  document.getElementById("show-proposed").addEventListener("click", function () {
    show("proposed");
  });
  document.getElementById("show-published").addEventListener("click", function () {
    show("published");
  });

  drawLegend();
  var ready = loadPublished().then(function () {
    if (S.drafts.length) return loadDraft(S.drafts[S.drafts.length - 1]);
    return undefined;
  });

  window.gridmapWorkbench = {
    ready: ready,
    state: function () {
      var st = S.state || {};
      return {
        draft: S.draft,
        grids: Object.keys(S.gridLayers).length,
        units: Object.keys(S.unitCode).length,
        history_length: st.history_length || 0,
        revision: st.revision || 0,
        can_undo: !!st.can_undo,
        can_redo: !!st.can_redo,
        selected: S.selected.slice(),
      };
    },
    run: run,
    moveUnit: function (unit, code) { return moveUnits([unit], code); },
    moveUnits: moveUnits,
    split: function (code) { return edit("split", { code: code }); },
    merge: function (keep, other) { return edit("merge", { keep: keep, other: other }); },
    lock: function (code) { return edit("lock", { code: code }); },
    unlock: function (code) { return edit("unlock", { code: code }); },
    undo: function () { return edit("undo", {}); },
    redo: function () { return edit("redo", {}); },
    save: save,
    publish: publish,
    selectUnit: function (unit, add) { return selectUnit(unit, add); },
    neighbours: neighbours,
    unitsOf: unitsOf,
    gridOf: function (unit) { return S.unitCode[unit]; },
  };
})();
