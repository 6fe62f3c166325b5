// The Failover Management page: reads the admin API, follows the event
// stream, and redraws without reloading. Every text from the API goes in
// with textContent, never as markup.
"use strict";

const state = {
  session: null,
  groups: [],
  selected: null,       // group ID of the open tab
  checked: { recording: new Set(), standby: new Set() },
  statuses: null,
  lastEvent: 0,
  stream: null,
  refreshTimer: null,
  drawn: "",          // what the page last drew, to skip redrawing the same
};

const $ = (id) => document.getElementById(id);

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") e.className = v;
    else if (k === "text") e.textContent = v;
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else if (k === "checked" || k === "disabled") e[k] = !!v;
    else e.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

class APIError extends Error {
  constructor(status, body) {
    super((body && body.error && body.error.message) || ("HTTP " + status));
    this.status = status;
    this.body = body;
  }
}

async function api(method, path, body, headers) {
  const init = { method, headers: Object.assign({}, headers || {}), credentials: "same-origin" };
  if (method !== "GET") {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body || {});
  }
  const res = await fetch(path, init);
  let data = null;
  const text = await res.text();
  if (text) { try { data = JSON.parse(text); } catch (e) { data = null; } }
  if (res.status === 401 && path !== "/api/v1/session") {
    showLogin();
    throw new APIError(res.status, data);
  }
  if (!res.ok) throw new APIError(res.status, data);
  return data;
}

// --- login ---

function showLogin() {
  if (state.stream) { state.stream.close(); state.stream = null; }
  state.session = null;
  $("app-view").hidden = true;
  $("login-view").hidden = false;
  $("logout").hidden = true;
  $("who").textContent = "";
  $("login-user").focus();
}

async function start() {
  try {
    state.session = await api("GET", "/api/v1/session");
  } catch (e) {
    if (e instanceof APIError) { showLogin(); return; }
    // The center is not answering (restarting?): try again.
    $("stream-state").textContent = "the center is not answering; retrying…";
    setTimeout(start, 2000);
    return;
  }
  enterApp();
}

async function enterApp() {
  $("login-view").hidden = true;
  $("app-view").hidden = false;
  $("logout").hidden = false;
  $("who").textContent = state.session.user;
  $("demo-badge").hidden = !state.session.demo;
  state.lastEvent = 0; // a restarted center numbers its events anew
  try {
    state.statuses = await api("GET", "/api/v1/statuses");
    renderLegend();
    const recent = await api("GET", "/api/v1/events/recent");
    $("timeline").replaceChildren();
    for (const e of recent.events) addEvent(e);
    // Stream from the last event shown, so that none falls between.
    if (recent.events.length) state.lastEvent = recent.events[recent.events.length - 1].id;
  } catch (e) { /* shown by the next refresh */ }
  await refresh();
  openStream();
}

$("login-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  $("login-error").textContent = "";
  try {
    state.session = await api("POST", "/api/v1/session", { user: $("login-user").value, password: $("login-password").value });
    $("login-password").value = "";
    enterApp();
  } catch (e) {
    $("login-error").textContent = e.message;
  }
});

$("logout").addEventListener("click", async () => {
  try { await api("DELETE", "/api/v1/session"); } catch (e) { /* logged out either way */ }
  showLogin();
});

// --- groups ---

// refresh reads the groups and draws them. A refresh driven by the event
// stream (changedOnly) leaves the page alone when nothing it shows has
// changed: redrawing replaces every button, and a click that lands while
// its button is replaced is lost.
async function refresh(changedOnly) {
  let data;
  try {
    data = await api("GET", "/api/v1/groups");
  } catch (e) {
    $("stream-state").textContent = "cannot read the groups: " + e.message;
    return;
  }
  state.groups = data.groups;
  if (state.lastEvent === 0) state.lastEvent = data.last_event;
  if (!state.groups.some((g) => g.id === state.selected)) {
    state.selected = state.groups.length ? state.groups[0].id : null;
    state.checked.recording.clear();
    state.checked.standby.clear();
  }
  const drawn = JSON.stringify([state.selected, state.session && state.session.demo, state.groups]);
  if (changedOnly && drawn === state.drawn) return;
  state.drawn = drawn;
  render();
}

function scheduleRefresh() {
  if (state.refreshTimer) return;
  state.refreshTimer = setTimeout(() => { state.refreshTimer = null; refresh(true); }, 100);
}

function currentGroup() {
  return state.groups.find((g) => g.id === state.selected) || null;
}

function render() {
  renderTabs();
  renderGroup();
}

function renderTabs() {
  const tabs = state.groups.map((g) => {
    const selected = g.id === state.selected;
    const tab = el("div", { class: "tab", role: "tab", "aria-selected": selected ? "true" : "false", "data-group": g.id,
      onclick: () => { if (state.selected !== g.id) { state.selected = g.id; state.checked.recording.clear(); state.checked.standby.clear(); render(); } } },
      el("span", { class: "tab-name", text: g.name }));
    if (selected) {
      tab.append(el("button", { class: "menu", title: "Edit or delete", "aria-label": "Group menu", "data-action": "group-menu",
        onclick: (ev) => { ev.stopPropagation(); groupMenu(ev.currentTarget, g); } }, "⋮"));
    }
    return tab;
  });
  tabs.push(el("button", { class: "tab", id: "add-group", title: "Add Failover Group", onclick: addGroupDialog }, "+"));
  $("tabs").replaceChildren(...tabs);
}

function groupMenu(anchor, g) {
  document.querySelectorAll(".tab-menu").forEach((m) => m.remove());
  const r = anchor.getBoundingClientRect();
  const menu = el("div", { class: "tab-menu" },
    el("button", { "data-action": "edit-group", onclick: () => { menu.remove(); renameGroupDialog(g); } }, "Edit"),
    g.default
      ? el("button", { disabled: true, title: "\u201cFailover Group 1\u201d is the default Failover Group, which cannot be deleted." }, "Delete")
      : el("button", { "data-action": "delete-group", onclick: () => { menu.remove(); deleteGroupDialog(g); } }, "Delete"));
  menu.style.left = r.left + "px";
  menu.style.top = (r.bottom + window.scrollY) + "px";
  document.body.append(menu);
  setTimeout(() => document.addEventListener("click", () => menu.remove(), { once: true }), 0);
}

function statusBadge(s) {
  return el("div", {},
    el("span", { class: "status " + s.tone, "data-code": s.code, title: s.description, text: s.label }),
    el("div", { class: "desc", text: s.description }));
}

function renderGroup() {
  const g = currentGroup();
  const box = $("group");
  if (!g) { box.replaceChildren(el("p", { class: "muted", text: "No Failover Group." })); return; }
  const prot = el("input", { type: "checkbox", id: "protection", checked: g.protection,
    onchange: async (ev) => {
      ev.target.disabled = true;
      try { await api("PUT", `/api/v1/groups/${g.id}/protection`, { on: ev.target.checked }); }
      catch (e) { alert(e.message); }
      refresh();
    } });
  box.replaceChildren(
    el("div", { class: "group-head" },
      el("h2", { id: "group-name", text: g.name }),
      el("label", { class: "switch" }, prot, "Failover Protection"),
      el("span", { class: "counts", id: "channel-counts",
        text: `${g.protected_channels} protected and ${g.unprotected_channels} unprotected channels; ${g.recording_servers.length + g.standby_servers.length} of ${g.capacity} servers` })),
    serverTable(g, "recording"),
    serverTable(g, "standby"));
}

function serverTable(g, role) {
  const rows = role === "recording" ? g.recording_servers : g.standby_servers;
  const checked = state.checked[role];
  for (const id of [...checked]) if (!rows.some((m) => m.id === id)) checked.delete(id);
  const title = role === "recording" ? "Recording Servers" : "Standby Servers";
  const removeBtn = el("button", { "data-action": `remove-${role}`, disabled: checked.size === 0,
    onclick: () => removeServers(g, role, [...checked]) }, "Remove");
  const head = el("div", { class: "table-head" },
    el("h3", { text: title }),
    el("button", { "data-action": `add-${role}`, onclick: () => addDialog(g, role) }, "Add"),
    removeBtn);
  const demo = state.session && state.session.demo;
  const cols = ["", "Server", "Failover Status", role === "recording" ? "Cameras" : "Covering", "License channels", "Action"];
  if (demo) cols.push("Demo");
  const body = rows.map((m) => {
    const box = el("input", { type: "checkbox", checked: checked.has(m.id), "aria-label": "select " + m.id,
      onchange: (ev) => { if (ev.target.checked) checked.add(m.id); else checked.delete(m.id); removeBtn.disabled = checked.size === 0; } });
    const enable = el("input", { type: "checkbox", checked: m.enabled, "data-action": "enable",
      onchange: async (ev) => {
        ev.target.disabled = true;
        try { await api("POST", `/api/v1/servers/${encodeURIComponent(m.id)}/${ev.target.checked ? "enable" : "disable"}`); }
        catch (e) { alert(e.message); }
        refresh();
      } });
    const action = el("td", {}, el("label", { class: "switch", title: m.enabled ? "Disable in the group" : "Enable in the group" }, enable));
    if (role === "recording" && m.status.code === "abnormal-protected" && m.health === "up") {
      action.append(" ", el("button", { class: "small", "data-action": "failback", title: "Give the cameras back now",
        onclick: async () => { try { await api("POST", `/api/v1/servers/${encodeURIComponent(m.id)}/failback`); } catch (e) { alert(e.message); } refresh(); } }, "Fail back"));
    }
    const extra = role === "recording" ? String(m.cameras) : (m.peer ? m.peer : "—");
    const cells = [
      el("td", {}, box),
      el("td", {}, el("div", { text: m.name }), m.peer && role === "recording" ? el("div", { class: "peer", text: "taken over by " + m.peer }) : null),
      el("td", { class: "status-cell" }, statusBadge(m.status)),
      el("td", { class: "num", text: extra }),
      el("td", { class: "num", text: String(m.license_channels) }),
      action,
    ];
    if (demo) {
      const crashed = !!m.crashed;
      cells.push(el("td", {}, el("button", { class: "small", "data-action": crashed ? "restore" : "crash",
        onclick: async () => {
          try { await api("POST", `/api/v1/demo/servers/${encodeURIComponent(m.id)}/${crashed ? "restore" : "crash"}`); } catch (e) { alert(e.message); }
          refresh();
        } }, crashed ? "Restore" : "Crash")));
    }
    return el("tr", { "data-server": m.id }, cells);
  });
  if (body.length === 0) body.push(el("tr", {}, el("td", { colspan: cols.length, class: "empty", text: `No ${role} servers in this group.` })));
  return el("section", { class: "card", id: `${role}-servers` }, head,
    el("table", {}, el("thead", {}, el("tr", {}, cols.map((c) => el("th", { text: c })))), el("tbody", {}, body)));
}

// --- dialogs ---

function addGroupDialog() {
  nameDialog("Add Failover Group", "Add", "", async (name) => {
    const g = await api("POST", "/api/v1/groups", { name });
    state.selected = g.id;
    await refresh();
  });
}

function renameGroupDialog(g) {
  nameDialog("Edit Failover Group", "Apply", g.name, async (name) => {
    await api("PATCH", `/api/v1/groups/${g.id}`, { name });
    await refresh();
  });
}

function nameDialog(title, button, value, apply) {
  const d = $("name-dialog");
  $("name-title").textContent = title;
  $("name-apply").textContent = button;
  $("name-input").value = value;
  $("name-error").textContent = "";
  $("name-form").onsubmit = async (ev) => {
    if (ev.submitter && ev.submitter.value === "cancel") return;
    ev.preventDefault();
    try { await apply($("name-input").value.trim()); d.close(); }
    catch (e) { $("name-error").textContent = e.message; }
  };
  d.showModal();
}

async function addDialog(g, role) {
  const d = $("add-dialog");
  $("add-title").textContent = role === "recording" ? "Add recording servers" : "Add standby servers";
  $("add-hint").textContent = `Select one or more servers to add to ${g.name} as ${role} servers, then click Apply.`;
  $("add-faq").hidden = role !== "standby";
  $("add-faq").open = false;
  $("add-error").textContent = "";
  $("add-list").replaceChildren(el("p", { class: "muted", text: "Reading the servers…" }));
  const picked = new Set();
  $("add-form").onsubmit = async (ev) => {
    if (ev.submitter && ev.submitter.value === "cancel") return;
    ev.preventDefault();
    $("add-error").textContent = "";
    if (picked.size === 0) { $("add-error").textContent = "Select at least one server."; return; }
    try {
      await api("POST", `/api/v1/groups/${g.id}/${role}-servers`, { servers: [...picked] });
      d.close();
      refresh();
    } catch (e) {
      if (e.body && e.body.error && e.body.error.refused) showRefused(e.body.error.refused);
      else $("add-error").textContent = e.message;
    }
  };
  d.showModal();
  let data;
  try { data = await api("GET", `/api/v1/groups/${g.id}/candidates?role=${role}`); }
  catch (e) { $("add-list").replaceChildren(el("p", { class: "error", text: e.message })); return; }
  const items = data.candidates.map((c) => {
    const box = el("input", { type: "checkbox", value: c.id, disabled: !c.eligible, "aria-label": "add " + c.id,
      onchange: (ev) => { if (ev.target.checked) picked.add(c.id); else picked.delete(c.id); } });
    const facts = c.reachable ? `${c.license_channels} license channels, ${c.cameras} cameras` : "unreachable";
    return el("div", { class: "candidate " + (c.eligible ? "eligible" : "ineligible"), "data-candidate": c.id },
      el("label", {}, box, el("b", { text: c.name }), el("span", { class: "muted", text: facts + (c.current_group ? ` — in ${c.current_group}` : "") })),
      c.reasons.length ? el("ul", { class: "reasons" }, c.reasons.map((r) => el("li", { "data-reason": r.code, text: r.message }))) : null);
  });
  if (items.length === 0) items.push(el("p", { class: "muted", text: "The center knows no other server." }));
  $("add-list").replaceChildren(...items);
}

function showRefused(refused) {
  $("add-error").replaceChildren(el("span", { text: "Nothing was added:" }),
    el("ul", {}, refused.map((r) => el("li", {}, el("b", { text: r.server + ": " }), r.reasons.map((x) => x.message).join(" ")))));
}

// verify asks for the first admin user's password, gets an approval for
// exactly this operation, and runs it with the approval.
function verify(title, text, button, approval, run) {
  const d = $("verify-dialog");
  $("verify-title").textContent = title;
  $("verify-text").textContent = text;
  $("verify-user").textContent = state.session.first_admin;
  $("verify-confirm").textContent = button;
  $("verify-password").value = "";
  $("verify-error").textContent = "";
  $("verify-form").onsubmit = async (ev) => {
    if (ev.submitter && ev.submitter.value === "cancel") return;
    ev.preventDefault();
    $("verify-error").textContent = "";
    try {
      const a = await api("POST", "/api/v1/approvals", Object.assign({ password: $("verify-password").value }, approval));
      await run({ "Nvrha-Approval": a.token });
      d.close();
      refresh();
    } catch (e) {
      $("verify-error").textContent = e.message;
    }
  };
  d.showModal();
  $("verify-password").focus();
}

function deleteGroupDialog(g) {
  verify(`Delete ${g.name}`, "Verify as the first admin user to delete this Failover Group. Any takeover process in it is interrupted immediately.",
    "Delete", { operation: "delete group", group: g.id },
    (h) => api("DELETE", `/api/v1/groups/${g.id}`, {}, h));
}

async function removeServers(g, role, ids) {
  if (ids.length === 0) return;
  if (role === "standby") {
    verify("Remove standby servers", `Verify as the first admin user to remove ${ids.join(", ")} from ${g.name}.`,
      "Remove", { operation: "remove standby servers", group: g.id, servers: ids },
      (h) => api("POST", `/api/v1/groups/${g.id}/standby-servers/remove`, { servers: ids }, h));
    return;
  }
  if (!confirm(`Remove ${ids.join(", ")} from ${g.name}?`)) return;
  try { await api("POST", `/api/v1/groups/${g.id}/recording-servers/remove`, { servers: ids }); }
  catch (e) { alert(e.message); }
  refresh();
}

// --- events ---

function openStream() {
  if (state.stream) state.stream.close();
  const es = new EventSource(`/api/v1/events?since=${state.lastEvent}`);
  state.stream = es;
  es.onopen = () => { $("stream-state").textContent = "live"; };
  es.onerror = () => {
    $("stream-state").textContent = "reconnecting…";
    // A refused stream (a session that ended, a center shutting down) is
    // not retried by the browser: check the session, then start again.
    if (es.readyState === EventSource.CLOSED) setTimeout(() => { if (state.stream === es) start(); }, 2000);
  };
  es.addEventListener("event", (m) => {
    const e = JSON.parse(m.data);
    state.lastEvent = e.id;
    addEvent(e);
    scheduleRefresh();
  });
  es.addEventListener("reset", () => scheduleRefresh());
}

function addEvent(e) {
  const list = $("timeline");
  if (list.querySelector(`[data-event="${e.id}"]`)) return;
  const t = new Date(e.at);
  list.prepend(el("li", { class: e.level, "data-event": e.id, "data-kind": e.kind },
    el("time", { datetime: e.at, text: t.toLocaleTimeString() }), e.message));
  while (list.children.length > 300) list.lastChild.remove();
}

// --- ledger ---

$("ledger-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const cam = $("ledger-camera").value.trim();
  const at = $("ledger-at").value;
  let q = `/api/v1/ledger?camera=${encodeURIComponent(cam)}`;
  if (at) q += `&at=${encodeURIComponent(new Date(at).toISOString())}`;
  const out = $("ledger-result");
  try {
    const r = await api("GET", q);
    const fmt = (s) => s ? new Date(s).toLocaleString() : "now";
    const line = (iv) => el("li", {}, `${iv.server}` + (iv.server !== iv.for ? ` (for ${iv.for})` : "") + `, epoch ${iv.epoch}: ${fmt(iv.from)} – ${fmt(iv.to)}`);
    const parts = [];
    if (r.at) {
      parts.push(el("p", { id: "ledger-holders", text: r.holders.length
        ? `At ${fmt(r.at)}: ${r.holders.map((h) => h.server).join(" and ")}`
        : `At ${fmt(r.at)}: no server recorded it (a gap).` }));
    }
    parts.push(el("ol", { class: "ledger-result" }, r.intervals.length ? r.intervals.map(line) : el("li", { class: "muted", text: "no recording known" })));
    out.replaceChildren(...parts);
  } catch (e) {
    out.replaceChildren(el("p", { class: "error", text: e.message }));
  }
});

function renderLegend() {
  const t = state.statuses;
  const table = (title, rows) => el("div", {}, el("h4", { text: title }),
    el("table", {}, el("tbody", {}, rows.map((s) => el("tr", {},
      el("td", {}, el("span", { class: "status " + s.tone, text: s.label })), el("td", { text: s.description }))))));
  $("legend").replaceChildren(
    table("Recording server", t.recording),
    table("Standby server", t.standby),
    table("Before the first probe", [t.checking]));
}

start();
