// The help-center articles an answer cites (`message_complete.citations`, docs/protocol.md): a "Sources" list of
// links under the answer. Built from DOM nodes (text is text, never markup); only absolute http(s) URLs become links,
// opened in a new tab without the opener or a referrer. The server sends only http(s) article URLs from the search
// results; this checks again, since a page should not trust what it draws.

import { h } from "../shared.js";

const MAX_CITATIONS = 5;
const MAX_TITLE = 200;
const MAX_URL = 2048;

/** The URL as a link target if it is an absolute http(s) URL, else null. */
export function safeHref(value) {
  if (typeof value !== "string" || !value || value.length > MAX_URL) return null;
  let url;
  try {
    url = new URL(value);
  } catch {
    return null;
  }
  return url.protocol === "https:" || url.protocol === "http:" ? url.href : null;
}

/** A "Sources" list for the citations, or null when none is usable. */
export function citationsNode(citations) {
  const items = [];
  const seen = new Set();
  for (const citation of Array.isArray(citations) ? citations : []) {
    const href = safeHref(citation?.url);
    const title = typeof citation?.title === "string" ? citation.title.trim().slice(0, MAX_TITLE) : "";
    if (!href || !title || seen.has(href) || items.length >= MAX_CITATIONS) continue;
    seen.add(href);
    items.push(h("li", {}, h("a", {
      href, target: "_blank", rel: "noopener noreferrer", "data-testid": "citation", text: title,
    })));
  }
  if (!items.length) return null;
  return h("nav", { class: "citations", "aria-label": "Sources", "data-testid": "citations" },
    h("span", { class: "citations-label", text: "Sources" }),
    h("ul", {}, items));
}
