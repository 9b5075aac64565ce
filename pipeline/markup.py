"""HTML left in a text field: tags to paragraph breaks, with the stdlib's HTML parser.

Scrapers that store ``innerHTML`` give ``<p>One</p><p>Two<br>three</p>``. Block elements
become blank lines (paragraph breaks), ``<br>`` a line break, ``<script>``/``<style>`` go,
and character references are decoded by the parser. Text is treated as HTML only when it
holds a closing tag or a ``<p>``/``<br>``/``<div>`` tag, so "a < b > c" stays as it is.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

_LOOKS_LIKE_HTML = re.compile(r"</[a-z][a-z0-9]*\s*>|<(?:p|br|div)\b[^<>]*>", re.IGNORECASE)

_BLOCK = frozenset(
    {
        "address",
        "article",
        "aside",
        "blockquote",
        "dd",
        "div",
        "dl",
        "dt",
        "figcaption",
        "figure",
        "footer",
        "form",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "header",
        "hr",
        "li",
        "main",
        "nav",
        "ol",
        "p",
        "pre",
        "section",
        "table",
        "tbody",
        "td",
        "tfoot",
        "th",
        "thead",
        "tr",
        "ul",
    }
)
_SKIP = frozenset({"script", "style", "noscript", "template"})


def looks_like_html(text: str) -> bool:
    """True when the text carries HTML markup.

    >>> looks_like_html("<p>One</p>"), looks_like_html("if a < b and c > d")
    (True, False)
    """
    return _LOOKS_LIKE_HTML.search(text) is not None


class _TextCollector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP:
            self.skipping += 1
        elif tag == "br":
            self.parts.append("\n")
        elif tag in _BLOCK:
            self.parts.append("\n\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP:
            self.skipping = max(0, self.skipping - 1)
        elif tag in _BLOCK:
            self.parts.append("\n\n")

    def handle_data(self, data: str) -> None:
        if not self.skipping:
            self.parts.append(data.replace("\n", " "))


def html_to_text(text: str) -> str:
    """Paragraphs of an HTML fragment, separated by blank lines.

    >>> html_to_text("<p>One &amp; two</p><p>Three<br>four</p><script>x()</script>")
    'One & two\\n\\nThree\\nfour'
    """
    parser = _TextCollector()
    parser.feed(text)
    parser.close()
    joined = "".join(parser.parts)
    return re.sub(r"\n{3,}", "\n\n", re.sub(r"[ \t]*\n[ \t]*", "\n", joined)).strip()
