// The chat's chrome: the thread list, the header, a thread's and the connection's status, banners, screen-reader
// announcements and the conversation list drawer (phone width). It draws from the state and announces on the bus
// what the modules above it act on: a thread picked in the list (`open-thread`), a status that changed what the
// message box allows (`status-changed`).

import { emit } from "../bus.js";
import { formatRelative, h, icon } from "../shared.js";
import { app, byRecent, currentThread, ui } from "./state.js";

export function renderThreadList() {
  const threads = [...app.threads.values()].filter((t) => (t.known || t.id === app.openId) && !t.missing).sort(byRecent);
  const items = threads.map((thread) => {
    const badge = statusBadge(thread);
    return h("li", {},
      h("button", {
        class: `thread-item${thread.id === app.openId ? " active" : ""}`, type: "button",
        "data-testid": "thread-item", "data-thread-id": thread.id, "data-status": thread.status,
        "aria-current": thread.id === app.openId ? "page" : null, onclick: () => emit("open-thread", thread.id),
      },
      h("span", { class: "thread-title", text: thread.title || (thread.known ? "Conversation" : "New conversation") }),
      h("span", { class: "thread-meta" },
        badge ? h("span", { class: `badge ${badge.tone}`, text: badge.text }) : null,
        thread.updatedAt ? h("time", { datetime: thread.updatedAt, text: formatRelative(thread.updatedAt) }) : null),
      thread.unread
        ? h("span", { class: "unread-dot", role: "img", title: "New activity", "aria-label": "New activity" }) : null));
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
  if (thread.expired && !thread.missing) return { tone: "muted", text: "Expired" };
  if (thread.handoff === "requested") return { tone: "warn", text: "Waiting for a person" };
  return null;
}

export function renderHeader() {
  const thread = currentThread();
  ui.title.textContent = !thread ? "Support" : thread.missing ? "Conversation not found"
    : thread.title || (thread.known ? "Conversation" : "New conversation");
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
  emit("status-changed");
}

export function setStatus(thread, status, force = false) {
  if (thread.status === status && !force) return;
  thread.status = status;
  if (status === "idle") thread.approver = null;
  renderThreadList();
  if (thread.id === app.openId) {
    renderHeader();
    emit("status-changed");
  }
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
