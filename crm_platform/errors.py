"""A form refused by the CSRF check gets the site's 403 page in the page's language, not Django's English one."""
from __future__ import annotations

from django.shortcuts import render
from django.utils.translation import gettext as _


def csrf_failure(request, reason=""):
    # `reason` is Django's English diagnosis for developers: logged by django.security.csrf, never shown.
    message = _("The form was refused because it had expired or did not come from this site. "
                "Go back, reload the page and try again.")
    return render(request, "403.html", {"exception": message}, status=403)
