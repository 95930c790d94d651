"""Issue 19: a seeded approval chain is named in the reader's language; a chain HQ renamed keeps HQ's name."""
from __future__ import annotations

from types import SimpleNamespace

from django.utils import translation

from approvals.templatetags.chain_words import chain_label


def test_a_seeded_chain_reads_in_the_pages_language_and_a_renamed_one_as_hq_named_it():
    seeded = SimpleNamespace(code="one_level", name="一级审批")
    renamed = SimpleNamespace(code="one_level", name="Fast track")
    with translation.override("en"):
        assert chain_label(seeded) == "One-level approval"
        assert chain_label(renamed) == "Fast track"
    with translation.override("zh-hans"):
        assert chain_label(seeded) == "一级审批"
    assert chain_label(None) == ""
