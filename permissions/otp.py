"""R-SEC-AUTH-2: the gate that keeps a user who needs a second factor on its pages until he passes it (who needs
one is `permissions.second_factor`)."""
from __future__ import annotations

from urllib.parse import urlencode

from django.conf import settings
from django.shortcuts import redirect
from django.urls import reverse

from permissions.second_factor import has_second_factor, second_factor_pending


def second_factor_context(request) -> dict:
    """Templates hide the navigation while the second factor is pending (its links would only lead back)."""
    user = getattr(request, "user", None)
    return {"second_factor_pending": bool(user is not None and user.is_authenticated
                                          and second_factor_pending(user))}


class SecondFactorMiddleware:
    """Until he has passed his second factor in this session, such a user reaches only the second-factor pages
    (verification, or enrolment while he has no device), sign-out, the language switch and static files.
    Place after django_otp's OTPMiddleware."""

    def __init__(self, get_response):
        self.get_response = get_response

    def _exempt(self, path: str) -> bool:
        if path.startswith(("/" + settings.STATIC_URL.lstrip("/"), "/i18n/")) or path == "/favicon.ico":
            return True
        return path in (reverse("signin:verify"), reverse("signin:enrol"), reverse("logout"))

    def __call__(self, request):
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and not self._exempt(request.path) \
                and second_factor_pending(user):
            target = reverse("signin:verify" if has_second_factor(user) else "signin:enrol")
            next_url = request.get_full_path() if request.method == "GET" else "/"
            return redirect(f"{target}?{urlencode({'next': next_url})}")
        return self.get_response(request)
