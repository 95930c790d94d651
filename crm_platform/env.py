"""Reading settings from the environment, failing closed.

Plain Python (no Django import): `settings.py` calls these while it is being imported, and a refusal must
name the variable to set, so that a production start with a missing or weak secret stops with a sentence
saying which one rather than running on a development key.
"""
from __future__ import annotations

import os

# The keys a development machine runs with. They are in the repository, so they protect nothing: accepted
# only while DJANGO_DEBUG is on.
DEV_SECRET_KEY = "dev-only-insecure-key-change-me"
DEV_PII_KEY = "dev-only-pii-key-0123456789abcdef"

# Text that marks a value copied from an example instead of generated (compared case-insensitively).
PLACEHOLDER_MARKS = ("change-me", "changeme", "change_me", "replace-me", "replaceme", "placeholder",
                     "dev-only", "insecure", "example", "your-", "<", ">", "…", "...")


class ConfigurationRefused(RuntimeError):
    """A setting that production must not start with; the message names the variable."""


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or not value.strip():
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, "").split(",") if item.strip()]


def weakness(value: str, *, min_length: int, min_distinct: int) -> str | None:
    """Why `value` is not fit to be a production secret, or None."""
    if len(value) < min_length:
        return f"it is {len(value)} characters long, at least {min_length} are needed"
    if len(set(value)) < min_distinct:
        return f"it has only {len(set(value))} different characters, at least {min_distinct} are needed"
    lowered = value.lower()
    for mark in PLACEHOLDER_MARKS:
        if mark in lowered:
            return f"it looks like a placeholder (contains {mark!r})"
    return None


def secret(name: str, *, debug: bool, dev_default: str, min_length: int, min_distinct: int) -> str:
    """The secret in environment variable `name`.

    With debug on, unset falls back to the development key. With debug off it must be set, long, varied and
    not a placeholder or the development key; otherwise `ConfigurationRefused` names `name` and the reason.
    """
    value = os.environ.get(name, "")
    if debug:
        return value or dev_default
    how = "generate one with: python3 -c 'import secrets; print(secrets.token_urlsafe(64))'"
    if not value:
        raise ConfigurationRefused(f"{name} must be set when DJANGO_DEBUG is off ({how})")
    if value == dev_default:
        raise ConfigurationRefused(f"{name} is the development key from the repository; it is refused when "
                                   f"DJANGO_DEBUG is off ({how})")
    reason = weakness(value, min_length=min_length, min_distinct=min_distinct)
    if reason:
        raise ConfigurationRefused(f"{name} is refused when DJANGO_DEBUG is off: {reason} ({how})")
    return value


def pii_keys(name: str, *, debug: bool, min_length: int, min_distinct: int) -> str:
    """`PII_KEYS` ("2:<secret>,1:<secret>"): with debug off each version's secret must be fit for production.
    The format itself is checked where the keys are read (relationships.pii.parse_keys, a system check)."""
    value = os.environ.get(name, "")
    if debug or not value:
        return value
    for part in (p.strip() for p in value.split(",")):
        version, _sep, key = part.partition(":")
        if key == DEV_PII_KEY:
            raise ConfigurationRefused(f"{name}: version {version.strip()} is the development key from the "
                                       "repository; it is refused when DJANGO_DEBUG is off")
        reason = weakness(key.strip(), min_length=min_length, min_distinct=min_distinct)
        if reason:
            raise ConfigurationRefused(f"{name}: the secret of version {version.strip()} is refused when "
                                       f"DJANGO_DEBUG is off: {reason}")
    return value
