// The console's tabs (Inbox, Approvals, Audit log): selecting one shows its panel and loads what it needs.

import { showError } from "./page.js";
import { loadAudit } from "./reports.js";
import { $, state } from "./state.js";

export function selectTab(name, focus = false) {
  state.tab = name;
  for (const tab of document.querySelectorAll("[role=tab]")) {
    const selected = tab.dataset.tab === name;
    tab.setAttribute("aria-selected", String(selected));
    tab.tabIndex = selected ? 0 : -1;
    if (selected && focus) tab.focus();
    $(tab.getAttribute("aria-controls")).hidden = !selected;
  }
  if (name === "audit" && state.token) loadAudit().catch((err) => showError(err.message));
}
