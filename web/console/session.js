// Sign-in and the refresh loop: the token gate, signing in and out (and the live WebSocket with it), and reloading
// every panel every few seconds (Pause stops it). The top of console/, under console.js.

import { STORAGE, readClaims } from "../shared.js";
import { loadApprovals, removeRow } from "./approvals.js";
import { closeDrawer, loadTranscript } from "./drawer.js";
import { loadInbox } from "./inbox.js";
import { connectLive, disconnectLive } from "./live.js";
import { hideError, showError } from "./page.js";
import { loadAnalytics, loadAudit } from "./reports.js";
import { authProblemText, isAuthProblem, state, ui } from "./state.js";

const REFRESH_MS = 3000;

export async function refresh() {
  if (state.refreshing || !state.token) return;
  state.refreshing = true;
  const jobs = [loadApprovals().then(loadInbox), loadAnalytics()]; // the inbox lists the pending approvals too
  if (state.tab === "audit") jobs.push(loadAudit());
  if (state.drawerThread) jobs.push(loadTranscript(state.drawerThread, { quiet: true }));
  const results = await Promise.allSettled(jobs);
  state.refreshing = false;
  const failure = results.find((r) => r.status === "rejected");
  if (!failure) {
    state.lastOk = Date.now();
    hideError();
  } else if (isAuthProblem(failure.reason)) {
    signOut(authProblemText(failure.reason));
    return;
  } else {
    showError(`${failure.reason.message} Retrying every ${REFRESH_MS / 1000} s.`);
  }
  renderRefreshState();
}

function startRefreshing() {
  stopRefreshing();
  refresh();
  state.timer = setInterval(() => {
    if (!state.paused) refresh();
    renderRefreshState();
  }, REFRESH_MS);
}

function stopRefreshing() {
  clearInterval(state.timer);
  state.timer = null;
}

export function renderRefreshState() {
  const ago = state.lastOk ? Math.round((Date.now() - state.lastOk) / 1000) : null;
  const updated = ago === null ? "not loaded yet" : ago < 2 ? "updated just now" : `updated ${ago} s ago`;
  ui.refreshState.textContent = state.paused ? `Paused · ${updated}` : `Live · ${updated}`;
  ui.refreshState.dataset.state = state.paused ? "paused" : "live";
}

export function readToken() {
  state.token = localStorage.getItem(STORAGE.operatorToken) || "";
  state.claims = readClaims(state.token);
}

export function showGate(message) {
  stopRefreshing();
  closeDrawer();
  ui.main.hidden = true;
  ui.topActions.hidden = true;
  ui.gate.hidden = false;
  ui.gateError.hidden = !message;
  ui.gateError.textContent = message || "";
  ui.tokenInput.value = "";
  ui.tokenInput.focus();
}

export function signOut(message) {
  disconnectLive();
  localStorage.removeItem(STORAGE.operatorToken);
  state.token = "";
  state.claims = null;
  for (const id of [...state.rows.keys()]) removeRow(id);
  hideError();
  showGate(message);
}

export function signIn(token) {
  localStorage.setItem(STORAGE.operatorToken, token);
  readToken();
  ui.gate.hidden = true;
  ui.main.hidden = false;
  ui.topActions.hidden = false;
  const role = state.claims && state.claims.role;
  ui.who.textContent = state.claims ? `${state.claims.sub || "?"} · ${role || "no role"}` : "token";
  ui.who.title = "Who this token says you are (the server checks it)";
  hideError();
  state.lastOk = 0;
  renderRefreshState();
  startRefreshing();
  connectLive();
}
