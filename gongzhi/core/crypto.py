"""Encryption at rest and keyed lookup hashes for personal data (PIPL).

Values are encrypted with MultiFernet: the first key encrypts, every key decrypts, so a new key can be put
in front and old rows re-encrypted at leisure (`manage.py rotate_field_keys`). Exact lookups use an HMAC of
the normalised value, so the database never holds a searchable plain number.
"""

import base64
import hashlib
import hmac
from functools import cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet  # noqa: F401 (InvalidToken re-exported)
from django.conf import settings
from django.db import models


def _development_key(purpose: str) -> bytes:
    digest = hashlib.sha256(f"{purpose}:{settings.SECRET_KEY}".encode()).digest()
    return base64.urlsafe_b64encode(digest)


@cache
def fernet() -> MultiFernet:
    keys = settings.FIELD_ENCRYPTION_KEYS or [_development_key("field-encryption").decode()]
    return MultiFernet([Fernet(key) for key in keys])


@cache
def _hash_key() -> bytes:
    return (settings.LOOKUP_HASH_KEY or _development_key("lookup-hash").decode()).encode()


def encrypt(value: str) -> str:
    return fernet().encrypt(value.encode()).decode()


def decrypt(token: str) -> str:
    return fernet().decrypt(token.encode()).decode()


def rotate(token: str) -> str:
    return fernet().rotate(token.encode()).decode()


def lookup_hash(value: str) -> str:
    return hmac.new(_hash_key(), value.encode(), hashlib.sha256).hexdigest()


def mask_phone(value: str) -> str:
    return f"{value[:3]}****{value[-4:]}" if len(value) >= 7 else "*" * len(value)


def mask_id_number(value: str) -> str:
    return f"{value[:3]}{'*' * (len(value) - 7)}{value[-4:]}" if len(value) > 7 else "*" * len(value)


def mask_name(name: str) -> str:
    """A name as the public may see it: first and last characters, the rest starred: 张*民, 欧**娜, 李*."""
    name = name.strip()
    if len(name) <= 1:
        return "*" * len(name)
    if len(name) == 2:
        return f"{name[0]}*"
    return f"{name[0]}{'*' * (len(name) - 2)}{name[-1]}"


class EncryptedTextField(models.TextField):
    """Stores a Fernet token; Python code sees the plain text. Never filter on it: use its lookup hash."""

    def from_db_value(self, value, expression, connection):
        return decrypt(value) if value else value

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        return encrypt(value) if value else value
