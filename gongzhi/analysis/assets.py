"""The asset map (asset-based community development): what a community already has, searchable per region.

Staff who keep a community's analysis (MANAGE_ANALYSIS) record its associations, institutions, work units,
spaces and culture, and residents' skills; a skill belongs to a resident of the community and is recorded
only with their consent, which is kept in the audit log with the statement agreed to. A resident may offer
their own skill, change it and take it back. Those who oversee a region (VIEW_ANALYSIS or MANAGE_ANALYSIS)
see all of its assets; a community's residents see its assets other than skills, and the skills of those
willing to help, under a masked name.

What the platform already knows is read where it lives, not copied: organisations from core, the shared
resources they open from sharing, and volunteers' skills (counts only) from volunteering."""

import re
from dataclasses import dataclass

from django.db import transaction
from django.db.models import Count, Q, QuerySet
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from gongzhi.analysis.models import Asset, AssetKind
from gongzhi.analysis.selectors import in_analysis_scope, suppress
from gongzhi.core.crypto import mask_name
from gongzhi.core.exceptions import ServiceError
from gongzhi.core.models import AuditEvent, Organisation, OrganisationKind, Region, Resident, User
from gongzhi.core.roles import Perm
from gongzhi.core.scope import acts_as_superuser, has_perm_in, in_scope
from gongzhi.core.selectors import resident_record_of
from gongzhi.core.services import audit_record, clean_text, community_of, validate_or_raise
from gongzhi.sharing.selectors import resources_in_region
from gongzhi.volunteering.selectors import skills_in_region

# Stored in English (the msgid) with the consent so that the record does not depend on the reader's
# language; pages show the translation (PIPL art. 14: consent given knowing what is shown and to whom).
SKILL_CONSENT = gettext_noop(
    "My skill and what I offer will be on the community's asset map. Staff of the community see my name; "
    "if I am willing to help, residents of the community see the skill under my masked name. "
    "I can change or remove it at any time."
)
CONSENT_PURPOSE = "asset_skill"

# Where each kind of organisation sits in the asset inventory.
ORGANISATION_KINDS = {
    OrganisationKind.SOCIAL_ORGANISATION: AssetKind.ASSOCIATION,
    OrganisationKind.OWNERS_COMMITTEE: AssetKind.ASSOCIATION,
    OrganisationKind.WORK_UNIT: AssetKind.WORK_UNIT,
    OrganisationKind.BUSINESS: AssetKind.WORK_UNIT,
    OrganisationKind.PROPERTY_COMPANY: AssetKind.WORK_UNIT,
    OrganisationKind.SOCIAL_ENTERPRISE: AssetKind.WORK_UNIT,
    OrganisationKind.RESIDENTS_COMMITTEE: AssetKind.INSTITUTION,
    OrganisationKind.PARTY_COMMITTEE: AssetKind.INSTITUTION,
    OrganisationKind.STREET_OFFICE: AssetKind.INSTITUTION,
    OrganisationKind.SOCIAL_WORK_AGENCY: AssetKind.INSTITUTION,
    OrganisationKind.FOUNDATION: AssetKind.INSTITUTION,
}
ORGANISATION_ASSET_KINDS = {AssetKind.ASSOCIATION, AssetKind.INSTITUTION, AssetKind.WORK_UNIT}


# Writes ---------------------------------------------------------------------------------------------------


def may_keep(user: User, asset: Asset) -> bool:
    """Staff keeping the community's map, or the resident whose skill it is."""
    own_skill = asset.resident_id is not None and asset.resident.user_id == user.pk
    return own_skill or has_perm_in(user, Perm.MANAGE_ANALYSIS, asset.community)


def _require_keeper(user: User, asset: Asset) -> None:
    if not may_keep(user, asset):
        raise ServiceError(_("Only the community's staff, or the resident whose skill it is, can do that."))


def _clean(asset: Asset, *, name: str, description: str, offers: str, keywords: str) -> None:
    asset.name = clean_text(name, field="name", max_length=100)
    asset.description = clean_text(description, field="description", max_length=2000, required=False)
    asset.offers = clean_text(offers, field="offers", max_length=300, required=False)
    asset.keywords = clean_text(keywords, field="keywords", max_length=200, required=False)


def _check_place(asset: Asset, region: Region, organisation: Organisation | None) -> None:
    if not region.is_within(asset.community):
        raise ServiceError(_("The place lies within the community."), field="region")
    if organisation is not None:
        if asset.kind not in ORGANISATION_ASSET_KINDS:
            raise ServiceError(_("Only an association, institution or work unit is an organisation."))
        # An organisation serving the community may sit above it (a street's social-work agency).
        here = organisation.region
        if not (here.is_within(asset.community) or asset.community.is_within(here)):
            raise ServiceError(_("The organisation does not serve this community."), field="organisation")


def asset_add(
    *,
    by: User,
    region: Region,
    kind: str,
    name: str,
    description: str = "",
    offers: str = "",
    keywords: str = "",
    willing_to_help: bool = False,
    resident: Resident | None = None,
    organisation: Organisation | None = None,
    resident_agreed: bool = False,
    request=None,
) -> Asset:
    """Puts an asset on the map. A skill needs its resident, who lives in the community, and their consent:
    given on their own page (`by` is the resident) or to staff, who then tick that the resident agreed."""
    community = community_of(region)
    if kind not in AssetKind.values:
        raise ServiceError(_("Choose a kind of asset."), field="kind")
    by_resident = resident is not None and resident.user_id == by.pk and kind == AssetKind.SKILL
    if not by_resident and not has_perm_in(by, Perm.MANAGE_ANALYSIS, community):
        raise ServiceError(_("Only the community's staff keep its asset map."))
    if kind == AssetKind.SKILL:
        if resident is None:
            raise ServiceError(_("A skill belongs to a resident: choose who."), field="resident")
        if resident.community_id != community.pk:
            raise ServiceError(_("The resident does not live in this community."), field="resident")
        if not resident_agreed:
            raise ServiceError(
                _("A skill goes on the map only with the resident's consent."), field="resident_agreed"
            )
        # Where the resident lives, so that a search of their compound finds them; residents never see it.
        region = resident.region
    elif resident is not None:
        raise ServiceError(_("Only a skill belongs to a resident."), field="resident")
    asset = Asset(community=community, region=region, kind=kind, resident=resident, created_by=by)
    _clean(asset, name=name, description=description, offers=offers, keywords=keywords)
    _check_place(asset, region, organisation)
    asset.organisation = organisation
    asset.willing_to_help = bool(willing_to_help)
    validate_or_raise(asset)
    with transaction.atomic():
        asset.save()
        if kind == AssetKind.SKILL:
            audit_record(
                actor=by,
                action=AuditEvent.Action.CONSENT,
                target=asset,
                region=community,
                request=request,
                detail={
                    "purpose": CONSENT_PURPOSE,
                    "statement": SKILL_CONSENT,
                    "resident_id": resident.pk,
                    "given": "by_resident" if by_resident else "to_staff",
                },
            )
    return asset


def asset_update(
    *,
    asset: Asset,
    by: User,
    name: str,
    description: str = "",
    offers: str = "",
    keywords: str = "",
    willing_to_help: bool = False,
    region: Region | None = None,
    organisation: Organisation | None = None,
) -> Asset:
    """Changes what an asset is and offers. Its kind and (for a skill) its resident stay: a different one is
    a new asset; a skill stays where its resident lives."""
    _require_keeper(by, asset)
    with transaction.atomic():
        asset = Asset.objects.select_for_update(of=("self",)).select_related("community").get(pk=asset.pk)
        _clean(asset, name=name, description=description, offers=offers, keywords=keywords)
        if asset.kind != AssetKind.SKILL:
            region = region or asset.region
            _check_place(asset, region, organisation)
            asset.region, asset.organisation = region, organisation
        asset.willing_to_help = bool(willing_to_help)
        validate_or_raise(asset)
        asset.save()
    return asset


def asset_remove(*, asset: Asset, by: User) -> None:
    """Takes an asset off the map; a resident taking back their skill withdraws their consent."""
    _require_keeper(by, asset)
    with transaction.atomic():
        Asset.objects.filter(pk=asset.pk).delete()


# Reads ----------------------------------------------------------------------------------------------------


def own_resident(user) -> Resident | None:
    """The user's resident record, read once per request; an organisation's API token acts for no resident."""
    if getattr(user, "token_organisation_id", None):
        return None
    if not hasattr(user, "_analysis_resident"):
        user._analysis_resident = resident_record_of(user) if user.is_authenticated else None
    return user._analysis_resident


def oversees(user, region: Region) -> bool:
    return has_perm_in(user, Perm.VIEW_ANALYSIS, region) or has_perm_in(user, Perm.MANAGE_ANALYSIS, region)


def assets_visible_to(user) -> QuerySet[Asset]:
    if acts_as_superuser(user):
        return Asset.objects.all()
    visible = in_analysis_scope(user, field="community")
    resident = own_resident(user)
    if resident is not None:
        shared = ~Q(kind=AssetKind.SKILL) | Q(willing_to_help=True)
        visible |= Q(community_id=resident.community_id) & shared
        visible |= Q(resident=resident)
    return Asset.objects.filter(visible)


def access_asset(user, asset_id: int) -> Asset:
    return get_object_or_404(
        assets_visible_to(user)
        .select_related("community", "region__parent", "resident", "organisation")
        .defer("resident__id_number", "resident__phone"),
        pk=asset_id,
    )


def asset_search(user, *, region: Region | None = None, kind: str = "", q: str = "") -> QuerySet[Asset]:
    """The user's visible assets in a region's subtree, of a kind, matching every word of `q` in the name,
    keywords, offer or description."""
    assets = assets_visible_to(user)
    if region is not None:
        assets = assets.filter(region__path__startswith=region.path)
    if kind:
        assets = assets.filter(kind=kind)
    for word in q.split():
        assets = assets.filter(
            Q(name__icontains=word)
            | Q(keywords__icontains=word)
            | Q(offers__icontains=word)
            | Q(description__icontains=word)
        )
    return assets


SKILL_WORD_SPLIT = re.compile(r"[\s,，、;；/]+")
SKILLS_SHOWN = 10


def neighbours_with_skills(user, *, community: Region, wanted: str) -> list[tuple[str, Asset]]:
    """The capacity inventory for a volunteer activity: residents of the community willing to help whose
    skill matches any of the skills wanted, with their names as this user may see them."""
    words = [word for word in SKILL_WORD_SPLIT.split(wanted or "") if word]
    if not words:
        return []
    matching = Q()
    for word in words:
        matching |= Q(name__icontains=word) | Q(keywords__icontains=word) | Q(offers__icontains=word)
    skills = (
        assets_visible_to(user)
        .filter(matching, kind=AssetKind.SKILL, willing_to_help=True, community=community)
        .select_related("resident")
        .defer("resident__id_number", "resident__phone")
        .order_by("name", "pk")[:SKILLS_SHOWN]
    )
    return [(holder_name(user, asset), asset) for asset in skills]


def holder_name(user, asset: Asset) -> str:
    """Whose skill it is: in full for the resident and for staff who may read the roster where they live,
    masked for everyone else. Reads asset.resident (select_related it in lists)."""
    if asset.resident_id is None:
        return ""
    resident = asset.resident
    if resident.user_id == user.pk or has_perm_in(user, Perm.VIEW_RESIDENTS, asset.region):
        return resident.name
    return mask_name(resident.name)


def skills_of(user) -> QuerySet[Asset]:
    """The skills the signed-in resident offers on the map."""
    resident = own_resident(user)
    if resident is None:
        return Asset.objects.none()
    return Asset.objects.filter(resident=resident, kind=AssetKind.SKILL).order_by("name", "pk")


def map_regions(user) -> QuerySet[Region]:
    """Regions whose map the user may open: those they oversee, or their own community and what lies in it."""
    if acts_as_superuser(user):
        return Region.objects.all()
    regions = in_scope(user, Perm.VIEW_ANALYSIS, field=None)
    regions |= in_scope(user, Perm.MANAGE_ANALYSIS, field=None)
    resident = own_resident(user)
    if resident is not None:
        regions |= Q(path__startswith=resident.community.path)
    return Region.objects.filter(regions)


def kind_counts(assets: QuerySet[Asset]) -> dict[str, int]:
    return dict(assets.order_by().values_list("kind").annotate(n=Count("pk")))


def organisations_in(region: Region, *, kind: str = "", q: str = "") -> QuerySet[Organisation]:
    """The organisations registered in a region's subtree; names and kinds are public (they are bodies, not
    people). A kind of asset picks the kinds of organisation that count as it."""
    organisations = Organisation.objects.filter(region__path__startswith=region.path).select_related("region")
    if kind:
        organisations = organisations.filter(
            kind__in=[value for value, asset_kind in ORGANISATION_KINDS.items() if asset_kind == kind]
        )
    for word in q.split():
        organisations = organisations.filter(Q(name__icontains=word) | Q(description__icontains=word))
    return organisations.order_by("name", "pk")


def _matching(words: list[str], text: str) -> bool:
    return all(word.lower() in text.lower() for word in words)


@dataclass
class OrganisationRow:
    organisation: Organisation
    kind_label: str
    resources: list


@dataclass
class PlatformAssets:
    """What the platform already knows about a region, read from the apps that keep it."""

    organisations: list[OrganisationRow]
    organisation_total: int
    other_resources: list  # opened by the community itself, or by an organisation not listed above
    resource_total: int
    volunteer_skills: list[tuple[str, int | None]]  # None: fewer than SMALL_COUNT, shown as such


def platform_assets(user, region: Region, *, kind: str = "", q: str = "", limit: int = 50) -> PlatformAssets:
    """The region's organisations with the shared resources they open, the other shared resources, and how
    many volunteers name each skill, filtered like the map. A handful of queries whatever the region's
    size; the lists stop at `limit` and say how many there are."""
    words = q.split()
    rows: list[Organisation] = []
    organisation_total = 0
    if not kind or kind in ORGANISATION_ASSET_KINDS:
        organisations = organisations_in(region, kind=kind, q=q)
        rows = list(organisations[:limit])
        organisation_total = organisations.count() if len(rows) == limit else len(rows)
    resources: list = []
    if not kind or kind == AssetKind.SPACE:
        resources = list(resources_in_region(user, region)[: limit * 4])
        resources = [r for r in resources if _matching(words, f"{r.name} {r.description}")]
    shown = {organisation.pk for organisation in rows}
    by_organisation: dict[int, list] = {}
    for resource in resources:
        by_organisation.setdefault(resource.organisation_id, []).append(resource)
    skills: list[tuple[str, int | None]] = []
    if not kind or kind == AssetKind.SKILL:
        matching = [(skill, count) for skill, count in skills_in_region(region) if _matching(words, skill)]
        skills = [(skill, suppress(count)) for skill, count in matching[:limit]]
    labels = dict(AssetKind.choices)
    return PlatformAssets(
        organisations=[
            OrganisationRow(
                organisation=organisation,
                kind_label=str(labels[ORGANISATION_KINDS.get(organisation.kind, AssetKind.INSTITUTION)]),
                resources=by_organisation.get(organisation.pk, []),
            )
            for organisation in rows
        ],
        organisation_total=organisation_total,
        other_resources=[r for r in resources if r.organisation_id not in shown],
        resource_total=len(resources),
        volunteer_skills=skills,
    )
