"""Roster lists from the cache. A roster page is read far more often than the roster changes, and two
people with the same roles see the same page, so the rendered list is cached under a key made of:

- what is shown (the page or API list, its query parameters, the language);
- who may see what: the viewer's role assignments (every permission derives from them), not the viewer;
- the versions of the communities in the viewer's scope (RosterStamp), which database triggers raise with
  every change to their residents, households, tags and regions.

A change therefore reaches the next reader at once, by whatever path it was made. The versions are read
before the list, so an entry can hold newer data than its key says, never older (bench/README.md measures
what the cache saves).
"""

import hashlib
from collections.abc import Callable, Iterable
from typing import TypeVar

from django.conf import settings
from django.db import connection
from django.utils import translation

from gongzhi.core import versioned
from gongzhi.core.models import Region, RosterStamp
from gongzhi.core.roles import Perm
from gongzhi.core.scope import acts_as_superuser, role_assignments, scope_regions

T = TypeVar("T")


def scope_versions(user) -> list[tuple[int, int]] | None:
    """(community, version) for every community the user's roster scope reaches; None without a scope.
    Plain SQL: it runs on every roster request, where the ORM's query building cost more than the query."""
    conditions, params = [], []
    if not acts_as_superuser(user):
        regions = scope_regions(user, Perm.VIEW_RESIDENTS)
        if not regions:
            return None
        # Each region's own community (an ancestor, or itself) ...
        ancestors = sorted({pk for region in regions for pk in region.ancestor_ids()})
        conditions.append(f"community_id IN ({', '.join(['%s'] * len(ancestors))})")
        params += ancestors
        # ... and, above a community, every community below it.
        community_depth = Region.LEVEL_ORDER.index(Region.Level.COMMUNITY)
        for region in regions:
            if Region.LEVEL_ORDER.index(region.level) < community_depth:
                below = f"SELECT id FROM {Region._meta.db_table} WHERE path LIKE %s"
                conditions.append(f"community_id IN ({below})")
                params.append(f"{region.path}%")
    where = f"WHERE {' OR '.join(conditions)}" if conditions else ""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT community_id, version FROM {RosterStamp._meta.db_table} {where} ORDER BY community_id",
            params,
        )
        return cursor.fetchall()


def roster_cache_key(user, *, part: str, params: Iterable[tuple]) -> str | None:
    versions = scope_versions(user)
    if versions is None:
        return None  # someone without a scope sees only their own record: not worth an entry
    roles = sorted((a.role, a.region_id or 0, a.organisation_id or 0) for a in role_assignments(user))
    identity = (
        part,
        translation.get_language(),
        acts_as_superuser(user),
        getattr(user, "token_organisation_id", None),
        roles,
        sorted((str(name), str(value)) for name, value in params),
        versions,
    )
    return "roster:" + hashlib.sha256(repr(identity).encode()).hexdigest()


def cached_roster(user, *, part: str, params: Iterable[tuple], build: Callable[[], T]) -> T:
    """`build()`'s result for this viewer's roles, parameters and roster versions, from the cache if there."""
    if settings.ROSTER_CACHE_SECONDS <= 0:
        return build()
    key = roster_cache_key(user, part=part, params=params)
    if key is None:
        return build()
    return versioned.cached(key, build, seconds=settings.ROSTER_CACHE_SECONDS)
