from django.core.management.base import BaseCommand, CommandError

from common.actors import SystemActor
from reservations.exchange.registry import FEED_KINDS, load_feed


class Command(BaseCommand):
    help = "Load one of the core system's CSV files (§12): org, staff, reservations, account_events, …"

    def add_arguments(self, parser):
        parser.add_argument("kind", choices=FEED_KINDS)
        parser.add_argument("file")

    def handle(self, *args, kind, file, **options):
        try:
            result = load_feed(actor=SystemActor("load_feed"), kind=kind, path=file)
        except (ValueError, FileNotFoundError) as exc:
            raise CommandError(str(exc)) from exc
        for line, reason in result.errors:
            self.stderr.write(f"{file}:{line}: {reason}")
        self.stdout.write(result.summary())
