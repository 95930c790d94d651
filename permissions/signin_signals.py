"""Sign-in events reach the audit trail through Django's auth signals; the receivers only hand them to
`permissions.signin` (no rules here). Connected after django-axes' own receivers (INSTALLED_APPS order), so a
failure already knows whether it locked the account."""
from __future__ import annotations

from django.contrib.auth.signals import user_logged_in, user_login_failed

from permissions.signin import signin_record_failure, signin_record_success


def _logged_in(sender, request, user, **kwargs):
    signin_record_success(user=user, request=request)


def _login_failed(sender, credentials, request=None, **kwargs):
    signin_record_failure(username=(credentials or {}).get("username"), request=request)


def connect() -> None:
    user_logged_in.connect(_logged_in, dispatch_uid="permissions.signin.success")
    user_login_failed.connect(_login_failed, dispatch_uid="permissions.signin.failure")
