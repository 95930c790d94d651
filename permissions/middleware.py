"""R-SEC-AUTH-1: idle and absolute session timeouts, and the content security policy of every response."""
from __future__ import annotations

import secrets
import time

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.views import redirect_to_login
from django.utils.translation import gettext as _

AUTH_AT = "_crm_auth_at"
LAST_SEEN = "_crm_last_seen"
# The last-seen stamp is rewritten at most this often, so a busy page does not write its session every time.
LAST_SEEN_RESOLUTION = 30


def idle_timeout() -> int:
    return int(getattr(settings, "SESSION_IDLE_TIMEOUT", 30 * 60))


def absolute_timeout() -> int:
    return int(getattr(settings, "SESSION_ABSOLUTE_TIMEOUT", settings.SESSION_COOKIE_AGE))


def stamp_login(sender, request, user, **kwargs) -> None:
    """`user_logged_in` receiver: the absolute limit counts from the sign-in."""
    if request is not None and hasattr(request, "session"):
        now = int(time.time())
        request.session[AUTH_AT] = now
        request.session[LAST_SEEN] = now


class SessionTimeoutMiddleware:
    """Signs the user out after `SESSION_IDLE_TIMEOUT` seconds without a request, and after
    `SESSION_ABSOLUTE_TIMEOUT` seconds since sign-in whatever the activity. Place after AuthenticationMiddleware."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            session = request.session
            now = int(time.time())
            auth_at = session.get(AUTH_AT)
            last_seen = session.get(LAST_SEEN)
            if auth_at is None:
                session[AUTH_AT] = auth_at = now
            expired = now - auth_at > absolute_timeout() or (
                last_seen is not None and now - last_seen > idle_timeout())
            if expired:
                path = request.get_full_path()
                logout(request)
                messages.info(request, _("Your session has ended. Please sign in again."))
                return redirect_to_login(path if request.method == "GET" else "/")
            if last_seen is None or now - last_seen >= LAST_SEEN_RESOLUTION:
                session[LAST_SEEN] = now
        return self.get_response(request)


class ContentSecurityPolicyMiddleware:
    """Sets `Content-Security-Policy`. Scripts must come from this site or carry the request's nonce
    (`{{ request.csp_nonce }}`); styles may be inline (the templates use a `<style>` block)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        nonce = secrets.token_urlsafe(16)
        request.csp_nonce = nonce
        response = self.get_response(request)
        if "Content-Security-Policy" not in response:
            response["Content-Security-Policy"] = "; ".join([
                "default-src 'self'",
                f"script-src 'self' 'nonce-{nonce}'",
                "style-src 'self' 'unsafe-inline'",
                "img-src 'self' data:",
                "font-src 'self'",
                "connect-src 'self'",
                "object-src 'none'",
                "base-uri 'self'",
                "form-action 'self'",
                "frame-ancestors 'none'",
            ])
        return response
