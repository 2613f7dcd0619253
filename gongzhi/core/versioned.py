"""Values each process keeps in its own memory under versions the database keeps.

Triggers raise a version in the same transaction as the change it stands for (core migrations 0004 and 0005),
so a value cached under the version read at the start of a request is exact, in every process, without a
round trip to Redis. The per-user versions (roles, inbox) live on the user row, which every request reads
anyway: they are trusted only on a user object read for this request (`mark_current`), never on one kept
across changes by a service or a test.
"""

from collections.abc import Callable
from typing import TypeVar

from django.core.cache import caches

T = TypeVar("T")
SECONDS = 600


def mark_current(user) -> None:
    """Called where a request's user has just been read: session and token authentication."""
    user.versions_current = True


def for_user(user, name: str, version_field: str, load: Callable[[], T]) -> T:
    """`load()`, cached under the user's `version_field` when that is current; else read afresh."""
    if not getattr(user, "versions_current", False):
        return load()
    return cached(f"{name}:{user.pk}:{getattr(user, version_field)}", load)


def cached(key: str, load: Callable[[], T], *, seconds: int = SECONDS) -> T:
    cache = caches["local"]
    value = cache.get(key)
    if value is None:
        value = load()
        cache.set(key, value, seconds)
    return value
