"use strict";
// The studio page. Every text that comes from data is inserted as text (textContent via h()), never as HTML.
const $ = (sel) => document.querySelector(sel);
const state = { content: null, style: null, contentLabel: "", styleLabel: "", run: null, source: null,
  history: [], marks: [], active: false, result: null, clip: null, clipSize: null, seedFixed: false, phase: null,
  network: null, networkLabel: "", kind: "run", learning: null };  // network: a learned style chosen (learn.js)
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
const ACTIVE = ["queued", "running"];
let DEFAULTS = null, LIMITS = null;

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
const postJSON = (path, body) => api(path, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });

function showError(msg) { $("#error").textContent = msg || ""; }
function showUploadError(role, msg) {
  $("#upload-error").textContent = msg ? `${role === "content" ? "Content photo" : "Style artwork"}: ${msg}` : "";
  document.querySelectorAll(".drop").forEach((z) => z.classList.toggle("invalid", !!msg && z.dataset.role === role));
}
function say(text) { $("#status").textContent = text; }

// plain words for durations, sizes and the balance; the exact value comes second
function duration(s) {
  s = Math.max(1, Math.round(s));
  if (s < 90) return `${s} s`;
  if (s < 5400) return `${Math.round(s / 60)} min`;
  return `${Math.floor(s / 3600)} h ${Math.round((s % 3600) / 60)} min`;
}
function gigabytes(b) { return b >= 2 ** 30 ? `${(b / 2 ** 30).toFixed(1)} GB` : `${Math.round(b / 2 ** 20)} MB`; }
function exponent(cw, sw) { return Math.round(Math.log10(cw / sw) * 10) / 10; }
function ratioText(e) { return "α/β = 10" + String(e).split("").map((c) => SUP[c] ?? c).join(""); }
function balanceWords(e) {  // e: log10(α/β); the slider holds −e
  const v = -e;
  return v < 0 ? "mostly the photo" : v < 1 ? "light style" : v < 2 ? "balanced" : v < 3 ? "strong style" : "very strong style";
}
function balanceExact(e) { return `style weight ${Number(Math.pow(10, -e).toPrecision(2))} · ${ratioText(e)}`; }
function showBalance(e) { $("#ratio-out").replaceChildren(balanceWords(e), " ", h("small", {}, `(${balanceExact(e)})`)); }

function updateStartButton() {
  $("#start").disabled = state.active || pendingUploads > 0 || !(state.content && state.style);
  $("#learn").disabled = state.active || pendingUploads > 0 || !state.style;
}

// what to do next, from what is chosen; the next sample goes to the empty slot
function nextStepText() {
  if (state.content && state.style) return "Ready: press Start.";
  if (state.content) return `Content photo: ${state.contentLabel}. Now choose a style artwork (the next sample goes there).`;
  if (state.style) return `Style artwork: ${state.styleLabel}. Now choose a content photo (the next sample goes there).`;
  return "Choose a content photo and a style.";
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
  const other = role === "content" ? "style" : "content";
  if (!state[other]) document.querySelector(`input[name=target][value=${other}]`).checked = true;
  updateStartButton();
  if (!state.active && !state.result) say(nextStepText());
  updatePlan();
  if (role === "content") requestPreview();  // a learned style is chosen: its live preview of the new photo
}

let pendingUploads = 0;
async function whileUploading(work) {
  pendingUploads += 1; updateStartButton();
  try { await work(); } finally { pendingUploads -= 1; updateStartButton(); }
}

function useClipSize(width, height) {  // a clip keeps its own size unless the user picks another
  const form = $("#settings");
  const side = Math.min(Math.max(width, height), LIMITS ? LIMITS.max_clip_size : 512);
  state.clipSize = side;
  form.size.querySelectorAll("option.clip-size").forEach((o) => o.remove());
  if (![...form.size.options].some((o) => Number(o.value) === side)) {
    const option = h("option", { value: String(side), class: "clip-size" }, `${side} (the clip's size)`);
    const after = [...form.size.options].find((o) => Number(o.value) > side);
    form.size.insertBefore(option, after || null);
  }
  form.size.value = String(side);
}

async function uploadBlob(role, blob, name) {
  const form = new FormData();
  form.append("file", blob, name);
  const clip = role === "content" && /^video\//.test(blob.type || "");
  await whileUploading(async () => {
    try {
      const up = await api(clip ? "/api/clips" : "/api/uploads", { method: "POST", body: form });
      if (role === "content") state.clip = clip ? up.clip : null;
      else clearNetwork();
      if (clip) useClipSize(up.width, up.height);
      setInput(role, up, clip ? `${name} (${up.frames} frames)` : name);
    } catch (e) { showUploadError(role, e.message); }
  });
}

async function useSample(role, name) {
  if (role === "content") state.clip = null; else clearNetwork();
  await whileUploading(async () => {
    try { setInput(role, await postJSON("/api/uploads/sample", { name }), caption(name)); }
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

// A run's settings come back into the form; its seed does not: a new run draws a new one unless the user
// types one (or asks for that run's seed again with the button beside the field).
function fillSettings(s, fromRun = false, keepSeed = false) {  // keepSeed: a seed the user typed stays
  const form = $("#settings");
  if (s.size != null && ![...form.size.options].some((o) => Number(o.value) === s.size)) {
    form.size.append(h("option", { value: String(s.size) }, String(s.size)));  // a size made elsewhere
  }
  for (const key of ["size", "steps", "coarse_steps", "scales", "preserve_color"]) if (form[key] && s[key] != null) form[key].value = s[key];
  if (fromRun) { if (!(keepSeed && state.seedFixed)) { form.seed.value = ""; state.seedFixed = false; } offerSeed(s.seed); }
  else { form.seed.value = s.seed ?? ""; state.seedFixed = s.seed != null; offerSeed(null); }
  form.strength.value = -exponent(s.content_weight, s.style_weight);
  showBalance(-Number(form.strength.value));  // what the slider holds
  form.preset.value = presetOf(s);
  updatePlan();
}

function offerSeed(seed) {  // a run's seed, to repeat it on purpose
  const b = $("#reuse-seed");
  b.hidden = seed == null; b.dataset.seed = seed ?? ""; b.textContent = `repeat that run's seed (${seed})`;
}

function remember() {
  const s = readSettings();
  if (!state.seedFixed) delete s.seed;  // only a seed the user typed is kept
  try { localStorage.setItem(SAVED, JSON.stringify(s)); } catch (e) { /* private mode */ }
}

async function loadLimits() {
  LIMITS = await api("/api/limits");
  DEFAULTS = LIMITS.defaults;
  const form = $("#settings");
  const sizes = SIZES.filter((v) => v <= LIMITS.max_size);
  if (!sizes.includes(DEFAULTS.size) && DEFAULTS.size <= LIMITS.max_size) sizes.push(DEFAULTS.size);
  form.size.replaceChildren(...sizes.sort((a, b) => a - b).map((v) => h("option", { value: String(v) }, String(v))));
  for (const key of ["steps", "coarse_steps"]) form[key].max = LIMITS.max_steps;
  fillSettings(DEFAULTS);
  try { const saved = JSON.parse(localStorage.getItem(SAVED) || "null"); if (saved) fillSettings({ ...DEFAULTS, ...saved, seed: saved.seed ?? null }); }
  catch (e) { /* ignore a broken saved value */ }
}

// ---- the plan: levels and steps as they will run, time and memory, before Start ----
let planTimer = null, planAsked = 0;
function updatePlan() {
  clearTimeout(planTimer);
  planTimer = setTimeout(() => showPlan().catch(() => {}), 200);
}

async function showPlan() {
  if (!DEFAULTS) return;
  const asked = ++planAsked, box = $("#plan");
  if (state.network) {  // a learned style: no optimizer, one pass of its network
    box.classList.remove("warn"); box.dataset.seconds = "";
    box.textContent = `one pass of the learned ${state.networkLabel} at ${readSettings().size} px · a fraction of a second`;
    return;
  }
  const body = { settings: readSettings(), ...(state.content ? { content: state.content } : {}), ...(state.clip ? { clip: state.clip } : {}) };
  try {
    const p = await postJSON("/api/plan", body);
    if (asked !== planAsked) return;
    box.classList.toggle("warn", p.seconds > 600);
    box.replaceChildren(...planText(p));
    box.dataset.seconds = String(p.seconds); box.dataset.bytes = String(p.bytes); box.dataset.steps = String(p.total_steps);
  } catch (e) {
    if (asked !== planAsked) return;
    box.classList.add("warn"); box.textContent = e.message; box.dataset.seconds = "";
  }
}

function planText(p) {  // the levels as they will run (fewer than asked where small ones are skipped), time, memory
  const lv = p.levels, total = p.total_steps;
  const runs = lv.length === 1 ? `${total} steps at ${lv[0].width}×${lv[0].height} px`
    : `${lv.map((l) => `${l.steps} steps at ${Math.max(l.width, l.height)} px`).join(", then ")} = ${total} steps`;
  const clip = p.frames > 1 ? ` (first frame), ${p.frames} frames` : "";
  const main = `${runs}${clip} · about ${duration(p.seconds)} · ${gigabytes(p.bytes)} memory${p.tiled ? " (tiled)" : ""}`;
  const out = [main];
  if (p.asked_levels > lv.length) {
    const n = p.asked_levels - lv.length;
    out.push(h("small", {}, `${lv.length} of ${p.asked_levels} levels run: below ${p.coarsest} px a level would paste the painting's objects, so ${n > 1 ? `${n} are` : "1 is"} skipped and ${n > 1 ? "their" : "its"} steps go to the first.`));
  }
  return out;
}

// ---- progress: one curve over all levels, with axes and the level changes marked ----
function drawCurve() {
  const c = $("#curve"), ratio = window.devicePixelRatio || 1;
  const w = c.clientWidth || 520, hgt = c.clientHeight || 90;
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
  $("#cancel").disabled = !active; $("#cancel").hidden = !active;
  $("#cancel").textContent = state.kind === "learn" ? "Stop learning" : "Cancel this run";
  updateStartButton();
}

function setBar(pct) {  // 100 % only when the run is done: the saving phase stays below it
  const value = Math.max(0, Math.min(state.phase === "done" ? 100 : 99, Math.round(pct)));
  $("#bar").style.width = `${value}%`; $("#progress").setAttribute("aria-valuenow", String(value));
}

function clearStage() {
  state.result = null; state.run = null; state.phase = null;
  for (const id of ["#download", "#reuse", "#share", "#preview"]) $(id).hidden = true;
  stopPlayer();
  $("#preview-hint").hidden = false;
  state.history = []; state.marks = []; drawCurve(); setBar(0);
}

function follow(runId) {
  state.run = runId; state.history = []; state.marks = []; state.level = null; state.result = null; state.phase = "running";
  state.kind = "run"; state.learning = null; $("#resume-learn").hidden = true;
  setBusy(true); setBar(0);
  $("#download").hidden = true; $("#reuse").hidden = true; stopPlayer();
  showShare(runId);
  if (state.source) state.source.close();
  const src = new EventSource(`/api/runs/${runId}/events`);
  state.source = src;
  src.onmessage = (msg) => {
    const ev = JSON.parse(msg.data);
    if (ev.type === "snapshot") {
      state.paintRun = Boolean(ev.network);
      if (ev.history && ev.history.length) { state.history = ev.history.slice(); drawCurve(); }
      if (ev.frame) showPreview(`/api/runs/${runId}/frame?step=${ev.step}`, "the picture so far");
      if (ev.status === "queued") say(ev.ahead ? `queued: ${ev.ahead} ${ev.ahead === 1 ? "run" : "runs"} ahead of this one` : "queued: starting…");
      if (ev.status === "running") say(!ev.step ? "running: the first steps…" : ev.clip ? `running… ${ev.step} of ${ev.total_steps} frames done` : `running… step ${ev.step} of ${ev.total_steps}`);
    }
    if (ev.type === "preview") {
      showPreview(`/api/runs/${runId}/frame?step=0`, "the starting picture, being refined");
      say(state.paintRun ? "painted by the learned style: saving…" : "a first sketch: refining it…");
    }
    if (ev.type === "step") onStep(runId, ev);
    if (ev.type === "frame") onFrame(runId, ev);
    if (ev.type === "saving") { state.phase = "saving"; setBar(99); say(ev.what === "video" ? "encoding the video…" : "saving the picture…"); }
    if (ev.type === "start") say("running: the first steps…");
    if (ev.type === "end" || (ev.type === "snapshot" && !ACTIVE.includes(ev.status))) {
      src.close(); state.source = null; finished(ev);
    }
  };
  src.onerror = () => { if (src.readyState === EventSource.CLOSED) { state.source = null; } };
  if (window.innerWidth < 860) $("#stage").scrollIntoView({ block: "start" });  // on a phone: show the progress
}

function where(ev) {  // the pyramid level in words: the levels that run, and the size of this one
  const px = Math.max(ev.width || 0, ev.height || 0);
  return ev.levels > 1 ? `level ${ev.level} of ${ev.levels}, at ${px} px` : `at ${px} px`;
}

function onStep(runId, ev) {
  if (ev.level !== state.level) { if (state.level != null) state.marks.push({ at: state.history.length, level: ev.level }); state.level = ev.level; }
  state.history.push(ev.loss); state.total = ev.total;
  const eta = ev.eta == null ? "estimating time left…" : `about ${duration(ev.eta)} left`;
  const clip = ev.frames != null;
  setBar(clip ? (100 * ev.step) / ev.total / ev.frames : (100 * ev.step) / ev.total);
  const steps = `step ${ev.step} of ${ev.total} (${where(ev)})`;
  say(clip ? `frame 1 of ${ev.frames}: ${steps} · ${eta}` : `${steps} · ${eta}`);
  if (ev.frame) showPreview(`/api/runs/${runId}/frame?step=${ev.step}`, clip ? "the first frame so far" : "the picture so far");
  drawCurve();
}

function onFrame(runId, ev) {
  setBar((100 * ev.index) / ev.total);
  const left = ev.index < ev.total && ev.eta != null ? ` · about ${duration(ev.eta)} left` : "";
  say(`frame ${ev.index} of ${ev.total} done${left}`);
  showPreview(`/api/runs/${runId}/frame?i=${ev.index}`, `frame ${ev.index} of the clip`);
}

function showPreview(url, alt) {
  const img = $("#preview");
  img.src = url; img.alt = alt; img.hidden = false; $("#preview-hint").hidden = true;
}

function stopPlayer() {
  const v = $("#player");
  if (!v.hidden || v.getAttribute("src")) { v.pause(); v.removeAttribute("src"); v.load(); }
  v.hidden = true;
}

function showShare(runId) {
  const a = $("#share"); a.href = `#run=${runId}`; a.hidden = false;
}

function flicker(run) {  // the warping error is a mean squared difference: its root, in %, reads as a flicker
  const e = run.metrics && run.metrics.warping_error;
  return e == null ? "" : ` · flicker between frames ${(100 * Math.sqrt(e)).toFixed(1)} % (lower is steadier)`;
}

function finished(run) {
  setBusy(false);
  if (run.status === "done") {
    state.phase = "done"; setBar(100);
    showResult(run);
    say(run.video ? `done in ${duration(run.seconds)} · ${run.total_steps} frames${flicker(run)}`
      : run.network ? `done in ${run.seconds.toFixed(1)} s · one pass of ${run.style_label}`
        : `done in ${run.seconds.toFixed(1)} s · ${run.step} steps · seed ${run.settings.seed}`);
    if (run.settings && !state.seedFixed) offerSeed(run.settings.seed);
  } else {
    state.phase = null;
    say(`${run.status}${run.error ? ": " + run.error : ""}`);
  }
  loadGallery();
}

function showResult(run) {
  state.result = run.id;
  if (run.video) {
    const v = $("#player");
    v.src = `/api/runs/${run.id}/video`; v.poster = `/api/runs/${run.id}/image`; v.hidden = false;
    $("#preview").hidden = true; $("#preview-hint").hidden = true;
  } else {
    stopPlayer();
    showPreview(`/api/runs/${run.id}/image`, `${run.content_label} in the style of ${run.style_label}`);
  }
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
    const body = state.network  // a learned style: its network paints the photo at the chosen size
      ? { content: state.content, network: state.network, content_label: state.contentLabel, settings: { size: readSettings().size } }
      : { content: state.content, style: state.style, content_label: state.contentLabel, style_label: state.styleLabel,
        settings: readSettings(), ...(state.clip ? { clip: state.clip } : {}) };
    const run = await postJSON("/api/runs", body);
    history.replaceState(null, "", `#run=${run.id}`);
    follow(run.id); loadGallery();
  } catch (err) { setBusy(false); showError(err.message); }
}

// ---- gallery: cards keyed by run, updated in place (focus and scroll stay where they are) ----
const selected = new Set();

function describe(run) {
  const s = run.settings, e = exponent(s.content_weight, s.style_weight);
  if (run.network) return [`${s.size}px · a learned style, one pass`, `its network: ${balanceWords(e)} (${ratioText(e)})`];
  const steps = run.clip ? `${run.total_steps} frames` : `${run.total_steps || s.steps} steps`;
  return [`${s.size}px · ${steps} · ${balanceWords(e)} (${ratioText(e)})`,
    `${PRESET_NAMES[presetOf(s)]} · ${COLOUR_NAMES[s.preserve_color] || s.preserve_color} · seed ${s.seed}`];
}

function card(run) {
  const el = h("article", { class: "card", "data-run": run.id });
  const parts = {
    thumb: h("div", { class: "thumb" }), badge: h("span", { class: "badge" }), title: h("span", {}),
    line1: h("span", {}), line2: h("span", {}), line3: h("span", {}),
    open: h("button", { type: "button", class: "open" }, "Open in studio"),
    download: h("a", { class: "download" }),
    del: h("button", { type: "button", class: "delete secondary", "aria-label": `Delete run ${run.content_label} × ${run.style_label}` }, "Delete"),
    confirm: h("span", { class: "confirm", hidden: true }, "Delete for good? "),
    yes: h("button", { type: "button", class: "yes secondary" }, "Yes, delete"),
    no: h("button", { type: "button", class: "no" }, "Keep"),
    pick: h("input", { type: "checkbox", class: "pick" }),
  };
  parts.confirm.append(parts.yes, " ", parts.no);
  el.append(parts.thumb, h("div", { class: "meta" }, h("span", {}, parts.badge, run.clip ? h("span", { class: "badge clip" }, "clip") : null, " ",
    h("b", {}, run.content_label), " × ", h("b", {}, run.style_label)), parts.line1, parts.line2, parts.line3),
  h("div", { class: "row" }, parts.open, parts.download, parts.del, parts.confirm, h("label", {}, parts.pick, " compare")));
  el._parts = parts; el._run = run;
  parts.open.addEventListener("click", () => openInStudio(el._run));
  parts.del.addEventListener("click", () => { parts.del.hidden = true; parts.confirm.hidden = false; parts.no.focus(); });
  parts.no.addEventListener("click", () => { parts.confirm.hidden = true; parts.del.hidden = false; parts.del.focus(); });
  parts.yes.addEventListener("click", () => deleteRun(el._run).catch((e) => showError(e.message)));
  parts.pick.addEventListener("change", () => {
    parts.pick.checked ? selected.add(run.id) : selected.delete(run.id);
    $("#compare-btn").disabled = selected.size !== 2;
  });
  return el;
}

function updateCard(el, run) {
  const p = el._parts, m = run.metrics || {};
  el._run = run;
  const [line1, line2] = describe(run);
  p.badge.className = `badge ${run.status}`; p.badge.textContent = run.status;
  p.line1.textContent = line1; p.line2.textContent = line2;
  p.line3.textContent = `${run.seconds ? run.seconds.toFixed(1) + " s" : ""}${m.ssim != null ? ` · SSIM ${m.ssim.toFixed(2)} · style ${m.style_distance_sum.toExponential(1)}` : ""}`;
  const src = run.result ? `/api/runs/${run.id}/image` : run.frame ? `/api/runs/${run.id}/frame?step=${run.step}` : null;
  let img = p.thumb.querySelector("img");
  if (src && !img) { img = h("img", { alt: `${run.content_label} in the style of ${run.style_label}`, loading: "lazy" }); p.thumb.append(img); }
  if (img && src && img.getAttribute("src") !== src) img.setAttribute("src", src);
  const file = run.video ? "video" : run.result ? "image" : null;
  p.download.hidden = !file;
  if (file) {
    p.download.href = `/api/runs/${run.id}/${file}`; p.download.textContent = run.video ? "Download MP4" : "Download";
    p.download.setAttribute("download", `stylo-${run.id.slice(0, 8)}.${run.video ? "mp4" : "png"}`);
  }
  const active = ACTIVE.includes(run.status);
  if (active) p.confirm.hidden = true;
  p.del.hidden = active || !p.confirm.hidden;
  p.pick.checked = selected.has(run.id);
}

async function deleteRun(run) {
  await api(`/api/runs/${run.id}`, { method: "DELETE" });
  selected.delete(run.id);
  if (state.result === run.id || state.run === run.id) {  // it was on the stage: nothing of it stays there
    clearStage(); history.replaceState(null, "", location.pathname);
    say(`Deleted that run. ${nextStepText()}`);
  }
  const el = document.querySelector(`.card[data-run='${run.id}']`);
  const next = el && (el.nextElementSibling || el.previousElementSibling);
  if (el) el.remove();
  (next ? next._parts.open : $("#gallery-section h2")).focus();
  await loadGallery();
}

let galleryRuns = [];
let galleryTimer = null;
async function loadGallery() {
  galleryRuns = await api("/api/runs");
  const box = $("#gallery");
  const existing = new Map([...box.children].map((el) => [el.dataset.run, el]));
  const wanted = new Set(galleryRuns.map((r) => r.id));
  for (const [id, el] of existing) if (!wanted.has(id)) el.remove();
  galleryRuns.forEach((run, i) => {
    let el = existing.get(run.id);
    if (!el) el = card(run);
    updateCard(el, run);
    if (box.children[i] !== el) box.insertBefore(el, box.children[i] || null);  // new cards only: others stay put
  });
  $("#compare-btn").disabled = selected.size !== 2;
  clearTimeout(galleryTimer);  // while any run is going, keep the cards current
  if (galleryRuns.some((r) => ACTIVE.includes(r.status))) galleryTimer = setTimeout(() => loadGallery().catch(() => {}), 4000);
}

function openInStudio(run, keepSeed = false) {  // keepSeed: at start-up, the saved seed the user fixed stays
  state.clip = run.clip || null;
  clearNetwork();
  setInput("content", { id: run.content, url: `/api/uploads/${run.content}` }, run.content_label);
  setInput("style", { id: run.style, url: `/api/uploads/${run.style}` }, run.style_label);
  const network = run.network && state.networks.find((n) => n.id === run.network && n.usable);
  if (network) chooseNetwork(network, false);
  fillSettings(run.settings, true, keepSeed);
  history.replaceState(null, "", `#run=${run.id}`);
  if (ACTIVE.includes(run.status)) { follow(run.id); return; }
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
    try { openInStudio(await api(`/api/runs/${wanted}`), true); return; }
    catch (e) { showError(`the linked run: ${e.message}`); }
  }
  const active = (await api("/api/runs")).filter((r) => ACTIVE.includes(r.status));
  if (active.length) { openInStudio(active[0], true); return; }  // the newest run that is going: preview, progress and Cancel
  const learning = state.networks.find((n) => ACTIVE.includes(n.status));
  if (learning) followLearn(learning.id, learning.style_label);  // or a style being learned
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
  const form = $("#settings");
  form.addEventListener("submit", start);
  form.addEventListener("change", () => { remember(); updatePlan(); });
  form.addEventListener("input", updatePlan);
  form.seed.addEventListener("input", () => { state.seedFixed = form.seed.value !== ""; });
  $("#reuse-seed").addEventListener("click", (e) => { form.seed.value = e.target.dataset.seed; state.seedFixed = true; offerSeed(null); remember(); });
  $("#cancel").addEventListener("click", () => {
    const url = state.kind === "learn" ? state.learning && `/api/networks/${state.learning}/cancel` : state.run && `/api/runs/${state.run}/cancel`;
    if (url) api(url, { method: "POST" }).catch((e) => showError(e.message));
  });
  form.strength.addEventListener("input", (e) => showBalance(-Number(e.target.value)));
  $("#compare-btn").addEventListener("click", compare);
  $("#compare-close").addEventListener("click", () => { $("#compare-box").hidden = true; });
  $("#reuse").addEventListener("click", () => useResultAsContent().catch((e) => showError(e.message)));
  window.addEventListener("hashchange", () => resume().catch((e) => showError(e.message)));
  window.addEventListener("resize", drawCurve);
  drawCurve();
  (async () => {
    await loadLimits();
    wireLearning();
    await Promise.all([loadSamples(), loadGallery(), loadNetworks()]);
    await resume();
    await waitUntilReady();
    if (!state.active && !state.result) say(nextStepText());
  })().catch((e) => showError(e.message));
});
