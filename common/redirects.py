"""Where a page may send the browser back to: one check for every `next=` / `back=` the site follows.

Django's `url_has_allowed_host_and_scheme` is the check (the one its own sign-in view uses): it refuses another
host, a scheme-relative `//host`, `/\\host` (browsers read the backslash as a slash), `///host`, control
characters and any scheme other than http(s). A hand-written `startswith("/")` test let `/\\evil.example/` through.
"""
from __future__ import annotations

from django.utils.http import url_has_allowed_host_and_scheme


def local_url(request, target: str | None, fallback: str) -> str:
    """`target` if it stays on this site (same host; https only when the request is https), else `fallback`."""
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()},
                                                  require_https=request.is_secure()):
        return target
    return fallback
