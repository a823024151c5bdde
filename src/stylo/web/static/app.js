"use strict";
const $ = (sel) => document.querySelector(sel);
const state = { content: null, style: null, contentLabel: "", styleLabel: "", run: null, source: null, history: [] };
const PRESETS = {
  default: { style_layers: null, style_layer_weights: null },
  fine: { style_layers: ["relu1_1", "relu2_1", "relu3_1"], style_layer_weights: null },
  coarse: { style_layers: ["relu3_1", "relu4_1", "relu5_1"], style_layer_weights: null },
  equal: { style_layers: ["relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1"], style_layer_weights: [2e-5, 2e-5, 2e-5, 2e-5, 2e-5] },
};
// Build elements from data: text always goes in as text (textContent), never as HTML.
function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v == null || v === false) continue;
    if (k === "class") el.className = v; else if (k in el && typeof v !== "string") el[k] = v; else el.setAttribute(k, v);
  }
  for (const c of children.flat()) if (c != null && c !== "") el.append(c instanceof Node ? c : String(c));
  return el;
}
const SUP = { "-": "⁻", 0: "⁰", 1: "¹", 2: "²", 3: "³", 4: "⁴", 5: "⁵", ".": "·" };

async function api(path, options = {}) {
  const res = await fetch(path, options);
  const body = res.headers.get("content-type")?.includes("json") ? await res.json() : null;
  if (!res.ok) throw new Error((body && (body.error || JSON.stringify(body.detail))) || res.statusText);
  return body;
}

function showError(msg) { $("#error").textContent = msg || ""; }

function setInput(role, upload, label) {
  state[role] = upload.id;
  state[role + "Label"] = label;
  const zone = $(`#drop-${role}`);
  const img = zone.querySelector("img");
  img.src = upload.url; img.hidden = false;
  zone.classList.add("filled");
  zone.querySelector(".hint").hidden = true;
  $("#start").disabled = !(state.content && state.style);
}

let pendingUploads = 0;
async function whileUploading(work) {
  pendingUploads += 1; $("#start").disabled = true;
  try { await work(); } finally {
    pendingUploads -= 1;
    $("#start").disabled = pendingUploads > 0 || !(state.content && state.style);
  }
}

async function uploadFile(role, file) {
  showError("");
  const form = new FormData();
  form.append("file", file);
  await whileUploading(async () => {
    try { setInput(role, await api("/api/uploads", { method: "POST", body: form }), file.name); }
    catch (e) { showError(`${role}: ${e.message}`); }
  });
}

function wireDrop(zone) {
  const role = zone.dataset.role, input = zone.querySelector("input");
  zone.addEventListener("click", () => input.click());
  zone.addEventListener("keydown", (e) => { if (e.key === "Enter" || e.key === " ") input.click(); });
  input.addEventListener("change", () => input.files[0] && uploadFile(role, input.files[0]));
  zone.addEventListener("dragover", (e) => { e.preventDefault(); zone.classList.add("over"); });
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", (e) => {
    e.preventDefault(); zone.classList.remove("over");
    if (e.dataTransfer.files[0]) uploadFile(role, e.dataTransfer.files[0]);
  });
}

async function loadSamples() {
  const box = $("#samples");
  for (const s of await api("/api/samples")) {
    const b = document.createElement("button");
    b.type = "button"; b.title = s.name;
    b.append(h("img", { src: s.url, alt: s.name }));
    b.addEventListener("click", () => whileUploading(async () => {
      const role = s.name.startsWith("tubingen") ? "content" : "style";
      try { setInput(role, await api("/api/uploads/sample", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ name: s.name }) }), s.name); }
      catch (e) { showError(e.message); }
    }));
    box.appendChild(b);
  }
}

function ratioText(v) { return "α/β = 10" + String(v).split("").map((c) => SUP[c] ?? c).join(""); }

function readSettings() {
  const f = new FormData($("#settings"));
  const ratio = Number(f.get("ratio"));
  const s = {
    size: Number(f.get("size")), steps: Number(f.get("steps")), coarse_steps: Number(f.get("coarse_steps")),
    scales: Number(f.get("scales")), content_weight: 1.0, style_weight: Math.pow(10, -ratio),
    preserve_color: f.get("preserve_color"),
  };
  if (f.get("seed") !== "") s.seed = Number(f.get("seed"));
  const preset = PRESETS[f.get("preset")];
  if (preset.style_layers) s.style_layers = preset.style_layers;
  if (preset.style_layer_weights) s.style_layer_weights = preset.style_layer_weights;
  return s;
}

function fillSettings(s) {
  const form = $("#settings");
  for (const key of ["size", "steps", "coarse_steps", "scales", "preserve_color"]) if (form[key] && s[key] != null) form[key].value = s[key];
  form.seed.value = s.seed ?? "";
  const ratio = Math.round(Math.log10(s.content_weight / s.style_weight) * 2) / 2;
  form.ratio.value = ratio; $("#ratio-out").textContent = ratioText(ratio);
}

function drawCurve() {
  const c = $("#curve"), ctx = c.getContext("2d"), h = state.history;
  ctx.clearRect(0, 0, c.width, c.height);
  if (h.length < 2) return;
  const logs = h.map((v) => Math.log10(Math.max(v, 1e-12)));
  const lo = Math.min(...logs), hi = Math.max(...logs), span = hi - lo || 1;
  ctx.strokeStyle = "#2b4c9b"; ctx.lineWidth = 2; ctx.beginPath();
  logs.forEach((v, i) => {
    const x = 8 + (i / (logs.length - 1)) * (c.width - 16), y = 8 + (1 - (v - lo) / span) * (c.height - 16);
    i ? ctx.lineTo(x, y) : ctx.moveTo(x, y);
  });
  ctx.stroke();
  ctx.fillStyle = "#6d675f"; ctx.font = "11px system-ui";
  const level = state.level ? ` · level ${state.level}` : "";
  ctx.fillText(`loss ${h[h.length - 1].toExponential(2)} (log scale${level})`, 10, c.height - 8);
}

function follow(run) {
  state.run = run.id; state.history = []; state.level = null;
  $("#cancel").disabled = false; $("#download").hidden = true;
  if (state.source) state.source.close();
  const src = new EventSource(`/api/runs/${run.id}/events`);
  state.source = src;
  src.onmessage = (msg) => {
    const ev = JSON.parse(msg.data);
    if (ev.type === "snapshot" && ev.history && ev.status === "running") state.history = ev.history.slice();
    if (ev.type === "step") {
      if (ev.level !== state.level) { state.level = ev.level; state.history = []; }  // one curve per level
      state.history.push(ev.loss);
      $("#bar").style.width = `${(100 * ev.step) / ev.total}%`;
      $("#status").textContent = `step ${ev.step}/${ev.total} · level ${ev.level}/${ev.levels} · loss ${ev.loss.toExponential(3)} · ${Math.round(ev.eta)} s left`;
      if (ev.frame) showPreview(`/api/runs/${run.id}/frame?step=${ev.step}`);
      drawCurve();
    }
    if (ev.type === "start") $("#status").textContent = "running…";
    if (ev.type === "end" || (ev.type === "snapshot" && !["queued", "running"].includes(ev.status))) {
      src.close(); finished(ev);
    }
  };
  src.onerror = () => { src.close(); };
  $("#status").textContent = "queued…";
}

function showPreview(url) {
  const img = $("#preview");
  img.src = url; img.hidden = false; $("#preview-hint").hidden = true;
}

function finished(run) {
  $("#cancel").disabled = true;
  if (run.status === "done") {
    $("#bar").style.width = "100%";
    showPreview(`/api/runs/${run.id}/image`);
    const a = $("#download"); a.href = `/api/runs/${run.id}/image`; a.hidden = false;
    $("#status").textContent = `done in ${run.seconds.toFixed(1)} s · loss ${run.loss.toExponential(3)} · seed ${run.settings.seed}`;
  } else {
    $("#status").textContent = `${run.status}${run.error ? ": " + run.error : ""}`;
  }
  loadGallery();
}

async function start(e) {
  e.preventDefault(); showError("");
  try {
    const run = await api("/api/runs", {
      method: "POST", headers: { "content-type": "application/json" },
      body: JSON.stringify({ content: state.content, style: state.style, content_label: state.contentLabel, style_label: state.styleLabel, settings: readSettings() }),
    });
    follow(run); loadGallery();
  } catch (err) { showError(err.message); }
}

const selected = new Set();

function card(run) {
  const s = run.settings, m = run.metrics || {};
  const ratio = Math.log10(s.content_weight / s.style_weight).toFixed(1);
  const thumb = h("div", { class: "thumb" });
  if (run.result || run.frame) thumb.append(h("img", { src: `/api/runs/${run.id}/${run.result ? "image" : "frame"}`, alt: `${run.content_label} in the style of ${run.style_label}`, loading: "lazy" }));
  const pick = h("input", { type: "checkbox", class: "pick" });
  const open = h("button", { type: "button", class: "open" }, "Open in studio");
  const el = h("article", { class: "card", "data-run": run.id }, thumb,
    h("div", { class: "meta" },
      h("span", {}, h("span", { class: `badge ${run.status}` }, run.status), " ", h("b", {}, run.content_label), " × ", h("b", {}, run.style_label)),
      h("span", {}, `${s.size}px · ${s.steps} steps · α/β 10^${ratio} · seed ${s.seed}`),
      h("span", {}, `${run.seconds ? run.seconds.toFixed(1) + " s" : ""}${m.ssim != null ? ` · SSIM ${m.ssim.toFixed(2)} · style ${m.style_distance_sum.toExponential(1)}` : ""}`)),
    h("div", { class: "row" }, open, h("label", {}, pick, " compare")));
  open.addEventListener("click", () => openInStudio(run));
  pick.checked = selected.has(run.id);
  pick.addEventListener("change", () => {
    pick.checked ? selected.add(run.id) : selected.delete(run.id);
    $("#compare-btn").disabled = selected.size !== 2;
  });
  return el;
}

let galleryRuns = [];
async function loadGallery() {
  galleryRuns = await api("/api/runs");
  const g = $("#gallery");
  g.replaceChildren(...galleryRuns.map(card));
}

function openInStudio(run) {
  setInput("content", { id: run.content, url: `/api/uploads/${run.content}` }, run.content_label);
  setInput("style", { id: run.style, url: `/api/uploads/${run.style}` }, run.style_label);
  fillSettings(run.settings);
  if (run.result) showPreview(`/api/runs/${run.id}/image`);
  window.scrollTo({ top: 0, behavior: "smooth" });
}

function compare() {
  const runs = galleryRuns.filter((r) => selected.has(r.id));
  const box = $("#compare");
  box.replaceChildren(...runs.map((r) => h("figure", {},
    h("img", { src: `/api/runs/${r.id}/${r.result ? "image" : "frame"}`, alt: `${r.content_label} in the style of ${r.style_label}` }),
    h("figcaption", {}, `${r.content_label} × ${r.style_label} · ${r.settings.size}px · α/β 10^${Math.log10(r.settings.content_weight / r.settings.style_weight).toFixed(1)} · ${r.status}`))));
  box.hidden = false;
}

const SIZES = [256, 384, 512, 768, 1024, 1536, 2048];
let DEFAULTS = null;
// The form's choices and defaults come from the server (stylo.Settings), never from this page.
async function loadLimits() {
  const limits = await api("/api/limits");
  DEFAULTS = limits.defaults;
  const form = $("#settings");
  const sizes = SIZES.filter((v) => v <= limits.max_size);
  if (!sizes.includes(DEFAULTS.size) && DEFAULTS.size <= limits.max_size) sizes.push(DEFAULTS.size);
  form.size.replaceChildren(...sizes.sort((a, b) => a - b).map((v) => h("option", { value: String(v) }, String(v))));
  for (const key of ["steps", "coarse_steps"]) form[key].max = limits.max_steps;
  fillSettings(DEFAULTS);
}

document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll(".drop").forEach(wireDrop);
  $("#settings").addEventListener("submit", start);
  $("#cancel").addEventListener("click", () => state.run && api(`/api/runs/${state.run}/cancel`, { method: "POST" }).catch((e) => showError(e.message)));
  $("#settings").ratio.addEventListener("input", (e) => { $("#ratio-out").textContent = ratioText(e.target.value); });
  $("#compare-btn").addEventListener("click", compare);
  loadLimits().catch((e) => showError(e.message));
  loadSamples().catch((e) => showError(e.message));
  loadGallery().catch((e) => showError(e.message));
});
