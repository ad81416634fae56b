// Who the customer is: the token in localStorage, else this browser's guest token (the local stack mints one per
// browser: config.guestUrl), the account dialog, and a refused token.

import { STORAGE, h, icon, isExpired, readClaims } from "../shared.js";
import { hideBanner, setConnection, showBanner } from "./render.js";
import { connect, disconnect } from "./socket.js";
import { app, config, configReady, signedInByLink, ui } from "./state.js";
import { loadLocalThreads, loadSessions, startNewThread } from "./threads.js";

const GUEST_TOKEN = "smart-support.guest-token"; // this browser's own guest customer (short-lived, renewed)
const GUEST_CHECK_MS = 60_000;
let linkSignIn = signedInByLink; // forgotten once the customer picks a token (or guest access) themselves
let asGuest = true; // no token of the customer's own: the page talks as this browser's guest
let guestRetriedAt = 0; // when a refused guest token was last replaced (at most once a minute)

/** Renewal is due once half a guest token's life is gone (or it is unreadable). */
function renewalDue(claims, now = Date.now()) {
  if (!claims || typeof claims.exp !== "number" || typeof claims.iat !== "number") return true;
  return now >= ((claims.iat + claims.exp) / 2) * 1000;
}

/** This browser's guest token, minted or renewed by the local stack when due; "" where guests get none. */
async function guestToken() {
  await configReady; // config.json says where guests get their token
  if (!config.guestUrl) return "";
  const held = localStorage.getItem(GUEST_TOKEN) || "";
  if (held && !renewalDue(readClaims(held))) return held;
  try {
    const response = await fetch(config.guestUrl, {
      method: "POST", credentials: "omit", headers: held ? { Authorization: `Bearer ${held}` } : {},
    });
    if (response.ok) {
      const { token } = await response.json();
      localStorage.setItem(GUEST_TOKEN, token);
      return token;
    }
  } catch {
    // the stack is away: keep the token held while it lasts
  }
  return isExpired(readClaims(held)) ? "" : held;
}

await guestToken(); // before the page first connects: it talks as its own guest from the start

export function readIdentity() {
  const own = localStorage.getItem(STORAGE.chatToken) || "";
  asGuest = !own;
  app.token = own || (config.guestUrl && localStorage.getItem(GUEST_TOKEN)) || "";
  app.claims = readClaims(app.token);
  app.sub = (app.claims && app.claims.sub) || (app.token ? "unknown" : "demo-customer");
  ui.accountName.textContent = asGuest ? "Guest" : (app.claims && app.claims.sub) || "Unreadable token";
  ui.account.title = asGuest ? "Guest access (a demo customer of this browser's own)" : `Signed in as ${app.sub}`;
  // Always on screen (phones too): who this page talks as. A link's ?token= that changed it is pointed out.
  const byLink = Boolean(linkSignIn);
  ui.who.textContent = asGuest ? "Guest" : `Signed in as ${app.sub}`;
  ui.who.dataset.link = String(byLink);
  ui.who.title = byLink
    ? `The link you opened signed you in as ${app.sub} (before: ${linkSignIn.from}). Not you? Change it here.`
    : ui.account.title;
}

export function openAccount() {
  ui.identity.textContent = !asGuest
    ? `Signed in as ${app.sub}${app.claims && app.claims.role ? ` (${app.claims.role})` : ""}.`
      + (isExpired(app.claims) ? " This token has expired." : "")
    : "You're using guest access as a demo customer of this browser's own.";
  ui.tokenInput.value = "";
  ui.dialog.showModal();
  ui.tokenInput.focus();
}

/** Talk as whoever is now signed in (a token of the customer's own, or the guest): reconnect, reload the threads. */
function switchIdentity() {
  disconnect();
  readIdentity();
  loadLocalThreads();
  app.openId = null;
  hideBanner();
  app.attempt = 0;
  connect();
  startNewThread();
  loadSessions();
}

export async function applyToken(token) {
  linkSignIn = null;
  if (token) localStorage.setItem(STORAGE.chatToken, token);
  else localStorage.removeItem(STORAGE.chatToken);
  if (!token) await guestToken();
  switchIdentity();
}

/** Keeps the guest token renewed while the page is open; the connections and requests that follow use the new one. */
async function keepGuest() {
  if (!asGuest) return;
  const token = await guestToken();
  if (!asGuest || !token || token === app.token) return;
  if ((readClaims(token) || {}).sub !== app.sub) {
    switchIdentity(); // the old guest expired while the page slept: a new guest, with threads of its own
    return;
  }
  app.token = token;
  app.claims = readClaims(token);
}

setInterval(keepGuest, GUEST_CHECK_MS);

export async function authFailed() {
  if (asGuest && config.guestUrl && Date.now() - guestRetriedAt > GUEST_CHECK_MS) {
    guestRetriedAt = Date.now(); // a refused guest token (another secret, expired): this browser gets a new guest
    localStorage.removeItem(GUEST_TOKEN);
    if (await guestToken()) {
      switchIdentity();
      return;
    }
  }
  disconnect();
  setConnection("unauthorized");
  const expired = isExpired(app.claims);
  const text = !app.token
    ? "This chat needs a sign-in token."
    : expired ? "Your sign-in token has expired." : "Your sign-in token was rejected (invalid or expired).";
  showBanner("error", text, h("button", { class: "btn btn-small btn-primary", type: "button", "data-testid": "banner-signin",
    onclick: openAccount }, icon("key"), "Paste a token"));
}
