"""Explanations in words (issue 13): each case names its rule of the measures with the facts, written when read
in the reader's language from a code and its facts; the rules page lists every rule; no raw codes on the case."""
from __future__ import annotations

import re

import pytest
from django.urls import reverse
from django.utils import translation

from approvals.explanations import EXPLANATIONS, Code, citation, explain
from approvals.models import ApprovalCase, Post
from approvals.selectors import case_detail
from approvals.services import case_act
from common.rules import BY_ID, RULES
from tests.support.approvals import holder, hq_admin
from tests.support.factories import OutletFactory, StaffFactory, make_id_number
from tests.support.helpers import at, event_row, load_events, nightly, reserve

pytestmark = pytest.mark.django_db
ZH = {"HTTP_ACCEPT_LANGUAGE": "zh-hans"}
EN = {"HTTP_ACCEPT_LANGUAGE": "en"}


def _duplicate_case():
    """Two staff of one outlet reserved the same customer before the opening (R-MATCH-3)."""
    outlet = OutletFactory()
    first, second = StaffFactory(outlet=outlet, name="王一"), StaffFactory(outlet=outlet, name="赵二")
    idn = make_id_number()
    reserve(first, id_number=idn, when=at("2026-03-02 09:00"))
    reserve(second, id_number=idn, when=at("2026-03-02 11:00"))
    load_events([event_row(when=at("2026-03-04 10:00"), id_number=idn, name="张三", outlet=outlet)])
    nightly("2026-03-04")
    return ApprovalCase.objects.get(reason="duplicate"), outlet, first, second


def test_duplicate_case_explains_the_rule_with_how_many_claimants_and_who(client):
    """R-MATCH-3 in plain Chinese: the rule, two claimants by name and outlet, the opening date and branch."""
    case, outlet, first, second = _duplicate_case()
    assert case.explanation_code == "duplicate"
    assert case.explanation_params["staff_ids"] == [first.pk, second.pk]
    admin, _hq = hq_admin()
    client.force_login(holder(Post.ACCOUNT_OPENING_REVIEW, outlet.branch, actor=admin))
    html = client.get(reverse("approvals:case", args=[case.pk]), **ZH).content.decode()
    assert "《经纪业务机构管理平台客户关系管理办法》第九条第（一）项第2点关于重复预约的规定" in html
    assert "共有2名员工预约了该客户" in html
    assert "王一" in html and "赵二" in html and "2026-03-04" in html and outlet.branch.name in html
    assert f'href="{reverse("rules")}#R-MATCH-3"' in html


def test_the_same_case_reads_in_english_for_an_english_reader(client):
    case, outlet, _first, _second = _duplicate_case()
    admin, _hq = hq_admin()
    client.force_login(holder(Post.ACCOUNT_OPENING_REVIEW, outlet.branch, actor=admin))
    html = client.get(reverse("approvals:case", args=[case.pk]), **EN).content.decode()
    assert "Under the measures, article 9, item (1), point 2, the rule on duplicate reservations" in html
    assert "2 staff reserved this customer" in html and "重复预约" not in html


def test_late_case_names_the_window_and_its_end(client):
    """R-MATCH-4: registered when, opened when, the window's last day (7 working days, 国庆 counted off)."""
    outlet = OutletFactory()
    staff = StaffFactory(outlet=outlet, name="孙三")
    idn = make_id_number()
    load_events([event_row(when=at("2026-09-30 10:00"), id_number=idn, name="张三", outlet=outlet)])
    nightly("2026-09-30")
    r = reserve(staff, id_number=idn, when=at("2026-10-10 09:00"))
    case = ApprovalCase.objects.get(pk=r.approval_case_id)
    assert case.explanation_code == "late"
    with translation.override("zh-hans"):
        text = case_detail(hq_admin()[0], case.pk).explained.sentences[0].text
    assert "第九条第（一）项第2点关于补预约的规定" in text and "孙三" in text and "2026-10-10 09:00" in text
    assert "2026-09-30" in text and "2026-10-15" in text


def test_every_explanation_names_a_rule_that_the_rules_page_lists(client):
    """The rule ID of every explanation is on the rules page, with its text in both languages."""
    assert {a.rule_id for a in EXPLANATIONS.values()} <= set(BY_ID)
    client.force_login(hq_admin()[0])
    zh = client.get(reverse("rules"), **ZH).content.decode()
    en = client.get(reverse("rules"), **EN).content.decode()
    for rule in RULES:
        assert f'id="{rule.id}"' in zh
    with translation.override("zh-hans"):
        assert str(BY_ID["R-RES-4"].text) in zh and "不得超过1" in zh
    with translation.override("en"):
        assert str(BY_ID["R-RES-4"].text) in en
    assert f'href="{reverse("rules")}"' in zh   # reachable from the navigation


def test_a_rule_is_named_in_words_on_the_case_and_the_rules_page_never_by_its_internal_id(client):
    """Non-negotiable 9: the ID is the link's anchor only; the reader sees the section and the rule's number."""
    case, outlet, _first, _second = _duplicate_case()
    admin, _hq = hq_admin()
    client.force_login(holder(Post.ACCOUNT_OPENING_REVIEW, outlet.branch, actor=admin))
    html = client.get(reverse("approvals:case", args=[case.pk]), **ZH).content.decode()
    assert f'href="{reverse("rules")}#R-MATCH-3"' in html and "匹配第3条" in html
    rules_zh = client.get(reverse("rules"), **ZH).content.decode()
    rules_en = client.get(reverse("rules"), **EN).content.decode()
    visible = re.sub(r'(id|href)="[^"]*"', "", rules_zh)
    assert re.search(r"R-[A-Z]+-\d", visible) is None
    assert "审批第3条" in rules_zh and "Approvals, rule 3" in rules_en


def test_case_page_shows_steps_posts_and_decisions_in_words_not_codes(client):
    """No `account_opening_review`, `approve` or bare step number where a user reads the case."""
    case, outlet, first, second = _duplicate_case()
    admin, _hq = hq_admin()
    reviewer = holder(Post.ACCOUNT_OPENING_REVIEW, outlet.branch, actor=admin)
    case_act(actor=reviewer, case_id=case.pk, decision="approve")
    client.force_login(reviewer)
    html = client.get(reverse("approvals:case", args=[case.pk]), **ZH).content.decode()
    main = html[html.index("<main"):]
    assert "account_opening_review" not in main and ">approve<" not in main
    assert "第1步" in main and "开户复核" in main
    timeline = main[main.index("<tbody", main.index(">第1步") - 2000):]
    assert "<td>1</td>" not in main and "<td>approve</td>" not in timeline
    assert first.staff_no in main  # holders keep their staff numbers beside their names


def test_the_article_cited_follows_the_case_type():
    """Article 9 has one item per type: a late IB case cites item (4), a cross-region case item (1) point 4."""
    with translation.override("zh-hans"):
        assert citation(EXPLANATIONS[Code.LATE], "IB_SERVICE").endswith("第九条第（四）项第2点")
        assert citation(EXPLANATIONS[Code.CROSS_REGION], "NEW_DEV").endswith("第九条第（一）项第4点")
        assert citation(EXPLANATIONS[Code.BRANCH_END], "KEY_SERVICE").endswith("第九条第（十）项第4点")


def test_a_case_opened_without_a_code_shows_its_stored_text():
    case, *_rest = _duplicate_case()
    ApprovalCase.objects.filter(pk=case.pk).update(explanation_code="", explanation="旧说明")
    case.refresh_from_db()
    explained = explain(case, {})
    assert explained.sentences == [] and explained.legacy == "旧说明"
