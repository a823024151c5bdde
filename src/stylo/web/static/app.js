"use strict";
// The studio page. Every text that comes from data is inserted as text (textContent via h()), never as HTML.
const $ = (sel) => document.querySelector(sel);
const state = { content: null, style: null, contentLabel: "", styleLabel: "", run: null, source: null,
  history: [], marks: [], active: false, result: null, clip: null };
const PRESETS = {
  default: { style_layers: null, style_layer_weights: null },
  fine: { style_layers: ["relu1_1", "relu2_1", "relu3_1"], style_layer_weights: null },
  coarse: { style_layers: ["relu3_1", "relu4_1", "relu5_1"], style_layer_weights: null },
  equal: { style_layers: ["relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1"], style_layer_weights: [2e-5, 2e-5, 2e-5, 2e-5, 2e-5] },
};
const PRESET_NAMES = { default: "balanced layers", fine: "fine textures", coarse: "large shapes", equal: "equal weights" };
const COLOUR_NAMES = { none: "style colours", luminance: "keeps colours (luminance)", histogram: "keeps colours (histogram)" };
const SUP = { "-": "⁻", 0: "⁰", 1: "¹", 2: "²", 3: "³", 4: "⁴", 5: "⁵", 6: "⁶", 7: "⁷", 8: "⁸", 9: "⁹", ".": "·" };
const SIZES = [256, 384, 512, 768, 1024, 1536, 2048, 3072, 4096, 6144, 8192];
const SAVED = "stylo.settings";
let DEFAULTS = null;

function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v == null || v === false) continue;
    if (k === "class") el.className = v; else if (k in el && typeof v !== "string") el[k] = v; else el.setAttribute(k, v);
  }
  for (const c of children.flat()) if (c != null && c !== "") el.append(c instanceof Node ? c : String(c));
  return el;
}

async function api(path, options = {}) {
  const res = await fetch(path, options);
  const body = res.headers.get("content-type")?.includes("json") ? await res.json() : null;
  if (!res.ok) throw new Error((body && (body.error || JSON.stringify(body.detail))) || res.statusText);
  return body;
}

function showError(msg) { $("#error").textContent = msg || ""; }
function showUploadError(role, msg) {
  $("#upload-error").textContent = msg ? `${role === "content" ? "Content photo" : "Style artwork"}: ${msg}` : "";
  document.querySelectorAll(".drop").forEach((z) => z.classList.toggle("invalid", !!msg && z.dataset.role === role));
}
function say(text) { $("#status").textContent = text; }

// ---- the α/β balance: one notation everywhere; the slider reads "more style" to the right ----
function exponent(cw, sw) { return Math.round(Math.log10(cw / sw) * 10) / 10; }
function ratioText(e) { return "α/β = 10" + String(e).split("").map((c) => SUP[c] ?? c).join(""); }

function updateStartButton() {
  $("#start").disabled = state.active || pendingUploads > 0 || !(state.content && state.style);
}

function setInput(role, upload, label) {
  state[role] = upload.id;
  state[role + "Label"] = label;
  const zone = $(`#drop-${role}`);
  const img = zone.querySelector("img");
  img.src = upload.url; img.hidden = false;
  img.alt = `${role === "content" ? "content photo" : "style artwork"}: ${label}`;
  zone.classList.add("filled");
  zone.querySelector(".hint").hidden = true;
  zone.setAttribute("aria-label", `${role === "content" ? "Content photo" : "Style artwork"}: ${label}. Press Enter to replace it`);
  showUploadError(role, "");
  updateStartButton();
  if (!state.active && state.content && state.style && !state.result) say("Ready: press Start.");
}

let pendingUploads = 0;
async function whileUploading(work) {
  pendingUploads += 1; updateStartButton();
  try { await work(); } finally { pendingUploads -= 1; updateStartButton(); }
}

async function uploadBlob(role, blob, name) {
  const form = new FormData();
  form.append("file", blob, name);
  const clip = role === "content" && /^video\//.test(blob.type || "");
  await whileUploading(async () => {
    try {
      const up = await api(clip ? "/api/clips" : "/api/uploads", { method: "POST", body: form });
      if (role === "content") state.clip = clip ? up.clip : null;
      setInput(role, up, clip ? `${name} (${up.frames} frames)` : name);
    } catch (e) { showUploadError(role, e.message); }
  });
}

async function useSample(role, name) {
  if (role === "content") state.clip = null;
  await whileUploading(async () => {
    try { setInput(role, await api("/api/uploads/sample", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ name }) }), name); }
    catch (e) { showUploadError(role, e.message); }
  });
}

function wireDrop(zone) {
  const role = zone.dataset.role, input = zone.querySelector("input");
  zone.addEventListener("click", () => input.click());
  zone.addEventListener("keydown", (e) => { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); input.click(); } });
  input.addEventListener("change", () => input.files[0] && uploadBlob(role, input.files[0], input.files[0].name));
  zone.addEventListener("dragover", (e) => { e.preventDefault(); zone.classList.add("over"); });
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", (e) => {
    e.preventDefault(); e.stopPropagation(); zone.classList.remove("over");
    const sample = e.dataTransfer.getData("application/x-stylo-sample");
    if (sample) useSample(role, sample);
    else if (e.dataTransfer.files[0]) uploadBlob(role, e.dataTransfer.files[0], e.dataTransfer.files[0].name);
  });
}

function caption(name) { return name.replace(/\.[a-z]+$/i, "").replace(/[-_]+/g, " "); }

async function loadSamples() {
  const box = $("#samples");
  for (const s of await api("/api/samples")) {
    const b = h("button", { type: "button", class: "sample", draggable: "true", title: `Use ${caption(s.name)}` },
      h("img", { src: s.url, alt: "" }), h("span", {}, caption(s.name)));
    b.addEventListener("click", () => useSample(document.querySelector("input[name=target]:checked").value, s.name));
    b.addEventListener("dragstart", (e) => e.dataTransfer.setData("application/x-stylo-sample", s.name));
    box.appendChild(b);
  }
}

// ---- settings ----
function presetOf(s) {
  for (const [name, p] of Object.entries(PRESETS)) {
    if (name === "default") continue;
    if (JSON.stringify(p.style_layers) === JSON.stringify(s.style_layers) &&
        JSON.stringify(p.style_layer_weights) === JSON.stringify(s.style_layer_weights ?? null)) return name;
  }
  return "default";
}

function readSettings() {
  const f = new FormData($("#settings"));
  const strength = Number(f.get("strength"));
  const s = {
    size: Number(f.get("size")), steps: Number(f.get("steps")), coarse_steps: Number(f.get("coarse_steps")),
    scales: Number(f.get("scales")), content_weight: 1.0, style_weight: Number(Math.pow(10, strength).toPrecision(3)),
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
  if (s.size != null && ![...form.size.options].some((o) => Number(o.value) === s.size)) {
    form.size.append(h("option", { value: String(s.size) }, String(s.size)));  // a size made elsewhere
  }
  for (const key of ["size", "steps", "coarse_steps", "scales", "preserve_color"]) if (form[key] && s[key] != null) form[key].value = s[key];
  form.seed.value = s.seed ?? "";
  form.strength.value = -exponent(s.content_weight, s.style_weight);
  $("#ratio-out").textContent = ratioText(-Number(form.strength.value));  // what the slider holds
  form.preset.value = presetOf(s);
}

function remember() { try { localStorage.setItem(SAVED, JSON.stringify(readSettings())); } catch (e) { /* private mode */ } }

async function loadLimits() {
  const limits = await api("/api/limits");
  DEFAULTS = limits.defaults;
  const form = $("#settings");
  const sizes = SIZES.filter((v) => v <= limits.max_size);
  if (!sizes.includes(DEFAULTS.size) && DEFAULTS.size <= limits.max_size) sizes.push(DEFAULTS.size);
  form.size.replaceChildren(...sizes.sort((a, b) => a - b).map((v) => h("option", { value: String(v) }, String(v))));
  for (const key of ["steps", "coarse_steps"]) form[key].max = limits.max_steps;
  fillSettings(DEFAULTS);
  try { const saved = JSON.parse(localStorage.getItem(SAVED) || "null"); if (saved) fillSettings({ ...DEFAULTS, ...saved, seed: saved.seed }); }
  catch (e) { /* ignore a broken saved value */ }
}

// ---- progress: one curve over all levels, with axes and the level changes marked ----
function drawCurve() {
  const c = $("#curve"), ratio = window.devicePixelRatio || 1;
  const w = c.clientWidth || 520, hgt = c.clientHeight || 130;
  if (c.width !== Math.round(w * ratio)) { c.width = Math.round(w * ratio); c.height = Math.round(hgt * ratio); }
  const ctx = c.getContext("2d");
  ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
  ctx.clearRect(0, 0, w, hgt);
  const hist = state.history;
  const left = 46, right = 10, top = 10, bottom = 22;
  ctx.strokeStyle = "#8c8478"; ctx.lineWidth = 1; ctx.fillStyle = "#4f4a43"; ctx.font = "11px system-ui";
  ctx.beginPath(); ctx.moveTo(left, top); ctx.lineTo(left, hgt - bottom); ctx.lineTo(w - right, hgt - bottom); ctx.stroke();
  ctx.fillText("step", (left + w - right) / 2 - 10, hgt - 6);
  if (hist.length < 1) { ctx.fillText("loss (log)", left + 6, top + 10); return; }
  const logs = hist.map((v) => Math.log10(Math.max(v, 1e-12)));
  const lo = Math.floor(Math.min(...logs)), hi = Math.ceil(Math.max(...logs)) || lo + 1, span = hi - lo || 1;
  const total = Math.max(state.total || hist.length, hist.length);
  const x = (i) => left + (i / Math.max(1, total - 1)) * (w - left - right);
  const y = (v) => top + (1 - (v - lo) / span) * (hgt - top - bottom);
  for (let e = lo; e <= hi; e++) { ctx.fillText(`1e${e}`, 4, y(e) + 4); }
  ctx.fillText("1", left - 3, hgt - 6); ctx.fillText(String(total), w - right - ctx.measureText(String(total)).width, hgt - 6);
  ctx.setLineDash([3, 3]); ctx.strokeStyle = "#b9b0a2";
  for (const m of state.marks) { ctx.beginPath(); ctx.moveTo(x(m.at), top); ctx.lineTo(x(m.at), hgt - bottom); ctx.stroke(); ctx.fillText(`level ${m.level}`, x(m.at) + 3, top + 10); }
  ctx.setLineDash([]); ctx.strokeStyle = "#2b4c9b"; ctx.lineWidth = 2; ctx.beginPath();
  logs.forEach((v, i) => (i ? ctx.lineTo(x(i), y(v)) : ctx.moveTo(x(i), y(v))));
  ctx.stroke();
}

function setBusy(active) {
  state.active = active;
  $("#cancel").disabled = !active;
  $("#cancel-stage").hidden = !active;
  updateStartButton();
}

function follow(runId) {
  state.run = runId; state.history = []; state.marks = []; state.level = null; state.result = null;
  setBusy(true);
  $("#download").hidden = true; $("#reuse").hidden = true;
  showShare(runId);
  if (state.source) state.source.close();
  const src = new EventSource(`/api/runs/${runId}/events`);
  state.source = src;
  src.onmessage = (msg) => {
    const ev = JSON.parse(msg.data);
    if (ev.type === "snapshot") {
      if (ev.history && ev.history.length) { state.history = ev.history.slice(); drawCurve(); }
      if (ev.frame) showPreview(`/api/runs/${runId}/frame?step=${ev.step}`, "the picture so far");
      if (ev.status === "queued") say(ev.ahead ? `queued: ${ev.ahead} ${ev.ahead === 1 ? "run" : "runs"} ahead of this one` : "queued: starting…");
      if (ev.status === "running") say(`running… step ${ev.step}`);
    }
    if (ev.type === "preview") {
      showPreview(`/api/runs/${runId}/frame?step=0`, "the starting picture, being refined");
      say("a first sketch: refining it…");
    }
    if (ev.type === "step") onStep(runId, ev);
    if (ev.type === "frame") onFrame(runId, ev);
    if (ev.type === "start") say("running: the first steps…");
    if (ev.type === "end" || (ev.type === "snapshot" && !["queued", "running"].includes(ev.status))) {
      src.close(); state.source = null; finished(ev);
    }
  };
  src.onerror = () => { if (src.readyState === EventSource.CLOSED) { state.source = null; } };
  if (window.innerWidth < 860) $("#stage").scrollIntoView({ block: "start" });  // on a phone: show the progress
}

function onStep(runId, ev) {
  if (ev.level !== state.level) { if (state.level != null) state.marks.push({ at: state.history.length, level: ev.level }); state.level = ev.level; }
  state.history.push(ev.loss); state.total = ev.total;
  const pct = Math.round((100 * ev.step) / ev.total);
  $("#bar").style.width = `${pct}%`; $("#progress").setAttribute("aria-valuenow", String(pct));
  const eta = ev.eta == null ? "estimating time left…" : `about ${Math.max(1, Math.round(ev.eta))} s left`;
  const text = `step ${ev.step}/${ev.total} · level ${ev.level}/${ev.levels} · loss ${ev.loss.toExponential(2)} · ${eta}`;
  $("#status").textContent = text;
  if (ev.frame) showPreview(`/api/runs/${runId}/frame?step=${ev.step}`, "the picture so far");
  drawCurve();
}

function onFrame(runId, ev) {
  const pct = Math.round((100 * ev.index) / ev.total);
  $("#bar").style.width = `${pct}%`; $("#progress").setAttribute("aria-valuenow", String(pct));
  const rate = ev.fps ? ` · ${ev.fps.toFixed(2)} frames/s · about ${Math.max(1, Math.round(ev.eta))} s left` : "";
  $("#status").textContent = `frame ${ev.index}/${ev.total}${rate}`;
  showPreview(`/api/runs/${runId}/frame?i=${ev.index}`, `frame ${ev.index} of the clip`);
}

function showPreview(url, alt) {
  const img = $("#preview");
  img.src = url; img.alt = alt; img.hidden = false; $("#preview-hint").hidden = true;
}

function showShare(runId) {
  const a = $("#share"); a.href = `#run=${runId}`; a.hidden = false;
}

function finished(run) {
  setBusy(false);
  if (run.status === "done") {
    $("#bar").style.width = "100%"; $("#progress").setAttribute("aria-valuenow", "100");
    showResult(run);
    say(run.video ? `done in ${run.seconds.toFixed(1)} s · ${run.total_steps} frames · warping error ${run.metrics.warping_error.toExponential(2)}`
      : `done in ${run.seconds.toFixed(1)} s · loss ${run.loss.toExponential(2)} · seed ${run.settings.seed}`);
  } else {
    say(`${run.status}${run.error ? ": " + run.error : ""}`);
  }
  loadGallery();
}

function showResult(run) {
  state.result = run.id;
  showPreview(`/api/runs/${run.id}/image`, `${run.content_label} in the style of ${run.style_label}`);
  const a = $("#download"); a.hidden = false;
  a.href = `/api/runs/${run.id}/${run.video ? "video" : "image"}`;
  a.textContent = run.video ? "Download MP4" : "Download PNG";
  a.setAttribute("download", `stylo-${run.id.slice(0, 8)}.${run.video ? "mp4" : "png"}`);
  $("#reuse").hidden = Boolean(run.video);
  showShare(run.id);
}

async function start(e) {
  e.preventDefault(); showError("");
  if (state.active) return;
  setBusy(true);
  remember();
  try {
    const run = await api("/api/runs", {
      method: "POST", headers: { "content-type": "application/json" },
      body: JSON.stringify({ content: state.content, style: state.style, content_label: state.contentLabel, style_label: state.styleLabel, settings: readSettings(), ...(state.clip ? { clip: state.clip } : {}) }),
    });
    history.replaceState(null, "", `#run=${run.id}`);
    follow(run.id); loadGallery();
  } catch (err) { setBusy(false); showError(err.message); }
}

// ---- gallery ----
const selected = new Set();

function describe(run) {
  const s = run.settings;
  const steps = run.clip ? `${run.total_steps} frames` : `${run.total_steps || s.steps} steps`;
  return [`${s.size}px · ${steps} · ${ratioText(exponent(s.content_weight, s.style_weight))}`,
    `${PRESET_NAMES[presetOf(s)]} · ${COLOUR_NAMES[s.preserve_color] || s.preserve_color} · seed ${s.seed}`];
}

function card(run) {
  const m = run.metrics || {};
  const thumb = h("div", { class: "thumb" });
  if (run.result || run.frame) thumb.append(h("img", { src: `/api/runs/${run.id}/${run.result ? "image" : "frame"}`, alt: `${run.content_label} in the style of ${run.style_label}`, loading: "lazy" }));
  const pick = h("input", { type: "checkbox", class: "pick" });
  const open = h("button", { type: "button", class: "open" }, "Open in studio");
  const del = h("button", { type: "button", class: "delete secondary", "aria-label": `Delete run ${run.content_label} × ${run.style_label}` }, "Delete");
  const [line1, line2] = describe(run);
  const el = h("article", { class: "card", "data-run": run.id }, thumb,
    h("div", { class: "meta" },
      h("span", {}, h("span", { class: `badge ${run.status}` }, run.status), run.clip ? h("span", { class: "badge clip" }, "clip") : null, " ", h("b", {}, run.content_label), " × ", h("b", {}, run.style_label)),
      h("span", {}, line1), h("span", {}, line2),
      h("span", {}, `${run.seconds ? run.seconds.toFixed(1) + " s" : ""}${m.ssim != null ? ` · SSIM ${m.ssim.toFixed(2)} · style ${m.style_distance_sum.toExponential(1)}` : ""}`)),
    h("div", { class: "row" }, open,
      run.video ? h("a", { class: "download", href: `/api/runs/${run.id}/video`, download: `stylo-${run.id.slice(0, 8)}.mp4` }, "Download MP4")
        : run.result ? h("a", { class: "download", href: `/api/runs/${run.id}/image`, download: `stylo-${run.id.slice(0, 8)}.png` }, "Download") : null,
      ["queued", "running"].includes(run.status) ? null : del,
      h("label", {}, pick, " compare")));
  open.addEventListener("click", () => openInStudio(run));
  del.addEventListener("click", async () => {
    try { await api(`/api/runs/${run.id}`, { method: "DELETE" }); selected.delete(run.id); loadGallery(); }
    catch (e) { showError(e.message); }
  });
  pick.checked = selected.has(run.id);
  pick.addEventListener("change", () => {
    pick.checked ? selected.add(run.id) : selected.delete(run.id);
    $("#compare-btn").disabled = selected.size !== 2;
  });
  return el;
}

let galleryRuns = [];
let galleryTimer = null;
async function loadGallery() {
  galleryRuns = await api("/api/runs");
  $("#gallery").replaceChildren(...galleryRuns.map(card));
  $("#compare-btn").disabled = selected.size !== 2;
  clearTimeout(galleryTimer);  // while any run is going, keep the cards current
  if (galleryRuns.some((r) => ["queued", "running"].includes(r.status))) galleryTimer = setTimeout(() => loadGallery().catch(() => {}), 4000);
}

function openInStudio(run) {
  state.clip = run.clip || null;
  setInput("content", { id: run.content, url: `/api/uploads/${run.content}` }, run.content_label);
  setInput("style", { id: run.style, url: `/api/uploads/${run.style}` }, run.style_label);
  fillSettings(run.settings);
  history.replaceState(null, "", `#run=${run.id}`);
  if (["queued", "running"].includes(run.status)) { follow(run.id); return; }
  if (run.result) { showResult(run); say(`opened a ${run.status} run: change the settings and press Start for another try`); }
  else say(`opened a ${run.status} run${run.error ? " (" + run.error + ")" : ""}: press Start to try again`);
  window.scrollTo({ top: 0, behavior: "smooth" });
}

function compare() {
  const runs = galleryRuns.filter((r) => selected.has(r.id));
  $("#compare").replaceChildren(...runs.map((r) => h("figure", {},
    h("img", { src: `/api/runs/${r.id}/${r.result ? "image" : "frame"}`, alt: `${r.content_label} in the style of ${r.style_label}` }),
    h("figcaption", {}, `${r.content_label} × ${r.style_label} · ${describe(r).join(" · ")} · ${r.status}`))));
  $("#compare-box").hidden = false;
  $("#compare-box").scrollIntoView({ behavior: "smooth", block: "nearest" });
}

async function useResultAsContent() {
  if (!state.result) return;
  const blob = await (await fetch(`/api/runs/${state.result}/image`)).blob();
  await uploadBlob("content", blob, `result-${state.result.slice(0, 6)}.png`);
}

// ---- start-up: defaults, a shared link, or a run that is going ----
async function resume() {
  const wanted = (location.hash.match(/run=([0-9a-f]{32})/) || [])[1];
  if (wanted) {
    try { openInStudio(await api(`/api/runs/${wanted}`)); return; }
    catch (e) { showError(`the linked run: ${e.message}`); }
  }
  const active = (await api("/api/runs")).filter((r) => ["queued", "running"].includes(r.status));
  if (active.length) openInStudio(active[0]);  // the newest run that is going: preview, progress and Cancel
}

async function waitUntilReady() {
  for (;;) {
    const health = await api("/api/health");
    if (health.ready) return;
    if (!state.active) say("loading the network… (the first time takes a few seconds)");
    await new Promise((r) => setTimeout(r, 500));
  }
}

document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll(".drop").forEach(wireDrop);
  // a file dropped beside the zones must not make the browser leave the studio
  for (const type of ["dragover", "drop"]) window.addEventListener(type, (e) => e.preventDefault());
  $("#settings").addEventListener("submit", start);
  $("#settings").addEventListener("change", remember);
  for (const id of ["#cancel", "#cancel-stage"]) {
    $(id).addEventListener("click", () => state.run && api(`/api/runs/${state.run}/cancel`, { method: "POST" }).catch((e) => showError(e.message)));
  }
  $("#settings").strength.addEventListener("input", (e) => { $("#ratio-out").textContent = ratioText(-Number(e.target.value)); });
  $("#compare-btn").addEventListener("click", compare);
  $("#compare-close").addEventListener("click", () => { $("#compare-box").hidden = true; });
  $("#reuse").addEventListener("click", () => useResultAsContent().catch((e) => showError(e.message)));
  window.addEventListener("hashchange", () => resume().catch((e) => showError(e.message)));
  window.addEventListener("resize", drawCurve);
  drawCurve();
  (async () => {
    await loadLimits();
    await Promise.all([loadSamples(), loadGallery()]);
    await resume();
    await waitUntilReady();
    if (!state.active && !state.result) say(state.content && state.style ? "Ready: press Start." : "Choose a content photo and a style.");
  })().catch((e) => showError(e.message));
});
