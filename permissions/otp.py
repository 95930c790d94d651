"""R-SEC-AUTH-2: who needs a second factor, and the gate that keeps them on its pages until they pass it.

The second factor is asked of HQ roles, of everyone who can use the admin site (staff and superusers) and of
every role that can reveal a full ID number — the same rule the reveal uses (`permissions.pii.needs_full_pii`).
"""
from __future__ import annotations

from urllib.parse import urlencode

from django.conf import settings
from django.shortcuts import redirect
from django.urls import reverse

from permissions.models import Role
from permissions.pii import PII_ROLES, needs_full_pii
from permissions.scoping import HQ_ROLES

# HQ roles that do not reveal full ID numbers (none today: both do) still need the second factor.
_HQ_ONLY_ROLES = tuple(set(HQ_ROLES) - set(PII_ROLES))


def otp_required() -> bool:
    return bool(getattr(settings, "OTP_REQUIRED", True))


def needs_second_factor(user) -> bool:
    if not otp_required() or not getattr(user, "is_authenticated", False):
        return False
    cached = getattr(user, "_crm_needs_otp", None)
    if cached is None:
        cached = bool(user.is_staff or user.is_superuser or needs_full_pii(user) or (
            _HQ_ONLY_ROLES and Role.objects.filter(user=user, kind__in=_HQ_ONLY_ROLES).exists()))
        user._crm_needs_otp = cached
    return cached


def second_factor_pending(user) -> bool:
    """Signed in with the password, but the second factor this user needs is not verified in this session."""
    return needs_second_factor(user) and not (getattr(user, "is_verified", None) and user.is_verified())


def second_factor_context(request) -> dict:
    """Templates hide the navigation while the second factor is pending (its links would only lead back)."""
    user = getattr(request, "user", None)
    return {"second_factor_pending": bool(user is not None and user.is_authenticated
                                          and second_factor_pending(user))}


class SecondFactorMiddleware:
    """Until he has passed his second factor in this session, such a user reaches only the second-factor pages
    (verification, or enrolment while he has no device), sign-out, the language switch and static files.
    Place after django_otp's OTPMiddleware."""

    def __init__(self, get_response):
        self.get_response = get_response

    def _exempt(self, path: str) -> bool:
        if path.startswith(("/" + settings.STATIC_URL.lstrip("/"), "/i18n/")) or path == "/favicon.ico":
            return True
        return path in (reverse("signin:verify"), reverse("signin:enrol"), reverse("logout"))

    def __call__(self, request):
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and not self._exempt(request.path) \
                and second_factor_pending(user):
            from permissions.signin import has_second_factor

            target = reverse("signin:verify" if has_second_factor(user) else "signin:enrol")
            next_url = request.get_full_path() if request.method == "GET" else "/"
            return redirect(f"{target}?{urlencode({'next': next_url})}")
        return self.get_response(request)
