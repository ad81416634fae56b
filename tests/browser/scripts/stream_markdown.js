// Streams chunks into a TranscriptView of the page's web/transcript.js, as the chat does with `token` events, and
// returns the assistant bubble's HTML after each chunk, with how many bubbles there are at the end.
// Evaluated with page.evaluate(source, chunks) on a page of the local stack.
async (chunks) => {
  const { TranscriptView } = await import("/static/transcript.js");
  const view = new TranscriptView({ threadId: "c-markdown-stream" });
  document.body.append(view.root);
  const states = [];
  for (const chunk of chunks) {
    view.token("order_status", chunk);
    states.push(view.root.querySelector("[data-testid=msg-text]").innerHTML);
  }
  view.endTurn();
  const bubbles = view.root.querySelectorAll("[data-testid=msg-assistant]").length;
  view.root.remove();
  return { states, bubbles };
}
