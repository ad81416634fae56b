// The conversation view the web chat and the operator console render transcripts with (live and replayed).
// No build step: a plain ES module.

import { renderMarkdown } from "./markdown.js";
import {
  agentLabel, changesInWords, deciderInWords, describeAction, formatClock, h, icon, outcomeOf, ranArgs, requestedArgs,
  toolInWords,
} from "./shared.js";

/**
 * One conversation's messages: user bubbles, streamed assistant bubbles labelled by agent, tool-call chips,
 * approval outcomes, a human operator's bubbles, hand-off lines and inline errors. The chat adds live approval
 * cards through `append`.
 */
export class TranscriptView {
  constructor({ threadId, perspective = "customer", label = "Conversation" } = {}) {
    this.perspective = perspective;
    this.root = h("div", {
      class: "transcript", role: "log", "aria-live": "polite", "aria-relevant": "additions",
      "aria-label": label, "data-testid": "transcript", "data-thread-id": threadId, "data-perspective": perspective,
    });
    this.stream = null; // {el, text, agent, chunks, source} of the assistant bubble being streamed
    this.toolRow = null;
    this.typing = null;
    this.escalating = false; // the hand-off agent opened a ticket: its answer says so (see `handoff`)
  }

  get isEmpty() {
    return !this.root.querySelector(".msg, .tool-row, .approval, .inline-error, .system-line");
  }

  clear() {
    this.root.replaceChildren();
    this.stream = null;
    this.toolRow = null;
    this.typing = null;
    this.escalating = false;
  }

  /** Append a node keeping the typing indicator last and the view scrolled to the bottom if it was. */
  append(node) {
    const scroller = this.root.closest(".scroll") || this.root;
    const nearBottom = scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 120;
    this.root.querySelector(".empty-state")?.remove();
    this.root.append(node);
    if (this.typing) this.root.append(this.typing);
    if (nearBottom) scroller.scrollTop = scroller.scrollHeight;
    return node;
  }

  addUser(content, at, messageId) {
    this.stream = null;
    this.toolRow = null;
    this.escalating = false;
    if (messageId && this.root.querySelector(`[data-message-id="${CSS.escape(messageId)}"]`)) return null;
    return this.append(h("div", { class: "msg user", "data-testid": "msg-user", "data-message-id": messageId || null },
      h("div", { class: "bubble" }, h("div", { class: "text", "data-testid": "msg-text" }, content)),
      at ? h("time", { class: "msg-time", datetime: at, text: formatClock(at) }) : null));
  }

  toolCall(agent, tool, args) {
    if (this.stream) this.finishStream();
    if (!this.toolRow) {
      this.toolRow = this.append(h("div", {
        class: "tool-row", role: "group", "data-testid": "tool-calls", "aria-label": "Actions taken",
      }));
    }
    if (tool === "escalate_to_human") this.escalating = true;
    const raw = `${tool}(${JSON.stringify(args || {})})`;
    this.toolRow.append(h("span", {
      class: `chip tool-chip agent-${agent || "supervisor"}`, "data-testid": "tool-chip", "data-tool": tool, title: raw,
    }, icon("tool"), h("span", { text: toolInWords(tool, args || {}) })));
  }

  /**
   * Append a streamed chunk: the bubble's Markdown is drawn again as it grows (a list or a link completes as its
   * pieces arrive). A new bubble starts when the agent changes.
   */
  token(agent, content) {
    if (!this.stream || this.stream.agent !== agent) {
      if (this.stream) this.finishStream();
      this.stream = this.startAssistant(agent, new Date().toISOString());
    }
    this.stream.source += content;
    this.stream.text.replaceChildren(renderMarkdown(this.stream.source));
    this.stream.chunks += 1;
    this.stream.el.dataset.chunks = String(this.stream.chunks);
    const scroller = this.root.closest(".scroll") || this.root;
    if (scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 160) scroller.scrollTop = scroller.scrollHeight;
  }

  startAssistant(agent, at) {
    this.toolRow = null;
    const text = h("div", { class: "text markdown", "data-testid": "msg-text" });
    const el = h("div", {
      class: `msg assistant agent-${agent || "supervisor"}`, "data-testid": "msg-assistant",
      "data-agent": agent || "supervisor", "data-state": "streaming", "data-chunks": "0", "aria-busy": "true",
    },
    h("div", { class: "avatar", "aria-hidden": "true", text: initials(agentLabel(agent)) }),
    h("div", { class: "bubble" },
      h("div", { class: "meta" }, h("span", { class: "agent-name", "data-testid": "agent-label", text: agentLabel(agent) }),
        at ? h("time", { datetime: at, text: formatClock(at) }) : null),
      text));
    this.append(el);
    return { el, text, agent, chunks: 0, source: "" };
  }

  finishStream() {
    if (!this.stream) return;
    this.stream.el.dataset.state = "done";
    this.stream.el.removeAttribute("aria-busy");
    this.stream = null;
  }

  /** The answer being streamed starts over (`answer_restart`): its bubble goes; the tokens that follow replace it. */
  dropStream() {
    this.stream?.el.remove();
    this.stream = null;
  }

  /** The customer stopped the answer: its bubble says so (or a note, if nothing was said yet). */
  stopped() {
    const last = this.stream?.el;
    this.finishStream();
    if (last) last.dataset.stopped = "true";
    else this.append(h("div", { class: "inline-note", "data-testid": "stopped-note", text: "Stopped" }));
  }

  /** The turn ended: close the bubble, drop the typing indicator. */
  endTurn() {
    this.finishStream();
    this.toolRow = null;
    this.setTyping(false);
  }

  setTyping(on, label = "Assistant is typing") {
    if (on && !this.typing) {
      this.typing = h("div", { class: "typing", "data-testid": "typing", "aria-label": label, role: "status" },
        h("span"), h("span"), h("span"));
      this.root.append(this.typing);
    } else if (!on && this.typing) {
      this.typing.remove();
      this.typing = null;
    }
  }

  /** A human operator's message: a bubble of its own, with the person's name (never an agent label). */
  operator(content, name, at, messageId) {
    this.finishStream();
    this.toolRow = null;
    if (messageId && this.root.querySelector(`[data-message-id="${CSS.escape(messageId)}"]`)) return null;
    const who = name || "Support agent";
    return this.append(h("div", {
      class: "msg operator", "data-testid": "msg-operator", "data-operator": who, "data-message-id": messageId || null,
    },
    h("div", { class: "avatar", "aria-hidden": "true", text: initials(who) }),
    h("div", { class: "bubble" },
      h("div", { class: "meta" },
        h("span", { class: "agent-name", "data-testid": "operator-name", text: who }),
        h("span", { class: "person-tag", text: "Support agent" }),
        at ? h("time", { datetime: at, text: formatClock(at) }) : null),
      h("div", { class: "text", "data-testid": "msg-text" }, content))));
  }

  /**
   * A hand-off event as a line across the conversation: a person was asked for, joined, or left. The customer is not
   * told twice that a person was asked for: when the hand-off agent opened the ticket, its answer says so (no line;
   * returns null). A ticket opened otherwise (an approval nobody decided in time) gets its line.
   */
  handoff({ state, operator, ticket_id: ticketId, closed, at }) {
    this.finishStream();
    this.toolRow = null;
    const escalated = this.escalating;
    this.escalating = false;
    if (state === "requested" && escalated && this.perspective === "customer") return null;
    const text = handoffInWords(state, operator, ticketId, closed, this.perspective);
    return this.append(h("div", {
      class: `system-line handoff-${state}`, role: "status", "data-testid": "handoff-note", "data-state": state,
      "data-ticket-id": ticketId || null,
    }, icon(state === "returned" ? "chat" : "headset"), h("span", { class: "system-text", text }),
    at ? h("time", { datetime: at, text: formatClock(at) }) : null));
  }

  /**
   * A resolved approval as a compact card (replay, and the console's transcript): what ran (after an approver's
   * edits), how it ended, who decided and their comment. `entry` is a transcript `decision` entry or an
   * `interrupt_resolved` event (then `requested_args` is the original request, when the chat or console knew it).
   */
  decision(entry) {
    this.finishStream();
    this.toolRow = null;
    const words = decisionInWords(entry, this.perspective);
    const card = h("article", {
      class: `approval resolved state-${words.state}`, "data-testid": "approval-card",
      "data-interrupt-id": entry.interrupt_id, "data-state": words.state, "data-outcome": words.outcome,
      "data-decided-by": entry.decided_by,
    },
    h("div", { class: "approval-head" },
      icon(words.icon, "icon badge-icon"),
      h("div", { class: "approval-heading" },
        h("div", { class: "approval-kicker", "data-testid": "approval-kicker", text: words.kicker }),
        h("h2", { class: "approval-title", "data-testid": "approval-description", text: words.title }))),
    h("div", { class: "approval-result", "data-testid": "approval-result", text: words.result }));
    fillDecisionDetails(card, words);
    return this.append(card);
  }

  /** An inline error: the message, the server's code (unless it says nothing more than the words, `showCode`). */
  error(code, message, extra, { showCode = true } = {}) {
    this.finishStream();
    this.setTyping(false);
    return this.append(h("div", { class: "inline-error", role: "alert", "data-testid": "chat-error", "data-code": code || "error" },
      icon("alert"), h("div", {}, h("div", { class: "error-text", text: message }),
        code && showCode ? h("div", { class: "error-code", text: code }) : null, extra || null)));
  }

  /** Render a stored transcript (GET /sessions/{id}/messages). */
  replay(messages) {
    this.clear();
    for (const entry of messages || []) {
      if (entry.role === "user") {
        this.addUser(entry.content || "", entry.at, entry.message_id);
      } else if (entry.role === "operator") {
        this.operator(entry.content || "", entry.operator, entry.at, entry.message_id);
      } else if (entry.role === "system" && entry.event === "handoff") {
        this.handoff(entry);
      } else if (entry.role === "assistant") {
        for (const call of entry.tool_calls || []) this.toolCall(entry.agent, call.tool, call.args);
        if (entry.content) {
          const stream = this.startAssistant(entry.agent, entry.at);
          stream.text.append(renderMarkdown(entry.content));
          stream.el.dataset.state = "done";
          stream.el.dataset.replayed = "true";
          if (entry.interrupted) stream.el.dataset.stopped = "true";
          stream.el.removeAttribute("aria-busy");
        }
        this.toolRow = entry.content ? null : this.toolRow;
      } else if (entry.role === "decision") {
        this.decision(entry);
      }
    }
    this.stream = null;
    this.toolRow = null;
  }
}

/** The card's state (`data-state`, kept from before outcomes existed) for an outcome. */
const STATE_OF = { approved: "approved", edited: "approved", rejected: "rejected", withdrawn: "withdrawn", expired: "timeout" };
const KICKER_OF = {
  approved: "Approved", edited: "Approved with changes", rejected: "Rejected", withdrawn: "Withdrawn", expired: "Timed out",
};
const ICON_OF = { approved: "check", edited: "check", rejected: "x", withdrawn: "x", expired: "clock" };

/**
 * Everything a resolved approval card says, from a decision entry or an `interrupt_resolved` event: its state and
 * outcome, kicker, title (what ran), result line (who, when), the approver's comment and what an edit changed.
 * The title is `entry.description` (the server's, said for what ran), else it is said from what ran.
 */
export function decisionInWords(entry, perspective = "customer") {
  const outcome = outcomeOf(entry);
  const ran = ranArgs(entry);
  const requested = requestedArgs(entry);
  const changes = outcome === "edited" ? changesInWords(requested, ran) : [];
  // An older record's description is the original request's: after an edit, say what ran instead.
  const stale = outcome === "edited" && !entry.requested_args && entry.edited_args;
  const title = entry.description && !stale ? entry.description
    : entry.action ? describeAction(entry.action, ran) : "Your request";
  const by = entry.decided_by;
  let comment = null;
  if (entry.comment && ["approved", "edited", "rejected"].includes(outcome)) {
    const who = by === "operator" ? "Support agent" : by === "customer" ? (perspective === "customer" ? "You" : "Customer") : "Note";
    comment = `${who}: “${entry.comment}”`;
  }
  return {
    outcome,
    state: STATE_OF[outcome],
    kicker: KICKER_OF[outcome],
    icon: ICON_OF[outcome],
    title,
    result: resultInWords(outcome, by, perspective, entry.at),
    comment,
    changes,
    args: ran,
  };
}

/** The comment and the "what changed" line of a resolved card (replacing any it had). */
export function fillDecisionDetails(card, words) {
  card.querySelector(".approval-changes")?.remove();
  card.querySelector(".approval-comment")?.remove();
  const result = card.querySelector(".approval-result");
  const extra = [];
  if (words.changes.length) {
    extra.push(h("p", { class: "approval-changes", "data-testid": "approval-changes" },
      words.changes.map(([label, before, after], i) => [
        i ? "; " : "", `${label}: `, h("del", { text: before }), " → ", h("ins", { text: after }),
      ]).flat()));
  }
  if (words.comment) extra.push(h("p", { class: "approval-comment", "data-testid": "approval-comment", text: words.comment }));
  result.after(...extra);
}

/** The result line of a resolved approval, e.g. "Approved by a support agent · 10:42". Takes an outcome (or a
 * card state: `timeout` is `expired`). */
export function resultInWords(outcome, decidedBy, perspective, at) {
  const when = at ? ` · ${formatClock(at)}` : "";
  const who = deciderInWords(decidedBy, perspective);
  switch (outcome) {
    case "timeout":
    case "expired": return `Timed out: nothing was changed${when}`;
    case "withdrawn": return `Withdrawn by ${decidedBy === "operator" ? who : perspective === "customer" ? "you" : "the customer"}: nothing was changed${when}`;
    case "edited": return `Approved with changes by ${who}${when}`;
    case "approved": return `Approved by ${who}${when}`;
    default: return `Rejected by ${who}${when}`;
  }
}

/** What a hand-off event means, for the customer ("you") or for an operator ("the customer"). */
export function handoffInWords(state, operator, ticketId, closed, perspective = "customer") {
  const who = operator || "A support agent";
  const customer = perspective === "customer";
  if (state === "requested") {
    return customer
      ? "You asked for a person. A support agent will join this conversation; meanwhile the assistant keeps helping."
      : `The customer asked for a person${ticketId ? ` (ticket ${ticketId})` : ""}.`;
  }
  if (state === "joined") return customer ? `${who} from the support team joined the conversation.` : `${who} joined the conversation.`;
  if (closed) {
    if (customer) return "The support team closed your request.";
    return ticketId ? `Ticket ${ticketId} closed.` : "Ticket closed.";
  }
  return customer ? `${who} left the conversation. The assistant is back.` : `${who} handed the conversation back to the assistant.`;
}

function initials(label) {
  return label.split(/\s+/).filter(Boolean).slice(0, 2).map((w) => w[0].toUpperCase()).join("");
}
