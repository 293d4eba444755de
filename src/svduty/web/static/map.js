// The "where" page's map. Each layer is GeoJSON that svduty serves for the page's own view
// (/map/<layer>.geojson?<the page's filters>): published figures only, over the area's own
// boundaries. MapLibre's CSP build draws it with its worker loaded from this server, so nothing
// comes from elsewhere and nothing is evaluated from text. Text from the data is set as text.
(function () {
  "use strict";
  const block = document.getElementById("where-map");
  if (!block) return;
  const state = { ready: false, layer: null, error: null, features: 0 };
  window.svdutyMap = state;
  // the block's data-drawn (the layer drawn) and data-error say when the map is done
  const target = document.getElementById("svduty-map");
  const description = document.getElementById("map-description");
  const legend = document.getElementById("map-legend");
  const source = document.getElementById("map-source");
  const table = document.getElementById("map-table");
  const query = block.dataset.query ? "?" + block.dataset.query : "";
  const FILLS = ["csps", "districts", "hotspots"];
  const loaded = {};

  function failed(message) {
    state.error = message;
    block.dataset.error = message;
    description.textContent =
      "The map could not be drawn (" + message + "). Every figure it would show is in the tables on this page.";
  }

  if (typeof maplibregl === "undefined") {
    failed("its script did not load");
    return;
  }
  maplibregl.setWorkerUrl("/static/maplibre/maplibre-gl-csp-worker.js");
  let map;
  try {
    map = new maplibregl.Map({
      container: target,
      style: {
        version: 8,
        sources: {},
        layers: [{ id: "background", type: "background", paint: { "background-color": "#ffffff" } }],
      },
      center: [-2.5, 52.5],
      zoom: 7,
      attributionControl: false,
      dragRotate: false,
      pitchWithRotate: false,
    });
  } catch (error) {
    failed(error.message || "WebGL is not available");
    return;
  }
  map.on("zoomend", () => {
    block.dataset.zoom = map.getZoom().toFixed(2);
  });
  map.on("error", (event) => {
    state.error = String((event.error && event.error.message) || event.error || "map error");
    block.dataset.error = state.error;
  });

  function bounds(collection) {
    const box = [180, 90, -180, -90];
    const walk = (c) => {
      if (typeof c[0] === "number") {
        box[0] = Math.min(box[0], c[0]);
        box[1] = Math.min(box[1], c[1]);
        box[2] = Math.max(box[2], c[0]);
        box[3] = Math.max(box[3], c[1]);
      } else c.forEach(walk);
    };
    collection.features.forEach((f) => walk(f.geometry.coordinates));
    return box[0] <= box[2] ? [[box[0], box[1]], [box[2], box[3]]] : null;
  }

  function load(name) {
    if (!loaded[name]) {
      loaded[name] = fetch("/map/" + name + ".geojson" + query, {
        credentials: "same-origin",
        headers: { Accept: "application/geo+json" },
      }).then((answer) => {
        if (!answer.ok) throw new Error("HTTP " + answer.status);
        return answer.json();
      });
    }
    return loaded[name];
  }

  function add(name, data) {
    if (map.getSource(name)) return;
    map.addSource(name, { type: "geojson", data: data });
    const before = map.getLayer("outline") ? "outline" : undefined;
    map.addLayer(
      {
        id: name,
        type: "fill",
        source: name,
        layout: { visibility: "none" },
        paint: {
          "fill-color": ["coalesce", ["get", "fill"], "rgba(0,0,0,0)"],
          "fill-opacity": 1,
          "fill-outline-color": "#b1b4b6",
        },
      },
      before,
    );
    map.on("click", name, (event) => {
      const found = event.features && event.features[0];
      if (!found) return;
      const p = found.properties;
      new maplibregl.Popup({ closeButton: true })
        .setLngLat(event.lngLat)
        .setText((p.area || p.lsoa || "") + (p.area || p.lsoa ? ": " : "") + p.label)
        .addTo(map);
    });
  }

  function outline(data) {
    if (map.getSource("outline")) return;
    map.addSource("outline", { type: "geojson", data: data });
    map.addLayer({
      id: "outline",
      type: "line",
      source: "outline",
      paint: { "line-color": "#0b0c0c", "line-width": 1.2 },
    });
    const box = bounds(data);
    if (box) {
      state.home = box;
      map.fitBounds(box, { padding: 20, duration: 0 });
    }
  }

  function cell(row, text, numeric) {
    const td = document.createElement(row.tagName === "THEAD" ? "th" : "td");
    td.textContent = text;
    if (numeric) td.className = "n";
    return td;
  }

  function shown(value) {
    return value === null || value === undefined ? "[c]" : String(value);
  }

  function tabulate(name, data) {
    const rates = name !== "hotspots";
    const columns = rates
      ? [["Area", "area"], ["CSP", "csp"], ["Count", "count", true], ["Rate per 1,000", "rate", true],
         ["Low", "low", true], ["High", "high", true]]
      : [["LSOA", "lsoa"], ["Name", "name"], ["Ward", "ward"], ["Class", "class"], ["Count", "count", true]];
    const features = data.features.map((f) => f.properties);
    const used = columns.filter(([, key]) => features.some((p) => key in p));
    const out = document.createElement("table");
    const head = out.createTHead();
    const top = head.insertRow();
    used.forEach(([label]) => top.appendChild(cell(head, label)));
    const body = out.createTBody();
    const rows = rates || used.length > 1 ? features : [];
    rows.forEach((p) => {
      const row = body.insertRow();
      used.forEach(([, key, numeric]) => row.appendChild(cell(body, shown(p[key]), numeric)));
    });
    if (!rates && used.length <= 1) {
      // grid cells: how many of each class (cells, not people)
      const counted = {};
      features.forEach((p) => (counted[p.class] = (counted[p.class] || 0) + 1));
      top.replaceChildren(cell(head, "Class"), cell(head, "Grid cells"));
      Object.entries(counted).forEach(([label, n]) => {
        const row = body.insertRow();
        row.appendChild(cell(body, label));
        row.appendChild(cell(body, String(n), true));
      });
    }
    table.replaceChildren(out);
  }

  function say(name, data) {
    const about = data.svduty || {};
    legend.replaceChildren(
      ...(about.legend || []).map((item) => {
        const li = document.createElement("li");
        const swatch = document.createElement("span");
        swatch.className = "svduty-map-swatch" + (item.colour ? "" : " empty");
        if (item.colour) swatch.style.backgroundColor = item.colour;
        swatch.setAttribute("aria-hidden", "true");
        li.append(swatch, document.createTextNode(item.label));
        return li;
      }),
    );
    const features = data.features.map((f) => f.properties);
    let text = about.title || "";
    if (name !== "hotspots") {
      const rated = features.filter((p) => p.rate !== null && p.rate !== undefined);
      rated.sort((a, b) => b.rate - a.rate);
      if (rated.length === 1) {
        text += ", " + (about.note || "") + ". " + rated[0].area + ": " + rated[0].label + ".";
      } else if (rated.length) {
        const low = rated[rated.length - 1];
        text += ", " + (about.note || "") + ". Highest: " + rated[0].area + " " + rated[0].label + ".";
        text += " Lowest: " + low.area + " " + low.label + ".";
      } else text += ": " + (about.note || "nothing to show") + ".";
      const hidden = features.length - rated.length;
      if (hidden) text += " " + hidden + " hidden as [c].";
    } else {
      const counted = {};
      features.forEach((p) => (counted[p.class] = (counted[p.class] || 0) + 1));
      const named = (about.legend || []).map((item) => [item.label, counted[item.label] || 0]);
      text += about.unit ? " of " + about.unit : "";
      text += named.length
        ? ": " + named.map(([c, n]) => n + " " + c).join(", ") + "."
        : ": no significant hot or cold spots.";
      if (about.note) text += " " + about.note + ".";
    }
    description.textContent = text;
    target.setAttribute("aria-label", "Map: " + (about.title || name) + ". Described below; its figures are in the map's table.");
    source.textContent = about.source ? "Boundaries: " + about.source + "." : about.note || "";
  }

  function show(name) {
    state.ready = false;
    delete block.dataset.drawn;
    return load(name)
      .then((data) => {
        add(name, data);
        FILLS.forEach((other) => {
          if (map.getLayer(other)) map.setLayoutProperty(other, "visibility", other === name ? "visible" : "none");
        });
        say(name, data);
        tabulate(name, data);
        map.once("idle", () => {
          state.ready = true;
          state.layer = name;
          state.features = data.features.length;
          block.dataset.drawn = name;
        });
        map.triggerRepaint();
      })
      .catch((error) => failed(error.message));
  }

  map.on("load", () => {
    load("districts")
      .then((data) => {
        outline(data);
        const chosen = block.querySelector("input[name='map-layer']:checked");
        return show(chosen ? chosen.value : "districts");
      })
      .catch((error) => failed(error.message));
  });
  block.querySelectorAll("input[name='map-layer']").forEach((input) => {
    input.addEventListener("change", () => show(input.value));
  });
  block.querySelectorAll("button[data-zoom]").forEach((button) => {
    button.addEventListener("click", () => {
      const how = button.dataset.zoom;
      if (how === "in") map.zoomIn();
      else if (how === "out") map.zoomOut();
      else if (state.home) map.fitBounds(state.home, { padding: 20 });
    });
  });
})();
