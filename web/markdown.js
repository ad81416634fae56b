// Safe Markdown for the assistant's answers. The answer is model text, so it is never parsed as HTML: this builds DOM
// nodes (elements from a short list, and text nodes), and whatever it does not know stays text, HTML included.
// What it knows: paragraphs and line breaks; bulleted (-, *, +) and numbered (1. or 1)) lists, nested by indenting;
// **bold** and __bold__; *italic* and _italic_; `code`; [links](https://…) and bare http(s) addresses, opened in a
// new tab with rel="noopener noreferrer" (http, https and mailto only: a link to anything else is its text alone);
// tracking numbers of a carrier whose tracking page is known. Headings, images, tables, quotes and code blocks are
// not rendered: their text shows as written. No build step: a plain ES module.

import { h } from "./shared.js";

/** The elements `renderMarkdown` may create, and the attributes it may set on them. */
export const MARKDOWN_ELEMENTS = {
  P: [], BR: [], UL: [], OL: ["start"], LI: [], STRONG: [], EM: [], CODE: [], A: ["href", "target", "rel"],
};

const LINK_PROTOCOLS = ["http:", "https:", "mailto:"];

/** Carriers whose tracking page takes the number in its address: [pattern, page]. */
const CARRIERS = [
  [/\b1Z[0-9A-Z]{16}\b/g, (n) => `https://www.ups.com/track?tracknum=${n}`], // UPS
  [/\b9[2-5]\d{20}\b/g, (n) => `https://tools.usps.com/go/TrackConfirmAction?tLabels=${n}`], // USPS
];

/** The Markdown `source` as a DocumentFragment of paragraphs and lists (see the top of this file). */
export function renderMarkdown(source) {
  const fragment = document.createDocumentFragment();
  fragment.append(...blocks(String(source ?? "").replace(/\r\n?/g, "\n").split("\n")));
  return fragment;
}

/** The address a link may point to (absolute http, https or mailto), normalised; else null. */
export function safeHref(raw) {
  const text = String(raw).trim();
  if (!text || /[\s\u0000-\u001f\u007f]/.test(text)) return null;
  let url;
  try {
    url = new URL(text); // absolute addresses only: no base
  } catch {
    return null;
  }
  return LINK_PROTOCOLS.includes(url.protocol) ? url.href : null;
}

function link(href, children) {
  return h("a", { href, target: "_blank", rel: "noopener noreferrer" }, children);
}

// ---------------------------------------------------------------- blocks

const LIST_ITEM = /^( *)([-*+]|\d{1,9}[.)])[ \t]+(.*)$/;

/** Paragraphs (lines together, a blank line between) and lists, from lines of text. */
function blocks(lines) {
  const out = [];
  let paragraph = [];
  const endParagraph = () => {
    if (paragraph.length) out.push(h("p", {}, lineBreaks(paragraph)));
    paragraph = [];
  };
  for (let i = 0; i < lines.length;) {
    const line = lines[i];
    if (!line.trim()) {
      endParagraph();
      i += 1;
    } else if (LIST_ITEM.test(line)) {
      endParagraph();
      const [list, next] = listAt(lines, i);
      out.push(list);
      i = next;
    } else {
      paragraph.push(line.trim());
      i += 1;
    }
  }
  endParagraph();
  return out;
}

/** The list that starts at lines[start], and the index of the first line after it. */
function listAt(lines, start) {
  const [, indent, marker] = LIST_ITEM.exec(lines[start]);
  const ordered = /\d/.test(marker);
  const number = ordered ? parseInt(marker, 10) : 1;
  const list = h(ordered ? "ol" : "ul", { start: ordered && number !== 1 ? String(number) : null });
  let item = null;
  let itemLines = [];
  const endItem = () => {
    if (item) item.prepend(...lineBreaks(itemLines));
    itemLines = [];
  };
  let i = start;
  while (i < lines.length) {
    const line = lines[i];
    const match = LIST_ITEM.exec(line);
    if (match && match[1].length === indent.length && /\d/.test(match[2]) === ordered) {
      endItem();
      item = h("li");
      list.append(item);
      itemLines = [match[3].trim()];
      i += 1;
    } else if (match && match[1].length > indent.length && item) { // a list inside this item
      endItem();
      const [inner, next] = listAt(lines, i);
      item.append(inner);
      i = next;
    } else if (line.trim() && !match && leadingSpaces(line) > indent.length && item && !item.lastElementChild) {
      itemLines.push(line.trim()); // the item's text goes on, indented
      i += 1;
    } else if (!line.trim() && continuesAfterBlank(lines, i, indent, ordered)) {
      i += 1; // a blank line between two items of the list
    } else {
      break;
    }
  }
  endItem();
  return [list, i];
}

/** The next line that is not blank is an item of this list (same indent, same kind). */
function continuesAfterBlank(lines, i, indent, ordered) {
  let next = i;
  while (next < lines.length && !lines[next].trim()) next += 1;
  const match = next < lines.length ? LIST_ITEM.exec(lines[next]) : null;
  return Boolean(match && match[1].length === indent.length && /\d/.test(match[2]) === ordered);
}

function leadingSpaces(line) {
  return line.length - line.trimStart().length;
}

/** Lines of inline Markdown joined by <br>. */
function lineBreaks(lines) {
  return lines.flatMap((line, i) => (i ? [h("br"), ...inline(line)] : inline(line)));
}

// ---------------------------------------------------------------- inline

const ESCAPABLE = "\\`*_{}[]()#+-.!<>|~\"'";
const URL_START = /^https?:\/\//i;
const WORD = /[\p{L}\p{N}]/u;

const MAX_DEPTH = 8; // emphasis and links inside one another; deeper, the marks stay text

/**
 * Nodes (and strings) for one line of inline Markdown. `inLink`: inside a link's text, where neither a link nor an
 * address may start (links do not nest).
 */
function inline(text, depth = 0, inLink = false) {
  if (depth > MAX_DEPTH) return [text];
  const out = [];
  let plain = "";
  const flush = () => {
    if (plain) out.push(...(inLink ? [plain] : withTrackingLinks(plain)));
    plain = "";
  };
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    const before = i ? text[i - 1] : "";
    if (c === "\\" && i + 1 < text.length && ESCAPABLE.includes(text[i + 1])) {
      plain += text[i + 1];
      i += 2;
      continue;
    }
    let found = null;
    if (c === "`") found = codeSpan(text, i);
    else if (c === "*" || c === "_") found = emphasis(text, i, depth, inLink);
    else if (c === "[" && !inLink && before !== "!") found = markdownLink(text, i, depth);
    else if ((c === "h" || c === "H") && !inLink && !WORD.test(before) && URL_START.test(text.slice(i, i + 8))) {
      found = bareAddress(text, i);
    }
    if (found) {
      flush();
      out.push(found.node);
      i = found.end;
    } else {
      plain += c;
      i += 1;
    }
  }
  flush();
  return out;
}

/** `code`: a run of backticks up to the next run as long; its text is shown as written. */
function codeSpan(text, start) {
  let ticks = 1;
  while (text[start + ticks] === "`") ticks += 1;
  const fence = "`".repeat(ticks);
  const close = text.indexOf(fence, start + ticks);
  if (close < 0 || text[close + ticks] === "`") return null;
  const body = text.slice(start + ticks, close);
  if (!body.trim()) return null;
  const padded = body.length > 2 && body.startsWith(" ") && body.endsWith(" "); // `` `x` `` shows `x`
  return { node: h("code", { text: padded ? body.slice(1, -1) : body }), end: close + ticks };
}

/** **bold**, __bold__, *italic*, _italic_. Underscores inside a word (snake_case) are not emphasis. */
function emphasis(text, start, depth, inLink) {
  const mark = text[start];
  const strong = text[start + 1] === mark;
  const delimiter = strong ? mark + mark : mark;
  const open = start + delimiter.length;
  if (open >= text.length || /\s/.test(text[open]) || text[open] === mark) return null;
  if (mark === "_" && start > 0 && WORD.test(text[start - 1])) return null;
  for (let close = text.indexOf(delimiter, open + 1); close >= 0; close = text.indexOf(delimiter, close + 1)) {
    if (/\s/.test(text[close - 1]) || text[close - 1] === "\\") continue;
    if (!strong && text[close + 1] === mark) { // part of a longer run (**): not the end of an *italic*
      close += 1;
      continue;
    }
    if (mark === "_" && close + delimiter.length < text.length && WORD.test(text[close + delimiter.length])) continue;
    const inner = inline(text.slice(open, close), depth + 1, inLink);
    return { node: h(strong ? "strong" : "em", {}, inner), end: close + delimiter.length };
  }
  return null;
}

/** [text](address): a link when the address is safe (else the text alone); null when it is not a link at all. */
function markdownLink(text, start, depth) {
  const labelEnd = matching(text, start, "[", "]");
  if (labelEnd < 0 || text[labelEnd + 1] !== "(") return null;
  const targetEnd = matching(text, labelEnd + 1, "(", ")");
  if (targetEnd < 0) return null;
  const label = inline(text.slice(start + 1, labelEnd), depth + 1, true);
  const href = safeHref(text.slice(labelEnd + 2, targetEnd));
  if (href) return { node: link(href, label), end: targetEnd + 1 };
  const fragment = document.createDocumentFragment(); // not an address a link may go to: its text alone
  fragment.append(...label);
  return { node: fragment, end: targetEnd + 1 };
}

/** The index of the bracket that closes the one at `start` (nested pairs and escapes skipped), or -1. */
function matching(text, start, open, close) {
  let depth = 0;
  for (let i = start; i < text.length; i += 1) {
    if (text[i] === "\\") i += 1;
    else if (text[i] === open) depth += 1;
    else if (text[i] === close && --depth === 0) return i;
  }
  return -1;
}

/** https://… in running text, up to a space or `<`, less the punctuation that ends a sentence. */
function bareAddress(text, start) {
  let end = start;
  while (end < text.length && !/[\s<>"'`]/.test(text[end])) end += 1;
  let address = text.slice(start, end);
  for (;;) {
    const last = address.at(-1);
    const unbalanced = last === ")" && address.split("(").length < address.split(")").length;
    if (!".,;:!?*_".includes(last) && !unbalanced) break;
    address = address.slice(0, -1);
  }
  const href = safeHref(address);
  if (!href || address.length <= "https://".length) return null;
  return { node: link(href, [address]), end: start + address.length };
}

/** Plain text with each known carrier's tracking number as a link to its tracking page. */
function withTrackingLinks(text) {
  const found = [];
  for (const [pattern, page] of CARRIERS) {
    for (const match of text.matchAll(pattern)) found.push({ at: match.index, number: match[0], page });
  }
  if (!found.length) return [text];
  found.sort((a, b) => a.at - b.at);
  const out = [];
  let last = 0;
  for (const { at, number, page } of found) {
    if (at < last) continue;
    if (at > last) out.push(text.slice(last, at));
    out.push(link(page(encodeURIComponent(number)), [number]));
    last = at + number.length;
  }
  if (last < text.length) out.push(text.slice(last));
  return out;
}
