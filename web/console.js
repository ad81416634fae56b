// The operator console: the inbox (people waiting, held conversations, approvals), the approval queue, a live
// conversation view where an operator joins, replies and hands back, analytics and the audit log.
// The page and its behaviour: docs/web.md. This entry wires the page's events (tabs, pause, sign-out, drawer, and
// what the modules announce on the bus) and boots; the rest is in console/, each module importing only those below
// it: state, page, live, drawer, reports, approvals, tabs, inbox, session.

import { on } from "./bus.js";
import { closeDrawer, loadTranscript, onLiveEvent, wireDrawer } from "./console/drawer.js";
import { loadInbox } from "./console/inbox.js";
import { showError, tickCountdowns, toast } from "./console/page.js";
import { readToken, refresh, renderRefreshState, showGate, signIn, signOut } from "./console/session.js";
import { authProblemText, signedInByLink, state, ui } from "./console/state.js";
import { selectTab } from "./console/tabs.js";

function wire() {
  on("frame", onLiveEvent); // live.js: a frame of the watched conversation
  on("auth-failed", (err) => signOut(authProblemText(err))); // approvals.js, drawer.js: the token was refused
  on("ticket-changed", () => loadInbox().catch(() => {})); // drawer.js: a hand-off or a ticket changed
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
  ui.inboxFilter.addEventListener("change", () => {
    state.inboxFilter = ui.inboxFilter.value;
    state.inboxLimit = state.inboxFilter === "closed" ? 20 : 50;
    loadInbox().catch((err) => showError(err.message));
  });
  ui.inboxMore.addEventListener("click", () => {
    state.inboxLimit = Math.min(100, state.inboxLimit + 20);
    loadInbox().catch((err) => showError(err.message));
  });
  wireDrawer();
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
  if (signedInByLink && state.token) toast(`The link you opened signed you in as ${signedInByLink.to}.`);
  document.body.dataset.ready = "true";
}

boot();
