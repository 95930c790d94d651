"""System checks: a malformed PII key configuration stops `migrate`, `check` and `runserver` (R-PII-1)."""
from __future__ import annotations

from django.core import checks
from django.core.exceptions import ImproperlyConfigured

from relationships.pii import keyring


@checks.register(checks.Tags.security)
def pii_keys_parse(app_configs=None, **kwargs):
    try:
        keyring()
    except ImproperlyConfigured as exc:
        return [checks.Error(str(exc), hint="See README, Operations: rotating the PII key.", id="relationships.E001")]
    return []
