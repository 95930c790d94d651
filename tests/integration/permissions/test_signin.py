"""R-SEC-AUTH-1 (lockouts per account, lifting them) and R-SEC-AUTH-2 (second factor), through the real pages."""
from __future__ import annotations

import datetime as dt
import os
import re
import secrets
import subprocess
import sys
import time
from zoneinfo import ZoneInfo

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.auth import SESSION_KEY
from django.core.exceptions import PermissionDenied, ValidationError
from django.test import Client
from django.urls import reverse
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from permissions import services, signin
from permissions.models import PermissionRegisterEntry, RegisterEvent, Role, RoleKind
from permissions.second_factor import needs_second_factor
from relationships.models import AuditEntry
from tests.support.factories import BranchFactory, HQFactory, OutletFactory, StaffFactory, UserFactory
from tests.support.helpers import totp_code

pytestmark = pytest.mark.django_db

PASSWORD = "pw-12345678"


def _sign_in(client, username, password=PASSWORD):
    return client.post(reverse("login"), {"username": username, "password": password})


def _fail(client, username, times):
    for _ in range(times):
        response = _sign_in(client, username, "wrong-password")
    return response


@pytest.fixture
def org():
    hq = HQFactory()
    b1, b2 = BranchFactory(), BranchFactory()
    o1, o2 = OutletFactory(parent=b1), OutletFactory(parent=b2)
    hq_user = UserFactory(username="hq-office", is_staff=True)
    Role.objects.create(user=hq_user, kind=RoleKind.HQ, organisation=hq)
    admin1, admin2 = UserFactory(username="admin-b1"), UserFactory(username="admin-b2")
    services.branch_admin_assign(actor=hq_user, user=admin1, branch=b1, reason="new branch admin")
    services.branch_admin_assign(actor=hq_user, user=admin2, branch=b2, reason="new branch admin")
    return dict(hq=hq, b1=b1, b2=b2, o1=o1, o2=o2, hq_user=hq_user, admin1=admin1, admin2=admin2,
                a=StaffFactory(outlet=o1), b=StaffFactory(outlet=o1), far=StaffFactory(outlet=o2))


# --------------------------------------------------------------------------------------------------
# R-SEC-AUTH-1: lockouts
# --------------------------------------------------------------------------------------------------

def test_r_sec_auth_1_five_failures_lock_only_that_account_so_a_colleague_on_the_same_address_signs_in(org):
    a, b = org["a"].staff_no, org["b"].staff_no
    office = Client(HTTP_USER_AGENT="Mozilla/5.0 branch standard build", REMOTE_ADDR="10.1.2.3")
    assert _fail(office, a, settings.AXES_FAILURE_LIMIT - 1).status_code == 200
    assert _fail(office, a, 1).status_code == 429
    # A is locked, even with his right password, from here and from anywhere else.
    for client in (office, Client(REMOTE_ADDR="10.9.9.9")):
        response = _sign_in(client, a)
        assert response.status_code == 429 and SESSION_KEY not in client.session
    # B, same address, same browser build, signs in.
    response = _sign_in(office, b)
    assert response.status_code == 302 and office.session[SESSION_KEY] == str(org["b"].user.pk)


def test_r_sec_auth_1_the_lockout_page_names_the_account_and_the_local_time_it_is_locked_until(org):
    a = org["a"].staff_no
    client = Client()
    response = _fail(client, a, settings.AXES_FAILURE_LIMIT)
    attempt = AccessAttempt.objects.get(username=a.lower())
    until = (attempt.attempt_time + dt.timedelta(hours=settings.AXES_COOLOFF_TIME)).astimezone(
        ZoneInfo("Asia/Shanghai"))
    text = response.content.decode()
    assert response.status_code == 429
    assert a in text and f"{until:%Y-%m-%d %H:%M}" in text and "锁定至" in text
    assert "该用户名" not in text and "Locked accounts" not in text  # Chinese page, no English words
    assert "被锁定的账户" in text  # where in the admin the branch permission admin lifts it
    # The same page in English, for a user who chose English.
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    text = _sign_in(client, a).content.decode()
    assert f"the account {a} is locked until {until:%Y-%m-%d %H:%M}" in text
    assert "colleagues sign in as usual" in text and "锁" not in text


def test_r_sec_auth_1_attempts_during_a_lockout_do_not_prolong_it(org):
    a = org["a"].staff_no
    client = Client()
    _fail(client, a, settings.AXES_FAILURE_LIMIT)
    until = signin.lockout_of(a).until
    _fail(client, a, 3)
    _sign_in(client, a)
    assert signin.lockout_of(a).until == until


def test_r_sec_auth_1_the_user_name_counts_as_one_account_whatever_its_case(org):
    a = org["a"].staff_no
    client = Client()
    _fail(client, a.lower(), 2)
    _fail(client, a.upper(), settings.AXES_FAILURE_LIMIT - 2)
    assert _sign_in(client, a).status_code == 429


def test_r_sec_auth_1_the_branch_admin_lists_his_branchs_locked_accounts_and_lifts_one_with_a_reason(org):
    a, far = org["a"], org["far"]
    _fail(Client(REMOTE_ADDR="10.1.1.1"), a.staff_no, settings.AXES_FAILURE_LIMIT)
    _fail(Client(REMOTE_ADDR="10.2.2.2"), far.staff_no, settings.AXES_FAILURE_LIMIT)
    admin = Client()
    admin.force_login(org["admin1"])
    changelist = reverse("admin:permissions_lockedaccount_changelist")
    page = admin.get(changelist)
    assert page.status_code == 200
    text = page.content.decode()
    assert a.staff_no.lower() in text and far.staff_no.lower() not in text  # another branch's lock is not his
    attempt = AccessAttempt.objects.get(username=a.staff_no.lower())
    # Without a reason nothing happens.
    admin.post(changelist, {"action": "lift_lockout", "_selected_action": [attempt.pk], "confirm": "yes",
                            "reason": ""})
    assert signin.lockout_of(a.staff_no) is not None
    response = admin.post(changelist, {"action": "lift_lockout", "_selected_action": [attempt.pk], "confirm": "yes",
                                       "reason": "called from the outlet, identity checked"})
    assert response.status_code == 302
    assert signin.lockout_of(a.staff_no) is None and signin.lockout_of(far.staff_no) is not None
    entry = PermissionRegisterEntry.objects.get(event=RegisterEvent.LOCKOUT_LIFTED)
    assert (entry.actor, entry.subject_user, entry.branch, entry.reason) == (
        org["admin1"], a.user, org["b1"], "called from the outlet, identity checked")
    assert entry.detail["failures"] == settings.AXES_FAILURE_LIMIT
    assert AuditEntry.objects.filter(action="signin.unlock", actor=org["admin1"], target_id=str(a.user.pk)).exists()
    assert _sign_in(Client(), a.staff_no).status_code == 302


def test_r_sec_auth_1_a_branch_admin_cannot_lift_another_branchs_lockout_but_hq_can(org):
    far = org["far"]
    _fail(Client(), far.staff_no, settings.AXES_FAILURE_LIMIT)
    with pytest.raises(PermissionDenied):
        signin.lockout_lift(actor=org["admin1"], username=far.staff_no, reason="not mine")
    # Nor through the admin: the row is not in his list, so the action finds nothing to act on.
    admin = Client()
    admin.force_login(org["admin1"])
    attempt = AccessAttempt.objects.get(username=far.staff_no.lower())
    admin.post(reverse("admin:permissions_lockedaccount_changelist"),
               {"action": "lift_lockout", "_selected_action": [attempt.pk], "confirm": "yes", "reason": "try"})
    assert signin.lockout_of(far.staff_no) is not None
    assert not PermissionRegisterEntry.objects.filter(event=RegisterEvent.LOCKOUT_LIFTED).exists()
    # HQ's office lifts any lockout, also of a user name that has no account.
    signin.lockout_lift(actor=org["hq_user"], username=far.staff_no, reason="confirmed by phone")
    _fail(Client(), "nobody-here", settings.AXES_FAILURE_LIMIT)
    with pytest.raises(PermissionDenied):
        signin.lockout_lift(actor=org["admin1"], username="nobody-here", reason="x")
    signin.lockout_lift(actor=org["hq_user"], username="nobody-here", reason="test account cleanup")
    assert PermissionRegisterEntry.objects.filter(event=RegisterEvent.LOCKOUT_LIFTED).count() == 2
    with pytest.raises(ValidationError):
        signin.lockout_lift(actor=org["hq_user"], username=far.staff_no, reason="not locked any more")


def test_r_sec_auth_1_a_spraying_address_is_slowed_but_never_refuses_a_right_password(org, settings):
    settings.SIGNIN_ADDRESS_FAILURE_LIMIT = 4
    settings.SIGNIN_ADDRESS_DELAY = 0.4
    sprayer = Client(REMOTE_ADDR="10.7.7.7")
    victims = [StaffFactory(outlet=org["o1"]).staff_no for _ in range(4)]
    for name in victims:  # one guess per account: no account reaches its own limit
        assert _fail(sprayer, name, 1).status_code == 200
    assert signin.address_failures("10.7.7.7") == 4
    started = time.monotonic()
    assert _fail(sprayer, "S99999", 1).status_code == 200
    assert time.monotonic() - started >= 0.4
    # A colleague behind the same address signs in, a little later, with his right password.
    colleague = Client(REMOTE_ADDR="10.7.7.7")
    started = time.monotonic()
    assert _sign_in(colleague, org["b"].staff_no).status_code == 302
    assert time.monotonic() - started >= 0.4
    # Other addresses are not slowed.
    started = time.monotonic()
    assert _sign_in(Client(REMOTE_ADDR="10.8.8.8"), org["a"].staff_no).status_code == 302
    assert time.monotonic() - started < 0.4


def test_r_sec_auth_1_sign_in_events_are_in_the_audit_trail(org):
    a = org["a"]
    client = Client(REMOTE_ADDR="10.3.3.3", HTTP_USER_AGENT="office browser")
    _sign_in(client, a.staff_no)
    client.post(reverse("logout"))
    _fail(client, a.staff_no, settings.AXES_FAILURE_LIMIT)
    _sign_in(client, a.staff_no)
    signin.lockout_lift(actor=org["admin1"], username=a.staff_no, reason="checked")
    trail = list(AuditEntry.objects.filter(action__startswith="signin.").order_by("pk")
                 .values_list("action", "target_id"))
    user_id = str(a.user.pk)
    assert trail == [("signin.success", user_id)] + [("signin.failure", user_id)] * settings.AXES_FAILURE_LIMIT + [
        ("signin.lockout", user_id), ("signin.refused_locked", user_id), ("signin.unlock", user_id)]
    success = AuditEntry.objects.get(action="signin.success")
    assert success.after["address"] == "10.3.3.3" and success.after["browser"] == "office browser"
    lockout = AuditEntry.objects.get(action="signin.lockout")
    attempt_time = AuditEntry.objects.filter(action="signin.failure").last().at
    until = dt.datetime.fromisoformat(lockout.after["locked_until"])
    assert abs(until - attempt_time - dt.timedelta(hours=settings.AXES_COOLOFF_TIME)) < dt.timedelta(seconds=5)


# --------------------------------------------------------------------------------------------------
# R-SEC-AUTH-2: second factor
# --------------------------------------------------------------------------------------------------

def test_r_sec_auth_2_the_second_factor_is_asked_of_hq_the_admin_site_and_full_id_roles_only(org, settings):
    settings.OTP_REQUIRED = True
    staff = org["a"].user
    outlet_head = UserFactory()
    Role.objects.create(user=outlet_head, kind=RoleKind.OUTLET_HEAD, organisation=org["o1"])
    branch_user = UserFactory()
    Role.objects.create(user=branch_user, kind=RoleKind.BRANCH, organisation=org["b1"])  # reveals full ID numbers
    reviewer = UserFactory()
    Role.objects.create(user=reviewer, kind=RoleKind.HQ_REVIEWER, organisation=org["hq"])
    superuser = UserFactory(is_superuser=True)
    assert not needs_second_factor(staff) and not needs_second_factor(outlet_head)
    assert all(needs_second_factor(u) for u in (branch_user, reviewer, org["hq_user"], org["admin1"], superuser))


@pytest.mark.second_factor
def test_r_sec_auth_2_a_second_factor_role_without_a_device_reaches_only_enrolment(org):
    client = Client()
    response = _sign_in(client, "hq-office")
    assert response.status_code == 302
    enrol = reverse("signin:enrol")
    for url in ("/", reverse("reservations:list"), reverse("permissions:applications"), "/admin/",
                reverse("admin:permissions_lockedaccount_changelist"), reverse("signin:verify")):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith(enrol), url
    assert client.post(reverse("reservations:list")).status_code == 302
    page = client.get(enrol)
    assert page.status_code == 200
    text = page.content.decode()
    assert "<svg" in text and 'data-secret="' in text and "设置双重验证" in text
    assert 'href="/reservations/"' not in text  # no navigation while the second factor is pending
    assert client.post(reverse("logout")).status_code == 302


@pytest.mark.second_factor
def test_r_sec_auth_2_enrolment_confirms_the_app_with_its_code_and_shows_the_recovery_codes_once(org):
    client = Client()
    _sign_in(client, "hq-office")
    page = client.get(reverse("signin:enrol") + "?next=/reservations/").content.decode()
    secret = re.search(r'data-secret="([A-Z2-7]+)"', page).group(1)
    refused = client.post(reverse("signin:enrol"), {"otp_token": "000000", "next": "/reservations/"})
    assert refused.status_code == 200 and "验证码不对" in refused.content.decode()
    assert client.get("/").status_code == 302  # still only enrolment
    time.sleep(1.1)  # django-otp throttles after a wrong code (1 s, doubling)
    done = client.post(reverse("signin:enrol"), {"otp_token": totp_code(secret), "next": "/reservations/"})
    assert done.status_code == 200
    codes = re.findall(r"<li><code>([a-z2-7]{8})</code></li>", done.content.decode())
    assert len(codes) == settings.OTP_RECOVERY_CODES
    assert client.get("/reservations/").status_code == 200
    # Enrolled: the page does not come back, nor do the codes.
    assert client.get(reverse("signin:enrol")).status_code == 302
    device = TOTPDevice.objects.get(user=org["hq_user"])
    assert device.confirmed and StaticDevice.objects.get(user=org["hq_user"]).token_set.count() == len(codes)
    actions = list(AuditEntry.objects.filter(actor=org["hq_user"], action__startswith="signin.otp")
                   .values_list("action", flat=True))
    assert actions == ["signin.otp_failure", "signin.otp_enrolled"]


def _enrolled(user) -> str:
    device = TOTPDevice.objects.create(user=user, name="authenticator", confirmed=True)
    import base64

    return base64.b32encode(device.bin_key).decode()


@pytest.mark.second_factor
def test_r_sec_auth_2_a_wrong_totp_is_refused_and_the_right_one_accepted(org):
    secret = _enrolled(org["hq_user"])
    client = Client()
    _sign_in(client, "hq-office")
    response = client.get("/admin/")
    assert response.status_code == 302 and response["Location"].startswith(reverse("signin:verify"))
    wrong = str((int(totp_code(secret)) + 1) % 1_000_000).zfill(6)
    refused = client.post(reverse("signin:verify"), {"otp_token": wrong, "next": "/admin/"})
    assert refused.status_code == 200 and "验证码不对" in refused.content.decode()
    assert client.get("/admin/").status_code == 302
    time.sleep(1.1)
    code = totp_code(secret)
    accepted = client.post(reverse("signin:verify"), {"otp_token": code, "next": "/admin/"})
    assert accepted.status_code == 302 and accepted["Location"] == "/admin/"
    assert client.get("/admin/").status_code == 200
    # The same code is not taken twice (a second session replaying it is refused), also across a 30 s step.
    other = Client()
    _sign_in(other, "hq-office")
    time.sleep(1.1)
    assert other.post(reverse("signin:verify"), {"otp_token": code}).status_code == 200
    assert list(AuditEntry.objects.filter(action__in=["signin.otp_success", "signin.otp_failure"])
                .order_by("pk").values_list("action", flat=True)) == [
        "signin.otp_failure", "signin.otp_success", "signin.otp_failure"]


@pytest.mark.second_factor
def test_r_sec_auth_2_a_recovery_code_signs_in_once(org):
    _enrolled(org["hq_user"])
    static = StaticDevice.objects.create(user=org["hq_user"], name="recovery codes", confirmed=True)
    static.token_set.create(token="abcd2345")
    client = Client()
    _sign_in(client, "hq-office")
    assert client.post(reverse("signin:verify"), {"otp_token": "ABCD 2345"}).status_code == 302
    assert client.get("/").status_code == 200
    client.post(reverse("logout"))
    _sign_in(client, "hq-office")
    time.sleep(0.1)
    assert client.post(reverse("signin:verify"), {"otp_token": "abcd2345"}).status_code == 200


@pytest.mark.second_factor
def test_r_sec_auth_2_the_branch_admin_resets_a_device_of_his_branch_with_a_register_row(org):
    branch_user = org["b"].user
    Role.objects.create(user=branch_user, kind=RoleKind.BRANCH, organisation=org["b1"])
    far_user = org["far"].user
    Role.objects.create(user=far_user, kind=RoleKind.BRANCH, organisation=org["b2"])
    for user in (branch_user, far_user, org["admin1"]):
        _enrolled(user)
    with pytest.raises(PermissionDenied):
        signin.otp_device_reset(actor=org["admin1"], user=far_user, reason="lost phone")
    with pytest.raises(PermissionDenied):
        signin.otp_device_reset(actor=org["admin1"], user=org["admin1"], reason="my own")
    with pytest.raises(PermissionDenied):
        signin.otp_device_reset(actor=org["admin1"], user=org["hq_user"], reason="HQ is not his")
    # In the admin site (the admin has passed his own second factor).
    admin = Client()
    _sign_in(admin, "admin-b1")
    secret = _secret_of(org["admin1"])
    assert admin.post(reverse("signin:verify"), {"otp_token": totp_code(secret)}).status_code == 302
    changelist = reverse("admin:auth_user_changelist")
    response = admin.post(changelist, {"action": "reset_second_factor", "_selected_action": [branch_user.pk],
                                       "confirm": "yes", "reason": "phone lost, identity checked in person"})
    assert response.status_code == 302
    assert not TOTPDevice.objects.filter(user=branch_user).exists()
    assert TOTPDevice.objects.filter(user=far_user).exists()
    entry = PermissionRegisterEntry.objects.get(event=RegisterEvent.OTP_DEVICE_RESET)
    assert (entry.actor, entry.subject_user, entry.branch) == (org["admin1"], branch_user, org["b1"])
    assert AuditEntry.objects.filter(action="signin.otp_device_reset", target_id=str(branch_user.pk)).exists()
    # His next sign-in goes to enrolment.
    client = Client()
    _sign_in(client, branch_user.username)
    assert client.get("/").headers["Location"].startswith(reverse("signin:enrol"))


def _secret_of(user) -> str:
    import base64

    return base64.b32encode(TOTPDevice.objects.get(user=user, confirmed=True).bin_key).decode()


@pytest.mark.second_factor
def test_r_sec_auth_2_nobody_enrols_a_new_device_with_the_password_alone_once_one_exists(org):
    _enrolled(org["hq_user"])
    client = Client()
    _sign_in(client, "hq-office")
    response = client.get(reverse("signin:enrol"))
    assert response.status_code == 302 and response["Location"].startswith(reverse("signin:verify"))
    with pytest.raises(ValidationError):
        signin.otp_enrolment_device(user=org["hq_user"])


def test_r_sec_auth_2_the_second_factor_cannot_be_turned_off_in_production():
    env = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    env.update({"DJANGO_DEBUG": "0", "DJANGO_SECRET_KEY": secrets.token_urlsafe(64),
                "PII_KEY": secrets.token_urlsafe(48), "DJANGO_ALLOWED_HOSTS": "crm.example.com", "OTP_REQUIRED": "0",
                "DJANGO_SETTINGS_MODULE": "crm_platform.settings",
                "DATABASE_URL": os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/crm")})
    result = subprocess.run([sys.executable, "-c", "import django; django.setup()"], cwd=settings.BASE_DIR, env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode != 0 and "OTP_REQUIRED" in result.stderr


def test_the_demo_code_command_prints_the_current_code_only_in_debug(org, settings):
    from io import StringIO

    from django.core.management import CommandError, call_command

    secret = _enrolled(org["hq_user"])
    settings.DEBUG = False
    with pytest.raises(CommandError, match="DJANGO_DEBUG"):
        call_command("totp_code", "hq-office")
    settings.DEBUG = True
    out = StringIO()
    call_command("totp_code", "hq-office", stdout=out)
    assert out.getvalue().strip() in {totp_code(secret), totp_code(secret, at_time=time.time() - 30)}


def test_the_admin_site_signs_in_through_the_one_sign_in_page(org):
    client = Client()
    response = client.get("/admin/", follow=True)
    assert response.redirect_chain[-1][0] == reverse("login") + "?next=%2Fadmin%2F"
    # Signed in, but not someone the admin serves: refused, not sent round in circles.
    client.force_login(org["a"].user)
    assert client.get(reverse("admin:login") + "?next=/admin/").status_code == 403


def test_r_sec_auth_2_no_admin_page_shows_or_edits_a_second_factor_device(org):
    from django.contrib import admin

    assert not admin.site.is_registered(TOTPDevice) and not admin.site.is_registered(StaticDevice)
