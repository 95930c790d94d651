"""R-REM-1: everything that waits for a user, as the home page lists it.

Each section shows its oldest items (at most `HOME_ITEMS`), a capped count of all of them, each item's age in
working days (R-APR-9) and a link to the page listing them all: nothing is cut silently. Each section costs two
queries (its rows, its count) whatever the number of items, plus one read of the calendar for the whole page.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.db.models import Q, QuerySet
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from approvals.models import CaseStatus, Notification
from approvals.selectors import inbox_for, is_hq_reviewer, visible_cases
from approvals.waiting import escalated_to, escalation_heads, with_waiting
from common.pagination import capped_count
from permissions.authority import administered_branch_ids, is_hq_office
from permissions.models import ApplicationStatus, Role, RoleKind
from permissions.scoping import scope_for, visible_callbacks, visible_core_lines, visible_permission_applications
from relationships.models import CallbackStatus, CoreLineStatus
from relationships.workdays import WorkdayAges

HOME_ITEMS = 10


@dataclass
class Section:
    """One list of the home page: its rows (oldest first), how many there are in all, where to see them all."""

    key: str
    title: Any
    rows: list = field(default_factory=list)
    count: str = "0"
    more_url: str = ""
    empty: Any = ""

    @property
    def has_more(self) -> bool:
        return self.count != str(len(self.rows))


def _section(key: str, title, qs: QuerySet, *, since: str, ages: WorkdayAges, url: str, empty) -> Section:
    rows = list(qs[:HOME_ITEMS])
    for row in rows:
        value: Any = row
        for part in since.split("__"):
            value = getattr(value, part) if value is not None else None
        row.age = ages.age(value)
    return Section(key=key, title=title, rows=rows, count=capped_count(qs), more_url=url, empty=empty)


def todo_sections(user, staff) -> list[Section]:
    """The sections that apply to `user` (a section he can never have work in is left out)."""
    ages = WorkdayAges()
    scope = scope_for(user)
    sections = [_section("steps", _("Approval steps waiting for you"),
                         with_waiting(inbox_for(user)).order_by("waiting_since", "case_id", "order", "id"),
                         since="waiting_since", ages=ages, url=reverse("approvals:inbox"),
                         empty=_("Nothing is waiting for you."))]
    if escalation_heads(user):
        sections.append(_section("escalated", _("Steps escalated to you"), escalated_to(user), since="waiting_since",
                                 ages=ages, url=reverse("approvals:inbox") + "#escalated-heading",
                                 empty=_("Nothing was escalated to you.")))
    returned = (visible_cases(user).filter(status=CaseStatus.RETURNED)
                .filter(Q(applicant__user=user) | Q(filed_by=user))
                .select_related("customer", "type").order_by("updated_at", "id"))
    sections.append(_section("returned", _("Cases returned to you for correction"), returned, since="updated_at",
                             ages=ages, url=reverse("approvals:cases") + "?status=returned",
                             empty=_("No case is waiting for your correction.")))
    head_of = set(Role.objects.filter(user=user, kind=RoleKind.BRANCH_HEAD).values_list("organisation_id", flat=True))
    applications = visible_permission_applications(user).select_related("subject", "organisation")
    if head_of:
        sections.append(_section(
            "to_approve", _("Permission applications to approve"),
            applications.filter(status=ApplicationStatus.PENDING, branch_id__in=head_of)
            .exclude(applicant=user).exclude(subject=user).order_by("filed_at", "id"),
            since="filed_at", ages=ages, url=reverse("permissions:applications") + "?status=pending",
            empty=_("No permission application waits for your approval.")))
    administered = administered_branch_ids(user)
    if administered:  # a branch permission admin (HQ's office is not listed every branch's applications)
        sections.append(_section(
            "to_apply", _("Approved permission applications to apply"),
            applications.filter(status=ApplicationStatus.APPROVED, branch_id__in=administered)
            .exclude(subject=user).order_by("decided_at", "id"),
            since="decided_at", ages=ages, url=reverse("permissions:applications") + "?status=approved",
            empty=_("No approved application waits to be applied.")))
    if scope.everything or scope.branch_ids or scope.outlet_ids:
        callbacks = visible_callbacks(user).select_related("relationship__customer", "relationship__type", "outlet")
        sections.append(_section(
            "callbacks", _("Callbacks due"), callbacks.filter(status=CallbackStatus.PENDING).order_by("due_on", "id"),
            since="created_on", ages=ages, url=reverse("work:callbacks"), empty=_("No callbacks to make.")))
        if scope.everything or scope.branch_ids:
            sections.append(_section(
                "disputes", _("Disputed relationships waiting for the branch"),
                callbacks.filter(status=CallbackStatus.DISPUTED, resolution="").order_by("recorded_at", "id"),
                since="recorded_at", ages=ages, url=reverse("work:callbacks"),
                empty=_("No disputed relationship waits for the branch.")))
    if is_hq_office(user) or is_hq_reviewer(user):
        sections.append(_section(
            "core_lines", _("Core-list lines waiting for head office"),
            visible_core_lines(user).filter(status=CoreLineStatus.PENDING)
            .select_related("submission__branch", "customer", "advisor").order_by("submission__submitted_at", "id"),
            since="submission__submitted_at", ages=ages,
            url=reverse("approvals:cases") + "?reason=core_list&status=pending",
            empty=_("No core-list line waits for head office.")))
    return sections



def unread_notifications(user) -> int:
    """R-APR-9: the messages in the site he has not read (capped like every home-page count)."""
    return Notification.objects.filter(user=user, read_at__isnull=True).values("pk")[:1000].count()
