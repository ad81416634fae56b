// The web chat's state, shared by its modules: the configuration (config.json), the page's elements (`ui`),
// the mutable `app` object (who is signed in, the threads, the socket, its timers) and the thread list this browser
// remembers. The bottom of chat/: it imports none of the others, and they import only downward (see ../bus.js).

import { STORAGE, adoptTokenFromUrl, loadConfig, parseTime } from "../shared.js";

// First, before anything loads: a ?token= leaves the address bar (and is remembered if it changed who is signed in).
export const signedInByLink = adoptTokenFromUrl(STORAGE.chatToken);

/**
 * Where the WebSocket and the HTTP API live, once config.json is read (`configReady`). Only the socket and the API
 * wait for it: the page and its message box work at once, so nothing typed in the first second is lost.
 */
export const config = { wsBase: "", apiBase: "" };
export const configReady = loadConfig().then((loaded) => Object.assign(config, loaded));

const $ = (id) => document.getElementById(id);

export const ui = {
  app: $("app"),
  threadList: $("thread-list"),
  newThread: $("new-thread"),
  host: $("transcript-host"),
  title: $("thread-title"),
  threadStatus: $("thread-status"),
  conn: $("connection-status"),
  connText: $("connection-text"),
  banner: $("banner"),
  composer: $("composer"),
  input: $("composer-input"),
  send: $("send-button"),
  stop: $("stop-button"),
  stopConfirm: $("stop-confirm"),
  stopConfirmText: $("stop-confirm-text"),
  withdrawYes: $("withdraw-yes"),
  withdrawNo: $("withdraw-no"),
  queuedTray: $("queued-tray"),
  hint: $("composer-hint"),
  counter: $("composer-counter"),
  live: $("live-status"),
  menu: $("menu-button"),
  scrim: $("scrim"),
  account: $("account-button"),
  accountName: $("account-name"),
  who: $("who-chip"),
  dialog: $("account-dialog"),
  identity: $("account-identity"),
  tokenInput: $("token-input"),
};

export const app = {
  token: "",
  claims: null,
  sub: "demo-customer",
  threads: new Map(),
  openId: null,
  ws: null,
  conn: "connecting",
  attempt: 0,
  retryTimer: null,
  retryAt: 0,
  pingTimer: null,
  serial: 0,
  hintTimer: null,
  lastSentThread: null, // where an error without thread_id (frame too large, invalid) belongs
  outbox: [], // messages sent before the socket was open: {threadId, content, at, messageId}, sent once it opens
  confirmingWithdraw: null, // the thread whose "Withdraw this request?" is on screen
};

export function currentThread() {
  return app.openId ? app.threads.get(app.openId) : null;
}

export function byRecent(a, b) {
  return (parseTime(b.updatedAt) ?? Number.MAX_SAFE_INTEGER) - (parseTime(a.updatedAt) ?? Number.MAX_SAFE_INTEGER);
}

/** The threads this browser remembers, per user in localStorage (threads.js reads them back). */
export function saveThreads() {
  const list = [...app.threads.values()]
    .filter((t) => t.known && !t.expired)
    .sort(byRecent)
    .slice(0, 50)
    .map((t) => ({ id: t.id, title: t.title, updatedAt: t.updatedAt }));
  localStorage.setItem(STORAGE.threads(app.sub), JSON.stringify(list));
}
