// The chat's chrome: the thread list, the header, the connection status, banners, screen-reader
// announcements, the empty state and the conversation list drawer (phone width).

import { formatRelative, h, icon } from "../shared.js";
import { sendMessage, updateComposer } from "./composer.js";
import { reconnectNow } from "./socket.js";
import { app, currentThread, ui } from "./state.js";
import { byRecent, openThread, startNewThread } from "./threads.js";

const SUGGESTIONS = [
  "What is the status of order 1042?",
  "Please cancel order 1043",
  "I want a refund for order 1044",
  "How do returns work?",
  "Talk to a human",
];

export function renderThreadList() {
  const threads = [...app.threads.values()].filter((t) => t.known || t.id === app.openId).sort(byRecent);
  const items = threads.map((thread) => {
    const badge = statusBadge(thread);
    return h("li", {},
      h("button", {
        class: `thread-item${thread.id === app.openId ? " active" : ""}`, type: "button",
        "data-testid": "thread-item", "data-thread-id": thread.id, "data-status": thread.status,
        "aria-current": thread.id === app.openId ? "page" : null, onclick: () => openThread(thread.id),
      },
      h("span", { class: "thread-title", text: thread.title || (thread.known ? "Conversation" : "New conversation") }),
      h("span", { class: "thread-meta" },
        badge ? h("span", { class: `badge ${badge.tone}`, text: badge.text }) : null,
        thread.updatedAt ? h("time", { datetime: thread.updatedAt, text: formatRelative(thread.updatedAt) }) : null),
      thread.unread ? h("span", { class: "unread-dot", title: "New activity", "aria-label": "New activity" }) : null));
  });
  ui.threadList.replaceChildren(...items);
  if (!items.length) ui.threadList.append(h("li", { class: "thread-empty", text: "No conversations yet." }));
}

function statusBadge(thread) {
  if (thread.status === "with_operator") return { tone: "ok", text: `With ${thread.operator || "a support agent"}` };
  if (thread.status === "running") return { tone: "info", text: "Answering…" };
  if (thread.status === "awaiting_approval") {
    if (thread.approver === "operator") return { tone: "warn", text: "Waiting for an agent" };
    return { tone: "warn", text: thread.approver ? "Needs your approval" : "Awaiting approval" };
  }
  if (thread.expired) return { tone: "muted", text: "Expired" };
  if (thread.handoff === "requested") return { tone: "warn", text: "Waiting for a person" };
  return null;
}

export function renderHeader() {
  const thread = currentThread();
  ui.title.textContent = thread ? thread.title || (thread.known ? "Conversation" : "New conversation") : "Support";
  const badge = thread ? statusBadge(thread) : null;
  ui.threadStatus.hidden = !badge;
  ui.threadStatus.className = `badge ${badge ? badge.tone : ""}`;
  ui.threadStatus.textContent = badge ? badge.text : "";
  document.title = thread && thread.title ? `${thread.title} · Support` : "Support · Smart Support";
}

export function setConnection(state) {
  app.conn = state;
  ui.conn.dataset.state = state;
  ui.connText.textContent = {
    connecting: "Connecting…", open: "Connected", reconnecting: "Reconnecting…", offline: "Offline",
    unauthorized: "Signed out",
  }[state] || state;
  updateComposer();
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

export function showBanner(tone, text, action) {
  ui.banner.className = `banner ${tone}`;
  ui.banner.dataset.tone = tone;
  ui.banner.replaceChildren(icon(tone === "error" ? "alert" : "clock"), h("span", { class: "banner-text", text }),
    action || "");
  ui.banner.hidden = false;
}

export function hideBanner() {
  ui.banner.hidden = true;
  ui.banner.replaceChildren();
}

export function announce(text) {
  ui.live.textContent = "";
  requestAnimationFrame(() => { ui.live.textContent = text; });
}

export function emptyState() {
  return h("div", { class: "empty-state", "data-testid": "empty-state" },
    h("div", { class: "empty-icon", html: icon("chat").innerHTML }),
    h("h2", { text: "How can we help?" }),
    h("p", { text: "Ask about an order, track a delivery, cancel or refund an order, or ask for a person." }),
    h("div", { class: "suggestions" }, SUGGESTIONS.map((text) =>
      h("button", { class: "chip suggestion", type: "button", "data-testid": "suggestion",
        onclick: () => { ui.input.value = text; sendMessage(); } }, text))));
}

export function newConversationButton() {
  return h("button", { class: "btn btn-small btn-primary", type: "button", onclick: () => startNewThread() },
    icon("plus"), "New conversation");
}

export function openSidebar() {
  ui.app.classList.add("sidebar-open");
  ui.menu.setAttribute("aria-expanded", "true");
  ui.threadList.querySelector(".active, button")?.focus();
}

export function closeSidebar() {
  if (!ui.app.classList.contains("sidebar-open")) return;
  ui.app.classList.remove("sidebar-open");
  ui.menu.setAttribute("aria-expanded", "false");
}
