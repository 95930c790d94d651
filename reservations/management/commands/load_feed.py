"""`manage.py load_feed KIND FILE [--encoding utf-8|gb18030]` (§12): exit status 0 when every line loaded or was
skipped as already loaded, 1 when any line was refused (the good lines are kept either way), 2 when the file as a
whole could not be read. FILE is a CSV (UTF-8, or GB18030/GBK: guessed as `common.feedtext` says unless
`--encoding` tells) or an .xlsx workbook (its first sheet)."""
from django.core.management.base import BaseCommand, CommandError

from common.actors import SystemActor
from reservations.exchange.registry import FEED_KINDS, load_feed


class Command(BaseCommand):
    help = "Load one of the core system's CSV files (§12): org, staff, reservations, account_events, …"

    def add_arguments(self, parser):
        parser.add_argument("kind", choices=FEED_KINDS)
        parser.add_argument("file")
        parser.add_argument("--encoding", choices=["utf-8", "gb18030"], default=None,
                            help="the CSV's encoding when it has no byte-order mark (default: decided from the bytes)")

    def handle(self, *args, kind, file, encoding=None, **options):
        try:
            result = load_feed(actor=SystemActor("load_feed"), kind=kind, path=file, encoding=encoding)
        except (ValueError, OSError) as exc:
            raise CommandError(str(exc), returncode=2) from exc
        for line, reason in result.errors:
            self.stderr.write(f"{file}:{line}: {reason}")
        self.stdout.write(result.summary())
        if result.errors:
            raise SystemExit(1)
