// The customer web chat: threads, streamed answers, approval cards, reconnect with backoff and `resume`.
// Protocol: docs/protocol.md; the page and its behaviour: docs/web.md. This entry wires the page's events (and what
// the modules announce on the bus) and boots; the rest is in chat/, each module importing only those below it:
// state, render, socket, approvals, composer, threads, events, account.

import { on } from "./bus.js";
import { formatRelative } from "./shared.js";
import { applyToken, authFailed, openAccount, readIdentity } from "./chat/account.js";
import { tickCountdowns } from "./chat/approvals.js";
import {
  autosize, confirmWithdraw, flushOutbox, keepWaiting, sendMessage, stopAnswer, updateComposer,
} from "./chat/composer.js";
import { applyBuffered, onFrame } from "./chat/events.js";
import { announce, closeSidebar, openSidebar } from "./chat/render.js";
import { connect, reconnectNow } from "./chat/socket.js";
import { app, configReady, signedInByLink, ui } from "./chat/state.js";
import {
  addThread, loadLocalThreads, loadSessions, openThread, startNewThread, threadFromHash,
} from "./chat/threads.js";

function wire() {
  on("frame", onFrame); // socket.js: a server frame
  on("auth-failed", authFailed); // socket.js, threads.js: the token was refused
  on("open-thread", openThread); // render.js: a thread picked in the list
  on("status-changed", updateComposer); // render.js: the connection's or the open thread's status
  on("transcript-loaded", applyBuffered); // threads.js: the live events that waited for the transcript
  on("connected", flushOutbox); // socket.js: the socket is open, the messages sent meanwhile go out
  ui.composer.addEventListener("submit", (event) => {
    event.preventDefault();
    sendMessage();
  });
  ui.input.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      sendMessage();
    }
  });
  ui.stop.addEventListener("click", stopAnswer);
  ui.withdrawYes.addEventListener("click", confirmWithdraw);
  ui.withdrawNo.addEventListener("click", keepWaiting);
  ui.stopConfirm.addEventListener("keydown", (event) => {
    if (event.key === "Escape") {
      event.preventDefault();
      event.stopPropagation();
      keepWaiting();
    }
  });
  window.addEventListener("resize", autosize);
  ui.input.addEventListener("input", () => {
    autosize();
    updateComposer();
  });
  ui.newThread.addEventListener("click", () => startNewThread());
  ui.menu.addEventListener("click", () => (ui.app.classList.contains("sidebar-open") ? closeSidebar() : openSidebar()));
  ui.scrim.addEventListener("click", closeSidebar);
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && ui.app.classList.contains("sidebar-open")) {
      closeSidebar();
      ui.menu.focus();
    }
  });
  ui.account.addEventListener("click", openAccount);
  ui.who.addEventListener("click", openAccount);
  ui.dialog.addEventListener("close", () => {
    const choice = ui.dialog.returnValue;
    ui.dialog.returnValue = "";
    if (choice === "save" && ui.tokenInput.value.trim()) applyToken(ui.tokenInput.value.trim());
    else if (choice === "clear") applyToken("");
    ui.input.focus();
  });
  window.addEventListener("hashchange", () => {
    const id = threadFromHash();
    if (id && id !== app.openId) {
      addThread(id, { known: true });
      openThread(id);
    }
  });
  window.addEventListener("online", reconnectNow);
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible" && app.conn === "reconnecting") reconnectNow();
  });
  setInterval(tickCountdowns, 1000);
  setInterval(() => {
    for (const el of ui.threadList.querySelectorAll("time[datetime]")) el.textContent = formatRelative(el.dateTime);
  }, 30_000);
  document.documentElement.dataset.chat = "wired"; // chat-early.js stops standing in for the message box
}

async function boot() {
  wire();
  readIdentity();
  if (signedInByLink) announce(`The link you opened signed you in as ${signedInByLink.to}.`);
  loadLocalThreads();
  const fromHash = threadFromHash();
  if (fromHash) {
    addThread(fromHash, { known: true });
    openThread(fromHash, { focus: true });
  } else {
    startNewThread();
  }
  if (document.documentElement.dataset.sendOnReady) { // Enter was pressed before this ran (chat-early.js)
    delete document.documentElement.dataset.sendOnReady;
    sendMessage();
  }
  await configReady; // the socket and the API need config.json; the message box did not wait for it
  connect();
  await loadSessions();
  document.body.dataset.ready = "true";
}

boot();
