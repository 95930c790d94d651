"""R-PERM-1..3, R-ATT-1/2, R-ORG-4: applications, the register, attach permission and the admin site."""
from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management import call_command
from django.db import DatabaseError, connection, transaction
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from guardian.shortcuts import get_perms
from openpyxl import load_workbook

from permissions import authority, services
from permissions.models import (
    ApplicationStatus,
    PermissionApplication,
    PermissionRegisterEntry,
    RegisterEvent,
    Role,
    RoleKind,
)
from relationships.membership import staff_outlets_on
from relationships.models import AuditEntry, Qualification, RelationshipType
from relationships.services import attach_refusal
from tests.support.factories import BranchFactory, HQFactory, OutletFactory, StaffFactory, UserFactory, make_id_number
from tests.support.helpers import at, reserve

pytestmark = pytest.mark.django_db


@pytest.fixture
def org():
    hq = HQFactory()
    b1, b2 = BranchFactory(), BranchFactory()
    o1, o1b, o2 = OutletFactory(parent=b1), OutletFactory(parent=b1), OutletFactory(parent=b2)
    hq_user = UserFactory(username="hq-office", is_staff=True)
    Role.objects.create(user=hq_user, kind=RoleKind.HQ, organisation=hq)
    head = UserFactory(username="head-b1")
    Role.objects.create(user=head, kind=RoleKind.BRANCH_HEAD, organisation=b1)
    head2 = UserFactory(username="head-b2")
    Role.objects.create(user=head2, kind=RoleKind.BRANCH_HEAD, organisation=b2)
    admin1, admin2 = UserFactory(username="admin-b1"), UserFactory(username="admin-b2")
    services.branch_admin_assign(actor=hq_user, user=admin1, branch=b1, reason="new branch admin")
    services.branch_admin_assign(actor=hq_user, user=admin2, branch=b2, reason="new branch admin")
    staff = StaffFactory(outlet=o1)
    other_staff = StaffFactory(outlet=o1b)
    far_staff = StaffFactory(outlet=o2)
    return dict(hq=hq, b1=b1, b2=b2, o1=o1, o1b=o1b, o2=o2, hq_user=hq_user, head=head, head2=head2,
                admin1=admin1, admin2=admin2, staff=staff, other_staff=other_staff, far_staff=far_staff)


def _file_grant(o, *, actor=None, kind=RoleKind.OUTLET_HEAD, organisation=None):
    return services.application_file(actor=actor or o["staff"].user, subject=o["staff"].user, action="grant",
                                     role_kind=kind, organisation=organisation or o["o1"],
                                     reason="takes over the outlet", signed_off=True)


# --------------------------------------------------------------------------------------------------
# R-PERM-1
# --------------------------------------------------------------------------------------------------

def test_r_perm_1_hq_assigns_the_branch_admin_with_a_guardian_permission_on_his_branch(org):
    admin1 = org["admin1"]
    admin1.refresh_from_db()
    assert admin1.is_staff
    assert "change_organisation" in get_perms(admin1, org["b1"])
    assert get_perms(admin1, org["b2"]) == []
    assert authority.administered_branch_ids(admin1) == {org["b1"].pk}
    entry = PermissionRegisterEntry.objects.filter(event=RegisterEvent.BRANCH_ADMIN_ASSIGNED,
                                                   subject_user=admin1).get()
    assert entry.branch == org["b1"] and entry.reason == "new branch admin" and "hq-office" in entry.actor_label


def test_r_perm_1_only_hq_assigns_branch_admins(org):
    with pytest.raises(PermissionDenied):
        services.branch_admin_assign(actor=org["admin1"], user=org["staff"].user, branch=org["b1"], reason="x")
    with pytest.raises(PermissionDenied):
        services.branch_admin_assign(actor=org["head"], user=org["staff"].user, branch=org["b1"], reason="x")


def test_r_perm_1_removing_the_branch_admin_removes_his_branch(org):
    role = Role.objects.get(user=org["admin1"], kind=RoleKind.BRANCH_PERMISSION_ADMIN)
    services.branch_admin_remove(actor=org["hq_user"], role=role, reason="moved on")
    admin1 = type(org["admin1"]).objects.get(pk=org["admin1"].pk)
    assert not admin1.is_staff and authority.administered_branch_ids(admin1) == set()
    assert get_perms(admin1, org["b1"]) == []
    assert PermissionRegisterEntry.objects.filter(event=RegisterEvent.BRANCH_ADMIN_REMOVED).count() == 1


# --------------------------------------------------------------------------------------------------
# R-PERM-2 / R-PERM-3: application → approval → applied
# --------------------------------------------------------------------------------------------------

def test_r_perm_2_nothing_changes_until_the_approved_application_is_applied(org):
    user = org["staff"].user
    app = _file_grant(org)
    assert app.status == ApplicationStatus.PENDING and app.branch == org["b1"]
    assert not Role.objects.filter(user=user, kind=RoleKind.OUTLET_HEAD).exists()
    with pytest.raises(ValidationError):  # not approved yet
        services.application_apply(actor=org["admin1"], application_id=app.pk)
    services.application_approve(actor=org["head"], application_id=app.pk, note="ok")
    assert not Role.objects.filter(user=user, kind=RoleKind.OUTLET_HEAD).exists()
    services.application_apply(actor=org["admin1"], application_id=app.pk)
    assert Role.objects.filter(user=user, kind=RoleKind.OUTLET_HEAD, organisation=org["o1"]).exists()
    app.refresh_from_db()
    assert app.status == ApplicationStatus.APPLIED and app.applied_by == org["admin1"]
    with pytest.raises(ValidationError):  # applied once only
        services.application_apply(actor=org["admin1"], application_id=app.pk)


def test_r_perm_3_the_register_holds_application_approval_and_application_with_the_sign_off(org):
    app = _file_grant(org)
    services.application_approve(actor=org["head"], application_id=app.pk)
    services.application_apply(actor=org["admin1"], application_id=app.pk)
    entries = list(PermissionRegisterEntry.objects.filter(application=app).order_by("at", "id"))
    assert [e.event for e in entries] == [RegisterEvent.FILED, RegisterEvent.APPROVED, RegisterEvent.GRANTED]
    staff_label = f"{org['staff'].name} ({org['staff'].staff_no})"
    for e in entries:
        assert e.branch == org["b1"] and e.subject_label == staff_label
        assert e.applicant_label == staff_label
        assert org["staff"].user.username in e.signoff and "sha256:" in e.signoff
        assert org["o1"].code in e.what  # what was asked: the role at that outlet
    assert entries[1].approver_label == "head-b1" and entries[1].actor_label == "head-b1"
    assert entries[2].approver_label == "head-b1" and entries[2].applier_label == "admin-b1"
    assert entries[2].detail["after"]["kind"] == RoleKind.OUTLET_HEAD
    assert AuditEntry.objects.filter(action="permission.granted", target_id=str(app.pk)).exists()


def test_r_perm_2_branch_admin_files_for_a_user_of_his_branch_only(org):
    app = services.application_file(actor=org["admin1"], subject=org["other_staff"].user, action="grant",
                                     role_kind=RoleKind.BRANCH, organisation=org["b1"], reason="needs branch view",
                                     signed_off=True)
    assert app.applicant == org["admin1"]
    with pytest.raises(PermissionDenied):  # another branch's user
        services.application_file(actor=org["admin1"], subject=org["far_staff"].user, action="grant",
                                  role_kind=RoleKind.BRANCH, organisation=org["b2"], reason="x", signed_off=True)
    with pytest.raises(PermissionDenied):  # a user cannot ask for a role at another branch
        services.application_file(actor=org["staff"].user, subject=org["staff"].user, action="grant",
                                  role_kind=RoleKind.BRANCH, organisation=org["b2"], reason="x", signed_off=True)


def test_r_perm_2_sign_off_reason_and_applicable_roles_are_required(org):
    with pytest.raises(ValidationError):
        services.application_file(actor=org["staff"].user, subject=org["staff"].user, action="grant",
                                  role_kind=RoleKind.BRANCH, organisation=org["b1"], reason="x", signed_off=False)
    with pytest.raises(ValidationError):
        services.application_file(actor=org["staff"].user, subject=org["staff"].user, action="grant",
                                  role_kind=RoleKind.BRANCH, organisation=org["b1"], reason=" ", signed_off=True)
    with pytest.raises(ValidationError):  # HQ assigns this one (R-PERM-1)
        services.application_file(actor=org["staff"].user, subject=org["staff"].user, action="grant",
                                  role_kind=RoleKind.BRANCH_PERMISSION_ADMIN, organisation=org["b1"], reason="x",
                                  signed_off=True)
    with pytest.raises(ValidationError):  # an outlet role is held at an outlet
        services.application_file(actor=org["staff"].user, subject=org["staff"].user, action="grant",
                                  role_kind=RoleKind.OUTLET_HEAD, organisation=org["b1"], reason="x", signed_off=True)


def test_r_perm_2_only_the_branch_head_approves_and_only_the_branch_admin_applies(org):
    app = _file_grant(org)
    for who in (org["staff"].user, org["admin1"], org["head2"]):
        with pytest.raises(PermissionDenied):
            services.application_approve(actor=who, application_id=app.pk)
    services.application_approve(actor=org["head"], application_id=app.pk)
    for who in (org["head2"], org["admin2"], org["staff"].user):
        with pytest.raises(PermissionDenied):
            services.application_apply(actor=who, application_id=app.pk)
    services.application_apply(actor=org["admin1"], application_id=app.pk)


def test_r_perm_2_the_branch_head_cannot_approve_his_own_application(org):
    app = services.application_file(actor=org["head"], subject=org["head"], action="grant",
                                    role_kind=RoleKind.BRANCH, organisation=org["b1"], reason="x", signed_off=True)
    with pytest.raises(PermissionDenied):
        services.application_approve(actor=org["head"], application_id=app.pk)
    services.application_approve(actor=org["hq_user"], application_id=app.pk)  # the tier above


def test_r_perm_2_rejection_needs_a_reason_and_ends_the_application(org):
    app = _file_grant(org)
    with pytest.raises(ValidationError):
        services.application_reject(actor=org["head"], application_id=app.pk, reason="")
    services.application_reject(actor=org["head"], application_id=app.pk, reason="not needed")
    with pytest.raises(ValidationError):
        services.application_approve(actor=org["head"], application_id=app.pk)
    assert PermissionRegisterEntry.objects.filter(application=app, event=RegisterEvent.REJECTED,
                                                  reason="not needed").exists()


def test_r_perm_2_adjust_and_revoke(org):
    user = org["staff"].user
    role = Role.objects.create(user=user, kind=RoleKind.OUTLET_STAFF, organisation=org["o1"])
    adj = services.application_file(actor=user, subject=user, action="adjust", role=role,
                                    role_kind=RoleKind.OUTLET_HEAD, organisation=org["o1b"], reason="moves",
                                    signed_off=True)
    services.application_approve(actor=org["head"], application_id=adj.pk)
    services.application_apply(actor=org["admin1"], application_id=adj.pk)
    role.refresh_from_db()
    assert (role.kind, role.organisation) == (RoleKind.OUTLET_HEAD, org["o1b"])
    rev = services.application_file(actor=org["admin1"], subject=user, action="revoke", role=role, reason="left",
                                    signed_off=True)
    services.application_approve(actor=org["head"], application_id=rev.pk)
    assert Role.objects.filter(pk=role.pk).exists()
    services.application_apply(actor=org["admin1"], application_id=rev.pk)
    assert not Role.objects.filter(pk=role.pk).exists()
    events = list(PermissionRegisterEntry.objects.filter(subject_user=user).order_by("at", "id")
                  .values_list("event", flat=True))
    assert events == ["filed", "approved", "adjusted", "filed", "approved", "revoked"]


def test_r_perm_4_a_revoked_permission_takes_effect_on_the_next_request(org):
    """A branch user sees a reservation of his branch; once the revocation is applied, the next request 404s."""
    user = UserFactory(username="branch-viewer")
    Role.objects.create(user=user, kind=RoleKind.BRANCH, organisation=org["b1"])
    reservation = reserve(org["other_staff"], id_number=make_id_number(), when=at("2026-03-02 09:00"))
    client = Client()
    client.force_login(user)
    url = reverse("reservations:detail", args=[reservation.pk])
    assert client.get(url).status_code == 200
    role = Role.objects.get(user=user, kind=RoleKind.BRANCH)
    app = services.application_file(actor=org["admin1"], subject=user, action="revoke", role=role, reason="left",
                                    signed_off=True)
    services.application_approve(actor=org["head"], application_id=app.pk)
    assert client.get(url).status_code == 200  # approved is not applied
    services.application_apply(actor=org["admin1"], application_id=app.pk)
    assert client.get(url).status_code == 404


def test_r_perm_3_the_register_rejects_update_and_delete_in_the_database(org):
    entry = PermissionRegisterEntry.objects.first()
    for sql in ("UPDATE permissions_permissionregisterentry SET what = 'forged' WHERE id = %s",
                "DELETE FROM permissions_permissionregisterentry WHERE id = %s"):
        with pytest.raises(DatabaseError, match="append-only"):
            with transaction.atomic(), connection.cursor() as cur:
                cur.execute(sql, [entry.pk])
    with pytest.raises(DatabaseError):
        with transaction.atomic():
            PermissionRegisterEntry.objects.filter(pk=entry.pk).update(reason="forged")
    with pytest.raises(DatabaseError):
        with transaction.atomic():
            PermissionRegisterEntry.objects.filter(pk=entry.pk).delete()
    entry.refresh_from_db()
    assert entry.what != "forged"


def test_r_perm_3_register_pages_filter_and_export_csv_and_excel(org):
    app = _file_grant(org)
    services.application_approve(actor=org["head"], application_id=app.pk)
    services.application_file(actor=org["far_staff"].user, subject=org["far_staff"].user, action="grant",
                              role_kind=RoleKind.BRANCH, organisation=org["b2"], reason="b2 only", signed_off=True)
    client = Client()
    client.force_login(org["head"])
    page = client.get(reverse("permissions:register")).content.decode()
    assert "takes over the outlet" in page and "b2 only" not in page
    page = client.get(reverse("permissions:register"), {"event": "approved"}).content.decode()
    assert "head-b1" in page
    response = client.get(reverse("permissions:register_csv"))
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))
    assert response["Content-Type"].startswith("text/csv")
    events = {str(RegisterEvent(e).label) for e in ("filed", "approved", "branch_admin_assigned")}
    assert {r[2] for r in rows[1:]} >= events  # for people: the event's label, the branch's name (issue 19)
    assert all(r[3] == org["b1"].name for r in rows[1:])
    response = client.get(reverse("permissions:register_xlsx"), {"event": "approved"})
    sheet = load_workbook(io.BytesIO(response.getvalue())).active
    values = list(sheet.values)
    assert values[0][:3] == ("序号", "时间", "事件") and [v[2] for v in values[1:]] == ["申请通过"]


def test_r_perm_3_the_register_machine_format_is_the_export_register_command(org, tmp_path):
    """Other systems read the register's codes and JSON: `manage.py export_register [--branch CODE] FILE`."""
    app = _file_grant(org)
    services.application_approve(actor=org["head"], application_id=app.pk)
    path = tmp_path / "register.csv"
    call_command("export_register", str(path), "--branch", org["b1"].code, stdout=io.StringIO())
    rows = list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"))))
    assert {r["event"] for r in rows} >= {"filed", "approved", "branch_admin_assigned"}
    assert all(r["branch"] == org["b1"].code for r in rows)
    assert any(org["staff"].user.username in r["signoff"] for r in rows)
    assert list(rows[0])[:3] == ["entry_id", "at", "event"]


def test_r_perm_2_the_pages_file_approve_and_apply(org):
    user = org["staff"].user
    client = Client()
    client.force_login(user)
    response = client.post(reverse("permissions:application_new"), {
        "subject": user.pk, "action": "grant", "role_kind": RoleKind.OUTLET_HEAD, "organisation": org["o1"].pk,
        "reason": "cover", "signed_off": "on"})
    app = PermissionApplication.objects.get(subject=user)
    assert response.status_code == 302 and response["Location"] == reverse("permissions:application", args=[app.pk])
    client.force_login(org["head"])
    page = client.get(reverse("permissions:application", args=[app.pk])).content.decode()
    assert reverse("permissions:application_approve", args=[app.pk]) in page
    client.post(reverse("permissions:application_approve", args=[app.pk]), {"note": "fine"})
    client.force_login(org["admin1"])
    client.post(reverse("permissions:application_apply", args=[app.pk]))
    app.refresh_from_db()
    assert app.status == ApplicationStatus.APPLIED
    # Without the sign-off nothing is filed and the form says why.
    client.force_login(user)
    response = client.post(reverse("permissions:application_new"), {
        "subject": user.pk, "action": "grant", "role_kind": RoleKind.BRANCH, "organisation": org["b1"].pk,
        "reason": "cover"})
    assert response.status_code == 200 and PermissionApplication.objects.filter(subject=user).count() == 1


# --------------------------------------------------------------------------------------------------
# R-ATT-1 / R-ATT-2 / R-ORG-4
# --------------------------------------------------------------------------------------------------

def test_r_att_1_closing_attach_permission_is_registered_and_stops_attachment(org):
    staff = org["staff"]
    new_dev = RelationshipType.objects.get(code="NEW_DEV")
    assert attach_refusal(staff, new_dev, dt.date(2026, 3, 2)) is None
    with pytest.raises(ValidationError):
        services.attach_close(actor=org["admin1"], staff=staff, reason="")
    with pytest.raises(PermissionDenied):
        services.attach_close(actor=org["admin2"], staff=staff, reason="other branch")
    services.attach_close(actor=org["admin1"], staff=staff, reason="left the firm")
    staff.refresh_from_db()
    assert not staff.attach_open and attach_refusal(staff, new_dev, dt.date(2026, 3, 2))
    entry = PermissionRegisterEntry.objects.get(event=RegisterEvent.ATTACH_CLOSED)
    assert entry.subject_staff == staff and entry.reason == "left the firm" and entry.branch == org["b1"]
    assert AuditEntry.objects.filter(action="staff.attach_close", target_id=str(staff.pk)).exists()
    with pytest.raises(ValidationError):
        services.attach_close(actor=org["admin1"], staff=staff, reason="again")
    services.attach_open(actor=org["hq_user"], staff=staff, reason="rehired")
    staff.refresh_from_db()
    assert staff.attach_open


def test_r_org_4_qualifications_are_recorded_with_validity_in_the_register(org):
    staff = StaffFactory(outlet=org["o1"], qualifications=[])
    new_dev = RelationshipType.objects.get(code="NEW_DEV")
    assert attach_refusal(staff, new_dev, dt.date(2026, 3, 2))
    q = services.qualification_record(actor=org["admin1"], staff=staff, kind="securities", number="S-123",
                                      valid_from=dt.date(2020, 1, 1), valid_to=dt.date(2026, 12, 31))
    assert attach_refusal(staff, new_dev, dt.date(2026, 3, 2)) is None
    services.qualification_set_validity(actor=org["admin1"], qualification=q, valid_to=dt.date(2026, 3, 1),
                                        reason="certificate lapsed")
    assert attach_refusal(staff, new_dev, dt.date(2026, 3, 2))  # a lapsed qualification counts as absent
    events = list(PermissionRegisterEntry.objects.filter(subject_staff=staff).values_list("event", flat=True))
    assert sorted(events) == ["qualification_changed", "qualification_recorded"]
    with pytest.raises(PermissionDenied):
        services.qualification_record(actor=org["admin2"], staff=staff, kind="futures", number="F-1",
                                      valid_from=dt.date(2020, 1, 1))
    assert Qualification.objects.filter(staff=staff).count() == 1


# --------------------------------------------------------------------------------------------------
# The admin site: a branch admin's world is his branch
# --------------------------------------------------------------------------------------------------

def test_r_perm_1_admin_lists_show_only_the_branch_admins_own_branch(org):
    client = Client()
    client.force_login(org["admin1"])
    assert client.get(reverse("admin:index")).status_code == 200
    page = client.get(reverse("admin:relationships_staff_changelist")).content.decode()
    assert org["staff"].staff_no in page and org["far_staff"].staff_no not in page
    page = client.get(reverse("admin:auth_user_changelist")).content.decode()
    assert org["staff"].user.username in page and org["far_staff"].user.username not in page
    page = client.get(reverse("admin:permissions_role_changelist")).content.decode()
    assert "head-b1" in page and "head-b2" not in page
    page = client.get(reverse("admin:permissions_permissionregisterentry_changelist")).content.decode()
    assert "admin-b1" in page and "admin-b2" not in page
    far = reverse("admin:relationships_staff_change", args=[org["far_staff"].pk])
    assert client.get(far).status_code == 302
    far_user = reverse("admin:auth_user_change", args=[org["far_staff"].user.pk])
    assert client.get(far_user).status_code == 302
    # Nothing here lets him grant himself anything: roles are read-only, users' flags too.
    assert client.get(reverse("admin:permissions_role_add")).status_code == 403
    response = client.post(reverse("admin:auth_user_change", args=[org["staff"].user.pk]), {
        "username": org["staff"].user.username, "first_name": "新", "last_name": "名", "email": "a@b.cn",
        "is_superuser": "on", "is_staff": "on"})
    assert response.status_code == 302
    org["staff"].user.refresh_from_db()
    assert org["staff"].user.first_name == "新" and not org["staff"].user.is_superuser
    assert not org["staff"].user.is_staff


def test_r_att_1_admin_action_closes_attach_permission_with_a_reason(org):
    client = Client()
    client.force_login(org["admin1"])
    url = reverse("admin:relationships_staff_changelist")
    data = {"action": "close_attach", "_selected_action": [org["staff"].pk, org["far_staff"].pk]}
    page = client.post(url, data)
    assert page.status_code == 200 and "reason" in page.content.decode()  # asks for the reason first
    client.post(url, {**data, "confirm": "yes", "reason": "suspended"})
    org["staff"].refresh_from_db()
    org["far_staff"].refresh_from_db()
    assert not org["staff"].attach_open
    assert org["far_staff"].attach_open  # not in his list: not touched
    assert PermissionRegisterEntry.objects.filter(event=RegisterEvent.ATTACH_CLOSED, reason="suspended").count() == 1


def test_r_staff_1_admin_records_a_move_and_a_leaving_with_their_dates(org):
    """R-STAFF-1 / R-ATT-2 in the admin: the move keeps the days before it with the old outlet; the leaving closes
    attach permission through the register from its day."""
    client = Client()
    client.force_login(org["admin1"])
    url = reverse("admin:relationships_staff_changelist")
    move = {"action": "record_move", "_selected_action": [org["staff"].pk]}
    assert 'name="on"' in client.post(url, move).content.decode()  # asks for the outlet, the date and the reason
    client.post(url, {**move, "confirm": "yes", "outlet": org["o1b"].pk, "on": "2026-11-15", "reason": "调岗"})
    org["staff"].refresh_from_db()
    assert org["staff"].outlet == org["o1b"]
    assert staff_outlets_on([org["staff"].pk], dt.date(2026, 11, 14)) == {org["staff"].pk: org["o1"].pk}
    today = timezone.localdate()
    leave = {"action": "record_leaving", "_selected_action": [org["staff"].pk, org["far_staff"].pk]}
    client.post(url, {**leave, "confirm": "yes", "on": today.isoformat(), "reason": "离职"})
    org["staff"].refresh_from_db()
    org["far_staff"].refresh_from_db()
    assert org["staff"].left_on == today and not org["staff"].attach_open
    assert org["far_staff"].left_on is None  # not his branch: not in his list
    assert PermissionRegisterEntry.objects.filter(event=RegisterEvent.ATTACH_CLOSED, reason="离职",
                                                  subject_staff=org["staff"]).count() == 1


def test_r_perm_1_hq_assigns_a_branch_admin_in_the_admin_site(org):
    client = Client()
    client.force_login(org["hq_user"])
    user = org["other_staff"].user
    response = client.post(reverse("admin:permissions_role_add"), {
        "user": user.pk, "organisation": org["b1"].pk, "reason": "second admin"})
    assert response.status_code == 302, response.content.decode()[:2000]
    assert Role.objects.filter(user=user, kind=RoleKind.BRANCH_PERMISSION_ADMIN, organisation=org["b1"]).exists()
    assert authority.administered_branch_ids(type(user).objects.get(pk=user.pk)) == {org["b1"].pk}


def test_r_perm_1_admin_applies_approved_applications_by_action(org):
    app = _file_grant(org)
    services.application_approve(actor=org["head"], application_id=app.pk)
    client = Client()
    client.force_login(org["admin1"])
    client.post(reverse("admin:permissions_permissionapplication_changelist"),
                {"action": "apply_selected", "_selected_action": [app.pk]})
    app.refresh_from_db()
    assert app.status == ApplicationStatus.APPLIED
