// Each chart's Vega-Lite spec sits in the page as JSON; draw it with the vendored Vega, using the
// expression interpreter so nothing is evaluated from text (the page forbids eval).
for (const figure of document.querySelectorAll("figure.svduty-chart")) {
  const spec = JSON.parse(figure.querySelector("script[type='application/json']").textContent);
  const target = figure.querySelector(".svduty-vega");
  vegaEmbed(target, spec, {
    ast: true,
    expr: vega.expressionInterpreter,
    defaultStyle: false,
    renderer: "svg",
    actions: false, // files come from the server, drawn as the report draws them, and audited
  }).catch((error) => {
    target.textContent = "The chart could not be drawn: " + error.message + ". Its table is below.";
  });
}
