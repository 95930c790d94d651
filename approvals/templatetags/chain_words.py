"""Issue 19: an approval chain named in the page's language.

The seeded chains (approvals/migrations/0002_seed_chains.py) are stored with their Chinese names; shown as they
are, the English UI read 一级审批. A chain still carrying its seeded name is named by its code in the reader's
language; a chain HQ renamed (or added) in the admin keeps the name HQ gave it."""
from __future__ import annotations

from django import template
from django.utils.translation import gettext_lazy as _

register = template.Library()

# code: (seeded name, the name in the reader's language)
SEEDED = {
    "three_level": ("三级审批", _("Three-level approval")),
    "two_level_ib": ("二级审批（IB）", _("Two-level approval (IB)")),
    "one_level": ("一级审批", _("One-level approval")),
    "special_new": ("特殊新增审批", _("Special new-development approval")),
    "broker": ("经纪人开发关系审批", _("Broker development approval")),
    "cross_region": ("跨区域审批", _("Cross-region approval")),
    "core_list": ("核心客户名单审核", _("Core customer list review")),
}


@register.filter
def chain_label(chain) -> str:
    if chain is None:
        return ""
    seeded = SEEDED.get(chain.code)
    if seeded is not None and chain.name == seeded[0]:
        return str(seeded[1])
    return chain.name
