"""What in a page could run code that a candidate wrote (the check of every page staff see)."""

from __future__ import annotations

from html.parser import HTMLParser


class Elements(HTMLParser):
    """The elements of a page as a browser would build them: (tag, attributes, text of a script)."""

    def __init__(self, html: str):
        super().__init__()
        self.found: list[tuple[str, dict, str]] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        self.found.append((tag, dict(attrs), ""))

    def handle_data(self, data):
        if self.found and self.found[-1][0] == "script":
            tag, attrs, text = self.found[-1]
            self.found[-1] = (tag, attrs, text + data)


def what_runs(html: str) -> list[str]:
    """Every element of ``html`` that could run the candidate's code in the reader's browser."""
    bad = []
    for tag, attrs, text in Elements(html).found:
        if any(name.startswith("on") for name in attrs) or tag in ("iframe", "svg", "object", "embed"):
            bad.append(f"<{tag} {attrs}>")
        if any(str(v).strip().lower().startswith(("javascript:", "data:text")) for v in attrs.values()):
            bad.append(f"<{tag} {attrs}>")
        if tag == "script" and "alert" in text:
            bad.append(f"<{tag} {attrs}> {text[:40]}")
    return bad
