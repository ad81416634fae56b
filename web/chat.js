// The customer web chat: threads, streamed answers, approval cards, reconnect with backoff and `resume`.
// Protocol: /work/shared/DESIGN.md (WebSocket protocol) and docs/web.md.

import {
  MAX_CONTENT_CHARS, STORAGE, THREAD_ID_PATTERN, actionLabel, adoptTokenFromUrl, apiFetch, argsInWords,
  describeAction, formatCountdown, formatRelative, h, icon, isExpired, parseTime, readClaims, readConfig, truncate,
} from "./shared.js";
import { TranscriptView, resultInWords } from "./transcript.js";

const config = readConfig();
adoptTokenFromUrl(STORAGE.chatToken);

const PING_EVERY_MS = 5 * 60 * 1000; // API Gateway closes a WebSocket idle for 10 minutes
const BACKOFF_FIRST_MS = 500;
const BACKOFF_MAX_MS = 30_000;
const MAX_FRAME_BYTES = 32 * 1024;
const STALL_CHECK_MS = 45_000; // no event for this long while a turn runs: ask the server for the status
const SUGGESTIONS = [
  "What is the status of order 1042?",
  "Please cancel order 1043",
  "I want a refund for order 1044",
  "How do returns work?",
  "Talk to a human",
];

const $ = (id) => document.getElementById(id);
const ui = {
  app: $("app"),
  threadList: $("thread-list"),
  newThread: $("new-thread"),
  host: $("transcript-host"),
  title: $("thread-title"),
  threadStatus: $("thread-status"),
  conn: $("connection-status"),
  connText: $("connection-text"),
  banner: $("banner"),
  composer: $("composer"),
  input: $("composer-input"),
  send: $("send-button"),
  hint: $("composer-hint"),
  counter: $("composer-counter"),
  live: $("live-status"),
  menu: $("menu-button"),
  scrim: $("scrim"),
  account: $("account-button"),
  accountName: $("account-name"),
  dialog: $("account-dialog"),
  identity: $("account-identity"),
  tokenInput: $("token-input"),
};

const app = {
  token: "",
  claims: null,
  sub: "demo-customer",
  threads: new Map(),
  openId: null,
  ws: null,
  conn: "connecting",
  attempt: 0,
  retryTimer: null,
  retryAt: 0,
  pingTimer: null,
  serial: 0,
  hintTimer: null,
  lastSentThread: null, // where an error without thread_id (frame too large, invalid) belongs
};

// ------------------------------------------------------------------ threads

class Thread {
  constructor(id, { title = "", known = false, status = "idle", updatedAt = null } = {}) {
    this.id = id;
    this.title = title;
    this.known = known; // the server has it (a message was sent)
    this.status = status;
    this.updatedAt = updatedAt;
    this.view = new TranscriptView({ threadId: id, perspective: "customer" });
    this.loaded = !known; // a new thread has no transcript to replay
    this.loading = null;
    this.buffer = []; // live events that arrive while the transcript loads
    this.cards = new Map(); // interrupt_id -> approval card element
    this.approver = null; // of the pending approval
    this.unread = false;
    this.following = false; // this tab opened it or wrote in it: resume it after a reconnect
    this.missed = false; // events may have been lost (reconnect or opened mid-turn): reload when the turn ends
    this.expired = false;
    this.lastEventAt = 0;
  }
}

function newThreadId() {
  const random = crypto.getRandomValues(new Uint32Array(2));
  return `c-${Date.now().toString(36)}-${random[0].toString(36)}${random[1].toString(36)}`.slice(0, 64);
}

function newMessageId() {
  return `m-${Date.now().toString(36)}-${crypto.getRandomValues(new Uint32Array(1))[0].toString(36)}`;
}

function addThread(id, options) {
  let thread = app.threads.get(id);
  if (!thread) {
    thread = new Thread(id, options);
    app.threads.set(id, thread);
  }
  return thread;
}

function loadLocalThreads() {
  app.threads.clear();
  try {
    const saved = JSON.parse(localStorage.getItem(STORAGE.threads(app.sub)) || "[]");
    for (const item of Array.isArray(saved) ? saved : []) {
      if (item && THREAD_ID_PATTERN.test(item.id)) {
        addThread(item.id, { title: item.title || "", known: true, updatedAt: item.updatedAt || null });
      }
    }
  } catch {
    localStorage.removeItem(STORAGE.threads(app.sub));
  }
}

function saveThreads() {
  const list = [...app.threads.values()]
    .filter((t) => t.known && !t.expired)
    .sort(byRecent)
    .slice(0, 50)
    .map((t) => ({ id: t.id, title: t.title, updatedAt: t.updatedAt }));
  localStorage.setItem(STORAGE.threads(app.sub), JSON.stringify(list));
}

function byRecent(a, b) {
  return (parseTime(b.updatedAt) ?? Number.MAX_SAFE_INTEGER) - (parseTime(a.updatedAt) ?? Number.MAX_SAFE_INTEGER);
}

/** The caller's threads from GET /api/v1/sessions, merged with the ones this browser remembers. */
async function loadSessions() {
  let sessions;
  try {
    sessions = (await apiFetch(config.apiBase, "/sessions", { token: app.token })).sessions || [];
  } catch (err) {
    if (err.code === "token_rejected") authFailed();
    else showBanner("warning", `Your earlier conversations could not be loaded: ${err.message}`);
    renderThreadList();
    return;
  }
  const onServer = new Set();
  for (const s of sessions) {
    onServer.add(s.thread_id);
    const thread = addThread(s.thread_id, { known: true });
    thread.known = true;
    thread.updatedAt = s.updated_at || thread.updatedAt;
    if (s.title && !thread.title) thread.title = truncate(s.title, 60);
    if (!thread.following) thread.status = s.status || "idle";
  }
  for (const thread of [...app.threads.values()]) {
    // Remembered here but gone on the server (expired): forget it, unless it is on screen.
    if (thread.known && !onServer.has(thread.id) && thread.id !== app.openId && !thread.following) {
      app.threads.delete(thread.id);
    }
  }
  saveThreads();
  renderThreadList();
}

function currentThread() {
  return app.openId ? app.threads.get(app.openId) : null;
}

async function openThread(id, { focus = true } = {}) {
  const thread = app.threads.get(id);
  if (!thread) return;
  app.openId = id;
  thread.unread = false;
  thread.following = true;
  ui.host.replaceChildren(thread.view.root);
  if (thread.loaded && thread.view.isEmpty && !thread.view.root.querySelector(".empty-state")) {
    thread.view.root.append(emptyState());
  }
  const hash = `#thread=${encodeURIComponent(id)}`;
  if (thread.known && location.hash !== hash) history.replaceState(history.state, "", hash);
  if (!thread.known && location.hash) history.replaceState(history.state, "", location.pathname + location.search);
  closeSidebar();
  renderHeader();
  renderThreadList();
  updateComposer();
  if (focus) ui.input.focus();
  if (!thread.loaded) await loadTranscript(thread);
  if (app.openId !== id) return;
  resumeThread(thread);
  ui.host.scrollTop = ui.host.scrollHeight;
}

function startNewThread({ focus = true } = {}) {
  const current = currentThread();
  if (current && !current.known && current.view.isEmpty) { // reuse the empty one on screen
    if (focus) ui.input.focus();
    closeSidebar();
    return;
  }
  const thread = addThread(newThreadId(), { known: false });
  openThread(thread.id, { focus });
}

/** Replay the stored transcript (GET /sessions/{id}/messages); live events wait in a buffer meanwhile. */
function loadTranscript(thread) {
  if (thread.loading) return thread.loading;
  thread.view.clear();
  thread.view.root.append(h("div", { class: "loading", "data-testid": "transcript-loading" },
    h("span", { class: "spinner" }), "Loading conversation…"));
  thread.loading = (async () => {
    try {
      const data = await apiFetch(config.apiBase, `/sessions/${encodeURIComponent(thread.id)}/messages`,
        { token: app.token });
      thread.cards.clear();
      thread.view.replay(data.messages || []);
      const first = (data.messages || []).find((m) => m.role === "user");
      if (first && !thread.title) thread.title = truncate(first.content, 60);
      const last = (data.messages || []).at(-1);
      if (last && last.at) thread.updatedAt = thread.updatedAt || last.at;
      thread.loaded = true;
      saveThreads();
    } catch (err) {
      thread.view.clear();
      if (err.code === "not_found") {
        thread.expired = true;
        thread.view.error("not_found", "This conversation is no longer available. It may have expired.",
          newConversationButton());
      } else if (err.code === "token_rejected") {
        authFailed();
        thread.view.error(err.code, "Sign in again to see this conversation.");
      } else {
        thread.view.error(err.code, `This conversation could not be loaded: ${err.message}`,
          h("button", { class: "btn btn-small btn-secondary", type: "button", onclick: () => reloadTranscript(thread) },
            "Try again"));
      }
    } finally {
      thread.loading = null;
    }
    for (const event of thread.buffer.splice(0)) handleThreadEvent(thread, event);
    if (app.openId === thread.id) {
      renderHeader();
      updateComposer();
    }
  })();
  return thread.loading;
}

function reloadTranscript(thread) {
  thread.loaded = false;
  return loadTranscript(thread).then(() => {
    if (thread.status !== "idle") thread.view.setTyping(true);
  });
}

// ------------------------------------------------------------------ WebSocket

function socketUrl() {
  if (!app.token) return config.wsBase;
  return `${config.wsBase}${config.wsBase.includes("?") ? "&" : "?"}token=${encodeURIComponent(app.token)}`;
}

function connect() {
  clearTimeout(app.retryTimer);
  app.retryTimer = null;
  const serial = ++app.serial;
  let ws;
  try {
    ws = new WebSocket(socketUrl());
  } catch (err) {
    setConnection("offline");
    showBanner("error", `The chat address is not valid (${config.wsBase}): ${err.message}`);
    return;
  }
  app.ws = ws;
  let opened = false;
  setConnection(app.attempt ? "reconnecting" : "connecting");
  ws.addEventListener("open", () => {
    if (serial !== app.serial) return;
    opened = true;
    app.attempt = 0;
    setConnection("open");
    hideBanner();
    startPing();
    for (const thread of app.threads.values()) {
      if (thread.following && thread.known && thread.loaded) resumeThread(thread);
    }
  });
  ws.addEventListener("message", (event) => {
    if (serial === app.serial) onFrame(event.data);
  });
  ws.addEventListener("close", () => {
    if (serial !== app.serial) return; // a socket we closed on purpose
    app.ws = null;
    stopPing();
    for (const thread of app.threads.values()) {
      if (thread.status === "running") thread.missed = true;
      thread.view.finishStream();
    }
    if (!opened) checkSignInThenRetry();
    else scheduleReconnect();
  });
}

function disconnect() {
  app.serial += 1;
  clearTimeout(app.retryTimer);
  stopPing();
  if (app.ws) app.ws.close(1000, "client");
  app.ws = null;
}

function isOpen() {
  return app.ws !== null && app.ws.readyState === WebSocket.OPEN;
}

function sendFrame(frame) {
  if (!isOpen()) return false;
  app.ws.send(JSON.stringify(frame));
  return true;
}

/** The handshake failed: a refused token (HTTP 401) looks like any network error to a browser, so ask the API. */
async function checkSignInThenRetry() {
  try {
    await apiFetch(config.apiBase, "/sessions", { token: app.token });
  } catch (err) {
    if (err.code === "token_rejected") {
      authFailed();
      return;
    }
  }
  scheduleReconnect();
}

function scheduleReconnect() {
  const base = Math.min(BACKOFF_MAX_MS, BACKOFF_FIRST_MS * 2 ** app.attempt);
  const delay = Math.round(base * (0.8 + Math.random() * 0.4));
  app.attempt += 1;
  app.retryAt = Date.now() + delay;
  setConnection("reconnecting");
  renderReconnectBanner();
  clearTimeout(app.retryTimer);
  app.retryTimer = setTimeout(connect, delay);
}

function reconnectNow() {
  if (app.conn === "open" || app.conn === "connecting") return;
  clearTimeout(app.retryTimer);
  connect();
}

function authFailed() {
  disconnect();
  setConnection("unauthorized");
  const expired = isExpired(app.claims);
  const text = !app.token
    ? "This chat needs a sign-in token."
    : expired ? "Your sign-in token has expired." : "Your sign-in token was rejected (invalid or expired).";
  showBanner("error", text, h("button", { class: "btn btn-small btn-primary", type: "button", "data-testid": "banner-signin",
    onclick: openAccount }, icon("key"), "Paste a token"));
}

function startPing() {
  stopPing();
  app.pingTimer = setInterval(() => sendFrame({ type: "ping" }), PING_EVERY_MS);
}

function stopPing() {
  clearInterval(app.pingTimer);
  app.pingTimer = null;
}

function resumeThread(thread) {
  if (thread.known && !thread.expired) sendFrame({ type: "resume", thread_id: thread.id });
}

// ------------------------------------------------------------------ events

function onFrame(raw) {
  let event;
  try {
    event = JSON.parse(raw);
  } catch {
    return;
  }
  if (!event || typeof event !== "object" || event.type === "pong") return;
  if (!event.type && event.message) { // API Gateway's own reply when a route's function failed
    event = { type: "error", code: "internal_error", message: "Something went wrong on our side. Please try again." };
  }
  const id = event.thread_id;
  if (!id) {
    if (event.type === "error") {
      const thread = (app.lastSentThread && app.threads.get(app.lastSentThread)) || currentThread();
      if (thread) handleError(thread, event);
      else showBanner("error", event.message);
    }
    return;
  }
  const thread = addThread(id, { known: true });
  if (thread.loading) {
    thread.buffer.push(event);
    return;
  }
  handleThreadEvent(thread, event);
}

function handleThreadEvent(thread, event) {
  const view = thread.view;
  thread.lastEventAt = Date.now();
  const open = thread.id === app.openId;
  switch (event.type) {
    case "tool_call":
      setStatus(thread, "running");
      view.toolCall(event.agent, event.tool, event.args);
      view.setTyping(true);
      break;
    case "token":
      setStatus(thread, "running");
      view.setTyping(false);
      view.token(event.agent, event.content || "");
      break;
    case "interrupt":
      view.finishStream();
      view.setTyping(false);
      thread.approver = event.approver;
      setStatus(thread, "awaiting_approval", true);
      showApprovalCard(thread, event);
      break;
    case "interrupt_resolved":
      resolveApprovalCard(thread, event);
      thread.approver = null;
      setStatus(thread, "running", true);
      view.setTyping(true);
      break;
    case "message_complete":
      view.endTurn();
      setStatus(thread, "idle");
      thread.updatedAt = new Date().toISOString();
      saveThreads();
      if (thread.missed) {
        thread.missed = false;
        reloadTranscript(thread);
      }
      if (open) announce("The assistant finished answering.");
      break;
    case "status":
      applyStatus(thread, event);
      break;
    case "error":
      handleError(thread, event);
      break;
    default:
      return;
  }
  if (!open && ["token", "interrupt", "interrupt_resolved", "message_complete", "error"].includes(event.type)) {
    if (!thread.unread) {
      thread.unread = true;
      renderThreadList();
    }
  }
}

/** The answer to `resume`: the thread's real status after a reconnect or when opening it. */
function applyStatus(thread, event) {
  const before = thread.status;
  if (event.status === "idle") {
    thread.view.endTurn();
    setStatus(thread, "idle");
    const stale = [...thread.cards.values()].some((card) => card.isConnected && isUndecided(card));
    if (before !== "idle" || thread.missed || stale) { // the turn ended while we were away
      thread.missed = false;
      reloadTranscript(thread);
    }
  } else if (event.status === "running") {
    setStatus(thread, "running");
    thread.missed = true; // part of this turn streamed before we (re)attached
    thread.view.setTyping(true);
  } else if (event.status === "awaiting_approval") {
    setStatus(thread, "awaiting_approval", true); // the pending `interrupt` came just before this
  }
}

const ERROR_HINTS = {
  thread_busy: "I'm still working on your previous message. Please wait for it to finish.",
  session_expired: "This conversation has expired. Start a new one to continue.",
  message_too_large: "That message is too long. Please shorten it.",
  internal_error: "Something went wrong on our side. Please try again.",
  not_found: "This conversation could not be found.",
};

function handleError(thread, event) {
  const code = event.code || "error";
  const message = event.message || ERROR_HINTS[code] || "Something went wrong.";
  const deciding = [...thread.cards.values()].find((card) => card.dataset.state === "deciding");
  if (deciding && ["approval_expired", "no_pending_interrupt", "forbidden", "validation_error"].includes(code)) {
    cardError(deciding, message, code);
    resumeThread(thread); // learn the real state
    return;
  }
  thread.view.endTurn();
  if (code === "thread_busy") {
    thread.view.error(code, message);
    resumeThread(thread);
    return;
  }
  if (code === "session_expired" || code === "not_found") {
    thread.expired = true;
    thread.view.error(code, message, newConversationButton());
  } else {
    thread.view.error(code, message);
  }
  setStatus(thread, "idle", true);
  if (thread.id === app.openId) announce(`Error: ${message}`);
}

function setStatus(thread, status, force = false) {
  if (thread.status === status && !force) return;
  thread.status = status;
  if (status === "idle") thread.approver = null;
  renderThreadList();
  if (thread.id === app.openId) {
    renderHeader();
    updateComposer();
  }
}

// ------------------------------------------------------------------ approval cards

function showApprovalCard(thread, event) {
  const existing = thread.cards.get(event.interrupt_id);
  if (existing && existing.isConnected) return; // `resume` re-sends a pending approval
  const waiting = event.approver === "operator";
  const titleId = `approval-${event.interrupt_id}`;
  const approve = h("button", { class: "btn btn-primary", type: "button", "data-testid": "approve-button" },
    icon("check"), "Approve");
  const reject = h("button", { class: "btn btn-secondary", type: "button", "data-testid": "reject-button" },
    icon("x"), "Reject");
  const card = h("article", {
    class: `approval state-${waiting ? "waiting" : "pending"}`, "data-testid": "approval-card",
    "data-interrupt-id": event.interrupt_id, "data-state": waiting ? "waiting" : "pending",
    "data-approver": event.approver, "aria-labelledby": titleId, tabindex: "-1",
  },
  h("div", { class: "approval-head" },
    icon(waiting ? "headset" : "shield", "icon badge-icon"),
    h("div", { class: "approval-heading" },
      h("div", { class: "approval-kicker", text: waiting ? "Waiting for a support agent" : "Your approval is needed" }),
      h("h3", { class: "approval-title", id: titleId, "data-testid": "approval-description",
        text: event.description || describeAction(event.action, event.args) })),
    h("span", { class: "countdown", "data-testid": "approval-countdown", "data-expires-at": event.expires_at,
      "data-prefix": waiting ? "Decided within" : "Expires in" })),
  h("dl", { class: "approval-args", "data-testid": "approval-args" },
    [["Request", actionLabel(event.action)], ...argsInWords(event.args)].map(([label, value]) =>
      h("div", { class: "arg" }, h("dt", { text: label }), h("dd", { text: value })))),
  waiting
    ? h("p", { class: "approval-note", "data-testid": "approval-waiting" }, h("span", { class: "spinner" }),
      "A support agent has to approve this request. Keep this page open: it updates here as soon as they decide.")
    : h("div", { class: "approval-actions" }, approve, reject,
      h("span", { class: "approval-note muted", text: "Nothing changes until you approve." })),
  h("div", { class: "approval-result", "data-testid": "approval-result", role: "status" }));
  approve.addEventListener("click", () => decide(thread, card, true));
  reject.addEventListener("click", () => decide(thread, card, false));
  thread.cards.set(event.interrupt_id, card);
  thread.view.append(card);
  tickCountdowns();
  if (thread.id === app.openId) {
    announce(waiting ? `Waiting for a support agent to approve: ${event.description}` : `Approval needed: ${event.description}`);
    const active = document.activeElement;
    if (!waiting && (active === ui.input || active === document.body || !active)) approve.focus();
  }
}

function isUndecided(card) {
  return ["pending", "waiting", "deciding"].includes(card.dataset.state);
}

function decide(thread, card, approved) {
  if (!isUndecided(card)) return;
  if (!sendFrame({ type: "interrupt_response", thread_id: thread.id, approved })) {
    cardError(card, "You're offline. We'll reconnect, then you can decide.", "offline");
    return;
  }
  const hadFocus = card.contains(document.activeElement);
  card.dataset.state = "deciding";
  card.dataset.decision = approved ? "approve" : "reject";
  for (const button of card.querySelectorAll("button")) button.disabled = true;
  if (hadFocus) card.focus(); // a disabled button drops the focus; keep it on the card until the outcome
  card.querySelector(".approval-result").textContent = approved ? "Approving…" : "Rejecting…";
}

function cardError(card, message, code) {
  const result = card.querySelector(".approval-result");
  result.textContent = message;
  result.dataset.code = code;
  card.classList.add("has-error");
  if (card.dataset.state === "deciding") {
    card.dataset.state = card.dataset.approver === "operator" ? "waiting" : "pending";
    for (const button of card.querySelectorAll("button")) button.disabled = false;
  }
}

function resolveApprovalCard(thread, event) {
  const state = event.decided_by === "timeout" ? "timeout" : event.approved ? "approved" : "rejected";
  const card = thread.cards.get(event.interrupt_id);
  const text = resultInWords(state, event.decided_by, "customer", new Date().toISOString());
  if (!card || !card.isConnected) {
    thread.view.decision({ ...event, description: "Your request", at: new Date().toISOString() });
    return;
  }
  const hadFocus = card.contains(document.activeElement);
  card.dataset.state = state;
  card.dataset.decidedBy = event.decided_by;
  card.className = `approval resolved state-${state}`;
  card.querySelector(".approval-actions")?.remove();
  card.querySelector(".approval-note")?.remove();
  card.querySelector(".countdown")?.remove();
  const kicker = card.querySelector(".approval-kicker");
  if (kicker) kicker.textContent = state === "approved" ? "Approved" : state === "timeout" ? "Timed out" : "Rejected";
  const badge = card.querySelector(".badge-icon");
  if (badge) badge.replaceWith(icon(state === "approved" ? "check" : state === "timeout" ? "clock" : "x", "icon badge-icon"));
  const result = card.querySelector(".approval-result");
  result.textContent = text;
  delete result.dataset.code;
  card.classList.remove("has-error");
  if (thread.id === app.openId) {
    announce(text);
    if (hadFocus) ui.input.focus();
  }
}

function tickCountdowns() {
  const now = Date.now();
  for (const el of document.querySelectorAll("[data-expires-at]")) {
    const left = (parseTime(el.dataset.expiresAt) ?? now) - now;
    const card = el.closest(".approval");
    if (left <= 0) {
      el.textContent = "Expired";
      el.classList.add("urgent");
      if (card && card.dataset.state === "pending") {
        card.dataset.state = "expired";
        for (const button of card.querySelectorAll("button")) button.disabled = true;
        card.querySelector(".approval-result").textContent = "This request expired; nothing was changed.";
      }
    } else {
      el.textContent = `${el.dataset.prefix || "Expires in"} ${formatCountdown(left)}`;
      el.classList.toggle("urgent", left < 60_000);
    }
  }
  if (app.conn === "reconnecting") renderReconnectBanner();
  for (const thread of app.threads.values()) { // a turn that went quiet: ask where it stands
    if (thread.status === "running" && thread.lastEventAt && now - thread.lastEventAt > STALL_CHECK_MS && isOpen()) {
      thread.lastEventAt = now;
      resumeThread(thread);
    }
  }
}

// ------------------------------------------------------------------ rendering

function renderThreadList() {
  const threads = [...app.threads.values()].filter((t) => t.known || t.id === app.openId).sort(byRecent);
  const items = threads.map((thread) => {
    const badge = statusBadge(thread);
    return h("li", {},
      h("button", {
        class: `thread-item${thread.id === app.openId ? " active" : ""}`, type: "button",
        "data-testid": "thread-item", "data-thread-id": thread.id, "data-status": thread.status,
        "aria-current": thread.id === app.openId ? "page" : null, onclick: () => openThread(thread.id),
      },
      h("span", { class: "thread-title", text: thread.title || (thread.known ? "Conversation" : "New conversation") }),
      h("span", { class: "thread-meta" },
        badge ? h("span", { class: `badge ${badge.tone}`, text: badge.text }) : null,
        thread.updatedAt ? h("time", { datetime: thread.updatedAt, text: formatRelative(thread.updatedAt) }) : null),
      thread.unread ? h("span", { class: "unread-dot", title: "New activity", "aria-label": "New activity" }) : null));
  });
  ui.threadList.replaceChildren(...items);
  if (!items.length) ui.threadList.append(h("li", { class: "thread-empty", text: "No conversations yet." }));
}

function statusBadge(thread) {
  if (thread.status === "running") return { tone: "info", text: "Answering…" };
  if (thread.status === "awaiting_approval") {
    if (thread.approver === "operator") return { tone: "warn", text: "Waiting for an agent" };
    return { tone: "warn", text: thread.approver ? "Needs your approval" : "Awaiting approval" };
  }
  if (thread.expired) return { tone: "muted", text: "Expired" };
  return null;
}

function renderHeader() {
  const thread = currentThread();
  ui.title.textContent = thread ? thread.title || (thread.known ? "Conversation" : "New conversation") : "Support";
  const badge = thread ? statusBadge(thread) : null;
  ui.threadStatus.hidden = !badge;
  ui.threadStatus.className = `badge ${badge ? badge.tone : ""}`;
  ui.threadStatus.textContent = badge ? badge.text : "";
  document.title = thread && thread.title ? `${thread.title} · Support` : "Support · Smart Support";
}

function updateComposer() {
  const thread = currentThread();
  const length = ui.input.value.length;
  const ready = isOpen() && thread && thread.status === "idle" && !thread.expired && !thread.loading;
  ui.send.disabled = !ready || !ui.input.value.trim() || length > MAX_CONTENT_CHARS;
  ui.counter.hidden = length < MAX_CONTENT_CHARS - 1000;
  ui.counter.textContent = `${length.toLocaleString()} / ${MAX_CONTENT_CHARS.toLocaleString()}`;
  ui.counter.classList.toggle("over", length > MAX_CONTENT_CHARS);
  if (!app.hintTimer) ui.hint.textContent = composerHint(thread);
}

function composerHint(thread) {
  if (app.conn === "unauthorized") return "Sign in to chat.";
  if (!isOpen()) return "Connecting… you can type your message meanwhile.";
  if (!thread) return "";
  if (thread.expired) return "This conversation has ended. Start a new one.";
  if (thread.status === "running") return "The assistant is answering…";
  if (thread.status === "awaiting_approval") {
    return thread.approver === "operator"
      ? "A support agent is reviewing your request. You can start a new conversation meanwhile."
      : "Approve or reject the request above to continue.";
  }
  return "Enter to send · Shift+Enter for a new line";
}

function flashHint(text) {
  clearTimeout(app.hintTimer);
  ui.hint.textContent = text;
  ui.hint.classList.add("flash");
  app.hintTimer = setTimeout(() => {
    app.hintTimer = null;
    ui.hint.classList.remove("flash");
    updateComposer();
  }, 4000);
}

function setConnection(state) {
  app.conn = state;
  ui.conn.dataset.state = state;
  ui.connText.textContent = {
    connecting: "Connecting…", open: "Connected", reconnecting: "Reconnecting…", offline: "Offline",
    unauthorized: "Signed out",
  }[state] || state;
  updateComposer();
}

function renderReconnectBanner() {
  const seconds = Math.max(0, Math.ceil((app.retryAt - Date.now()) / 1000));
  const text = seconds ? `Connection lost. Reconnecting in ${seconds} s…` : "Connection lost. Reconnecting…";
  const existing = ui.banner.querySelector("[data-role=reconnect-text]");
  if (existing && !ui.banner.hidden) {
    existing.textContent = text;
    return;
  }
  showBanner("warning", text, h("button", { class: "btn btn-small btn-secondary", type: "button",
    "data-testid": "reconnect-now", onclick: reconnectNow }, icon("refresh"), "Retry now"));
  ui.banner.querySelector(".banner-text").dataset.role = "reconnect-text";
}

function showBanner(tone, text, action) {
  ui.banner.className = `banner ${tone}`;
  ui.banner.dataset.tone = tone;
  ui.banner.replaceChildren(icon(tone === "error" ? "alert" : "clock"), h("span", { class: "banner-text", text }),
    action || "");
  ui.banner.hidden = false;
}

function hideBanner() {
  ui.banner.hidden = true;
  ui.banner.replaceChildren();
}

function announce(text) {
  ui.live.textContent = "";
  requestAnimationFrame(() => { ui.live.textContent = text; });
}

function emptyState() {
  return h("div", { class: "empty-state", "data-testid": "empty-state" },
    h("div", { class: "empty-icon", html: icon("chat").innerHTML }),
    h("h2", { text: "How can we help?" }),
    h("p", { text: "Ask about an order, track a delivery, cancel or refund an order, or ask for a person." }),
    h("div", { class: "suggestions" }, SUGGESTIONS.map((text) =>
      h("button", { class: "chip suggestion", type: "button", "data-testid": "suggestion",
        onclick: () => { ui.input.value = text; sendMessage(); } }, text))));
}

function newConversationButton() {
  return h("button", { class: "btn btn-small btn-primary", type: "button", onclick: () => startNewThread() },
    icon("plus"), "New conversation");
}

// ------------------------------------------------------------------ composer

function sendMessage() {
  const thread = currentThread();
  const content = ui.input.value.trim();
  if (!thread || !content) return;
  if (content.length > MAX_CONTENT_CHARS) {
    flashHint(`Messages can be up to ${MAX_CONTENT_CHARS.toLocaleString()} characters.`);
    return;
  }
  if (thread.expired) {
    flashHint("This conversation has ended. Start a new one to continue.");
    return;
  }
  if (thread.status !== "idle") {
    flashHint(composerHint(thread));
    return;
  }
  const frame = { type: "message", thread_id: thread.id, content, message_id: newMessageId() };
  if (new TextEncoder().encode(JSON.stringify(frame)).length > MAX_FRAME_BYTES) {
    flashHint("That message is too long to send. Please shorten it.");
    return;
  }
  if (!sendFrame(frame)) {
    flashHint("You're offline. Your message is kept here; send it once we're reconnected.");
    return;
  }
  const now = new Date().toISOString();
  app.lastSentThread = thread.id;
  thread.lastEventAt = Date.now();
  thread.view.addUser(content, now);
  thread.view.setTyping(true);
  thread.known = true;
  thread.loaded = true;
  thread.following = true;
  thread.updatedAt = now;
  if (!thread.title) thread.title = truncate(content, 60);
  history.replaceState(history.state, "", `#thread=${encodeURIComponent(thread.id)}`);
  ui.input.value = "";
  autosize();
  setStatus(thread, "running", true);
  saveThreads();
  ui.host.scrollTop = ui.host.scrollHeight;
}

function autosize() {
  ui.input.style.height = "auto";
  ui.input.style.height = `${Math.min(ui.input.scrollHeight, 180)}px`;
}

// ------------------------------------------------------------------ account

function readIdentity() {
  app.token = localStorage.getItem(STORAGE.chatToken) || "";
  app.claims = readClaims(app.token);
  app.sub = (app.claims && app.claims.sub) || (app.token ? "unknown" : "demo-customer");
  ui.accountName.textContent = app.token ? (app.claims && app.claims.sub) || "Unreadable token" : "Guest";
  ui.account.title = app.token ? `Signed in as ${app.sub}` : "Guest access (demo customer)";
}

function openAccount() {
  ui.identity.textContent = app.token
    ? `Signed in as ${app.sub}${app.claims && app.claims.role ? ` (${app.claims.role})` : ""}.`
      + (isExpired(app.claims) ? " This token has expired." : "")
    : "You're using guest access as the demo customer.";
  ui.tokenInput.value = "";
  ui.dialog.showModal();
  ui.tokenInput.focus();
}

function applyToken(token) {
  if (token) localStorage.setItem(STORAGE.chatToken, token);
  else localStorage.removeItem(STORAGE.chatToken);
  disconnect();
  readIdentity();
  loadLocalThreads();
  app.openId = null;
  hideBanner();
  app.attempt = 0;
  connect();
  startNewThread();
  loadSessions();
}

// ------------------------------------------------------------------ layout

function openSidebar() {
  ui.app.classList.add("sidebar-open");
  ui.menu.setAttribute("aria-expanded", "true");
  ui.threadList.querySelector(".active, button")?.focus();
}

function closeSidebar() {
  if (!ui.app.classList.contains("sidebar-open")) return;
  ui.app.classList.remove("sidebar-open");
  ui.menu.setAttribute("aria-expanded", "false");
}

function threadFromHash() {
  const match = /^#thread=(.+)$/.exec(location.hash);
  if (!match) return null;
  const id = decodeURIComponent(match[1]);
  return THREAD_ID_PATTERN.test(id) ? id : null;
}

function wire() {
  ui.composer.addEventListener("submit", (event) => {
    event.preventDefault();
    sendMessage();
  });
  ui.input.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      sendMessage();
    }
  });
  window.addEventListener("resize", autosize);
  ui.input.addEventListener("input", () => {
    autosize();
    updateComposer();
  });
  ui.newThread.addEventListener("click", () => startNewThread());
  ui.menu.addEventListener("click", () => (ui.app.classList.contains("sidebar-open") ? closeSidebar() : openSidebar()));
  ui.scrim.addEventListener("click", closeSidebar);
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && ui.app.classList.contains("sidebar-open")) {
      closeSidebar();
      ui.menu.focus();
    }
  });
  ui.account.addEventListener("click", openAccount);
  ui.dialog.addEventListener("close", () => {
    const choice = ui.dialog.returnValue;
    ui.dialog.returnValue = "";
    if (choice === "save" && ui.tokenInput.value.trim()) applyToken(ui.tokenInput.value.trim());
    else if (choice === "clear") applyToken("");
    ui.input.focus();
  });
  window.addEventListener("hashchange", () => {
    const id = threadFromHash();
    if (id && id !== app.openId) {
      addThread(id, { known: true });
      openThread(id);
    }
  });
  window.addEventListener("online", reconnectNow);
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible" && app.conn === "reconnecting") reconnectNow();
  });
  setInterval(tickCountdowns, 1000);
  setInterval(() => {
    for (const el of ui.threadList.querySelectorAll("time[datetime]")) el.textContent = formatRelative(el.dateTime);
  }, 30_000);
}

async function boot() {
  wire();
  readIdentity();
  loadLocalThreads();
  const fromHash = threadFromHash();
  if (fromHash) {
    addThread(fromHash, { known: true });
    openThread(fromHash, { focus: true });
  } else {
    startNewThread();
  }
  connect();
  await loadSessions();
  document.body.dataset.ready = "true";
}

boot();
