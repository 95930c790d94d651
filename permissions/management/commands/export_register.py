"""R-PERM-3: the permission register in the machine format, for other systems: event and branch codes, ids,
ISO times and the detail as JSON (`permissions.exports.MACHINE_COLUMNS`). A command sees the whole register,
as HQ does; `--branch CODE` narrows it to one branch company's entries. The site's exports are for people
(`permissions.exports.rows`)."""
import sys

from django.core.management.base import BaseCommand, CommandError

from permissions.exports import machine_csv
from permissions.models import PermissionRegisterEntry
from relationships.models import Organisation, OrgKind


class Command(BaseCommand):
    help = "Export the permission register as CSV in the machine format (codes and JSON)."

    def add_arguments(self, parser):
        parser.add_argument("file", help="output path, or - for standard output")
        parser.add_argument("--branch", help="a branch company's code: only its entries")

    def handle(self, *args, file, branch=None, **options):
        qs = PermissionRegisterEntry.objects.all()
        if branch:
            org = Organisation.objects.filter(code=branch, kind=OrgKind.BRANCH).first()
            if org is None:
                raise CommandError(f"No branch company has the code {branch!r}.")
            qs = qs.filter(branch=org)
        if file == "-":
            machine_csv(qs, sys.stdout)
            return
        with open(file, "w", encoding="utf-8", newline="") as out:
            n = machine_csv(qs, out)
        self.stdout.write(f"permission register: {n} entries → {file}")
