"""R-SEC-AUTH-1 / R-SEC-AUTH-2: sign-in services. Views, admin actions and signal receivers call these.

- Lockouts are per account (django-axes with `AXES_LOCKOUT_PARAMETERS = ["username"]`); `lockout_lift` lets the
  branch permission admin of the account's branch (or HQ's office) lift one, with a register row (R-PERM-3).
- A spray from one address is slowed (`address_delay`), never refused: the password of an unlocked account is
  always checked.
- Second factor (django-otp, TOTP with recovery codes): enrolment, verification and the admin's device reset.
- The directory (permissions.ldap) calls `directory_user_sync` at each directory sign-in.
- Every sign-in event (success, failure, lockout, unlock, enrolment, device reset) is an audit row.

The package's modules, lowest first: `lockouts` (the axes hooks, lockouts, the address delay), `events` (the
audit rows of sign-ins), `devices` (the second factor) and `directory`. Callers and the axes settings
(`AXES_USERNAME_CALLABLE`, `AXES_CLIENT_IP_CALLABLE`) name them from here.
"""
from permissions.signin.devices import otp_device_reset, otp_enrol_confirm, otp_enrolment_device, otp_verify
from permissions.signin.directory import DIRECTORY_ACTOR, directory_user_sync
from permissions.signin.events import signin_record_failure, signin_record_success
from permissions.signin.lockouts import (
    Lockout,
    address_delay,
    address_failures,
    axes_username,
    client_ip_behind_proxy,
    lockout_lift,
    lockout_of,
    normalise_username,
)

__all__ = [
    "DIRECTORY_ACTOR", "Lockout", "address_delay", "address_failures", "axes_username", "client_ip_behind_proxy",
    "directory_user_sync", "lockout_lift", "lockout_of", "normalise_username", "otp_device_reset",
    "otp_enrol_confirm", "otp_enrolment_device", "otp_verify", "signin_record_failure", "signin_record_success",
]
