"""R-APR-10 pages: the branch head's (HQ's) post designations and delegations, and handing a waiting step to another
holder. Thin: a form parses, a service of approvals.designations decides and writes the register."""
from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Q
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST

from approvals.designations import (
    designation_add,
    designation_end,
    managed_organisations,
    may_reassign,
    reassign_targets,
    step_reassign,
)
from approvals.models import Post, PostAssignment
from approvals.waiting import current_steps, with_waiting
from common.pagination import CappedPaginator
from permissions.scoping import visible_post_assignments
from relationships.models import Organisation
from relationships.workdays import WorkdayAges

HISTORY_PAGE = 50


class DesignationForm(forms.Form):
    post = forms.ChoiceField(label=gettext_lazy("Post"), choices=Post.choices)
    organisation = forms.ModelChoiceField(label=gettext_lazy("Organisation"), queryset=Organisation.objects.none())
    username = forms.CharField(label=gettext_lazy("User name of the holder"), max_length=150)
    valid_from = forms.DateField(label=gettext_lazy("Valid from"), widget=forms.DateInput(attrs={"type": "date"}))
    valid_to = forms.DateField(label=gettext_lazy("Valid to (last day)"), required=False,
                               widget=forms.DateInput(attrs={"type": "date"}))
    delegate_for = forms.ModelChoiceField(label=gettext_lazy("Delegate for (final approval only)"), required=False,
                                          queryset=PostAssignment.objects.none())
    reason = forms.CharField(label=gettext_lazy("Reason"), max_length=500, required=False)

    def __init__(self, *args, organisations, holders, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["organisation"].queryset = organisations
        self.fields["delegate_for"].queryset = holders

    def clean_username(self):
        user = get_user_model().objects.filter(username=self.cleaned_data["username"].strip(), is_active=True).first()
        if user is None:
            raise ValidationError(_("No active user has this user name."))
        return user


class EndForm(forms.Form):
    on = forms.DateField(label=gettext_lazy("Last day"), widget=forms.DateInput(attrs={"type": "date"}))
    reason = forms.CharField(label=gettext_lazy("Reason"), max_length=500)


class ReassignForm(forms.Form):
    to_user = forms.ModelChoiceField(label=gettext_lazy("Hand to"), queryset=get_user_model().objects.none())
    reason = forms.CharField(label=gettext_lazy("Reason"), max_length=500)

    def __init__(self, *args, candidates, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["to_user"].queryset = candidates


def _add_errors(form, exc) -> None:
    if isinstance(exc, ValidationError) and hasattr(exc, "error_dict"):
        for field, msgs in exc.message_dict.items():
            form.add_error(field if field in form.fields else None, msgs)
    else:
        form.add_error(None, exc.messages if isinstance(exc, ValidationError) else [str(exc)])


@login_required
@require_http_methods(["GET", "POST"])
def designations(request):
    """The organisations' designations he manages: current ones (end early) and history; the add form."""
    orgs = managed_organisations(request.user)
    if not orgs.exists():
        raise PermissionDenied(_("Only a branch head or the head office manages post designations."))
    rows = (visible_post_assignments(request.user).filter(organisation__in=orgs)
            .select_related("organisation", "user", "delegate_for__user", "created_by"))
    today = timezone.localdate()
    live = Q(valid_to__isnull=True) | Q(valid_to__gte=today)
    holders = rows.filter(live, post=Post.FINAL_APPROVAL, delegate_for__isnull=True)
    form = DesignationForm(request.POST or None, organisations=orgs, holders=holders,
                           initial={"valid_from": today})
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            designation_add(actor=request.user, post=d["post"], organisation=d["organisation"], user=d["username"],
                            valid_from=d["valid_from"], valid_to=d["valid_to"], delegate_for=d["delegate_for"],
                            reason=d["reason"])
        except (ValidationError, PermissionDenied) as exc:
            _add_errors(form, exc)
        else:
            messages.success(request, _("The designation has been recorded."))
            return redirect("approvals:designations")
    history = CappedPaginator(rows.exclude(live).order_by("-valid_to", "-id"), HISTORY_PAGE).get_page(
        request.GET.get("page"))
    # R-APR-10: every step waiting at his organisations, oldest first, each to hand to another holder of its post.
    waiting = CappedPaginator(with_waiting(current_steps().filter(organisation__in=orgs))
                              .select_related("organisation", "case__customer", "case__type")
                              .order_by("waiting_since", "case_id", "id"), HISTORY_PAGE
                              ).get_page(request.GET.get("wpage"))
    ages = WorkdayAges()
    for step in waiting.object_list:
        step.age = ages.age(step.waiting_since)
    return render(request, "approvals/designations.html", {
        "form": form, "current": list(rows.filter(live).order_by("organisation__code", "post", "valid_from", "id")),
        "history": history, "end_form": EndForm(initial={"on": today}), "today": today, "waiting": waiting,
    }, status=400 if request.method == "POST" else 200)


@login_required
@require_POST
def designation_end_view(request, pk: int):
    if not visible_post_assignments(request.user).filter(pk=pk).exists():
        raise Http404(_("No such designation."))
    form = EndForm(request.POST)
    if form.is_valid():
        try:
            designation_end(actor=request.user, assignment_id=pk, on=form.cleaned_data["on"],
                            reason=form.cleaned_data["reason"])
        except (ValidationError, PermissionDenied) as exc:
            for msg in exc.messages if isinstance(exc, ValidationError) else [str(exc)]:
                messages.error(request, msg)
        else:
            messages.success(request, _("The designation has been ended."))
    else:
        for errors in form.errors.values():
            for msg in errors:
                messages.error(request, msg)
    return redirect("approvals:designations")


@login_required
@require_http_methods(["GET", "POST"])
def step_reassign_view(request, pk: int):
    """Hand a waiting step to another current holder of its post (the head it escalates to, R-APR-10)."""
    step = current_steps().select_related("organisation", "case__customer", "case__type").filter(pk=pk).first()
    if step is None or not may_reassign(request.user, step):
        raise Http404(_("No such waiting step."))
    candidates = get_user_model().objects.filter(pk__in=reassign_targets(step)).order_by("username")
    form = ReassignForm(request.POST or None, candidates=candidates)
    if request.method == "POST" and form.is_valid():
        try:
            step_reassign(actor=request.user, step_id=step.pk, to_user=form.cleaned_data["to_user"],
                          reason=form.cleaned_data["reason"])
        except (ValidationError, PermissionDenied) as exc:
            _add_errors(form, exc)
        else:
            messages.success(request, _("The step has been handed to %(user)s.")
                             % {"user": form.cleaned_data["to_user"].get_username()})
            return redirect("approvals:case", pk=step.case_id)
    return render(request, "approvals/reassign.html", {"step": step, "form": form},
                  status=400 if request.method == "POST" else 200)
