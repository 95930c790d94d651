"""R-PII-1: ID numbers and phones are encrypted at rest (AES-GCM) beside a keyed hash (HMAC-SHA256).

The hash is what matching joins on, so a database dump alone reveals no ID number.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import os
from functools import lru_cache

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings


@lru_cache(maxsize=4)
def _keys(secret: str) -> tuple[bytes, bytes]:
    root = hashlib.sha256(secret.encode()).digest()
    enc = hmac.new(root, b"crm-pii-encryption", hashlib.sha256).digest()
    mac = hmac.new(root, b"crm-pii-hash", hashlib.sha256).digest()
    return enc, mac


def pii_hash(value: str) -> str:
    return hmac.new(_keys(settings.PII_KEY)[1], value.encode(), hashlib.sha256).hexdigest()


def encrypt(value: str) -> str:
    if not value:
        return ""
    nonce = os.urandom(12)
    sealed = AESGCM(_keys(settings.PII_KEY)[0]).encrypt(nonce, value.encode(), b"crm-pii")
    return base64.b64encode(nonce + sealed).decode()


def decrypt(token: str) -> str:
    if not token:
        return ""
    raw = base64.b64decode(token)
    return AESGCM(_keys(settings.PII_KEY)[0]).decrypt(raw[:12], raw[12:], b"crm-pii").decode()


def mask_id(value: str) -> str:
    return value[:6] + "*" * (len(value) - 10) + value[-4:] if len(value) > 10 else "*" * len(value)


def mask_phone(value: str) -> str:
    return value[:3] + "****" + value[-4:] if len(value) >= 8 else "*" * len(value)
