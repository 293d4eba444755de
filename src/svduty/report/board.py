"""What a board acts on, drawn from the publication: the records the assessment rests on (first
page), benchmarks, limitations, and recommendations (the partnership's file as written, then
svduty's prompts, marked as such). Nothing here reads the store."""

from __future__ import annotations

from typing import Any

import pandas as pd
from markdown_it import MarkdownIt
from markupsafe import Markup, escape

from svduty.publish import board
from svduty.report.published import html_table, prose
from svduty.report.sections import Page, Section
from svduty.vocabulary import source_kind_label


def records_block(page: Page) -> Markup:
    """The first page's account of the records analysed, and a table of them by source."""
    pub = page.pub
    if not pub.has("records", "statement"):
        return Markup("")
    lines = pub.value("records", "statement")
    head, *rest = lines
    html = [
        "<div class='records'><h2 id='records'>Records analysed</h2>",
        f"<p>{escape(head)}</p>",
    ]
    frame = board.sources_analysed(pub)
    if frame is not None:
        shown = pd.DataFrame(
            {
                "source": [source_kind_label(k) for k in frame["source"]],
                "force": frame["force"],
                "open or partner": [board.openness(k) for k in frame["source"]],
                "real or synthetic": frame["data"],
                "months held": frame["months"],
                "records held": frame["records"],
                "meet the definition": frame["in_definition"],
                "do not": frame["not_in"],
                "could not be assessed": frame["undecided"],
            }
        )
        html.append(str(html_table(shown)))
    html.append("<ul>" + "".join(f"<li>{escape(s)}</li>" for s in rest) + "</ul></div>")
    return Markup("".join(html))


def benchmarks_section(page: Page) -> str:
    pub = page.pub
    about = pub.value("benchmarks", "about")
    if about["reason"]:
        return f"<p>No benchmark for {escape(about['area'])}: {escape(about['reason'])}</p>"
    level = "force" if about["level"] == "force" else "Community Safety Partnership"
    html = [
        f"<p>Source: {escape(about['source'])}, {escape(about['year'])}, by {level}; residents: "
        f"{escape(about['population'])}. Rates are offences a year per 1,000 residents with "
        "exact 95% Poisson intervals. England and Wales is every territorial force (British "
        "Transport Police and the fraud reporting bodies have no residents and are left out) "
        "over every resident.</p>",
    ]
    if about["partly"] or about["left_out"]:
        html.append(
            "<p class='warn'>The Home Office tables carry offence codes only: "
            f"{escape(board.benchmark_scope(about))}</p>"
        )
    rates = pub.table("benchmarks", "rates").copy()
    for column in ("rate", "low", "high"):  # three figures: homicide rates are hundredths
        rates[column] = [None if v is None else f"{v:.3g}" for v in rates[column]]
    html.append(str(html_table(rates)))
    sentences = board.benchmark_findings(pub)
    if sentences:
        html.append("<ul>" + "".join(f"<li>{escape(s)}</li>" for s in sentences) + "</ul>")
    else:
        html.append("<p>The area's rates are hidden (small counts): no comparison is drawn.</p>")
    html.append(f"<p class='note'>{escape(about['group_note'])}</p>")
    return "".join(html)


def limitations_section(page: Page) -> str:
    pub = page.pub
    items = pub.value("limitations", "items") or []
    html = ["<ul>" + "".join(f"<li>{prose(s)}</li>" for s in items) + "</ul>"]
    if pub.has("limitations", "clauses"):
        clauses = pub.table("limitations", "clauses")
        shown = clauses[[v is None or v > 0 for v in clauses["undecided"]]]
        if len(shown):
            html.append(
                "<h3>Clauses the data could not judge on every record</h3>"
                + str(html_table(shown.drop(columns="clause").reset_index(drop=True)))
                + "<p class='note'>Undecided: records held on which the clause could be neither "
                "true nor false, for want of the facts it reads; its count leaves them out.</p>"
            )
        geocoding = pub.table("limitations", "geocoding")
        if any(v != 0 for v in geocoding["count"]):
            html.append(
                "<h3>Incidents counted that could not be placed</h3>"
                + page.table("limitations", "geocoding")
            )
    return "".join(html)


def _markdown() -> MarkdownIt:
    """CommonMark with HTML shown as text, no images (nothing loads from the network) and
    unsafe link schemes refused; headings sit below the section's."""
    md = MarkdownIt("js-default").disable("image")

    def heading(renderer: Any, tokens: Any, index: int, options: Any, env: Any) -> str:
        token = tokens[index]
        level = min(6, int(token.tag[1]) + 2)
        closing = token.type == "heading_close"
        return f"</h{level}>\n" if closing else f"<h{level}>"

    md.add_render_rule("heading_open", heading)
    md.add_render_rule("heading_close", heading)
    return md


def recommendations_section(page: Page) -> str:
    pub = page.pub
    written = pub.value("recommendations", "partnership")
    prompts = pub.value("recommendations", "prompts") or []
    html = ["<h3>The partnership's recommendations</h3>"]
    if written.get("text") is not None:
        html.append(
            f"<p class='note'>As written by the partnership in {escape(written['file'])}, last "
            f"changed {escape(written['date'])}.</p>"
            f"<div class='partnership'>{_markdown().render(written['text'])}</div>"
        )
    else:
        html.append(
            "<p class='warn'>The partnership has not written its recommendations yet. Write them "
            f"in Markdown in {escape(written['file'] or 'recommendations.md')} in the workspace "
            "(setting recommendations in svduty.toml): the next report includes them as written, "
            "dated by the file's last change.</p>"
        )
    html.append("<h3>Prompts from the findings</h3>")
    html.append(
        "<p class='note'>Generated by svduty from the findings of this report: questions for the "
        "partnership to weigh, not its words or its decisions.</p>"
    )
    if prompts:
        html.append(
            "<ul class='prompts'>" + "".join(f"<li>{escape(p)}</li>" for p in prompts) + "</ul>"
        )
    else:
        html.append("<p>No finding of this report prompts a recommendation.</p>")
    return "".join(html)


BOARD_SECTIONS: tuple[Section, ...] = (
    ("benchmarks", "Benchmarks: England and Wales and most similar areas", benchmarks_section),
    ("limitations", "Limitations", limitations_section),
    ("recommendations", "Recommendations", recommendations_section),
)
