"""R-SEC-AUTH-2: sign-in with the brokerage's directory (django-auth-ldap), configured by `permissions.ldap_config`.

- The directory's uid is the staff number; the Django user is created or updated at each sign-in and linked to
  his `Staff` row, and his directory groups grant roles (`permissions.signin.directory_user_sync`).
- An entry the directory marks disabled (LDAP_DISABLED_FILTER) is not found by the user search, so it cannot bind.
- An account the directory knows never falls back to a local password (a stale local password would outlive
  the directory's decisions); neither does anyone while the directory does not answer. Only accounts the
  directory does not know (a break-glass superuser) sign in with local passwords.
"""
from __future__ import annotations

import logging

import ldap
from django.conf import settings
from django.core.exceptions import PermissionDenied
from django_auth_ldap.backend import LDAPBackend

from permissions.signin import directory_user_sync

logger = logging.getLogger(__name__)


class DirectoryBackend(LDAPBackend):
    def authenticate(self, request, username=None, password=None, **kwargs):
        user = super().authenticate(request, username=username, password=password, **kwargs)
        if user is not None or not username:
            return user
        if self._directory_knows(username.strip()):
            # PermissionDenied stops django.contrib.auth.authenticate: the local backend is not asked.
            raise PermissionDenied("directory account: no local password")
        return None

    def authenticate_ldap_user(self, ldap_user, password):
        user = super().authenticate_ldap_user(ldap_user, password)
        if user is not None:
            id_attr = settings.DIRECTORY_ID_ATTR
            staff_no = (ldap_user.attrs.get(id_attr) or [user.get_username()])[0]
            groups = set(ldap_user.group_dns) if getattr(settings, "AUTH_LDAP_GROUP_SEARCH", None) else set()
            directory_user_sync(user=user, staff_no=staff_no, group_dns=groups)
        return user

    def _directory_knows(self, username: str) -> bool:
        """Whether any entry (disabled ones included) has this uid; a directory that does not answer counts as
        knowing everyone (fail closed)."""
        try:
            conn = self.ldap.initialize(self.settings.SERVER_URI, bytes_mode=False)
            for option, value in self.settings.CONNECTION_OPTIONS.items():
                conn.set_option(option, value)
            if self.settings.START_TLS:
                conn.start_tls_s()
            conn.simple_bind_s(self.settings.BIND_DN, self.settings.BIND_PASSWORD)
            try:
                return bool(settings.DIRECTORY_ANY_USER_SEARCH.execute(conn, {"user": username}))
            finally:
                conn.unbind_s()
        except ldap.LDAPError as exc:
            logger.error("directory unavailable, refusing password sign-in for %r: %s", username, exc)
            return True
