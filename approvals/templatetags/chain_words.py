"""Issue 19: an approval chain named in the page's language.

The seeded chains (approvals/migrations/0002_seed_chains.py) are stored with their Chinese names; shown as they
are, the English UI read 一级审批. A chain still carrying its seeded name is named by its code in the reader's
language; a chain HQ renamed (or added) in the admin keeps the name HQ gave it."""
from __future__ import annotations

from django import template

from approvals.models.chains import chain_name

register = template.Library()


@register.filter
def chain_label(chain) -> str:
    """Chain.label (approvals.models.chains.SEEDED_NAMES) for templates; nothing for no chain."""
    return "" if chain is None else chain_name(code=chain.code, name=chain.name)
