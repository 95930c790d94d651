"""R-SEC-AUTH-2: the second factor's devices (django-otp, TOTP with recovery codes): enrolment, verification and
the admin's device reset."""
from __future__ import annotations

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from permissions.authority import is_hq_office
from permissions.models import RegisterEvent
from permissions.second_factor import has_second_factor
from permissions.services import label_message, register_append
from permissions.signin.events import event_detail
from permissions.signin.lockouts import branch_of_subject_for
from relationships.audit import audit

User = get_user_model()


def _lock_user(user):
    return User.objects.select_for_update().get(pk=user.pk)


def otp_enrolment_device(*, user) -> TOTPDevice:
    """The unconfirmed authenticator the user is enrolling (made on first call). Only a user without a confirmed
    device enrols: with the password alone nobody adds a device to an account that has one."""
    with transaction.atomic():
        _lock_user(user)
        if has_second_factor(user):
            raise ValidationError(_("A second-factor device is already enrolled."))
        device = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("-pk").first()
        if device is None:
            device = TOTPDevice.objects.create(user=user, name="authenticator", confirmed=False)
        return device


def _verify_allowed(device) -> None:
    allowed, info = device.verify_is_allowed()
    if not allowed:
        until = (info or {}).get("locked_until")
        seconds = max(1, int((until - timezone.now()).total_seconds()) + 1) if until else 1
        raise ValidationError(_("Too many wrong codes. Try again in %(seconds)d seconds.") % {"seconds": seconds})


def otp_enrol_confirm(*, user, device_id: int, token: str, request=None) -> tuple[TOTPDevice, list[str]]:
    """Confirm the authenticator with a code from it; returns the device and the recovery codes, shown once."""
    token = (token or "").replace(" ", "").strip()
    with transaction.atomic():
        _lock_user(user)
        if has_second_factor(user):
            raise ValidationError(_("A second-factor device is already enrolled."))
        device = TOTPDevice.objects.select_for_update().filter(pk=device_id, user=user, confirmed=False).first()
        if device is None:
            raise ValidationError(_("The enrolment has expired; start again."))
        _verify_allowed(device)
        verified = device.verify_token(token)  # a failure is counted (throttling) and kept: no exception here
        if verified:
            device.confirmed = True
            device.save(update_fields=["confirmed"])
            TOTPDevice.objects.filter(user=user, confirmed=False).delete()
            StaticDevice.objects.filter(user=user).delete()
            static = StaticDevice.objects.create(user=user, name="recovery codes", confirmed=True)
            codes = [StaticToken.random_token() for _ in range(settings.OTP_RECOVERY_CODES)]
            StaticToken.objects.bulk_create([StaticToken(device=static, token=c) for c in codes])
            audit(actor=user, action="signin.otp_enrolled", target=user,
                  after={**event_detail(request), "device": device.persistent_id, "recovery_codes": len(codes)})
        else:
            audit(actor=user, action="signin.otp_failure", target=user,
                  after={**event_detail(request), "step": "enrolment"})
    if not verified:
        raise ValidationError({"otp_token": _("That code is not right. Enter the code your app shows now.")})
    return device, codes


def otp_verify(*, user, token: str, request=None):
    """Check a code from the authenticator (six digits) or a recovery code (used up); returns the device."""
    token = (token or "").replace(" ", "").replace("-", "").strip().lower()
    if not token:
        raise ValidationError({"otp_token": _("Enter the code.")})
    model = TOTPDevice if token.isdigit() else StaticDevice
    with transaction.atomic():
        devices = list(model.objects.select_for_update().filter(user=user, confirmed=True))
        for device in devices:
            _verify_allowed(device)
        matched = next((d for d in devices if d.verify_token(token)), None)
        detail = {**event_detail(request), "kind": "recovery code" if model is StaticDevice else "authenticator"}
        if matched is not None:
            if model is StaticDevice:
                detail["recovery_codes_left"] = matched.token_set.count()
            audit(actor=user, action="signin.otp_success", target=user, after=detail)
        else:
            audit(actor=user, action="signin.otp_failure", target=user, after=detail)
    if matched is None:
        raise ValidationError({"otp_token": _("That code is not right.")})
    return matched


def otp_device_reset(*, actor, user, reason: str) -> int:
    """The branch permission admin (or HQ's office) removes a user's second-factor devices; he enrols again at
    his next sign-in. A register row and an audit row. Returns the number of devices removed."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": _("Give the reason for the change.")})
    if actor.pk == user.pk:
        raise PermissionDenied(_("Nobody resets his own second factor; ask another admin."))
    if user.is_superuser and not actor.is_superuser:
        raise PermissionDenied(_("Only a superuser resets a superuser's second factor."))
    if is_hq_office(user) and not is_hq_office(actor):
        raise PermissionDenied(_("Only the head office resets the second factor of a head-office user."))
    branch_id = branch_of_subject_for(actor, user)
    with transaction.atomic():
        _lock_user(user)
        totp = list(TOTPDevice.objects.filter(user=user).values_list("pk", "confirmed"))
        static = StaticDevice.objects.filter(user=user).count()
        if not totp and not static:
            raise ValidationError(_("%(user)s has no second-factor device.") % {"user": user.get_username()})
        TOTPDevice.objects.filter(user=user).delete()
        StaticDevice.objects.filter(user=user).delete()
        detail = {"authenticators": len(totp), "confirmed": sum(1 for _, c in totp if c), "recovery_devices": static}
        register_append(event=RegisterEvent.OTP_DEVICE_RESET, actor=actor, branch=branch_id, subject_user=user,
                  what=label_message(RegisterEvent.OTP_DEVICE_RESET.label), reason=reason, detail=detail)
        audit(actor=actor, action="signin.otp_device_reset", target=user, before=detail, after={"reason": reason})
    return len(totp) + static
