import sys

from django.core.management.base import BaseCommand, CommandError

from common.actors import SystemActor
from reservations.exchange.exports import EXPORT_KINDS, export_csv


class Command(BaseCommand):
    help = "Export relationships, reservations, approval cases or performance as §12 CSV."

    def add_arguments(self, parser):
        parser.add_argument("kind", choices=EXPORT_KINDS)
        parser.add_argument("file", help="output path, or - for standard output")
        parser.add_argument("--period", help="YYYY-MM (performance)")

    def handle(self, *args, kind, file, period=None, **options):
        try:
            if file == "-":
                n = export_csv(actor=SystemActor("export"), kind=kind, out=sys.stdout, period=period)
            else:
                with open(file, "w", encoding="utf-8", newline="") as out:
                    n = export_csv(actor=SystemActor("export"), kind=kind, out=out, period=period)
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        if file != "-":
            self.stdout.write(f"{kind}: {n} rows → {file}")
