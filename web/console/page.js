// The page around the panels: its error banner, the toast, and every countdown on it (the queue's rows, the
// conversation panel's pending approval), ticked once a second by console.js and whenever one appears.

import { formatCountdown, h, icon, parseTime } from "../shared.js";
import { state, ui } from "./state.js";

export function showError(text) {
  ui.error.replaceChildren(icon("alert"), h("span", { class: "banner-text", text }));
  ui.error.hidden = false;
}

export function hideError() {
  ui.error.hidden = true;
}

export function toast(text) {
  clearTimeout(state.toastTimer);
  ui.toast.textContent = text;
  ui.toast.hidden = false;
  state.toastTimer = setTimeout(() => { ui.toast.hidden = true; }, 3500);
}

export function tickCountdowns() {
  const now = Date.now();
  for (const el of document.querySelectorAll("[data-expires-at]")) {
    const left = (parseTime(el.dataset.expiresAt) ?? now) - now;
    el.textContent = left > 0 ? formatCountdown(left) : "Expired";
    el.classList.toggle("urgent", left < 60_000);
  }
}
