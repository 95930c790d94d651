"""R-SEC-AUTH-1 / R-SEC-AUTH-2: sign-in services. Views, admin actions and signal receivers call these.

- Lockouts are per account (django-axes with `AXES_LOCKOUT_PARAMETERS = ["username"]`); `lockout_lift` lets the
  branch permission admin of the account's branch (or HQ's office) lift one, with a register row (R-PERM-3).
- A spray from one address is slowed (`address_delay`), never refused: the password of an unlocked account is
  always checked.
- Second factor (django-otp, TOTP with recovery codes): enrolment, verification and the admin's device reset.
- The directory (permissions.ldap) calls `directory_user_sync` at each directory sign-in.
- Every sign-in event (success, failure, lockout, unlock, enrolment, device reset) is an audit row.
"""
from __future__ import annotations

import datetime as dt
import logging
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
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from permissions.authority import administered_branch_ids, is_hq_office, user_branch_ids
from permissions.models import RegisterEvent, Role, RoleKind, RoleSource
from permissions.second_factor import has_second_factor, needs_second_factor
from permissions.services import register_append, role_text
from relationships.audit import audit
from relationships.models import Organisation, OrgKind, Staff

logger = logging.getLogger(__name__)
User = get_user_model()

DIRECTORY_ACTOR = "directory"


# --------------------------------------------------------------------------------------------------
# django-axes hooks (settings name them)
# --------------------------------------------------------------------------------------------------

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


def _client_address(request) -> str | None:
    if request is None:
        return None
    return getattr(request, "axes_ip_address", None) or get_client_ip_address(request)


# --------------------------------------------------------------------------------------------------
# R-SEC-AUTH-1: lockouts
# --------------------------------------------------------------------------------------------------

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
    return settings.SIGNIN_ADDRESS_DELAY if address_failures(_client_address(request)) >= limit else 0.0


def _user_named(username: str):
    return User.objects.filter(username__iexact=(username or "").strip()).first()


def _branch_of_subject_for(actor, subject) -> int | None:
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
    subject = _user_named(username)
    if subject is None and not is_hq_office(actor):
        raise PermissionDenied(_("Only the head office may lift the lockout of a user name without an account."))
    branch_id = _branch_of_subject_for(actor, subject)
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
                  what=_("lift the sign-in lockout of %(user)s") % {"user": username}, reason=reason,
                  detail=detail)
        audit(actor=actor, action="signin.unlock", target=("auth.user", subject.pk if subject else (key or "")[:40]),
              before={"locked_until": detail["locked_until"], "failures": lock.failures},
              after={"reason": reason})
    return len(attempts)


# --------------------------------------------------------------------------------------------------
# Sign-in events in the audit trail
# --------------------------------------------------------------------------------------------------

def _event_detail(request) -> dict:
    if request is None:
        return {}
    return {"address": _client_address(request), "browser": request.META.get("HTTP_USER_AGENT", "")[:200]}


def signin_record_success(*, user, request) -> None:
    with transaction.atomic():
        audit(actor=user, action="signin.success", target=user,
              after={**_event_detail(request), "backend": getattr(user, "backend", "") or "",
                     "second_factor": "required" if needs_second_factor(user) else "not required"})


def signin_record_failure(*, username: str | None, request) -> None:
    """A refused sign-in; `request.axes_*` say whether it locked the account (axes' receiver ran first)."""
    typed = (username or "").strip()[:100] or "—"
    subject = _user_named(typed) if username else None
    target = ("auth.user", subject.pk if subject else "")
    locked_now = bool(getattr(request, "axes_locked_out", False))
    during_lockout = locked_now and getattr(request, "axes_failures_since_start", None) is None
    detail = _event_detail(request)
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


# --------------------------------------------------------------------------------------------------
# R-SEC-AUTH-2: second factor
# --------------------------------------------------------------------------------------------------

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
                  after={**_event_detail(request), "device": device.persistent_id, "recovery_codes": len(codes)})
        else:
            audit(actor=user, action="signin.otp_failure", target=user,
                  after={**_event_detail(request), "step": "enrolment"})
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
        detail = {**_event_detail(request), "kind": "recovery code" if model is StaticDevice else "authenticator"}
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
    branch_id = _branch_of_subject_for(actor, user)
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
                  what=str(RegisterEvent.OTP_DEVICE_RESET.label), reason=reason, detail=detail)
        audit(actor=actor, action="signin.otp_device_reset", target=user, before=detail, after={"reason": reason})
    return len(totp) + static


# --------------------------------------------------------------------------------------------------
# R-SEC-AUTH-2: the directory's user, staff row and roles
# --------------------------------------------------------------------------------------------------

HQ_KINDS = {RoleKind.HQ, RoleKind.HQ_REVIEWER}
BRANCH_KINDS = {RoleKind.BRANCH, RoleKind.BRANCH_HEAD}
OUTLET_KINDS = {RoleKind.OUTLET_HEAD, RoleKind.OUTLET_STAFF}
_ORG_KIND = {**{k: OrgKind.HQ for k in HQ_KINDS}, **{k: OrgKind.BRANCH for k in BRANCH_KINDS},
             **{k: OrgKind.OUTLET for k in OUTLET_KINDS}}


def _directory_role_org(kind: str, code: str | None, staff: Staff | None) -> Organisation | None:
    if code:
        org = Organisation.objects.filter(code=code).first()
    elif kind in HQ_KINDS:
        org = Organisation.objects.filter(kind=OrgKind.HQ).order_by("pk").first()
    elif staff is None:
        org = None
    elif kind in BRANCH_KINDS:
        org = staff.outlet.branch
    else:
        org = staff.outlet
    if org is not None and org.kind != _ORG_KIND[RoleKind(kind)]:
        logger.warning("directory role %s cannot be held at %s (%s)", kind, org.code, org.kind)
        return None
    return org


def directory_user_sync(*, user, staff_no: str, group_dns: set[str]) -> None:
    """At each directory sign-in: link the user to his staff row (uid = staff number) and make the roles granted
    by directory groups (LDAP_GROUP_ROLES) what his groups say now. Roles from applications are left alone; a
    directory grant or withdrawal is a register row recorded by "directory"."""
    mapping: dict = getattr(settings, "LDAP_GROUP_ROLES", {}) or {}
    member_of = {dn.lower() for dn in group_dns}
    with transaction.atomic():
        staff = (Staff.objects.select_for_update(of=("self",)).select_related("outlet__branch")
                 .filter(staff_no__iexact=staff_no).first())
        if staff is not None and staff.user_id != user.pk:
            if staff.user_id is None and not Staff.objects.filter(user=user).exists():
                staff.user = user
                staff.save(update_fields=["user"])
                audit(actor=DIRECTORY_ACTOR, action="staff.user_link", target=staff,
                      after={"user": user.get_username()})
            else:
                logger.warning("staff %s is linked to another user; directory user %s left unlinked",
                               staff.staff_no, user.get_username())
        elif staff is None:
            staff = Staff.objects.select_related("outlet__branch").filter(user=user).first()
        wanted: dict[tuple[str, int], tuple[Organisation, str]] = {}
        for dn, (kind, code) in mapping.items():
            if dn in member_of:
                org = _directory_role_org(kind, code, staff)
                if org is not None:
                    wanted[(kind, org.pk)] = (org, dn)
        held = {(r.kind, r.organisation_id): r for r in
                Role.objects.select_for_update(of=("self",)).select_related("organisation").filter(user=user)}
        for (kind, org_id), (org, dn) in wanted.items():
            if (kind, org_id) in held:
                continue  # held already (by application or directory)
            role = Role.objects.create(user=user, kind=kind, organisation=org, source=RoleSource.DIRECTORY)
            register_append(event=RegisterEvent.DIRECTORY_GRANTED, actor=DIRECTORY_ACTOR, branch=org.branch_id,
                      subject_user=user, what=_("grant %(role)s") % {"role": role_text(kind, org)},
                      detail={"source": "directory", "group": dn, "after": {"role_id": role.pk, "kind": kind,
                                                                            "organisation_code": org.code}})
            audit(actor=DIRECTORY_ACTOR, action="permission.directory_grant", target=role,
                  after={"kind": kind, "organisation": org.code, "group": dn})
        for (kind, org_id), role in held.items():
            if role.source == RoleSource.DIRECTORY and (kind, org_id) not in wanted:
                org = role.organisation
                before = {"role_id": role.pk, "kind": kind, "organisation_code": org.code}
                role.delete()
                register_append(event=RegisterEvent.DIRECTORY_REVOKED, actor=DIRECTORY_ACTOR, branch=org.branch_id,
                          subject_user=user, what=_("revoke %(role)s") % {"role": role_text(kind, org)},
                          detail={"source": "directory", "before": before})
                audit(actor=DIRECTORY_ACTOR, action="permission.directory_revoke",
                      target=("permissions.role", before["role_id"]), before=before)
