"""R-SEC-AUTH-2: who needs a second factor, and whether he has one and has passed it in this session.

The second factor is asked of HQ roles, of everyone who can use the admin site (staff and superusers) and of
every role that can reveal a full ID number — the same rule the reveal uses (`permissions.pii.needs_full_pii`).
The gate that keeps such a user on its pages is `permissions.otp.SecondFactorMiddleware`.
"""
from __future__ import annotations

from django.conf import settings
from django_otp.plugins.otp_totp.models import TOTPDevice

from permissions.pii import PII_ROLES, needs_full_pii
from permissions.scoping import HQ_ROLES, scope_for

# HQ roles that do not reveal full ID numbers (none today: both do) still need the second factor.
_HQ_ONLY_ROLES = tuple(set(HQ_ROLES) - set(PII_ROLES))


def otp_required() -> bool:
    return bool(getattr(settings, "OTP_REQUIRED", True))


def needs_second_factor(user) -> bool:
    if not otp_required() or not getattr(user, "is_authenticated", False):
        return False
    cached = getattr(user, "_crm_needs_otp", None)
    if cached is None:
        cached = bool(user.is_staff or user.is_superuser or needs_full_pii(user)
                      or scope_for(user).role_kinds & set(_HQ_ONLY_ROLES))
        user._crm_needs_otp = cached
    return cached


def second_factor_pending(user) -> bool:
    """Signed in with the password, but the second factor this user needs is not verified in this session."""
    return needs_second_factor(user) and not (getattr(user, "is_verified", None) and user.is_verified())


def has_second_factor(user) -> bool:
    """A confirmed TOTP device (the recovery codes come with it)."""
    return TOTPDevice.objects.filter(user=user, confirmed=True).exists()
