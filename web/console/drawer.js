// The transcript drawer: a conversation id in any table opens the thread's status, its replayed transcript
// and its pending approval, reloaded by the refresh loop when it changed.

import { describeAction, formatRelative, h, icon, titleCase } from "../shared.js";
import { TranscriptView } from "../transcript.js";
import { tickCountdowns } from "./approvals.js";
import { signOut } from "./session.js";
import { api, authProblemText, isAuthProblem, state, ui } from "./state.js";

export function threadButton(threadId) {
  return h("button", {
    class: "link mono", type: "button", "data-testid": "view-thread", "data-thread-id": threadId,
    title: `Open conversation ${threadId}`, onclick: (event) => openDrawer(threadId, event.currentTarget),
  }, threadId.length > 22 ? `${threadId.slice(0, 20)}…` : threadId);
}

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

export function closeDrawer() {
  if (ui.drawer.hidden) return;
  ui.drawer.hidden = true;
  ui.drawerScrim.hidden = true;
  state.drawerThread = null;
  if (state.drawerOpener && state.drawerOpener.isConnected) state.drawerOpener.focus();
}

export async function loadTranscript(threadId, { quiet = false } = {}) {
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
