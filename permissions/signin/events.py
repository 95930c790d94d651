"""Sign-in events in the audit trail: success, failure, a refusal during a lockout, the lockout itself."""
from __future__ import annotations

from django.db import transaction

from permissions.second_factor import needs_second_factor
from permissions.signin.lockouts import client_address, lockout_of, user_named
from relationships.audit import audit


def event_detail(request) -> dict:
    if request is None:
        return {}
    return {"address": client_address(request), "browser": request.META.get("HTTP_USER_AGENT", "")[:200]}


def signin_record_success(*, user, request) -> None:
    with transaction.atomic():
        audit(actor=user, action="signin.success", target=user,
              after={**event_detail(request), "backend": getattr(user, "backend", "") or "",
                     "second_factor": "required" if needs_second_factor(user) else "not required"})


def signin_record_failure(*, username: str | None, request) -> None:
    """A refused sign-in; `request.axes_*` say whether it locked the account (axes' receiver ran first)."""
    typed = (username or "").strip()[:100] or "—"
    subject = user_named(typed) if username else None
    target = ("auth.user", subject.pk if subject else "")
    locked_now = bool(getattr(request, "axes_locked_out", False))
    during_lockout = locked_now and getattr(request, "axes_failures_since_start", None) is None
    detail = event_detail(request)
    with transaction.atomic():
        if during_lockout:
            audit(actor=typed, action="signin.refused_locked", target=target, after=detail)
            return
        audit(actor=typed, action="signin.failure", target=target,
              after={**detail, "failures": getattr(request, "axes_failures_since_start", None)})
        if locked_now:
            lock = lockout_of(typed)
            audit(actor=typed, action="signin.lockout", target=target,
                  after={**detail, "locked_until": lock.until.isoformat() if lock and lock.until else None})
