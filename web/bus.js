// A page's event bus. The modules of chat/ and console/ import one another only downward; when a lower one must
// tell a higher one something (a frame arrived, the token was refused), it announces it here with `emit`, and the
// page's entry (chat.js, console.js) wires who reacts with `on`. Listeners run at once, in order, like a call.

const listeners = new Map(); // name -> [listener]

export function on(name, listener) {
  listeners.set(name, [...(listeners.get(name) || []), listener]);
}

export function emit(name, ...args) {
  for (const listener of listeners.get(name) || []) listener(...args);
}
