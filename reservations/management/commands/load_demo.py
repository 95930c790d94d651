"""`manage.py load_demo`: the demo data set (fixtures/demo/, written by fixtures/generate_demo.py).

Everything goes through the public paths: the §12 feeds (`load_feed`), the nightly pipeline
(`run_nightly`), the withdrawal, callback and branch-admin services, so the demo shows exactly what
production would do. Its dates are those of the day it is loaded (`reservations.management.demo_data`):
the fixtures move by whole weeks so that their last night falls in the past week, the nights since are run
up to yesterday, a month of metrics up to yesterday fills the performance pages, and the callbacks of
earlier weeks have their results (a few are left overdue), so what is due is due now.
Idempotent: feeds are deduplicated by content hash, the nightly stages by their ledger rows, users
and roles by get-or-create / ignore_conflicts; a second run changes nothing and takes seconds.
Running `migrate` first is the caller's job. Its passwords are in the repository: it refuses to run with
debug off unless told it is loading a demo site (`--demo-site`, as the compose demo profile does).
"""
from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone

from approvals.models import ApprovalCase, Post, PostAssignment
from approvals.services import post_assign
from common.actors import SystemActor
from permissions.models import Role, RoleKind
from permissions.services import branch_admin_assign
from relationships.callbacks import callback_record
from relationships.models import Callback, CallbackStatus, Organisation, OrgKind, Relationship, Staff
from relationships.workdays import is_workday
from reservations.exchange.registry import load_feed
from reservations.management import demo_data
from reservations.models import FeedFile, Reservation, ReservationStatus
from reservations.pipeline import run_nightly
from reservations.services import reservation_withdraw

DEMO_DIR = Path(settings.BASE_DIR) / "fixtures" / "demo"
ACTOR = SystemActor("load_demo")
ADMIN = ("admin", "admin12345")
DEMO_PASSWORD = "demo12345"
WITHDRAWALS = 6
OVERDUE_EVERY = 8  # of the callbacks due before today, one in eight is left without its result


class Command(BaseCommand):
    help = "Load the demo data set (fixtures/demo/) through the feeds and the nightly runs, and create demo users."

    def add_arguments(self, parser):
        parser.add_argument("--dir", default=str(DEMO_DIR), help="folder with the demo CSV files")
        parser.add_argument("--if-empty", action="store_true",
                            help="do nothing when any feed file has been loaded already (a container's later starts)")
        parser.add_argument("--demo-site", action="store_true",
                            help="load even with debug off: this installation is a demo (its passwords are public)")

    def handle(self, *args, dir, if_empty=False, demo_site=False, **options):
        if if_empty and FeedFile.objects.exists():
            self.stdout.write("Data already loaded; the demo data set is not loaded again.")
            return
        if not settings.DEBUG and not demo_site:
            raise CommandError("The demo logins have public passwords: load_demo runs only with DJANGO_DEBUG=1, "
                               "or with --demo-site on an installation that is a demo.")
        started = time.monotonic()
        folder = Path(dir)
        if not (folder / "org.csv").exists():
            raise CommandError(f"{folder}/org.csv not found; run fixtures/generate_demo.py first.")
        event_files = demo_data.event_files(folder)
        today = timezone.localdate()
        yesterday = today - dt.timedelta(days=1)
        earlier = demo_data.shift_from_loaded(event_files[0][0], FeedFile.objects.filter(
            kind="account_events").values_list("filename", flat=True))
        self.shift = demo_data.shift_for(today) if earlier is None else earlier
        self._load(folder / "org.csv", "org")
        self._load(folder / "staff.csv", "staff")
        self._users()
        self._posts()
        reservations = self._load(folder / "reservations.csv", "reservations")
        events = []
        for day, path in event_files:
            events.append(self._load(path, "account_events"))
            self._nightly(day + self.shift)
        # R-PERF-1: a month of metrics up to yesterday, before the nights that compute it.
        metrics = demo_data.metrics_csv(reservations=reservations, events=events, last_day=yesterday,
                                        is_workday=is_workday)
        self._load_content(metrics, f"metrics_{yesterday:%Y-%m-%d}.csv", "metrics")
        night = demo_data.ORIGINAL_FINAL_NIGHTLY + self.shift
        while night <= yesterday:
            self._nightly(night)
            night += dt.timedelta(days=1)
        self._withdraw()
        self._callbacks(today)
        self._summary(time.monotonic() - started)

    # --- steps -----------------------------------------------------------------------------------------

    def _load(self, path: Path, kind: str) -> bytes:
        """A fixture file with its dates moved to the demo's weeks; returns what was loaded."""
        content, name = demo_data.shifted_file(path, self.shift)
        self._load_content(content, name, kind)
        return content

    def _load_content(self, content: bytes, name: str, kind: str) -> None:
        result = load_feed(actor=ACTOR, kind=kind, content=content, filename=name)
        for line, reason in result.errors[:20]:
            self.stderr.write(f"{name}:{line}: {reason}")
        if len(result.errors) > 20:
            self.stderr.write(f"{name}: … {len(result.errors) - 20} more refused lines")
        self.stdout.write(result.summary())

    def _nightly(self, day: dt.date) -> None:
        for run in run_nightly(business_date=day):
            if run.status != "succeeded":
                raise CommandError(f"nightly {day} {run.stage}: {run.status} {run.error}")
        self.stdout.write(f"nightly {day}: done")

    @transaction.atomic
    def _users(self) -> None:
        """Demo logins: admin, one user per staff member, branch/head/outlet users and hq (one hash, reused)."""
        User = get_user_model()
        password = make_password(DEMO_PASSWORD)
        if not User.objects.filter(username=ADMIN[0]).exists():
            User.objects.create_superuser(username=ADMIN[0], password=ADMIN[1], email="")
        staff = list(Staff.objects.filter(user__isnull=True))
        orgs = list(Organisation.objects.filter(kind__in=[OrgKind.HQ, OrgKind.BRANCH, OrgKind.OUTLET]))
        wanted: dict[str, tuple] = {s.staff_no: ("staff", s) for s in staff}
        for org in orgs:
            if org.kind == OrgKind.HQ:
                wanted["hq"] = (RoleKind.HQ, org)
            elif org.kind == OrgKind.BRANCH:
                wanted[f"branch_{org.code}"] = (RoleKind.BRANCH, org)
                wanted[f"head_{org.code}"] = (RoleKind.BRANCH_HEAD, org)
            else:
                wanted[f"outlet_{org.code}"] = (RoleKind.OUTLET_HEAD, org)
        User.objects.bulk_create(
            [User(username=name, password=password, is_active=True,
                  first_name=(target[1].name if target[0] == "staff" else ""))
             for name, target in wanted.items()], ignore_conflicts=True, batch_size=1000)
        users = dict(User.objects.filter(username__in=list(wanted)).values_list("username", "id"))
        taken = set(Staff.objects.filter(user__isnull=False).values_list("user_id", flat=True))
        linked = []
        for s in staff:
            if s.staff_no in users and users[s.staff_no] not in taken:
                s.user_id = users[s.staff_no]
                linked.append(s)
        Staff.objects.bulk_update(linked, ["user"], batch_size=1000)
        Role.objects.bulk_create(
            [Role(user_id=users[name], kind=kind, organisation=org)
             for name, (kind, org) in wanted.items() if kind != "staff" and name in users],
            ignore_conflicts=True)
        # HQ works on the site and in the admin (README, "Who does what").
        User.objects.filter(username="hq", is_staff=False).update(is_staff=True)
        self._branch_admins(password)

    def _branch_admins(self, password: str) -> None:
        """R-PERM-1: a branch permission admin per branch (`padmin_<code>`), assigned by HQ's office."""
        User = get_user_model()
        admin = User.objects.get(username=ADMIN[0])
        have = set(Role.objects.filter(kind=RoleKind.BRANCH_PERMISSION_ADMIN).values_list("user__username", flat=True))
        for branch in Organisation.objects.filter(kind=OrgKind.BRANCH).order_by("code"):
            name = f"padmin_{branch.code}"
            if name in have:
                continue
            user, _created = User.objects.get_or_create(username=name, defaults={"password": password})
            branch_admin_assign(actor=admin, user=user, branch=branch, reason="演示数据 / demo data")

    def _posts(self) -> None:
        """R-APR-1: post holders for every branch, outlet and HQ, designated through the approval service.

        Three different people hold the three levels of a branch, because nobody approves two steps of one case.
        """

        if PostAssignment.objects.exists():
            return
        User = get_user_model()
        users = {u.username: u for u in User.objects.filter(
            Q(username__startswith="branch_") | Q(username__startswith="head_")
            | Q(username__startswith="outlet_") | Q(username__in=["hq", ADMIN[0]]))}
        admin, start = users[ADMIN[0]], demo_data.ORIGINAL_START + self.shift
        for org in Organisation.objects.exclude(kind=OrgKind.OUTLET).order_by("code"):
            if org.kind == OrgKind.HQ:
                post_assign(actor=admin, post=Post.HQ, organisation=org, user=users["hq"], valid_from=start)
                continue
            first_outlet = Organisation.objects.filter(parent=org).order_by("code").first()
            for post, username in [(Post.ACCOUNT_OPENING_REVIEW, f"branch_{org.code}"),
                                   (Post.OUTLET_REVIEW, f"outlet_{first_outlet.code}"),
                                   (Post.FINAL_APPROVAL, f"head_{org.code}"),
                                   (Post.DESIGNATED_PERSON, f"branch_{org.code}")]:
                post_assign(actor=admin, post=post, organisation=org, user=users[username], valid_from=start)
        for outlet in Organisation.objects.filter(kind=OrgKind.OUTLET).order_by("code"):
            post_assign(actor=admin, post=Post.OUTLET_HEAD, organisation=outlet, user=users[f"outlet_{outlet.code}"],
                        valid_from=start)

    def _withdraw(self) -> None:
        """R-RES-6: a handful of still-active reservations withdrawn by their own staff (once)."""
        missing = WITHDRAWALS - Reservation.objects.filter(status=ReservationStatus.WITHDRAWN).count()
        if missing <= 0:
            return
        candidates = (Reservation.objects.filter(status=ReservationStatus.ACTIVE, staff__user__isnull=False)
                      .select_related("staff__user").order_by("registered_at", "id")[:missing])
        for reservation in candidates:
            try:
                reservation_withdraw(actor=reservation.staff.user, reservation_id=reservation.pk,
                                     staff=reservation.staff, reason="客户决定暂不开户")
            except ValidationError as exc:  # pragma: no cover - only if the data changed underneath
                self.stderr.write(f"withdraw {reservation.pk}: {' '.join(exc.messages)}")

    def _callbacks(self, today: dt.date) -> None:
        """R-CB-1: the outlets called the customers of earlier weeks; one callback in eight stays overdue.

        Recorded by the outlet's head (never a holder of the relationship), through the callback service.
        """
        heads = {u.username: u for u in get_user_model().objects.filter(username__startswith="outlet_")}
        late = (Callback.objects.filter(status=CallbackStatus.PENDING, due_on__lt=today, outlet__isnull=False)
                .select_related("outlet").order_by("id"))
        for cb in late:
            head = heads.get(f"outlet_{cb.outlet.code}")
            if cb.pk % OVERDUE_EVERY == 0 or head is None:  # by its id, so a re-run leaves the same ones
                continue
            try:
                callback_record(actor=head, callback_id=cb.pk, confirmed=True)
            except (ValidationError, PermissionDenied):  # a head who holds the relationship himself
                continue

    def _summary(self, seconds: float) -> None:
        by_status = dict(Reservation.objects.values_list("status").annotate(n=Count("id")).order_by())
        cases = dict(ApprovalCase.objects.values_list("reason").annotate(n=Count("id")).order_by())
        self.stdout.write("")
        self.stdout.write("Reservations: " + ", ".join(
            f"{s} {by_status.get(s, 0)}" for s in ReservationStatus.values if by_status.get(s, 0) or s != "refused"))
        self.stdout.write(f"Relationships: {Relationship.objects.count()}")
        self.stdout.write(f"Approval cases: {sum(cases.values())} ("
                          + ", ".join(f"{k} {v}" for k, v in sorted(cases.items())) + ")")
        self.stdout.write(f"Done in {seconds:.1f} s.")
        some_staff = Staff.objects.filter(user__isnull=False).order_by("staff_no").values_list("staff_no", flat=True)
        first_branch = Organisation.objects.filter(kind=OrgKind.BRANCH).order_by("code").first()
        first_outlet = Organisation.objects.filter(kind=OrgKind.OUTLET).order_by("code").first()
        self.stdout.write("")
        self.stdout.write("Demo logins:")
        self.stdout.write(f"  {ADMIN[0]} / {ADMIN[1]}  (superuser)")
        self.stdout.write(f"  hq / {DEMO_PASSWORD}  (head office: the site and the admin)")
        if first_branch:
            self.stdout.write(f"  branch_{first_branch.code}, head_{first_branch.code} / {DEMO_PASSWORD}  "
                              f"(branch user, branch head; branch_<code>, head_<code> for every branch)")
            self.stdout.write(f"  padmin_{first_branch.code} / {DEMO_PASSWORD}  (branch permission admin, in "
                              "the admin site /admin/; padmin_<code> for every branch)")
        if first_outlet:
            self.stdout.write(f"  outlet_{first_outlet.code} / {DEMO_PASSWORD}  "
                              "(outlet head; outlet_<code> for every outlet)")
        if some_staff:
            self.stdout.write(f"  {some_staff[0]} / {DEMO_PASSWORD}  (staff: username = staff number, "
                              f"{some_staff.count()} staff)")
        broker = some_staff.filter(kind="broker").first()
        if broker:
            self.stdout.write(f"  {broker} / {DEMO_PASSWORD}  (broker: staff numbers J…)")
        if getattr(settings, "OTP_REQUIRED", True):
            # R-SEC-AUTH-2: the demo asks for the second factor as production does.
            self.stdout.write(f"  {ADMIN[0]}, hq, padmin_*, branch_*, head_* also need a second factor: an "
                              "authenticator app, set up at the first sign-in (QR code or key on the page). "
                              "Without a phone, `.venv/bin/python manage.py totp_code USER` prints the current code "
                              "(debug only), or "
                              "start the demo with OTP_REQUIRED=0 (debug only).")
