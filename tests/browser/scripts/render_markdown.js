// Renders Markdown with the page's web/markdown.js into an element of its own, waits a moment (an onerror or onload
// would have run by then), and describes what it created: {html, text, elements: [{tag, attributes}]}.
// Evaluated with page.evaluate(source, markdown) on a page of the local stack.
async (markdown) => {
  const { renderMarkdown } = await import("/static/markdown.js");
  const host = document.createElement("div");
  host.append(renderMarkdown(markdown));
  document.body.append(host);
  await new Promise((resolve) => setTimeout(resolve, 30));
  const described = {
    html: host.innerHTML,
    text: host.textContent,
    elements: [...host.querySelectorAll("*")].map((el) => ({
      tag: el.tagName,
      attributes: Object.fromEntries([...el.attributes].map((attribute) => [attribute.name, attribute.value])),
    })),
  };
  host.remove();
  return described;
}
