"""Issue 19: HQ's lists of approval chains and relationship types read in the reader's language.

A chain is listed by its label (a seeded chain's name in the reader's language), never by its code ("three_level",
"broker"); a type by its name in the reader's language (the row's Chinese name, or its English name on an English
page), never by its code ("MAINTENANCE"), and the chains a type names by their labels. The codes stay on the change
forms, where HQ types them."""
from __future__ import annotations

import pytest
from django.urls import reverse

from approvals.models import Chain
from tests.support.words import page_words

pytestmark = pytest.mark.django_db

CHAIN_CODES = ("three_level", "two_level_ib", "one_level", "special_new", "broker", "cross_region", "core_list",
               "reassignment")


@pytest.fixture
def hq_client(hq_admin_client):
    return hq_admin_client


@pytest.mark.parametrize("lang, names", [
    ("zh-hans", ["三级审批", "二级审批（IB）", "经纪人开发关系审批", "核心客户名单审核"]),
    ("en", ["Three-level approval", "Two-level approval (IB)", "Broker development approval",
            "Core customer list review"]),
])
def test_the_chain_list_shows_each_chain_by_its_label_not_its_code(hq_client, lang, names):
    words = page_words(hq_client, reverse("admin:approvals_chain_changelist"), lang)
    for name in names:
        assert name in words
    assert not set(CHAIN_CODES) & {w for part in words for w in part.split()}


def test_the_codes_stay_on_the_change_forms_as_literals_notpage_words(hq_client):
    chain = Chain.objects.get(code="broker", active=True)
    url = reverse("admin:approvals_chain_change", args=[chain.pk])
    assert "<code>broker</code>" in hq_client.get(url).content.decode()
    assert "broker" not in " ".join(page_words(hq_client, url, "zh-hans"))
    url = reverse("admin:relationships_relationshiptype_change", args=["MAINTENANCE"])
    html = hq_client.get(url).content.decode()
    assert "<code>MAINTENANCE</code>" in html and 'name="code"' not in html  # not editable once created
    assert "MAINTENANCE" not in " ".join(page_words(hq_client, url, "zh-hans"))


@pytest.mark.parametrize("lang, present, absent", [
    ("zh-hans", ["维护关系", "新增开发关系", "IB服务关系", "三级审批", "二级审批（IB）", "核心客户名单审核"],
     ["MAINTENANCE", "NEW_DEV", "Maintenance", "New development"]),
    ("en", ["Maintenance", "New development", "IB service", "Three-level approval", "Two-level approval (IB)",
            "Core customer list review"],
     ["维护关系", "新增开发关系", "IB服务关系", "MAINTENANCE"]),
])
def test_the_type_list_shows_each_type_and_its_chains_in_the_readers_language(hq_client, lang, present, absent):
    words = page_words(hq_client, reverse("admin:relationships_relationshiptype_changelist"), lang)
    for text in present:
        assert text in words, (text, words)
    for text in absent:
        assert text not in words, text
    assert not set(CHAIN_CODES) & set(words)
