// radclass review page: list series, filter, correct labels (stored with reviewer and time).
"use strict";

const state = { vocabulary: null };
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
  const resp = await fetch(path, options);
  if (!resp.ok) {
    const detail = await resp.json().catch(() => ({}));
    throw new Error(detail.detail ? JSON.stringify(detail.detail) : resp.statusText);
  }
  return resp.json();
}

function labelCell(item, field) {
  const select = el("select", { name: field, "aria-label": field });
  for (const value of state.vocabulary[field]) {
    select.append(el("option", { value, text: value }));
  }
  const current = item.current[field];
  if (!state.vocabulary[field].includes(current)) {
    select.prepend(el("option", { value: current ?? "", text: current ?? "" }));  // e.g. UNKNOWN
  }
  select.value = current ?? "";
  const cell = el("td", { class: field }, select);
  if (item.corrections[field]) {
    cell.append(el("span", { class: "predicted", text: `predicted ${item[field]}` }));
  }
  return cell;
}

function row(item) {
  const tr = el("tr", { "data-id": String(item.id), "data-key": item.series_key });
  if (item.current.sequence === "UNKNOWN" || item.status === "unknown") tr.classList.add("unknown");
  if (Object.keys(item.corrections).length) tr.classList.add("corrected");
  const thumb = el("img", { src: `/api/series/${item.id}/thumbnail.png`, alt: "middle slice", loading: "lazy" });
  const series = el("td", { class: "series" },
    el("strong", { text: item.series_description || "(no description)" }),
    el("small", { text: `${item.modality ?? ""} ${item.manufacturer ?? ""} · ${item.n_files ?? "?"} files · ${item.status}` }),
    el("small", { text: item.series_key }));
  const conf = item.confidence == null ? "" : Number(item.confidence).toFixed(2);
  const gradcam = el("td", { class: "gradcam" });
  if (item.has_gradcam) {
    gradcam.append(el("img", { src: `/api/series/${item.id}/gradcam.png`, alt: "Grad-CAM", loading: "lazy" }));
  }
  const save = el("button", { class: "save", type: "button", text: "Save" });
  save.addEventListener("click", () => saveRow(tr, item));
  const action = el("td", { class: "action" }, save);
  const last = Object.values(item.corrections).sort((a, b) => a.time.localeCompare(b.time)).pop();
  if (last) action.append(el("span", { class: "saved", text: `by ${last.reviewer} at ${last.time}` }));
  tr.append(el("td", {}, thumb), series, labelCell(item, "sequence"), labelCell(item, "orientation"),
    labelCell(item, "contrast"), el("td", { class: "confidence", text: conf }),
    el("td", { class: "flags", text: (item.flags || "").split(";").join(", ") }), gradcam, action);
  return tr;
}

async function saveRow(tr, item) {
  const reviewer = $("#reviewer").value.trim();
  if (!reviewer) {
    $("#message").textContent = "Enter your name as reviewer first.";
    $("#reviewer").focus();
    return;
  }
  localStorage.setItem("radclass-reviewer", reviewer);
  const body = { reviewer };
  for (const field of Object.keys(state.vocabulary)) body[field] = tr.querySelector(`select[name=${field}]`).value;
  try {
    const result = await api(`/api/series/${item.id}/corrections`, {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
    });
    tr.replaceWith(row(result.series));
    $("#message").textContent = result.stored.length
      ? `Saved ${result.stored.length} correction(s) for ${item.series_key}.` : "Nothing changed.";
  } catch (err) {
    $("#message").textContent = `Not saved: ${err.message}`;
  }
}

async function load() {
  const filter = $("#filter").value;
  const items = await api(`/api/series?filter=${encodeURIComponent(filter)}`);
  const tbody = $("#series tbody");
  tbody.replaceChildren(...items.map(row));
  $("#count").textContent = `${items.length} series`;
  document.body.dataset.loaded = filter;
}

async function main() {
  state.vocabulary = await api("/api/vocabulary");
  $("#reviewer").value = localStorage.getItem("radclass-reviewer") || "";
  const params = new URLSearchParams(location.search);
  if (params.get("filter")) $("#filter").value = params.get("filter");
  $("#filter").addEventListener("change", () => {
    delete document.body.dataset.loaded;
    load();
  });
  await load();
}

main().catch((err) => { $("#message").textContent = `Error: ${err.message}`; });
