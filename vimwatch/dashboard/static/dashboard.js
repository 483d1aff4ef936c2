// The vimwatch dashboard: one page of VIMs at a time (the server pages, filters and counts,
// so 100,000 VIMs cost the browser no more than 50), kept live by the event stream.
"use strict";

const PAGE_SIZE = 50;
const REFRESH_MS = 10000; // latency and sparklines change with every probe, not every event
const TIMELINE_MAX = 200;
const FLEET_RATIO_MS = 60000; // a 30-day ratio barely moves in a minute
const SVG = "http://www.w3.org/2000/svg";

const state = { page: 1, name: "", status: "", project: "", total: 0, lastEventId: null };
const $ = (id) => document.getElementById(id);

function token() {
  return sessionStorage.getItem("vimwatch-token");
}

function headers(extra) {
  const h = { Accept: "application/json", ...extra };
  if (token()) h["X-Auth-Token"] = token();
  return h;
}

async function getJson(path) {
  const response = await fetch(path, { headers: headers() });
  if (response.status === 401) {
    $("login").hidden = false;
    throw new Error("authentication required");
  }
  if (!response.ok) throw new Error(`${path}: HTTP ${response.status}`);
  return response.json();
}

// Timestamps come as naive UTC ("2026-11-26 12:50:24.945413").
function parseUtc(text) {
  return new Date(text.replace(" ", "T") + "Z");
}

function ago(text) {
  const seconds = Math.max(0, Math.round((Date.now() - parseUtc(text)) / 1000));
  if (seconds < 60) return `${seconds}s ago`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m ago`;
  if (seconds < 86400) return `${Math.floor(seconds / 3600)}h ago`;
  return `${Math.floor(seconds / 86400)}d ago`;
}

function el(tag, props, ...children) {
  const node = document.createElement(tag);
  Object.assign(node, props || {});
  for (const child of children) node.append(child);
  return node;
}

function statusBadge(status) {
  return el("span", { className: `status status-${status}`, textContent: status });
}

// Probe results: one bar per probe, taller for a slower answer, red for a lost probe.
// Status history (when no engine runs in this api process): one block per change.
function sparkline(recent) {
  const width = 120, height = 22, svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("class", "spark");
  svg.setAttribute("width", width);
  svg.setAttribute("height", height);
  svg.dataset.kind = recent.kind;
  const points = recent.points;
  if (!points.length) return svg;
  const step = width / Math.max(points.length, 20);
  const slowest = Math.max(...points.map((p) => (p.ok ? p.rtt_ms || 0 : 0)), 0.001);
  points.forEach((point, i) => {
    const bar = document.createElementNS(SVG, "rect");
    let h = height, cls, title;
    if (recent.kind === "probes") {
      cls = point.ok ? "ok" : "lost";
      if (point.ok) h = 4 + (height - 4) * Math.sqrt(point.rtt_ms / slowest);
      title = point.ok ? `${point.rtt_ms} ms` : "lost";
    } else {
      cls = point.status;
      title = `${point.status} at ${point.at} UTC`;
    }
    bar.setAttribute("class", cls);
    bar.setAttribute("x", (i * step).toFixed(1));
    bar.setAttribute("y", (height - h).toFixed(1));
    bar.setAttribute("width", Math.max(1, step - 1).toFixed(1));
    bar.setAttribute("height", h.toFixed(1));
    const tip = document.createElementNS(SVG, "title");
    tip.textContent = title;
    bar.append(tip);
    svg.append(bar);
  });
  return svg;
}

// One badge per check of a VIM with several (icmp and api): green passing, red failing
// with its reason beside it, grey before its first result.
function checkBadges(checks) {
  return Object.entries(checks).map(([name, check]) => {
    const badge = el("span", { className: `check check-${check.state}`, textContent: name });
    if (check.state !== "failing" || !check.reason) return badge;
    badge.title = check.reason;
    return el("span", {}, badge, el("span", { className: "reason", textContent: check.reason }));
  });
}

function vimRow(vim) {
  const row = el("tr");
  row.dataset.vimId = vim.id;
  row.dataset.status = vim.status;
  const latency = vim.latency_ms === null ? "—" : `${vim.latency_ms.toFixed(2)} ms`;
  row.append(
    el("td", { className: "state" }, statusBadge(vim.status)),
    el("td", { className: "name", textContent: vim.name, title: vim.id }),
    el("td", { className: "type", textContent: vim.type }),
    el("td", { className: "project", textContent: vim.project_id }),
    el("td", { className: "num latency", textContent: latency }),
    el("td", { className: "changed", textContent: ago(vim.last_change), title: `${vim.last_change} UTC` }),
    el("td", { className: "recent" }, sparkline(vim.recent)),
    el("td", { className: "checks" }, ...checkBadges(vim.checks || {})),
    el("td", { className: "days" }),
  );
  if (barsSeen.has(vim.id)) showBars(row, barsSeen.get(vim.id));
  row._recent = vim.recent;
  return row;
}

function showCounts(counts) {
  const all = Object.values(counts).reduce((a, b) => a + b, 0);
  for (const b of document.querySelectorAll("[data-count]")) {
    const key = b.dataset.count;
    b.textContent = (key ? counts[key] || 0 : all).toLocaleString();
  }
  for (const button of document.querySelectorAll(".count")) {
    button.classList.toggle("selected", button.dataset.status === state.status);
  }
}

async function loadVims() {
  const query = new URLSearchParams({ page: state.page, page_size: PAGE_SIZE });
  for (const key of ["name", "status", "project"]) if (state[key]) query.set(key, state[key]);
  const data = await getJson(`/dashboard/api/vims?${query}`);
  state.total = data.total;
  showCounts(data.counts);
  $("vims").tBodies[0].replaceChildren(...data.vims.map(vimRow));
  $("empty").hidden = data.vims.length > 0;
  const first = data.total ? (state.page - 1) * PAGE_SIZE + 1 : 0;
  const last = Math.min(state.page * PAGE_SIZE, data.total);
  $("range").textContent = `${first.toLocaleString()}–${last.toLocaleString()} of ${data.total.toLocaleString()}`;
  $("prev").disabled = state.page <= 1;
  $("next").disabled = last >= data.total;
  loadBars(data.vims.map((vim) => vim.id)).catch(showError);
}

// A day's cell by its uptime ratio, as status pages colour them; grey when nothing was
// counted that day, blue when a maintenance window took the whole of it.
function dayClass(day) {
  if (day.ratio === null) return day.maintenance ? "day-maintenance" : "day-none";
  if (day.ratio >= 0.999) return "day-up";
  if (day.ratio >= 0.99) return "day-minor";
  if (day.ratio >= 0.95) return "day-major";
  return "day-down";
}

function dayBars(days) {
  const width = 120, height = 18, svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("class", "days");
  svg.setAttribute("width", width);
  svg.setAttribute("height", height);
  const step = width / days.length;
  const today = new Date();
  days.forEach((day, i) => {
    const cell = document.createElementNS(SVG, "rect");
    cell.setAttribute("class", dayClass(day));
    cell.setAttribute("x", (i * step).toFixed(1));
    cell.setAttribute("width", Math.max(1, step - 1).toFixed(1));
    cell.setAttribute("height", height);
    const date = new Date(today.getTime() - (days.length - 1 - i) * 86400000);
    const ratio = day.ratio === null ? "nothing counted" : `${(day.ratio * 100).toFixed(2)} %`;
    const tip = document.createElementNS(SVG, "title");
    tip.textContent = `${date.toISOString().slice(0, 10)}: ${ratio}${day.maintenance ? " (maintenance)" : ""}`;
    cell.append(tip);
    svg.append(cell);
  });
  return svg;
}

function showBars(row, bars) {
  row.querySelector("td.days").replaceChildren(dayBars(bars.days));
  row.classList.toggle("maintenance", bars.in_maintenance);
  const badge = row.querySelector("td.state");
  badge.querySelector(".in-maintenance")?.remove();
  if (bars.in_maintenance) {
    badge.append(el("span", { className: "in-maintenance", textContent: "maintenance" }));
  }
}

// The last bars of each VIM on screen, so that a reload of the page's rows shows them at
// once rather than blank until their own request answers.
const barsSeen = new Map();

async function loadBars(ids) {
  if (!ids.length) return;
  const query = new URLSearchParams(ids.map((id) => ["id", id]));
  const data = await getJson(`/dashboard/api/availability?${query}`);
  barsSeen.clear();
  for (const row of $("vims").tBodies[0].rows) {
    const bars = data.vims[row.dataset.vimId];
    if (!bars) continue;
    barsSeen.set(row.dataset.vimId, bars);
    showBars(row, bars);
  }
}

async function loadFleetRatio() {
  const data = await getJson("/v1.0/availability?window=30d&limit=1");
  const ratio = data.availability.ratio;
  $("fleet-ratio").textContent = `30 days: ${ratio === null ? "—" : `${(ratio * 100).toFixed(3)} %`}`;
}

function timelineItem(event) {
  const item = el("li", { className: `${event.event_type} ${event.status}` });
  item.dataset.eventId = event.id;
  item.append(
    el("span", { className: "when", textContent: `${event.timestamp} UTC` }),
    el("strong", { textContent: event.vim_name || event.vim_id }),
    " ",
    statusBadge(event.status),
    " ",
    el("span", { className: "what", textContent: event.event_type }),
  );
  return item;
}

async function loadEvents() {
  const data = await getJson("/dashboard/api/events?limit=50");
  $("events").replaceChildren(...data.events.map(timelineItem));
}

// Applies one live event: the row changes colour at once; counts and paging follow in
// a debounced reload, so a burst of changes costs one request.
function applyEvent(event) {
  const list = $("events");
  if (!list.querySelector(`[data-event-id="${event.id}"]`)) {
    list.prepend(timelineItem(event));
    while (list.children.length > TIMELINE_MAX) list.lastChild.remove();
  }
  const row = document.querySelector(`tr[data-vim-id="${event.vim_id}"]`);
  if (row && event.event_type === "MONITOR") {
    row.dataset.status = event.status;
    row.querySelector(".state").replaceChildren(statusBadge(event.status));
    const changed = row.querySelector(".changed");
    changed.textContent = ago(event.timestamp);
    changed.title = `${event.timestamp} UTC`;
    if (row._recent && row._recent.kind === "status") {
      row._recent.points.push({ status: event.status, at: event.timestamp });
      row.querySelector(".recent").replaceChildren(sparkline(row._recent));
    }
    row.classList.remove("flash");
    void row.offsetWidth; // restart the animation
    row.classList.add("flash");
  }
  scheduleReload(1000);
}

let reloadTimer = null;
function scheduleReload(ms) {
  clearTimeout(reloadTimer);
  reloadTimer = setTimeout(() => loadVims().catch(showError), ms);
}

function showError(error) {
  console.warn(error);
}

function setLive(mode, text) {
  const badge = $("live");
  badge.className = `live ${mode}`;
  badge.textContent = text;
}

// Server-sent events read with fetch rather than EventSource, so that the token can go in
// a header; Last-Event-ID is sent on reconnect, so nothing is missed in between.
async function follow() {
  let wait = 1000;
  for (;;) {
    try {
      const extra = { Accept: "text/event-stream" };
      if (state.lastEventId) extra["Last-Event-ID"] = state.lastEventId;
      const response = await fetch("/v1.0/events/stream", { headers: headers(extra) });
      if (response.status === 401) $("login").hidden = false;
      if (!response.ok) throw new Error(`stream: HTTP ${response.status}`);
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value;
        let end;
        while ((end = buffer.indexOf("\n\n")) >= 0) {
          handleMessage(buffer.slice(0, end));
          buffer = buffer.slice(end + 2);
        }
        wait = 1000;
      }
    } catch (error) {
      showError(error);
    }
    setLive("off", "reconnecting…");
    await new Promise((resolve) => setTimeout(resolve, wait));
    wait = Math.min(wait * 2, 10000);
  }
}

function handleMessage(block) {
  let kind = "message", id = null;
  const data = [];
  for (const line of block.split("\n")) {
    if (line.startsWith(":")) continue;
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
    if (field === "event") kind = value;
    else if (field === "data") data.push(value);
    else if (field === "id") id = value;
  }
  if (id) state.lastEventId = id;
  if (kind === "ready") {
    setLive("on", "live");
  } else if (kind === "resync") {
    state.lastEventId = null;
    loadVims().catch(showError);
    loadEvents().catch(showError);
  } else if (data.length) {
    applyEvent(JSON.parse(data.join("\n")));
  }
}

function readFilters() {
  state.name = $("filter-name").value.trim();
  state.status = $("filter-status").value;
  state.project = $("filter-project").value.trim();
  state.page = 1;
  const query = new URLSearchParams();
  for (const key of ["name", "status", "project"]) if (state[key]) query.set(key, state[key]);
  history.replaceState(null, "", query.toString() ? `?${query}` : location.pathname);
  loadVims().catch(showError);
}

function wire() {
  const params = new URLSearchParams(location.search);
  $("filter-name").value = params.get("name") || "";
  $("filter-status").value = params.get("status") || "";
  $("filter-project").value = params.get("project") || "";
  let typing = null;
  for (const id of ["filter-name", "filter-project"]) {
    $(id).addEventListener("input", () => {
      clearTimeout(typing);
      typing = setTimeout(readFilters, 300);
    });
  }
  $("filter-status").addEventListener("change", readFilters);
  $("filters").addEventListener("submit", (e) => { e.preventDefault(); readFilters(); });
  for (const button of document.querySelectorAll(".count")) {
    button.addEventListener("click", () => {
      $("filter-status").value = button.dataset.status;
      readFilters();
    });
  }
  $("prev").addEventListener("click", () => { state.page -= 1; loadVims().catch(showError); });
  $("next").addEventListener("click", () => { state.page += 1; loadVims().catch(showError); });
  $("login").addEventListener("submit", (e) => {
    e.preventDefault();
    sessionStorage.setItem("vimwatch-token", $("token").value);
    $("login").hidden = true;
    loadVims().catch(showError);
    loadEvents().catch(showError);
  });
}

wire();
state.name = $("filter-name").value.trim();
state.status = $("filter-status").value;
state.project = $("filter-project").value.trim();
loadVims().catch(showError);
loadEvents().catch(showError);
setInterval(() => loadVims().catch(showError), REFRESH_MS);
loadFleetRatio().catch(showError);
setInterval(() => loadFleetRatio().catch(showError), FLEET_RATIO_MS);
follow();
