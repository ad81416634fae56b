// The operator console: the approval queue (approve/reject with a comment), transcripts on demand,
// analytics, escalation tickets and the audit log. Refreshes itself every few seconds.
// The page and its behaviour: docs/web.md. This entry wires the page's events (tabs, pause, sign-out, drawer) and
// boots; the rest is in console/ (state, session, approvals, reports, drawer).

import { STORAGE, adoptTokenFromUrl } from "./shared.js";
import { tickCountdowns } from "./console/approvals.js";
import { closeDrawer, loadTranscript } from "./console/drawer.js";
import { loadAudit } from "./console/reports.js";
import { readToken, refresh, renderRefreshState, showError, showGate, signIn, signOut } from "./console/session.js";
import { $, state, ui } from "./console/state.js";

adoptTokenFromUrl(STORAGE.operatorToken);

function selectTab(name, focus = false) {
  state.tab = name;
  for (const tab of document.querySelectorAll("[role=tab]")) {
    const selected = tab.dataset.tab === name;
    tab.setAttribute("aria-selected", String(selected));
    tab.tabIndex = selected ? 0 : -1;
    if (selected && focus) tab.focus();
    $(tab.getAttribute("aria-controls")).hidden = !selected;
  }
  if (name === "audit" && state.token) loadAudit().catch((err) => showError(err.message));
}

function wire() {
  ui.tokenForm.addEventListener("submit", (event) => {
    event.preventDefault();
    const token = ui.tokenInput.value.trim();
    if (token) signIn(token);
  });
  ui.tokenInput.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey) {
      event.preventDefault();
      ui.tokenForm.requestSubmit();
    }
  });
  ui.signout.addEventListener("click", () => signOut());
  ui.pause.addEventListener("click", () => {
    state.paused = !state.paused;
    ui.pause.setAttribute("aria-pressed", String(state.paused));
    ui.pause.textContent = state.paused ? "Resume" : "Pause";
    if (!state.paused) refresh();
    renderRefreshState();
  });
  const tabs = [...document.querySelectorAll("[role=tab]")];
  for (const tab of tabs) {
    tab.addEventListener("click", () => selectTab(tab.dataset.tab));
    tab.addEventListener("keydown", (event) => {
      const i = tabs.indexOf(tab);
      if (event.key === "ArrowRight") selectTab(tabs[(i + 1) % tabs.length].dataset.tab, true);
      if (event.key === "ArrowLeft") selectTab(tabs[(i - 1 + tabs.length) % tabs.length].dataset.tab, true);
    });
  }
  ui.drawerClose.addEventListener("click", closeDrawer);
  ui.drawerScrim.addEventListener("click", closeDrawer);
  ui.drawerRefresh.addEventListener("click", () => state.drawerThread && loadTranscript(state.drawerThread).catch(() => {}));
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape") closeDrawer();
  });
  setInterval(tickCountdowns, 1000);
}

function boot() {
  wire();
  readToken();
  if (state.token) signIn(state.token);
  else showGate();
  document.body.dataset.ready = "true";
}

boot();
