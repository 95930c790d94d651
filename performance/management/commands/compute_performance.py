from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from performance.services import PeriodLocked, compute_period, parse_period


class Command(BaseCommand):
    help = "Recompute the split-ratio performance of one open month (R-PERF-1/2); a locked month is refused."

    def add_arguments(self, parser):
        parser.add_argument("--period", required=True, help="YYYY-MM")

    def handle(self, *args, period, **options):
        try:
            result = compute_period(period=parse_period(period))
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from exc
        except PeriodLocked as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"performance {period}: {result['rows']} rows over {result['days']} reported days")
