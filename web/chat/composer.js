// The message box: its hint and counter, sending a `message` frame, and growing with its text.

import { MAX_CONTENT_CHARS, h, truncate } from "../shared.js";
import { setStatus } from "./events.js";
import { isOpen, sendFrame } from "./socket.js";
import { app, currentThread, ui } from "./state.js";
import { saveThreads } from "./threads.js";

const MAX_FRAME_BYTES = 32 * 1024;
const MAX_QUEUED = 3; // messages that may wait behind a running turn (the server says thread_busy to a fourth)

export function updateComposer() {
  const thread = currentThread();
  const length = ui.input.value.length;
  const ready = isOpen() && thread && !thread.expired && !thread.loading; // a message sent mid-answer waits its turn
  ui.send.disabled = !ready || !ui.input.value.trim() || length > MAX_CONTENT_CHARS;
  ui.counter.hidden = length < MAX_CONTENT_CHARS - 1000;
  ui.counter.textContent = `${length.toLocaleString()} / ${MAX_CONTENT_CHARS.toLocaleString()}`;
  ui.counter.classList.toggle("over", length > MAX_CONTENT_CHARS);
  if (!app.hintTimer) ui.hint.textContent = composerHint(thread);
  const answering = Boolean(thread && isOpen() && ["running", "awaiting_approval"].includes(thread.status));
  ui.stop.hidden = !answering;
  if (!answering) ui.stop.disabled = false;
}

/** "Stop generating": ask the server to end the running turn (it answers with message_complete, cancelled). */
export function stopAnswer() {
  const thread = currentThread();
  if (!thread || !["running", "awaiting_approval"].includes(thread.status)) return;
  if (sendFrame({ type: "cancel", thread_id: thread.id })) ui.stop.disabled = true;
}

/** The messages waiting behind the running turn, shown above the message box until their turn starts. */
export function renderQueue(thread) {
  if (thread.id !== app.openId) return;
  const queue = thread.queue || [];
  ui.queuedTray.replaceChildren(...queue.map((item) =>
    h("li", { class: "queued-message", "data-testid": "queued-message" },
      h("span", { class: "queued-label", text: "Waiting to be answered" }), h("span", { text: item.content }))));
  ui.queuedTray.hidden = queue.length === 0;
}

function composerHint(thread) {
  if (app.conn === "unauthorized") return "Sign in to chat.";
  if (!isOpen()) return "Connecting… you can type your message meanwhile.";
  if (!thread) return "";
  if (thread.expired) return "This conversation has ended. Start a new one.";
  if (thread.status === "with_operator") return `You're chatting with ${thread.operator || "a support agent"}, a person.`;
  if (thread.status === "running") return "The assistant is answering… you can keep typing: messages wait their turn.";
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

function newMessageId() {
  return `m-${Date.now().toString(36)}-${crypto.getRandomValues(new Uint32Array(1))[0].toString(36)}`;
}

export function sendMessage() {
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
  const queueing = thread.status === "running" || thread.status === "awaiting_approval";
  if (queueing && (thread.queue || []).length >= MAX_QUEUED) {
    flashHint("Three messages are already waiting for this answer. Please wait a moment.");
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
  if (queueing) { // it becomes part of the next turn: shown as waiting until this answer ends
    thread.queue = [...(thread.queue || []), { content, at: now, messageId: frame.message_id }];
    thread.queueAcks = (thread.queueAcks || 0) + 1;
    renderQueue(thread);
    ui.input.value = "";
    autosize();
    updateComposer();
    return;
  }
  thread.lastEventAt = Date.now();
  thread.view.addUser(content, now);
  const held = thread.status === "with_operator"; // a person reads it: no assistant turn starts
  thread.known = true;
  thread.loaded = true;
  thread.following = true;
  thread.updatedAt = now;
  if (!thread.title) thread.title = truncate(content, 60);
  history.replaceState(history.state, "", `#thread=${encodeURIComponent(thread.id)}`);
  ui.input.value = "";
  autosize();
  if (held) {
    updateComposer();
  } else {
    thread.view.setTyping(true);
    setStatus(thread, "running", true);
  }
  saveThreads();
  ui.host.scrollTop = ui.host.scrollHeight;
}

export function autosize() {
  ui.input.style.height = "auto";
  ui.input.style.height = `${Math.min(ui.input.scrollHeight, 180)}px`;
}
