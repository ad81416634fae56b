// The operator console: the approval queue (approve/reject with a comment), transcripts on demand,
// analytics, escalation tickets and the audit log. Refreshes itself every few seconds.

import {
  STORAGE, actionLabel, adoptTokenFromUrl, apiFetch, argsInWords, describeAction, formatCountdown,
  formatDateTime, formatRelative, h, icon, parseTime, readClaims, readConfig, titleCase,
} from "./shared.js";
import { TranscriptView } from "./transcript.js";

const config = readConfig();
adoptTokenFromUrl(STORAGE.operatorToken);

const REFRESH_MS = 3000;
const DECIDED_ROW_LINGER_MS = 4000;

const $ = (id) => document.getElementById(id);
const ui = {
  error: $("console-error"),
  gate: $("token-gate"),
  tokenForm: $("token-form"),
  tokenInput: $("operator-token-input"),
  gateError: $("gate-error"),
  main: $("console-main"),
  topActions: $("top-actions"),
  who: $("who"),
  refreshState: $("refresh-state"),
  pause: $("pause-button"),
  signout: $("signout-button"),
  analytics: $("analytics"),
  approvalsBody: $("approvals-body"),
  approvalsEmpty: $("approvals-empty"),
  ticketsBody: $("tickets-body"),
  ticketsEmpty: $("tickets-empty"),
  auditBody: $("audit-body"),
  auditEmpty: $("audit-empty"),
  countApprovals: $("count-approvals"),
  countTickets: $("count-tickets"),
  drawer: $("transcript-panel"),
  drawerScrim: $("drawer-scrim"),
  drawerTitle: $("drawer-title"),
  drawerSub: $("drawer-sub"),
  drawerBody: $("drawer-body"),
  drawerClose: $("drawer-close"),
  drawerRefresh: $("drawer-refresh"),
  toast: $("toast"),
};

const state = {
  token: "",
  claims: null,
  timer: null,
  paused: false,
  lastOk: 0,
  refreshing: false,
  tab: "approvals",
  rows: new Map(), // interrupt_id -> <tr>
  pending: new Map(), // interrupt_id -> approval
  drawerThread: null,
  drawerOpener: null,
  drawerSignature: null,
  toastTimer: null,
};

// ------------------------------------------------------------------ API

function api(path, options = {}) {
  return apiFetch(config.apiBase, path, { ...options, token: state.token });
}

/** A refused token or a customer's token stops the console and asks for an operator token. */
function isAuthProblem(err) {
  return err && (err.code === "token_rejected" || err.code === "forbidden" || err.code === "unauthorized");
}

function authProblemText(err) {
  if (err.code === "forbidden") {
    const who = state.claims && state.claims.sub ? `${state.claims.sub} (${state.claims.role || "customer"})` : "a customer";
    return `This token belongs to ${who}: the console needs an operator token (HTTP 403).`;
  }
  if (err.code === "unauthorized") return "A token is required (HTTP 401).";
  return `The token was rejected: it is invalid or has expired (HTTP ${err.status}).`;
}

// ------------------------------------------------------------------ refresh loop

async function refresh() {
  if (state.refreshing || !state.token) return;
  state.refreshing = true;
  const jobs = [loadApprovals(), loadAnalytics(), loadTickets()];
  if (state.tab === "audit") jobs.push(loadAudit());
  if (state.drawerThread) jobs.push(loadTranscript(state.drawerThread, { quiet: true }));
  const results = await Promise.allSettled(jobs);
  state.refreshing = false;
  const failure = results.find((r) => r.status === "rejected");
  if (!failure) {
    state.lastOk = Date.now();
    hideError();
  } else if (isAuthProblem(failure.reason)) {
    signOut(authProblemText(failure.reason));
    return;
  } else {
    showError(`${failure.reason.message} Retrying every ${REFRESH_MS / 1000} s.`);
  }
  renderRefreshState();
}

function startRefreshing() {
  stopRefreshing();
  refresh();
  state.timer = setInterval(() => {
    if (!state.paused) refresh();
    renderRefreshState();
  }, REFRESH_MS);
}

function stopRefreshing() {
  clearInterval(state.timer);
  state.timer = null;
}

function renderRefreshState() {
  const ago = state.lastOk ? Math.round((Date.now() - state.lastOk) / 1000) : null;
  const updated = ago === null ? "not loaded yet" : ago < 2 ? "updated just now" : `updated ${ago} s ago`;
  ui.refreshState.textContent = state.paused ? `Paused · ${updated}` : `Live · ${updated}`;
  ui.refreshState.dataset.state = state.paused ? "paused" : "live";
}

// ------------------------------------------------------------------ approvals

async function loadApprovals() {
  const data = await api("/approvals?status=pending");
  const approvals = data.approvals || [];
  const seen = new Set();
  for (const approval of approvals) {
    seen.add(approval.interrupt_id);
    state.pending.set(approval.interrupt_id, approval);
    const row = state.rows.get(approval.interrupt_id);
    if (row) updateApprovalRow(row, approval);
    else addApprovalRow(approval);
  }
  for (const [id, row] of state.rows) {
    if (!seen.has(id) && !row.dataset.outcome) { // decided elsewhere (the customer, another operator, timeout)
      row.dataset.outcome = "gone";
      row.classList.add("leaving");
      setTimeout(() => removeRow(id), 400);
    }
  }
  renderApprovalsCount();
}

function renderApprovalsCount() {
  const live = [...state.rows.values()].filter((r) => !r.dataset.outcome).length;
  ui.countApprovals.textContent = String(live);
  ui.countApprovals.classList.toggle("hot", live > 0);
  ui.approvalsEmpty.hidden = state.rows.size > 0;
  document.title = live ? `(${live}) Operator console · Smart Support` : "Operator console · Smart Support";
}

function removeRow(id) {
  state.rows.get(id)?.remove();
  state.rows.delete(id);
  state.pending.delete(id);
  renderApprovalsCount();
}

function addApprovalRow(approval) {
  const comment = h("input", {
    class: "field comment", type: "text", maxlength: "1000", placeholder: "Comment (optional)",
    "aria-label": `Comment on: ${approval.description}`, "data-testid": "approval-comment",
  });
  const approve = h("button", { class: "btn btn-small btn-ok", type: "button", "data-testid": "approval-approve" },
    icon("check"), "Approve");
  const reject = h("button", { class: "btn btn-small btn-danger", type: "button", "data-testid": "approval-reject" },
    icon("x"), "Reject");
  const status = h("div", { class: "row-status", role: "status", "data-testid": "approval-row-status" });
  const row = h("tr", {
    class: "approval-row entering", "data-testid": "approval-row", "data-interrupt-id": approval.interrupt_id,
    "data-thread-id": approval.thread_id,
  },
  h("td", { "data-label": "Customer" }, h("span", { class: "customer", text: approval.customer_id })),
  h("td", { "data-label": "Conversation" }, threadButton(approval.thread_id)),
  h("td", { "data-label": "Request" },
    h("div", { class: "strong", "data-testid": "approval-description", text: approval.description || describeAction(approval.action, approval.args) }),
    h("div", { class: "sub" }, h("span", { text: actionLabel(approval.action) }),
      approval.approver === "operator"
        ? h("span", { class: "badge warn", text: "Operator only" })
        : h("span", { class: "badge muted", text: "Customer may decide too" }))),
  h("td", { "data-label": "Details" }, h("dl", { class: "kv" },
    argsInWords(approval.args).map(([k, v]) => h("div", {}, h("dt", { text: k }), h("dd", { text: v }))))),
  h("td", { "data-label": "Requested" }, h("time", { class: "requested", datetime: approval.requested_at,
    title: formatDateTime(approval.requested_at), text: formatRelative(approval.requested_at) })),
  h("td", { "data-label": "Expires" }, h("span", { class: "countdown", "data-expires-at": approval.expires_at,
    title: formatDateTime(approval.expires_at) })),
  h("td", { class: "decision-cell", "data-label": "Decision" },
    h("div", { class: "decision" }, comment, h("div", { class: "decision-buttons" }, approve, reject), status)));
  approve.addEventListener("click", () => decide(approval.interrupt_id, true));
  reject.addEventListener("click", () => decide(approval.interrupt_id, false));
  comment.addEventListener("keydown", (event) => {
    if (event.key === "Enter") {
      event.preventDefault();
      approve.focus();
    }
  });
  state.rows.set(approval.interrupt_id, row);
  // oldest first, as the API returns them
  ui.approvalsBody.append(row);
  requestAnimationFrame(() => row.classList.remove("entering"));
  tickCountdowns();
}

function updateApprovalRow(row, approval) {
  const requested = row.querySelector("time.requested");
  requested.textContent = formatRelative(approval.requested_at);
  row.querySelector("[data-expires-at]").dataset.expiresAt = approval.expires_at;
}

function threadButton(threadId) {
  return h("button", {
    class: "link mono", type: "button", "data-testid": "view-thread", "data-thread-id": threadId,
    title: `Open conversation ${threadId}`, onclick: (event) => openDrawer(threadId, event.currentTarget),
  }, threadId.length > 22 ? `${threadId.slice(0, 20)}…` : threadId);
}

async function decide(interruptId, approved) {
  const row = state.rows.get(interruptId);
  if (!row || row.dataset.outcome) return;
  const comment = row.querySelector("input.comment").value.trim();
  const status = row.querySelector(".row-status");
  for (const control of row.querySelectorAll("button:not(.link), input")) control.disabled = true;
  row.dataset.outcome = "deciding";
  status.className = "row-status";
  status.textContent = approved ? "Approving…" : "Rejecting…";
  try {
    await api(`/approvals/${encodeURIComponent(interruptId)}`, {
      method: "POST", body: comment ? { approved, comment } : { approved },
    });
    row.dataset.outcome = approved ? "approved" : "rejected";
    status.className = `row-status ${approved ? "ok" : "rejected"}`;
    status.replaceChildren(icon(approved ? "check" : "x"), approved ? "Approved" : "Rejected");
    toast(`${approved ? "Approved" : "Rejected"}: ${state.pending.get(interruptId)?.description || interruptId}`);
    if (state.tab === "audit") loadAudit().catch(() => {});
    if (state.drawerThread === row.dataset.threadId) loadTranscript(state.drawerThread, { quiet: true }).catch(() => {});
  } catch (err) {
    if (isAuthProblem(err)) {
      signOut(authProblemText(err));
      return;
    }
    const known = {
      404: "This approval no longer exists.",
      409: "Someone already decided this request.",
      410: "This approval expired before the decision; nothing was changed.",
    }[err.status];
    row.dataset.outcome = `error-${err.status || "network"}`;
    status.className = "row-status error";
    status.textContent = known || `Could not save the decision: ${err.message}`;
    if (!known) { // a transient failure: let the operator try again
      delete row.dataset.outcome;
      for (const control of row.querySelectorAll("button, input")) control.disabled = false;
      return;
    }
  }
  row.classList.add("decided");
  renderApprovalsCount();
  setTimeout(() => {
    row.classList.add("leaving");
    setTimeout(() => removeRow(interruptId), 400);
  }, DECIDED_ROW_LINGER_MS);
}

function tickCountdowns() {
  const now = Date.now();
  for (const el of document.querySelectorAll("[data-expires-at]")) {
    const left = (parseTime(el.dataset.expiresAt) ?? now) - now;
    el.textContent = left > 0 ? formatCountdown(left) : "Expired";
    el.classList.toggle("urgent", left < 60_000);
  }
}

// ------------------------------------------------------------------ analytics

async function loadAnalytics() {
  const a = await api("/analytics");
  const interrupts = a.interrupts || {};
  const latency = a.turn_latency_ms || {};
  // The percentiles are histogram bucket bounds: "at most".
  const ms = (v) => (v === null || v === undefined ? "—"
    : `≤ ${v >= 1000 ? `${(v / 1000).toFixed(v % 1000 ? 1 : 0)} s` : `${v} ms`}`);
  const tools = Object.entries(a.tool_usage || {}).sort((x, y) => y[1] - x[1]);
  const maxTool = Math.max(1, ...tools.map(([, n]) => n));
  ui.analytics.replaceChildren(
    stat("sessions", "Conversations", a.sessions ?? 0),
    stat("turns", "Turns", a.turns ?? 0, a.failed_turns ? `${a.failed_turns} failed` : "none failed"),
    h("div", { class: "stat wide", "data-testid": "stat-approvals" },
      h("div", { class: "stat-label", text: "Approvals" }),
      h("div", { class: "stat-split" },
        split("approved", "Approved", interrupts.approved ?? 0, "ok"),
        split("rejected", "Rejected", interrupts.rejected ?? 0, "danger"),
        split("expired", "Expired", interrupts.expired ?? 0, "muted")),
      h("div", { class: "stat-foot", text: `${interrupts.requested ?? 0} requested` })),
    stat("latency", "Turn latency", `${ms(latency.p50)}`, `p50 · p95 ${ms(latency.p95)}`),
    h("div", { class: "stat tools", "data-testid": "tool-usage" },
      h("div", { class: "stat-label", text: "Tool usage" }),
      tools.length
        ? h("ul", { class: "bars" }, tools.slice(0, 6).map(([tool, n]) => h("li", {},
          h("span", { class: "bar-label mono", text: tool }),
          h("span", { class: "bar" }, h("span", { class: "bar-fill", style: `width:${Math.round((n / maxTool) * 100)}%` })),
          h("span", { class: "bar-value", text: n }))))
        : h("div", { class: "muted small", text: "No tool calls yet." })),
  );
}

function stat(key, label, value, foot) {
  return h("div", { class: "stat", "data-testid": `stat-${key}` },
    h("div", { class: "stat-label", text: label }),
    h("div", { class: "stat-value", "data-testid": `stat-${key}-value`, text: value }),
    foot ? h("div", { class: "stat-foot", text: foot }) : null);
}

function split(key, label, value, tone) {
  return h("div", { class: `split ${tone}`, "data-testid": `stat-${key}` },
    h("span", { class: "split-value", text: value }), h("span", { class: "split-label", text: label }));
}

// ------------------------------------------------------------------ tickets and audit

async function loadTickets() {
  const { tickets = [] } = await api("/tickets");
  ui.countTickets.textContent = String(tickets.length);
  ui.ticketsEmpty.hidden = tickets.length > 0;
  ui.ticketsBody.replaceChildren(...tickets.map((t) => h("tr", { "data-testid": "ticket-row", "data-ticket-id": t.ticket_id },
    h("td", { "data-label": "Ticket" }, h("span", { class: "mono strong", text: t.ticket_id })),
    h("td", { "data-label": "Customer", text: t.customer_id }),
    h("td", { "data-label": "Summary", class: "summary", text: t.summary }),
    h("td", { "data-label": "Opened" }, h("time", { datetime: t.created_at, title: formatDateTime(t.created_at), text: formatRelative(t.created_at) })),
    h("td", { "data-label": "Conversation" }, threadButton(t.thread_id)))));
}

async function loadAudit() {
  const { decisions = [] } = await api("/audit");
  ui.auditEmpty.hidden = decisions.length > 0;
  ui.auditBody.replaceChildren(...decisions.map((d) => {
    const outcome = d.outcome || (d.decided_by === "timeout" ? "expired" : d.approved ? "approved" : "rejected");
    const tone = { approved: "ok", rejected: "danger", expired: "muted", timeout: "muted" }[outcome] || "muted";
    const by = d.decided_by === "timeout" ? "Timeout" : `${titleCase(d.decided_by || d.role || "?")}${d.decided_by_id ? ` · ${d.decided_by_id}` : ""}`;
    return h("tr", { "data-testid": "audit-row", "data-interrupt-id": d.interrupt_id, "data-outcome": outcome },
      h("td", { "data-label": "When" }, h("time", { datetime: d.decided_at, text: formatDateTime(d.decided_at) })),
      h("td", { "data-label": "Request" }, h("div", { class: "strong", text: d.description || describeAction(d.action, d.args) }),
        d.thread_id ? threadButton(d.thread_id) : null),
      h("td", { "data-label": "Customer", text: d.customer_id || "—" }),
      h("td", { "data-label": "Outcome" }, h("span", { class: `badge ${tone}`, text: titleCase(outcome) })),
      h("td", { "data-label": "Decided by", text: by }),
      h("td", { "data-label": "Comment", class: "summary", text: d.comment || "—" }));
  }));
}

// ------------------------------------------------------------------ transcript drawer

async function openDrawer(threadId, opener) {
  state.drawerThread = threadId;
  state.drawerSignature = null;
  state.drawerOpener = opener || null;
  ui.drawerTitle.textContent = "Conversation";
  ui.drawerSub.replaceChildren(h("span", { class: "mono", text: threadId }));
  ui.drawerBody.replaceChildren(h("div", { class: "loading" }, h("span", { class: "spinner" }), "Loading conversation…"));
  ui.drawer.hidden = false;
  ui.drawerScrim.hidden = false;
  ui.drawer.dataset.threadId = threadId;
  ui.drawerClose.focus();
  try {
    await loadTranscript(threadId);
  } catch (err) {
    if (isAuthProblem(err)) signOut(authProblemText(err));
  }
}

function closeDrawer() {
  if (ui.drawer.hidden) return;
  ui.drawer.hidden = true;
  ui.drawerScrim.hidden = true;
  state.drawerThread = null;
  if (state.drawerOpener && state.drawerOpener.isConnected) state.drawerOpener.focus();
}

async function loadTranscript(threadId, { quiet = false } = {}) {
  let session;
  let messages;
  try {
    [session, { messages }] = await Promise.all([
      api(`/sessions/${encodeURIComponent(threadId)}`),
      api(`/sessions/${encodeURIComponent(threadId)}/messages`),
    ]);
  } catch (err) {
    if (state.drawerThread !== threadId) return;
    if (isAuthProblem(err)) throw err;
    if (!quiet || err.code === "not_found") {
      const view = new TranscriptView({ threadId, perspective: "operator" });
      view.error(err.code, err.code === "not_found"
        ? "This conversation is no longer available (it expired or never existed)."
        : `Could not load the conversation: ${err.message}`);
      ui.drawerBody.replaceChildren(view.root);
    }
    return;
  }
  if (state.drawerThread !== threadId) return;
  const signature = JSON.stringify([session, messages]);
  if (quiet && signature === state.drawerSignature) return; // nothing new: keep the reader's scroll and selection
  state.drawerSignature = signature;
  const scroller = ui.drawerBody;
  const atBottom = scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 40;
  const statusTone = { idle: "muted", running: "info", awaiting_approval: "warn" }[session.status] || "muted";
  ui.drawerSub.replaceChildren(
    h("span", { class: "mono", text: threadId }),
    h("span", { class: `badge ${statusTone}`, "data-testid": "transcript-status", text: titleCase(session.status || "idle") }),
    h("span", { class: "muted", text: `${session.turns ?? 0} turn${session.turns === 1 ? "" : "s"} · updated ${formatRelative(session.updated_at)}` }));
  const view = new TranscriptView({ threadId, perspective: "operator", label: `Conversation ${threadId}` });
  view.replay(messages || []);
  if (session.pending_interrupt) view.append(pendingCard(session.pending_interrupt));
  if (view.isEmpty) view.append(h("p", { class: "muted", text: "No messages yet." }));
  ui.drawerBody.replaceChildren(view.root);
  tickCountdowns();
  if (!quiet || atBottom) scroller.scrollTop = scroller.scrollHeight;
}

function pendingCard(p) {
  return h("article", { class: "approval state-waiting", "data-testid": "transcript-pending", "data-interrupt-id": p.interrupt_id },
    h("div", { class: "approval-head" }, icon("clock", "icon badge-icon"),
      h("div", { class: "approval-heading" },
        h("div", { class: "approval-kicker", text: p.approver === "operator" ? "Waiting for an operator" : "Waiting for a decision" }),
        h("h3", { class: "approval-title", text: p.description || describeAction(p.action, p.args) })),
      h("span", { class: "countdown", "data-expires-at": p.expires_at })),
    h("p", { class: "approval-note", text: "Decide it in the approval queue." }));
}

// ------------------------------------------------------------------ sign-in

function readToken() {
  state.token = localStorage.getItem(STORAGE.operatorToken) || "";
  state.claims = readClaims(state.token);
}

function showGate(message) {
  stopRefreshing();
  closeDrawer();
  ui.main.hidden = true;
  ui.topActions.hidden = true;
  ui.gate.hidden = false;
  ui.gateError.hidden = !message;
  ui.gateError.textContent = message || "";
  ui.tokenInput.value = "";
  ui.tokenInput.focus();
}

function signOut(message) {
  localStorage.removeItem(STORAGE.operatorToken);
  state.token = "";
  state.claims = null;
  for (const id of [...state.rows.keys()]) removeRow(id);
  hideError();
  showGate(message);
}

function signIn(token) {
  localStorage.setItem(STORAGE.operatorToken, token);
  readToken();
  ui.gate.hidden = true;
  ui.main.hidden = false;
  ui.topActions.hidden = false;
  const role = state.claims && state.claims.role;
  ui.who.textContent = state.claims ? `${state.claims.sub || "?"} · ${role || "no role"}` : "token";
  ui.who.title = "Who this token says you are (the server checks it)";
  hideError();
  state.lastOk = 0;
  renderRefreshState();
  startRefreshing();
}

// ------------------------------------------------------------------ chrome

function showError(text) {
  ui.error.replaceChildren(icon("alert"), h("span", { class: "banner-text", text }));
  ui.error.hidden = false;
}

function hideError() {
  ui.error.hidden = true;
}

function toast(text) {
  clearTimeout(state.toastTimer);
  ui.toast.textContent = text;
  ui.toast.hidden = false;
  state.toastTimer = setTimeout(() => { ui.toast.hidden = true; }, 3500);
}

function selectTab(name, focus = false) {
  state.tab = name;
  for (const tab of document.querySelectorAll("[role=tab]")) {
    const selected = tab.dataset.tab === name;
    tab.setAttribute("aria-selected", String(selected));
    tab.tabIndex = selected ? 0 : -1;
    if (selected && focus) tab.focus();
    $(tab.getAttribute("aria-controls")).hidden = !selected;
  }
  if (name === "audit" && state.token) loadAudit().catch((err) => showError(err.message));
}

function wire() {
  ui.tokenForm.addEventListener("submit", (event) => {
    event.preventDefault();
    const token = ui.tokenInput.value.trim();
    if (token) signIn(token);
  });
  ui.tokenInput.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey) {
      event.preventDefault();
      ui.tokenForm.requestSubmit();
    }
  });
  ui.signout.addEventListener("click", () => signOut());
  ui.pause.addEventListener("click", () => {
    state.paused = !state.paused;
    ui.pause.setAttribute("aria-pressed", String(state.paused));
    ui.pause.textContent = state.paused ? "Resume" : "Pause";
    if (!state.paused) refresh();
    renderRefreshState();
  });
  const tabs = [...document.querySelectorAll("[role=tab]")];
  for (const tab of tabs) {
    tab.addEventListener("click", () => selectTab(tab.dataset.tab));
    tab.addEventListener("keydown", (event) => {
      const i = tabs.indexOf(tab);
      if (event.key === "ArrowRight") selectTab(tabs[(i + 1) % tabs.length].dataset.tab, true);
      if (event.key === "ArrowLeft") selectTab(tabs[(i - 1 + tabs.length) % tabs.length].dataset.tab, true);
    });
  }
  ui.drawerClose.addEventListener("click", closeDrawer);
  ui.drawerScrim.addEventListener("click", closeDrawer);
  ui.drawerRefresh.addEventListener("click", () => state.drawerThread && loadTranscript(state.drawerThread).catch(() => {}));
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape") closeDrawer();
  });
  setInterval(tickCountdowns, 1000);
}

function boot() {
  wire();
  readToken();
  if (state.token) signIn(state.token);
  else showGate();
  document.body.dataset.ready = "true";
}

boot();
