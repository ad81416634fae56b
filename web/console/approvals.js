// The approval queue (GET /api/v1/approvals?status=pending): one row per pending approval, updated in
// place, with a comment and Approve / Reject (POST /api/v1/approvals/{interrupt_id}) and a live countdown.

import { emit } from "../bus.js";
import {
  actionLabel, amountCentsOf, argsInWords, centsInWords, describeAction, formatDateTime, formatRelative, h, icon,
} from "../shared.js";
import { loadTranscript, threadButton } from "./drawer.js";
import { tickCountdowns, toast } from "./page.js";
import { loadAudit } from "./reports.js";
import { api, isAuthProblem, state, ui } from "./state.js";

const DECIDED_ROW_LINGER_MS = 4000;

export async function loadApprovals() {
  const data = await api("/approvals?status=pending");
  const approvals = data.approvals || [];
  const seen = new Set();
  for (const approval of approvals) {
    seen.add(approval.interrupt_id);
    state.pending.set(approval.interrupt_id, approval);
    const row = state.rows.get(approval.interrupt_id);
    if (row) updateApprovalRow(row, approval);
    else addApprovalRow(approval);
  }
  for (const [id, row] of state.rows) {
    if (!seen.has(id) && !row.dataset.outcome) { // decided elsewhere (the customer, another operator, timeout)
      row.dataset.outcome = "gone";
      row.classList.add("leaving");
      setTimeout(() => removeRow(id), 400);
    }
  }
  renderApprovalsCount();
}

function renderApprovalsCount() {
  const live = [...state.rows.values()].filter((r) => !r.dataset.outcome).length;
  ui.countApprovals.textContent = String(live);
  ui.countApprovals.classList.toggle("hot", live > 0);
  ui.approvalsEmpty.hidden = state.rows.size > 0;
  document.title = live ? `(${live}) Operator console · Smart Support` : "Operator console · Smart Support";
}

export function removeRow(id) {
  state.rows.get(id)?.remove();
  state.rows.delete(id);
  state.pending.delete(id);
  renderApprovalsCount();
}

/** The order's total in cents (the queue may say it in dollars, `order_total`, or in cents). */
function orderTotalCents(approval) {
  if (Number.isFinite(approval.order_total_cents)) return approval.order_total_cents;
  return Number.isFinite(approval.order_total) ? Math.round(approval.order_total * 100) : null;
}

/** Dollars as an operator types them, from cents: 12900 -> "129.00". */
function dollarsField(cents) {
  return cents === null ? "" : (cents / 100).toFixed(2);
}

/**
 * Inputs for the arguments an operator may change before approving (refund amount, shipping address). The amount
 * is typed in dollars (the edit is POSTed as `amount`), shown from the request's `amount_cents`.
 */
function editFields(approval) {
  return (approval.editable || []).map((key) => {
    const total = orderTotalCents(approval);
    const isAmount = key === "amount" || key === "amount_cents";
    const original = isAmount ? dollarsField(amountCentsOf(approval.args)) : String(approval.args?.[key] ?? "");
    const attrs = isAmount
      ? { type: "number", min: "0.01", step: "0.01", max: total === null ? null : dollarsField(total), inputmode: "decimal" }
      : { type: "text", maxlength: "300" };
    const input = h("input", {
      class: "field edit", ...attrs, value: original, "data-key": isAmount ? "amount" : key, "data-original": original,
      "data-testid": `approval-edit-${isAmount ? "amount" : key}`,
      "aria-label": isAmount ? "Amount to refund, in dollars" : "Shipping address",
    });
    return h("label", { class: "edit-field" },
      h("span", { class: "sub", text: isAmount ? `Amount${total === null ? "" : ` (max ${centsInWords(total)})`}` : "Address" }),
      input);
  });
}

/** The edits typed into a row: only the fields that differ from the request (the amount in dollars, `amount`). */
function editsOf(row) {
  const edits = {};
  for (const input of row.querySelectorAll("input.edit")) {
    const value = input.value.trim();
    if (input.dataset.key === "amount") {
      if (value !== "" && Number(value) === Number(input.dataset.original)) continue;
      edits.amount = value === "" ? value : Number(value); // blank: the server explains what it needs
    } else if (value !== input.dataset.original) {
      edits[input.dataset.key] = value;
    }
  }
  return edits;
}

function contextOf(approval) {
  const recent = approval.recent_messages || [];
  if (!recent.length) return null;
  return h("details", { class: "context", "data-testid": "approval-context" },
    h("summary", { text: `Last ${recent.length} message${recent.length === 1 ? "" : "s"}` }),
    h("ol", { class: "context-list" }, recent.map((m) =>
      h("li", { class: `context-${m.role}` },
        h("strong", { text: { user: "Customer: ", operator: "Support agent: " }[m.role] || "Assistant: " }),
        h("span", { text: m.content })))));
}

function addApprovalRow(approval) {
  const comment = h("input", {
    class: "field comment", type: "text", maxlength: "1000", placeholder: "Comment (optional)",
    "aria-label": `Comment on: ${approval.description}`, "data-testid": "approval-comment",
  });
  const approve = h("button", { class: "btn btn-small btn-ok", type: "button", "data-testid": "approval-approve" },
    icon("check"), "Approve");
  const reject = h("button", { class: "btn btn-small btn-danger", type: "button", "data-testid": "approval-reject" },
    icon("x"), "Reject");
  const status = h("div", { class: "row-status", role: "status", "data-testid": "approval-row-status" });
  const row = h("tr", {
    class: "approval-row entering", "data-testid": "approval-row", "data-interrupt-id": approval.interrupt_id,
    "data-thread-id": approval.thread_id,
  },
  h("td", { "data-label": "Customer" }, h("span", { class: "customer", text: approval.customer_id })),
  h("td", { "data-label": "Conversation" }, threadButton(approval.thread_id)),
  h("td", { "data-label": "Request" },
    h("div", { class: "strong", "data-testid": "approval-description", text: approval.description || describeAction(approval.action, approval.args) }),
    h("div", { class: "sub" }, h("span", { text: actionLabel(approval.action) }),
      approval.approver === "operator"
        ? h("span", { class: "badge warn", text: "Operator only" })
        : h("span", { class: "badge muted", text: "Customer may decide too" }))),
  h("td", { "data-label": "Details" }, h("dl", { class: "kv" },
    argsInWords(approval.args).map(([k, v]) => h("div", {}, h("dt", { text: k }), h("dd", { text: v })))),
  contextOf(approval)),
  h("td", { "data-label": "Requested" }, h("time", { class: "requested", datetime: approval.requested_at,
    title: formatDateTime(approval.requested_at), text: formatRelative(approval.requested_at) })),
  h("td", { "data-label": "Expires" }, h("span", { class: "countdown", "data-expires-at": approval.expires_at,
    title: formatDateTime(approval.expires_at) })),
  h("td", { class: "decision-cell", "data-label": "Decision" },
    h("div", { class: "decision" }, ...editFields(approval), comment,
      h("div", { class: "decision-buttons" }, approve, reject), status)));
  approve.addEventListener("click", () => decide(approval.interrupt_id, true));
  reject.addEventListener("click", () => decide(approval.interrupt_id, false));
  comment.addEventListener("keydown", (event) => {
    if (event.key === "Enter") {
      event.preventDefault();
      approve.focus();
    }
  });
  state.rows.set(approval.interrupt_id, row);
  // oldest first, as the API returns them
  ui.approvalsBody.append(row);
  requestAnimationFrame(() => row.classList.remove("entering"));
  tickCountdowns();
}

function updateApprovalRow(row, approval) {
  const requested = row.querySelector("time.requested");
  requested.textContent = formatRelative(approval.requested_at);
  row.querySelector("[data-expires-at]").dataset.expiresAt = approval.expires_at;
}

async function decide(interruptId, approved) {
  const row = state.rows.get(interruptId);
  if (!row || row.dataset.outcome) return;
  const comment = row.querySelector("input.comment").value.trim();
  const edits = approved ? editsOf(row) : {};
  const status = row.querySelector(".row-status");
  for (const control of row.querySelectorAll("button:not(.link), input")) control.disabled = true;
  row.dataset.outcome = "deciding";
  status.className = "row-status";
  status.textContent = approved ? "Approving…" : "Rejecting…";
  try {
    const body = { approved };
    if (comment) body.comment = comment;
    if (Object.keys(edits).length) body.args = edits;
    await api(`/approvals/${encodeURIComponent(interruptId)}`, { method: "POST", body });
    row.dataset.outcome = approved ? "approved" : "rejected";
    status.className = `row-status ${approved ? "ok" : "rejected"}`;
    const edited = Object.keys(edits).length ? " (edited)" : "";
    status.replaceChildren(icon(approved ? "check" : "x"), approved ? `Approved${edited}` : "Rejected");
    toast(`${approved ? "Approved" : "Rejected"}: ${state.pending.get(interruptId)?.description || interruptId}`);
    if (state.tab === "audit") loadAudit().catch(() => {});
    if (state.drawerThread === row.dataset.threadId) loadTranscript(state.drawerThread, { quiet: true }).catch(() => {});
  } catch (err) {
    if (isAuthProblem(err)) {
      emit("auth-failed", err);
      return;
    }
    const known = {
      404: "This approval no longer exists.",
      409: "Someone already decided this request.",
      410: "This approval expired before the decision; nothing was changed.",
    }[err.status];
    row.dataset.outcome = `error-${err.status || "network"}`;
    status.className = "row-status error";
    status.textContent = known || `Could not save the decision: ${err.message}`;
    if (!known) { // invalid edits (422, still pending) or a transient failure: let the operator try again
      delete row.dataset.outcome;
      for (const control of row.querySelectorAll("button, input")) control.disabled = false;
      return;
    }
  }
  row.classList.add("decided");
  renderApprovalsCount();
  setTimeout(() => {
    row.classList.add("leaving");
    setTimeout(() => removeRow(interruptId), 400);
  }, DECIDED_ROW_LINGER_MS);
}
