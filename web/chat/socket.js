// The chat's WebSocket: connect, reconnect with exponential backoff (and the banner that counts down), ping,
// sendFrame and `resume` (frames: docs/protocol.md; behaviour: docs/web.md, "Connection"). What arrives goes on the
// bus: each frame (`frame`), an open socket (`connected`) and a refused token (`auth-failed`).

import { emit } from "../bus.js";
import { apiFetch, h, icon } from "../shared.js";
import { hideBanner, setConnection, showBanner } from "./render.js";
import { app, config, ui } from "./state.js";

const PING_EVERY_MS = 5 * 60 * 1000; // API Gateway closes a WebSocket idle for 10 minutes
const BACKOFF_FIRST_MS = 500;
const BACKOFF_MAX_MS = 30_000;

function socketUrl() {
  if (!app.token) return config.wsBase;
  return `${config.wsBase}${config.wsBase.includes("?") ? "&" : "?"}token=${encodeURIComponent(app.token)}`;
}

export function connect() {
  clearTimeout(app.retryTimer);
  app.retryTimer = null;
  const serial = ++app.serial;
  let ws;
  try {
    ws = new WebSocket(socketUrl());
  } catch (err) {
    setConnection("offline");
    showBanner("error", `The chat address is not valid (${config.wsBase}): ${err.message}`);
    return;
  }
  app.ws = ws;
  let opened = false;
  setConnection(app.attempt ? "reconnecting" : "connecting");
  ws.addEventListener("open", () => {
    if (serial !== app.serial) return;
    opened = true;
    app.attempt = 0;
    setConnection("open");
    hideBanner();
    startPing();
    for (const thread of app.threads.values()) {
      if (thread.following && thread.known && thread.loaded) resumeThread(thread);
    }
    emit("connected"); // the messages sent while it connected go out now
  });
  ws.addEventListener("message", (event) => {
    if (serial === app.serial) emit("frame", event.data);
  });
  ws.addEventListener("close", () => {
    if (serial !== app.serial) return; // a socket we closed on purpose
    app.ws = null;
    stopPing();
    for (const thread of app.threads.values()) {
      if (thread.status === "running") thread.missed = true;
      thread.view.finishStream();
    }
    if (!opened) checkSignInThenRetry();
    else scheduleReconnect();
  });
}

export function disconnect() {
  app.serial += 1;
  clearTimeout(app.retryTimer);
  stopPing();
  if (app.ws) app.ws.close(1000, "client");
  app.ws = null;
}

export function isOpen() {
  return app.ws !== null && app.ws.readyState === WebSocket.OPEN;
}

export function sendFrame(frame) {
  if (!isOpen()) return false;
  app.ws.send(JSON.stringify(frame));
  return true;
}

/** The handshake failed: a refused token (HTTP 401) looks like any network error to a browser, so ask the API. */
async function checkSignInThenRetry() {
  try {
    await apiFetch(config.apiBase, "/sessions", { token: app.token });
  } catch (err) {
    if (err.code === "token_rejected") {
      emit("auth-failed");
      return;
    }
  }
  scheduleReconnect();
}

function scheduleReconnect() {
  const base = Math.min(BACKOFF_MAX_MS, BACKOFF_FIRST_MS * 2 ** app.attempt);
  const delay = Math.round(base * (0.8 + Math.random() * 0.4));
  app.attempt += 1;
  app.retryAt = Date.now() + delay;
  setConnection("reconnecting");
  renderReconnectBanner();
  clearTimeout(app.retryTimer);
  app.retryTimer = setTimeout(connect, delay);
}

export function renderReconnectBanner() {
  const seconds = Math.max(0, Math.ceil((app.retryAt - Date.now()) / 1000));
  const text = seconds ? `Connection lost. Reconnecting in ${seconds} s…` : "Connection lost. Reconnecting…";
  const existing = ui.banner.querySelector("[data-role=reconnect-text]");
  if (existing && !ui.banner.hidden) {
    existing.textContent = text;
    return;
  }
  showBanner("warning", text, h("button", { class: "btn btn-small btn-secondary", type: "button",
    "data-testid": "reconnect-now", onclick: reconnectNow }, icon("refresh"), "Retry now"));
  ui.banner.querySelector(".banner-text").dataset.role = "reconnect-text";
}

export function reconnectNow() {
  if (app.conn === "open" || app.conn === "connecting") return;
  clearTimeout(app.retryTimer);
  connect();
}

function startPing() {
  stopPing();
  app.pingTimer = setInterval(() => sendFrame({ type: "ping" }), PING_EVERY_MS);
}

function stopPing() {
  clearInterval(app.pingTimer);
  app.pingTimer = null;
}

export function resumeThread(thread) {
  if (thread.known && !thread.expired) sendFrame({ type: "resume", thread_id: thread.id });
}
