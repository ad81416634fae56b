// The operator console's state, shared by its modules: the configuration (config.json), the page's elements (`ui`),
// the mutable `state` object, and the HTTP API called with the operator's token. The bottom of console/: it imports
// none of the others, and they import only downward (see ../bus.js).

import { STORAGE, adoptTokenFromUrl, apiFetch, fetchTranscript, loadConfig } from "../shared.js";

// First, before anything loads: a ?token= leaves the address bar (and is remembered if it changed who is signed in).
export const signedInByLink = adoptTokenFromUrl(STORAGE.operatorToken);
export const config = await loadConfig();

export const $ = (id) => document.getElementById(id);

export const ui = {
  error: $("console-error"),
  gate: $("token-gate"),
  tokenForm: $("token-form"),
  tokenInput: $("operator-token-input"),
  gateError: $("gate-error"),
  main: $("console-main"),
  topActions: $("top-actions"),
  who: $("who"),
  refreshState: $("refresh-state"),
  pause: $("pause-button"),
  signout: $("signout-button"),
  analytics: $("analytics"),
  approvalsBody: $("approvals-body"),
  approvalsEmpty: $("approvals-empty"),
  inboxBody: $("inbox-body"),
  inboxEmpty: $("inbox-empty"),
  inboxFilter: $("inbox-filter"),
  inboxMore: $("inbox-more"),
  auditBody: $("audit-body"),
  auditEmpty: $("audit-empty"),
  countApprovals: $("count-approvals"),
  countInbox: $("count-inbox"),
  drawer: $("transcript-panel"),
  drawerScrim: $("drawer-scrim"),
  drawerTitle: $("drawer-title"),
  drawerSub: $("drawer-sub"),
  drawerBody: $("drawer-body"),
  drawerClose: $("drawer-close"),
  drawerRefresh: $("drawer-refresh"),
  drawerLive: $("drawer-live"),
  handoffBar: $("handoff-bar"),
  ticketPanel: $("ticket-panel"),
  ticketSummary: $("ticket-summary"),
  ticketNotes: $("ticket-notes"),
  noteForm: $("note-form"),
  noteInput: $("note-input"),
  composer: $("operator-composer"),
  composerInput: $("operator-input"),
  composerSend: $("operator-send"),
  toast: $("toast"),
};

export const state = {
  token: "",
  claims: null,
  timer: null,
  paused: false,
  lastOk: 0,
  refreshing: false,
  tab: "inbox",
  rows: new Map(), // interrupt_id -> <tr>
  pending: new Map(), // interrupt_id -> approval
  inboxFilter: "active", // open and assigned tickets (and pending approvals), or closed tickets
  inboxLimit: 50,
  drawerThread: null,
  drawerOpener: null,
  drawerSignature: null,
  drawerSession: null, // GET /sessions/{id} of the open conversation
  drawerTicket: null, // its ticket, if any
  drawerView: null, // the TranscriptView live events go to
  drawerLoading: null,
  drawerBuffer: [], // live events that arrive while the transcript loads
  toastTimer: null,
  live: { ws: null, serial: 0, attempt: 0, timer: null, open: false, watching: null },
};

export function api(path, options = {}) {
  return apiFetch(config.apiBase, path, { ...options, token: state.token });
}

/** A thread's whole transcript (the replay is paginated: this follows `next_cursor`). */
export function transcript(threadId) {
  return fetchTranscript(config.apiBase, threadId, { token: state.token });
}

/** A refused token or a customer's token stops the console and asks for an operator token. */
export function isAuthProblem(err) {
  return err && (err.code === "token_rejected" || err.code === "forbidden" || err.code === "unauthorized");
}

export function authProblemText(err) {
  if (err.code === "forbidden") {
    const who = state.claims && state.claims.sub ? `${state.claims.sub} (${state.claims.role || "customer"})` : "a customer";
    return `This token belongs to ${who}: the console needs an operator token (HTTP 403).`;
  }
  if (err.code === "unauthorized") return `${err.message || "The token was rejected."} (HTTP 401)`;
  return `The token was rejected: it is invalid or has expired (HTTP ${err.status}).`;
}
