"""Messages stored as a code with parameters and rendered in the reader's language.

A text stored once and read later by somebody else (a feed's refused-line reasons) must not be frozen in the
language of whoever produced it: the night batch runs in zh-hans, an uploader may read English, the reader of
the feed page may read the other. So such a text is kept as a *message*: its msgid — the English source string,
marked at the call site with `gettext_noop` so that makemessages still finds it and the catalogue translates
it — and its parameters, plain JSON values or messages themselves (nested: "column %(col)s: %(reason)s").
`render` turns a stored message into text in the language active when it is read.

Stored form (JSON): a literal text is a plain string (a database constraint's wording, an old row's reason);
a message is ``{"msg": msgid, "params": {...}}`` (``"ctx"`` too for a `pgettext_noop` msgid); a sequence of
them is ``{"join": separator, "parts": [...]}`` (a service's several refusals, field by field).

`Message` is a `str` — the text in the language it was made in — so that logs, the command's output and code
that compares or searches reasons keep working; `as_json` gives what is stored, which is what matters.

`from_validation_error` converts a Django `ValidationError` without flattening it: an error with `params`
keeps them; an error whose text was formatted before it was raised (most services do `_("…") % {…}`) is
recognised in the catalogue — exactly for a fixed text, by its template otherwise, checked by formatting the
template again with the parameters read back — whatever the language it was raised in. A text the catalogue
does not know stays literal.
"""
from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import gettext, pgettext, trans_real

JSONValue = Any


class Message(str):
    """A msgid and its parameters; as a `str`, its text in the language active when it was made."""

    msgid: str
    params: dict[str, Any]
    context: str | None

    def __new__(cls, msgid: str, params: Mapping[str, Any] | None = None, *, context: str | None = None):
        params = dict(params or {})
        obj = super().__new__(cls, _format(msgid, params, context))
        obj.msgid, obj.params, obj.context = msgid, params, context
        return obj

    def as_json(self) -> dict[str, JSONValue]:
        stored: dict[str, JSONValue] = {"msg": self.msgid, "params": {k: to_json(v) for k, v in self.params.items()}}
        if self.context:
            stored["ctx"] = self.context
        return stored

    def render(self) -> str:
        """The text in the language active now."""
        return _format(self.msgid, self.params, self.context)

    def __reduce__(self):  # pickled and copied as the message, not as its text
        return _message, (self.msgid, self.params, self.context)


class Joined(str):
    """Several messages (or literal texts) shown one after the other, joined by a separator."""

    separator: str
    parts: tuple[Any, ...]

    def __new__(cls, separator: str, parts: Iterable[Any]):
        parts = tuple(parts)
        obj = super().__new__(cls, separator.join(render_value(p) for p in parts))
        obj.separator, obj.parts = separator, parts
        return obj

    def as_json(self) -> dict[str, JSONValue]:
        return {"join": self.separator, "parts": [to_json(p) for p in self.parts]}

    def render(self) -> str:
        return self.separator.join(render_value(p) for p in self.parts)

    def __reduce__(self):
        return Joined, (self.separator, self.parts)


def _message(msgid: str, params: dict[str, Any], context: str | None) -> Message:
    return Message(msgid, params, context=context)


def to_json(value: Any) -> JSONValue:
    """What is stored for a message, a joined message, a literal text or a plain parameter value."""
    if isinstance(value, (Message, Joined)):
        return value.as_json()
    if isinstance(value, str):
        return str(value)
    if isinstance(value, (list, tuple)):
        return [to_json(v) for v in value]
    return value


def _format(msgid: str, params: Mapping[str, Any], context: str | None) -> str:
    template = pgettext(context, msgid) if context else gettext(msgid)
    if not params:
        return template
    values = {k: render_value(v) if isinstance(v, (str, dict)) else v for k, v in params.items()}
    # A message stored long ago whose wording has changed since still shows: the translation, else the source
    # text, else the source text unformatted.
    for text in (template, msgid):
        try:
            return text % values
        except (KeyError, TypeError, ValueError):
            continue
    return msgid


def render_value(value: JSONValue) -> str:
    """A stored message (or a literal text) as text in the language active now."""
    if isinstance(value, (Message, Joined)):
        return value.render()
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        if "msg" in value:
            return _format(value["msg"], value.get("params") or {}, value.get("ctx"))
        if "join" in value:
            return str(value["join"]).join(render_value(p) for p in value.get("parts", []))
    return "" if value is None else str(value)


def shown(message: JSONValue | None, text: str) -> str:
    """A stored text in the reader's language: its message; a row stored before its column held messages has only
    its text, recognised in the catalogue where it can be, else shown as it was worded then."""
    return render_value(recognise(text) if message is None else message)


def render(entry: Mapping[str, Any]) -> str:
    """The reason of one stored refused line, in the reader's language: its message (``msg``/``join``), or the
    ``reason`` text of a row stored before reasons were messages (frozen in its uploader's language)."""
    return str(from_stored(entry))  # a message is made in the language active now


def from_json(value: JSONValue) -> str:
    """A stored message back as a `Message` (or `Joined`, or the literal text)."""
    if isinstance(value, dict) and "msg" in value:
        return Message(value["msg"], {k: from_json(v) for k, v in (value.get("params") or {}).items()},
                       context=value.get("ctx"))
    if isinstance(value, dict) and "join" in value:
        return Joined(value["join"], [from_json(p) for p in value.get("parts", [])])
    return value


def from_stored(entry: Mapping[str, Any]) -> str:
    """The reason of one stored refused line as a message (the literal ``reason`` of an old row)."""
    if "msg" in entry or "join" in entry:
        return from_json({k: entry[k] for k in ("msg", "params", "ctx", "join", "parts") if k in entry})
    return str(entry.get("reason", ""))


def message_of(exc: BaseException) -> str:
    """The message an exception was raised with (`raise ValueError(Message(…))`), or its text recognised."""
    if exc.args and isinstance(exc.args[0], (Message, Joined)):
        return exc.args[0]
    return recognise(str(exc))


def stored_line(line: int, reason: Any) -> dict[str, JSONValue]:
    """One refused line as stored: {"line", "msg", "params"} (or "join"/"parts"), or {"line", "reason"} for a
    literal text."""
    value = to_json(reason)
    if isinstance(value, dict):
        return {"line": line, **value}
    return {"line": line, "reason": value}


# --- recognising a text already formatted ------------------------------------------------------------------

# A template recognised in a text must say something of its own: "%(a)s%(b)s" would match any text.
_MIN_LITERAL = 4
_PLACEHOLDER = re.compile(r"%(?:\((\w+)\))?([-#0 +]*\d*(?:\.\d+)?)([sdifrxXo%])")


Known = tuple[str, str | None]  # (msgid, context)
Template = tuple[int, re.Pattern, str, str, str | None]  # (literal characters, pattern, text, msgid, context)


@functools.lru_cache(maxsize=1)
def _catalogue() -> tuple[dict[str, Known], dict[str, list[Template]]]:
    """(every text → (msgid, context), first two characters → templates) over every language's catalogue:
    the English source texts and each translation. (Django gives no public way to list a catalogue's entries;
    `_catalog` is the one its JavaScript catalogue view reads too.)"""
    fixed: dict[str, Known] = {}
    templates: dict[str, list[Template]] = {}
    for code, _name in settings.LANGUAGES:
        for key, text in trans_real.translation(code)._catalog.items():  # type: ignore[attr-defined]
            if not isinstance(key, str) or not key or not isinstance(text, str):
                continue  # plural forms and the header
            context, _sep, msgid = key.rpartition("\x04")
            for shown in {msgid, text}:
                fixed.setdefault(shown, (msgid, context or None))
                if "%" not in shown:
                    continue
                pattern, literal = _template_pattern(shown)
                if pattern is None or literal < _MIN_LITERAL:
                    continue
                head = shown.split("%", 1)[0][:2]
                templates.setdefault(head, []).append((literal, pattern, shown, msgid, context or None))
    for entries in templates.values():
        entries.sort(key=lambda e: -e[0])  # the most specific template first
    return fixed, templates


def _template_pattern(template: str) -> tuple[re.Pattern | None, int]:
    parts, names, literal, pos = [], set(), 0, 0
    for m in _PLACEHOLDER.finditer(template):
        parts.append(re.escape(template[pos:m.start()]))
        literal += m.start() - pos
        pos = m.end()
        name, conv = m.group(1), m.group(3)
        if conv == "%":
            parts.append("%")
            continue
        if name is None:
            return None, 0  # positional: never used with params
        if name in names:
            parts.append(f"(?P={name})")
            continue
        names.add(name)
        parts.append(rf"(?P<{name}>-?\d+)" if conv in "di" else rf"(?P<{name}>[0-9A-Fa-f]+)" if conv in "xX"
                     else f"(?P<{name}>.*?)")
    parts.append(re.escape(template[pos:]))
    literal += len(template) - pos
    return re.compile("".join(parts), re.DOTALL), literal


def _typed(template: str, values: dict[str, str]) -> dict[str, Any]:
    typed: dict[str, Any] = dict(values)
    for m in _PLACEHOLDER.finditer(template):
        name, conv = m.group(1), m.group(3)
        if name and name in values and conv in "dixX":
            typed[name] = int(values[name], 16 if conv in "xX" else 10)
    return typed


def recognise(text: str) -> str:
    """`text` as a `Message` if the catalogue knows it (in any language), else `text` itself; a message stays
    as it is."""
    if isinstance(text, (Message, Joined)):
        return text
    return _recognise(str(text), 0)


@functools.lru_cache(maxsize=8192)
def _recognise(text: str, depth: int) -> str:
    fixed, templates = _catalogue()
    known = fixed.get(text)
    if known is not None and "%" not in text:
        return Message(known[0], context=known[1])
    if depth > 2:
        return text
    candidates = [*templates.get(text[:2], ()), *templates.get(text[:1], ()), *templates.get("", ())]
    for _literal, pattern, shown, msgid, context in sorted(candidates, key=lambda e: -e[0]):
        match = pattern.fullmatch(text)
        if match is None:
            continue
        params = _typed(shown, match.groupdict())
        try:
            if shown % params != text:
                continue
        except (TypeError, ValueError):
            continue
        # A parameter that is itself a text (not a code, a number or a name) may be a message too.
        return Message(msgid, {k: _recognise(v, depth + 1) if isinstance(v, str) and (" " in v or not v.isascii())
                               else v for k, v in params.items()}, context=context)
    return text


def from_validation_error(exc: ValidationError, *, by_field: bool = True) -> str:
    """Every message of a service's refusal as one message, field by field ("field: …; other: …"), or one after
    the other (`by_field=False`, as `" ".join(exc.messages)` would)."""
    if hasattr(exc, "error_dict") and not by_field:
        return _joined_items([e for errors in exc.error_dict.values() for e in errors])
    if hasattr(exc, "error_dict"):
        return Joined("; ", [Joined(": ", [field, _joined_items(errors)]) for field, errors in
                             exc.error_dict.items()])
    return _joined_items(exc.error_list)


def _joined_items(errors: Iterable[ValidationError]) -> str:
    items = [_one(e) for e in errors]
    return items[0] if len(items) == 1 else Joined(" ", items)


def _one(error: ValidationError) -> str:
    template = str(error.message)
    if error.params:
        known = _catalogue()[0].get(template)
        if known is not None:
            return Message(known[0], {k: v if isinstance(v, (int, float, bool, str)) or v is None else str(v)
                                      for k, v in error.params.items()}, context=known[1])
        return recognise(template % error.params)
    return recognise(template)
