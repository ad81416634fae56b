// The one classic script of the chat, loaded in <head> before the page: until chat.js has wired the message box
// (its modules load after the page), Enter there means "send", not a new line. It is remembered on <html>
// (data-send-on-ready), and chat.js sends the message once it runs: the text typed meanwhile is never lost.
document.addEventListener("keydown", (event) => {
  const root = document.documentElement;
  if (root.dataset.chat === "wired" || !event.target || event.target.id !== "composer-input") return;
  if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
    event.preventDefault();
    root.dataset.sendOnReady = "true";
  }
}, true);
