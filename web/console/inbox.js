// The inbox: open and assigned tickets (GET /api/v1/tickets?status=…) and the pending approvals, oldest first;
// or the closed tickets. Each row opens the conversation (the drawer) or jumps to the approval's row.

import { formatDateTime, formatRelative, h, icon, parseTime, truncate } from "../shared.js";
import { openDrawer } from "./drawer.js";
import { selectTab } from "./tabs.js";
import { api, state, ui } from "./state.js";

const KINDS = {
  escalation: "Asked for a person",
  approval_timeout: "Approval timed out",
  takeover: "Joined by an operator",
  approval: "Approval waiting",
};

export async function loadInbox() {
  let tickets;
  let more = false;
  if (state.inboxFilter === "closed") {
    const page = await api(`/tickets?status=closed&limit=${state.inboxLimit}`);
    tickets = page.tickets || [];
    more = Boolean(page.next_cursor) && state.inboxLimit < 100;
  } else {
    const [open, assigned] = await Promise.all([
      api(`/tickets?status=open&limit=${state.inboxLimit}`),
      api(`/tickets?status=assigned&limit=${state.inboxLimit}`),
    ]);
    tickets = [...(open.tickets || []), ...(assigned.tickets || [])];
    more = Boolean(open.next_cursor || assigned.next_cursor) && state.inboxLimit < 100;
  }
  const approvals = state.inboxFilter === "closed" ? [] : [...state.pending.values()];
  const items = [
    ...tickets.map((t) => ({ kind: "ticket", at: t.created_at, ticket: t })),
    ...approvals.map((a) => ({ kind: "approval", at: a.requested_at, approval: a })),
  ];
  if (state.inboxFilter !== "closed") items.sort((a, b) => (parseTime(a.at) ?? 0) - (parseTime(b.at) ?? 0));
  ui.inboxBody.replaceChildren(...items.map((item) => (item.kind === "ticket" ? ticketRow(item.ticket) : approvalRow(item.approval))));
  ui.inboxEmpty.hidden = items.length > 0;
  ui.inboxEmpty.querySelector("strong").textContent = state.inboxFilter === "closed" ? "No closed tickets." : "Nobody is waiting.";
  ui.inboxMore.hidden = !more;
  if (state.inboxFilter !== "closed") {
    const waiting = tickets.filter((t) => t.status === "open").length + approvals.length;
    ui.countInbox.textContent = String(items.length);
    ui.countInbox.classList.toggle("hot", waiting > 0);
  }
}

function ticketRow(t) {
  const status = t.status === "assigned" ? `Assigned to ${t.assignee_name || t.assignee}`
    : t.status === "closed" ? "Closed" : "Open";
  const tone = { open: "warn", assigned: "ok", closed: "muted" }[t.status] || "muted";
  const notes = (t.notes || []).length;
  return h("tr", {
    "data-testid": "inbox-row", "data-kind": "ticket", "data-ticket-id": t.ticket_id, "data-thread-id": t.thread_id,
    "data-status": t.status,
  },
  h("td", { "data-label": "Request" },
    h("div", { class: "kind", text: KINDS[t.kind] || t.kind }),
    h("div", { class: "strong summary", text: truncate(t.summary, 160) }),
    h("div", { class: "sub" }, h("span", { class: "mono", text: t.ticket_id }),
      notes ? h("span", { text: `${notes} note${notes === 1 ? "" : "s"}` }) : null)),
  h("td", { "data-label": "Customer" }, h("span", { class: "customer", text: t.customer_id })),
  h("td", { "data-label": "Status" }, h("span", { class: `badge ${tone}`, "data-testid": "inbox-status", text: status })),
  h("td", { "data-label": "Waiting" }, h("time", {
    datetime: t.created_at, title: formatDateTime(t.created_at), text: formatRelative(t.closed_at || t.created_at),
  })),
  h("td", { "data-label": "Conversation" }, h("button", {
    class: "btn btn-small btn-primary", type: "button", "data-testid": "inbox-open",
    onclick: (event) => openDrawer(t.thread_id, event.currentTarget, t.ticket_id),
  }, icon("chat"), "Open")));
}

function approvalRow(a) {
  return h("tr", {
    "data-testid": "inbox-row", "data-kind": "approval", "data-interrupt-id": a.interrupt_id, "data-thread-id": a.thread_id,
  },
  h("td", { "data-label": "Request" },
    h("div", { class: "kind", text: KINDS.approval }),
    h("div", { class: "strong summary", text: a.description })),
  h("td", { "data-label": "Customer" }, h("span", { class: "customer", text: a.customer_id })),
  h("td", { "data-label": "Status" }, h("span", {
    class: "badge warn", text: a.approver === "operator" ? "Needs an operator" : "Customer may decide",
  })),
  h("td", { "data-label": "Waiting" }, h("time", { datetime: a.requested_at, text: formatRelative(a.requested_at) })),
  h("td", { "data-label": "Conversation" }, h("div", { class: "row-actions" },
    h("button", { class: "btn btn-small btn-primary", type: "button", "data-testid": "inbox-decide",
      onclick: () => showApproval(a.interrupt_id) }, icon("shield"), "Decide"),
    h("button", { class: "btn btn-small btn-secondary", type: "button", "data-testid": "inbox-open",
      onclick: (event) => openDrawer(a.thread_id, event.currentTarget) }, icon("chat"), "Open"))));
}

function showApproval(interruptId) {
  selectTab("approvals");
  const row = state.rows.get(interruptId);
  if (!row) return;
  row.scrollIntoView({ block: "center" });
  row.querySelector("input.comment")?.focus();
}
