// The message box: its hint and counter, sending a `message` frame, growing with its text, and Stop (which asks
// "Withdraw this request?" first while an approval is pending).

import { MAX_CONTENT_CHARS, h, truncate } from "../shared.js";
import { openCard } from "./approvals.js";
import { announce, setStatus } from "./render.js";
import { isOpen, sendFrame } from "./socket.js";
import { app, currentThread, saveThreads, ui } from "./state.js";

const MAX_FRAME_BYTES = 32 * 1024;
const MAX_QUEUED = 3; // messages that may wait behind a running turn (the server says thread_busy to a fourth)

export function updateComposer() {
  const thread = currentThread();
  const length = ui.input.value.length;
  // A message sent mid-answer waits its turn; one sent before the socket opens waits for it (the outbox).
  const ready = app.conn !== "unauthorized" && thread && !thread.expired && !thread.loading;
  ui.send.disabled = !ready || !ui.input.value.trim() || length > MAX_CONTENT_CHARS;
  ui.counter.hidden = length < MAX_CONTENT_CHARS - 1000;
  ui.counter.textContent = `${length.toLocaleString()} / ${MAX_CONTENT_CHARS.toLocaleString()}`;
  ui.counter.classList.toggle("over", length > MAX_CONTENT_CHARS);
  if (!app.hintTimer) ui.hint.textContent = composerHint(thread);
  const answering = Boolean(thread && isOpen() && ["running", "awaiting_approval"].includes(thread.status));
  ui.stop.hidden = !answering;
  if (!answering) ui.stop.disabled = false;
  if (app.confirmingWithdraw && (!thread || app.confirmingWithdraw !== thread.id || !awaitingApproval(thread) || !isOpen())) {
    closeWithdrawConfirm({ focus: false }); // decided meanwhile, another thread, or offline: nothing to confirm
  }
}

/** The thread waits for an approval (its status, or an undecided card on screen). */
function awaitingApproval(thread) {
  return thread.status === "awaiting_approval" || Boolean(openCard(thread));
}

/**
 * Stop. While an answer streams: ask the server to end the turn (it answers with message_complete, cancelled).
 * While an approval is pending, stopping withdraws the request: the page asks first ("Withdraw this request?").
 */
export function stopAnswer() {
  const thread = currentThread();
  if (!thread || !["running", "awaiting_approval"].includes(thread.status)) return;
  if (awaitingApproval(thread)) {
    openWithdrawConfirm(thread);
    return;
  }
  if (sendFrame({ type: "cancel", thread_id: thread.id })) ui.stop.disabled = true;
}

function openWithdrawConfirm(thread) {
  const card = openCard(thread);
  const what = card?.querySelector(".approval-title")?.textContent;
  const operator = (card?.dataset.approver || thread.approver) === "operator";
  ui.stopConfirmText.textContent = `${what ? `“${what}” will not happen` : "The request will not happen"}`
    + `${operator ? " and the support agent will not review it" : ""}. Nothing on your account changes.`;
  app.confirmingWithdraw = thread.id;
  ui.stopConfirm.hidden = false;
  ui.withdrawNo.focus(); // the safe choice has the focus: Enter twice never withdraws by accident
}

export function closeWithdrawConfirm({ focus = true } = {}) {
  if (!app.confirmingWithdraw && ui.stopConfirm.hidden) return;
  const hadFocus = ui.stopConfirm.contains(document.activeElement);
  app.confirmingWithdraw = null;
  ui.stopConfirm.hidden = true;
  if (focus || hadFocus) (ui.stop.hidden ? ui.input : ui.stop).focus();
}

/** "Keep waiting": nothing is sent, the request stays. */
export function keepWaiting() {
  closeWithdrawConfirm();
  announce("The request is still waiting.");
}

/** "Withdraw": the `cancel` frame withdraws the pending request (the server answers interrupt_resolved, withdrawn). */
export function confirmWithdraw() {
  const thread = app.confirmingWithdraw && app.threads.get(app.confirmingWithdraw);
  if (!thread) {
    closeWithdrawConfirm();
    return;
  }
  if (!sendFrame({ type: "cancel", thread_id: thread.id })) {
    closeWithdrawConfirm();
    flashHint("You're offline. The request is still waiting; try again once we're reconnected.");
    return;
  }
  thread.withdrawing = true;
  ui.stop.disabled = true;
  const card = openCard(thread);
  if (card) {
    card.dataset.state = "deciding";
    card.dataset.decision = "withdraw";
    for (const button of card.querySelectorAll("button")) button.disabled = true;
    card.querySelector(".approval-result").textContent = "Withdrawing…";
  }
  app.confirmingWithdraw = null;
  ui.stopConfirm.hidden = true;
  ui.input.focus();
  announce("Withdrawing the request…");
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
  if (!isOpen()) {
    return app.outbox.length ? "Connecting… your message will be sent as soon as we're connected."
      : "Connecting… you can type and send your message meanwhile.";
  }
  if (!thread) return "";
  if (thread.missing) return "Start a new conversation to continue.";
  if (thread.expired) return "This conversation has ended. Start a new one.";
  if (thread.status === "with_operator") return `You're chatting with ${thread.operator || "a support agent"}, a person.`;
  if (thread.status === "running") return "The assistant is answering… you can keep typing: messages wait their turn.";
  if (thread.status === "awaiting_approval") {
    return thread.approver === "operator"
      ? "A support agent is reviewing your request. Stop withdraws it; you can start a new conversation meanwhile."
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

/** Send what is in the message box: at once when connected, else as soon as the socket opens (`flushOutbox`). */
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
  if (isQueueing(thread) && (thread.queue || []).length >= MAX_QUEUED) {
    flashHint("Three messages are already waiting for this answer. Please wait a moment.");
    return;
  }
  const item = { content, at: new Date().toISOString(), messageId: newMessageId() };
  if (new TextEncoder().encode(JSON.stringify(messageFrame(thread, item))).length > MAX_FRAME_BYTES) {
    flashHint("That message is too long to send. Please shorten it.");
    return;
  }
  ui.input.value = "";
  autosize();
  if (!deliver(thread, item)) hold(thread, item);
  ui.host.scrollTop = ui.host.scrollHeight;
}

/** The socket opened: the messages sent while it connected go out, in order, each once. */
export function flushOutbox() {
  for (const item of app.outbox.splice(0)) {
    const thread = app.threads.get(item.threadId);
    if (!thread) continue; // another sign-in since: not this customer's to send
    thread.view.root.querySelector(`[data-message-id="${CSS.escape(item.messageId)}"]`)?.remove();
    if (!deliver(thread, item)) hold(thread, item);
  }
  updateComposer();
}

function messageFrame(thread, item) {
  return { type: "message", thread_id: thread.id, content: item.content, message_id: item.messageId };
}

/** A turn runs or waits for an approval: a message sent now waits behind it. */
function isQueueing(thread) {
  return thread.status === "running" || thread.status === "awaiting_approval";
}

/** Not connected yet: the message shows at once, marked as waiting for the connection, and leaves the outbox later. */
function hold(thread, item) {
  app.outbox.push({ threadId: thread.id, ...item });
  const bubble = thread.view.addUser(item.content, null, item.messageId);
  if (bubble) {
    bubble.dataset.state = "sending";
    bubble.append(h("span", { class: "msg-time", "data-testid": "msg-sending", text: "Sends when connected…" }));
  }
  updateComposer();
}

/** Send the message frame and show the message (or, behind a running turn, in the waiting tray). False if offline. */
function deliver(thread, item) {
  const queueing = isQueueing(thread);
  if (!sendFrame(messageFrame(thread, item))) return false;
  app.lastSentThread = thread.id;
  if (queueing) { // it becomes part of the next turn: shown as waiting until this answer ends
    thread.queue = [...(thread.queue || []), item];
    thread.queueAcks = (thread.queueAcks || 0) + 1;
    renderQueue(thread);
    updateComposer();
    return true;
  }
  thread.lastEventAt = Date.now();
  thread.view.addUser(item.content, item.at, item.messageId);
  const held = thread.status === "with_operator"; // a person reads it: no assistant turn starts
  thread.known = true;
  thread.loaded = true;
  thread.following = true;
  thread.updatedAt = item.at;
  if (!thread.title) thread.title = truncate(item.content, 60);
  if (thread.id === app.openId) history.replaceState(history.state, "", `#thread=${encodeURIComponent(thread.id)}`);
  if (held) {
    updateComposer();
  } else {
    thread.view.setTyping(true);
    setStatus(thread, "running", true);
  }
  saveThreads();
  return true;
}

export function autosize() {
  ui.input.style.height = "auto";
  ui.input.style.height = `${Math.min(ui.input.scrollHeight, 180)}px`;
}
