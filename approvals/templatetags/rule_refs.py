"""`{{ message|rule_refs }}`: a rule cited in a message ("… [R-APR-4]") becomes a small link to the rules page,
named in words ("审批第4条"); `{{ rule_id|rule_label }}` the same name alone. The ID stays in the link's anchor only:
rule IDs are internal and never read."""
from __future__ import annotations

import re

from django import template
from django.urls import reverse
from django.utils.html import conditional_escape, format_html
from django.utils.safestring import SafeString, mark_safe

from common.rules import rule_label as label_of

register = template.Library()
RULE_REF = re.compile(r"\s*\[(R-[A-Z]+(?:-[A-Z]+)?-\d+)\]")


@register.filter
def rule_refs(message) -> SafeString:
    text = str(conditional_escape(str(message)))
    rules = reverse("rules")
    return mark_safe(RULE_REF.sub(lambda m: " " + format_html(
        '<a class="rule-ref" href="{}#{}"><small>{}</small></a>', rules, m.group(1), label_of(m.group(1))), text))


@register.filter
def rule_label(rule_id) -> str:
    return label_of(str(rule_id))
