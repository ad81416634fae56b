// The conversation panel: a thread's transcript, live while the console watches it (live.js), and the hand-off:
// join (POST …/takeover), reply (POST …/messages), hand back (POST …/release), and the ticket's assignee, notes and
// closing (POST /tickets/{id}). Opened from the inbox, the approval queue or any conversation id. On the bus: a
// refused token (`auth-failed`), and a hand-off or ticket that changed (`ticket-changed`: the inbox reloads).

import { emit } from "../bus.js";
import { describeAction, formatClock, formatRelative, h, icon, outcomeOf, titleCase } from "../shared.js";
import { TranscriptView } from "../transcript.js";
import { setLive, unwatch, watch } from "./live.js";
import { tickCountdowns, toast } from "./page.js";
import { api, isAuthProblem, state, transcript, ui } from "./state.js";

export function threadButton(threadId) {
  return h("button", {
    class: "link mono", type: "button", "data-testid": "view-thread", "data-thread-id": threadId,
    title: `Open conversation ${threadId}`, onclick: (event) => openDrawer(threadId, event.currentTarget),
  }, threadId.length > 22 ? `${threadId.slice(0, 20)}…` : threadId);
}

export async function openDrawer(threadId, opener, ticketId = null) {
  state.drawerThread = threadId;
  state.drawerSignature = null;
  state.drawerOpener = opener || null;
  state.drawerSession = null;
  state.drawerTicket = ticketId ? { ticket_id: ticketId } : null;
  state.drawerView = null;
  ui.drawerTitle.textContent = "Conversation";
  ui.drawerSub.replaceChildren(h("span", { class: "mono", text: threadId }));
  ui.handoffBar.replaceChildren();
  ui.ticketPanel.hidden = true;
  ui.drawerBody.replaceChildren(h("div", { class: "loading" }, h("span", { class: "spinner" }), "Loading conversation…"));
  ui.drawer.hidden = false;
  ui.drawerScrim.hidden = false;
  ui.drawer.dataset.threadId = threadId;
  renderComposer();
  ui.drawerClose.focus();
  watch(threadId);
  try {
    await loadTranscript(threadId);
  } catch (err) {
    if (isAuthProblem(err)) emit("auth-failed", err);
  }
}

export function closeDrawer() {
  if (ui.drawer.hidden) return;
  unwatch();
  setLive("off");
  ui.drawer.hidden = true;
  ui.drawerScrim.hidden = true;
  state.drawerThread = null;
  state.drawerSession = null;
  state.drawerTicket = null;
  state.drawerView = null;
  if (state.drawerOpener && state.drawerOpener.isConnected) state.drawerOpener.focus();
}

/** Load the thread (and its ticket); the refresh loop calls it `quiet`: then only what changed is redrawn. */
export async function loadTranscript(threadId, { quiet = false } = {}) {
  if (quiet && isLive(threadId)) { // events arrive by themselves: only the hand-off state may need a look
    await refreshHandoff(threadId);
    return;
  }
  state.drawerLoading = true;
  let session;
  let messages;
  try {
    [session, { messages }] = await Promise.all([
      api(`/sessions/${encodeURIComponent(threadId)}`),
      transcript(threadId),
    ]);
    await loadTicket(session);
  } catch (err) {
    state.drawerLoading = false;
    state.drawerBuffer = [];
    if (state.drawerThread !== threadId) return;
    if (isAuthProblem(err)) throw err;
    if (!quiet || err.code === "not_found" || err.code === "session_expired") {
      const view = new TranscriptView({ threadId, perspective: "operator" });
      view.error(err.code, ["not_found", "session_expired"].includes(err.code)
        ? "This conversation is no longer available (it expired or never existed)."
        : `Could not load the conversation: ${err.message}`);
      ui.drawerBody.replaceChildren(view.root);
      state.drawerSession = null;
      renderHandoff();
    }
    return;
  }
  if (state.drawerThread !== threadId) {
    state.drawerLoading = false;
    return;
  }
  state.drawerSession = session;
  renderHandoff();
  const signature = JSON.stringify([session, messages]);
  if (quiet && signature === state.drawerSignature) { // nothing new: keep the reader's scroll and selection
    state.drawerLoading = false;
    return;
  }
  state.drawerSignature = signature;
  const scroller = ui.drawerBody;
  const atBottom = scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 40;
  const view = new TranscriptView({ threadId, perspective: "operator", label: `Conversation ${threadId}` });
  view.replay(messages || []);
  if (session.pending_interrupt) view.append(pendingCard(session.pending_interrupt));
  if (session.status === "running") view.setTyping(true, "The assistant is answering");
  if (view.isEmpty) view.append(h("p", { class: "muted", text: "No messages yet." }));
  ui.drawerBody.replaceChildren(view.root);
  state.drawerView = view;
  state.drawerLoading = false;
  for (const frame of state.drawerBuffer.splice(0)) applyLive(frame);
  tickCountdowns();
  if (!quiet || atBottom) scroller.scrollTop = scroller.scrollHeight;
}

async function loadTicket(session) {
  const id = session.ticket_id || state.drawerTicket?.ticket_id;
  state.drawerTicket = id ? await api(`/tickets/${encodeURIComponent(id)}`).catch(() => null) : null;
}

/** The session's status and the ticket again (after a hand-off event or an action), then the header and buttons. */
async function refreshHandoff(threadId) {
  try {
    const session = await api(`/sessions/${encodeURIComponent(threadId)}`);
    await loadTicket(session);
    if (state.drawerThread !== threadId) return;
    state.drawerSession = session;
    renderHandoff();
  } catch (err) {
    if (isAuthProblem(err)) throw err;
  }
}

function isLive(threadId) {
  return state.live.open && state.live.watching === threadId && ui.drawerLive.dataset.state === "on";
}

// ---------------------------------------------------------------- live events

/** A frame from the console's WebSocket: the open conversation's events go into its transcript. */
export function onLiveEvent(frame) {
  if (frame.type === "error") {
    if (frame.thread_id && frame.thread_id === state.live.watching) {
      setLive("off");
      barMessage(frame.message, "error");
    }
    return;
  }
  if (!frame.thread_id || frame.thread_id !== state.drawerThread) return;
  if (state.drawerLoading || !state.drawerView) {
    state.drawerBuffer.push(frame);
    return;
  }
  applyLive(frame);
}

function applyLive(frame) {
  const view = state.drawerView;
  const session = state.drawerSession;
  if (!view) return;
  switch (frame.type) {
    case "status":
      setLive("on");
      if (session) {
        Object.assign(session, {
          status: frame.status, handoff: frame.handoff ?? null, ticket_id: frame.ticket_id ?? null,
          operator: frame.operator ?? null,
        });
        renderHandoff();
      }
      return;
    case "tool_call":
      view.toolCall(frame.agent, frame.tool, frame.args);
      view.setTyping(true, "The assistant is answering");
      setStatus("running");
      return;
    case "token":
      view.setTyping(false);
      view.token(frame.agent, frame.content || "");
      setStatus("running");
      return;
    case "interrupt":
      view.finishStream();
      view.setTyping(false);
      view.append(pendingCard(frame));
      tickCountdowns();
      setStatus("awaiting_approval");
      return;
    case "interrupt_resolved": {
      const card = view.root.querySelector(`[data-testid=transcript-pending][data-interrupt-id="${CSS.escape(frame.interrupt_id)}"]`);
      const request = card ? pendingRequests.get(card) : null;
      const edited = outcomeOf(frame) === "edited";
      card?.remove();
      // `args` is what runs (after an edit); the pending card knew what was asked for.
      view.decision({
        ...frame, at: new Date().toISOString(), action: frame.action || request?.action,
        args: frame.args || request?.args || {}, requested_args: edited ? request?.args : undefined,
        description: frame.description || (edited ? undefined : request?.description),
      });
      setStatus("running");
      return;
    }
    case "answer_restart":
      view.dropStream();
      return;
    case "message_complete":
      view.endTurn();
      setStatus("idle");
      return;
    case "customer_message":
      view.addUser(frame.content || "", frame.at, frame.message_id);
      return;
    case "operator_message":
      view.operator(frame.content || "", frame.operator, frame.at, frame.message_id);
      return;
    case "handoff":
      view.handoff(frame);
      refreshHandoff(state.drawerThread).then(() => emit("ticket-changed")).catch(() => {});
      return;
    case "error":
      view.error(frame.code, frame.message);
      return;
    default:
  }
}

function setStatus(status) {
  const session = state.drawerSession;
  if (!session || session.status === status) return;
  session.status = status;
  renderHandoff();
}

// ---------------------------------------------------------------- the hand-off bar, the ticket, the composer

function me() {
  return state.claims && state.claims.sub;
}

function heldByMe(session) {
  return Boolean(session && session.status === "with_operator" && session.operator_id === me());
}

function renderHeader() {
  const session = state.drawerSession;
  const threadId = state.drawerThread;
  if (!session) return;
  const statusText = session.status === "with_operator" ? `With ${session.operator || "an operator"}`
    : titleCase(session.status || "idle");
  const tone = { idle: "muted", running: "info", awaiting_approval: "warn", with_operator: "ok" }[session.status] || "muted";
  ui.drawerSub.replaceChildren(...[
    h("span", { class: "mono", text: threadId }),
    h("span", { class: `badge ${tone}`, "data-testid": "transcript-status", "data-status": session.status, text: statusText }),
    session.handoff === "requested" ? h("span", { class: "badge warn", "data-testid": "transcript-handoff", text: "Waiting for a person" }) : null,
    h("span", { class: "muted", text: `${session.turns ?? 0} turn${session.turns === 1 ? "" : "s"} · updated ${formatRelative(session.updated_at)}` }),
  ].filter(Boolean));
}

function renderHandoff() {
  renderHeader();
  renderTicket();
  renderComposer();
  const session = state.drawerSession;
  const ticket = state.drawerTicket;
  if (!session) {
    ui.handoffBar.replaceChildren();
    return;
  }
  const mine = heldByMe(session);
  const held = session.status === "with_operator";
  const busy = session.status === "running" || session.status === "awaiting_approval";
  const openTicket = ticket && ticket.status && ticket.status !== "closed";
  const text = mine ? "You are in this conversation: the assistant is paused until you hand it back."
    : held ? `${session.operator || "Another operator"} is in this conversation.`
      : session.handoff === "requested" ? "The customer is waiting for a person."
        : "The assistant answers this conversation.";
  const controls = [];
  if (mine) {
    const note = h("input", { class: "field", "data-testid": "release-note", maxlength: "2000", placeholder: "Note for the ticket (optional)", "aria-label": "Note for the ticket" });
    controls.push(note, button("release-button", "Hand back to the assistant", "btn-secondary", () => handBack(note.value)));
  } else if (!held) {
    const join = button("join-button", "Join conversation", "btn-primary", joinConversation);
    if (busy) {
      join.disabled = true;
      join.title = "Wait until the assistant finishes (or the approval is decided).";
    }
    controls.push(join);
    if (openTicket && ticket.assignee !== me()) controls.push(button("assign-button", "Assign to me", "btn-secondary", () => changeTicket({ status: "assigned" }, "Assigned to you.")));
    if (openTicket) controls.push(button("close-ticket", "Close ticket", "btn-ghost", () => changeTicket({ status: "closed" }, "Ticket closed.")));
  }
  ui.handoffBar.dataset.state = mine ? "mine" : held ? "held" : session.handoff || "ai";
  ui.handoffBar.replaceChildren(...[
    h("p", { class: "handoff-text", "data-testid": "handoff-text", text }),
    controls.length ? h("div", { class: "handoff-actions" }, controls) : null,
    h("p", { class: "handoff-status", "data-testid": "handoff-error", role: "status" }),
  ].filter(Boolean));
}

function renderTicket() {
  const ticket = state.drawerTicket;
  if (!ticket || !ticket.status) {
    ui.ticketPanel.hidden = true;
    return;
  }
  ui.ticketPanel.hidden = false;
  ui.ticketPanel.dataset.ticketId = ticket.ticket_id;
  ui.ticketPanel.dataset.status = ticket.status;
  const notes = ticket.notes || [];
  const who = ticket.status === "assigned" ? ` · ${ticket.assignee_name || ticket.assignee}` : "";
  ui.ticketSummary.textContent = `Ticket ${ticket.ticket_id} · ${titleCase(ticket.status)}${who} · ${notes.length} note${notes.length === 1 ? "" : "s"}`;
  ui.ticketNotes.replaceChildren(...notes.map((n) => h("li", { "data-testid": "ticket-note" },
    h("span", { class: "note-text", text: n.text }),
    h("span", { class: "note-meta", text: `${n.by_name || n.by} · ${formatClock(n.at)}` }))));
  if (!notes.length) ui.ticketNotes.append(h("li", { class: "muted", text: "No notes yet. Notes are internal: the customer never sees them." }));
}

function renderComposer() {
  const mine = heldByMe(state.drawerSession);
  ui.composerInput.disabled = !mine;
  ui.composerSend.disabled = !mine || !ui.composerInput.value.trim();
  ui.composerInput.placeholder = mine ? "Write to the customer…" : "Join the conversation to reply";
  ui.composer.dataset.state = mine ? "ready" : "locked";
}

function button(testid, label, tone, onclick) {
  return h("button", { class: `btn btn-small ${tone}`, type: "button", "data-testid": testid, onclick }, label);
}

function barMessage(text, tone = "") {
  const status = ui.handoffBar.querySelector(".handoff-status");
  if (!status) return;
  status.textContent = text;
  status.className = `handoff-status ${tone}`;
}

async function act(run, done) {
  for (const control of ui.handoffBar.querySelectorAll("button, input")) control.disabled = true;
  try {
    await run();
    if (done) toast(done);
  } catch (err) {
    if (isAuthProblem(err)) {
      emit("auth-failed", err);
      return;
    }
    await refreshHandoff(state.drawerThread).catch(() => {});
    barMessage(err.message, "error");
    return;
  }
  await refreshHandoff(state.drawerThread);
  emit("ticket-changed");
}

function joinConversation() {
  const threadId = state.drawerThread;
  return act(async () => {
    const body = await api(`/sessions/${encodeURIComponent(threadId)}/takeover`, { method: "POST" });
    state.drawerTicket = body.ticket;
    ui.composerInput.focus();
  }, "You joined the conversation: the assistant is paused.");
}

function handBack(note) {
  const threadId = state.drawerThread;
  const body = note.trim() ? { note: note.trim() } : {};
  return act(() => api(`/sessions/${encodeURIComponent(threadId)}/release`, { method: "POST", body }),
    "Handed back: the assistant answers again.");
}

function changeTicket(body, done) {
  const ticket = state.drawerTicket;
  if (!ticket) return Promise.resolve();
  return act(async () => {
    state.drawerTicket = await api(`/tickets/${encodeURIComponent(ticket.ticket_id)}`, { method: "POST", body });
  }, done);
}

async function sendReply() {
  const content = ui.composerInput.value.trim();
  const threadId = state.drawerThread;
  if (!content || !heldByMe(state.drawerSession)) return;
  ui.composerSend.disabled = true;
  try {
    const sent = await api(`/sessions/${encodeURIComponent(threadId)}/messages`, { method: "POST", body: { content } });
    ui.composerInput.value = "";
    state.drawerView?.operator(sent.content, sent.operator, sent.at, sent.message_id);
    ui.drawerBody.scrollTop = ui.drawerBody.scrollHeight;
  } catch (err) {
    if (isAuthProblem(err)) {
      emit("auth-failed", err);
      return;
    }
    barMessage(err.message, "error");
    await refreshHandoff(threadId).catch(() => {});
  } finally {
    renderComposer();
  }
}

async function addNote() {
  const text = ui.noteInput.value.trim();
  if (!text || !state.drawerTicket) return;
  await act(async () => {
    state.drawerTicket = await api(`/tickets/${encodeURIComponent(state.drawerTicket.ticket_id)}`,
      { method: "POST", body: { note: text } });
    ui.noteInput.value = "";
  }, "Note added.");
}

export function wireDrawer() {
  ui.composer.addEventListener("submit", (event) => {
    event.preventDefault();
    sendReply();
  });
  ui.composerInput.addEventListener("input", renderComposer);
  ui.composerInput.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      sendReply();
    }
  });
  ui.noteForm.addEventListener("submit", (event) => {
    event.preventDefault();
    addNote();
  });
}

/** The request each pending card shows, kept for the decision that replaces it. */
const pendingRequests = new WeakMap();

function pendingCard(p) {
  const card = h("article", { class: "approval state-waiting", "data-testid": "transcript-pending", "data-interrupt-id": p.interrupt_id },
    h("div", { class: "approval-head" }, icon("clock", "icon badge-icon"),
      h("div", { class: "approval-heading" },
        h("div", { class: "approval-kicker", text: p.approver === "operator" ? "Waiting for an operator" : "Waiting for a decision" }),
        h("h2", { class: "approval-title", text: p.description || describeAction(p.action, p.args) })),
      h("span", { class: "countdown", "data-expires-at": p.expires_at })),
    h("p", { class: "approval-note", text: "Decide it in the approval queue." }));
  pendingRequests.set(card, { action: p.action, args: p.args || {}, description: p.description });
  return card;
}
