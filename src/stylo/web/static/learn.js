"use strict";
// Learned styles on the page (after app.js, whose helpers it uses): "Learn this style" queues a training and
// follows its steps; learned styles are listed beside the samples; choosing one makes the next run a network
// run and shows a live preview that follows the strength slider (one request in flight, the latest value next).

// ---- the list of learned styles ----
let networksTimer = null;
state.networks = [];

async function loadNetworks() {
  const list = await api("/api/networks");
  state.networks = list;
  const shown = list.filter((n) => n.usable || ACTIVE.includes(n.status));
  $("#learned").replaceChildren(...shown.map(networkTile));
  $("#learned-head").hidden = shown.length === 0;
  if (state.network && !list.some((n) => n.id === state.network && n.usable)) clearNetwork();
  clearTimeout(networksTimer);  // while one is learning, keep its tile current
  if (list.some((n) => ACTIVE.includes(n.status))) networksTimer = setTimeout(() => loadNetworks().catch(() => {}), 4000);
}

function networkTile(n) {
  const steps = ACTIVE.includes(n.status) ? "learning…" : n.status === "done" ? `${n.step} steps` : `${n.step} of ${n.total_steps} steps`;
  const b = h("button", { type: "button", class: `sample${n.id === state.network ? " chosen" : ""}`, "data-network": n.id,
    title: `Use learned ${n.style_label}`, disabled: !n.usable },
  h("img", { src: n.style_url, alt: "" }), h("span", {}, n.style_label), h("small", {}, steps));
  b.addEventListener("click", () => chooseNetwork(n));
  const item = h("div", { class: "learned-item" }, b);
  if (n.resumable) {
    const r = h("button", { type: "button", class: "link resume", title: `Resume learning ${n.style_label}` }, "Resume");
    r.addEventListener("click", () => resumeLearning(n.id));
    item.append(r);
  }
  return item;
}

function markChosen() {
  document.querySelectorAll("#learned button.sample").forEach((b) => b.classList.toggle("chosen", b.dataset.network === state.network));
}

function chooseNetwork(n, preview = true) {
  setInput("style", { id: n.style, url: n.style_url }, `${n.style_label} (learned)`);
  state.network = n.id; state.networkLabel = n.style_label;
  $("#net-strength-box").hidden = false;
  markChosen(); updatePlan();
  if (!state.active) say(state.content ? `Learned style: ${n.style_label}. Move the strength slider for a live preview; Start paints the photo in one pass.`
    : `Learned style: ${n.style_label}. Now choose a content photo.`);
  if (preview) requestPreview();
}

function clearNetwork() {
  if (!state.network) return;
  state.network = null; state.networkLabel = "";
  $("#net-strength-box").hidden = true;
  markChosen(); updatePlan();
}

// ---- learning: queue, follow, cancel, resume ----
function learnSettings() {  // the objective: the form's balance and layers at the learning size
  const s = readSettings(), f = $("#learn-form");
  const out = { size: Number(f.learn_size.value), content_weight: s.content_weight, style_weight: s.style_weight };
  if (s.style_layers) out.style_layers = s.style_layers;
  if (s.style_layer_weights) out.style_layer_weights = s.style_layer_weights;
  return out;
}

async function startLearning(e) {
  e.preventDefault(); showError("");
  if (state.active || !state.style) return;
  const f = $("#learn-form");
  try {
    const n = await postJSON("/api/networks", { style: state.style, style_label: state.network ? state.networkLabel : state.styleLabel,
      settings: learnSettings(), learn: { steps: Number(f.learn_steps.value), crop: Number(f.learn_crop.value) } });
    followLearn(n.id, n.style_label); loadNetworks().catch(() => {});
  } catch (err) { showError(err.message); }
}

async function resumeLearning(id) {
  showError("");
  if (state.active) return;
  try {
    const n = await postJSON(`/api/networks/${id}/resume`, {});
    followLearn(n.id, n.style_label); loadNetworks().catch(() => {});
  } catch (err) { showError(err.message); }
}

function followLearn(id, label) {
  state.kind = "learn"; state.learning = id; state.learnLabel = label; state.run = null; state.result = null;
  state.history = []; state.marks = []; state.level = null; state.total = 0; state.phase = "running";
  setBusy(true); setBar(0);
  for (const sel of ["#download", "#reuse", "#share", "#resume-learn"]) $(sel).hidden = true;
  if (state.source) state.source.close();
  const src = new EventSource(`/api/networks/${id}/events`);
  state.source = src;
  src.onmessage = (msg) => {
    const ev = JSON.parse(msg.data);
    if (ev.type === "snapshot") {
      state.total = ev.total_steps;
      if (ev.history && ev.history.length) { state.history = ev.history.slice(); drawCurve(); }
      if (ev.status === "queued") say(`learning ${label}: queued${ev.ahead ? `, ${ev.ahead} ${ev.ahead === 1 ? "run" : "runs"} ahead` : ", starting…"}`);
      if (ev.status === "running") say(ev.step ? `learning ${label}: step ${ev.step} of ${ev.total_steps}` : `learning ${label}: the first steps…`);
    }
    if (ev.type === "start") say(ev.resume ? `learning ${label}: resuming after step ${ev.step}…` : `learning ${label}: the first steps…`);
    if (ev.type === "learn") onLearnStep(ev);
    if (ev.type === "end" || (ev.type === "snapshot" && !ACTIVE.includes(ev.status))) {
      src.close(); state.source = null; learnFinished(ev);
    }
  };
  src.onerror = () => { if (src.readyState === EventSource.CLOSED) state.source = null; };
}

function onLearnStep(ev) {
  state.history.push(ev.loss); state.total = ev.total;
  setBar((100 * ev.step) / ev.total);
  const eta = ev.eta == null ? "estimating time left…" : `about ${duration(ev.eta)} left`;
  say(`learning ${state.learnLabel}: step ${ev.step} of ${ev.total} · ${eta}`);
  $("#progress").setAttribute("aria-valuetext", `step ${ev.step} of ${ev.total}`);
  drawCurve();
}

function learnFinished(n) {
  state.kind = "run"; setBusy(false);
  const resume = $("#resume-learn");
  resume.hidden = !n.resumable; resume.dataset.network = n.id;
  if (n.status === "done") {
    state.phase = "done"; setBar(100);
    say(`learned ${n.style_label} in ${duration(n.seconds)} (${n.step} steps): choose it under Learned styles`);
  } else if (n.status === "interrupted") {
    state.phase = null;
    say(`learning stopped at step ${n.step} of ${n.total_steps}${n.resumable ? ": Resume learning continues from there" : ""}`);
  } else {
    state.phase = null;
    say(`learning ${n.status}${n.error ? ": " + n.error : ""}`);
  }
  loadNetworks().catch(() => {});
}

// ---- the live preview: at most one request in flight; the latest slider value goes next ----
const live = { busy: false, next: null, url: null };

function requestPreview() {
  if (!state.network || !state.content || state.active) return;
  const strength = Number($("#net-strength").value);
  if (live.busy) { live.next = strength; return; }
  sendPreview(strength);
}

async function sendPreview(strength) {
  live.busy = true;
  const asked = { content: state.content, network: state.network, strength };
  try {
    const res = await fetch("/api/preview", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(asked) });
    if (!res.ok) throw new Error((await res.json()).error || res.statusText);
    const url = URL.createObjectURL(await res.blob());
    if (asked.network !== state.network || asked.content !== state.content || state.active) { URL.revokeObjectURL(url); return; }
    const img = $("#preview"), old = live.url;
    live.url = url; img.dataset.strength = String(strength);
    stopPlayer();
    showPreview(url, `live preview: ${state.contentLabel} by the learned ${state.networkLabel} at ${Math.round(strength * 100)} % strength`);
    if (old) img.addEventListener("load", () => URL.revokeObjectURL(old), { once: true });
  } catch (err) { showError(`preview: ${err.message}`); }
  finally {
    live.busy = false;
    if (live.next != null) { const next = live.next; live.next = null; sendPreview(next); }
  }
}

function showStrength() { $("#net-strength-out").textContent = `${Math.round(Number($("#net-strength").value) * 100)} %`; }

function wireLearning() {
  const f = $("#learn-form"), d = LIMITS.learn_defaults;
  f.learn_size.value = Math.min(DEFAULTS.size, LIMITS.max_size); f.learn_size.max = LIMITS.max_size;
  f.learn_steps.value = d.steps; f.learn_steps.max = LIMITS.max_learn_steps;
  f.learn_crop.value = d.crop; f.learn_crop.max = LIMITS.max_crop;
  f.addEventListener("submit", startLearning);
  $("#net-strength").addEventListener("input", () => { showStrength(); requestPreview(); });
  $("#resume-learn").addEventListener("click", (e) => resumeLearning(e.target.dataset.network));
  showStrength();
}
