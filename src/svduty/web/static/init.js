// GOV.UK Frontend's components (skip link, error summary, tabs...) on every page.
import { initAll } from "./govuk-frontend/govuk-frontend.min.js";

document.body.classList.add("govuk-frontend-supported", "js-enabled");
initAll();
