import datetime as dt

from django.core.management.base import BaseCommand, CommandError

from reservations.pipeline import PipelineBusy, run_nightly


class Command(BaseCommand):
    help = "Run the nightly pipeline (match, expire) for a business date; safe to re-run."

    def add_arguments(self, parser):
        parser.add_argument("--date", required=True, help="business date YYYY-MM-DD")

    def handle(self, *args, date, **options):
        try:
            day = dt.date.fromisoformat(date)
        except ValueError:
            raise CommandError(f"--date {date!r} is not YYYY-MM-DD") from None
        try:
            runs = run_nightly(business_date=day)
        except PipelineBusy as exc:
            raise CommandError(str(exc)) from exc
        for run in runs:
            counts = " ".join(f"{k}={v}" for k, v in sorted(run.counts.items()))
            self.stdout.write(f"{run.business_date} {run.stage} {run.status} {counts}")
