// Runs axe-core (already injected into the page) on the whole document and returns its serious and critical
// violations, each as {rule, impact, help, targets: [css selector, …], summary}. Evaluated with page.evaluate(source).
async () => {
  const results = await window.axe.run(document, { resultTypes: ["violations"] });
  return results.violations
    .filter((violation) => ["serious", "critical"].includes(violation.impact))
    .map((violation) => ({
      rule: violation.id,
      impact: violation.impact,
      help: violation.help,
      targets: violation.nodes.map((node) => node.target.join(" ")),
      summary: violation.nodes.map((node) => node.failureSummary).slice(0, 3),
    }));
}
