"""Issue 19: the audit trail in the admin reads in the reader's language.

An action key ("callback.record") is shown by its label (relationships.audit.ACTION_LABELS), a row's kind
("relationships.callback") by its model's verbose name, before/after by the fields' verbose names and a choice by
its label, in zh-hans and in English; a key no writer uses any more reads in a generic wording, never as the key;
the key stays searchable. Every action key written anywhere in the code has a label: the test reads the code."""
from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from django.apps import apps
from django.conf import settings
from django.urls import reverse
from django.utils import translation

from common.actors import BATCH
from relationships.audit import ACTION_LABELS, audit, audit_many, change_words
from relationships.models import AuditEntry
from tests.support.words import page_words

ROOT = Path(settings.BASE_DIR)
SKIP = (".venv", "tests", "benchmarks", "fixtures", "node_modules", ".git")
KEY = re.compile(r"^[a-z][a-z_]*\.[a-z][a-z_]*$")
# An audit row written by SQL names its action and then its model: 'callback.create', 'relationships.callback'.
SQL_KEY = re.compile(r"'([a-z][a-z_]*\.[a-z][a-z_]*)',\s*'[a-z_]+\.[a-z_]+'")


def _is_model_label(text: str) -> bool:
    try:
        apps.get_model(text)
    except (LookupError, ValueError):
        return False
    return True


def _constants(node: ast.AST) -> list[str]:
    return [n.value for n in ast.walk(node) if isinstance(n, ast.Constant) and isinstance(n.value, str)]


def written_action_keys() -> dict[str, str]:
    """Every action key the code writes: the `action=` of a call (audit, audit_many, relationship_end …), a
    value assigned to `action` or its parameter's default, an (action, model label) pair collected for a bulk
    write, and the action literal of an INSERT INTO relationships_auditentry. An f-string `action=` is refused:
    a key is written in full, so that it can be read here."""
    keys: dict[str, str] = {}
    for path in ROOT.rglob("*.py"):
        rel = path.relative_to(ROOT)
        if rel.parts[0] in SKIP or "migrations" in rel.parts:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            found: list[str] = []
            if isinstance(node, ast.Call):
                for kw in node.keywords:
                    if kw.arg == "action":
                        assert not isinstance(kw.value, ast.JoinedStr), f"{rel}:{node.lineno}: write the key in full"
                        found += _constants(kw.value)
            elif isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "action"
                                                      for t in node.targets):
                found += _constants(node.value)
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                args = node.args.kwonlyargs
                found += [d.value for a, d in zip(args, node.args.kw_defaults, strict=True)
                          if a.arg == "action" and isinstance(d, ast.Constant) and isinstance(d.value, str)]
            elif isinstance(node, ast.Tuple) and len(node.elts) >= 2 and all(
                    isinstance(e, ast.Constant) and isinstance(e.value, str) for e in node.elts[:2]):
                first, second = node.elts[0].value, node.elts[1].value  # type: ignore[attr-defined]
                if KEY.match(first) and _is_model_label(second):
                    found.append(first)
            elif isinstance(node, ast.Constant) and isinstance(node.value, str) and "'" in node.value:
                found += SQL_KEY.findall(node.value)
            for value in found:
                if KEY.match(value) and not _is_model_label(value):
                    keys.setdefault(value, f"{rel}:{getattr(node, 'lineno', '?')}")
    return keys


def test_every_audit_action_key_written_in_the_code_has_a_label():
    keys = written_action_keys()
    # the reader of the code reads them all: direct calls, bulk writes, SQL, a variable, a parameter's default
    assert {"callback.record", "organisation.load", "reservation.match_outcome", "customer_class.end",
            "staff.qualification_validity", "relationship.replace", "relationship.end", "permission.granted",
            "reminder.escalate", "relationship.reassign"} <= set(keys)
    unlabelled = {key: where for key, where in keys.items() if key not in ACTION_LABELS}
    assert unlabelled == {}, f"add a label to relationships.audit.ACTION_LABELS: {unlabelled}"


@pytest.fixture
def hq_client(hq_admin_client):
    return hq_admin_client


def _words(client, url: str, lang: str) -> str:
    return " | ".join(page_words(client, url, lang))


def _entries(user):
    audit(actor=user, action="callback.record", target=("relationships.callback", 7),
          before={"status": "pending"}, after={"status": "confirmed", "note": "客户确认", "due_on": "2026-12-01"})
    audit_many(actor=BATCH, action="reservation.match_outcome", model_label="reservations.reservation",
               rows=[(9, None, {"status": "matched"})])
    audit(actor=user, action="legacy.thing_done", target=("legacy.gone", 3))


@pytest.mark.django_db
def test_audit_list_reads_actions_and_object_types_in_chinese(hq_client):
    _entries(hq_client.user)
    text = _words(hq_client, reverse("admin:relationships_auditentry_changelist"), "zh-hans")
    assert "登记回访结果" in text and "回访" in text
    assert "预约经夜间匹配处理" in text and "夜间批处理" in text
    assert "其他操作" in text and "其他记录" in text  # an action no writer uses any more: a generic wording
    for raw in ("callback.record", "relationships.callback", "reservation.match_outcome", "legacy.thing_done",
                "legacy.gone", "nightly-batch"):
        assert raw not in text


@pytest.mark.django_db
def test_audit_list_reads_actions_and_object_types_in_english(hq_client):
    _entries(hq_client.user)
    text = _words(hq_client, reverse("admin:relationships_auditentry_changelist"), "en")
    assert "callback recorded" in text and "reservation decided by the nightly matching" in text
    assert "other change" in text and "other record" in text
    assert "callback.record" not in text and "relationships.callback" not in text


@pytest.mark.django_db
@pytest.mark.parametrize("lang, expected", [
    ("zh-hans", ["登记回访结果", "变更前", "变更后", "状态", "待回访", "已确认", "应回访日期"]),
    ("en", ["callback recorded", "Before", "After", "status", "to call", "confirmed", "due on"]),
])
def test_audit_entry_page_names_the_changed_fields_by_their_verbose_names(hq_client, lang, expected):
    _entries(hq_client.user)
    entry = AuditEntry.objects.get(action="callback.record")
    text = _words(hq_client, reverse("admin:relationships_auditentry_change", args=[entry.pk]), lang)
    for words in expected:
        assert words in text, (words, text)
    assert "callback.record" not in text and "due_on" not in text and "客户确认" in text


@pytest.mark.django_db
def test_audit_filter_lists_actions_by_their_labels_and_the_key_stays_searchable(hq_client):
    _entries(hq_client.user)
    url = reverse("admin:relationships_auditentry_changelist")
    text = _words(hq_client, url, "zh-hans")
    assert "登记回访结果" in text and "建立客户关系" in text  # the filter's choices
    filtered = hq_client.get(url, {"action": "callback.record"}).context["cl"].result_list
    assert [e.action for e in filtered] == ["callback.record"]
    searched = hq_client.get(url, {"q": "match_outcome"}).context["cl"].result_list
    assert [e.action for e in searched] == ["reservation.match_outcome"]


@pytest.mark.django_db
@pytest.mark.parametrize("lang, expected", [("en", "The customer name differs"), ("zh-hans", "客户姓名")])
def test_a_note_stored_as_a_message_reads_in_the_readers_language_on_the_audit_entry(lang, expected):
    """Issue 19: the night's notes are messages (common.wording); the trail shows them in words, not as JSON."""
    note = {"msg": "The customer name differs from the name on the account opened on %(date)s.",
            "params": {"date": "2026-10-20"}}
    with translation.override(lang):
        pairs = change_words("reservations.reservation", {"note": note})
    assert len(pairs) == 1 and expected in pairs[0][1] and "msg" not in pairs[0][1]
