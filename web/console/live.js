// The console's WebSocket (with the operator's token): `watch` the open conversation to receive its events as they
// happen (tokens, tool calls, the customer's messages, hand-offs), `unwatch` it when the panel closes. Reconnects with
// backoff and watches again; the panel's "Live" mark says where it stands. Each frame goes on the bus (`frame`:
// console.js hands it to the conversation panel). Frames: docs/protocol.md.

import { emit } from "../bus.js";
import { config, state, ui } from "./state.js";

const BACKOFF_FIRST_MS = 500;
const BACKOFF_MAX_MS = 15_000;
const PING_EVERY_MS = 5 * 60 * 1000; // API Gateway closes a WebSocket idle for 10 minutes

export function connectLive() {
  const live = state.live;
  clearTimeout(live.timer);
  if (!state.token) return;
  const serial = ++live.serial;
  const base = config.wsBase;
  let ws;
  try {
    ws = new WebSocket(`${base}${base.includes("?") ? "&" : "?"}token=${encodeURIComponent(state.token)}`);
  } catch {
    scheduleReconnect();
    return;
  }
  live.ws = ws;
  ws.addEventListener("open", () => {
    if (serial !== live.serial) return;
    live.open = true;
    live.attempt = 0;
    live.watching = null;
    live.ping = setInterval(() => send({ type: "ping" }), PING_EVERY_MS);
    if (state.drawerThread) watch(state.drawerThread);
  });
  ws.addEventListener("message", (event) => {
    if (serial !== live.serial) return;
    let frame;
    try {
      frame = JSON.parse(event.data);
    } catch {
      return;
    }
    if (frame && typeof frame === "object" && frame.type !== "pong") emit("frame", frame);
  });
  ws.addEventListener("close", () => {
    if (serial !== live.serial) return;
    live.open = false;
    live.ws = null;
    live.watching = null;
    clearInterval(live.ping);
    setLive("off");
    scheduleReconnect();
  });
}

export function disconnectLive() {
  const live = state.live;
  live.serial += 1;
  clearTimeout(live.timer);
  clearInterval(live.ping);
  if (live.ws) live.ws.close(1000, "signed out");
  live.ws = null;
  live.open = false;
  live.watching = null;
}

/** Receive this conversation's events here (and stop receiving the one watched before). */
export function watch(threadId) {
  const live = state.live;
  if (live.watching && live.watching !== threadId) unwatch();
  if (!live.open) {
    setLive("connecting");
    return;
  }
  if (send({ type: "watch", thread_id: threadId })) {
    live.watching = threadId;
    setLive("connecting");
  }
}

export function unwatch() {
  const live = state.live;
  if (live.watching) send({ type: "unwatch", thread_id: live.watching });
  live.watching = null;
}

/** The conversation panel's "Live" mark: on, connecting… or nothing. */
export function setLive(value) {
  ui.drawerLive.dataset.state = value;
  ui.drawerLive.textContent = { on: "Live", connecting: "Connecting…", off: "" }[value] ?? "";
}

function send(frame) {
  const ws = state.live.ws;
  if (!ws || ws.readyState !== WebSocket.OPEN) return false;
  ws.send(JSON.stringify(frame));
  return true;
}

function scheduleReconnect() {
  const live = state.live;
  if (!state.token) return;
  const delay = Math.min(BACKOFF_MAX_MS, BACKOFF_FIRST_MS * 2 ** live.attempt) * (0.8 + Math.random() * 0.4);
  live.attempt += 1;
  live.timer = setTimeout(connectLive, delay);
}
