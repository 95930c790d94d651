"""§12 file reading, without a database: the encoding rule, quoting confined to one physical line, blank lines."""
from __future__ import annotations

import pytest

from common.feedtext import FeedFileError, decode_feed, read_csv, split_line, well_quoted

NAME = "张三丰"


def test_s12_utf8_text_is_read_as_utf8():
    assert decode_feed(f"name\n{NAME}\n".encode(), filename="f.csv") == (f"name\n{NAME}\n", "utf-8")


def test_s12_gbk_bytes_that_are_not_utf8_are_read_as_gb18030():
    assert decode_feed(f"name\n{NAME}\n".encode("gb18030"), filename="f.csv")[1] == "gb18030"


def test_s12_gbk_bytes_that_happen_to_be_valid_utf8_but_implausible_are_read_as_gb18030():
    content = "谢伟".encode("gb18030")  # also valid UTF-8 ("лΰ"), which is no name
    assert content.decode("utf-8") == "лΰ"
    assert decode_feed(content, filename="f.csv") == ("谢伟", "gb18030")


def test_s12_a_byte_order_mark_decides_the_encoding():
    assert decode_feed(b"\xef\xbb\xbfname\n", filename="f.csv") == ("name\n", "utf-8")


def test_s12_an_encoding_the_file_declares_is_used_and_an_unknown_one_refused():
    assert decode_feed(NAME.encode("gb18030"), filename="f.csv", encoding="gb18030") == (NAME, "gb18030")
    with pytest.raises(FeedFileError):
        decode_feed(b"x", filename="f.csv", encoding="latin-1")


def test_s12_bytes_that_are_neither_utf8_nor_gb18030_refuse_the_file():
    with pytest.raises(FeedFileError):
        decode_feed(b"\xff\xff\xff\xff", filename="f.csv")


@pytest.mark.parametrize(("line", "fields"), [
    ("a,b,c", ["a", "b", "c"]),
    ('a,"b,c",d', ["a", "b,c", "d"]),
    ('"say ""hi""",x', ['say "hi"', "x"]),
    (",,", ["", "", ""]),
])
def test_s12_quoting_follows_rfc4180_within_one_line(line, fields):
    assert well_quoted(line)
    assert split_line(line) == fields


@pytest.mark.parametrize("line", ['a,"b', 'a,b"c', '"a"b,c', 'a,"b"x'])
def test_s12_malformed_quoting_is_refused_for_that_line(line):
    assert not well_quoted(line)


def test_s12_a_stray_quote_refuses_its_own_line_and_hides_none_after_it():
    table = read_csv('id,name\n1,ok\n2,"broken\n3,fine\n\n4,"quoted, name"\n', filename="f.csv")
    assert table.header == ["id", "name"]
    assert [(n, f) for n, f in table.lines] == [(2, ["1", "ok"]), (4, ["3", "fine"]), (6, ["4", "quoted, name"])]
    assert [n for n, _ in table.errors] == [3]
    assert table.raw[3] == '2,"broken'


def test_s12_a_header_with_malformed_quoting_refuses_the_file():
    with pytest.raises(FeedFileError):
        read_csv('id,"name\n1,x\n', filename="f.csv")
