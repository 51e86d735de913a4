// The search page: plain JavaScript, no build step and nothing fetched from another site.
// The query and the filters live in the URL (?q=…&country=…), so a search can be shared and reloaded.
"use strict";

// Tiles per page; `?n=` changes it (a shared link keeps its page size).
const PAGE_SIZE = Math.min(Math.max(Number(new URLSearchParams(location.search).get("n")) || 24, 1), 200);
// URL parameter -> the API's `where` key (and how to read the value)
const FILTERS = {
  orientation: { key: "orientation" },
  country: { key: "country" },
  keyword: { key: "keywords_any", list: true },
  after: { key: "submitted_after" },
  before: { key: "submitted_before" },
  min_width: { key: "min_width", number: true },
};

// "Varied results" reorders for variety with MMR at this lambda (relevance and variety weighed equally).
const VARIED_LAMBDA = 0.5;

const $ = (id) => document.getElementById(id);
const state = { request: null, nextOffset: null, busy: false, image: null, generation: 0 };

function apiKey() { return sessionStorage.getItem("photoseek-api-key") || ""; }

function headers(extra) {
  const result = Object.assign({}, extra || {});
  if (apiKey()) result.Authorization = "Bearer " + apiKey();
  return result;
}

async function call(path, options) {
  const response = await fetch(path, Object.assign({}, options, { headers: headers((options || {}).headers) }));
  let body = null;
  try { body = await response.json(); } catch (e) { body = null; }
  if (!response.ok) {
    const error = new Error((body && body.error && body.error.message) || `the service answered ${response.status}`);
    error.status = response.status;
    error.type = body && body.error && body.error.type;
    throw error;
  }
  return body;
}

// --- the URL <-> the form ----------------------------------------------------------------------

function readUrl() {
  const params = new URLSearchParams(location.search);
  $("q").value = params.get("q") || "";
  for (const input of document.querySelectorAll("[data-key]")) {
    if (input.type === "checkbox") input.checked = params.get(input.dataset.key) === "1";
    else input.value = params.get(input.dataset.key) || "";
  }
  scoreLimits();
  return params;
}

function formParams() {
  const params = new URLSearchParams();
  const size = new URLSearchParams(location.search).get("n");
  if (size) params.set("n", size);
  for (const input of document.querySelectorAll("[data-key]")) {
    if (input.type === "checkbox") {
      if (input.checked) params.set(input.dataset.key, "1");
    } else if (input.value !== "") {
      params.set(input.dataset.key, input.value);
    }
  }
  return params;
}

// A cosine lies in [-1, 1]; BM25 (keyword) and fused (hybrid) scores can be higher, so the bounds
// apply in vector mode only (the default mode is the service's, and the service checks it).
function scoreLimits() {
  const input = $("f-threshold");
  if ($("f-mode").value === "vector") {
    input.min = "-1";
    input.max = "1";
  } else {
    input.removeAttribute("min");
    input.removeAttribute("max");
  }
}

function whereFrom(params) {
  const where = {};
  for (const [name, spec] of Object.entries(FILTERS)) {
    const value = params.get(name);
    if (value === null || value === "") continue;
    where[spec.key] = spec.list ? [value] : spec.number ? Number(value) : value;
  }
  return where;
}

// The API's diversity options for the "Varied results" and "Hide near-duplicates" boxes.
function diversityFrom(params) {
  const options = {};
  if (params.get("varied") === "1") options.diversity = VARIED_LAMBDA;
  if (params.get("dedupe") === "1") options.collapse_duplicates = true;
  return options;
}

function thresholdFrom(params) {
  const value = params.get("threshold");
  return value === null || value === "" ? null : Number(value);
}

// --- searching ---------------------------------------------------------------------------------

function showStatus(kind, text) {
  const box = $("status");
  box.hidden = !kind;
  box.className = kind || "";
  box.dataset.state = kind || "";
  box.textContent = text || "";
}

function searchFromUrl() {
  const params = readUrl();
  state.image = null;
  const where = whereFrom(params);
  const threshold = thresholdFrom(params);
  let request = null;
  const note = $("query-note");
  note.hidden = true;
  if (params.get("q")) {
    request = { text: params.get("q") };
  } else if (params.get("similar")) {
    request = { similar_to: params.get("similar") };
    note.hidden = false;
    note.textContent = "Photos like " + params.get("similar");
  }
  if (!request) {
    $("grid").replaceChildren();
    $("more").hidden = true;
    showStatus(null);
    return;
  }
  request.where = where;
  Object.assign(request, diversityFrom(params));
  if (threshold !== null) request.score_threshold = threshold;
  // Only a text has words for the keyword side; "More like this" searches by the picture.
  if (request.text && params.get("mode")) request.mode = params.get("mode");
  run({ kind: "json", body: request, threshold });
}

function navigate(params) {
  const query = params.toString();
  history.pushState(null, "", query ? "?" + query : location.pathname);
  searchFromUrl();
}

function submitText(event) {
  event.preventDefault();
  const text = $("q").value.trim();
  if (!text) { $("q").focus(); return; }
  const params = formParams();
  params.set("q", text);
  navigate(params);
}

function searchImage(file) {
  if (!file) return;
  const params = formParams();
  history.pushState(null, "", params.toString() ? "?" + params : location.pathname);
  $("q").value = "";
  const note = $("query-note");
  note.hidden = false;
  note.textContent = "Photos that look like " + file.name;
  const threshold = thresholdFrom(params);
  run({ kind: "image", file, where: whereFrom(params), threshold, diverse: diversityFrom(params) });
}

async function run(request, append) {
  const generation = ++state.generation;
  state.request = request;
  state.busy = true;
  $("more").hidden = true;
  if (!append) {
    $("grid").replaceChildren();
    state.nextOffset = null;
  }
  showStatus("loading", append ? "Loading more…" : "Searching…");
  const offset = append ? state.nextOffset : 0;
  try {
    let page;
    if (request.kind === "image") {
      const form = new FormData();
      form.append("image", request.file, request.file.name || "image");
      form.append("where", JSON.stringify(request.where));
      form.append("limit", String(PAGE_SIZE));
      form.append("offset", String(offset));
      if (request.threshold !== null && request.threshold !== undefined) form.append("score_threshold", String(request.threshold));
      for (const [name, value] of Object.entries(request.diverse || {})) form.append(name, String(value));
      page = await call("/v1/search/image", { method: "POST", body: form });
    } else {
      const body = Object.assign({}, request.body, { limit: PAGE_SIZE, offset });
      page = await call("/v1/search", { method: "POST", body: JSON.stringify(body), headers: { "Content-Type": "application/json" } });
    }
    if (generation !== state.generation) return;  // a newer search started meanwhile
    showResults(page, request, append);
  } catch (error) {
    if (generation !== state.generation) return;
    showError(error);
  } finally {
    if (generation === state.generation) state.busy = false;
  }
}

function showResults(page, request, append) {
  state.nextOffset = page.next_offset;
  const grid = $("grid");
  for (const hit of page.hits) grid.appendChild(tile(hit, page));
  $("more").hidden = page.next_offset === null;
  if (grid.children.length > 0) {
    showStatus(null);
    return;
  }
  if (request.threshold !== null && request.threshold !== undefined) {
    showStatus("no-match", `No good match: no photo scored above ${request.threshold}. ` +
      "Try other words, a lower minimum score, or fewer filters.");
  } else if (Object.keys(request.where || (request.body && request.body.where) || {}).length) {
    showStatus("no-match", "No good match: no photo fits these filters. Clear a filter and search again.");
  } else {
    showStatus("no-match", "No good match: the collection returned nothing for this search.");
  }
}

function showError(error) {
  showStatus("error", "Search failed: " + error.message);
  if (error.status === 401) {
    const box = $("status");
    const input = document.createElement("input");
    input.type = "password";
    input.placeholder = "API key";
    input.id = "api-key";
    const save = document.createElement("button");
    save.type = "button";
    save.textContent = "Use key";
    save.addEventListener("click", () => {
      sessionStorage.setItem("photoseek-api-key", input.value.trim());
      searchFromUrl();
    });
    box.append(document.createElement("br"), input, save);
  }
}

// --- tiles -------------------------------------------------------------------------------------

function link(href, text) {
  // Links come from the payload: only http(s) ones become links (never javascript: and the like).
  if (!/^https?:\/\//i.test(href || "")) {
    const span = document.createElement("span");
    span.textContent = text;
    return span;
  }
  const a = document.createElement("a");
  a.href = href;
  a.textContent = text;
  a.target = "_blank";
  a.rel = "noopener noreferrer";
  return a;
}

function thumbnail(img, url) {
  if (!apiKey()) { img.src = url; return; }
  // An <img> cannot send the Authorization header: fetch the bytes and show them from memory.
  fetch(url, { headers: headers() }).then((r) => (r.ok ? r.blob() : null)).then((blob) => {
    if (blob) img.src = URL.createObjectURL(blob);
  });
}

// What a hit's score is, by the mode the search ran in.
function scoreMeaning(page) {
  if (page.mode === "keyword") return "BM25 score of the photo's words";
  if (page.mode === "hybrid") return `fused score of the vector and keyword rankings (${page.fusion || "rrf"})`;
  return "cosine similarity to the query";
}

function tile(hit, page) {
  const item = document.createElement("li");
  item.className = "tile";
  item.dataset.photoId = hit.photo_id || hit.id;
  const title = hit.description || hit.ai_description || hit.photo_id || "";
  const frame = hit.page_url ? link(hit.page_url, "") : document.createElement("span");
  frame.className = "thumb";
  const img = document.createElement("img");
  img.loading = "lazy";
  img.alt = title;
  img.width = 300;
  img.height = 225;
  img.addEventListener("error", () => img.classList.add("broken"));  // an empty frame, not a broken icon
  thumbnail(img, hit.thumbnail_url);
  frame.appendChild(img);
  const meta = document.createElement("div");
  meta.className = "meta";
  const caption = document.createElement("span");
  caption.className = "title";
  caption.textContent = title;
  caption.title = title;
  const row = document.createElement("div");
  row.className = "row";
  const score = document.createElement("span");
  score.className = "score";
  score.textContent = hit.score.toFixed(3);
  score.title = scoreMeaning(page || {});
  const similar = document.createElement("button");
  similar.type = "button";
  similar.className = "similar";
  similar.textContent = "More like this";
  similar.addEventListener("click", () => {
    const params = formParams();
    params.set("similar", hit.photo_id || hit.id);
    $("q").value = "";
    navigate(params);
    window.scrollTo(0, 0);
  });
  row.append(score, similar);
  const credit = document.createElement("div");
  credit.className = "credit";
  const name = hit.photographer_name || hit.photographer;
  if (name && hit.photographer_url) {
    credit.append("Photo by ", link(hit.photographer_url, name));
    if (hit.page_url) credit.append(" on ", link(hit.page_url, "Unsplash"));
  } else if (name) {
    credit.textContent = "Photo by " + name;
  } else {
    credit.textContent = hit.photo_id || "";
  }
  meta.append(caption, credit, row);
  item.append(frame, meta);
  return item;
}

// --- filters offered by the collection ---------------------------------------------------------

async function loadChoices() {
  try {
    const choices = await call("/v1/filters");
    fill($("f-country"), choices.country);
    fill($("f-keyword"), choices.keywords);
  } catch (error) {
    // The filters still work by hand through the URL; the search will show the service's error.
  }
}

function fill(select, choices) {
  const chosen = select.value;
  for (const choice of choices) {
    const option = document.createElement("option");
    option.value = choice.value;
    option.textContent = `${choice.value} (${choice.count})`;
    select.appendChild(option);
  }
  if (chosen && ![...select.options].some((o) => o.value === chosen)) {
    const option = document.createElement("option");
    option.value = chosen;
    option.textContent = chosen;
    select.appendChild(option);
  }
  select.value = chosen;
}

function filterChanged() {
  const params = formParams();
  const current = new URLSearchParams(location.search);
  if ($("q").value.trim()) params.set("q", $("q").value.trim());
  else if (current.get("similar")) params.set("similar", current.get("similar"));
  if (state.request && state.request.kind === "image") {
    history.replaceState(null, "", "?" + params);
    run(Object.assign({}, state.request, {
      where: whereFrom(params), threshold: thresholdFrom(params), diverse: diversityFrom(params),
    }));
    return;
  }
  if (params.get("q") || params.get("similar")) navigate(params);
  else history.replaceState(null, "", params.toString() ? "?" + params : location.pathname);
}

// --- wiring ------------------------------------------------------------------------------------

function init() {
  const params = readUrl();
  $("search-form").addEventListener("submit", submitText);
  for (const input of document.querySelectorAll("[data-key]")) input.addEventListener("change", filterChanged);
  $("f-mode").addEventListener("change", scoreLimits);
  $("clear").addEventListener("click", () => {
    for (const input of document.querySelectorAll("[data-key]:not([data-keep])")) {
      if (input.type === "checkbox") input.checked = false;
      else input.value = "";
    }
    filterChanged();
  });
  $("more").addEventListener("click", () => {
    if (!state.busy && state.nextOffset !== null) run(state.request, true);
  });
  $("pick").addEventListener("change", (event) => searchImage(event.target.files[0]));
  const drop = $("drop");
  for (const target of [drop, document.body]) {
    target.addEventListener("dragover", (event) => { event.preventDefault(); drop.classList.add("over"); });
    target.addEventListener("dragleave", () => drop.classList.remove("over"));
    target.addEventListener("drop", (event) => {
      event.preventDefault();
      drop.classList.remove("over");
      const file = event.dataTransfer.files[0];
      if (file) searchImage(file);
    });
  }
  document.addEventListener("keydown", (event) => {
    const typing = ["INPUT", "SELECT", "TEXTAREA"].includes(document.activeElement.tagName);
    if (event.key === "/" && !typing) { event.preventDefault(); $("q").focus(); }
  });
  window.addEventListener("popstate", searchFromUrl);
  // The country and keyword choices arrive after the page: select the URL's once they are there.
  loadChoices().then(() => {
    const current = new URLSearchParams(location.search);
    for (const input of document.querySelectorAll("select[data-key]")) input.value = current.get(input.dataset.key) || "";
  });
  if (params.get("q") || params.get("similar")) searchFromUrl();
  else $("q").focus();
}

document.addEventListener("DOMContentLoaded", init);
