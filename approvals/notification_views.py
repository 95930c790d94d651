"""The user's notifications in the site and his e-mail choice (R-APR-9)."""
from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods

from approvals.notices import Notification, NotificationPreference
from approvals.notifications import notification_preference_set, notifications_mark_read
from common.pagination import CappedPaginator

PAGE_SIZE = 50


class PreferenceForm(forms.Form):
    digest_only = forms.BooleanField(label=gettext_lazy("E-mail me only the daily digest"), required=False)


@login_required
@require_http_methods(["GET", "POST"])
def notification_list(request):
    """Newest first, 50 a page; POST saves the e-mail choice, or marks everything read."""
    if request.method == "POST":
        if request.POST.get("action") == "read":
            notifications_mark_read(actor=request.user)
            messages.success(request, _("All notifications are marked as read."))
        else:
            form = PreferenceForm(request.POST)
            if form.is_valid():
                notification_preference_set(actor=request.user, digest_only=form.cleaned_data["digest_only"])
                messages.success(request, _("Your e-mail choice has been saved."))
        return redirect("approvals:notifications")
    pref = NotificationPreference.objects.filter(user=request.user).first()
    form = PreferenceForm(initial={"digest_only": bool(pref and pref.digest_only)})
    page = CappedPaginator(Notification.objects.filter(user=request.user).order_by("-created_at", "-id"),
                           PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "approvals/notifications.html", {"page_obj": page, "form": form,
                                                            "has_address": bool(request.user.email)})
