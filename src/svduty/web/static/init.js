// GOV.UK Frontend's components (skip link, error summary, tabs...) on every page.
import { initAll } from "./govuk-frontend/govuk-frontend.min.js";

document.body.classList.add("govuk-frontend-supported", "js-enabled");
initAll();

// A new definition has other clauses: the old choice is cleared (not sent), and the new list
// comes with the page the Show button asks for (no form submits itself on a change).
const definition = document.getElementById("definition");
const clause = document.getElementById("clause");
if (definition && clause) {
  definition.addEventListener("change", () => {
    clause.value = "";
    clause.disabled = true;
    clause.title = "Press Show to choose among this definition's clauses";
  });
}
