"""R-PII-1: ID numbers and phones are encrypted at rest (AES-256-GCM) beside a keyed hash (HMAC-SHA256).

The hash is what matching joins on, so a database dump alone reveals no ID number.

Keys rotate. The environment holds versioned master secrets — `PII_KEYS="2:<new>,1:<old>"`, or
`PII_KEY` alone, which is version 1 — and the highest version is the current one: new ciphertexts and
hashes use it, every live version still decrypts and is still looked up. Each master secret gives two
subkeys by HKDF-SHA256 (one for the cipher, one for the hash; the version is in HKDF's `info`), so the
cipher key and the hash key are independent and a version's keys never serve another version.

Every stored value says its version: `v2:<base64 nonce+ciphertext>` and `v2:<hex digest>`. A value
without a prefix is the format before key versions (version 1's secret, SHA-256/HMAC derivation); it
stays readable, and `manage.py rotate_pii_key` rewrites it like any value not on the current version.

Whole files holding ID numbers (a feed uploaded in the browser, until it is loaded) are sealed as bytes with the
same cipher key: `v2:` + nonce + ciphertext, authenticated with their own associated data (`crm-file/v2`), so a
sealed file can never be passed off as a sealed field or the reverse. `rotate_pii_key` re-seals them too.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
from dataclasses import dataclass
from functools import lru_cache

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

_PREFIX = re.compile(r"^v(\d{1,4}):")
_BLOB_PREFIX = re.compile(rb"^v(\d{1,4}):")
_HKDF_SALT = b"crm-platform/pii-keys"
LEGACY = 0  # the version of a value written before key versions (unprefixed); read with version 1's secret


@dataclass(frozen=True)
class KeyRing:
    """The configured key versions; the module functions below use `keyring()`, batch work keeps one ring."""

    current: int
    secrets: dict[int, str]

    @property
    def versions(self) -> list[int]:
        """Newest first."""
        return sorted(self.secrets, reverse=True)

    @property
    def prefix(self) -> str:
        return f"v{self.current}:"

    def hash(self, value: str, version: int | None = None) -> str:
        version = self.current if version is None else version
        digest = hmac.digest(_keys_of(version, self)[1], value.encode(), "sha256").hex()
        return digest if version == LEGACY else f"v{version}:{digest}"

    def hashes(self, value: str) -> list[str]:
        found = [self.hash(value, v) for v in self.versions]
        if 1 in self.secrets:
            found.append(self.hash(value, LEGACY))
        return found

    def encrypt(self, value: str) -> str:
        if not value:
            return ""
        nonce = os.urandom(12)
        sealed = _keys_of(self.current, self)[0].encrypt(nonce, value.encode(), _aad(self.current))
        return self.prefix + base64.b64encode(nonce + sealed).decode()

    def seal(self, data: bytes) -> bytes:
        nonce = os.urandom(12)
        sealed = _keys_of(self.current, self)[0].encrypt(nonce, data, _file_aad(self.current))
        return self.prefix.encode() + nonce + sealed

    def unseal(self, blob: bytes) -> bytes:
        """A sealed file; raises ValueError for bytes that are not one, InvalidTag for a damaged one."""
        match = _BLOB_PREFIX.match(blob)
        if match is None:
            raise ValueError("not a sealed file")
        version, raw = int(match.group(1)), blob[match.end():]
        return _keys_of(version, self)[0].decrypt(raw[:12], raw[12:], _file_aad(version))

    def decrypt(self, token: str) -> str:
        if not token:
            return ""
        version = version_of(token)
        body = token if version == LEGACY else token[token.index(":") + 1:]
        raw = base64.b64decode(body)
        return _keys_of(version, self)[0].decrypt(raw[:12], raw[12:], _aad(version)).decode()


def parse_keys(pii_keys: str, pii_key: str | None) -> KeyRing:
    """`PII_KEYS` ("2:<secret>,1:<secret>", any order) and/or `PII_KEY` (version 1); the highest version is current."""
    ring: dict[int, str] = {}
    for part in (p.strip() for p in (pii_keys or "").split(",")):
        if not part:
            continue
        version, sep, secret = part.partition(":")
        if not sep or not version.strip().isdigit() or not secret.strip():
            raise ImproperlyConfigured("PII_KEYS must be comma-separated VERSION:SECRET pairs, e.g. \"2:…,1:…\".")
        number = int(version)
        if not 1 <= number <= 9999 or number in ring:
            raise ImproperlyConfigured(f"PII_KEYS: version {number} is out of range (1–9999) or given twice.")
        ring[number] = secret.strip()
    if pii_key:
        if 1 in ring and ring[1] != pii_key:
            raise ImproperlyConfigured("PII_KEY is key version 1, and PII_KEYS gives version 1 a different secret.")
        ring[1] = pii_key
    if not ring:
        raise ImproperlyConfigured("PII_KEY or PII_KEYS must be set.")
    return KeyRing(current=max(ring), secrets=ring)


def keyring() -> KeyRing:
    return _keyring(getattr(settings, "PII_KEYS", "") or "", getattr(settings, "PII_KEY", None) or None)


@lru_cache(maxsize=8)
def _keyring(pii_keys: str, pii_key: str | None) -> KeyRing:
    return parse_keys(pii_keys, pii_key)


@lru_cache(maxsize=32)
def _subkeys(version: int, secret: str) -> tuple[AESGCM, bytes]:
    """The cipher and the hash key of one version; LEGACY is the derivation before key versions."""
    if version == LEGACY:
        root = hashlib.sha256(secret.encode()).digest()
        enc = hmac.new(root, b"crm-pii-encryption", hashlib.sha256).digest()
        mac = hmac.new(root, b"crm-pii-hash", hashlib.sha256).digest()
        return AESGCM(enc), mac

    def derive(purpose: bytes) -> bytes:
        return HKDF(algorithm=hashes.SHA256(), length=32, salt=_HKDF_SALT,
                    info=b"crm-pii/v%d/%s" % (version, purpose)).derive(secret.encode())

    return AESGCM(derive(b"aes-256-gcm")), derive(b"hmac-sha256")


def _keys_of(version: int, ring: KeyRing) -> tuple[AESGCM, bytes]:
    secret = ring.secrets.get(1 if version == LEGACY else version)
    if secret is None:
        raise ImproperlyConfigured(f"PII key version {version or 1} is not configured (PII_KEYS): values written "
                                   f"with it cannot be read. Keep every version until rotate_pii_key has moved "
                                   f"all rows off it.")
    return _subkeys(version, secret)


def _aad(version: int) -> bytes:
    return b"crm-pii" if version == LEGACY else b"crm-pii/v%d" % version


def _file_aad(version: int) -> bytes:
    return b"crm-file/v%d" % version


def version_of(token: str) -> int:
    """The key version a stored ciphertext or hash carries (LEGACY for an unprefixed one)."""
    match = _PREFIX.match(token or "")
    return int(match.group(1)) if match else LEGACY


def current_prefix() -> str:
    return keyring().prefix


def pii_hash(value: str) -> str:
    """The keyed hash with the current key: what a new row stores."""
    return keyring().hash(value)


def pii_hashes(value: str) -> list[str]:
    """The hash under every live key version, current first: what a lookup by ID number must try."""
    return keyring().hashes(value)


def encrypt(value: str) -> str:
    return keyring().encrypt(value)


def decrypt(token: str) -> str:
    return keyring().decrypt(token)


def seal(data: bytes) -> bytes:
    """A whole file encrypted with the current key version (see the module docstring)."""
    return keyring().seal(data)


def unseal(blob: bytes) -> bytes:
    return keyring().unseal(blob)


def mask_id(value: str) -> str:
    return value[:6] + "*" * (len(value) - 10) + value[-4:] if len(value) > 10 else "*" * len(value)


def mask_phone(value: str) -> str:
    return value[:3] + "****" + value[-4:] if len(value) >= 8 else "*" * len(value)
