"""R-SEC-AUTH-1: django-axes's hooks (settings name them), per-account lockouts and their lifting, the delay
for an address that sprays; and under which branch an admin acts on a user."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from axes.helpers import get_client_ip_address, get_cool_off
from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from common.wording import Message
from permissions.authority import administered_branch_ids, is_hq_office, user_branch_ids
from permissions.models import RegisterEvent
from permissions.services import register_append
from relationships.audit import audit

User = get_user_model()


def normalise_username(name: str | None) -> str | None:
    """One account, one counter: the directory matches uids case-insensitively, so must the lockout."""
    return name.strip().lower()[:255] if name else name


def axes_username(request, credentials: dict | None = None) -> str | None:
    """AXES_USERNAME_CALLABLE."""
    if credentials:
        return normalise_username(credentials.get("username"))
    data = getattr(request, "data", None) or request.POST
    return normalise_username(data.get("username"))


def client_ip_behind_proxy(request) -> str | None:
    """AXES_CLIENT_IP_CALLABLE behind the TLS proxy: the address the proxy appended (the last one), not the
    client's own claims before it."""
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if forwarded:
        return forwarded.split(",")[-1].strip() or None
    return request.META.get("REMOTE_ADDR")


def client_address(request) -> str | None:
    if request is None:
        return None
    return getattr(request, "axes_ip_address", None) or get_client_ip_address(request)


@dataclass(frozen=True)
class Lockout:
    username: str
    until: dt.datetime | None  # None: until lifted (no cool-off configured)
    failures: int


def _recent_attempts():
    qs = AccessAttempt.objects.all()
    cool_off = get_cool_off()
    return qs.filter(attempt_time__gte=timezone.now() - cool_off) if cool_off else qs


def lockout_of(username: str | None) -> Lockout | None:
    """The account's lockout now, as django-axes decides it (the failures within the cool-off add up to the
    limit), and until when: the attempt that completes the limit, counted from the newest, plus the cool-off."""
    key = normalise_username(username)
    if not key:
        return None
    cool_off = get_cool_off()
    total = 0
    for at, failures in (_recent_attempts().filter(username=key).order_by("-attempt_time")
                         .values_list("attempt_time", "failures_since_start")):
        total += failures
        if total >= settings.AXES_FAILURE_LIMIT:
            return Lockout(username=key, until=at + cool_off if cool_off else None, failures=total)
    return None


def address_failures(ip_address: str | None) -> int:
    """Failed sign-ins from one address within the cool-off, over every account."""
    if not ip_address:
        return 0
    return _recent_attempts().filter(ip_address=ip_address).aggregate(n=Sum("failures_since_start"))["n"] or 0


def address_delay(request) -> float:
    """Seconds to wait before checking a sign-in from this address: SIGNIN_ADDRESS_DELAY once the address has
    SIGNIN_ADDRESS_FAILURE_LIMIT failures within the cool-off (a spray against many accounts), else 0.

    Every attempt from the address waits, right password or wrong, so the sprayer cannot cut a slow answer short;
    nobody is refused, so colleagues behind the same address still sign in, a little slower, during a spray.
    """
    limit = settings.SIGNIN_ADDRESS_FAILURE_LIMIT
    if limit <= 0 or settings.SIGNIN_ADDRESS_DELAY <= 0:
        return 0.0
    return settings.SIGNIN_ADDRESS_DELAY if address_failures(client_address(request)) >= limit else 0.0


def user_named(username: str):
    return User.objects.filter(username__iexact=(username or "").strip()).first()


def branch_of_subject_for(actor, subject) -> int | None:
    """The branch under which `actor` acts on `subject`: one they share (his administered ∩ the subject's), or
    any of the subject's for HQ's office. PermissionDenied if none."""
    administered = administered_branch_ids(actor)
    branches = user_branch_ids(subject) if subject is not None else set()
    if administered is None:
        return min(branches) if branches else None
    common = administered & branches
    if not common:
        raise PermissionDenied(_("Only the permission admin of this user's branch or the head office may do this."))
    return min(common)


def lockout_lift(*, actor, username: str, reason: str) -> int:
    """Lift an account's sign-in lockout (R-SEC-AUTH-1): its failed attempts are cleared; a register row and an
    audit row say who, when and why. Returns the number of attempt records cleared."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": _("Give the reason for the change.")})
    key = normalise_username(username)
    subject = user_named(username)
    if subject is None and not is_hq_office(actor):
        raise PermissionDenied(_("Only the head office may lift the lockout of a user name without an account."))
    branch_id = branch_of_subject_for(actor, subject)
    with transaction.atomic():
        attempts = list(AccessAttempt.objects.select_for_update().filter(username=key))
        lock = lockout_of(key)
        if lock is None:
            raise ValidationError(_("The account %(user)s is not locked.") % {"user": username})
        AccessAttempt.objects.filter(pk__in=[a.pk for a in attempts]).delete()
        detail = {"username": key, "failures": lock.failures,
                  "locked_until": lock.until.isoformat() if lock.until else None,
                  "addresses": sorted({a.ip_address for a in attempts if a.ip_address})}
        register_append(event=RegisterEvent.LOCKOUT_LIFTED, actor=actor, branch=branch_id, subject_user=subject,
                  what=Message(gettext_noop("lift the sign-in lockout of %(user)s"), {"user": username}), reason=reason,
                  detail=detail)
        audit(actor=actor, action="signin.unlock", target=("auth.user", subject.pk if subject else (key or "")[:40]),
              before={"locked_until": detail["locked_until"], "failures": lock.failures},
              after={"reason": reason})
    return len(attempts)
