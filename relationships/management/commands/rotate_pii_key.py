"""R-PII-1: `manage.py rotate_pii_key` — re-encrypt and re-hash every ID number and phone with the current key.

Run it after adding a new, higher key version to `PII_KEYS` on every process (web, worker, beat) and keep
the old version configured until `rotate_pii_key --check` reports nothing left. It runs beside the site,
one transaction per chunk, prints a progress line per chunk, and continues where it stopped when re-run
(also after `kill -9`). Exit status: 0 when every row is on the current version, 1 when rows are left
(held by the site for the whole run, unreadable, or one ID number in two customers — listed).
"""
from __future__ import annotations

import time

from django.core.management.base import BaseCommand

from relationships.pii import keyring
from relationships.pii_rotation import RotationReport, behind_by_table, rotate_pii


class Command(BaseCommand):
    help = "Re-encrypt and re-hash ID numbers and phones with the current PII key version, in chunks (R-PII-1)."

    def add_arguments(self, parser):
        parser.add_argument("--chunk-size", type=int, default=2000, help="rows per transaction (default 2000)")
        parser.add_argument("--pause", type=float, default=0.0, help="seconds to sleep between chunks (throttle)")
        parser.add_argument("--writer-wait", default="2s",
                            help="how long a chunk waits for the site's writers of hashes before it retries")
        parser.add_argument("--check", action="store_true", help="only count the rows not on the current version")

    def handle(self, *args, chunk_size, pause, writer_wait, check, **options):
        ring = keyring()
        if check:
            left = behind_by_table()
            for label, n in left.items():
                self.stdout.write(f"{label}: {n} rows not on key version {ring.current}")
            if any(left.values()):
                raise SystemExit(1)
            self.stdout.write(f"every row is on key version {ring.current}; older versions may be removed")
            return
        self.stdout.write(f"rotating to key version {ring.current} (configured: "
                          f"{', '.join(map(str, ring.versions))}), {chunk_size} rows per chunk")
        last_line = [0.0]

        def progress(report: RotationReport, table: str) -> None:
            now = time.monotonic()
            if now - last_line[0] < 0.5 and report.done < report.total:
                return  # at most two lines a second
            last_line[0] = now
            pct = 100.0 * report.done / report.total if report.total else 100.0
            self.stdout.write(f"[{pct:5.1f}%] {report.done}/{report.total} rows on v{report.version} · "
                              f"{report.rate:,.0f} rows/s · chunk {report.chunks} ({table}) · "
                              f"{report.retries} retries for locks the site held")
            self.stdout.flush()

        report = rotate_pii(chunk_size=chunk_size, pause=pause, writer_wait=writer_wait, on_chunk=progress)
        elapsed = time.monotonic() - report.started
        self.stdout.write(f"moved {report.done} rows in {elapsed:.1f} s ({report.rate:,.0f} rows/s), "
                          f"{report.chunks} chunks, {report.passes} pass(es)")
        for label, pk in sorted(report.unreadable):
            self.stderr.write(f"{label} id {pk}: a ciphertext cannot be read with the configured keys")
        for label, ids in report.conflicts:
            self.stderr.write(f"{label} ids {', '.join(map(str, ids))}: one ID number in several rows; merge them")
        for label, n in report.left.items():
            if n:
                self.stderr.write(f"{label}: {n} rows still not on key version {report.version}; run again")
        if not report.complete:
            raise SystemExit(1)
        self.stdout.write(f"every row is on key version {report.version}")
