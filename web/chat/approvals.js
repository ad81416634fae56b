// Approval cards: an `interrupt` becomes a card with Approve / Reject (or "Waiting for a support agent"),
// the decision goes out as `interrupt_response`, and `interrupt_resolved` shows the outcome: what ran (after an
// operator's edits), who decided and their comment, or that the customer withdrew it or it timed out. Also the
// once-a-second tick: card countdowns, the reconnect banner's countdown and the check on quiet turns.

import { actionLabel, argsInWords, describeAction, formatCountdown, h, icon, outcomeOf, parseTime } from "../shared.js";
import { decisionInWords, fillDecisionDetails } from "../transcript.js";
import { announce } from "./render.js";
import { isOpen, renderReconnectBanner, resumeThread, sendFrame } from "./socket.js";
import { app, ui } from "./state.js";

const STALL_CHECK_MS = 45_000; // no event for this long while a turn runs: ask the server for the status

export function showApprovalCard(thread, event) {
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
      h("div", { class: "approval-kicker", "data-testid": "approval-kicker",
        text: waiting ? "Waiting for a support agent" : "Your approval is needed" }),
      h("h2", { class: "approval-title", id: titleId, "data-testid": "approval-description",
        text: event.description || describeAction(event.action, event.args) })),
    h("span", { class: "countdown", "data-testid": "approval-countdown", "data-expires-at": event.expires_at,
      "data-prefix": waiting ? "Decided within" : "Expires in" })),
  h("dl", { class: "approval-args", "data-testid": "approval-args" }, argRows(event.action, event.args)),
  waiting
    ? h("p", { class: "approval-note", "data-testid": "approval-waiting" }, h("span", { class: "spinner" }),
      "A support agent has to approve this request. Keep this page open: it updates here as soon as they decide.")
    : h("div", { class: "approval-actions" }, approve, reject,
      h("span", { class: "approval-note muted", text: "Nothing changes until you approve." })),
  h("div", { class: "approval-result", "data-testid": "approval-result", role: "status" }));
  requests.set(card, { action: event.action, args: event.args || {}, description: event.description });
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

export function isUndecided(card) {
  return ["pending", "waiting", "deciding"].includes(card.dataset.state);
}

function decide(thread, card, approved) {
  if (!isUndecided(card)) return;
  const frame = { type: "interrupt_response", thread_id: thread.id, interrupt_id: card.dataset.interruptId, approved };
  if (!sendFrame(frame)) {
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

export function cardError(card, message, code) {
  const result = card.querySelector(".approval-result");
  result.textContent = message;
  result.dataset.code = code;
  card.classList.add("has-error");
  if (card.dataset.state === "deciding") {
    card.dataset.state = card.dataset.approver === "operator" ? "waiting" : "pending";
    for (const button of card.querySelectorAll("button")) button.disabled = false;
  }
}

/** The request a live card shows (its action, arguments and the server's description), kept for its outcome. */
const requests = new WeakMap();

/** The undecided card of a thread (at most one is pending at a time), or null. */
export function openCard(thread) {
  return [...thread.cards.values()].find((card) => card.isConnected && isUndecided(card)) || null;
}

export function resolveApprovalCard(thread, event) {
  const card = thread.cards.get(event.interrupt_id);
  const request = card ? requests.get(card) : null;
  const at = new Date().toISOString();
  const outcome = outcomeOf(event);
  // `args` is what runs (after an operator's edits); the card knows what was asked for.
  const entry = {
    ...event, at, action: event.action || request?.action, args: event.args || request?.args || {},
    requested_args: outcome === "edited" ? request?.args : undefined,
    description: event.description || (outcome === "edited" ? undefined : request?.description),
  };
  if (!card || !card.isConnected) {
    thread.view.decision(entry);
    return;
  }
  const words = decisionInWords(entry, "customer");
  const hadFocus = card.contains(document.activeElement);
  card.dataset.state = words.state;
  card.dataset.outcome = words.outcome;
  card.dataset.decidedBy = event.decided_by;
  delete card.dataset.decision;
  card.className = `approval resolved state-${words.state}`;
  card.querySelector(".approval-actions")?.remove();
  card.querySelector(".approval-note")?.remove();
  card.querySelector(".countdown")?.remove();
  const kicker = card.querySelector(".approval-kicker");
  if (kicker) kicker.textContent = words.kicker;
  const title = card.querySelector(".approval-title");
  if (title) title.textContent = words.title;
  const args = card.querySelector(".approval-args");
  if (args) args.replaceChildren(...argRows(entry.action, words.args));
  card.querySelector(".badge-icon")?.replaceWith(icon(words.icon, "icon badge-icon"));
  const result = card.querySelector(".approval-result");
  result.textContent = words.result;
  delete result.dataset.code;
  card.classList.remove("has-error");
  fillDecisionDetails(card, words);
  if (thread.id === app.openId) {
    announce([words.kicker, words.title, words.comment].filter(Boolean).join(". "));
    if (hadFocus) ui.input.focus();
  }
}

function argRows(action, args) {
  return [["Request", actionLabel(action)], ...argsInWords(args)].map(([label, value]) =>
    h("div", { class: "arg" }, h("dt", { text: label }), h("dd", { text: value })));
}

/** Once a second and when a card appears: the cards' countdowns, the reconnect banner's, and quiet turns. */
export function tickCountdowns() {
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
