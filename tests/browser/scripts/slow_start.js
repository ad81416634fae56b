// A slow start, as on a slow network: config.json takes a second, and a WebSocket's handshake begins only 1.5 s
// after the page asks for it (readyState CONNECTING meanwhile). Added to a page with add_init_script.
const nativeFetch = window.fetch;
window.fetch = (input, init) => String(input.url || input).endsWith("/config.json")
  ? new Promise((resolve) => setTimeout(resolve, 1000)).then(() => nativeFetch(input, init))
  : nativeFetch(input, init);
const NativeSocket = window.WebSocket;
class SlowSocket extends EventTarget {
  static CONNECTING = 0; static OPEN = 1; static CLOSING = 2; static CLOSED = 3;
  constructor(url, protocols) {
    super();
    this.url = url;
    this.real = null;
    setTimeout(() => {
      this.real = new NativeSocket(url, protocols);
      this.real.addEventListener("open", () => this.dispatchEvent(new Event("open")));
      this.real.addEventListener("message", (e) => this.dispatchEvent(new MessageEvent("message", { data: e.data })));
      this.real.addEventListener("error", () => this.dispatchEvent(new Event("error")));
      this.real.addEventListener("close", (e) => {
        this.dispatchEvent(new CloseEvent("close", { code: e.code, reason: e.reason }));
      });
    }, 1500);
  }
  get readyState() { return this.real ? this.real.readyState : 0; }
  send(data) {
    if (this.readyState !== 1) throw new DOMException("Still in CONNECTING state.", "InvalidStateError");
    this.real.send(data);
  }
  close(code, reason) { this.real ? this.real.close(code, reason) : setTimeout(() => this.close(code, reason), 50); }
}
window.WebSocket = SlowSocket;
