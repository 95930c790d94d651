"""A §12 feed file as lines of fields: its encoding decided, its CSV split line by line, or its workbook read.

**Encoding** (`decode_feed`), in this order:

1. a UTF-8 byte-order mark → UTF-8 (bytes that are not UTF-8 after it make the file unreadable);
2. a GB18030 byte-order mark (`84 31 95 33`) → GB18030;
3. the caller says which (`manage.py load_feed --encoding gb18030|utf-8`) → that one;
4. the bytes are valid UTF-8 and the text is *plausible* → UTF-8;
5. the bytes are valid GB18030 (GBK is its subset) and — when they were valid UTF-8 too — the GB18030 text is
   plausible → GB18030;
6. valid UTF-8 that is implausible both ways → UTF-8 (the §12 default: the lines are then judged one by one);
7. neither → the file is unreadable (`load_feed` exits 2).

*Plausible* means what Chinese names, codes and notes look like: every non-ASCII character is a Han character,
CJK or full-width punctuation, a middle dot, a general punctuation mark (dashes, curly quotes), a no-break space,
or a Latin letter with a diacritic inside a word that also has plain ASCII letters ("José" is plausible, "ëë"
is not); and there is no C1 control character (U+0080–U+009F) and no replacement character (U+FFFD) — the
marks of bytes decoded with the wrong table. Control and format characters (NUL, bidi marks…) do not count
either way: they are refused line by line. Why it matters: GBK bytes are sometimes valid UTF-8 — 谢伟 in GBK is
the UTF-8 of "лΰ" — and such a file used to load as garbled names.

**Lines.** Every record is one physical line: a field never spans lines (no §12 column may hold a line break,
which is a control character), so a stray `"` can never swallow the lines after it. Each line is split on its
own by RFC 4180's rules (a quoted field may hold commas and doubled quotes `""`); a line whose quoting is
malformed — a quote that does not close on the line, text after a closing quote, a quote inside an unquoted
field — is reported with its number and the column where it went wrong, and the next line is read as usual.
When a field was meant to span lines, both of its lines are reported. Python's `csv` module alone cannot do
this: it reads on past the line end looking for the closing quote, accepts a quote inside an unquoted field, and
in strict mode stops the whole file at the first error. So a line without a quote is split with `str.split`, a
line whose quoting a regular expression of RFC 4180 accepts is given to the `csv` module (one record per line,
all such lines in one pass), and only a malformed line goes through `split_line`, written here to say where
its quoting went wrong.

**Workbooks.** A file that starts like a zip archive is read as an `.xlsx` workbook (openpyxl, read-only): the
first sheet, the first non-empty row as the header, each sheet row's number as the line number. Cells become
text: whole numbers without `.0`, booleans `true`/`false`, a date (or a date-time at midnight) `YYYY-MM-DD`,
another date-time ISO 8601 without an offset (which a time column then refuses: §12 times carry their offset).
"""
from __future__ import annotations

import contextlib
import csv
import datetime as dt
import gc
import io
import re
import zipfile
from dataclasses import dataclass, field
from decimal import Decimal

from django.utils.translation import gettext_noop
from openpyxl import load_workbook
from openpyxl.utils.exceptions import InvalidFileException

from common.wording import Message

UTF8_BOM = b"\xef\xbb\xbf"
GB18030_BOM = b"\x84\x31\x95\x33"
ENCODINGS = ("utf-8", "gb18030")
_ZIP_MAGIC = b"PK\x03\x04"

# Non-ASCII characters a name, code or note plausibly holds (see the module docstring).
_PLAUSIBLE = (
    "\u00a0\u00b7"                                   # no-break space (Excel), middle dot (少数民族 names: 买买提·艾力)
    "\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u024f"        # Latin letters with diacritics (checked by word below)
    "\u2010-\u2027\u2030-\u205e"                     # general punctuation: dashes, quotes, bullets, ellipsis
    "\u2e80-\u2fdf\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"  # radicals, CJK punctuation, Han
    "\ufe30-\ufe4f\uff00-\uffef"                     # CJK compatibility forms, full-width and half-width forms
)
_PLAUSIBLE_ASTRAL = re.compile("[\U00020000-\U0003134f]")  # Han extensions B–G
# What does not count either way: control and format characters (refused per line), the BOM.
_NEUTRAL = "\x00-\x1f\x7f\u200b-\u200f\u202a-\u202e\u2060-\u206f\ufeff"
# Anything else — C1 controls (U+0080–U+009F) and U+FFFD included — is implausible; an astral character is
# looked at on its own (the BMP-only class is a fast bitmap).
_IMPLAUSIBLE = re.compile(f"[^\x00-\x7f{_PLAUSIBLE}{_NEUTRAL}]")
_ACCENTED_WORD = re.compile(r"[A-Za-z\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u024f]*[\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u024f]"
                            r"[A-Za-z\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u024f]*")
_ACCENTED = re.compile(r"[\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u024f]")
_ASCII_LETTER = re.compile(r"[A-Za-z]")
_LINE_BREAK = re.compile(r"\r\n|\r|\n")



class FeedFileError(ValueError):
    """The file as a whole cannot be read (`load_feed` exits 2)."""


def plausible(text: str) -> bool:
    if text.isascii():
        return True
    if any(not _PLAUSIBLE_ASTRAL.match(m.group()) for m in _IMPLAUSIBLE.finditer(text)):
        return False
    return not _ACCENTED.search(text) or all(_ASCII_LETTER.search(w) for w in _ACCENTED_WORD.findall(text))


def decode_feed(content: bytes, *, filename: str, encoding: str | None = None) -> tuple[str, str]:
    """(text, the encoding used), by the rule of the module docstring."""
    if content.startswith(UTF8_BOM):
        return _decode(content[len(UTF8_BOM):], "utf-8", filename), "utf-8"
    if content.startswith(GB18030_BOM):
        return _decode(content[len(GB18030_BOM):], "gb18030", filename), "gb18030"
    if encoding:
        if encoding not in ENCODINGS:
            raise FeedFileError(Message(gettext_noop("Unknown encoding “%(enc)s”; use utf-8 or gb18030."),
                                        {"enc": encoding}))
        return _decode(content, encoding, filename), encoding
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    if text is not None and plausible(text):
        return text, "utf-8"
    try:
        gb_text = content.decode("gb18030")
    except UnicodeDecodeError:
        if text is not None:
            return text, "utf-8"
        raise FeedFileError(Message(gettext_noop("%(file)s is neither UTF-8 nor GB18030 (GBK) text."),
                                    {"file": filename})) from None
    if text is None or plausible(gb_text):
        return gb_text, "gb18030"
    return text, "utf-8"


def _decode(content: bytes, encoding: str, filename: str) -> str:
    try:
        return content.decode(encoding)
    except UnicodeDecodeError:
        raise FeedFileError(Message(gettext_noop("%(file)s is not %(enc)s text."), {
            "file": filename, "enc": "UTF-8" if encoding == "utf-8" else "GB18030"})) from None


def well_quoted(line: str) -> bool:
    """Whether RFC 4180 accepts the quoting of this one line. Split on the quotes, the pieces alternate outside and
    inside a quoted field; an empty outside piece between two inside ones is a doubled quote. So: an even number of
    quotes, the text before the first one ends a field (empty or ending in a comma), the text after the last one
    starts one, and every other outside piece is empty or runs from a comma to a comma."""
    parts = line.split('"')
    if len(parts) == 1:
        return True
    if len(parts) % 2 == 0:
        return False
    if parts[0] and not parts[0].endswith(","):
        return False
    if parts[-1] and not parts[-1].startswith(","):
        return False
    return all(not p or (p[0] == "," and p[-1] == ",") for p in parts[2:-1:2])


class QuotingError(ValueError):
    def __init__(self, column: int, msgid: str) -> None:
        self.message = Message(msgid)  # shown in the reader's language (common.wording)
        super().__init__(self.message)
        self.column = column  # 1-based position of the field where the quoting went wrong


def split_line(text: str) -> list[str]:
    """One physical line into its fields (RFC 4180 quoting, confined to the line); `QuotingError` if malformed."""
    if '"' not in text:
        return text.split(",")
    fields: list[str] = []
    i, n = 0, len(text)
    while True:
        column = len(fields) + 1
        if i < n and text[i] == '"':
            i += 1
            parts = []
            while True:
                j = text.find('"', i)
                if j < 0:
                    raise QuotingError(column, gettext_noop("the quoted field does not end on this line (a field "
                                                            "cannot span lines)"))
                parts.append(text[i:j])
                if text.startswith('"', j + 1):
                    parts.append('"')
                    i = j + 2
                    continue
                i = j + 1
                break
            if i < n and text[i] != ",":
                raise QuotingError(column, gettext_noop("text follows the closing quote"))
            fields.append("".join(parts))
        else:
            j = text.find(",", i)
            j = n if j < 0 else j
            value = text[i:j]
            if '"' in value:
                raise QuotingError(column, gettext_noop("a quote inside an unquoted field (quote the whole field "
                                                        "and double the quote)"))
            fields.append(value)
            i = j
        if i >= n:
            return fields
        i += 1  # the comma


@dataclass
class FeedTable:
    """The header and the data lines as (physical line number, fields); lines refused while reading."""

    header: list[str]
    lines: list[tuple[int, list[str]]] = field(default_factory=list)
    errors: list[tuple[int, str]] = field(default_factory=list)
    raw: dict[int, str] = field(default_factory=dict)  # the text of each refused line
    encoding: str = "utf-8"


def _blank(fields: list[str]) -> bool:
    return not "".join(fields).strip()


def quoting_message(exc: QuotingError, header: list[str]) -> str:
    """The reason of a line with malformed quoting, as a message (`common.wording`)."""
    name = header[exc.column - 1] if exc.column <= len(header) else str(exc.column)
    return Message(gettext_noop("Malformed quoting in column %(col)s: %(reason)s."),
                   {"col": name, "reason": exc.message})


def read_csv(text: str, *, filename: str, encoding: str = "utf-8") -> FeedTable:
    header: list[str] | None = None
    table = FeedTable(header=[], encoding=encoding)
    quoted: list[int] = []  # positions in table.lines of well-quoted lines, split below by the csv module at once
    for number, raw in enumerate(_LINE_BREAK.split(text), start=1):
        if header is None:
            if not raw.strip():
                continue
            try:
                header = [h.strip() for h in split_line(raw)]
            except QuotingError as exc:
                raise FeedFileError(Message(gettext_noop("%(file)s: the header line has malformed quoting: "
                                                         "%(reason)s."), {"file": filename, "reason": exc.message}
                                            )) from None
            table.header = header
            continue
        if not raw:
            continue
        if '"' not in raw:
            table.lines.append((number, raw.split(",")))
        elif well_quoted(raw):
            quoted.append(len(table.lines))
            table.lines.append((number, [raw]))
        else:
            try:
                split_line(raw)
            except QuotingError as exc:
                table.errors.append((number, quoting_message(exc, header)))
                table.raw[number] = raw
    # Each of these lines is one balanced record, so the C parser reads them one record per line.
    for i, fields in zip(quoted, csv.reader(table.lines[i][1][0] for i in quoted), strict=True):
        table.lines[i] = (table.lines[i][0], fields)
    table.lines = [(n, f) for n, f in table.lines if not _blank(f)]
    return table


def is_workbook(content: bytes) -> bool:
    return content.startswith(_ZIP_MAGIC)


def _cell_text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time(0) and value.tzinfo is None else value.isoformat()
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else format(Decimal(repr(value)), "f")
    return str(value)


def read_workbook(content: bytes, *, filename: str) -> FeedTable:
    """The first sheet of an .xlsx workbook; row numbers are the sheet's."""
    try:
        book = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except (zipfile.BadZipFile, InvalidFileException, KeyError, OSError, ValueError) as exc:
        raise FeedFileError(Message(gettext_noop("%(file)s is not a readable .xlsx workbook."),
                                    {"file": filename})) from exc
    try:
        if not book.worksheets:
            raise FeedFileError(Message(gettext_noop("%(file)s has no sheet."), {"file": filename}))
        table = FeedTable(header=[], encoding="xlsx")
        header_seen = False
        for number, values in enumerate(book.worksheets[0].iter_rows(values_only=True), start=1):
            fields = [_cell_text(v) for v in values]
            if _blank(fields):
                continue
            if not header_seen:
                table.header, header_seen = [f.strip() for f in fields], True
                continue
            table.lines.append((number, fields))
        return table
    finally:
        book.close()


@contextlib.contextmanager
def gc_paused():
    """Reading a file makes millions of small lists and strings and no reference cycle: the cyclic collector would
    walk them again and again (it took three quarters of the time), so it waits until the lines are read."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def read_feed(content: bytes, *, filename: str, encoding: str | None = None) -> FeedTable:
    """A CSV (decoded by the rule above) or an .xlsx workbook, as a `FeedTable`; `FeedFileError` if unreadable."""
    if is_workbook(content):
        return read_workbook(content, filename=filename)
    text, used = decode_feed(content, filename=filename, encoding=encoding)
    return read_csv(text, filename=filename, encoding=used)
