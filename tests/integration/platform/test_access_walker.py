"""R-PERM-4 / R-PII-1 / R-PERM-1: walk every URL of the site as users of each role.

The URLs are read from the URL conf (`get_resolver()`), so a page added by any app is covered without
touching this file. Integer and string parameters are filled three ways:

- OTHER — the id of a row of *another branch*. Every model the site shows has a row with exactly this
  primary key in branch B2 (reservation, relationship, customer, staff, user, organisation, approval
  case and step, post designation, role, qualification, permission application and register entry),
  so whatever model a `<int:pk>` means, it names an out-of-scope row;
- OWN — the same for the user's own branch B1 (pages must not fail);
- MISSING — an id no row has.

For every user that is not HQ, the answer for OTHER must be exactly the answer for MISSING (status and
redirect target) and never 200: an out-of-scope row is indistinguishable from a row that does not exist
(404, or 403/405 when the action itself is refused, or the admin's "no such object" redirect). No
answer is a server error, and no answer to a role without the need contains a full 18-digit ID number
or a full phone number of the world (R-PII-1; views marked `reveals_pii` are the logged exception for
roles that need them). Every POST without a CSRF token is refused (403).
"""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from decimal import Decimal
from itertools import product

import pytest
from django.contrib.auth import SESSION_KEY
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, resolve, reverse
from django.urls.exceptions import NoReverseMatch, Resolver404
from django.urls.resolvers import RegexPattern, RoutePattern
from django.utils import timezone

from permissions.models import (
    ApplicationAction,
    PermissionApplication,
    PermissionRegisterEntry,
    RegisterEvent,
    Role,
    RoleKind,
)
from permissions.pii import needs_full_pii
from permissions.services import branch_admin_assign
from relationships.identity import id_check_digit
from relationships.models import Customer, Organisation, Qualification, Relationship, RelationshipShare, Staff
from relationships.pii import encrypt, mask_id, mask_phone, pii_hash
from tests.support.factories import BranchFactory, HQFactory, OutletFactory, StaffFactory, UserFactory

pytestmark = pytest.mark.django_db

OWN, OTHER, MISSING = 800_001, 900_001, 999_999_937
WORDS = ["csv", "xlsx", "relationships", "reservations", "approval_cases", "performance"]
ROLES = ["anonymous", "staff", "broker_child", "outlet_head", "branch_user", "branch_head", "branch_admin", "hq"]
HQ_LIKE = {"hq"}
ID_RE = re.compile(r"(?<![0-9A-Za-z])(\d{17}[\dX])(?![0-9A-Za-z])")


# --------------------------------------------------------------------------------------------------
# The world: two branches with one row of every model at a known id each
# --------------------------------------------------------------------------------------------------

@dataclass
class World:
    users: dict
    id_numbers: list
    phones: list
    own_branch: Organisation
    other_branch: Organisation


def _rows_for(pk: int, *, branch: Organisation, outlet: Organisation, staff: Staff, id_number: str, phone: str,
              actor):
    """One row of every scoped model at primary key `pk`, all belonging to `branch`."""
    from approvals.models import ApprovalCase, CaseStep, PostAssignment
    from reservations.models import Reservation, ReservationParticipant

    now = timezone.now()
    customer = Customer.objects.create(pk=pk, id_hash=pii_hash(id_number), id_encrypted=encrypt(id_number),
                                       id_masked=mask_id(id_number), name=f"客户{pk}", phone_encrypted=encrypt(phone))
    rel = Relationship.objects.create(pk=pk, customer=customer, type_id="NEW_DEV", effective_from=dt.date(2026, 1, 5),
                                      source="reservation", outlet=outlet)
    RelationshipShare.objects.create(pk=pk, relationship=rel, staff=staff, ratio=Decimal("1"),
                                     effective_from=dt.date(2026, 1, 5))
    res = Reservation.objects.create(
        pk=pk, staff=staff, outlet=outlet, type_id="NEW_DEV", customer_name=f"客户{pk}", name_normalised=f"客户{pk}",
        id_hash=pii_hash(id_number), id_encrypted=encrypt(id_number), id_masked=mask_id(id_number),
        phone_encrypted=encrypt(phone), phone_masked=mask_phone(phone), registered_at=now,
        valid_until=timezone.localdate() + dt.timedelta(days=20), status="active", created_by=staff.user)
    ReservationParticipant.objects.create(pk=pk, reservation=res, staff=staff, ratio=Decimal("1"))
    case = ApprovalCase.objects.create(
        pk=pk, reason="late", type_id="NEW_DEV", customer=customer, proposed_shares=[
            {"staff_id": staff.pk, "ratio": "1.0000"}], opening_outlet=outlet, branch=branch, applicant=staff,
        dedupe_key=f"walker-{pk}")
    CaseStep.objects.create(pk=pk, case=case, order=1, post="final_approval", organisation=branch)
    PostAssignment.objects.create(pk=pk, post="designated_person", organisation=branch, user=staff.user,
                                  valid_from=dt.date(2026, 1, 1))
    Role.objects.create(pk=pk, user=staff.user, kind=RoleKind.OUTLET_STAFF, organisation=outlet)
    Qualification.objects.create(pk=pk, staff=staff, kind="futures", number=f"F{pk}",
                                 valid_from=dt.date(2001, 1, 1))
    app = PermissionApplication.objects.create(
        pk=pk, branch=branch, action=ApplicationAction.GRANT, subject=staff.user, role_kind=RoleKind.OUTLET_HEAD,
        organisation=outlet, reason="walker", applicant=staff.user, signoff="signed")
    PermissionRegisterEntry.objects.create(
        pk=pk, event=RegisterEvent.FILED, branch=branch, application=app, actor=staff.user,
        actor_label=staff.staff_no, subject_user=staff.user, subject_label=staff.staff_no, what="walker")
    from relationships.models import PiiAccess

    PiiAccess.objects.create(pk=pk, actor=actor, actor_label="walker", purpose="walker", detail="walker")


def _id(seq: int) -> str:
    first17 = f"310104199003{seq % 28 + 1:02d}{seq % 1000:03d}"
    return first17 + id_check_digit(first17)


def build_world() -> World:
    hq = HQFactory()
    b1, b2 = BranchFactory(code="B1"), BranchFactory(code="B2")
    o1 = OutletFactory(pk=OWN, parent=b1, code="O1")
    o1b = OutletFactory(parent=b1, code="O1B")
    o2 = OutletFactory(pk=OTHER, parent=b2, code="O2")
    users = {"anonymous": None}

    def staff_at(pk, outlet, staff_no, **kw):
        user = UserFactory(pk=pk, username=staff_no)
        return StaffFactory(pk=pk, outlet=outlet, staff_no=staff_no, user=user, **kw)

    own_staff = staff_at(OWN, o1, "S-OWN", kind="broker")
    other_staff = staff_at(OTHER, o2, "S-OTHER")
    users["staff"] = own_staff.user
    # R-ORG-3: a child broker sees his own customers, not his parent's.
    users["broker_child"] = StaffFactory(outlet=o1, kind="broker", parent=own_staff, staff_no="S-CHILD").user

    def role_user(name, kind, org):
        user = UserFactory(username=name)
        Role.objects.create(user=user, kind=kind, organisation=org)
        return user

    users["outlet_head"] = role_user("outlet_head", RoleKind.OUTLET_HEAD, o1b)
    users["branch_user"] = role_user("branch_user", RoleKind.BRANCH, b1)
    users["branch_head"] = role_user("branch_head", RoleKind.BRANCH_HEAD, b1)
    hq_user = role_user("hq", RoleKind.HQ, hq)
    hq_user.is_staff = True
    hq_user.save(update_fields=["is_staff"])
    users["hq"] = hq_user
    users["branch_admin"] = UserFactory(username="branch_admin")
    branch_admin_assign(actor=hq_user, user=users["branch_admin"], branch=b1, reason="walker")

    id_numbers, phones = [_id(1), _id(2)], ["13911112222", "13733334444"]
    _rows_for(OWN, branch=b1, outlet=o1, staff=own_staff, id_number=id_numbers[0], phone=phones[0], actor=hq_user)
    _rows_for(OTHER, branch=b2, outlet=o2, staff=other_staff, id_number=id_numbers[1], phone=phones[1],
              actor=hq_user)
    return World(users=users, id_numbers=id_numbers, phones=phones, own_branch=b1, other_branch=b2)


# --------------------------------------------------------------------------------------------------
# The URL conf, walked
# --------------------------------------------------------------------------------------------------

@dataclass
class Endpoint:
    parts: list
    name: str | None
    callback: object

    @property
    def params(self) -> list[tuple[str, str]]:
        """(name, kind) of every parameter; kind is the converter name, or 'regex'."""
        out = []
        for part in self.parts:
            if isinstance(part, RoutePattern):
                for m in re.finditer(r"<(?:(\w+):)?(\w+)>", str(part)):
                    out.append((m.group(2), m.group(1) or "str"))
            elif isinstance(part, RegexPattern):
                out.extend((g, "regex") for g in part.regex.groupindex)
        return out

    def __str__(self):
        return self.name or "".join(str(p) for p in self.parts)


def endpoints() -> list[Endpoint]:
    found = []

    def walk(patterns, parts, namespaces):
        for p in patterns:
            if isinstance(p, URLResolver):
                walk(p.url_patterns, parts + [p.pattern], namespaces + ([p.namespace] if p.namespace else []))
            elif isinstance(p, URLPattern):
                name = ":".join(namespaces + [p.name]) if p.name else None
                found.append(Endpoint(parts + [p.pattern], name, p.callback))

    walk(get_resolver().url_patterns, [], [])
    return found


def _route_value(kind: str, value):
    if kind == "int":
        return str(value) if isinstance(value, int) else None
    if kind == "uuid":
        return f"00000000-0000-0000-0000-{value if isinstance(value, int) else 0:012d}"
    return str(value)


def build_url(ep: Endpoint, value) -> str | None:
    """The endpoint's URL with every parameter set to `value` (an id, or a word), or None if it cannot take it."""
    if all(isinstance(p, RoutePattern) for p in ep.parts):
        url = "/"
        for part in ep.parts:
            route = str(part)
            for m in re.finditer(r"<(?:(\w+):)?(\w+)>", route):
                filled = _route_value(m.group(1) or "str", value)
                if filled is None:
                    return None
                route = route.replace(m.group(0), filled)
            url += route
        try:
            resolve(url)
        except Resolver404:
            return None
        return url
    if ep.name is None:
        return None  # an unnamed regular expression (the admin's catch-all): nothing to fill
    names = [n for n, _ in ep.params]
    pools = []
    for _n in names:
        pools.append([str(value)] + _regex_words())
    for combo in product(*pools):
        try:
            return reverse(ep.name, kwargs=dict(zip(names, combo, strict=False)))
        except NoReverseMatch:
            continue
    return None


def _regex_words() -> list[str]:
    from django.apps import apps

    return [c.label for c in apps.get_app_configs()]


def _body(response) -> str:
    if getattr(response, "streaming", False):
        raw = b"".join(response.streaming_content)
    else:
        raw = response.content
    return raw.decode("utf-8", "replace")


def _is_valid_id(candidate: str) -> bool:
    return id_check_digit(candidate[:17]) == candidate[17]


def _fingerprint(response) -> tuple:
    location = response.get("Location", "") if response.status_code in (301, 302, 303, 307, 308) else ""
    return response.status_code, location.replace(str(OTHER), "ID").replace(str(MISSING), "ID")


class Walker:
    def __init__(self, world: World, role: str):
        self.world, self.role = world, role
        self.user = world.users[role]
        self.client = Client(raise_request_exception=False)
        self.problems: list[str] = []
        self.requests = 0
        self.login()

    def login(self):
        if self.user is not None:
            self.client.force_login(self.user)

    def request(self, method: str, url: str):
        self.requests += 1
        response = self.client.get(url) if method == "GET" else self.client.post(url, {})
        if self.user is not None and SESSION_KEY not in self.client.session:
            self.login()  # a sign-out page signed us out: sign in again for the next request
        return response

    def check_response(self, ep: Endpoint, method: str, url: str, response) -> None:
        where = f"{self.role} {method} {url} ({ep})"
        if ep.name == "healthz" and response.status_code in (200, 405, 500):
            # /healthz/ answers 500 by design when a check fails (tests/integration/platform/test_health.py);
            # it shows no data
            return
        if response.status_code >= 500:
            self.problems.append(f"{where}: server error {response.status_code}")
            return
        reveals = getattr(ep.callback, "reveals_pii", False) and self.user is not None and needs_full_pii(self.user)
        if reveals:
            return
        body = _body(response)
        for secret in self.world.id_numbers + self.world.phones:
            if secret in body:
                self.problems.append(f"{where}: shows the full value {secret[:3]}…")
        if getattr(ep.callback, "synthetic_sample", False):
            return  # a sample file of made-up lines (the feed formats' help): no one's number; the world's are above
        for m in ID_RE.finditer(body):
            if _is_valid_id(m.group(1)):
                self.problems.append(f"{where}: shows an unmasked ID number {m.group(1)[:6]}…")

    def walk(self):
        for ep in endpoints():
            has_params = bool(ep.params)
            for method in ("GET", "POST"):
                if not has_params:
                    url = build_url(ep, 0)
                    if url is None:
                        continue
                    self.check_response(ep, method, url, self.request(method, url))
                    continue
                answers = {}
                for label, value in (("other", OTHER), ("missing", MISSING), ("own", OWN)):
                    url = build_url(ep, value)
                    if url is None:
                        continue
                    response = self.request(method, url)
                    self.check_response(ep, method, url, response)
                    answers[label] = (url, response)
                if any(kind in ("str", "slug", "path", "regex") for _, kind in ep.params):
                    for word in WORDS:
                        url = build_url(ep, word)
                        if url is not None:
                            self.check_response(ep, method, url, self.request(method, url))
                if ("other" in answers and "missing" in answers and self.role not in HQ_LIKE
                        and str(OTHER) in answers["other"][0]):
                    (url, other), (_, missing) = answers["other"], answers["missing"]
                    if other.status_code == 200:
                        self.problems.append(f"{self.role} {method} {url} ({ep}): another branch's row answered 200")
                    elif _fingerprint(other) != _fingerprint(missing):
                        self.problems.append(
                            f"{self.role} {method} {url} ({ep}): another branch's row answered "
                            f"{_fingerprint(other)}, a missing row {_fingerprint(missing)}")


@pytest.mark.parametrize("role", ROLES)
def test_every_url_as_every_role(role):
    world = build_world()
    walker = Walker(world, role)
    walker.walk()
    assert walker.requests > 100  # the walk really ran over the URL conf
    assert not walker.problems, "\n".join(walker.problems[:60])


def test_the_walker_sees_the_whole_url_conf():
    names = {ep.name for ep in endpoints()}
    for expected in ("reservations:detail", "relationships:detail", "permissions:application",
                     "permissions:unmask_reservation", "admin:relationships_staff_change", "admin:index"):
        assert expected in names
    # A parameterised page of every app is reachable with an id filled in.
    ep = next(e for e in endpoints() if e.name == "reservations:detail")
    assert build_url(ep, OTHER) == f"/reservations/{OTHER}/"
    ep = next(e for e in endpoints() if e.name == "admin:app_list")
    assert build_url(ep, OTHER).startswith("/admin/")


def test_every_post_without_csrf_token_is_refused():
    world = build_world()
    client = Client(enforce_csrf_checks=True, raise_request_exception=False)
    client.force_login(world.users["branch_head"])
    refused = checked = 0
    for ep in endpoints():
        url = build_url(ep, OWN) if ep.params else build_url(ep, 0)
        if url is None:
            continue
        checked += 1
        response = client.post(url, {})
        assert response.status_code in (403, 404), f"POST {url} without a CSRF token answered {response.status_code}"
        refused += response.status_code == 403
    assert checked > 50 and refused > 50


def test_actions_without_permission_are_refused():
    """Spot checks of the 403s the walker cannot know of by itself."""
    world = build_world()
    client = Client(raise_request_exception=False)
    client.force_login(world.users["staff"])
    assert client.post(reverse("permissions:unmask_reservation", args=[OWN])).status_code == 403
    assert client.post(reverse("permissions:application_apply", args=[OWN])).status_code == 403
    assert client.post(reverse("permissions:application_approve", args=[OWN])).status_code == 403
    assert client.get(reverse("admin:index")).status_code == 302  # not a member of the admin site
    client.force_login(world.users["branch_user"])
    assert client.get(reverse("permissions:unmask_reservation", args=[OWN])).status_code == 405  # POST only
    response = client.post(reverse("permissions:unmask_reservation", args=[OTHER]))
    assert response.status_code == 404
    client.force_login(world.users["branch_admin"])
    assert client.get(reverse("admin:relationships_staff_change", args=[OWN])).status_code == 200
    assert client.get(reverse("admin:relationships_staff_change", args=[OTHER])).status_code == 302
    assert client.get(reverse("admin:auth_user_password_change", args=[OWN])).status_code == 403


def test_show_full_id_is_logged_and_only_for_roles_that_need_it():
    from relationships.models import PiiAccess

    world = build_world()
    client = Client()
    client.force_login(world.users["branch_user"])
    page = client.get(reverse("reservations:detail", args=[OWN])).content.decode()
    assert reverse("permissions:unmask_reservation", args=[OWN]) in page
    assert world.id_numbers[0] not in page
    before = PiiAccess.objects.count()
    response = client.post(reverse("permissions:unmask_reservation", args=[OWN]))
    assert response.status_code == 200 and world.id_numbers[0] in response.content.decode()
    assert world.phones[0] in response.content.decode()
    assert response["Cache-Control"].startswith("max-age=0") or "no-store" in response["Cache-Control"]
    log = PiiAccess.objects.filter(actor=world.users["branch_user"]).get()
    assert PiiAccess.objects.count() == before + 1
    assert log.actor == world.users["branch_user"] and log.detail == f"reservation {OWN}"
    response = client.post(reverse("permissions:unmask_customer", args=[OWN]), {"back": "//evil.example"})
    assert world.id_numbers[0] in response.content.decode() and "//evil.example" not in response.content.decode()
    # The reserving staff himself and outlet roles see only the masked value, and get no button.
    client.force_login(world.users["staff"])
    page = client.get(reverse("reservations:detail", args=[OWN])).content.decode()
    assert reverse("permissions:unmask_reservation", args=[OWN]) not in page
    assert client.post(reverse("permissions:unmask_customer", args=[OWN])).status_code == 403
    assert PiiAccess.objects.count() == before + 2
