// sceneseek web UI: plain JavaScript against the JSON API in sceneseek/api/app.py.
"use strict";

const $ = (selector) => document.querySelector(selector);

const state = {
  lastSearch: null, // {label, phrase, run(offset), serverQuery}
  shown: 0,
  weak: 0, // of the shown results, those below the relevance cut-off (collapsed)
  pageSize: 24,
  jobsTimer: null,
  runningJobs: new Set(),
  emptyIndex: false,
  marks: { more: [], not: [] }, // segment ids marked on the current text query (refinement)
  updates: 0, // results or messages shown so far (tests wait on body[data-updates])
  logins: 0, // keys handed to the server so far; a request refused before one retries
  login: null, // the key prompt in progress, shared by requests refused meanwhile
};

// ---------- small helpers ----------

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "dataset") Object.assign(node.dataset, value);
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function formatClock(seconds) {
  const total = Math.max(0, Number(seconds) || 0);
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total - h * 3600 - m * 60;
  const pad = (n) => String(n).padStart(2, "0");
  return `${pad(h)}:${pad(m)}:${s.toFixed(1).padStart(4, "0")}`;
}

function formatRange(start, end) {
  return `${formatClock(start)} – ${formatClock(end)}`;
}

function baseName(path) {
  return String(path || "").split(/[\\/]/).pop();
}

function wallClock(videoStart, offsetSeconds) {
  if (!videoStart) return null;
  const at = new Date(new Date(videoStart).getTime() + offsetSeconds * 1000);
  if (Number.isNaN(at.getTime())) return null;
  return at.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "medium" });
}

function truncate(text, limit) {
  const clean = String(text || "").replace(/\s+/g, " ").trim();
  return clean.length > limit ? `${clean.slice(0, limit - 1)}…` : clean;
}

// ---------- messages ----------

function showMessage(text, kind = "info") {
  const box = $("#message");
  box.textContent = text;
  box.className = `message ${kind}`;
  box.hidden = false;
  markUpdated();
}

function markUpdated() {
  state.updates += 1;
  document.body.dataset.updates = String(state.updates);
}

function clearMessage() {
  const box = $("#message");
  box.hidden = true;
  box.textContent = "";
}

// ---------- API ----------

class ApiError extends Error {
  constructor(message, status) {
    super(message);
    this.status = status;
  }
}

// API keys: when the server wants one (401), ask once and hand it to /api/login, which
// keeps it in an HttpOnly, SameSite=Strict cookie that fetch, <img> and <video> all send
// (the last two cannot send headers) and that no script, this one included, can read.
async function askForKey(reason) {
  const key = window.prompt(`${reason}\nEnter a sceneseek API key (sceneseek key add):`);
  if (!key || !key.trim()) return false;
  const response = await fetch("/api/login", {
    method: "POST",
    headers: { Authorization: `Bearer ${key.trim()}` },
  }).catch(() => null);
  if (!response) throw new ApiError("Cannot reach the sceneseek server. Is it still running?", 0);
  if (!response.ok) {
    const body = await response.json().catch(() => null);
    throw new ApiError(errorText(response.status, body), response.status);
  }
  state.logins += 1;
  return true;
}

function loginOnce(reason) {
  if (!state.login) state.login = askForKey(reason).finally(() => { state.login = null; });
  return state.login;
}

async function api(path, options = {}, askKey = true) {
  const loginsBefore = state.logins;
  let response;
  try {
    response = await fetch(path, options);
  } catch {
    throw new ApiError("Cannot reach the sceneseek server. Is it still running?", 0);
  }
  if (response.status === 401 && askKey) {
    const body = await response.json().catch(() => null);
    // A parallel request may have logged in meanwhile: then just retry with that key.
    if (state.logins !== loginsBefore) return api(path, options, false);
    if (await loginOnce((body && body.detail) || "This server needs an API key.")) {
      return api(path, options, false);
    }
  }
  const type = response.headers.get("content-type") || "";
  const body = type.includes("json") ? await response.json().catch(() => null) : null;
  if (!response.ok) throw new ApiError(errorText(response.status, body), response.status);
  return body;
}

function errorText(status, body) {
  const detail = body && body.detail;
  const text = Array.isArray(detail)
    ? detail.map((d) => d.msg || JSON.stringify(d)).join("; ")
    : detail;
  if (status >= 500) return `The server hit an error${text ? `: ${text}` : ""}. Try again.`;
  return text || `Request failed (HTTP ${status}).`;
}

function postJson(path, payload) {
  return api(path, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(payload),
  });
}

function filterParams() {
  const params = new URLSearchParams();
  const fields = {
    camera: "#camera",
    zone: "#zone",
    time_of_day: "#time-of-day",
    weekdays: "#weekdays",
    event_zone: "#event-zone",
    min_dwell: "#min-dwell",
    min_count: "#min-count",
  };
  for (const [name, selector] of Object.entries(fields)) {
    const value = $(selector).value.trim();
    if (value) params.set(name, value);
  }
  for (const name of ["after", "before"]) {
    const value = localIsoWithOffset($(`#${name}`).value);
    if (value) params.set(name, value);
  }
  return params;
}

function pageParams(offset) {
  const params = filterParams();
  params.set("top_k", state.pageSize);
  params.set("offset", offset);
  return params;
}

function hasFilters() {
  return [...filterParams().keys()].length > 0;
}

// ---------- health ----------

async function loadHealth() {
  try {
    const health = await api("/api/health");
    const stats = health.stats || {};
    const videos = stats.videos ?? 0;
    const segments = stats.segments ?? 0;
    $("#health").textContent = `${videos} video${videos === 1 ? "" : "s"} · ${segments} segments`;
    $("#health").className = "health ok";
    state.emptyIndex = videos === 0;
    if (state.emptyIndex) {
      showMessage("The index is empty. Add videos on the Library tab, then search.", "info");
    }
  } catch (error) {
    $("#health").textContent = "offline";
    $("#health").className = "health bad";
    showMessage(error.message, "error");
  }
}

// ---------- searching ----------

function textSearch(query, { parse = true, translate = true, more = [], not = [] } = {}) {
  // more/not: the marks so far, sent with the query so the server refines it (Rocchio).
  // translate: also search a non-English query in its English translation.
  const marks = more.length + not.length;
  return {
    kind: "text",
    query,
    parse,
    translate,
    refines: marks > 0,
    label: `“${query}”`,
    phrase: marks
      ? `for “${query}”, refined by ${marks} mark${marks === 1 ? "" : "s"}`
      : `for “${query}”`,
    run(offset) {
      const params = pageParams(offset);
      params.set("q", query);
      params.set("parse", parse ? "true" : "false");
      if (!translate) params.set("translate", "false");
      for (const id of more) params.append("more_like", id);
      for (const id of not) params.append("not_like", id);
      return api(`/api/search?${params}`);
    },
  };
}

// ---------- filters read from the query's words, shown as removable chips ----------

const CHIP_FIELDS = {
  camera: ["camera"],
  zone: ["zone"],
  time_of_day: ["time_of_day"],
  date: ["after", "before"],
  event_zone: ["event_zone"],
  dwell: ["min_dwell"],
  count: ["min_count"],
};
const FIELD_INPUTS = {
  camera: "#camera",
  zone: "#zone",
  time_of_day: "#time-of-day",
  event_zone: "#event-zone",
  min_dwell: "#min-dwell",
  min_count: "#min-count",
  after: "#after",
  before: "#before",
};

function renderChips(search, answer) {
  const chips = (search.kind === "text" && answer.filters && answer.filters.from_query) || [];
  const box = $("#chips");
  box.replaceChildren(
    ...chips.map((chip) => {
      const button = el("button", { type: "button", class: "chip", title: "Remove this filter" },
        `${chip.label} ×`);
      button.addEventListener("click", () => removeChip(search, answer, chip));
      return button;
    }),
    ...translationChip(search, answer),
  );
  box.hidden = box.children.length === 0;
}

function translationChip(search, answer) {
  // A non-English query was also searched in English: show the translation, removable;
  // a language without an offline translation is only noted.
  const translation = search.kind === "text" ? answer.translation : null;
  if (!translation) return [];
  if (!translation.text) {
    return [el("span", { class: "chip note", title: "Searched as typed" }, translation.note)];
  }
  const button = el("button", {
    type: "button",
    class: "chip translation",
    title: "Remove the translation: search only the words as typed",
  }, `${translation.from} → en: ${translation.text} ×`);
  button.addEventListener("click", () => {
    runSearch(textSearch(search.query, { parse: search.parse, translate: false }));
  });
  return [button];
}

function removeChip(search, answer, removed) {
  // Keep the other stated filters as explicit ones, drop this one, and search the rest
  // of the words without reading filters from them again.
  const dropped = new Set(CHIP_FIELDS[removed.filter] || []);
  for (const chip of answer.filters.from_query) {
    for (const field of CHIP_FIELDS[chip.filter] || []) {
      const value = dropped.has(field) ? "" : String(answer.filters[field] ?? "");
      $(FIELD_INPUTS[field]).value = field === "after" || field === "before"
        ? value.slice(0, 16)
        : value;
    }
  }
  $("#query").value = answer.filters.searched;
  runSearch(textSearch(answer.filters.searched, { parse: false, translate: search.translate }));
}

function imageSearch(file) {
  return {
    label: `the image ${file.name}`,
    phrase: `that look like ${file.name}`,
    run(offset) {
      const params = pageParams(offset);
      const form = new FormData();
      form.append("image", file, file.name);
      return api(`/api/search/image?${params}`, { method: "POST", body: form });
    },
  };
}

function similarSearch(result) {
  return {
    label: `moments like ${baseName(result.video)} at ${formatClock(result.start)}`,
    phrase: `like ${baseName(result.video)} at ${formatClock(result.start)}`,
    run(offset) {
      const params = pageParams(offset);
      return api(`/api/search/similar/${encodeURIComponent(result.segment_id)}?${params}`);
    },
  };
}

async function runSearch(search, { append = false } = {}) {
  state.pageSize = Number($("#top-k").value) || 24;
  if (!append) {
    state.lastSearch = search;
    state.shown = 0;
    if (!search.refines) state.marks = { more: [], not: [] }; // a new query starts afresh
  }
  setBusy(true);
  clearMessage();
  try {
    const answer = await search.run(state.shown);
    if (state.lastSearch !== search) return; // a newer search has started
    search.serverQuery = answer.query; // how the server names it, e.g. "(image)"
    if (!append) renderChips(search, answer);
    showResults(search, answer, append);
  } catch (error) {
    if (state.lastSearch !== search) return;
    if (!append) clearResults();
    showMessage(error.message, error.status >= 500 || error.status === 0 ? "error" : "warn");
  } finally {
    if (state.lastSearch === search) setBusy(false);
  }
}

function setBusy(busy) {
  document.body.classList.toggle("busy", busy);
  $("#search").disabled = busy;
  $("#search").textContent = busy ? "Searching…" : "Search";
}

function clearResults() {
  $("#results").replaceChildren();
  clearWeaker();
  $("#chips").hidden = true;
  $("#summary").hidden = true;
  $("#load-more").hidden = true;
}

function showResults(search, answer, append) {
  const results = answer.results || [];
  const grid = $("#results");
  if (!append) {
    grid.replaceChildren();
    clearWeaker();
  }
  // Matches below the relevance cut-off go behind "show weaker matches", so that a query
  // with no good answer says so instead of listing unrelated moments.
  const cards = results.map((result, i) => [result, resultCard(result, state.shown + i, search)]);
  grid.append(...cards.filter(([result]) => !result.below_cutoff).map(([, card]) => card));
  const weak = cards.filter(([result]) => result.below_cutoff).map(([, card]) => card);
  $("#weak-results").append(...weak);
  state.weak += weak.length;
  state.shown += results.length;
  $("#load-more").hidden = results.length < state.pageSize;
  showWeakerToggle();
  markUpdated();
  if (state.shown === 0) {
    $("#summary").hidden = true;
    showMessage(noResultsText(search), "warn");
    return;
  }
  const took = answer.took_ms !== undefined ? ` in ${Math.round(answer.took_ms)} ms` : "";
  const strong = state.shown - state.weak;
  $("#summary").textContent = strong === 0
    ? `No good match ${search.phrase}${took}: only weaker matches, below the relevance cut-off`
    : `${strong} moment${strong === 1 ? "" : "s"} ${search.phrase}${took}` +
      (state.weak ? ` (${state.weak} weaker below the cut-off)` : "");
  $("#summary").hidden = false;
}

function clearWeaker() {
  state.weak = 0;
  $("#weak-results").replaceChildren();
  $("#weak-results").hidden = true;
  $("#show-weaker").setAttribute("aria-expanded", "false");
  $("#show-weaker").hidden = true;
}

function showWeakerToggle() {
  const open = !$("#weak-results").hidden;
  const toggle = $("#show-weaker");
  toggle.hidden = state.weak === 0;
  toggle.setAttribute("aria-expanded", String(open));
  toggle.textContent = open
    ? "Hide weaker matches"
    : `Show ${state.weak} weaker match${state.weak === 1 ? "" : "es"}`;
}

function noResultsText(search) {
  if (state.emptyIndex) return "The index is empty. Add videos on the Library tab, then search.";
  if (hasFilters()) {
    return `No moments match ${search.label} with these filters. Try clearing the camera, ` +
      "zone or time-of-day filter.";
  }
  return `No moments match ${search.label}. Try describing it differently.`;
}

// ---------- result cards ----------

function resultCard(result, rank, search) {
  const card = el("article", {
    class: "result",
    tabindex: "0",
    dataset: {
      rank: String(rank),
      video: baseName(result.video),
      videoId: String(result.video_id),
      segmentId: String(result.segment_id),
      start: String(result.start),
      end: String(result.end),
    },
  });
  card.append(
    thumbnail(result),
    el("div", { class: "card-body" },
      el("div", { class: "card-title" },
        el("span", { class: "file", title: result.video }, baseName(result.video)),
        el("span", { class: "score", title: "Fused relevance score" }, result.score.toFixed(2))),
      el("div", { class: "time" }, formatRange(result.start, result.end)),
      cardMeta(result),
      evidenceList(result.evidence || {}),
      cardActions(result, card, search)),
  );
  card.addEventListener("click", (event) => {
    if (event.target.closest("button")) return;
    playResult(result, card);
  });
  card.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && event.target === card) playResult(result, card);
  });
  return card;
}

function thumbnail(result) {
  const img = el("img", {
    class: "thumb",
    src: result.thumbnail_url ||
      `/api/segments/${encodeURIComponent(result.thumbnail_segment_id)}/thumbnail.jpg`,
    alt: `Frame from ${baseName(result.video)} at ${formatClock(result.keyframe ?? result.start)}`,
    loading: "lazy",
  });
  img.addEventListener("error", () => img.classList.add("missing"), { once: true });
  return el("div", { class: "thumb-wrap" }, img, el("span", { class: "play-badge" }, "▶"));
}

function cardMeta(result) {
  const parts = [result.camera, result.zone, wallClock(result.video_start_time, result.start)];
  const text = parts.filter(Boolean).join(" · ");
  return text ? el("div", { class: "meta" }, text) : null;
}

function cardActions(result, card, search) {
  const refinable = search.kind === "text";
  return el("div", { class: "actions" },
    el("button", {
      type: "button",
      class: "more-like-this",
      title: refinable
        ? "Relevant: search again for this query, moved toward the moments you marked"
        : "Find moments that look and sound like this one",
      onclick: () => moreLikeThis(result, search),
    }, "More like this"),
    el("button", {
      type: "button",
      class: "not-this",
      title: "Not relevant: recorded, and left out when you refine this query",
      onclick: () => notThis(result, card, search),
    }, "Not this"),
    el("button", {
      type: "button",
      class: "similar link",
      title: "Moments like this one, whatever the query",
      onclick: () => showSimilar(result),
    }, "Similar"));
}

// ---------- evidence ----------

const MODALITY_ORDER = ["speech", "visual", "ocr", "sound", "people", "attributes", "keyword"];
const MAX_EVIDENCE = 4; // the strongest few; the rest rarely explain anything

function evidenceList(evidence) {
  const modalities = Object.keys(evidence).sort(
    (a, b) => (evidence[b].contribution ?? 0) - (evidence[a].contribution ?? 0)
      || MODALITY_ORDER.indexOf(a) - MODALITY_ORDER.indexOf(b),
  );
  const items = modalities
    .map((modality) => evidenceItem(modality, evidence[modality] || {}))
    .filter(Boolean)
    .slice(0, MAX_EVIDENCE);
  return items.length ? el("ul", { class: "evidence" }, items) : null;
}

function evidenceItem(modality, entry) {
  const text = evidenceText(modality, entry);
  if (!text) return null;
  const contribution = entry.contribution;
  return el("li", {
    class: `ev ev-${modality}`,
    title: contribution !== undefined ? `${modality} contributed ${contribution}` : modality,
  }, el("span", { class: "ev-name" }, `${modality}:`), " ", text);
}

function evidenceText(modality, entry) {
  if (modality === "visual" && Array.isArray(entry.labels) && entry.labels.length) {
    return entry.labels
      .slice(0, 2)
      .map(([name, p]) => `${shortLabel(name)} ${Number(p).toFixed(2)}`)
      .join(", ");
  }
  if (modality === "keyword" && Array.isArray(entry.matched) && entry.matched.length) {
    return `matched ${entry.matched.join(", ")}`;
  }
  if (entry.text) {
    const quoted = modality === "speech" || modality === "ocr";
    const text = truncate(entry.text, 110);
    const saidIn = Array.isArray(entry.languages) ? `(${entry.languages.join(", ")}) ` : "";
    return saidIn + (quoted ? `“${text}”` : text);
  }
  if (entry.similarity !== undefined) return `similarity ${Number(entry.similarity).toFixed(2)}`;
  if (entry.contribution !== undefined) return `contribution ${Number(entry.contribution).toFixed(2)}`;
  return null;
}

function shortLabel(name) {
  // ImageNet names such as "tabby, tabby cat": the most specific synonym reads best.
  const synonyms = String(name).split(",").map((s) => s.trim()).filter(Boolean);
  return synonyms.sort((a, b) => b.split(" ").length - a.split(" ").length)[0] || name;
}

// ---------- feedback ----------

function sendFeedback(search, result, relevant) {
  const query = (search && search.serverQuery) || "(unknown query)";
  return postJson("/api/feedback", { query, segment_id: result.segment_id, relevant })
    .catch((error) => showMessage(`Feedback was not saved: ${error.message}`, "warn"));
}

function moreLikeThis(result, search) {
  sendFeedback(search, result, true);
  if (search.kind !== "text") {
    showSimilar(result); // nothing to refine: an image or a segment was the query
    return;
  }
  const id = result.segment_id;
  state.marks.not = state.marks.not.filter((x) => x !== id);
  if (!state.marks.more.includes(id)) state.marks.more.push(id);
  runSearch(textSearch(search.query, {
    parse: search.parse,
    translate: search.translate,
    more: [...state.marks.more],
    not: [...state.marks.not],
  }));
  window.scrollTo({ top: 0, behavior: "smooth" });
}

function showSimilar(result) {
  runSearch(similarSearch(result));
  window.scrollTo({ top: 0, behavior: "smooth" });
}

function notThis(result, card, search) {
  sendFeedback(search, result, false);
  if (search.kind === "text") {
    const id = result.segment_id;
    state.marks.more = state.marks.more.filter((x) => x !== id);
    if (!state.marks.not.includes(id)) state.marks.not.push(id);
  }
  card.classList.add("dismissed");
  card.querySelector(".actions").replaceChildren(
    el("span", { class: "noted" }, "Noted — not relevant"));
}

// ---------- player ----------

function playResult(result, card) {
  document.querySelectorAll(".result.selected").forEach((c) => c.classList.remove("selected"));
  if (card) card.classList.add("selected");
  $("#viewer-title").textContent = baseName(result.video);
  $("#viewer-title").title = result.video || "";
  $("#viewer-time").textContent = result.end !== undefined
    ? formatRange(result.start, result.end)
    : `from ${formatClock(result.start)}`;
  openPlayer(result.video_id, result.start);
}

function openPlayer(videoId, start) {
  const viewer = $("#viewer");
  const player = $("#player");
  viewer.hidden = false;
  document.body.classList.add("viewing");
  const src = `/api/videos/${encodeURIComponent(videoId)}/media`;
  const seek = () => {
    player.currentTime = start;
    player.play().catch(() => {}); // autoplay may be refused; the controls remain
  };
  if (player.dataset.src === src && player.readyState >= HTMLMediaElement.HAVE_METADATA) {
    seek();
  } else {
    player.dataset.src = src;
    player.addEventListener("loadedmetadata", seek, { once: true });
    player.src = src;
    player.load();
  }
  viewer.scrollIntoView({ block: "nearest", behavior: "smooth" });
}

function closePlayer() {
  const player = $("#player");
  player.pause();
  $("#viewer").hidden = true;
  document.body.classList.remove("viewing");
}

function onPlayerError() {
  const player = $("#player");
  if (!player.dataset.src) return;
  showMessage("This video could not be played in the browser (missing file or unsupported format).",
    "error");
}

// ---------- image search ----------

function searchByImage(file) {
  if (!file) return;
  if (!file.type.startsWith("image/")) {
    showMessage(`${file.name} is not an image. Choose a JPEG, PNG or WebP picture.`, "warn");
    return;
  }
  goTo("search");
  runSearch(imageSearch(file));
}

function installDropZone() {
  const overlay = $("#drop-overlay");
  let depth = 0;
  const hasFiles = (event) => [...(event.dataTransfer?.types || [])].includes("Files");
  document.addEventListener("dragenter", (event) => {
    if (!hasFiles(event)) return;
    depth += 1;
    overlay.hidden = false;
  });
  document.addEventListener("dragleave", () => {
    depth = Math.max(0, depth - 1);
    if (depth === 0) overlay.hidden = true;
  });
  document.addEventListener("dragover", (event) => {
    if (hasFiles(event)) event.preventDefault();
  });
  document.addEventListener("drop", (event) => {
    if (!hasFiles(event)) return;
    event.preventDefault();
    depth = 0;
    overlay.hidden = true;
    searchByImage(event.dataTransfer.files[0]);
  });
}

// ---------- library: videos ----------

async function loadVideos() {
  try {
    const videos = await api("/api/videos");
    renderVideos(videos || []);
    fillFilterOptions(videos || []);
  } catch (error) {
    showMessage(`Could not list videos: ${error.message}`, "error");
  }
}

function renderVideos(videos) {
  const body = $("#videos tbody");
  $("#video-count").textContent = `(${videos.length})`;
  if (!videos.length) {
    body.replaceChildren(el("tr", {}, el("td", { colspan: "8", class: "empty" },
      "No videos indexed yet. Add a file or folder above.")));
    return;
  }
  body.replaceChildren(...videos.map(videoRow));
}

function videoRow(video) {
  const recorded = video.start_time ? wallClock(video.start_time, 0) : "";
  return el("tr", { class: "video", dataset: { videoId: String(video.id) } },
    el("td", { class: "file", title: video.path }, baseName(video.path)),
    el("td", {}, formatClock(video.duration)),
    el("td", {}, video.camera || "—"),
    el("td", {}, video.zone || "—"),
    el("td", {}, recorded || "—"),
    el("td", {}, video.language || "—"),
    el("td", { class: "num" }, video.segments ?? ""),
    el("td", {}, el("button", {
      type: "button",
      class: "link",
      onclick: () => playVideo(video),
    }, "Play")));
}

function playVideo(video) {
  playResult({ video: video.path, video_id: video.id, start: 0 }, null);
}

function fillFilterOptions(videos) {
  const distinct = (key) => [...new Set(videos.map((v) => v[key]).filter(Boolean))].sort();
  $("#camera-options").replaceChildren(...distinct("camera").map((v) => el("option", { value: v })));
  $("#zone-options").replaceChildren(...distinct("zone").map((v) => el("option", { value: v })));
}

// ---------- library: ingest ----------

function localIsoWithOffset(value) {
  // <input type=datetime-local> has no zone; send the browser's offset with it.
  if (!value) return null;
  const date = new Date(value);
  const offset = -date.getTimezoneOffset();
  const sign = offset >= 0 ? "+" : "-";
  const pad = (n) => String(Math.floor(Math.abs(n))).padStart(2, "0");
  const seconds = value.length === 16 ? ":00" : "";
  return `${value}${seconds}${sign}${pad(offset / 60)}:${pad(offset % 60)}`;
}

async function submitIngest(event) {
  event.preventDefault();
  const paths = $("#ingest-paths").value.split("\n").map((p) => p.trim()).filter(Boolean);
  if (!paths.length) {
    showMessage("Enter at least one file or folder path.", "warn");
    return;
  }
  const payload = {
    paths,
    camera: $("#ingest-camera").value.trim() || null,
    zone: $("#ingest-zone").value.trim() || null,
    start: localIsoWithOffset($("#ingest-start").value),
  };
  try {
    const { job_id: jobId } = await postJson("/api/ingest", payload);
    showMessage(`Indexing started (job ${jobId}).`, "info");
    $("#ingest-paths").value = "";
    await pollJobs();
  } catch (error) {
    showMessage(`Could not start indexing: ${error.message}`, "error");
  }
}

async function pollJobs() {
  clearTimeout(state.jobsTimer);
  try {
    const jobs = await api("/api/ingest");
    renderJobs(jobs || []);
    const running = (jobs || []).filter((j) => !isFinished(j));
    const finishedNow = [...state.runningJobs].filter((id) => !running.some((j) => j.id === id));
    state.runningJobs = new Set(running.map((j) => j.id));
    if (finishedNow.length) {
      announceFinished(jobs.filter((j) => finishedNow.includes(j.id)));
      loadVideos();
      loadHealth();
    }
    renderAlertEvents(await api("/api/alerts/events"));
  } catch (error) {
    showMessage(`Could not read ingest jobs: ${error.message}`, "error");
  }
  if (currentView() === "library" || state.runningJobs.size) {
    state.jobsTimer = setTimeout(pollJobs, state.runningJobs.size ? 1000 : 4000);
  }
}

function renderAlertEvents(events) {
  const list = $("#alert-events");
  if (!events || !events.length) return; // keep the "nothing fired" hint
  list.replaceChildren(
    ...events.slice(0, 50).map((event) =>
      el("li", { class: "alert-event" },
        `“${event.query}” fired: ${baseName(event.video)} `
          + `${formatClock(event.start)}–${formatClock(event.end)} (score ${event.score.toFixed(2)})`
          + (event.wall_time ? ` at ${event.wall_time}` : ""))),
  );
}

function announceFinished(jobs) {
  const failed = jobs.filter((j) => j.status === "failed" || (j.errors || []).length);
  const text = jobs.map((j) => `Job ${j.id} ${j.status}`).join("; ");
  showMessage(failed.length ? `${text}. Some files could not be indexed; see below.` : `${text}.`,
    failed.length ? "warn" : "info");
}

function isFinished(job) {
  return ["done", "finished", "failed", "error", "completed", "cancelled"].includes(job.status);
}

function renderJobs(jobs) {
  const list = $("#jobs");
  if (!jobs.length) {
    list.replaceChildren(el("li", { class: "empty" }, "No ingest jobs yet."));
    return;
  }
  list.replaceChildren(...[...jobs].reverse().map(jobItem));
}

function jobItem(job) {
  const total = job.total || 0;
  const done = job.done || 0;
  const errors = job.errors || [];
  const progress = el("progress", { max: String(total || 1), value: String(total ? done : 0) });
  if (!total && !isFinished(job)) progress.removeAttribute("value"); // indeterminate
  return el("li", { class: `job status-${job.status}`, dataset: { jobId: String(job.id) } },
    el("div", { class: "job-head" },
      el("strong", {}, `Job ${job.id}`),
      el("span", { class: "job-status" }, job.status),
      el("span", { class: "job-count" }, total ? `${done} / ${total} files` : ""),
      isFinished(job) ? null : el("button", {
        type: "button",
        class: "job-cancel",
        title: "Stop this job after the file it is analysing",
        onclick: () => cancelJob(job.id),
      }, "Cancel")),
    progress,
    job.current && !isFinished(job) ? el("div", { class: "job-current" }, job.current) : null,
    jobOutcome(job),
    job.message ? el("div", { class: "job-errors" }, job.message) : null,
    errors.length
      ? el("ul", { class: "job-errors" }, errors.map((e) => el("li", {}, errorLine(e))))
      : null);
}

async function cancelJob(jobId) {
  try {
    await api(`/api/ingest/${jobId}/cancel`, { method: "POST" });
  } catch (error) {
    showMessage(`Could not cancel job ${jobId}: ${error.message}`, "error");
  }
  await pollJobs();
}

function jobOutcome(job) {
  if (job.status !== "done") return null;
  const parts = [
    `${(job.indexed || []).length} indexed`,
    `${(job.unchanged || []).length} unchanged`,
    `${(job.errors || []).length} failed`,
  ];
  return el("div", { class: "job-current" }, parts.join(" · "));
}

function errorLine(error) {
  if (Array.isArray(error)) return `${error[0]}: ${error[1]}`;
  if (error && typeof error === "object") return `${error.path}: ${error.cause || error.error}`;
  return String(error);
}

// ---------- zones: polygons drawn on a camera's picture ----------

const SVG = "http://www.w3.org/2000/svg";
const zoneState = { camera: null, zones: [], corners: [] }; // corners: the draft, fractions

function svg(tag, attrs = {}) {
  const node = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, value);
  return node;
}

function pointsText(points) {
  return points.map(([x, y]) => `${+x.toFixed(4)},${+y.toFixed(4)}`).join(" ");
}

function parseCorners(text) {
  // "x1,y1 x2,y2 ...": pairs that do not read as numbers are left for the server to name.
  return text.trim().split(/\s+/).filter(Boolean).map((pair) => pair.split(",").map(Number))
    .filter((pair) => pair.length === 2 && pair.every(Number.isFinite));
}

async function loadZoneCameras() {
  try {
    const [cameras, videos] = await Promise.all([api("/api/cameras"), api("/api/videos")]);
    const ids = new Set([...Object.keys(cameras || {}), ...(videos || []).map((v) => v.camera)]);
    const sorted = [...ids].filter(Boolean).sort();
    $("#zone-camera-options").replaceChildren(...sorted.map((id) => el("option", { value: id })));
    if (!$("#zone-camera").value && sorted.length) $("#zone-camera").value = sorted[0];
    if ($("#zone-camera").value.trim()) await loadZones();
  } catch (error) {
    showMessage(`Could not list the cameras: ${error.message}`, "error");
  }
}

async function loadZones() {
  const camera = $("#zone-camera").value.trim();
  if (!camera) {
    showMessage("Name the camera whose zones to draw.", "warn");
    return;
  }
  try {
    const answer = await api(`/api/cameras/${encodeURIComponent(camera)}/zones`);
    if (camera !== zoneState.camera) zoneState.corners = [];
    zoneState.camera = camera;
    zoneState.zones = answer.zones || [];
    showZoneFrame(answer.frame_url);
    $("#zone-of").textContent = camera;
    renderZoneList();
    drawZones();
    markUpdated();
  } catch (error) {
    showMessage(`Could not read the zones of ${camera}: ${error.message}`, "error");
  }
}

function showZoneFrame(url, why = "No footage of this camera yet") {
  const frame = $("#zone-frame");
  frame.hidden = !url;
  $("#zone-stage").classList.toggle("blank", !url);
  $("#zone-no-frame").hidden = Boolean(url);
  $("#zone-no-frame").textContent = `${why}: click on this area, or type the points.`;
  if (url) frame.src = url;
  else frame.removeAttribute("src");
}

function drawZones() {
  // Saved zones filled, the draft dashed with its corners; the SVG spans the frame in
  // fractions (0..1 both ways), so every shape is in the same units as the API's.
  const canvas = $("#zone-canvas");
  const shapes = zoneState.zones.map((zone) => svg("polygon", {
    class: `zone-shape zone-${zone.source}`,
    points: zone.points.map((p) => p.join(",")).join(" "),
    "vector-effect": "non-scaling-stroke",
    "data-zone": zone.name,
  }));
  const corners = zoneState.corners;
  const draft = corners.length ? [svg(corners.length < 3 ? "polyline" : "polygon", {
    class: "zone-draft",
    points: corners.map((p) => p.join(",")).join(" "),
    "vector-effect": "non-scaling-stroke",
  })] : [];
  const dots = corners.map(([x, y]) => svg("path", {
    class: "zone-corner",
    d: `M${x} ${y}h0`,
    "vector-effect": "non-scaling-stroke",
  }));
  canvas.replaceChildren(...shapes, ...draft, ...dots);
  // Names in HTML over the frame: SVG text would stretch with the picture.
  $("#zone-labels").replaceChildren(...zoneState.zones.map((zone) => {
    const label = el("span", { class: "zone-label" }, zone.name);
    const n = zone.points.length;
    label.style.left = `${(100 * zone.points.reduce((sum, p) => sum + p[0], 0)) / n}%`;
    label.style.top = `${(100 * zone.points.reduce((sum, p) => sum + p[1], 0)) / n}%`;
    return label;
  }));
}

function renderZoneList() {
  const list = $("#zone-list");
  if (!zoneState.zones.length) {
    list.replaceChildren(el("li", { class: "empty" }, "No zones drawn on this camera yet."));
    return;
  }
  list.replaceChildren(...zoneState.zones.map((zone) => {
    const from = zone.source === "config"
      ? "from the config file"
      : `drawn here${zone.overrides_config ? ", over the config's" : ""}`;
    return el("li", { class: "job zone-item", dataset: { zone: zone.name } },
      el("div", { class: "job-head" },
        el("strong", {}, zone.name),
        el("span", { class: "job-status" }, `${zone.points.length} corners · ${from}`),
        el("span", { class: "job-count" },
          el("button", {
            type: "button",
            class: "link zone-edit",
            title: "Load this zone's corners to redraw it",
            onclick: () => editZone(zone),
          }, "Edit"),
          zone.source === "index" ? el("button", {
            type: "button",
            class: "link zone-remove",
            onclick: () => removeZone(zone),
          }, "Remove") : null)));
  }));
}

function addCorner(event) {
  const box = $("#zone-canvas").getBoundingClientRect();
  const fraction = (value) => Math.min(1, Math.max(0, value));
  zoneState.corners.push([
    fraction((event.clientX - box.left) / box.width),
    fraction((event.clientY - box.top) / box.height),
  ]);
  $("#zone-points").value = pointsText(zoneState.corners);
  drawZones();
}

function setCorners(corners) {
  zoneState.corners = corners;
  $("#zone-points").value = pointsText(corners);
  drawZones();
}

function editZone(zone) {
  $("#zone-name").value = zone.name;
  setCorners(zone.points.map((p) => [...p]));
  $("#zone-name").focus();
}

async function saveZone(event) {
  event.preventDefault();
  const camera = zoneState.camera;
  const name = $("#zone-name").value.trim();
  if (!camera) {
    showMessage("Pick a camera first.", "warn");
    return;
  }
  if (!name || zoneState.corners.length < 3) {
    showMessage(name ? "A zone needs at least 3 corners: click them on the frame."
      : "Name the zone (searches say it: “a person enters the gate zone”).", "warn");
    return;
  }
  try {
    await api(`/api/cameras/${encodeURIComponent(camera)}/zones/${encodeURIComponent(name)}`, {
      method: "PUT",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ points: zoneState.corners }),
    });
  } catch (error) {
    showMessage(`The zone was not saved: ${error.message}`, "warn");
    return;
  }
  $("#zone-name").value = "";
  setCorners([]);
  await loadZones();
  showMessage(`Zone “${name}” saved for ${camera}: it applies to videos of ${camera} indexed `
    + "from now on (those indexed before keep their events until `sceneseek reindex "
    + "--even-if-current`).", "info");
}

async function removeZone(zone) {
  const path = `/api/cameras/${encodeURIComponent(zone.camera)}/zones/${encodeURIComponent(zone.name)}`;
  try {
    await api(path, { method: "DELETE" });
  } catch (error) {
    showMessage(`The zone was not removed: ${error.message}`, "warn");
    return;
  }
  await loadZones();
  showMessage(`Zone “${zone.name}” removed from ${zone.camera}.`, "info");
}

// ---------- views ----------

const VIEWS = ["search", "library", "zones"];

function currentView() {
  const view = location.hash.slice(1);
  return VIEWS.includes(view) ? view : "search";
}

function goTo(view) {
  if (currentView() !== view) location.hash = view;
  else showView();
}

function showView() {
  const view = currentView();
  for (const name of VIEWS) {
    $(`#view-${name}`).hidden = view !== name;
    $(`#tab-${name}`).classList.toggle("active", view === name);
  }
  if (view === "library") {
    loadVideos();
    pollJobs();
  }
  if (view === "zones") loadZoneCameras();
}

// ---------- wiring ----------

function onSearchSubmit(event) {
  event.preventDefault();
  const query = $("#query").value.trim();
  if (!query) {
    showMessage("Type what you are looking for, or drop an image onto the page.", "warn");
    $("#query").focus();
    return;
  }
  runSearch(textSearch(query));
}

function clearFilters() {
  const inputs = ["#camera", "#zone", "#time-of-day", "#weekdays", "#after", "#before"];
  for (const selector of [...inputs, "#event-zone", "#min-dwell", "#min-count"]) {
    $(selector).value = "";
  }
  if (state.lastSearch) runSearch(state.lastSearch);
}

function init() {
  $("#search-form").addEventListener("submit", onSearchSubmit);
  $("#clear-filters").addEventListener("click", clearFilters);
  $("#load-more").addEventListener("click", () => runSearch(state.lastSearch, { append: true }));
  $("#show-weaker").addEventListener("click", () => {
    $("#weak-results").hidden = !$("#weak-results").hidden;
    showWeakerToggle();
  });
  $("#image-input").addEventListener("change", (event) => {
    searchByImage(event.target.files[0]);
    event.target.value = ""; // choosing the same file again searches again
  });
  $("#ingest-form").addEventListener("submit", submitIngest);
  $("#viewer-close").addEventListener("click", closePlayer);
  $("#player").addEventListener("error", onPlayerError);
  $("#zone-show").addEventListener("click", loadZones);
  $("#zone-camera").addEventListener("change", loadZones);
  $("#zone-canvas").addEventListener("click", addCorner);
  $("#zone-frame").addEventListener("error", () => {
    if (!$("#zone-frame").getAttribute("src")) return;
    showZoneFrame(null, "The camera's frame could not be read (its video moved?)");
  });
  $("#zone-points").addEventListener("input", (event) => {
    zoneState.corners = parseCorners(event.target.value);
    drawZones();
  });
  $("#zone-undo").addEventListener("click", () => setCorners(zoneState.corners.slice(0, -1)));
  $("#zone-clear").addEventListener("click", () => setCorners([]));
  $("#zone-form").addEventListener("submit", saveZone);
  window.addEventListener("hashchange", showView);
  installDropZone();
  showView();
  loadHealth();
  if (currentView() === "search") loadVideos(); // fills the camera/zone suggestions
  $("#query").focus();
}

document.addEventListener("DOMContentLoaded", init);
