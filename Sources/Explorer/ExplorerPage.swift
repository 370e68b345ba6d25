// The explorer's one page: HTML, CSS and JavaScript in one string, served by the binary (no network at run time).
// It draws with canvas and asks the API for every number; the methods and their axes are a table at the top of the
// script (add a method there and to the API's map, and the page offers it).

enum ExplorerPage {
    static let html = #"""
<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>easgd explore</title>
<style>
  body { font: 14px/1.4 system-ui, sans-serif; margin: 0; color: #222; background: #fafafa; }
  header { background: #223; color: #fff; padding: 8px 16px; display: flex; gap: 24px; align-items: center; }
  header h1 { font-size: 17px; margin: 0; font-weight: 600; }
  header button { background: none; border: 0; color: #ccd; font-size: 14px; cursor: pointer; padding: 4px 8px; }
  header button.on { color: #fff; border-bottom: 2px solid #fc6; }
  main { padding: 12px 16px; }
  .row { display: flex; gap: 16px; flex-wrap: wrap; align-items: flex-start; }
  .panel { background: #fff; border: 1px solid #ddd; border-radius: 4px; padding: 10px; }
  .controls { max-width: 290px; }
  .mapbox { width: min-content; }
  .controls label { display: block; margin: 4px 0; font-size: 13px; }
  .controls input[type=text] { width: 120px; }
  .controls input[type=number] { width: 70px; }
  .controls input[type=range] { width: 160px; vertical-align: middle; }
  .status { color: #666; font-size: 12px; min-height: 1.4em; }
  .error { color: #b00; }
  canvas { display: block; }
  table { border-collapse: collapse; font-size: 12px; }
  td, th { padding: 2px 6px; border-bottom: 1px solid #eee; text-align: right; white-space: nowrap; }
  th { background: #f0f0f4; }
  td.l, th.l { text-align: left; }
  .legend span { display: inline-block; margin-right: 12px; font-size: 12px; }
  .hidden { display: none; }
  #point pre { font-size: 12px; margin: 4px 0; }
  .legend { font-size: 12px; color: #444; }
</style>
</head>
<body>
<header>
  <h1>easgd explore</h1>
  <button id="tab-map" class="on" onclick="show('map')">Map</button>
  <button id="tab-side" onclick="show('side')">Side by side</button>
  <button id="tab-runs" onclick="show('runs')">Runs</button>
</header>
<main>
<section id="view-map">
  <div class="row">
    <div class="panel controls" id="controls-a"></div>
    <div class="panel mapbox">
      <canvas id="map-a" width="560" height="460"></canvas>
      <div class="status" id="status-a"></div>
      <div class="status" id="hover-a">hover over the map for ρ; click a point for its eigenvalues and trajectory</div>
    </div>
    <div class="panel mapbox" id="point">
      <b>Point</b>
      <div id="point-text" class="status">click the map</div>
      <canvas id="eigen" width="260" height="260"></canvas>
      <canvas id="trajectory" width="360" height="220"></canvas>
      <div class="legend" id="trajectory-legend"></div>
    </div>
  </div>
</section>
<section id="view-side" class="hidden">
  <div class="row">
    <div class="panel controls" id="controls-side"></div>
    <div class="panel mapbox"><canvas id="map-l" width="430" height="380"></canvas><div class="status" id="status-l"></div><div class="status" id="hover-l"></div></div>
    <div class="panel mapbox"><canvas id="map-r" width="430" height="380"></canvas><div class="status" id="status-r"></div><div class="status" id="hover-r"></div></div>
  </div>
</section>
<section id="view-runs" class="hidden">
  <div class="panel">
    <label><input type="checkbox" id="group-seeds" onchange="drawRuns()"> group seeds (mean, band from least to largest)</label>
    <span class="status" id="runs-status"></span>
    <div id="runs-table"></div>
  </div>
  <div class="row" style="margin-top: 12px">
    <div class="panel"><b>Test error</b><canvas id="curve-error" width="480" height="280"></canvas></div>
    <div class="panel"><b>Training loss (fixed subset)</b><canvas id="curve-loss" width="480" height="280"></canvas></div>
    <div class="panel"><b>Sharpness h<sub>max</sub> against h* (dashed)</b><canvas id="curve-sharp" width="480" height="280"></canvas></div>
  </div>
  <div class="legend" id="runs-legend"></div>
</section>
</main>
<script>
"use strict";
// The methods the maps know, and the second axes each takes (the API's parameter names). To offer a new method,
// add it here.
const METHODS = {
  "easgd":        { axes: ["alpha", "rho", "tau-range"], takes: ["tau"] },
  "eamsgd":       { axes: ["alpha", "rho", "tau-range"], takes: ["tau", "momentum"] },
  "admm":         { axes: ["rho", "alpha"], takes: [] },
  "downpour":     { axes: ["tau-range"], takes: [] },
  "diloco":       { axes: ["outer-lr-range", "outer-momentum-range", "tau-range"], takes: ["tau", "outer"], synchronous: true },
  "async-diloco": { axes: ["outer-lr-range", "outer-momentum-range", "tau-range"], takes: ["tau", "outer"] },
};
const AXIS_LABEL = { "alpha": "α", "rho": "ρ", "tau-range": "τ", "outer-lr-range": "η_o", "outer-momentum-range": "β" };
const AXIS_DEFAULT = { "alpha": "0.001:1", "rho": "0.01:10", "tau-range": "1:64", "outer-lr-range": "0.05:2", "outer-momentum-range": "0:0.99" };
const SECOND_KEY = { "alpha": "alpha", "rho": "rho", "tau-range": "tau", "outer-lr-range": "outer_eta", "outer-momentum-range": "outer_momentum" };

const PAGE_ID = Math.random().toString(36).slice(2, 10);
// A GET of the API; busy (503: older requests, of a drag say, still draining) is asked again after 50 ms, up to
// 100 times, unless the request was abandoned meanwhile.
async function api(url, signal) {
  let response = await fetch(url, { signal });
  for (let tries = 0; response.status === 503 && tries < 100; tries++) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    if (signal && signal.aborted) throw new DOMException("abandoned", "AbortError");
    response = await fetch(url, { signal });
  }
  return response;
}
function el(tag, attrs, children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) { if (k === "text") e.textContent = v; else e.setAttribute(k, v); }
  for (const c of children || []) e.appendChild(c);
  return e;
}
function fmt(x, digits) {
  if (x === null || x === undefined) return "–";
  const v = Number(x), a = Math.abs(v);
  return a !== 0 && (a < 1e-4 || a >= 1e6) ? v.toExponential((digits || 6) - 1) : v.toPrecision(digits || 6);
}

// ---- a map panel: its settings, its requests (coarse, then full; a newer one aborts the older) and its drawing
class MapPanel {
  constructor(name, canvas, status, hover, settings, onClick) {
    this.name = name; this.canvas = canvas; this.status = status; this.hover = hover;
    this.settings = settings; this.onClick = onClick; this.data = null; this.abort = null; this.marker = null;
    canvas.addEventListener("mousemove", (e) => this.hovered(e));
    canvas.addEventListener("click", (e) => { const p = this.at(e); if (p && this.onClick) this.onClick(this, p); });
  }
  query(grid) {
    const s = this.settings, q = new URLSearchParams();
    q.set("method", s.method); q.set("workers", s.workers); q.set("eta", s.eta); q.set("h", s.h);
    if (s.log) q.set("log-eta", "true");
    const m = METHODS[s.method];
    if (m.takes.includes("tau") && s.axis !== "tau-range") q.set("tau", s.tau);
    if (m.takes.includes("momentum")) q.set("momentum", s.momentum);
    if (s.schedule === "random" && !m.synchronous && !m.takes.includes("outer")) q.set("schedule", "random");
    if (s.axis === "tau-range" && (s.method === "easgd" || s.method === "eamsgd")) q.set("beta", s.beta);
    if (m.takes.includes("outer")) {
      if (s.axis !== "outer-lr-range") q.set("outer-lr", s.outerLr);
      if (s.axis !== "outer-momentum-range") q.set("outer-momentum", s.outerMomentum);
    }
    q.set(s.axis, s.second);
    q.set("grid", grid);
    q.set("channel", this.name + "-" + PAGE_ID);     // this panel of this page load: its sequence starts at 1
    this.sequence = (this.sequence || 0) + 1;
    q.set("seq", this.sequence);        // newer than every earlier request of this panel, however they arrive
    return q;
  }
  async refresh() {
    if (this.abort) this.abort.abort();
    const abort = new AbortController(); this.abort = abort;
    const [n, m] = this.settings.grid.split("x").map(Number);
    const t0 = performance.now();
    try {
      const coarse = `${Math.max(2, Math.min(n, 40))}x${Math.max(2, Math.min(m, 40))}`;
      this.status.textContent = "computing…"; this.status.className = "status";
      const first = await this.fetchMap(coarse, abort);
      if (!first) return;
      this.data = first; this.draw();
      this.timing = { first: performance.now() - t0 };       // make bench reads these
      this.status.textContent = `coarse ${coarse} in ${Math.round(performance.now() - t0)} ms; refining…`;
      if (coarse === this.settings.grid) { this.timing.full = this.timing.first; this.done(t0); return; }
      const full = await this.fetchMap(this.settings.grid, abort);
      if (!full) return;
      this.data = full; this.draw();
      this.timing.full = performance.now() - t0;
      this.done(t0);
    } catch (e) {
      if (e.name === "AbortError") { this.aborted = (this.aborted || 0) + 1; return; }
      this.status.textContent = String(e.message || e); this.status.className = "status error";
    }
  }
  done(t0) {
    const d = this.data;
    this.status.textContent = `${d.method} p=${d.workers}: ${d.eta.points}×${d[d.second_axis].points} points in ${Math.round(performance.now() - t0)} ms; ` +
      `unstable fraction ${fmt(d.unstable_fraction, 4)}; ρ from ${fmt(d.spectral_radius.min, 4)} to ${fmt(d.spectral_radius.max, 4)}`;
    this.canvas.dataset.state = "refined";
    this.canvas.dataset.grid = `${d.eta.points}x${d[d.second_axis].points}`;
  }
  async fetchMap(grid, abort) {
    this.requests = (this.requests || 0) + 1;
    const response = await api("/api/map?" + this.query(grid), abort.signal);
    const body = await response.json();
    if (response.status === 409) { this.superseded = (this.superseded || 0) + 1; return null; }   // a newer request draws
    if (!response.ok) throw new Error(body.error || response.statusText);
    return body;
  }
  // plot geometry
  get box() { return { x: 62, y: 10, w: this.canvas.width - 140, h: this.canvas.height - 56 }; }
  xOf(eta) { const d = this.data, b = this.box, lo = d.eta.lo, hi = d.eta.hi;
    return b.x + b.w * (d.eta.log ? Math.log(eta / lo) / Math.log(hi / lo) : (eta - lo) / (hi - lo)); }
  yOf(v) { const a = this.data[this.data.second_axis], b = this.box; return b.y + b.h * (1 - (v - a.lo) / (a.hi - a.lo)); }
  at(e) {
    if (!this.data) return null;
    const r = this.canvas.getBoundingClientRect(), b = this.box, d = this.data;
    const x = (e.clientX - r.left - b.x) / b.w, y = 1 - (e.clientY - r.top - b.y) / b.h;
    if (x < 0 || x > 1 || y < 0 || y > 1) return null;
    const n = d.eta_values.length, m = d.second_values.length;
    const i = Math.min(n - 1, Math.round(x * (n - 1))), j = Math.min(m - 1, Math.round(y * (m - 1)));
    const a = d[d.second_axis];
    const eta = d.eta.log ? d.eta.lo * Math.pow(d.eta.hi / d.eta.lo, x) : d.eta.lo + x * (d.eta.hi - d.eta.lo);
    const second = a.lo + y * (a.hi - a.lo);
    return { eta, second: d.second_axis === "tau" ? Math.max(1, Math.round(second)) : second, radius: d.radii[j * n + i], i, j };
  }
  hovered(e) {
    const p = this.at(e);
    if (!p) { this.hover.textContent = ""; return; }
    const name = AXIS_LABEL[this.settings.axis];
    this.hover.textContent = `η = ${fmt(p.eta, 4)}, ${name} = ${fmt(p.second, 4)}: ρ ≈ ${fmt(p.radius, 6)} (nearest grid point) — ` +
      (p.radius <= 1 + 1e-9 ? "stable" : "unstable");
  }
  draw(peers = true) {
    const c = this.canvas.getContext("2d"), d = this.data, b = this.box;
    c.clearRect(0, 0, this.canvas.width, this.canvas.height);
    const n = d.eta_values.length, m = d.second_values.length;
    // A diverging scale centred on ρ = 1, in ln ρ: blue below 1, red above, white at 1; side by side, one scale
    // for both maps (the extremes of both), so equal colours are equal radii.
    const shown = [this].concat((this.peers || []).filter((p) => p.data)).map((p) => p.data.spectral_radius);
    const lo = Math.log(Math.max(Math.min(...shown.map((s) => s.min)), 1e-300)), hi = Math.log(Math.max(Math.max(...shown.map((s) => s.max)), 1e-300));
    const span = Math.max(Math.abs(lo), Math.abs(hi), 1e-12);
    const image = c.createImageData(n, m);
    for (let j = 0; j < m; j++) for (let i = 0; i < n; i++) {
      const t = Math.log(d.radii[j * n + i]) / span, k = 4 * ((m - 1 - j) * n + i);
      const [r, g, bl] = colour(t);
      image.data[k] = r; image.data[k + 1] = g; image.data[k + 2] = bl; image.data[k + 3] = 255;
    }
    const off = document.createElement("canvas"); off.width = n; off.height = m;
    off.getContext("2d").putImageData(image, 0, 0);
    c.imageSmoothingEnabled = false;
    c.drawImage(off, b.x, b.y, b.w, b.h);
    // the traced boundary ρ = 1 (Brent along η, each row)
    c.fillStyle = "#000";
    for (const p of d.boundary) { c.beginPath(); c.arc(this.xOf(p.eta), this.yOf(p.second), 1.6, 0, 2 * Math.PI); c.fill(); }
    // the paper's EASGD condition, where it applies
    if (d.paper_condition) {
      c.strokeStyle = "#0a0"; c.setLineDash([6, 4]); c.lineWidth = 2; c.beginPath();
      d.paper_condition.eta.forEach((x, k) => { const X = this.xOf(x), Y = this.yOf(d.paper_condition.alpha[k]);
        if (k === 0) c.moveTo(X, Y); else c.lineTo(X, Y); });
      c.stroke(); c.setLineDash([]); c.lineWidth = 1;
    }
    if (this.marker) {
      c.strokeStyle = "#000"; c.lineWidth = 2; c.beginPath();
      const X = this.xOf(this.marker.eta), Y = this.yOf(this.marker.second);
      c.moveTo(X - 7, Y); c.lineTo(X + 7, Y); c.moveTo(X, Y - 7); c.lineTo(X, Y + 7); c.stroke(); c.lineWidth = 1;
    }
    // axes
    c.fillStyle = "#222"; c.font = "12px sans-serif"; c.strokeStyle = "#888"; c.strokeRect(b.x, b.y, b.w, b.h);
    c.textAlign = "center";
    for (let k = 0; k <= 4; k++) {
      const x = k / 4, eta = d.eta.log ? d.eta.lo * Math.pow(d.eta.hi / d.eta.lo, x) : d.eta.lo + x * (d.eta.hi - d.eta.lo);
      c.fillText(fmt(eta, 3), b.x + x * b.w, b.y + b.h + 15);
    }
    c.fillText(d.method.includes("diloco") ? "inner learning rate γ (eta)" : "η (eta)" + (d.eta.log ? ", log scale" : ""), b.x + b.w / 2, b.y + b.h + 32);
    c.textAlign = "right";
    const a = d[d.second_axis];
    for (let k = 0; k <= 4; k++) { const v = a.lo + k / 4 * (a.hi - a.lo); c.fillText(fmt(v, 3), b.x - 4, this.yOf(v) + 4); }
    c.save(); c.translate(14, b.y + b.h / 2); c.rotate(-Math.PI / 2); c.textAlign = "center";
    c.fillText(AXIS_LABEL[this.settings.axis] + " (" + d.second_axis.replace("_", " ") + ")", 0, 0); c.restore();
    // colour bar
    const bx = b.x + b.w + 16, bw = 14;
    for (let y = 0; y < b.h; y++) { const t = (1 - y / b.h) * (hi - lo) + lo; const [r, g, bl] = colour(t / span);
      c.fillStyle = `rgb(${r},${g},${bl})`; c.fillRect(bx, b.y + y, bw, 1); }
    c.fillStyle = "#222"; c.textAlign = "left";
    c.fillText(fmt(Math.exp(hi), 4), bx + bw + 3, b.y + 10);
    c.fillText(fmt(Math.exp(lo), 4), bx + bw + 3, b.y + b.h);
    if (lo < 0 && hi > 0) { const y1 = b.y + b.h * (1 - (0 - lo) / (hi - lo)); c.fillText("1", bx + bw + 3, y1 + 4);
      c.fillRect(bx - 2, y1, bw + 4, 1); }
    if (peers) for (const p of this.peers || []) if (p.data) p.draw(false);
  }
}
function colour(t) {
  t = Math.max(-1, Math.min(1, t));
  if (t < 0) { const s = Math.pow(-t, 0.5); return [Math.round(255 - 200 * s), Math.round(255 - 150 * s), 255 - Math.round(60 * s)]; }
  const s = Math.pow(t, 0.5); return [255 - Math.round(55 * s), Math.round(255 - 215 * s), Math.round(255 - 215 * s)];
}

// ---- the controls of a panel: method, p, τ, δ, h, order, axes and grid; sliders ask for a new map at once
function controls(container, panels, settings, title, P) {
  container.innerHTML = "";
  container.appendChild(el("b", { text: title }));
  const fields = {};
  function add(label, node) { const l = el("label", { text: label + " " }); l.appendChild(node); container.appendChild(l); return node; }
  function changed() { read(); panels.forEach((p) => p.refresh()); }
  function input(type, value, attrs) { const i = el("input", Object.assign({ type }, attrs || {})); i.value = value; i.addEventListener(type === "range" ? "input" : "change", changed); return i; }
  const methodSelects = panels.map((p, k) => {
    const s = el("select", { id: `method-${p.name}` });
    for (const name of Object.keys(METHODS)) { const o = el("option", { value: name, text: name }); if (name === p.settings.method) o.selected = true; s.appendChild(o); }
    s.addEventListener("change", () => { p.settings.method = s.value; axisOptions(p); changed(); });
    return add(panels.length > 1 ? (k === 0 ? "left method" : "right method") : "method", s);
  });
  const workers = input("range", settings.workers, { min: 1, max: 16, step: 1, id: P + "workers" });
  const workersOut = el("span", { text: settings.workers });
  add("p (workers)", workers).after(workersOut);
  const tau = input("range", settings.tau, { min: 1, max: 64, step: 1, id: P + "tau" });
  const tauOut = el("span", { text: settings.tau });
  add("τ (local steps)", tau).after(tauOut);
  const momentum = input("range", settings.momentum, { min: 0, max: 0.99, step: 0.01, id: P + "momentum" });
  const momentumOut = el("span", { text: settings.momentum });
  add("δ (EAMSGD momentum)", momentum).after(momentumOut);
  const h = input("text", settings.h, { id: P + "h" }); add("h (curvature)", h);
  const schedule = el("select", { id: P + "schedule" });
  for (const v of ["round-robin", "random"]) schedule.appendChild(el("option", { value: v, text: v === "random" ? "random (mean square)" : v }));
  schedule.value = settings.schedule; schedule.addEventListener("change", changed); add("worker order", schedule);
  const eta = input("text", settings.eta, { id: P + "eta" }); add("η range", eta);
  const log = input("checkbox", "", { id: P + "log-eta" }); log.checked = settings.log; add("log η", log);
  const axis = el("select", { id: P + "axis" }); axis.addEventListener("change", () => { second.value = AXIS_DEFAULT[axis.value]; changed(); });
  add("second axis", axis);
  const second = input("text", settings.second, { id: P + "second" }); add("its range", second);
  const beta = input("text", settings.beta, { id: P + "beta" }); add("β = pα (τ maps)", beta);
  const outerLr = input("text", settings.outerLr, { id: P + "outer-lr" }); add("η_o (DiLoCo)", outerLr);
  const outerMomentum = input("text", settings.outerMomentum, { id: P + "outer-momentum" }); add("β_o (DiLoCo)", outerMomentum);
  const grid = input("text", settings.grid, { id: P + "grid" }); add("grid", grid);
  function axisOptions(p) {
    const common = panels.map((q) => METHODS[q.settings.method].axes).reduce((a, b) => a.filter((x) => b.includes(x)));
    const keep = axis.value || settings.axis;
    axis.innerHTML = "";
    for (const a of common) axis.appendChild(el("option", { value: a, text: AXIS_LABEL[a] + " (" + a + ")" }));
    if (common.includes(keep)) axis.value = keep; else { axis.value = common[0] || ""; second.value = AXIS_DEFAULT[axis.value] || ""; }
  }
  function read() {
    for (const p of panels) Object.assign(p.settings, {
      workers: +workers.value, tau: +tau.value, momentum: +momentum.value, h: h.value, schedule: schedule.value,
      eta: eta.value, log: log.checked, axis: axis.value, second: second.value, beta: beta.value,
      outerLr: outerLr.value, outerMomentum: outerMomentum.value, grid: grid.value });
    workersOut.textContent = workers.value; tauOut.textContent = tau.value; momentumOut.textContent = momentum.value;
    // Only the settings the chosen methods take.
    const takes = (what) => panels.some((p) => METHODS[p.settings.method].takes.includes(what));
    const shown = { tau: takes("tau") && axis.value !== "tau-range", momentum: takes("momentum"), outer: takes("outer"),
      schedule: panels.some((p) => !METHODS[p.settings.method].synchronous && !METHODS[p.settings.method].takes.includes("outer")),
      beta: axis.value === "tau-range" && panels.some((p) => ["easgd", "eamsgd"].includes(p.settings.method)) };
    const rows = { tau, momentum, schedule, beta, outer: outerLr, outerMomentum };
    for (const [key, node] of Object.entries(rows)) node.closest("label").style.display = shown[key === "outerMomentum" ? "outer" : key] ? "" : "none";
  }
  axisOptions(panels[0]);
  axis.value = settings.axis;
  fields.set = (s) => { for (const [k, v] of Object.entries(s)) { const node = { workers, tau, momentum, h, eta, second, grid, beta }[k]; if (node) node.value = v; }
    if (s.log !== undefined) log.checked = s.log; if (s.method) { methodSelects[0].value = s.method; panels[0].settings.method = s.method; axisOptions(panels[0]); }
    if (s.axis) axis.value = s.axis; if (s.second) second.value = s.second; changed(); };
  read();
  return fields;
}

// ---- the point view: eigenvalues on the unit circle, the margin, a trajectory against ln ρ
async function pointView(panel, p) {
  const s = panel.settings, d = panel.data, q = new URLSearchParams();
  q.set("method", s.method); q.set("workers", s.workers); q.set("eta", p.eta); q.set("h", s.h);
  const m = METHODS[s.method];
  if (m.takes.includes("momentum")) q.set("momentum", s.momentum);
  if (m.takes.includes("outer")) { q.set("outer-lr", s.outerLr); q.set("outer-momentum", s.outerMomentum); }
  const key = d.second_axis;
  if (key === "alpha" || key === "rho") q.set(key, p.second);
  if (key === "tau") { q.set("tau", p.second); if (s.method === "easgd" || s.method === "eamsgd") q.set("alpha", s.beta / s.workers); }
  else if (m.takes.includes("tau")) q.set("tau", s.tau);
  if (key === "outer_eta") q.set("outer-lr", p.second);
  if (key === "outer_momentum") q.set("outer-momentum", p.second);
  panel.marker = { eta: p.eta, second: p.second }; panel.draw();
  const text = document.getElementById("point-text");
  text.textContent = "computing…";
  const r = await api("/api/radius?" + q); const radius = await r.json();
  if (!r.ok) { text.textContent = radius.error; text.className = "status error"; return; }
  text.className = "status";
  const lines = [`${radius.method} p=${radius.workers} η=${fmt(radius.eta, 5)}` + (radius.alpha !== undefined ? ` α=${fmt(radius.alpha, 5)} (coupling ρ=${fmt(radius.rho, 5)})` : "") +
    (radius.tau !== undefined ? ` τ=${radius.tau}` : ""),
    `ρ(F) = ${fmt(radius.spectral_radius, 10)}: ${radius.stable ? "stable" : "unstable"} (margin 1 − ρ = ${fmt(1 - radius.spectral_radius, 4)})`];
  text.innerHTML = ""; for (const l of lines) text.appendChild(el("div", { text: l }));
  drawEigenvalues(radius.eigenvalues || []);
  // The margin along η: the stable intervals of η with everything else fixed (radius --solve eta).
  const solve = new URLSearchParams(q); solve.delete("eta"); solve.set("solve", "eta");
  api("/api/radius?" + solve).then((r) => r.json().then((s) => {
    if (!r.ok || !s.stable_intervals) return;
    const parts = s.stable_intervals.map((i) => `[${i.from_is_range_edge ? "≤ " : ""}${fmt(i.from, 5)}, ${i.to_is_range_edge ? "≥ " : ""}${fmt(i.to, 5)}]`);
    text.appendChild(el("div", { text: "stable for η in " + (parts.length ? parts.join(" ∪ ") : "no interval of " + fmt(s.range[0], 2) + "…" + fmt(s.range[1], 2)) +
      " with the rest fixed" }));
  }));
  if (m.synchronous) { clearCanvas("trajectory"); document.getElementById("trajectory-legend").textContent = "(synchronous rounds: no round-robin trajectory)"; return; }
  // Enough rounds for the slowest mode to grow or decay by e^10 (a transient would hide a small ln ρ), 400 to 100000.
  const ln = Math.abs(Math.log(radius.spectral_radius));
  q.set("rounds", Math.min(100000, Math.max(400, Math.ceil(10 / Math.max(ln, 1e-9))))); q.set("init", "random");
  const t = await api("/api/simulate?" + q); const traj = await t.json();
  if (!t.ok) { document.getElementById("trajectory-legend").textContent = traj.error; return; }
  drawTrajectory(traj);
}
function clearCanvas(id) { const c = document.getElementById(id); c.getContext("2d").clearRect(0, 0, c.width, c.height); }
function drawEigenvalues(eigs) {
  const canvas = document.getElementById("eigen"), c = canvas.getContext("2d"), W = canvas.width, R = W / 2 - 30;
  c.clearRect(0, 0, W, W);
  const big = Math.max(1, ...eigs.map(([re, im]) => Math.hypot(re, im)));
  const scale = R / big;
  c.strokeStyle = "#aaa"; c.beginPath(); c.moveTo(10, W / 2); c.lineTo(W - 10, W / 2); c.moveTo(W / 2, 10); c.lineTo(W / 2, W - 10); c.stroke();
  c.strokeStyle = "#333"; c.beginPath(); c.arc(W / 2, W / 2, scale, 0, 2 * Math.PI); c.stroke();
  // The unstable ones (|z| > 1) last and larger, so a cluster near the circle cannot hide them.
  const sorted = eigs.slice().sort((a, b) => Math.hypot(a[0], a[1]) - Math.hypot(b[0], b[1]));
  for (const [re, im] of sorted) { const out = Math.hypot(re, im) > 1 + 1e-9; c.fillStyle = out ? "#c00" : "#03a";
    c.beginPath(); c.arc(W / 2 + re * scale, W / 2 - im * scale, out ? 4.5 : 3.5, 0, 2 * Math.PI); c.fill(); }
  c.fillStyle = "#222"; c.font = "12px sans-serif"; c.fillText(`eigenvalues of F (${eigs.length}); circle |z| = 1`, 8, W - 6);
}
function drawTrajectory(t) {
  const canvas = document.getElementById("trajectory"), c = canvas.getContext("2d");
  const b = { x: 50, y: 10, w: canvas.width - 60, h: canvas.height - 40 };
  c.clearRect(0, 0, canvas.width, canvas.height);
  const x0 = 0, x1 = Math.max(1, t.rounds_run);
  const ref = t.ln_max_abs_0 !== null ? (k) => (t.ln_max_abs_0 + k * t.ln_spectral_radius) / Math.LN10 : null;
  let ys = t.log10_max_abs_low.concat(t.log10_max_abs_high);
  if (ref) ys = ys.concat([ref(0), ref(x1)]);
  const y0 = Math.min(...ys), y1 = Math.max(...ys) + 1e-9;
  const X = (k) => b.x + b.w * (k - x0) / (x1 - x0), Y = (v) => b.y + b.h * (1 - (v - y0) / (y1 - y0));
  c.fillStyle = "rgba(0,60,180,0.35)"; c.beginPath();
  t.round.forEach((k, i) => { const yy = Y(t.log10_max_abs_high[i]); if (i === 0) c.moveTo(X(k), yy); else c.lineTo(X(k), yy); });
  for (let i = t.round.length - 1; i >= 0; i--) c.lineTo(X(t.round[i]), Y(t.log10_max_abs_low[i]) + 1);
  c.closePath(); c.fill();
  if (ref) { c.strokeStyle = "#c60"; c.setLineDash([5, 4]); c.beginPath(); c.moveTo(X(0), Y(ref(0))); c.lineTo(X(x1), Y(ref(x1))); c.stroke(); c.setLineDash([]); }
  c.strokeStyle = "#888"; c.strokeRect(b.x, b.y, b.w, b.h);
  c.fillStyle = "#222"; c.font = "11px sans-serif"; c.textAlign = "right";
  c.fillText(fmt(y1, 3), b.x - 3, b.y + 8); c.fillText(fmt(y0, 3), b.x - 3, b.y + b.h);
  c.textAlign = "center"; c.fillText(`round (0 … ${x1}); log10 max|s|`, b.x + b.w / 2, b.y + b.h + 28);
  document.getElementById("trajectory-legend").textContent =
    `simulated (band: least and largest per span) against ln ρ(F) = ${fmt(t.ln_spectral_radius, 5)} (dashed); measured growth ` +
    (t.growth_rate === null ? "not measurable" : `${fmt(t.growth_rate, 5)} per round`);
}

// ---- the runs view: a table, curves updating while runs train, seed groups as bands, a run's point on its map
let RUNS = [], METRICS = {}, SELECTED = new Set();
const PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22"];
async function loadRuns() {
  try {
    const r = await api("/api/runs"); RUNS = await r.json();
    await Promise.all(RUNS.filter((run) => !run.error).map(async (run) => {
      const m = await api(`/api/runs/${run.id}/metrics`); if (m.ok) METRICS[run.id] = (await m.json()).records;
    }));
    if (SELECTED.size === 0) RUNS.forEach((run) => { if (!run.error) SELECTED.add(run.id); });
    document.getElementById("runs-status").className = "status";
    document.getElementById("runs-status").textContent = `${RUNS.length} run${RUNS.length === 1 ? "" : "s"}; updated ${new Date().toLocaleTimeString()} (every 5 s)`;
    drawRuns();
  } catch (e) { document.getElementById("runs-status").textContent = String(e); }
}
function pct(x) { return x === null || x === undefined ? "–" : (100 * x).toFixed(2) + " %"; }
function drawRuns() {
  const table = el("table", {}, [el("tr", {}, ["", "dir", "method", "p", "τ", "η", "α", "seed", "steps", "best", "final", "status", ""].map((h, k) => el("th", { text: h, class: k < 3 ? "l" : "" })))]);
  RUNS.forEach((run, k) => {
    if (run.error) { table.appendChild(el("tr", {}, [el("td", {}), el("td", { class: "l", text: run.dir }), el("td", { class: "l error", text: run.error })])); return; }
    const box = el("input", { type: "checkbox" }); box.checked = SELECTED.has(run.id);
    box.addEventListener("change", () => { if (box.checked) SELECTED.add(run.id); else SELECTED.delete(run.id); drawRuns(); });
    const button = el("button", { text: "on its map" }); button.addEventListener("click", () => runOnMap(run));
    const swatch = el("td", {}, [box]); swatch.style.borderLeft = `6px solid ${PALETTE[k % PALETTE.length]}`;
    table.appendChild(el("tr", { "data-run": run.id }, [swatch, el("td", { class: "l", text: run.dir }), el("td", { class: "l", text: run.method_text }),
      el("td", { text: run.workers }), el("td", { text: run.tau ?? "–" }), el("td", { text: run.eta }), el("td", { text: run.alpha ?? "–" }),
      el("td", { text: run.seed }), el("td", { text: run.steps_per_worker }), el("td", { text: pct(run.best_test_error) }),
      el("td", { text: pct(run.final_test_error) }), el("td", { text: run.status }), el("td", {}, [button])]));
  });
  const holder = document.getElementById("runs-table"); holder.innerHTML = ""; holder.appendChild(table);
  const series = seriesOf(document.getElementById("group-seeds").checked);
  curves("curve-error", series, (r) => r.test_error, "epoch", "test error");
  curves("curve-loss", series, (r) => r.train_loss, "epoch", "loss");
  curves("curve-sharp", series, (r) => r.sharpness, "epoch", "h_max", true);
  const legend = document.getElementById("runs-legend"); legend.innerHTML = "";
  for (const s of series) { const span = el("span", { text: "■ " + s.label }); span.style.color = s.colour; legend.appendChild(span); }
}
// One series per selected run, or per seed group (the mean of the runs at each evaluation index, with the band).
function seriesOf(group) {
  const runs = RUNS.filter((run) => !run.error && SELECTED.has(run.id) && METRICS[run.id]);
  const colourOf = (run) => PALETTE[RUNS.indexOf(run) % PALETTE.length];
  if (!group) return runs.map((run) => ({ label: run.dir, colour: colourOf(run), runs: [run] }));
  const groups = new Map();
  for (const run of runs) { if (!groups.has(run.settings_key)) groups.set(run.settings_key, []); groups.get(run.settings_key).push(run); }
  return [...groups.values()].map((g) => ({ label: `${g[0].method_text} η=${g[0].eta} (${g.length} seeds)`, colour: colourOf(g[0]), runs: g }));
}
// Seeds paired at the evaluations they share, the rule of `easgd plot --group-seeds` (SeedGroup.sharedEvaluations):
// the first run's points are the reference; another run's point goes to the reference point nearest it in x, within
// a tenth of the reference's median interval, one to one (the nearer wins; the earlier on a tie); a run's repeated x
// counts once, the later; a reference point some run does not match is left out. Rows: [x, [y of each run]].
function sharedEvaluations(per) {
  const once = (run) => run.reduce((out, p) => { if (out.length && out[out.length - 1][0] === p[0]) out[out.length - 1] = p; else if (!out.length || out[out.length - 1][0] < p[0]) out.push(p); return out; }, []);
  if (per.length === 0) return [];
  const ref = once(per[0]), gaps = ref.slice(1).map((p, k) => p[0] - ref[k][0]).sort((a, b) => a - b);
  const tolerance = gaps.length ? gaps[Math.floor(gaps.length / 2)] / 10 : 0;
  const matched = per.slice(1).map((run) => {
    const mine = new Array(ref.length).fill(null);
    for (const p of once(run)) {
      let i = -1;
      for (let k = 0; k < ref.length; k++) if (i < 0 || Math.abs(ref[k][0] - p[0]) < Math.abs(ref[i][0] - p[0])) i = k;
      if (i < 0) continue;
      const d = Math.abs(ref[i][0] - p[0]);
      if (d <= tolerance && (mine[i] === null || d < mine[i].d)) mine[i] = { y: p[1], d };
    }
    return mine;
  });
  return ref.flatMap((p, i) => matched.every((m) => m[i] !== null) ? [[p[0], [p[1], ...matched.map((m) => m[i].y)]]] : []);
}
function curves(id, series, value, xLabel, yLabel, thresholds) {
  const canvas = document.getElementById(id), c = canvas.getContext("2d"), b = { x: 52, y: 10, w: canvas.width - 64, h: canvas.height - 44 };
  c.clearRect(0, 0, canvas.width, canvas.height);
  const lines = series.map((s) => {
    const per = s.runs.map((run) => (METRICS[run.id] || []).map((r) => [r.epoch, value(r)]).filter(([x, y]) => y !== null && y !== undefined && isFinite(y)));
    const points = sharedEvaluations(per).map(([x, ys]) => [x, ys.reduce((a, v) => a + v, 0) / ys.length, Math.min(...ys), Math.max(...ys)]);
    let hstar = [];
    if (thresholds) for (const run of s.runs) if (run.critical_eta_h !== null)
      hstar = hstar.concat((METRICS[run.id] || []).filter((r) => r.sharpness !== null && r.sharpness !== undefined).map((r) => [r.epoch, run.critical_eta_h / (r.eta ?? run.eta)]));
    return { s, points, hstar };
  }).filter((l) => l.points.length > 0);
  if (lines.length === 0) { c.fillStyle = "#888"; c.font = "12px sans-serif"; c.fillText(thresholds ? "no sharpness records (train with --sharpness-every N)" : "no records yet", b.x + 10, b.y + 20); return; }
  const xs = lines.flatMap((l) => l.points.map((p) => p[0])), ys = lines.flatMap((l) => l.points.flatMap((p) => [p[2], p[3]]).concat(l.hstar.map((h) => h[1])));
  const x0 = Math.min(...xs), x1 = Math.max(...xs, x0 + 1e-9), y0 = Math.min(0, ...ys), y1 = Math.max(...ys, y0 + 1e-9) * 1.05;
  const X = (v) => b.x + b.w * (v - x0) / (x1 - x0), Y = (v) => b.y + b.h * (1 - (v - y0) / (y1 - y0));
  for (const l of lines) {
    if (l.s.runs.length > 1) { c.globalAlpha = 0.2; c.fillStyle = l.s.colour; c.beginPath();
      l.points.forEach((p, k) => { if (k === 0) c.moveTo(X(p[0]), Y(p[3])); else c.lineTo(X(p[0]), Y(p[3])); });
      for (let k = l.points.length - 1; k >= 0; k--) c.lineTo(X(l.points[k][0]), Y(l.points[k][2]));
      c.closePath(); c.fill(); c.globalAlpha = 1; }
    c.strokeStyle = l.s.colour; c.lineWidth = 2; c.beginPath();
    l.points.forEach((p, k) => { if (k === 0) c.moveTo(X(p[0]), Y(p[1])); else c.lineTo(X(p[0]), Y(p[1])); }); c.stroke(); c.lineWidth = 1;
    if (l.hstar.length) { c.setLineDash([5, 4]); c.beginPath(); l.hstar.forEach((h, k) => { if (k === 0) c.moveTo(X(h[0]), Y(h[1])); else c.lineTo(X(h[0]), Y(h[1])); });
      c.stroke(); c.setLineDash([]); }
  }
  c.strokeStyle = "#888"; c.strokeRect(b.x, b.y, b.w, b.h); c.fillStyle = "#222"; c.font = "11px sans-serif";
  c.textAlign = "right"; c.fillText(fmt(y1, 3), b.x - 3, b.y + 8); c.fillText(fmt(y0, 3), b.x - 3, b.y + b.h);
  c.textAlign = "center"; c.fillText(`${xLabel} (${fmt(x0, 3)} … ${fmt(x1, 3)}); ${yLabel}`, b.x + b.w / 2, b.y + b.h + 28);
}
// A run on its map at h = its last measured sharpness: the (η, α) map (τ for DOWNPOUR, η_o for DiLoCo) around it.
function runOnMap(run) {
  const records = (METRICS[run.id] || []).filter((r) => r.sharpness !== null && r.sharpness !== undefined && isFinite(r.sharpness));
  const method = run.method;
  const say = (text) => { const s = document.getElementById("runs-status"); s.textContent = text; s.className = "status error"; };
  if (!METHODS[method]) { say(`${run.dir}: ${method} has no round-robin map here; its threshold is h* = ${fmt(run.critical_eta_h ?? 2, 4)}/η, drawn dashed beside its sharpness`); return; }
  if (records.length === 0) { say(`${run.dir} has no sharpness records (train with --sharpness-every N): its point on the map needs h_max`); return; }
  const hmax = records[records.length - 1].sharpness, eta = records[records.length - 1].eta ?? run.eta;
  const axis = METHODS[method].axes[0];
  const set = { method, workers: run.workers, tau: run.tau ?? 1, h: hmax, eta: `${eta / 50}:${Math.max(4 * eta, 2.5 / hmax)}`, log: true, axis };
  let second = 1;
  if (axis === "alpha") { second = run.alpha; set.second = `0.001:${Math.max(1, 2 * run.alpha)}`; }
  if (axis === "tau-range") { second = run.tau ?? 1; set.second = `1:${Math.max(64, 2 * second)}`; }
  if (axis === "outer-lr-range") { second = run.outer_eta; set.second = `0.05:${Math.max(2, 2 * second)}`; }
  if (run.momentum !== null) set.momentum = run.momentum;
  show("map");
  PANEL_A.marker = { eta, second };
  CONTROLS_A.set(set);
}

// ---- start
function show(view) {
  for (const v of ["map", "side", "runs"]) {
    document.getElementById("view-" + v).classList.toggle("hidden", v !== view);
    document.getElementById("tab-" + v).classList.toggle("on", v === view);
  }
  if (view === "side" && !PANEL_L.data) { PANEL_L.refresh(); PANEL_R.refresh(); }
  if (view === "runs") loadRuns();
}
const DEFAULTS = { workers: 8, tau: 1, momentum: 0.9, h: 1, schedule: "round-robin", eta: "0.001:2", log: false, axis: "alpha",
  second: "0.001:1", beta: 0.9, outerLr: 0.7, outerMomentum: 0.9, grid: "200x200" };
const PANEL_A = new MapPanel("a", document.getElementById("map-a"), document.getElementById("status-a"), document.getElementById("hover-a"),
  Object.assign({ method: "easgd" }, DEFAULTS), pointView);
const CONTROLS_A = controls(document.getElementById("controls-a"), [PANEL_A], PANEL_A.settings, "Map", "a-");
const FIGURE1 = Object.assign({}, DEFAULTS, { workers: 3, eta: "0.00001:0.01", axis: "rho", second: "0.01:10", grid: "150x150" });
const PANEL_L = new MapPanel("l", document.getElementById("map-l"), document.getElementById("status-l"), document.getElementById("hover-l"),
  Object.assign({ method: "easgd" }, FIGURE1), null);
const PANEL_R = new MapPanel("r", document.getElementById("map-r"), document.getElementById("status-r"), document.getElementById("hover-r"),
  Object.assign({ method: "admm" }, FIGURE1), null);
PANEL_L.peers = [PANEL_R]; PANEL_R.peers = [PANEL_L];
controls(document.getElementById("controls-side"), [PANEL_L, PANEL_R], PANEL_L.settings, "Side by side (opens on Figure 1: EASGD and ADMM, p = 3)", "s-");
PANEL_A.refresh();
setInterval(() => { if (!document.getElementById("view-runs").classList.contains("hidden")) loadRuns(); }, 5000);
if (location.hash) show(location.hash.slice(1));
</script>
</body>
</html>
"""#
}
