"""The containers' health probe: `python -m crm_platform.probe` asks the site's /healthz/ on this machine.

Plain standard library (no Django start-up every 15 s). It sends the first allowed host as Host, since the
site answers no other, and exits 0 only on 200.
"""
from __future__ import annotations

import os
import sys
import urllib.error
import urllib.request


def main() -> int:
    host = (os.environ.get("DJANGO_ALLOWED_HOSTS", "").split(",")[0].strip().lstrip(".")) or "localhost"
    if host == "*":
        host = "localhost"
    url = os.environ.get("CRM_PROBE_URL", "http://127.0.0.1:8000/healthz/")
    request = urllib.request.Request(url, headers={"Host": host, "Accept": "text/plain",
                                                   "X-Forwarded-Proto": "https"})
    try:
        with urllib.request.urlopen(request, timeout=8) as response:
            sys.stdout.write(response.read().decode())
            return 0
    except urllib.error.HTTPError as error:
        sys.stdout.write(error.read().decode(errors="replace"))
        return 1
    except OSError as error:
        sys.stdout.write(f"{url}: {error}\n")
        return 1


if __name__ == "__main__":
    sys.exit(main())
