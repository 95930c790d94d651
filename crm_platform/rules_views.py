"""The rules page: every rule of the measures with its text, in the reader's language (common.rules)."""
from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from common.rules import RULES, SECTIONS


@login_required
def rules(request):
    sections = [{"key": key, "title": title, "rules": [r for r in RULES if r.section == key]}
                for key, title in SECTIONS.items()]
    return render(request, "rules.html", {"sections": sections})
