// Who the customer is: the token in localStorage (or guest access), the account dialog, and a refused token.

import { STORAGE, h, icon, isExpired, readClaims } from "../shared.js";
import { hideBanner, setConnection, showBanner } from "./render.js";
import { connect, disconnect } from "./socket.js";
import { app, signedInByLink, ui } from "./state.js";
import { loadLocalThreads, loadSessions, startNewThread } from "./threads.js";

let linkSignIn = signedInByLink; // forgotten once the customer picks a token (or guest access) themselves

export function readIdentity() {
  app.token = localStorage.getItem(STORAGE.chatToken) || "";
  app.claims = readClaims(app.token);
  app.sub = (app.claims && app.claims.sub) || (app.token ? "unknown" : "demo-customer");
  ui.accountName.textContent = app.token ? (app.claims && app.claims.sub) || "Unreadable token" : "Guest";
  ui.account.title = app.token ? `Signed in as ${app.sub}` : "Guest access (demo customer)";
  // Always on screen (phones too): who this page talks as. A link's ?token= that changed it is pointed out.
  const byLink = Boolean(linkSignIn);
  ui.who.textContent = app.token ? `Signed in as ${app.sub}` : "Guest";
  ui.who.dataset.link = String(byLink);
  ui.who.title = byLink
    ? `The link you opened signed you in as ${app.sub} (before: ${linkSignIn.from}). Not you? Change it here.`
    : ui.account.title;
}

export function openAccount() {
  ui.identity.textContent = app.token
    ? `Signed in as ${app.sub}${app.claims && app.claims.role ? ` (${app.claims.role})` : ""}.`
      + (isExpired(app.claims) ? " This token has expired." : "")
    : "You're using guest access as the demo customer.";
  ui.tokenInput.value = "";
  ui.dialog.showModal();
  ui.tokenInput.focus();
}

export function applyToken(token) {
  linkSignIn = null;
  if (token) localStorage.setItem(STORAGE.chatToken, token);
  else localStorage.removeItem(STORAGE.chatToken);
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

export function authFailed() {
  disconnect();
  setConnection("unauthorized");
  const expired = isExpired(app.claims);
  const text = !app.token
    ? "This chat needs a sign-in token."
    : expired ? "Your sign-in token has expired." : "Your sign-in token was rejected (invalid or expired).";
  showBanner("error", text, h("button", { class: "btn btn-small btn-primary", type: "button", "data-testid": "banner-signin",
    onclick: openAccount }, icon("key"), "Paste a token"));
}
