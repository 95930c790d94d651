"""Development only: print the current second-factor code of a user (his device, or the one he is enrolling).

For the demo without a phone at hand. Refused unless DJANGO_DEBUG is on: in production the code belongs on the
user's phone only.
"""
from __future__ import annotations

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice


class Command(BaseCommand):
    help = "Print a user's current TOTP code (only with DJANGO_DEBUG on)."

    def add_arguments(self, parser):
        parser.add_argument("username")

    def handle(self, *args, username, **options):
        if not settings.DEBUG:
            raise CommandError("totp_code works only with DJANGO_DEBUG on")
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"no user {username!r}")
        device = TOTPDevice.objects.filter(user=user).order_by("-confirmed", "-pk").first()
        if device is None:
            raise CommandError(f"{username} has no authenticator yet: open the sign-in page as {username} first")
        totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
        self.stdout.write(f"{totp.token():0{device.digits}d}")
