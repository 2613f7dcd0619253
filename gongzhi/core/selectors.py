"""Reads of the spine, always scoped to a user. Outside a user's scope a thing does not exist for them."""

from django.db.models import Count, OuterRef, Q, QuerySet, Subquery
from django.shortcuts import get_object_or_404

from gongzhi.core.crypto import lookup_hash
from gongzhi.core.models import (
    ApiToken,
    Consent,
    Household,
    Organisation,
    Region,
    Resident,
    ResidentClaim,
    ResidentTag,
    RoleAssignment,
    User,
)
from gongzhi.core.roles import Perm
from gongzhi.core.scope import (
    NOTHING,
    acts_as_superuser,
    has_perm_at,
    has_perm_in,
    in_community_scope,
    in_scope,
    scope_organisation_ids,
    scope_regions,
)
from gongzhi.core.validators import normalize_mobile


def regions_visible_to(user) -> QuerySet[Region]:
    return Region.objects.filter(in_scope(user, Perm.VIEW_REGIONS, field=None))


def access_region(user, region_id: int) -> Region:
    return get_object_or_404(regions_visible_to(user), pk=region_id)


def region_roots_for(user) -> list[Region]:
    """The tops of the user's region tree: where the workbench starts."""
    if acts_as_superuser(user):
        return list(Region.objects.filter(parent=None))
    return scope_regions(user, Perm.VIEW_REGIONS)


def region_subtree(region: Region, *, max_depth: int | None = None) -> QuerySet[Region]:
    regions = Region.objects.filter(path__startswith=region.path)
    if max_depth is not None:
        regions = regions.filter(depth__lte=region.depth + max_depth)
    return regions.order_by("path")


def communities_visible_to(user, perm: Perm = Perm.VIEW_RESIDENTS) -> QuerySet[Region]:
    return Region.objects.filter(in_scope(user, perm, field=None), level=Region.Level.COMMUNITY)


def community_resident_counts(user) -> list[tuple[Region, int]]:
    """Each community in the user's scope with the number of its residents: where a street or district officer
    starts, rather than with tens of thousands of names in alphabetical order. One grouped index-only scan."""
    counts = dict(
        residents_visible_to(user).order_by().values_list("community_id").annotate(residents=Count("id"))
    )
    communities = communities_visible_to(user).select_related("parent").order_by("path")
    return [(community, counts.get(community.pk, 0)) for community in communities]


def scope_spans_communities(user, perm: Perm = Perm.VIEW_RESIDENTS) -> bool:
    """Whether the user's scope holds more than one community (a street, a district, or several roles)."""
    regions = scope_regions(user, perm)
    above = Region.LEVEL_ORDER.index(Region.Level.COMMUNITY)
    return (
        acts_as_superuser(user)
        or len(regions) > 1
        or any(Region.LEVEL_ORDER.index(region.level) < above for region in regions)
    )


def residents_visible_to(user) -> QuerySet[Resident]:
    """Residents in the user's scope; someone without a scope sees their own record. (A staff member's own
    record outside their scope is on their own page, not in the workbench: joining "scope OR own record"
    in one query costs a scan of the whole city's roster.) Encrypted columns are deferred: lists show masked
    values only, and decrypting is left to the audited unmask service."""
    if scope_regions(user, Perm.VIEW_RESIDENTS) or acts_as_superuser(user):
        scope = in_community_scope(user, Perm.VIEW_RESIDENTS)
    elif user.is_authenticated and not getattr(user, "token_organisation_id", None):
        scope = Q(user=user)  # an organisation token acts for the organisation, not for its maker
    else:
        scope = NOTHING
    return Resident.objects.filter(scope).defer("id_number", "phone")


def access_resident(user, resident_id: int) -> Resident:
    return get_object_or_404(
        residents_visible_to(user).select_related("region", "community", "household"), pk=resident_id
    )


def resident_search(
    user,
    *,
    query: str = "",
    building_id: int | None = None,
    community_id: int | None = None,
    within: Region | None = None,
) -> QuerySet[Resident]:
    """Search by name (prefix or part), by masked phone ("138****5678" or its last four digits), in a
    building, or anywhere under the region `within`."""
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
    if within is not None:
        residents = residents.filter(region__path__startswith=within.path)
    return residents.order_by("name", "id")


def resident_list_items(user, residents: QuerySet[Resident]) -> list[dict]:
    """One page of residents as plain data for lists (the API and the workbench): read with .values() and
    one query for the tags, far cheaper than model instances (bench/README.md)."""
    rows = list(
        residents.values(
            "id", "name", "sex", "birth_date", "phone_masked", "id_number_masked",
            "region_id", "region__name", "region__level", "region__path", "household__number",
            "region__parent__name", "region__parent__level",
        )
    )  # fmt: skip
    tags: dict[int, list[str]] = {}
    for resident_id, tag in ResidentTag.objects.filter(
        resident_id__in=[row["id"] for row in rows]
    ).values_list("resident_id", "tag"):
        tags.setdefault(resident_id, []).append(tag)
    labels = dict(ResidentTag.Tag.choices)
    items = []
    for row in rows:
        sensitive_shown = has_perm_at(user, Perm.VIEW_SENSITIVE_TAGS, row["region__path"])
        items.append(
            {
                "id": row["id"],
                "name": row["name"],
                "sex": row["sex"],
                "birth_year": row["birth_date"].year if row["birth_date"] else None,
                "phone_masked": row["phone_masked"],
                "id_number_masked": row["id_number_masked"],
                "building": {
                    "id": row["region_id"],
                    "name": row["region__name"],
                    "level": row["region__level"],
                },
                # Building names repeat across compounds ("1栋"): lists name a building with its compound.
                "building_label": (
                    f"{row['region__parent__name']} {row['region__name']}"
                    if row["region__parent__level"] == Region.Level.COMPOUND
                    else row["region__name"]
                ),
                "room": row["household__number"],
                "tags": [
                    {"tag": tag, "label": str(labels[tag]), "sensitive": tag in ResidentTag.SENSITIVE}
                    for tag in sorted(tags.get(row["id"], []))
                    if sensitive_shown or tag not in ResidentTag.SENSITIVE
                ],
            }
        )
    return items


def households_visible_to(user) -> QuerySet[Household]:
    return Household.objects.filter(in_community_scope(user, Perm.VIEW_RESIDENTS))


def access_household(user, household_id: int) -> Household:
    return get_object_or_404(
        households_visible_to(user).select_related("region", "community"), pk=household_id
    )


def organisations_visible_to(user) -> QuerySet[Organisation]:
    own = Q(pk__in=scope_organisation_ids(user, Perm.ACT_FOR_ORGANISATION))
    return Organisation.objects.filter(in_scope(user, Perm.VIEW_ORGANISATIONS) | own)


def access_organisation(user, organisation_id: int) -> Organisation:
    return get_object_or_404(organisations_visible_to(user).select_related("region"), pk=organisation_id)


def claims_pending_for(user) -> QuerySet[ResidentClaim]:
    return ResidentClaim.objects.filter(
        in_scope(user, Perm.VERIFY_RESIDENTS, field="community"), status=ResidentClaim.Status.PENDING
    ).select_related("user", "region")


# The account pages and the staff workbench.


def regions_where(user, perm: Perm, *, levels: list[str] | None = None) -> QuerySet[Region]:
    """Regions in the subtrees where the user holds `perm`, e.g. where they may register organisations."""
    regions = Region.objects.filter(in_scope(user, perm, field=None)).select_related("parent")
    if levels:
        regions = regions.filter(level__in=levels)
    return regions.order_by("path")


def access_region_where(user, perm: Perm, region_id: int) -> Region:
    return get_object_or_404(regions_where(user, perm), pk=region_id)


def region_children(region: Region) -> QuerySet[Region]:
    # Creation order follows the official numbering; sorting by name puts 第三网格 before 第二网格.
    return Region.objects.filter(parent=region).order_by("id")


def region_ancestors_visible_to(user, region: Region) -> QuerySet[Region]:
    """The breadcrumb above a region, as far up as the user can see."""
    ancestors = regions_visible_to(user).filter(pk__in=region.ancestor_ids()).exclude(pk=region.pk)
    return ancestors.order_by("depth")


def buildings_in(region: Region) -> QuerySet[Region]:
    return (
        Region.objects.filter(path__startswith=region.path, level=Region.Level.BUILDING)
        .select_related("parent")
        .order_by("path")
    )


def resident_tags_visible_to(user, resident: Resident) -> list[ResidentTag]:
    """The resident's tags; the sensitive ones (PIPL art. 28) only for those who may see them there.
    Reads `resident.tags.all()`, so a list should prefetch "tags"."""
    show_sensitive = has_perm_in(user, Perm.VIEW_SENSITIVE_TAGS, resident.region)
    return [tag for tag in resident.tags.all() if show_sensitive or not tag.is_sensitive]


def household_members_visible_to(user, household: Household) -> QuerySet[Resident]:
    return (
        residents_visible_to(user)
        .filter(household=household)
        .select_related("region")
        .prefetch_related("tags")
        .order_by("-is_household_head", "name", "id")
    )


def household_search(user, *, query: str = "", within: Region | None = None) -> QuerySet[Household]:
    """Households by room number, with how many people live there."""
    households = (
        households_visible_to(user)
        .select_related("region__parent", "community")
        .annotate(member_count=Count("members"))
    )
    if query.strip():
        households = households.filter(number__contains=query.strip())
    if within is not None:
        households = households.filter(region__path__startswith=within.path)
    return households.order_by("region__path", "number", "id")


def organisation_search(user, *, query: str = "", kind: str = "") -> QuerySet[Organisation]:
    organisations = organisations_visible_to(user).select_related("region")
    if query.strip():
        organisations = organisations.filter(name__contains=query.strip())
    if kind:
        organisations = organisations.filter(kind=kind)
    return organisations.order_by("name", "id")


def organisations_acted_for(user) -> QuerySet[Organisation]:
    """The organisations the user works for (provider or work-unit staff)."""
    organisation_ids = scope_organisation_ids(user, Perm.ACT_FOR_ORGANISATION)
    return Organisation.objects.filter(pk__in=organisation_ids).order_by("name")


def claims_queue_for(user) -> QuerySet[ResidentClaim]:
    """Pending requests, oldest first, each with the roster record of the same ID number in its community."""
    on_roster = Resident.objects.filter(
        id_number_hash=OuterRef("id_number_hash"), community=OuterRef("community")
    ).values("pk")[:1]
    return (
        claims_pending_for(user)
        .select_related("community", "region__parent")
        .annotate(roster_resident_id=Subquery(on_roster))
        .order_by("created_at", "id")
    )


def access_claim(user, claim_id: int) -> ResidentClaim:
    """Any request (decided or not) from a community where the user verifies residents."""
    claims = ResidentClaim.objects.filter(in_scope(user, Perm.VERIFY_RESIDENTS, field="community"))
    return get_object_or_404(claims.select_related("user", "region", "community"), pk=claim_id)


def role_assignments_in(region: Region) -> QuerySet[RoleAssignment]:
    """Who holds which role anywhere in the region's subtree, in its regions or its organisations."""
    return (
        RoleAssignment.objects.filter(
            Q(region__path__startswith=region.path) | Q(organisation__region__path__startswith=region.path)
        )
        .select_related("user", "region", "organisation")
        .order_by("region__path", "organisation__name", "role", "id")
    )


def user_by_mobile(mobile: str) -> User | None:
    """An active account by its exact mobile number (for handing out roles); never a partial match."""
    return User.objects.filter(mobile_hash=lookup_hash(normalize_mobile(mobile)), is_active=True).first()


# What a signed-in person sees of their own: these never reach beyond the user.


def resident_record_of(user) -> Resident | None:
    return (
        Resident.objects.filter(user=user)
        .select_related("region__parent", "community", "household")
        .defer("id_number", "phone")
        .first()
    )


def consents_of(user) -> QuerySet[Consent]:
    return Consent.objects.filter(user=user).order_by("withdrawn_at", "-given_at", "id")


def api_tokens_of(user) -> QuerySet[ApiToken]:
    tokens = ApiToken.objects.filter(user=user, revoked_at=None).select_related("organisation")
    return tokens.order_by("-created_at", "-id")


def access_api_token(user, token_id: int) -> ApiToken:
    return get_object_or_404(api_tokens_of(user), pk=token_id)


def claim_latest_of(user) -> ResidentClaim | None:
    return (
        ResidentClaim.objects.filter(user=user)
        .select_related("region__parent", "community")
        .order_by("-created_at", "-id")
        .first()
    )


def claim_communities() -> QuerySet[Region]:
    """Every community, for a person choosing where they live; region names are public."""
    return Region.objects.filter(level=Region.Level.COMMUNITY).select_related("parent").order_by("path")


def organisation_staff(organisation: Organisation) -> QuerySet[RoleAssignment]:
    staff = RoleAssignment.objects.filter(organisation=organisation).select_related("user")
    return staff.order_by("role", "id")
