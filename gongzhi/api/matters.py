"""The matters router (诉求): report, list, read and handle matters through the same selectors and services as
the pages, so that every rule lives in gongzhi.matters and nowhere here.

Scope: every matter is reached through `matters_visible_to` (`access_matter`), so a matter the caller may not
see answers 404 exactly like one that does not exist, for reads and for every action alike. The same goes for
ids named in a body that point at scoped things (the resident reported for, the original of a duplicate, the
organisations called in).

Errors: a refused action is the service's ServiceError, answered 400 with its translated message and, where
it concerns one input, the payload's field name (`{"detail": ..., "field": "category_id"}`). The shape of the
input (types, the lengths the models declare, the 1–5 rating) is checked by the schemas and answered 422 with
ninja's list of details, like every router of this API (gongzhi/api/errors.py).

Why 400 and not 409 when two handlers accept at once: the loser's refusal ("already accepted by someone
else") is one case of "this cannot be done while the matter is …", which every transition answers when the
matter's state has moved on: a stale client gets the same answer whether another handler won a race a
moment ago or the matter changed an hour ago, and the remedy is the same (read the matter again). The
services raise one ServiceError for all of these, so answering 409 for the race alone would mean telling
errors apart by their text; the API keeps the one rule "ServiceError → 400" that the README documents.

Photos: the JSON API reports and resolves without photos. Photos are uploaded through the web form, which
checks their type and size and strips their EXIF data; the detail lists every photo's URL.
"""

from decimal import Decimal

from django.http import Http404
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from ninja import Query, Router, Status
from ninja.pagination import paginate

from gongzhi.api.errors import payload_fields
from gongzhi.api.matter_schemas import (
    CallInIn,
    CategoryOut,
    CoHandlerReportIn,
    ConfirmIn,
    DuplicateIn,
    MatterDetailOut,
    MatterIn,
    MatterOut,
    NoteIn,
    ReasonIn,
    ResolveIn,
    WithdrawIn,
)
from gongzhi.api.pagination import LimitOffset
from gongzhi.api.schemas import ErrorOut, ServiceErrorOut
from gongzhi.core import selectors as core_selectors
from gongzhi.core.exceptions import ServiceError
from gongzhi.core.models import Region, RegionLevel
from gongzhi.core.roles import Perm
from gongzhi.core.scope import scope_organisation_ids
from gongzhi.matters import selectors, services
from gongzhi.matters.models import Matter
from gongzhi.matters.models import Status as MatterStatus

router = Router(tags=["matters"])

# The services name the model's fields; a client sent the payload's.
PAYLOAD_FIELDS = {
    "category": "category_id",
    "region": "region_id",
    "on_behalf_of": "on_behalf_of_resident_id",
    "original": "original_id",
    "organisations": "organisation_ids",
}

WRITE_RESPONSES = {200: MatterDetailOut, 400: ServiceErrorOut, 404: ErrorOut}


def api_actions(actions: list[str]) -> list[str]:
    """The selectors name actions as the pages do (call_in); the API's paths use hyphens (call-in)."""
    return [action.replace("_", "-") for action in actions]


def matter_detail_for(user, matter_id: int) -> Matter:
    """The matter as the detail schema reads it: its timeline, co-handlers and the caller's actions."""
    matter = selectors.access_matter(user, matter_id)
    organisation_ids = scope_organisation_ids(user, Perm.ACT_FOR_ORGANISATION)
    co_handlers = list(matter.co_handlers.select_related("organisation"))
    for co_handler in co_handlers:
        co_handler.allowed_actions = selectors.co_handler_actions(co_handler, organisation_ids)
    matter.co_handlers_for_caller = co_handlers
    matter.timeline_for_caller = list(selectors.matter_timeline(matter).defer("actor__mobile"))
    matter.allowed_actions_for_caller = api_actions(selectors.allowed_actions(user, matter, co_handlers))
    return matter


def place(region_id: int) -> Region:
    """A place to report at or filter by. Region names are public (anyone may report anywhere, and the
    board filters by region), so this is not limited to the caller's scope; whether a matter may lie there
    is the reporting service's rule."""
    return get_object_or_404(Region.objects.all(), pk=region_id)


def home_building(user) -> Region | None:
    resident = core_selectors.resident_record_of(user)
    return resident.region if resident else None


def _with_people(matters):
    """The list's rows with what the schema reads, in the same query: names, never encrypted numbers."""
    return matters.select_related("category", "region", "community", "reporter", "on_behalf_of").defer(
        "reporter__mobile", "on_behalf_of__phone", "on_behalf_of__id_number"
    )


# ------------------------------------------------------------------------------------------------- reads


@router.get(
    "/categories",
    response={200: list[CategoryOut], 400: ServiceErrorOut, 404: ErrorOut},
    summary="Categories in use in a community, with their first tier and deadlines",
)
def category_list(request, community_id: int | None = None):
    """Without `community_id`, the caller's own community (from their resident record)."""
    if community_id is not None:
        community = get_object_or_404(core_selectors.claim_communities(), pk=community_id)
    else:
        resident = core_selectors.resident_record_of(request.auth)
        if resident is None:
            raise ServiceError(_("Choose a community."), field="community_id")
        community = resident.community
    return list(services.categories_for(community))


@router.get(
    "/similar",
    response={200: list[MatterOut], 400: ServiceErrorOut, 404: ErrorOut},
    summary="Similar matters nearby, to add “me too” instead of reporting again",
)
def similar_list(
    request,
    category: str,
    region_id: int | None = None,
    latitude: float | None = Query(None, ge=-90, le=90),
    longitude: float | None = Query(None, ge=-180, le=180),
):
    """Same category, same compound or within 250 m, open or closed in the last 30 days. Without
    `region_id`, the caller's own building."""
    region = place(region_id) if region_id is not None else home_building(request.auth)
    if region is None:
        raise ServiceError(_("Choose a place within a community."), field="region_id")
    return selectors.similar_matters(
        request.auth, category_code=category, region=region, latitude=latitude, longitude=longitude
    )


@router.get("/", response={200: list[MatterOut], 404: ErrorOut}, summary="Matters visible to the caller")
@paginate(LimitOffset)
def matter_list(
    request,
    status: MatterStatus | None = None,
    category: str = "",
    region_id: int | None = None,
    mine: bool = False,
    queue: bool = False,
):
    """Newest first. `region_id` keeps the matters anywhere under that region; `mine` those the caller
    reported, entered for someone or follows; `queue` those waiting for the caller as a handler, in the
    queue's own order (most urgent deadline first)."""
    user = request.auth
    if queue:
        matters = selectors.handler_queue(user)
        if mine:
            matters &= selectors.matters_of(user)
    elif mine:
        matters = selectors.matters_of(user)
    else:
        matters = selectors.matters_visible_to(user).order_by("-submitted_at", "-id")
    if status:
        matters = matters.filter(status=status)
    if category:
        matters = matters.filter(category__code=category)
    if region_id is not None:
        region = place(region_id)
        # The matter row carries its community, street and district: filter by the key rather than the path.
        key = {
            RegionLevel.COMMUNITY: "community",
            RegionLevel.STREET: "street",
            RegionLevel.DISTRICT: "district",
        }
        if region.level in key:
            matters = matters.filter(**{key[region.level]: region})
        else:
            matters = matters.filter(region__path__startswith=region.path)
    return _with_people(matters)


@router.get(
    "/{matter_id}", response={200: MatterDetailOut, 404: ErrorOut}, summary="One matter with its timeline"
)
def matter_detail(request, matter_id: int):
    return matter_detail_for(request.auth, matter_id)


# ----------------------------------------------------------------------------------------------- reporting


@router.post(
    "/",
    response={201: MatterDetailOut, 400: ServiceErrorOut, 404: ErrorOut},
    summary="Report a matter (without photos: those go through the web form)",
)
def matter_report(request, payload: MatterIn):
    """The matter is routed to the lowest tier its category names that has someone to handle it there.
    Check GET /matters/similar first: adding "me too" to a matter already reported gets it handled sooner."""
    user = request.auth
    on_behalf_of = (
        core_selectors.access_resident(user, payload.on_behalf_of_resident_id)
        if payload.on_behalf_of_resident_id is not None
        else None
    )
    if payload.region_id is not None:
        region = place(payload.region_id)
    else:
        region = on_behalf_of.region if on_behalf_of else home_building(user)
    community = services.region_at_level(region, RegionLevel.COMMUNITY) if region else None
    if community is None:
        raise ServiceError(_("Choose a place within a community."), field="region_id")
    # Only the categories in use there: a community's own setting replaces the platform default.
    category = services.categories_for(community).filter(pk=payload.category_id).first()
    if category is None:
        raise ServiceError(_("Choose a category from the list."), field="category_id")
    with payload_fields(PAYLOAD_FIELDS):
        matter = services.matter_report(
            entered_by=user,
            category=category,
            description=payload.description,
            region=region,
            urgency=payload.urgency,
            hide_name=payload.hide_name,
            latitude=_coordinate(payload.latitude),
            longitude=_coordinate(payload.longitude),
            on_behalf_of=on_behalf_of,
        )
    return Status(201, matter_detail_for(user, matter.pk))


def _coordinate(value: float | None) -> Decimal | None:
    """To the model's six decimal places (about 0.1 m): GPS readings come with more."""
    return None if value is None else round(Decimal(repr(value)), 6)


@router.post("/{matter_id}/me-too", response=WRITE_RESPONSES, summary="Say this matters to you too")
def matter_me_too(request, matter_id: int):
    """The caller then follows the matter and hears of each change."""
    matter = selectors.access_matter(request.auth, matter_id)
    services.matter_me_too(matter=matter, user=request.auth)
    return matter_detail_for(request.auth, matter_id)


@router.post("/{matter_id}/withdraw", response=WRITE_RESPONSES, summary="Withdraw a matter you reported")
def matter_withdraw(request, matter_id: int, payload: WithdrawIn):
    matter = selectors.access_matter(request.auth, matter_id)
    services.matter_withdraw(matter=matter, user=request.auth, reason=payload.reason)
    return matter_detail_for(request.auth, matter_id)


@router.post(
    "/{matter_id}/confirm", response=WRITE_RESPONSES, summary="Confirm a resolution and rate it, or reopen it"
)
def matter_confirm(request, matter_id: int, payload: ConfirmIn):
    matter = selectors.access_matter(request.auth, matter_id)
    services.matter_confirm(
        matter=matter,
        user=request.auth,
        resolved=payload.resolved,
        rating=payload.rating,
        comment=payload.comment,
    )
    return matter_detail_for(request.auth, matter_id)


# ------------------------------------------------------------------------------------------------ handling


@router.post("/{matter_id}/accept", response=WRITE_RESPONSES, summary="Accept a matter (the first response)")
def matter_accept(request, matter_id: int, payload: NoteIn):
    """Of two handlers accepting at once, one wins; the other gets 400 with the message that the matter
    has already been accepted (see the module's notes on 400 rather than 409)."""
    matter = selectors.access_matter(request.auth, matter_id)
    services.matter_accept(matter=matter, handler=request.auth, note=payload.note)
    return matter_detail_for(request.auth, matter_id)


@router.post("/{matter_id}/start", response=WRITE_RESPONSES, summary="Start work on an accepted matter")
def matter_start(request, matter_id: int, payload: NoteIn):
    matter = selectors.access_matter(request.auth, matter_id)
    services.matter_start(matter=matter, handler=request.auth, note=payload.note)
    return matter_detail_for(request.auth, matter_id)


@router.post("/{matter_id}/resolve", response=WRITE_RESPONSES, summary="Resolve a matter with a note")
def matter_resolve(request, matter_id: int, payload: ResolveIn):
    """The reporter is then asked to confirm; without an answer in 7 days it closes as auto-confirmed."""
    matter = selectors.access_matter(request.auth, matter_id)
    services.matter_resolve(matter=matter, handler=request.auth, note=payload.note)
    return matter_detail_for(request.auth, matter_id)


@router.post("/{matter_id}/escalate", response=WRITE_RESPONSES, summary="Escalate to the next tier")
def matter_escalate(request, matter_id: int, payload: ReasonIn):
    matter = selectors.access_matter(request.auth, matter_id)
    services.matter_escalate(matter=matter, handler=request.auth, reason=payload.reason)
    return matter_detail_for(request.auth, matter_id)


@router.post(
    "/{matter_id}/return", response=WRITE_RESPONSES, summary="Return as “not ours” (goes one tier up)"
)
def matter_return(request, matter_id: int, payload: ReasonIn):
    matter = selectors.access_matter(request.auth, matter_id)
    services.matter_return(matter=matter, handler=request.auth, reason=payload.reason)
    return matter_detail_for(request.auth, matter_id)


@router.post("/{matter_id}/duplicate", response=WRITE_RESPONSES, summary="Mark as a duplicate of another")
def matter_duplicate(request, matter_id: int, payload: DuplicateIn):
    """Whoever followed this matter then follows the original."""
    matter = selectors.access_matter(request.auth, matter_id)
    original = selectors.access_matter(request.auth, payload.original_id)
    with payload_fields(PAYLOAD_FIELDS):
        services.matter_mark_duplicate(matter=matter, handler=request.auth, original=original)
    return matter_detail_for(request.auth, matter_id)


@router.post(
    "/{matter_id}/call-in",
    response=WRITE_RESPONSES,
    summary="Call in departments (吹哨报到, street tier and up)",
)
def matter_call_in(request, matter_id: int, payload: CallInIn):
    """Each organisation must then accept and report (POST /matters/co-handlers/{id}/accept, /report)
    before the matter can be resolved."""
    matter = selectors.access_matter(request.auth, matter_id)
    wanted = set(payload.organisation_ids)
    organisations = list(core_selectors.organisations_visible_to(request.auth).filter(pk__in=wanted))
    if len(organisations) != len(wanted):
        raise Http404  # one the caller cannot see answers like one that does not exist
    with payload_fields(PAYLOAD_FIELDS):
        services.matter_call_in(
            matter=matter, officer=request.auth, organisations=organisations, note=payload.note
        )
    return matter_detail_for(request.auth, matter_id)


@router.post(
    "/co-handlers/{co_handler_id}/accept",
    response=WRITE_RESPONSES,
    summary="Accept a call-in for your organisation",
)
def co_handler_accept(request, co_handler_id: int):
    co_handler = selectors.access_co_handler(request.auth, co_handler_id)
    services.co_handler_accept(co_handler=co_handler, user=request.auth)
    return matter_detail_for(request.auth, co_handler.matter_id)


@router.post(
    "/co-handlers/{co_handler_id}/report",
    response=WRITE_RESPONSES,
    summary="Report on a call-in for your organisation",
)
def co_handler_report(request, co_handler_id: int, payload: CoHandlerReportIn):
    co_handler = selectors.access_co_handler(request.auth, co_handler_id)
    services.co_handler_report(co_handler=co_handler, user=request.auth, report=payload.report)
    return matter_detail_for(request.auth, co_handler.matter_id)
