"""R-SEC-AUTH-2: sign-in with the directory, against a real OpenLDAP server (Debian's slapd).

The fixture starts slapd on a free loopback port with a throwaway configuration (slapd.conf, mdb backend in a
temporary folder, base dc=example,dc=com) and a few staff entries, and stops it afterwards. A disabled entry
carries `employeeType: disabled` (the default LDAP_DISABLED_FILTER). Without slapd or python-ldap the tests
skip on a developer's machine and fail in CI (`.ci/run` installs both).
"""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest
from django.contrib.auth import SESSION_KEY, get_user_model
from django.test import Client
from django.urls import reverse

from permissions.ldap_config import directory_settings
from permissions.models import PermissionRegisterEntry, RegisterEvent, Role, RoleKind, RoleSource
from relationships.models import AuditEntry
from tests.support.factories import BranchFactory, HQFactory, OutletFactory, StaffFactory, UserFactory

pytestmark = pytest.mark.django_db

SLAPD = shutil.which("slapd") or "/usr/sbin/slapd"
BASE = "dc=example,dc=com"
ROOT_DN, ROOT_PW = f"cn=admin,{BASE}", "root-secret"
SERVICE_DN, SERVICE_PW = f"uid=crm-service,ou=services,{BASE}", "service-secret"
HQ_GROUP = f"cn=crm-hq,ou=groups,{BASE}"
BRANCH_GROUP = f"cn=crm-branch,ou=groups,{BASE}"

CONF = """\
include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
modulepath /usr/lib/ldap
moduleload back_mdb
pidfile {dir}/slapd.pid
argsfile {dir}/slapd.args
database mdb
maxsize 10485760
suffix "{base}"
rootdn "{root_dn}"
rootpw {root_pw}
directory {dir}/db
access to attrs=userPassword by anonymous auth by * none
access to * by dn.exact="{service_dn}" read by users read by * none
"""


def _unavailable(reason: str):
    if os.environ.get("CI"):
        pytest.fail(f"{reason}; CI must provide it (.ci/run installs slapd, ldap-utils and python-ldap)")
    pytest.skip(f"{reason} (CI always has it)")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _person(uid: str, password: str, *, given: str, sn: str, disabled: bool = False):
    attrs = {"objectClass": [b"inetOrgPerson"], "uid": [uid.encode()], "cn": [f"{sn}{given}".encode()],
             "sn": [sn.encode()], "givenName": [given.encode()], "mail": [f"{uid.lower()}@example.com".encode()],
             "userPassword": [password.encode()]}
    if disabled:
        attrs["employeeType"] = [b"disabled"]
    return f"uid={uid},ou=people,{BASE}", attrs


@pytest.fixture(scope="module")
def slapd(tmp_path_factory):
    try:
        import ldap
        import ldap.modlist
    except ImportError:
        _unavailable("python-ldap is not installed (pip install -e '.[ldap]')")
    if not Path(SLAPD).exists():
        _unavailable("slapd is not installed (apt-get install slapd ldap-utils)")
    folder = tmp_path_factory.mktemp("slapd")
    (folder / "db").mkdir()
    (folder / "slapd.conf").write_text(CONF.format(dir=folder, base=BASE, root_dn=ROOT_DN, root_pw=ROOT_PW,
                                                   service_dn=SERVICE_DN))
    port = _free_port()
    uri = f"ldap://127.0.0.1:{port}"
    log = open(folder / "slapd.log", "w")
    proc = subprocess.Popen([SLAPD, "-f", str(folder / "slapd.conf"), "-h", f"{uri}/", "-d", "0"],
                            stdout=log, stderr=subprocess.STDOUT)
    conn = None
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"slapd exited: {(folder / 'slapd.log').read_text()[-2000:]}")
        try:
            conn = ldap.initialize(uri)
            conn.simple_bind_s(ROOT_DN, ROOT_PW)
            break
        except ldap.SERVER_DOWN:
            time.sleep(0.1)
    else:
        proc.kill()
        pytest.fail("slapd did not start within 20 s")
    entries = [
        (BASE, {"objectClass": [b"dcObject", b"organization"], "dc": [b"example"], "o": [b"Example Securities"]}),
        *[(f"ou={ou},{BASE}", {"objectClass": [b"organizationalUnit"], "ou": [ou.encode()]})
          for ou in ("people", "groups", "services")],
        (SERVICE_DN, {"objectClass": [b"account", b"simpleSecurityObject"], "uid": [b"crm-service"],
                      "userPassword": [SERVICE_PW.encode()]}),
        _person("S00001", "dir-pass-1", given="伟", sn="王"),
        _person("S00002", "dir-pass-2", given="静", sn="李", disabled=True),
        _person("S00003", "dir-pass-3", given="强", sn="张"),
        _person("S00004", "dir-pass-4", given="敏", sn="刘"),
        (HQ_GROUP, {"objectClass": [b"groupOfNames"], "cn": [b"crm-hq"],
                    "member": [f"uid=S00001,ou=people,{BASE}".encode()]}),
        (BRANCH_GROUP, {"objectClass": [b"groupOfNames"], "cn": [b"crm-branch"],
                        "member": [f"uid=S00003,ou=people,{BASE}".encode()]}),
    ]
    for dn, attrs in entries:
        conn.add_s(dn, ldap.modlist.addModlist(attrs))
    yield {"uri": uri, "conn": conn, "proc": proc}
    conn.unbind_s()
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()


@pytest.fixture
def directory(slapd, settings):
    """The project's settings as the environment of a brokerage with a directory would make them."""
    env = {"LDAP_SERVER_URI": slapd["uri"], "LDAP_BIND_DN": SERVICE_DN, "LDAP_BIND_PASSWORD": SERVICE_PW,
           "LDAP_USER_BASE": f"ou=people,{BASE}", "LDAP_GROUP_BASE": f"ou=groups,{BASE}",
           "LDAP_GROUP_ROLES": f'{{"{HQ_GROUP}": "hq", "{BRANCH_GROUP}": "branch"}}'}
    for name, value in directory_settings(env, debug=True).items():
        setattr(settings, name, value)
    settings.AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "permissions.ldap.DirectoryBackend",
                                        "django.contrib.auth.backends.ModelBackend",
                                        "guardian.backends.ObjectPermissionBackend"]
    return slapd


@pytest.fixture
def org():
    hq = HQFactory()
    branch = BranchFactory()
    outlet = OutletFactory(parent=branch)
    return {"hq": hq, "branch": branch, "outlet": outlet,
            "s1": StaffFactory(staff_no="S00001", outlet=outlet, user=None),
            "s3": StaffFactory(staff_no="S00003", outlet=outlet, user=None)}


def _sign_in(client, username, password):
    return client.post(reverse("login"), {"username": username, "password": password})


def test_r_sec_auth_2_a_directory_user_signs_in_and_is_created_and_linked_to_his_staff_row(directory, org):
    client = Client()
    response = _sign_in(client, "S00001", "dir-pass-1")
    assert response.status_code == 302
    user = get_user_model().objects.get(username="S00001")
    assert client.session[SESSION_KEY] == str(user.pk)
    assert (user.first_name, user.last_name, user.email) == ("伟", "王", "s00001@example.com")
    assert not user.has_usable_password()  # the password stays in the directory
    org["s1"].refresh_from_db()
    assert org["s1"].user == user
    assert AuditEntry.objects.filter(action="staff.user_link", target_id=str(org["s1"].pk)).exists()
    assert AuditEntry.objects.get(action="signin.success").after["backend"] == "permissions.ldap.DirectoryBackend"
    # The uid's case as the directory has it, whatever was typed.
    client.post(reverse("logout"))
    assert _sign_in(client, "s00001", "dir-pass-1").status_code == 302
    assert get_user_model().objects.filter(username__iexact="s00001").count() == 1


def test_r_sec_auth_2_directory_groups_grant_roles_recorded_as_directory_and_withdraw_them(directory, org):
    import ldap

    _sign_in(Client(), "S00001", "dir-pass-1")
    _sign_in(Client(), "S00003", "dir-pass-3")
    hq_user = get_user_model().objects.get(username="S00001")
    branch_user = get_user_model().objects.get(username="S00003")
    assert list(Role.objects.filter(user=hq_user).values_list("kind", "organisation", "source")) == [
        (RoleKind.HQ, org["hq"].pk, RoleSource.DIRECTORY)]
    assert list(Role.objects.filter(user=branch_user).values_list("kind", "organisation", "source")) == [
        (RoleKind.BRANCH, org["branch"].pk, RoleSource.DIRECTORY)]
    granted = PermissionRegisterEntry.objects.get(event=RegisterEvent.DIRECTORY_GRANTED, subject_user=hq_user)
    assert granted.actor_label == "directory" and granted.actor is None and granted.detail["group"] == HQ_GROUP.lower()
    # A role from an application is the application's; the directory leaves it alone.
    Role.objects.create(user=branch_user, kind=RoleKind.OUTLET_HEAD, organisation=org["outlet"])
    # S00003 leaves the branch group: at his next sign-in the directory withdraws the role it granted.
    directory["conn"].modify_s(BRANCH_GROUP, [(ldap.MOD_REPLACE, "member", [f"uid=S00004,ou=people,{BASE}".encode()])])
    try:
        assert _sign_in(Client(), "S00003", "dir-pass-3").status_code == 302
    finally:
        directory["conn"].modify_s(BRANCH_GROUP, [(ldap.MOD_REPLACE, "member",
                                                   [f"uid=S00003,ou=people,{BASE}".encode()])])
    assert list(Role.objects.filter(user=branch_user).values_list("kind", "source")) == [
        (RoleKind.OUTLET_HEAD, RoleSource.APPLICATION)]
    revoked = PermissionRegisterEntry.objects.get(event=RegisterEvent.DIRECTORY_REVOKED)
    assert revoked.subject_user == branch_user and revoked.actor_label == "directory"
    assert revoked.branch == org["branch"]
    # Signing in again changes nothing more.
    _sign_in(Client(), "S00001", "dir-pass-1")
    assert PermissionRegisterEntry.objects.filter(subject_user=hq_user).count() == 1


def test_r_sec_auth_2_a_user_disabled_in_the_directory_cannot_sign_in_not_even_with_a_local_password(directory,
                                                                                                     org):
    StaffFactory(staff_no="S00002", outlet=org["outlet"])  # a local user S00002 with password pw-12345678
    client = Client()
    for password in ("dir-pass-2", "pw-12345678"):
        response = _sign_in(client, "S00002", password)
        assert response.status_code == 200 and SESSION_KEY not in client.session
    assert AuditEntry.objects.filter(action="signin.failure", actor_label="S00002").count() == 2


def test_r_sec_auth_2_a_directory_account_never_falls_back_to_a_local_password(directory, org):
    UserFactory(username="S00004", password="old-local-pw")
    assert _sign_in(Client(), "S00004", "old-local-pw").status_code == 200
    assert _sign_in(Client(), "S00004", "dir-pass-4").status_code == 302


def test_r_sec_auth_2_an_account_the_directory_does_not_know_keeps_its_local_password(directory, org):
    UserFactory(username="break-glass", password="local-pw-123", is_superuser=True)
    assert _sign_in(Client(), "break-glass", "local-pw-123").status_code == 302


def test_r_sec_auth_2_while_the_directory_does_not_answer_nobody_signs_in_with_a_password(directory, org, settings):
    UserFactory(username="break-glass", password="local-pw-123")
    settings.AUTH_LDAP_SERVER_URI = f"ldap://127.0.0.1:{_free_port()}"
    settings.AUTH_LDAP_CONNECTION_OPTIONS = {**settings.AUTH_LDAP_CONNECTION_OPTIONS}
    assert _sign_in(Client(), "break-glass", "local-pw-123").status_code == 200
    assert _sign_in(Client(), "S00001", "dir-pass-1").status_code == 200


def test_r_sec_auth_1_wrong_directory_passwords_lock_the_account_like_local_ones(directory, org, settings):
    client = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert _sign_in(client, "S00001", "wrong").status_code == 200
    assert _sign_in(client, "s00001", "wrong").status_code == 429
    assert _sign_in(client, "S00001", "dir-pass-1").status_code == 429
    assert _sign_in(client, "S00003", "dir-pass-3").status_code == 302  # his colleague, same browser


def test_r_sec_auth_2_production_refuses_a_directory_that_would_see_passwords_in_clear():
    try:
        import ldap  # noqa: F401
    except ImportError:
        _unavailable("python-ldap is not installed (pip install -e '.[ldap]')")
    env = {"LDAP_SERVER_URI": "ldap://dc.example.com", "LDAP_USER_BASE": BASE}
    with pytest.raises(RuntimeError, match="LDAP_START_TLS"):
        directory_settings(env, debug=False)
    assert directory_settings({**env, "LDAP_START_TLS": "1"}, debug=False)["AUTH_LDAP_START_TLS"] is True
    assert directory_settings({"LDAP_SERVER_URI": "ldaps://dc.example.com", "LDAP_USER_BASE": BASE},
                              debug=False)["DIRECTORY_ENABLED"]
    with pytest.raises(RuntimeError, match="branch_permission_admin"):
        directory_settings({**env, "LDAP_GROUP_BASE": BASE,
                            "LDAP_GROUP_ROLES": '{"cn=x": "branch_permission_admin"}'}, debug=True)
    assert directory_settings({}, debug=False) == {"DIRECTORY_ENABLED": False, "LDAP_GROUP_ROLES": {}}
