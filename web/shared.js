// Shared by the web chat (chat.js and chat/) and the operator console (console.js and console/): configuration,
// tokens, the HTTP API client, plain-words descriptions of actions and tools, time formatting and DOM helpers.
// The conversation view both pages render transcripts with is in transcript.js. No build step: a plain ES module.

export const STORAGE = {
  chatToken: "smart-support.token",
  operatorToken: "smart-support.operator-token",
  threads: (sub) => `smart-support.threads.${sub}`,
};

export const MAX_CONTENT_CHARS = 8000;
export const THREAD_ID_PATTERN = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * Where the WebSocket and the HTTP API live: the `config.json` served beside the page (make deploy writes it from the
 * stack outputs; the local stack serves its own), else this page's origin. Nothing in the address can change them:
 * a link must never make the page send its token to another host.
 */
export async function loadConfig(loc = window.location) {
  const config = {
    wsBase: `${loc.protocol === "https:" ? "wss" : "ws"}://${loc.host}/ws`,
    apiBase: `${loc.origin}/api/v1`,
  };
  let served = null;
  try {
    const response = await fetch(new URL("config.json", loc.href), { cache: "no-store", credentials: "omit" });
    if (response.ok) served = await response.json();
  } catch {
    served = null; // no config.json (a plain file server): same-origin defaults
  }
  if (served && isUrl(served.wsUrl, ["ws:", "wss:"])) config.wsBase = served.wsUrl;
  if (served && isUrl(served.apiUrl, ["http:", "https:"])) config.apiBase = served.apiUrl.replace(/\/+$/, "");
  // Where a page without a token gets a guest token of its own (the local stack only): on this page's origin.
  config.guestUrl = served ? sameOrigin(served.guestUrl, loc) : "";
  return config;
}

function sameOrigin(value, loc) {
  try {
    const url = new URL(value, loc.href);
    return typeof value === "string" && url.origin === loc.origin ? url.href : "";
  } catch {
    return "";
  }
}

function isUrl(value, protocols) {
  try {
    return typeof value === "string" && protocols.includes(new URL(value).protocol);
  } catch {
    return false;
  }
}

/**
 * Moves `?token=` from the address bar into localStorage at once (so it is not left in history, bookmarks or
 * screenshots). Returns who the link signed in when it replaced a different sign-in, so the page can say so.
 */
export function adoptTokenFromUrl(storageKey) {
  const url = new URL(window.location.href);
  const token = url.searchParams.get("token");
  if (token === null) return null;
  url.searchParams.delete("token");
  history.replaceState(history.state, "", url.pathname + url.search + url.hash);
  const before = localStorage.getItem(storageKey) || "";
  if (token.trim()) localStorage.setItem(storageKey, token.trim());
  else localStorage.removeItem(storageKey);
  const who = (value) => (value ? (readClaims(value) || {}).sub || "an unreadable token" : "guest");
  const from = who(before);
  const to = who(token.trim());
  return from === to ? null : { from, to };
}

/** The unverified claims of a JWT (for display only; the server checks the signature). */
export function readClaims(token) {
  if (!token) return null;
  const parts = token.split(".");
  if (parts.length !== 3) return null;
  try {
    const b64 = parts[1].replace(/-/g, "+").replace(/_/g, "/").padEnd(Math.ceil(parts[1].length / 4) * 4, "=");
    const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
    const claims = JSON.parse(new TextDecoder().decode(bytes));
    return typeof claims === "object" && claims ? claims : null;
  } catch {
    return null;
  }
}

/** True when the token's `exp` has passed (tokens without `exp` never expire here). */
export function isExpired(claims, now = Date.now()) {
  return Boolean(claims && typeof claims.exp === "number" && claims.exp * 1000 <= now);
}

// ------------------------------------------------------------------ HTTP API

export class ApiError extends Error {
  constructor(status, code, message, requestId) {
    super(message);
    this.status = status;
    this.code = code;
    this.requestId = requestId;
  }
}

/** Calls the HTTP API; returns the JSON body or throws ApiError (status 0 = network failure). */
export async function apiFetch(apiBase, path, { token, method = "GET", body, signal } = {}) {
  const headers = { Accept: "application/json" };
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let response;
  try {
    response = await fetch(apiBase + path, {
      method, headers, signal, body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (err) {
    if (err.name === "AbortError") throw err;
    throw new ApiError(0, "network", `Cannot reach the API at ${apiBase}.`);
  }
  let data = null;
  try {
    data = await response.json();
  } catch {
    data = null;
  }
  if (response.ok) return data;
  const envelope = data && data.error;
  if (response.status === 401) { // the API's `unauthorized`: a token that is missing, invalid or expired
    throw new ApiError(401, "token_rejected", "The token was rejected: it is invalid or has expired.",
      envelope && envelope.request_id);
  }
  if (envelope && envelope.code) {
    throw new ApiError(response.status, envelope.code, envelope.message || `HTTP ${response.status}`, envelope.request_id);
  }
  // API Gateway's own answers (a deployment whose authorizer still denies) carry no envelope.
  if (response.status === 403) {
    throw new ApiError(response.status, "token_rejected", "The token was rejected: it is invalid or has expired.");
  }
  throw new ApiError(response.status, `http_${response.status}`, (data && data.message) || `HTTP ${response.status}`);
}

/** The whole transcript of a thread: follows `next_cursor` through the paginated replay. */
export async function fetchTranscript(apiBase, threadId, { token } = {}) {
  const path = `/sessions/${encodeURIComponent(threadId)}/messages?limit=200`;
  const messages = [];
  let cursor = null;
  do {
    const page = await apiFetch(apiBase, cursor ? `${path}&cursor=${encodeURIComponent(cursor)}` : path, { token });
    messages.push(...(page.messages || []));
    cursor = page.next_cursor;
  } while (cursor);
  return { messages };
}

// ------------------------------------------------------------------ plain words

const AGENTS = {
  supervisor: "Assistant",
  order_status: "Order status",
  order_actions: "Order actions",
  knowledge: "Help center",
  escalation: "Human hand-off",
};

export function agentLabel(agent) {
  if (!agent) return "Assistant";
  return AGENTS[agent] || titleCase(agent);
}

const ACTIONS = {
  cancel_order: "Cancel an order",
  request_refund: "Refund an order",
  update_shipping_address: "Change a shipping address",
};

export function actionLabel(action) {
  return ACTIONS[action] || titleCase(action || "action");
}

const ARG_LABELS = {
  order_id: "Order",
  address: "New address",
  amount: "Amount",
  amount_cents: "Amount",
  reason: "Reason",
  summary: "Summary",
  query: "Question",
};
// The order arguments are listed in (the server sorts keys, which would put the amount before the order).
const ARG_ORDER = ["order_id", "amount_cents", "amount", "address", "reason"];

/** Integer cents in words: 12900 -> "$129.00", 123456 -> "$1,234.56". */
export function centsInWords(cents) {
  const value = Number(cents) / 100;
  return `$${value.toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 })}`;
}

/**
 * A refund's amount in integer cents: the canonical `amount_cents`, else a legacy or typed `amount` in dollars.
 * null when the arguments carry no amount.
 */
export function amountCentsOf(args) {
  if (!args || typeof args !== "object") return null;
  if (Number.isFinite(args.amount_cents)) return Math.round(args.amount_cents);
  if (typeof args.amount === "number" && Number.isFinite(args.amount)) return Math.round(args.amount * 100);
  if (typeof args.amount === "string" && args.amount.trim() && Number.isFinite(Number(args.amount))) {
    return Math.round(Number(args.amount) * 100);
  }
  return null;
}

/** [[label, value], …] for an approval's arguments, e.g. [["Order", "1043"], ["Amount", "$129.00"]]. */
export function argsInWords(args) {
  if (!args || typeof args !== "object") return [];
  const rank = (key) => (ARG_ORDER.includes(key) ? ARG_ORDER.indexOf(key) : ARG_ORDER.length);
  const keys = Object.keys(args).sort((a, b) => rank(a) - rank(b));
  return keys.map((key) => [ARG_LABELS[key] || titleCase(key), argValueInWords(key, args[key])]);
}

function argValueInWords(key, value) {
  if (key === "amount_cents" && Number.isFinite(value)) return centsInWords(value);
  if (key === "amount" && typeof value === "number" && Number.isFinite(value)) return centsInWords(Math.round(value * 100));
  return valueInWords(value);
}

function valueInWords(value) {
  if (value === null || value === undefined) return "—";
  if (Array.isArray(value)) return value.map(valueInWords).join(", ");
  if (typeof value === "object") return Object.values(value).map(valueInWords).join(", ");
  if (typeof value === "boolean") return value ? "yes" : "no";
  return String(value);
}

/**
 * The arguments that ran (or will run) after an approver's edits, in canonical form. A transcript decision and
 * `interrupt_resolved` carry them as `args` (a decision with the original as `requested_args`); an audit record as
 * `ran_args` (beside the original `args`); an older record only has the original `args` and a partial `edited_args`
 * in what the operator typed (`amount` in dollars), merged here.
 */
export function ranArgs(entry) {
  if (entry?.ran_args && typeof entry.ran_args === "object") return { ...entry.ran_args };
  const args = { ...(entry?.args || {}) };
  const edits = entry?.requested_args ? null : entry?.edited_args;
  if (!edits || typeof edits !== "object") return args;
  for (const [key, value] of Object.entries(edits)) {
    if (key === "amount" && "amount_cents" in args) {
      const cents = amountCentsOf({ amount: value });
      if (cents !== null) args.amount_cents = cents;
    } else {
      args[key] = value;
    }
  }
  return args;
}

/** The arguments as they were asked for, when an approver changed them (else null). */
export function requestedArgs(entry) {
  if (entry?.requested_args && typeof entry.requested_args === "object") return entry.requested_args;
  if (entry?.ran_args && typeof entry.ran_args === "object") {
    return JSON.stringify(entry.ran_args) === JSON.stringify(entry.args) ? null : entry.args || {};
  }
  if (entry?.edited_args && typeof entry.edited_args === "object" && Object.keys(entry.edited_args).length) {
    return entry.args || {};
  }
  return null;
}

/** What an approver changed, in words: [[label, asked for, what ran], …] (the amount, the address). */
export function changesInWords(requested, ran) {
  if (!requested || !ran) return [];
  const changes = [];
  const before = amountCentsOf(requested);
  const after = amountCentsOf(ran);
  if (before !== null && after !== null && before !== after) changes.push(["Amount", centsInWords(before), centsInWords(after)]);
  for (const key of Object.keys(ran)) {
    if (["amount", "amount_cents"].includes(key) || !(key in requested)) continue;
    if (JSON.stringify(requested[key]) !== JSON.stringify(ran[key])) {
      changes.push([ARG_LABELS[key] || titleCase(key), valueInWords(requested[key]), valueInWords(ran[key])]);
    }
  }
  return changes;
}

/**
 * How an approval ended: `approved`, `edited` (approved with changes), `rejected`, `withdrawn` (the customer took
 * it back) or `expired` (nobody decided in time). The server says so as `outcome`; older records are read from
 * `approved`, `decided_by` and `edited_args`.
 */
export function outcomeOf(entry) {
  const known = ["approved", "edited", "rejected", "withdrawn", "expired"];
  if (entry && known.includes(entry.outcome)) return entry.outcome;
  if (entry?.outcome === "timeout" || entry?.decided_by === "timeout") return "expired";
  if (entry?.approved) return requestedArgs(entry) ? "edited" : "approved";
  return "rejected";
}

/** A short sentence for an approval from its arguments (when no description is at hand, or after an edit). */
export function describeAction(action, args = {}) {
  const order = args.order_id ? `order ${args.order_id}` : "the order";
  switch (action) {
    case "cancel_order": return `Cancel ${order}`;
    case "request_refund": {
      const cents = amountCentsOf(args);
      return cents === null ? `Refund ${order}` : `Refund ${centsInWords(cents)} for ${order}`;
    }
    case "update_shipping_address": return `Change the shipping address of ${order}${args.address ? ` to ${args.address}` : ""}`;
    default: return actionLabel(action);
  }
}

/** A chip's words for a tool call, e.g. "Looked up order 1042". */
export function toolInWords(tool, args = {}) {
  const order = args.order_id ? `order ${args.order_id}` : "an order";
  switch (tool) {
    case "get_order_status": return `Looked up ${order}`;
    case "track_shipment": return `Tracked ${order}`;
    case "cancel_order": return `Cancellation of ${order}`;
    case "request_refund": return `Refund of ${order}`;
    case "update_shipping_address": return `New address for ${order}`;
    case "search_faq": return args.query ? `Searched help: “${truncate(args.query, 40)}”` : "Searched the help center";
    case "escalate_to_human": return "Opened a support ticket";
    default: return titleCase(tool || "tool");
  }
}

/** Who decided, from the customer's ("you") or the operator's ("the customer") point of view. */
export function deciderInWords(decidedBy, perspective = "customer") {
  if (decidedBy === "customer") return perspective === "customer" ? "you" : "the customer";
  if (decidedBy === "operator") return "a support agent";
  if (decidedBy === "timeout") return "timeout";
  return decidedBy || "someone";
}

export function titleCase(text) {
  const words = String(text).replace(/[_-]+/g, " ").trim();
  return words.charAt(0).toUpperCase() + words.slice(1);
}

export function truncate(text, max) {
  const s = String(text);
  return s.length > max ? `${s.slice(0, max - 1)}…` : s;
}

// ------------------------------------------------------------------ time

export function parseTime(value) {
  if (!value) return null;
  const ms = typeof value === "number" ? value * 1000 : Date.parse(value);
  return Number.isFinite(ms) ? ms : null;
}

/** "4:05" or "1:02:03" for a duration in milliseconds. */
export function formatCountdown(ms) {
  const total = Math.max(0, Math.ceil(ms / 1000));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = String(total % 60).padStart(2, "0");
  return h ? `${h}:${String(m).padStart(2, "0")}:${s}` : `${m}:${s}`;
}

export function formatClock(value) {
  const ms = parseTime(value);
  if (ms === null) return "";
  return new Date(ms).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

export function formatDateTime(value) {
  const ms = parseTime(value);
  if (ms === null) return "";
  return new Date(ms).toLocaleString([], { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" });
}

export function formatRelative(value, now = Date.now()) {
  const ms = parseTime(value);
  if (ms === null) return "";
  const seconds = Math.round((now - ms) / 1000);
  if (seconds < 45) return "just now";
  if (seconds < 3600) return `${Math.round(seconds / 60)} min ago`;
  if (seconds < 86400) return `${Math.round(seconds / 3600)} h ago`;
  return formatDateTime(value);
}

// ------------------------------------------------------------------ DOM

/** h("div", {class: "x", "data-testid": "y", onclick: fn}, child, "text", …) */
export function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else if (key === "html") node.innerHTML = value; // only ever used with the constant icons below
    else if (key === "style") node.style.cssText = String(value); // CSSOM: a style attribute would break the CSP
    else if (key.startsWith("on") && typeof value === "function") node.addEventListener(key.slice(2), value);
    else if (value === true) node.setAttribute(key, "");
    else node.setAttribute(key, String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

const svg = (body, extra = "") =>
  `<svg viewBox="0 0 24 24" width="16" height="16" fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round" stroke-linejoin="round" aria-hidden="true" ${extra}>${body}</svg>`;

export const ICONS = {
  send: svg('<path d="M22 2 11 13"/><path d="M22 2 15 22l-4-9-9-4 20-7z"/>'),
  plus: svg('<path d="M12 5v14M5 12h14"/>'),
  menu: svg('<path d="M3 6h18M3 12h18M3 18h18"/>'),
  close: svg('<path d="M18 6 6 18M6 6l12 12"/>'),
  tool: svg('<path d="M14.7 6.3a4 4 0 0 0-5.4 5.2L3 17.8V21h3.2l6.3-6.3a4 4 0 0 0 5.2-5.4l-2.5 2.5-2.8-.4-.4-2.8z"/>'),
  shield: svg('<path d="M12 22s8-4 8-10V5l-8-3-8 3v7c0 6 8 10 8 10z"/>'),
  check: svg('<path d="M20 6 9 17l-5-5"/>'),
  x: svg('<path d="M18 6 6 18M6 6l12 12"/>'),
  clock: svg('<circle cx="12" cy="12" r="9"/><path d="M12 7v5l3 2"/>'),
  headset: svg('<path d="M3 14v-2a9 9 0 0 1 18 0v2"/><path d="M21 15a2 2 0 0 1-2 2h-1v-6h1a2 2 0 0 1 2 2zM3 15a2 2 0 0 0 2 2h1v-6H5a2 2 0 0 0-2 2z"/><path d="M18 17v1a3 3 0 0 1-3 3h-3"/>'),
  key: svg('<circle cx="7.5" cy="15.5" r="4.5"/><path d="m10.7 12.3 9.3-9.3M16 7l3 3M14 9l2 2"/>'),
  alert: svg('<path d="M10.3 3.9 1.8 18a2 2 0 0 0 1.7 3h17a2 2 0 0 0 1.7-3L13.7 3.9a2 2 0 0 0-3.4 0z"/><path d="M12 9v4M12 17h.01"/>'),
  refresh: svg('<path d="M21 12a9 9 0 1 1-3-6.7L21 8"/><path d="M21 3v5h-5"/>'),
  chat: svg('<path d="M21 12a8 8 0 0 1-11.6 7.1L4 21l1.9-5.4A8 8 0 1 1 21 12z"/>'),
};

export function icon(name, cls = "icon") {
  return h("span", { class: cls, html: ICONS[name] || "" });
}
