"""Forms of the permission pages: parsing only; `permissions.services` decides."""
from __future__ import annotations

from django import forms
from django.contrib.auth import get_user_model
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from permissions.authority import administered_branch_ids, user_branch_ids, users_of_branches
from permissions.models import ApplicationAction, ApplicationStatus, Role
from permissions.services import APPLICABLE_KINDS, SIGNOFF_STATEMENT
from relationships.models import Organisation, OrgKind


class UserChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        staff = getattr(obj, "staff", None)
        return f"{staff.name} ({staff.staff_no})" if staff else obj.get_username()


class RoleChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        return f"{obj.user.get_username()}: {obj.get_kind_display()} @ {obj.organisation.name}"


class ApplicationForm(forms.Form):
    subject = UserChoiceField(label=_("User concerned"), queryset=get_user_model().objects.none())
    action = forms.ChoiceField(label=pgettext_lazy("the kind of change asked", "Change"),
                               choices=ApplicationAction.choices)
    role = RoleChoiceField(label=_("Existing role (to adjust or revoke)"), queryset=Role.objects.none(),
                           required=False)
    role_kind = forms.ChoiceField(label=_("Role asked for"), required=False,
                                  choices=[("", "—")] + [(k.value, k.label) for k in APPLICABLE_KINDS])
    organisation = forms.ModelChoiceField(label=_("At organisation"), queryset=Organisation.objects.none(),
                                          required=False)
    reason = forms.CharField(label=_("Reason"), widget=forms.Textarea(attrs={"rows": 3}), max_length=2000)
    signed_off = forms.BooleanField(label=_("Applicant's sign-off"), required=False)

    def __init__(self, *args, actor, **kwargs):
        super().__init__(*args, **kwargs)
        User = get_user_model()
        admin_branches = administered_branch_ids(actor)
        if admin_branches is None or admin_branches:
            subjects = users_of_branches(admin_branches) | User.objects.filter(pk=actor.pk)
            branches = admin_branches
        else:
            subjects = User.objects.filter(pk=actor.pk)
            branches = user_branch_ids(actor)
        self.fields["subject"].queryset = subjects.select_related("staff").order_by("username").distinct()
        self.fields["subject"].initial = actor.pk
        orgs = Organisation.objects.filter(kind__in=(OrgKind.BRANCH, OrgKind.OUTLET))
        roles = Role.objects.filter(kind__in=list(APPLICABLE_KINDS)).select_related("user", "organisation")
        if branches is not None:
            orgs = orgs.filter(branch_id__in=branches)
            roles = roles.filter(Q(organisation__branch_id__in=branches) if admin_branches else Q(user=actor))
        self.fields["organisation"].queryset = orgs.order_by("code")
        self.fields["role"].queryset = roles.order_by("user__username", "kind")
        self.fields["signed_off"].help_text = SIGNOFF_STATEMENT % {"user": actor.get_username()}


class DecisionForm(forms.Form):
    note = forms.CharField(label=_("Note or reason"), required=False, widget=forms.Textarea(attrs={"rows": 2}),
                           max_length=2000)


class StatusFilterForm(forms.Form):
    status = forms.ChoiceField(label=_("Status"), required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["status"].choices = [("", _("all"))] + list(ApplicationStatus.choices)
