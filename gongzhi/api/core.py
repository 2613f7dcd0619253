"""The core router: the caller, regions, organisations and the resident roster.

Thin like the views: parse, call one selector or service, answer. Every read starts from a
`*_visible_to(user)` selector, so anything outside the caller's scope is a 404 like anything missing.
"""

import json
import operator
from functools import reduce

from django.db.models import Q
from django.http import HttpResponse
from ninja import Query, Router, Status
from ninja.errors import HttpError
from ninja.pagination import paginate
from ninja.responses import NinjaJSONEncoder

from gongzhi.api.pagination import LimitOffset, LimitOffsetInput
from gongzhi.api.schemas import (
    ErrorOut,
    MeOut,
    OrganisationDetailOut,
    OrganisationIn,
    OrganisationOut,
    PagedResidentsOut,
    RegionOut,
    RegionTreeOut,
    ResidentDetailOut,
    ServiceErrorOut,
    UnmaskedOut,
)
from gongzhi.core import selectors, services
from gongzhi.core.exceptions import ServiceError
from gongzhi.core.models import OrganisationKind, RegionLevel
from gongzhi.core.rostercache import cached_roster
from gongzhi.core.scope import role_assignments

router = Router()

# Seven levels from city to building: no tree is deeper than six steps below its root.
MAX_TREE_DEPTH = 6


@router.get("/me", response=MeOut, tags=["me"], summary="The caller: name, roles and resident record")
def me(request):
    user = request.auth
    return {
        "id": user.pk,
        "name": user.name,
        "mobile_masked": user.mobile_masked,
        "roles": role_assignments(user),
        "resident": selectors.resident_record_of(user),
    }


@router.get("/regions", response=list[RegionOut], tags=["regions"], summary="Visible regions")
@paginate(LimitOffset)
def region_list(request, level: RegionLevel | None = None, parent_id: int | None = None):
    regions = selectors.regions_visible_to(request.auth)
    if level:
        regions = regions.filter(level=level)
    if parent_id is not None:
        regions = regions.filter(parent_id=parent_id)
    return regions.order_by("path")


@router.get(
    "/regions/tree", response=list[RegionTreeOut], tags=["regions"], summary="The caller's region tree"
)
def region_tree(request, max_depth: int = Query(2, ge=0, le=MAX_TREE_DEPTH)):
    """The caller's top regions, each with its children nested up to `max_depth` levels below it."""
    roots = selectors.region_roots_for(request.auth)
    if not roots:
        return []
    within = reduce(
        operator.or_, (Q(path__startswith=root.path, depth__lte=root.depth + max_depth) for root in roots)
    )
    # One query for the whole forest; ordered by path, every parent comes before its children.
    nodes: dict[int, dict] = {}
    forest: list[dict] = []
    for region in selectors.regions_visible_to(request.auth).filter(within).order_by("path"):
        node = {
            "id": region.pk,
            "name": region.name,
            "level": region.level,
            "parent_id": region.parent_id,
            "path": region.path,
            "depth": region.depth,
            "children": [],
        }
        nodes[region.pk] = node
        siblings = nodes[region.parent_id]["children"] if region.parent_id in nodes else forest
        siblings.append(node)
    return forest


@router.get(
    "/regions/{region_id}", response={200: RegionOut, 404: ErrorOut}, tags=["regions"], summary="One region"
)
def region_detail(request, region_id: int):
    return selectors.access_region(request.auth, region_id)


@router.get(
    "/regions/{region_id}/subtree",
    response={200: list[RegionOut], 404: ErrorOut},
    tags=["regions"],
    summary="A region and everything under it",
)
@paginate(LimitOffset)
def region_subtree(request, region_id: int, max_depth: int | None = Query(None, ge=0, le=MAX_TREE_DEPTH)):
    """Flat and ordered by path; `max_depth` limits how many levels below the region are included."""
    region = selectors.access_region(request.auth, region_id)
    return selectors.region_subtree(region, max_depth=max_depth)


@router.get(
    "/organisations", response=list[OrganisationOut], tags=["organisations"], summary="Visible organisations"
)
@paginate(LimitOffset)
def organisation_list(request, kind: OrganisationKind | None = None, q: str = ""):
    return selectors.organisation_search(request.auth, query=q, kind=kind or "")


@router.get(
    "/organisations/{organisation_id}",
    response={200: OrganisationDetailOut, 404: ErrorOut},
    tags=["organisations"],
    summary="One organisation",
)
def organisation_detail(request, organisation_id: int):
    return selectors.access_organisation(request.auth, organisation_id)


@router.post(
    "/organisations",
    response={201: OrganisationDetailOut, 400: ServiceErrorOut, 404: ErrorOut},
    tags=["organisations"],
    summary="Register an organisation",
)
def organisation_create(request, payload: OrganisationIn):
    region = selectors.access_region(request.auth, payload.region_id)
    organisation = services.organisation_create(
        created_by=request.auth,
        name=payload.name,
        kind=payload.kind,
        region=region,
        credit_code=payload.credit_code,
        address=payload.address,
        contact_phone=payload.contact_phone,
        description=payload.description,
    )
    return Status(201, organisation)


@router.get("/residents", response=PagedResidentsOut, tags=["residents"], summary="The roster, masked")
def resident_list(
    request,
    page: Query[LimitOffsetInput],
    q: str = "",
    building_id: int | None = None,
    community_id: int | None = None,
):
    """`q` matches a name, a masked phone ("138****5678") or a phone's last four digits. Paginated like every
    list (`limit`, `offset`; `{"items", "count"}`), but built from plain rows and cached as JSON per roles,
    query and roster version (gongzhi.core.rostercache): the hottest list of the API."""

    def build() -> bytes:
        residents = selectors.resident_search(
            request.auth, query=q, building_id=building_id, community_id=community_id
        )
        items = selectors.resident_list_items(request.auth, residents[page.offset : page.offset + page.limit])
        listed = PagedResidentsOut.model_validate({"items": items, "count": residents.count()})
        return json.dumps(listed.model_dump(by_alias=True), cls=NinjaJSONEncoder).encode()

    params = [("q", q), ("building", building_id), ("community", community_id), *page]
    body = cached_roster(request.auth, part="api-residents", params=params, build=build)
    return HttpResponse(body, content_type="application/json; charset=utf-8")


@router.get(
    "/residents/{resident_id}",
    response={200: ResidentDetailOut, 404: ErrorOut},
    tags=["residents"],
    summary="One resident, masked",
)
def resident_detail(request, resident_id: int):
    return selectors.access_resident(request.auth, resident_id)


@router.post(
    "/residents/{resident_id}/unmask",
    response={200: UnmaskedOut, 403: ErrorOut, 404: ErrorOut},
    tags=["residents"],
    summary="The full phone and ID numbers (audited)",
)
def resident_unmask(request, resident_id: int):
    """Every call is written to the audit log, whether or not the numbers are used."""
    resident = selectors.access_resident(request.auth, resident_id)
    try:
        return services.resident_unmask(user=request.auth, resident=resident, request=request)
    except ServiceError as error:
        # The resident is visible, so a refusal is about permission, not existence.
        raise HttpError(403, str(error.message)) from None
