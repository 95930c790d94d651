from django.core.management.base import BaseCommand, CommandError

from reservations.feeds import FEED_KINDS, load_feed

# §12's exit statuses (0 loaded or skipped, 1 a line refused, 2 the file unreadable), for the kinds that follow them.
SECTION_12_EXIT_KINDS = {"calendar"}


class Command(BaseCommand):
    help = "Load one of the core system's CSV files (§12): org, staff, reservations, account_events, …"

    def add_arguments(self, parser):
        parser.add_argument("kind", choices=FEED_KINDS)
        parser.add_argument("file")

    def handle(self, *args, kind, file, **options):
        try:
            result = load_feed(actor="load_feed", kind=kind, path=file)
        except (ValueError, OSError) as exc:
            if kind in SECTION_12_EXIT_KINDS:
                raise CommandError(str(exc), returncode=2)
            if isinstance(exc, OSError) and not isinstance(exc, FileNotFoundError):
                raise
            raise CommandError(str(exc))
        for line, reason in result.errors:
            self.stderr.write(f"{file}:{line}: {reason}")
        self.stdout.write(result.summary())
        if kind in SECTION_12_EXIT_KINDS and result.errors:
            raise SystemExit(1)
