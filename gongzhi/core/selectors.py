"""Reads of the spine, always scoped to a user. Outside a user's scope a thing does not exist for them."""

from django.db.models import Q, QuerySet
from django.shortcuts import get_object_or_404

from gongzhi.core.models import Household, Organisation, Region, Resident, ResidentClaim
from gongzhi.core.roles import Perm
from gongzhi.core.scope import in_scope, scope_organisation_ids, scope_regions


def regions_visible_to(user) -> QuerySet[Region]:
    return Region.objects.filter(in_scope(user, Perm.VIEW_REGIONS, field=None))


def access_region(user, region_id: int) -> Region:
    return get_object_or_404(regions_visible_to(user), pk=region_id)


def region_roots_for(user) -> list[Region]:
    """The tops of the user's region tree: where the workbench starts."""
    if user.is_superuser:
        return list(Region.objects.filter(parent=None))
    return scope_regions(user, Perm.VIEW_REGIONS)


def region_subtree(region: Region, *, max_depth: int | None = None) -> QuerySet[Region]:
    regions = Region.objects.filter(path__startswith=region.path)
    if max_depth is not None:
        regions = regions.filter(depth__lte=region.depth + max_depth)
    return regions.order_by("path")


def communities_visible_to(user, perm: Perm = Perm.VIEW_RESIDENTS) -> QuerySet[Region]:
    return Region.objects.filter(in_scope(user, perm, field=None), level=Region.Level.COMMUNITY)


def residents_visible_to(user) -> QuerySet[Resident]:
    """Residents in the user's scope, and the user's own record. Encrypted columns are deferred: lists
    show masked values only, and decrypting is left to the audited unmask service."""
    own = Q(user=user) if user.is_authenticated else Q(pk__in=[])
    return Resident.objects.filter(in_scope(user, Perm.VIEW_RESIDENTS) | own).defer("id_number", "phone")


def access_resident(user, resident_id: int) -> Resident:
    return get_object_or_404(residents_visible_to(user).select_related("region", "community", "household"), pk=resident_id)


def resident_search(user, *, query: str = "", building_id: int | None = None, community_id: int | None = None) -> QuerySet[Resident]:
    """Search by name (prefix or part), by masked phone ("138****5678" or its last four digits), in a building."""
    residents = residents_visible_to(user).select_related("region", "household")
    query = query.strip()
    if query:
        if query.isdigit() and len(query) == 4:
            residents = residents.filter(phone_masked__endswith=query)
        elif "*" in query:
            residents = residents.filter(phone_masked=query)
        else:
            residents = residents.filter(name__contains=query)
    if building_id:
        residents = residents.filter(region_id=building_id)
    if community_id:
        residents = residents.filter(community_id=community_id)
    return residents.order_by("name", "id")


def households_visible_to(user) -> QuerySet[Household]:
    return Household.objects.filter(in_scope(user, Perm.VIEW_RESIDENTS))


def access_household(user, household_id: int) -> Household:
    return get_object_or_404(households_visible_to(user).select_related("region", "community"), pk=household_id)


def organisations_visible_to(user) -> QuerySet[Organisation]:
    own = Q(pk__in=scope_organisation_ids(user, Perm.ACT_FOR_ORGANISATION))
    return Organisation.objects.filter(in_scope(user, Perm.VIEW_ORGANISATIONS) | own)


def access_organisation(user, organisation_id: int) -> Organisation:
    return get_object_or_404(organisations_visible_to(user).select_related("region"), pk=organisation_id)


def claims_pending_for(user) -> QuerySet[ResidentClaim]:
    return ResidentClaim.objects.filter(
        in_scope(user, Perm.VERIFY_RESIDENTS, field="community"), status=ResidentClaim.Status.PENDING
    ).select_related("user", "region")
