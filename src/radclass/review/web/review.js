// radclass review page: a server-side paged work list (filter, sort, group), a slice viewer with
// window/level, explanations on demand, corrections and bulk accept (stored with reviewer and time).
// Every string from the index is inserted with textContent, never as HTML.
"use strict";

const PAGE_SIZE = 100;
const FILTERS = ["review", "status", "flag", "predicted", "label", "confidence_min", "confidence_max",
  "manufacturer", "study", "q", "group"];
const state = {
  vocabulary: null, items: [], total: 0, offset: 0, sort: "id", desc: false, active: -1,
  selected: new Set(), pending: new Map(), viewer: null, loads: 0, firstRender: null,
};
const $ = (sel) => document.querySelector(sel);

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") node.className = v;
    else if (k === "text") node.textContent = v;
    else node.setAttribute(k, v);
  }
  for (const c of children) node.append(c);
  return node;
}

async function api(path, options = {}) {
  const resp = await fetch(path, { credentials: "same-origin", ...options });
  if (!resp.ok) {
    const detail = await resp.json().catch(() => ({}));
    const error = new Error(typeof detail.detail === "string" ? detail.detail : JSON.stringify(detail.detail ?? resp.statusText));
    error.status = resp.status;
    throw error;
  }
  return resp;
}
const getJSON = async (path) => (await api(path)).json();
const postJSON = async (path, body) => (await api(path, {
  method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
})).json();
const say = (text) => { $("#message").textContent = text; };

// --- work list -----------------------------------------------------------------------------------------

function query() {
  const params = new URLSearchParams();
  const form = $("#filters");
  for (const name of FILTERS) {
    const value = form.elements[name].value.trim();
    if (value && !(name === "review" && value === "all")) params.set(name, value);
  }
  if (state.sort !== "id") params.set("sort", state.sort);
  if (state.desc) params.set("desc", "true");
  if (state.offset) params.set("offset", String(state.offset));
  return params;
}

function labelSelect(item, field) {
  const values = state.vocabulary.labels[field];
  const select = el("select", { name: field, "aria-label": field });
  for (const value of values) select.append(el("option", { value, text: value }));
  const current = item.current[field] ?? "";
  if (!values.includes(current)) select.prepend(el("option", { value: current, text: current || "—" }));
  select.value = current;
  select.addEventListener("change", () => markDirty(item));
  return select;
}

function row(item, position) {
  const tr = el("tr", { "data-id": String(item.id), "data-position": String(position) });
  if (item.current.sequence === "UNKNOWN" || item.status === "unknown") tr.classList.add("unknown");
  if (item.reviewed) tr.classList.add("reviewed");
  if (item.corrected) tr.classList.add("corrected");
  const check = el("input", { type: "checkbox", class: "pick", "aria-label": "select" });
  check.checked = state.selected.has(item.id);
  check.addEventListener("change", () => toggleSelected(item.id, check.checked));
  const thumb = el("img", { src: `/api/series/${item.id}/thumbnail.png`, alt: "middle slice", loading: "lazy" });
  const series = el("td", { class: "series" },
    el("strong", { text: item.series_description || "(no description)" }),
    el("small", { text: `${item.modality ?? ""} ${item.manufacturer ?? ""} · ${item.n_files ?? "?"} files · ${item.status ?? ""}` }),
    el("small", { text: item.series_key }));
  const conf = item.confidence == null ? "" : Number(item.confidence).toFixed(2);
  const review = el("td", { class: "review" });
  if (item.reviewed) {
    review.append(el("span", { class: "saved", text: item.corrected ? "corrected" : "accepted" }),
      el("small", { text: `by ${item.last_reviewer}` }),
      el("small", { text: (item.last_time ?? "").slice(0, 16).replace("T", " ") }));
  } else review.append(el("span", { class: "todo", text: "to review" }));
  const cells = [el("td", {}, check), el("td", {}, thumb), series,
    el("td", { class: "predicted", text: item.sequence ?? "" })];
  for (const field of Object.keys(state.vocabulary.labels)) cells.push(el("td", { class: field }, labelSelect(item, field)));
  cells.push(el("td", { class: "confidence", text: conf }),
    el("td", { class: "flags", text: (item.flags || "").split(";").filter(Boolean).join(", ") }), review);
  tr.append(...cells);
  tr.addEventListener("click", (event) => {
    if (event.target.closest("input, select, button")) return;
    activate(position);
  });
  return tr;
}

function render() {
  const tbody = $("#series tbody");
  const rows = [];
  let group = null;
  const grouping = $("#filters").elements.group.value;
  state.items.forEach((item, i) => {
    if (grouping) {
      const key = item.study_uid ?? "(no study)";
      if (key !== group) {
        group = key;
        const n = state.items.filter((x) => (x.study_uid ?? "(no study)") === key).length;
        rows.push(el("tr", { class: "group" }, el("td", { colspan: "10", text: `Study ${key} · ${n} series on this page` })));
      }
    }
    rows.push(row(item, i));
  });
  tbody.replaceChildren(...rows);
  for (const th of document.querySelectorAll("th[data-sort]")) {
    th.classList.toggle("sorted", th.dataset.sort === state.sort);
    th.classList.toggle("desc", th.dataset.sort === state.sort && state.desc);
  }
  const end = state.offset + state.items.length;
  $("#range").textContent = state.total ? `${state.offset + 1}–${end} of ${state.total}` : "no series";
  $("#prev").disabled = state.offset === 0;
  $("#next").disabled = end >= state.total;
  updateSelection();
}

function showCounts(counts) {
  $("#counts").textContent = `${counts.reviewed} reviewed · ${counts.remaining} remaining · ${counts.corrected} corrected of ${counts.total}`;
  document.body.dataset.reviewed = String(counts.reviewed);
}

async function load({ keepActive = false } = {}) {
  const started = performance.now();
  delete document.body.dataset.loaded;
  const params = query();
  history.replaceState(null, "", params.toString() ? `?${params}` : location.pathname);
  params.set("limit", String(PAGE_SIZE));
  const page = await getJSON(`/api/series?${params}`);
  state.items = page.items;
  state.total = page.total;
  state.pending.clear();
  render();
  showCounts(page.counts);
  const active = keepActive ? Math.min(state.active, state.items.length - 1) : (state.items.length ? 0 : -1);
  state.active = -1;
  if (active >= 0) activate(active, { scroll: false });
  else $("#viewer").hidden = true;
  const elapsed = performance.now() - started;
  if (state.firstRender === null) state.firstRender = performance.now();
  state.loads += 1;
  window.radclassTimings = { firstRender: state.firstRender, lastLoad: elapsed, loads: state.loads };
  document.body.dataset.loaded = String(state.loads);
}

function reload() {
  state.offset = 0;
  load().catch((err) => say(`Error: ${err.message}`));
}

// --- selection, corrections, accept -------------------------------------------------------------------

function toggleSelected(id, on) {
  if (on) state.selected.add(id); else state.selected.delete(id);
  const tr = document.querySelector(`#series tr[data-id="${id}"]`);
  if (tr) { tr.querySelector("input.pick").checked = on; tr.classList.toggle("selected", on); }
  updateSelection();
}

function updateSelection() {
  const button = $("#accept-selected");
  button.textContent = `Accept selected (${state.selected.size})`;
  button.disabled = state.selected.size === 0;
  $("#select-page").checked = state.items.length > 0 && state.items.every((i) => state.selected.has(i.id));
}

function markDirty(item) {
  const tr = document.querySelector(`#series tr[data-id="${item.id}"]`);
  if (tr) tr.classList.add("dirty");
}

function reviewer() {
  const name = $("#reviewer").value.trim();
  if (!name) {
    say("Enter your name as reviewer first.");
    $("#reviewer").focus();
    return null;
  }
  localStorage.setItem("radclass-reviewer", name);
  return name;
}

async function saveRow(position) {
  const item = state.items[position];
  const tr = document.querySelector(`#series tr[data-id="${item.id}"]`);
  const name = reviewer();
  if (!item || !tr || !name) return;
  const body = { reviewer: name, comment: $("#comment").value, expected: item.current };
  for (const field of Object.keys(state.vocabulary.labels)) {
    const value = tr.querySelector(`select[name=${field}]`).value;
    if (state.vocabulary.labels[field].includes(value)) body[field] = value;
  }
  try {
    const result = await postJSON(`/api/series/${item.id}/corrections`, body);
    state.items[position] = result.series;
    tr.replaceWith(row(result.series, position));
    $("#comment").value = "";
    say(result.stored.length ? `Saved ${result.stored.length} correction(s) for ${item.series_key}.` : "Nothing changed.");
    refreshCounts();
    activate(position, { scroll: false, force: true });
  } catch (err) {
    say(err.status === 409 ? `Not saved, another reviewer changed it: ${err.message}` : `Not saved: ${err.message}`);
  }
}

async function accept(ids) {
  const name = reviewer();
  if (!name || !ids.length) return;
  try {
    const result = await postJSON("/api/accept", { reviewer: name, ids, comment: $("#comment").value });
    for (const id of result.accepted) state.selected.delete(id);
    const refused = result.refused.length ? `; ${result.refused.length} refused (${result.refused[0].reason})` : "";
    say(`Accepted ${result.accepted.length} series${refused}.`);
    $("#comment").value = "";
    await load({ keepActive: true });
  } catch (err) {
    say(`Not accepted: ${err.message}`);
  }
}

async function refreshCounts() {
  showCounts((await getJSON("/api/facets")).counts);
}

function cycleSequence(step) {
  const item = state.items[state.active];
  if (!item) return;
  const select = document.querySelector(`#series tr[data-id="${item.id}"] select[name=sequence]`);
  const values = state.vocabulary.labels.sequence;
  const at = values.indexOf(select.value);
  select.value = values[(at + step + values.length) % values.length] ?? values[0];
  markDirty(item);
}

// --- viewer --------------------------------------------------------------------------------------------

function activate(position, { scroll = true, force = false } = {}) {
  if (position < 0 || position >= state.items.length) return;
  if (position === state.active && !force) return;
  document.querySelectorAll("#series tr.active").forEach((tr) => tr.classList.remove("active"));
  state.active = position;
  const item = state.items[position];
  const tr = document.querySelector(`#series tr[data-id="${item.id}"]`);
  tr.classList.add("active");
  if (scroll) tr.scrollIntoView({ block: "nearest" });
  openViewer(item).catch((err) => say(`Viewer: ${err.message}`));
}

async function openViewer(item) {
  const same = state.viewer && state.viewer.id === item.id;
  const viewer = $("#viewer");
  viewer.hidden = false;
  $("#viewer-title").textContent = item.series_description || "(no description)";
  $("#viewer-meta").textContent = `${item.modality ?? ""} ${item.manufacturer ?? ""} · predicted ${item.sequence ?? "?"} ` +
    `${item.orientation ?? ""} (${item.confidence == null ? "?" : Number(item.confidence).toFixed(2)}) · ${item.series_key}`;
  if (!same) {
    state.viewer = { id: item.id, slice: null, volume: 0, slices: 1, volumes: 1, center: null, width: null, pixels: null };
    $("#explanation").hidden = true;
    $("#cnn").replaceChildren();
    $("#shap").replaceChildren();
    $("#explain-status").textContent = "";
    await showSlice(null, 0);
  }
  const detail = await getJSON(`/api/series/${item.id}`);
  $("#history").replaceChildren(...detail.history.map((h) => el("li", {
    text: `${h.time} ${h.reviewer}: ${h.field} ${h.old ?? "—"} → ${h.new}${h.old === h.new ? " (accepted)" : ""}${h.comment ? ` — ${h.comment}` : ""}`,
  })));
}

async function showSlice(index, volume, { keepWindow = true } = {}) {
  const v = state.viewer;
  const params = new URLSearchParams({ volume: String(volume) });
  if (index !== null) params.set("index", String(index));
  delete $("#viewer").dataset.ready;
  const resp = await api(`/api/series/${v.id}/slice?${params}`);
  if (state.viewer !== v) return;  // another series was opened meanwhile
  const h = (name) => Number(resp.headers.get(name));
  v.rows = h("X-Rows"); v.columns = h("X-Columns");
  v.slice = h("X-Slice"); v.volume = h("X-Volume"); v.slices = h("X-Slices"); v.volumes = h("X-Volumes");
  v.pixels = new Float32Array(await resp.arrayBuffer());
  if (!keepWindow || v.center === null) { v.center = h("X-Window-Center"); v.width = h("X-Window-Width"); }
  v.auto = [h("X-Window-Center"), h("X-Window-Width")];
  $("#slice").max = String(v.slices - 1); $("#slice").value = String(v.slice);
  $("#volume").max = String(v.volumes - 1); $("#volume").value = String(v.volume);
  $("#volume-control").hidden = v.volumes < 2;
  draw();
  const viewer = $("#viewer");
  viewer.dataset.slice = String(v.slice);
  viewer.dataset.volume = String(v.volume);
  viewer.dataset.slices = String(v.slices);
  viewer.dataset.volumes = String(v.volumes);
  viewer.dataset.ready = "1";
}

function draw() {
  const v = state.viewer;
  const canvas = $("#canvas");
  canvas.width = v.columns; canvas.height = v.rows;
  const ctx = canvas.getContext("2d");
  const image = ctx.createImageData(v.columns, v.rows);
  const low = v.center - v.width / 2;
  const scale = 255 / Math.max(v.width, 1e-6);
  for (let i = 0; i < v.pixels.length; i++) {
    const g = Math.max(0, Math.min(255, (v.pixels[i] - low) * scale));
    image.data[4 * i] = image.data[4 * i + 1] = image.data[4 * i + 2] = g;
    image.data[4 * i + 3] = 255;
  }
  ctx.putImageData(image, 0, 0);
  $("#wc").value = v.center.toPrecision(4);
  $("#ww").value = v.width.toPrecision(4);
  $("#slice-label").textContent = `slice ${v.slice + 1}/${v.slices}` + (v.volumes > 1 ? ` · volume ${v.volume + 1}/${v.volumes}` : "") +
    ` · W ${v.width.toPrecision(4)} C ${v.center.toPrecision(4)}`;
  $("#viewer").dataset.window = `${v.center.toPrecision(4)}/${v.width.toPrecision(4)}`;
}

function step(slices, volumes = 0) {
  const v = state.viewer;
  if (!v || v.slice === null) return;
  const slice = Math.max(0, Math.min(v.slices - 1, v.slice + slices));
  const volume = Math.max(0, Math.min(v.volumes - 1, v.volume + volumes));
  if (slice !== v.slice || volume !== v.volume) showSlice(slice, volume).catch((err) => say(`Viewer: ${err.message}`));
}

async function explain(method) {
  const v = state.viewer;
  if (!v) return;
  const status = $("#explain-status");
  delete $("#explanation").dataset.ready;
  status.textContent = `running ${method} on slice ${v.slice + 1}…`;
  try {
    const result = await postJSON(`/api/series/${v.id}/explain`, { method, index: v.slice, volume: v.volume });
    if (state.viewer !== v) return;
    $("#overlay").src = `data:image/png;base64,${result.overlay_png}`;
    $("#explanation").hidden = false;
    $("#explanation-label").textContent = `${method} · slice ${result.slice + 1} · ${result.seconds} s`;
    const heads = Object.entries(result.cnn).map(([head, r]) => el("li", {
      text: `CNN ${head}: ` + r.top3.map((t) => `${t.class} ${(100 * t.probability).toFixed(0)}%`).join(", "),
    }));
    $("#cnn").replaceChildren(el("ul", {}, ...heads));
    if (result.shap) {
      const top = Math.max(...result.shap.features.map((f) => Math.abs(f.shap)), 1e-9);
      const bars = result.shap.features.map((f) => {
        const bar = el("span", { class: f.shap >= 0 ? "bar up" : "bar down" });
        bar.style.width = `${(100 * Math.abs(f.shap) / top).toFixed(1)}%`;
        return el("li", {}, el("span", { class: "feature", text: `${f.feature} = ${f.value ?? "missing"}` }), bar,
          el("span", { class: "value", text: f.shap.toFixed(3) }));
      });
      $("#shap").replaceChildren(el("h3", { text: `Header forest: ${result.shap.predicted} (${(100 * result.shap.probability).toFixed(0)}%), SHAP` }),
        el("ol", {}, ...bars));
    } else $("#shap").replaceChildren();
    status.textContent = "";
    $("#explanation").dataset.ready = method;
  } catch (err) {
    status.textContent = `explanation failed: ${err.message}`;
  }
}

function setupViewer() {
  $("#slice").addEventListener("input", (e) => showSlice(Number(e.target.value), state.viewer.volume));
  $("#volume").addEventListener("input", (e) => showSlice(state.viewer.slice, Number(e.target.value)));
  for (const [id, key] of [["#wc", "center"], ["#ww", "width"]]) {
    $(id).addEventListener("change", (e) => {
      const value = Number(e.target.value);
      if (Number.isFinite(value) && (key === "center" || value > 0)) { state.viewer[key] = value; draw(); }
    });
  }
  $("#auto-window").addEventListener("click", () => { [state.viewer.center, state.viewer.width] = state.viewer.auto; draw(); });
  const canvas = $("#canvas");
  canvas.addEventListener("wheel", (e) => { e.preventDefault(); step(e.deltaY > 0 ? 1 : -1); }, { passive: false });
  let drag = null;
  canvas.addEventListener("pointerdown", (e) => {
    drag = { x: e.clientX, y: e.clientY, center: state.viewer.center, width: state.viewer.width };
    canvas.setPointerCapture(e.pointerId);
  });
  canvas.addEventListener("pointermove", (e) => {
    if (!drag) return;
    const unit = state.viewer.auto[1] / 200;  // a 200-pixel drag moves by one automatic window width
    state.viewer.width = Math.max(1e-6, drag.width + (e.clientX - drag.x) * unit);
    state.viewer.center = drag.center - (e.clientY - drag.y) * unit;
    draw();
  });
  canvas.addEventListener("pointerup", () => { drag = null; });
  $("#explain-gradcam").addEventListener("click", () => explain("gradcam"));
  $("#explain-occlusion").addEventListener("click", () => explain("occlusion"));
}

// --- keyboard ----------------------------------------------------------------------------------------

function onKey(event) {
  const target = event.target;
  if (event.ctrlKey || event.metaKey || event.altKey) return;
  if (target.matches("input[type=text], input[type=search], input[type=number], textarea, select")) {
    // typing goes to the field; Enter in a row's label list saves the row, Escape leaves the field
    const tr = target.closest("#series tr[data-position]");
    if (event.key === "Enter" && tr && target.matches("select")) {
      event.preventDefault();
      saveRow(Number(tr.dataset.position));
    } else if (event.key === "Escape") target.blur();
    return;
  }
  const keys = {
    j: () => activate(state.active + 1), ArrowDown: () => activate(state.active + 1),
    k: () => activate(state.active - 1), ArrowUp: () => activate(state.active - 1),
    q: () => cycleSequence(-1), w: () => cycleSequence(1),
    Enter: () => saveRow(state.active),
    a: () => state.items[state.active] && accept([state.items[state.active].id]),
    A: () => accept([...state.selected]),
    x: () => state.items[state.active] && toggleSelected(state.items[state.active].id, !state.selected.has(state.items[state.active].id)),
    ",": () => step(-1), ".": () => step(1), "[": () => step(0, -1), "]": () => step(0, 1),
    g: () => explain("gradcam"), o: () => explain("occlusion"),
    n: () => !$("#next").disabled && $("#next").click(), p: () => !$("#prev").disabled && $("#prev").click(),
  };
  const action = keys[event.key];
  if (action) {
    event.preventDefault();
    action();
  }
}

// --- start -------------------------------------------------------------------------------------------

function fill(select, values) {
  for (const value of values) select.append(el("option", { value, text: value }));
}

async function main() {
  state.vocabulary = await getJSON("/api/vocabulary");
  const facets = await getJSON("/api/facets");
  const form = $("#filters");
  fill(form.elements.status, facets.status);
  fill(form.elements.flag, facets.flag);
  fill(form.elements.predicted, facets.predicted);
  fill(form.elements.label, ["UNKNOWN", ...state.vocabulary.labels.sequence]);
  fill(form.elements.manufacturer, facets.manufacturer);
  $("#reviewer").value = localStorage.getItem("radclass-reviewer") || "";
  const params = new URLSearchParams(location.search);
  for (const name of FILTERS) if (params.get(name)) form.elements[name].value = params.get(name);
  state.sort = params.get("sort") || "id";
  state.desc = params.get("desc") === "true";
  state.offset = Number(params.get("offset") || 0);
  form.addEventListener("change", reload);
  form.addEventListener("submit", (e) => { e.preventDefault(); reload(); });
  for (const th of document.querySelectorAll("th[data-sort]")) {
    th.tabIndex = 0;
    th.addEventListener("click", () => {
      state.desc = state.sort === th.dataset.sort ? !state.desc : false;
      state.sort = th.dataset.sort;
      reload();
    });
  }
  $("#prev").addEventListener("click", () => { state.offset = Math.max(0, state.offset - PAGE_SIZE); load(); });
  $("#next").addEventListener("click", () => { state.offset += PAGE_SIZE; load(); });
  $("#select-page").addEventListener("change", (e) => { for (const i of state.items) toggleSelected(i.id, e.target.checked); });
  $("#accept-selected").addEventListener("click", () => accept([...state.selected]));
  document.addEventListener("keydown", onKey);
  setupViewer();
  await load();
}

main().catch((err) => say(`Error: ${err.message}`));
