"""What a person reads on a page (issue 19): the words walker's reader, and the words tests' one way to read a page."""
from __future__ import annotations

from html.parser import HTMLParser


class Text(HTMLParser):
    """The visible words of a page: data, the reader-facing attributes and button values."""

    ATTRS = ("title", "alt", "placeholder", "aria-label")
    VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}

    def __init__(self, lang: str):
        super().__init__(convert_charrefs=True)
        self.lang, self.parts, self.links = lang, [], []
        self.stack: list[tuple[str, bool]] = []  # (tag, hidden: script/style or another language)

    def _hidden(self) -> bool:
        return bool(self.stack) and self.stack[-1][1]

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "a" and attrs.get("href"):
            self.links.append(attrs["href"])
        lang = attrs.get("lang")
        hidden = self._hidden() or tag in ("script", "style", "template", "code") or bool(
            lang and not self.lang.startswith(lang.split("-")[0]))
        # Django's admin draws a boolean as an icon whose alt is Python's True/False (not translatable there).
        if tag == "img" and "/admin/img/icon-" in (attrs.get("src") or ""):
            attrs.pop("alt", None)
        if not hidden:
            self.parts.extend(attrs[a] for a in self.ATTRS if attrs.get(a))
            if tag == "input" and attrs.get("type") in ("submit", "button") and attrs.get("value"):
                self.parts.append(attrs["value"])
        if tag not in self.VOID:
            self.stack.append((tag, hidden))

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        if tag not in self.VOID and self.stack:
            self.stack.pop()

    def handle_endtag(self, tag):
        for i in range(len(self.stack) - 1, -1, -1):
            if self.stack[i][0] == tag:
                del self.stack[i:]
                return

    def handle_data(self, data):
        if not self._hidden() and data.strip():
            self.parts.append(data.strip())


def page_words(client, url: str, lang: str) -> list[str]:
    """The visible words of the page at `url` read in `lang` (it must answer 200)."""
    response = client.get(url, HTTP_ACCEPT_LANGUAGE=lang)
    assert response.status_code == 200, (url, response.status_code)
    reader = Text(lang)
    reader.feed(response.content.decode())
    return reader.parts
