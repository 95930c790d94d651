"""Chinese first: every msgid of the project's own code and templates has a zh-hans translation.

The test re-extracts the messages into a copy of the catalog, so a string added without a translation
fails here, and checks that the committed .mo is the compiled form of the committed .po.
"""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command

ROOT = Path(settings.BASE_DIR)
PO = ROOT / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po"
IGNORE = [".venv/*", "benchmarks/*", "tests/*", "fixtures/*", "staticfiles/*", "test-artifacts/*", ".pgdata*"]


def _msgattrib(po: Path, flag: str) -> str:
    return subprocess.run(["msgattrib", flag, "--no-wrap", str(po)], capture_output=True, text=True,
                          check=True).stdout


def test_every_message_of_the_project_is_translated_to_simplified_chinese(tmp_path, settings, monkeypatch):
    # Extract from a copy of the sources, so the committed catalog is never touched by the test.
    src = tmp_path / "src"
    shutil.copytree(ROOT, src, ignore=shutil.ignore_patterns(
        ".git", ".venv", ".pgdata*", "fixtures", "benchmarks", "tests", "test-artifacts", "staticfiles",
        "__pycache__", "node_modules"))
    settings.LOCALE_PATHS = [str(src / "locale")]
    monkeypatch.chdir(src)
    call_command("makemessages", locale=["zh_Hans"], ignore_patterns=IGNORE, no_obsolete=True, verbosity=0)
    extracted = src / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po"
    assert extracted.read_text(encoding="utf-8").count("\nmsgid ") > 300  # the extraction really ran
    untranslated = [line for line in _msgattrib(extracted, "--untranslated").splitlines()
                    if line.startswith("msgid ") and line != 'msgid ""']
    fuzzy = [line for line in _msgattrib(extracted, "--only-fuzzy").splitlines()
             if line.startswith("msgid ") and line != 'msgid ""']
    assert untranslated == [], f"{len(untranslated)} untranslated: {untranslated[:20]}"
    assert fuzzy == [], f"{len(fuzzy)} fuzzy: {fuzzy[:20]}"


def test_committed_catalog_compiles_and_matches_its_mo(tmp_path):
    out = tmp_path / "django.mo"
    subprocess.run(["msgfmt", "--check", "-o", str(out), str(PO)], check=True)
    assert out.read_bytes() == PO.with_suffix(".mo").read_bytes(), "run: manage.py compilemessages"


@pytest.mark.django_db
def test_pages_render_in_chinese_by_default_and_english_on_request(client):
    from tests.support.factories import StaffFactory

    staff = StaffFactory()
    client.force_login(staff.user)
    assert "我的预约" in client.get("/reservations/").content.decode()
    assert "My reservations" in client.get("/reservations/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
