"""R-SEC-AUTH-2: the directory's settings, read from the environment (imported by crm_platform/settings.py).

Kept apart from `permissions.ldap` (the backend) because settings are read before Django's apps are ready.
Nothing is imported from python-ldap unless LDAP_SERVER_URI is set, so `./dev up` needs no OpenLDAP headers.
"""
from __future__ import annotations

import json
from collections.abc import Mapping

# Roles a directory group may grant. The branch permission admin is assigned by HQ's office with an object
# permission on the branch (R-PERM-1), never by a group.
DIRECTORY_ROLE_KINDS = ("outlet_head", "outlet_ops", "branch", "branch_head", "hq", "hq_reviewer")

GROUP_TYPES = {
    "groupOfNames": ("GroupOfNamesType", "(objectClass=groupOfNames)"),
    "groupOfUniqueNames": ("GroupOfUniqueNamesType", "(objectClass=groupOfUniqueNames)"),
    "posixGroup": ("PosixGroupType", "(objectClass=posixGroup)"),
    "activeDirectory": ("NestedActiveDirectoryGroupType", "(objectClass=group)"),
}


def _bool(value: str | None, default: bool = False) -> bool:
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def parse_group_roles(text: str) -> dict[str, tuple[str, str | None]]:
    """`{"cn=crm-hq,ou=groups,dc=example,dc=com": "hq", "cn=…": "branch_head@B001"}` → {dn: (kind, org code)}.

    Without `@CODE` the organisation follows from the role: HQ's for HQ roles, the staff member's branch for
    branch roles, his outlet for outlet roles.
    """
    try:
        raw = json.loads(text or "{}")
    except json.JSONDecodeError as exc:
        raise RuntimeError(f"LDAP_GROUP_ROLES is not valid JSON: {exc}") from None
    if not isinstance(raw, dict):
        raise RuntimeError("LDAP_GROUP_ROLES must be a JSON object of group DN to role")
    result = {}
    for dn, spec in raw.items():
        if not isinstance(spec, str):
            raise RuntimeError(f"LDAP_GROUP_ROLES[{dn!r}] must be a role name such as \"hq\" or \"branch@B001\"")
        kind, _, code = spec.partition("@")
        if kind not in DIRECTORY_ROLE_KINDS:
            raise RuntimeError(f"LDAP_GROUP_ROLES[{dn!r}]: {kind!r} is not a role a directory group may grant "
                               f"({', '.join(DIRECTORY_ROLE_KINDS)})")
        result[dn.lower()] = (kind, code or None)
    return result


def directory_settings(env: Mapping[str, str], *, debug: bool) -> dict:
    """The django-auth-ldap settings (AUTH_LDAP_*) and the project's own (DIRECTORY_*, LDAP_GROUP_ROLES)."""
    uri = (env.get("LDAP_SERVER_URI") or "").strip()
    if not uri:
        return {"DIRECTORY_ENABLED": False, "LDAP_GROUP_ROLES": {}}
    try:
        import ldap
        from django_auth_ldap import config
    except ImportError:
        raise RuntimeError("LDAP_SERVER_URI is set but django-auth-ldap is not installed: "
                           "apt-get install libldap2-dev libsasl2-dev, then pip install -e '.[ldap]'") from None
    user_base = (env.get("LDAP_USER_BASE") or "").strip()
    if not user_base:
        raise RuntimeError("LDAP_SERVER_URI is set: LDAP_USER_BASE (where the staff entries are) must be set too")
    start_tls = _bool(env.get("LDAP_START_TLS"))
    if not debug and uri.lower().startswith("ldap://") and not start_tls:
        raise RuntimeError("The directory would receive passwords in clear: use an ldaps:// LDAP_SERVER_URI or "
                           "LDAP_START_TLS=1 (only development may sign in over plain LDAP)")
    id_attr = env.get("LDAP_USER_ID_ATTR", "uid")
    extra = env.get("LDAP_USER_FILTER", "")
    disabled = env.get("LDAP_DISABLED_FILTER", "(employeeType=disabled)")
    any_user = f"(&({id_attr}=%(user)s){extra})"
    active_user = f"(&({id_attr}=%(user)s){extra}(!{disabled}))" if disabled else any_user
    options = {ldap.OPT_REFERRALS: 0, ldap.OPT_NETWORK_TIMEOUT: float(env.get("LDAP_TIMEOUT", 5)),
               ldap.OPT_TIMEOUT: float(env.get("LDAP_TIMEOUT", 5))}
    if env.get("LDAP_CA_CERT_FILE"):
        options[ldap.OPT_X_TLS_CACERTFILE] = env["LDAP_CA_CERT_FILE"]
        options[ldap.OPT_X_TLS_NEWCTX] = 0
    result = {
        "DIRECTORY_ENABLED": True,
        "AUTH_LDAP_SERVER_URI": uri,
        "AUTH_LDAP_BIND_DN": env.get("LDAP_BIND_DN", ""),
        "AUTH_LDAP_BIND_PASSWORD": env.get("LDAP_BIND_PASSWORD", ""),
        "AUTH_LDAP_START_TLS": start_tls,
        "AUTH_LDAP_CONNECTION_OPTIONS": options,
        # Disabled entries are not found, so they cannot bind; `DIRECTORY_ANY_USER_SEARCH` finds them to refuse
        # the local-password fallback as well.
        "AUTH_LDAP_USER_SEARCH": config.LDAPSearch(user_base, ldap.SCOPE_SUBTREE, active_user),
        "DIRECTORY_ANY_USER_SEARCH": config.LDAPSearch(user_base, ldap.SCOPE_SUBTREE, any_user),
        "DIRECTORY_ID_ATTR": id_attr,
        # The directory's uid is the staff number and the Django user name (its case as the directory has it).
        "AUTH_LDAP_USER_ATTR_MAP": {"username": id_attr, "first_name": env.get("LDAP_FIRST_NAME_ATTR", "givenName"),
                                    "last_name": env.get("LDAP_LAST_NAME_ATTR", "sn"),
                                    "email": env.get("LDAP_EMAIL_ATTR", "mail")},
        "AUTH_LDAP_USER_QUERY_FIELD": "username",
        "AUTH_LDAP_ALWAYS_UPDATE_USER": True,
        "AUTH_LDAP_CACHE_TIMEOUT": 0,
        "LDAP_GROUP_ROLES": parse_group_roles(env.get("LDAP_GROUP_ROLES", "")),
    }
    group_base = (env.get("LDAP_GROUP_BASE") or "").strip()
    if group_base:
        type_name = env.get("LDAP_GROUP_TYPE", "groupOfNames")
        if type_name not in GROUP_TYPES:
            raise RuntimeError(f"LDAP_GROUP_TYPE must be one of {', '.join(GROUP_TYPES)}")
        cls, object_filter = GROUP_TYPES[type_name]
        result["AUTH_LDAP_GROUP_SEARCH"] = config.LDAPSearch(group_base, ldap.SCOPE_SUBTREE, object_filter)
        result["AUTH_LDAP_GROUP_TYPE"] = getattr(config, cls)()
    elif result["LDAP_GROUP_ROLES"]:
        raise RuntimeError("LDAP_GROUP_ROLES needs LDAP_GROUP_BASE (where the groups are)")
    return result
