// The read-only panels: analytics (GET /api/v1/analytics) and the audit log (GET /api/v1/audit).

import {
  argsInWords, changesInWords, describeAction, formatDateTime, h, outcomeOf, ranArgs, requestedArgs, titleCase,
} from "../shared.js";
import { threadButton } from "./drawer.js";
import { api, ui } from "./state.js";

export async function loadAnalytics() {
  const a = await api("/analytics");
  const interrupts = a.interrupts || {};
  const latency = a.turn_latency_ms || {};
  // The percentiles are histogram bucket bounds: "at most".
  const ms = (v) => (v === null || v === undefined ? "—"
    : `≤ ${v >= 1000 ? `${(v / 1000).toFixed(v % 1000 ? 1 : 0)} s` : `${v} ms`}`);
  const handoffs = a.handoffs || {};
  const seconds = (v) => (v === null || v === undefined ? "—" : `≤ ${v >= 3600 ? `${v / 3600} h` : v >= 60 ? `${v / 60} min` : `${v} s`}`);
  const tools = Object.entries(a.tool_usage || {}).sort((x, y) => y[1] - x[1]);
  const maxTool = Math.max(1, ...tools.map(([, n]) => n));
  ui.analytics.replaceChildren(
    stat("sessions", "Conversations", a.sessions ?? 0),
    stat("turns", "Turns", a.turns ?? 0, a.failed_turns ? `${a.failed_turns} failed` : "none failed"),
    h("div", { class: "stat wide", "data-testid": "stat-approvals" },
      h("div", { class: "stat-label", text: "Approvals" }),
      h("div", { class: "stat-split" },
        split("approved", "Approved", interrupts.approved ?? 0, "ok"),
        split("rejected", "Rejected", interrupts.rejected ?? 0, "danger"),
        split("expired", "Expired", interrupts.expired ?? 0, "muted")),
      h("div", { class: "stat-foot", text: `${interrupts.requested ?? 0} requested` })),
    h("div", { class: "stat wide", "data-testid": "stat-handoffs" },
      h("div", { class: "stat-label", text: "Hand-offs" }),
      h("div", { class: "stat-split" },
        split("handoffs-requested", "Requested", handoffs.requested ?? 0, "warn"),
        split("handoffs-joined", "Joined", handoffs.joined ?? 0, "ok")),
      h("div", { class: "stat-foot", "data-testid": "stat-time-to-join", text: `median time to join ${seconds(handoffs.median_seconds_to_join)}` })),
    stat("latency", "Turn latency", `${ms(latency.p50)}`, `p50 · p95 ${ms(latency.p95)}`),
    h("div", { class: "stat tools", "data-testid": "tool-usage" },
      h("div", { class: "stat-label", text: "Tool usage" }),
      tools.length
        ? h("ul", { class: "bars" }, tools.slice(0, 6).map(([tool, n]) => h("li", {},
          h("span", { class: "bar-label mono", text: tool }),
          h("span", { class: "bar" }, h("span", { class: "bar-fill", style: `width:${Math.round((n / maxTool) * 100)}%` })),
          h("span", { class: "bar-value", text: n }))))
        : h("div", { class: "muted small", text: "No tool calls yet." })),
  );
}

function stat(key, label, value, foot) {
  return h("div", { class: "stat", "data-testid": `stat-${key}` },
    h("div", { class: "stat-label", text: label }),
    h("div", { class: "stat-value", "data-testid": `stat-${key}-value`, text: value }),
    foot ? h("div", { class: "stat-foot", text: foot }) : null);
}

function split(key, label, value, tone) {
  return h("div", { class: `split ${tone}`, "data-testid": `stat-${key}` },
    h("span", { class: "split-value", text: value }), h("span", { class: "split-label", text: label }));
}

const OUTCOME_LABELS = {
  approved: "Approved", edited: "Approved with changes", rejected: "Rejected", withdrawn: "Withdrawn", expired: "Expired",
};
const OUTCOME_TONES = { approved: "ok", edited: "ok", rejected: "danger", withdrawn: "muted", expired: "muted" };
// An approved write that changed nothing (`ran: false`), by what the write reported (`result`).
const NOT_RUN = {
  not_allowed: "the order could no longer be changed",
  not_changed: "the order was already in that state",
};

/**
 * The audit log: each decision's request as it ran (after an operator's edits, with what was asked for), the
 * customer, the outcome, who decided and their comment.
 */
export async function loadAudit() {
  const { decisions = [] } = await api("/audit");
  ui.auditEmpty.hidden = decisions.length > 0;
  ui.auditBody.replaceChildren(...decisions.map((d) => {
    const outcome = outcomeOf(d);
    const ran = ranArgs(d);
    const requested = requestedArgs(d);
    const changes = outcome === "edited" ? changesInWords(requested, ran) : [];
    // Said from what ran when an edit changed it (a record's description may be the original request's).
    const title = outcome === "edited" && !d.requested_args ? describeAction(d.action, ran) : d.description || describeAction(d.action, ran);
    const by = d.decided_by === "timeout" ? "Timeout" : `${titleCase(d.decided_by || d.role || "?")}${d.decided_by_id ? ` · ${d.decided_by_id}` : ""}`;
    return h("tr", { "data-testid": "audit-row", "data-interrupt-id": d.interrupt_id, "data-outcome": outcome },
      h("td", { "data-label": "When" }, h("time", { datetime: d.decided_at, text: formatDateTime(d.decided_at) })),
      h("td", { "data-label": "Request" },
        h("div", { class: "strong", "data-testid": "audit-description", text: title }),
        h("div", { class: "sub", "data-testid": "audit-args",
          text: argsInWords(ran).map(([label, value]) => `${label}: ${value}`).join(" · ") }),
        changes.length ? h("div", { class: "sub", "data-testid": "audit-changes",
          text: `Changed from the request: ${changes.map(([label, before, after]) => `${label} ${before} → ${after}`).join("; ")}` }) : null,
        d.approved && d.ran === false ? h("div", { class: "sub", "data-testid": "audit-not-run",
          text: `Did not run: ${NOT_RUN[d.result] || "the order was not changed"}.` }) : null,
        d.thread_id ? threadButton(d.thread_id) : null),
      h("td", { "data-label": "Customer", text: d.customer_id || "—" }),
      h("td", { "data-label": "Outcome" },
        h("span", { class: `badge ${OUTCOME_TONES[outcome] || "muted"}`, text: OUTCOME_LABELS[outcome] || titleCase(outcome) })),
      h("td", { "data-label": "Decided by", text: by }),
      h("td", { "data-label": "Comment", class: "summary", text: d.comment || "—" }));
  }));
}
