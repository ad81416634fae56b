// The texts of the page that read below `minimum`:1 against what is behind them (WCAG's contrast ratio), as
// "ratio element \"text\" (colour on background)". Evaluated with page.evaluate(source, minimum).
(minimum) => {
  const parse = (value) => {
    let match = /^rgba?\(([^)]+)\)$/.exec(value);
    if (match) {
      const p = match[1].split(/[\s,\/]+/).filter(Boolean).map(parseFloat);
      return [p[0], p[1], p[2], p.length > 3 ? p[3] : 1];
    }
    match = /^color\(srgb ([^)]+)\)$/.exec(value);
    if (match) {
      const p = match[1].split(/[\s\/]+/).filter(Boolean).map(parseFloat);
      return [p[0] * 255, p[1] * 255, p[2] * 255, p.length > 3 ? p[3] : 1];
    }
    return null;
  };
  const over = (top, bottom, alpha = top[3]) => [0, 1, 2].map((i) => top[i] * alpha + bottom[i] * (1 - alpha)).concat(1);
  const backgroundOf = (el) => {
    const layers = [];
    for (let node = el; node; node = node.parentElement) {
      const color = parse(getComputedStyle(node).backgroundColor);
      if (color && color[3] > 0) {
        layers.push(color);
        if (color[3] >= 1) break;
      }
    }
    return layers.reverse().reduce((below, layer) => over(layer, below), [255, 255, 255, 1]);
  };
  const opacityOf = (el) => {
    let opacity = 1;
    for (let node = el; node; node = node.parentElement) opacity *= parseFloat(getComputedStyle(node).opacity);
    return opacity;
  };
  const luminance = (rgb) => {
    const [r, g, b] = rgb.slice(0, 3).map((v) => {
      const c = v / 255;
      return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
    });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  const ratio = (a, b) => {
    const [hi, lo] = [luminance(a), luminance(b)].sort((x, y) => y - x);
    return (hi + 0.05) / (lo + 0.05);
  };
  const found = [];
  const check = (el, colorValue, text, where) => {
    const color = parse(colorValue);
    if (!color || color[3] === 0) return;
    const background = backgroundOf(el);
    const shown = over(color, background, color[3] * opacityOf(el));
    const value = ratio(shown, background);
    if (value < minimum) {
      const name = el.tagName.toLowerCase() + (el.className && typeof el.className === "string" ? "." + el.className.trim().split(/\s+/).join(".") : "");
      found.push(`${value.toFixed(2)}:1 ${name}${where} "${text.trim().slice(0, 40)}" (${colorValue} on rgb(${background.slice(0, 3).map(Math.round).join(", ")}))`);
    }
  };
  for (const el of document.querySelectorAll("body *")) {
    if (!el.checkVisibility({ visibilityProperty: true })) continue;
    const box = el.getBoundingClientRect();
    if (box.width < 2 || box.height < 2) continue; // visually hidden (screen readers only)
    if (el.closest(":disabled, [aria-disabled=true]")) continue;
    const style = getComputedStyle(el);
    const own = [...el.childNodes].filter((n) => n.nodeType === Node.TEXT_NODE).map((n) => n.textContent).join("");
    if (own.trim()) check(el, style.color, own, "");
    if ((el.tagName === "INPUT" || el.tagName === "TEXTAREA") && el.placeholder && !el.value) {
      check(el, getComputedStyle(el, "::placeholder").color, el.placeholder, "::placeholder");
    }
    for (const pseudo of ["::before", "::after"]) {
      const generated = getComputedStyle(el, pseudo);
      const content = generated.content;
      if (!content || ["none", "normal", '""'].includes(content) || generated.display === "none") continue;
      const text = content.startsWith("attr(") ? el.getAttribute(content.slice(5, -1)) || "" : content.replace(/^"|"$/g, "");
      if (text.trim()) check(el, generated.color, text, pseudo);
    }
  }
  return found;
}
