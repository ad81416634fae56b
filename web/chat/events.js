// Server frames into the chat: each event updates its thread's transcript, status and badge
// (the events and error codes are in docs/protocol.md). chat.js hands it the socket's frames (`frame` on the bus)
// and the transcripts that finished loading (`transcript-loaded`).

import { outcomeOf } from "../shared.js";
import { handoffInWords } from "../transcript.js";
import { cardError, isUndecided, resolveApprovalCard, showApprovalCard } from "./approvals.js";
import { citationsNode } from "./citations.js";
import { renderQueue, updateComposer } from "./composer.js";
import { announce, renderThreadList, setStatus, showBanner } from "./render.js";
import { resumeThread } from "./socket.js";
import { app, currentThread, saveThreads, ui } from "./state.js";
import { NOT_FOUND_TEXT, addThread, forgetMissingThread, newConversationButton, reloadTranscript } from "./threads.js";

export function onFrame(raw) {
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

/** The transcript is on screen: the live events that arrived while it loaded (`thread.buffer`) apply now. */
export function applyBuffered(thread) {
  for (const event of thread.buffer.splice(0)) handleThreadEvent(thread, event);
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
      // Opened or reconnected mid-answer: its start streamed before we were here (the transcript reloads at the end).
      if (thread.missed && !view.stream) view.token(event.agent, "… ");
      view.token(event.agent, event.content || "");
      break;
    case "answer_restart": // the model failed mid-answer and answers again; the transcript reloads at the end
      view.dropStream();
      thread.restarted = true;
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
      // Withdrawn (Stop while it waited): the agent still answers ("nothing was changed"), and that answer is whole.
      if (outcomeOf(event) === "withdrawn" || (thread.withdrawing && !event.approved && event.decided_by === "customer")) {
        thread.withdrawn = true;
      }
      thread.withdrawing = false;
      setStatus(thread, "running", true);
      view.setTyping(true);
      break;
    case "message_complete": {
      const withdrawn = Boolean(thread.withdrawn);
      thread.withdrawn = false;
      thread.withdrawing = false;
      if (Number.isInteger(event.turn)) thread.completedTurn = Math.max(thread.completedTurn ?? 0, event.turn);
      if (event.cancelled && !withdrawn) view.stopped();
      const sources = citationsNode(event.citations);
      if (sources) view.append(sources);
      view.endTurn();
      const next = thread.queue || [];
      thread.queue = [];
      thread.queueAcks = 0;
      renderQueue(thread);
      thread.updatedAt = new Date().toISOString();
      if (thread.missed || thread.restarted) {
        thread.missed = false;
        thread.restarted = false;
        reloadTranscript(thread); // the reloaded transcript already holds the queued messages
      } else {
        for (const item of next) view.addUser(item.content, item.at, item.messageId);
      }
      if (next.length) { // the queued messages are the next turn, which starts now
        setStatus(thread, "running", true);
        view.setTyping(true);
      } else {
        setStatus(thread, "idle");
      }
      saveThreads();
      if (open) announce(withdrawn ? "Request withdrawn." : event.cancelled ? "Stopped." : "The assistant finished answering.");
      break;
    }
    case "status":
      if (thread.queueAcks > 0 && event.status !== "idle" && event.queued > 0) {
        thread.queueAcks -= 1; // the answer to a message we queued: it is stored and waits its turn
        break;
      }
      if (isStale(thread, event)) break;
      applyStatus(thread, event);
      break;
    case "handoff":
      applyHandoff(thread, event);
      break;
    case "operator_message":
      view.setTyping(false);
      view.operator(event.content || "", event.operator, event.at, event.message_id);
      thread.updatedAt = event.at || new Date().toISOString();
      if (open) announce(`${event.operator || "A support agent"} wrote: ${event.content}`);
      break;
    case "error":
      handleError(thread, event);
      break;
    default:
      return;
  }
  const noticed = ["token", "interrupt", "interrupt_resolved", "message_complete", "error", "handoff", "operator_message"];
  if (!open && noticed.includes(event.type)) {
    if (!thread.unread) {
      thread.unread = true;
      renderThreadList();
    }
  }
}

/** A person was asked for, joined, or left: a line in the conversation, and the header says who is there. */
function applyHandoff(thread, event) {
  const line = thread.view.handoff(event); // none when the hand-off agent's answer says it
  thread.ticketId = event.state === "returned" ? null : event.ticket_id || thread.ticketId;
  thread.handoff = event.state === "returned" ? null : event.state;
  thread.operator = event.state === "joined" ? event.operator || "A support agent" : null;
  if (event.state === "joined") {
    thread.view.endTurn();
    setStatus(thread, "with_operator", true);
  } else if (event.state === "returned") {
    setStatus(thread, "idle", true);
  } else {
    setStatus(thread, thread.status, true); // the badge: waiting for a person
  }
  if (line && thread.id === app.openId) {
    announce(handoffInWords(event.state, event.operator, event.ticket_id, event.closed, "customer"));
  }
}

/**
 * A `status` that says a turn runs (or awaits approval) after that turn's `message_complete` arrived: the answer to a
 * frame (`cancel`, `resume`) overtaken by the turn's end. Applying it would leave the header saying "Answering…".
 */
function isStale(thread, event) {
  if (!["running", "awaiting_approval"].includes(event.status)) return false;
  return Number.isInteger(event.turn) && Number.isInteger(thread.completedTurn) && event.turn <= thread.completedTurn;
}

/** The answer to `resume` (and to a message an operator receives): the thread's real status and hand-off. */
function applyStatus(thread, event) {
  const before = thread.status;
  const handoffChanged = thread.handoff !== (event.handoff || null);
  thread.handoff = event.handoff || null;
  thread.ticketId = event.ticket_id || null;
  thread.operator = event.status === "with_operator" ? event.operator || "A support agent" : null;
  if (event.status === "with_operator") {
    thread.view.endTurn();
    setStatus(thread, "with_operator", true);
    return;
  }
  if (event.status === "idle") {
    thread.view.endTurn();
    setStatus(thread, "idle");
    const stale = [...thread.cards.values()].some((card) => card.isConnected && isUndecided(card));
    if (before !== "idle" || thread.missed || stale) { // the turn ended while we were away
      thread.missed = false;
      reloadTranscript(thread);
    }
  } else if (event.status === "running") {
    if (event.queued === 0 && thread.queue?.length) { // the queued messages' turn began while we were away
      thread.queue = [];
      renderQueue(thread);
    }
    setStatus(thread, "running");
    thread.missed = true; // part of this turn streamed before we (re)attached
    thread.view.setTyping(true);
  } else if (event.status === "awaiting_approval") {
    setStatus(thread, "awaiting_approval", true); // the pending `interrupt` came just before this
  }
  if (handoffChanged) setStatus(thread, thread.status, true);
}

const ERROR_HINTS = {
  thread_busy: "I'm still working on your previous message. Please wait for it to finish.",
  session_expired: "This conversation has expired. Start a new one to continue.",
  message_too_large: "That message is too long. Please shorten it.",
  internal_error: "Something went wrong on our side. Please try again.",
  not_found: NOT_FOUND_TEXT,
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
  if (code === "thread_busy" && thread.queueAcks > 0) { // a fourth message: not stored, back into the box
    thread.queueAcks -= 1;
    const refused = (thread.queue || []).pop();
    renderQueue(thread);
    if (refused && thread.id === app.openId && !ui.input.value) ui.input.value = refused.content;
    thread.view.error(code, message);
    updateComposer();
    return;
  }
  thread.view.endTurn();
  if (code === "thread_busy") {
    thread.view.error(code, message);
    resumeThread(thread);
    return;
  }
  if (code === "not_found") {
    forgetMissingThread(thread);
  } else if (code === "session_expired") {
    thread.expired = true;
    thread.view.error(code, message, newConversationButton());
  } else {
    thread.view.error(code, message);
  }
  setStatus(thread, "idle", true);
  if (thread.id === app.openId) announce(`Error: ${message}`);
}
