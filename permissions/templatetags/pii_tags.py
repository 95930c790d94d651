"""`{% show_full_id reservation %}` / `{% show_full_id customer %}`: the logged "show full ID" button
(R-PII-1), rendered only for roles that need full values."""
from django import template
from django.urls import reverse

from permissions.pii import needs_full_pii

register = template.Library()


@register.inclusion_tag("permissions/_show_full_id.html", takes_context=True)
def show_full_id(context, obj):
    request = context.get("request")
    url = None
    if request is not None and obj is not None and needs_full_pii(request.user):
        name = "permissions:unmask_reservation" if obj._meta.model_name == "reservation" \
            else "permissions:unmask_customer"
        url = reverse(name, args=[obj.pk])
    return {"show_full_id_url": url, "request": request}
