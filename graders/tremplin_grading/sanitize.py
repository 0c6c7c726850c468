"""What candidates write, made safe to show to staff and in feedback: HTML reduced to what Markdown makes.

The formgrader renders a candidate's notebook for the professor, and feedback renders it
for the learner, through nbconvert's ``HTMLExporter`` with nbgrader's templates. Those
templates turn Markdown cells into HTML without sanitising them, so an ``<img onerror=…>``
in a candidate's Markdown ran in the professor's page. Every course's ``nbgrader_config.py``
(:func:`tremplin_grading.coursework.nbgrader_config_text`) therefore sets nbconvert's own
``sanitize_html`` (outputs: HTML, Markdown, SVG) and replaces the ``markdown2html`` filter by
:func:`markdown2html`: nbconvert's Markdown renderer, then an allow list of the tags and
attributes Markdown produces (no script, no event handler, no style, links and images over
http(s) only).
"""

from __future__ import annotations

import bleach
from nbconvert.filters.markdown_mistune import markdown2html_mistune

TAGS = frozenset({
    "a", "abbr", "b", "blockquote", "br", "code", "del", "div", "em", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i",
    "img", "kbd", "li", "ol", "p", "pre", "s", "span", "strong", "sub", "sup", "table", "tbody", "td", "th", "thead",
    "tr", "ul",
})
ATTRIBUTES = {"a": ["href", "title"], "img": ["src", "alt", "title"], "th": ["align"], "td": ["align"],
              "code": ["class"], "pre": ["class"], "span": ["class"], "div": ["class"], "ol": ["start"]}
PROTOCOLS = frozenset({"http", "https", "mailto"})


def clean_html(html: str) -> str:
    """``html`` with only the allowed tags and attributes left (the rest is escaped as text)."""
    return bleach.clean(html, tags=TAGS, attributes=ATTRIBUTES, protocols=PROTOCOLS)


def markdown2html(source: str) -> str:
    """nbconvert's Markdown to HTML (math kept for MathJax), then :func:`clean_html`."""
    return clean_html(markdown2html_mistune(source))
