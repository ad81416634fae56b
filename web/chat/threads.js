// The chat's conversations: the threads this browser remembers (read back from localStorage, per user), the sessions
// from GET /api/v1/sessions, opening a thread (and its #thread= address), its empty state, and replaying its stored
// transcript. On the bus: a refused token (`auth-failed`), a transcript on screen (`transcript-loaded`: events.js
// applies the live events that waited for it).

import { emit } from "../bus.js";
import { STORAGE, THREAD_ID_PATTERN, apiFetch, fetchTranscript, h, icon, truncate } from "../shared.js";
import { TranscriptView } from "../transcript.js";
import { renderQueue, sendMessage, updateComposer } from "./composer.js";
import { closeSidebar, renderHeader, renderThreadList, showBanner } from "./render.js";
import { resumeThread } from "./socket.js";
import { app, config, configReady, currentThread, saveThreads, ui } from "./state.js";

const SUGGESTIONS = [
  "What is the status of order 1042?",
  "Please cancel order 1043",
  "I want a refund for order 1044",
  "How do returns work?",
  "Talk to a human",
];

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
    this.handoff = null; // "requested" (a ticket is open: waiting for a person) or "joined"
    this.operator = null; // the name of the person holding the thread
    this.ticketId = null;
    this.missing = false; // the server does not know it (see forgetMissingThread)
  }
}

function newThreadId() {
  const random = crypto.getRandomValues(new Uint32Array(2));
  return `c-${Date.now().toString(36)}-${random[0].toString(36)}${random[1].toString(36)}`.slice(0, 64);
}

export function addThread(id, options) {
  let thread = app.threads.get(id);
  if (!thread) {
    thread = new Thread(id, options);
    app.threads.set(id, thread);
  }
  return thread;
}

export function loadLocalThreads() {
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

/** The caller's threads from GET /api/v1/sessions, merged with the ones this browser remembers. */
export async function loadSessions() {
  let sessions;
  try {
    await configReady;
    sessions = (await apiFetch(config.apiBase, "/sessions", { token: app.token })).sessions || [];
  } catch (err) {
    if (err.code === "token_rejected") emit("auth-failed");
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

export async function openThread(id, { focus = true } = {}) {
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
  renderQueue(thread);
  updateComposer();
  if (focus) ui.input.focus();
  if (!thread.loaded) await loadTranscript(thread);
  if (app.openId !== id) return;
  resumeThread(thread);
  ui.host.scrollTop = ui.host.scrollHeight;
}

export function startNewThread({ focus = true } = {}) {
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
      await configReady;
      const data = await fetchTranscript(config.apiBase, thread.id, { token: app.token });
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
        forgetMissingThread(thread);
      } else if (err.code === "token_rejected") {
        emit("auth-failed");
        thread.view.error(err.code, "Sign in again to see this conversation.");
      } else {
        thread.view.error(err.code, `This conversation could not be loaded: ${err.message}`,
          h("button", { class: "btn btn-small btn-secondary", type: "button", onclick: () => reloadTranscript(thread) },
            "Try again"));
      }
    } finally {
      thread.loading = null;
    }
    emit("transcript-loaded", thread);
    if (app.openId === thread.id) {
      renderHeader();
      updateComposer();
    }
  })();
  return thread.loading;
}

export function reloadTranscript(thread) {
  thread.loaded = false;
  return loadTranscript(thread).then(() => {
    if (thread.status !== "idle") thread.view.setTyping(true);
  });
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

export const NOT_FOUND_TEXT = "We couldn't find this conversation. It may have expired, or the link belongs to "
  + "another account.";

/**
 * A conversation the server does not know (an unknown or expired link, another customer's): it says so in words and
 * leaves the conversation list (nothing to remember, nothing to resume).
 */
export function forgetMissingThread(thread) {
  thread.expired = true;
  thread.missing = true;
  thread.known = false;
  thread.following = false;
  thread.view.clear();
  thread.view.error("not_found", NOT_FOUND_TEXT, newConversationButton(), { showCode: false });
  saveThreads();
  renderThreadList();
  if (thread.id === app.openId) renderHeader();
}

export function newConversationButton() {
  return h("button", { class: "btn btn-small btn-primary", type: "button", onclick: () => startNewThread() },
    icon("plus"), "New conversation");
}

export function threadFromHash() {
  const match = /^#thread=(.+)$/.exec(location.hash);
  if (!match) return null;
  const id = decodeURIComponent(match[1]);
  return THREAD_ID_PATTERN.test(id) ? id : null;
}
