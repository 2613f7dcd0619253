"""Open311 GeoReport v2 at /open311/v2/, so that existing civic-tech clients can read and report matters.

http://wiki.open311.org/GeoReport_v2 and http://wiki.open311.org/Service_Discovery. One jurisdiction, so
`jurisdiction_id` is ignored. Every resource answers in `.xml` (required by the spec) and `.json`; the two are
built from the same Python values, following the spec's "Spark convention" mapping between them.

What is exposed is what the public board shows and no more: never a matter of a private category, never a
withdrawn one, never who reported it (name, phone, account). A service is a matter category (its `code`);
an address is a place of the region tree (its id). Reading is anonymous; reporting needs an API key, which
is one of the platform's own API tokens (`gz_…`), whose owner becomes the reporter.
"""

import datetime
import functools
import json
import re
import uuid
import xml.etree.ElementTree as ET
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.db.models import OuterRef, QuerySet, Subquery
from django.http import HttpRequest, HttpResponse
from django.urls import re_path, reverse
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.csrf import csrf_exempt

from gongzhi.api.auth import TokenRefused, token_auth
from gongzhi.core.exceptions import ServiceError
from gongzhi.core.models import Organisation, OrganisationKind, Region, RegionLevel
from gongzhi.core.selectors import resident_record_of
from gongzhi.matters.models import (
    OPEN_STATUSES,
    Category,
    DeadlineUnit,
    Event,
    Matter,
    MatterPhoto,
    Status,
    Tier,
    Urgency,
)
from gongzhi.matters.selectors import public_board
from gongzhi.matters.services import categories_for, matter_report, region_at_level

app_name = "open311"

SPECIFICATION = "http://wiki.open311.org/GeoReport_v2"
# Sortable; bump it when the services or their definitions change shape, so clients refresh their caches.
CHANGESET = "2026-01-01T00:00:00+08:00"
# GeoReport v2, GET Service Requests: "a span of 90 days or first 1000 requests returned, whichever is
# smallest". page/page_size is the pagination extension most servers implement (GeoReport_v2/Extensions).
MAX_SPAN = datetime.timedelta(days=90)
MAX_PAGE_SIZE = 1000
CLOSED_STATUSES = [Status.CLOSED, Status.DUPLICATE]

# The events whose note a handler (or a department called in) wrote for the record: safe to publish as
# status_notes. The reporter's own words (a confirmation comment, a withdrawal reason) never are.
HANDLER_NOTE_KINDS = {
    Event.Kind.ACCEPTED,
    Event.Kind.STARTED,
    Event.Kind.RESOLVED,
    Event.Kind.RETURNED,
    Event.Kind.ESCALATED,
    Event.Kind.CALLED_IN,
    Event.Kind.CO_REPORTED,
}
# The organisation that answers for a tier, looked for in the handling region itself.
TIER_AGENCY_KINDS = {
    Tier.COMMUNITY: OrganisationKind.RESIDENTS_COMMITTEE,
    Tier.STREET: OrganisationKind.STREET_OFFICE,
}
# XML element names of list items, by the name of the list (Spark convention).
XML_ITEMS = {
    "services": "service",
    "service_requests": "request",
    "errors": "error",
    "attributes": "attribute",
    "values": "value",
    "endpoints": "endpoint",
    "formats": "format",
}
CONTENT_TYPES = {"xml": "text/xml; charset=utf-8", "json": "application/json; charset=utf-8"}
# XML 1.0 cannot carry most control characters, which a pasted description may hold.
XML_INVALID = re.compile("[^\x09\x0a\x0d\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


class Open311Error(Exception):
    """A request that cannot be answered: rendered as the spec's list of {code, description}."""

    def __init__(self, status: int, description: str):
        super().__init__(description)
        self.status = status
        self.description = description


# ------------------------------------------------------------------------------------------- rendering


def _xml_element(tag: str, value) -> ET.Element:
    element = ET.Element(tag)
    if isinstance(value, dict):
        for key, child in value.items():
            element.append(_xml_element(key, child))
    elif isinstance(value, list):
        for child in value:
            element.append(_xml_element(XML_ITEMS[tag], child))
    elif isinstance(value, bool):
        element.text = "true" if value else "false"
    elif value is not None:
        element.text = XML_INVALID.sub("", str(value))
    return element


def _render(fmt: str, root: str, data, *, status: int = 200) -> HttpResponse:
    if fmt == "json":
        body = json.dumps(data, ensure_ascii=False).encode()
    else:
        # The spec asks for the declaration with encoding="UTF-8" before the root element.
        body = b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(
            _xml_element(root, data), encoding="utf-8", xml_declaration=False
        )
    return HttpResponse(body, status=status, content_type=CONTENT_TYPES[fmt])


def _errors(fmt: str, error: Open311Error) -> HttpResponse:
    return _render(
        fmt, "errors", [{"code": error.status, "description": error.description}], status=error.status
    )


def _w3c(moment: datetime.datetime | None) -> str | None:
    """ISO 8601 as the w3 note has it, always with the offset: 2026-01-05T10:00:00+08:00."""
    return timezone.localtime(moment).isoformat(timespec="seconds") if moment else None


def _endpoint(methods: tuple[str, ...]):
    """Turns an Open311Error raised by the view into the error list, in the format the URL asked for, and
    answers any other method with 405 in the same shape."""

    def decorate(view):
        @functools.wraps(view)
        def wrapped(request: HttpRequest, fmt: str, **kwargs) -> HttpResponse:
            if request.method not in methods:
                response = _errors(fmt, Open311Error(405, _("This resource does not answer that method.")))
                response["Allow"] = ", ".join(methods)
                return response
            try:
                return view(request, fmt, **kwargs)
            except Open311Error as error:
                return _errors(fmt, error)

        return wrapped

    return decorate


def _not_found() -> Open311Error:
    return Open311Error(404, _("Not found."))


# ------------------------------------------------------------------------------------------- discovery


@_endpoint(("GET", "HEAD"))
def discovery(request: HttpRequest, fmt: str) -> HttpResponse:
    endpoint_url = request.build_absolute_uri(reverse("open311:root"))
    data = {
        "changeset": CHANGESET,
        "contact": _("Ask your community's residents' committee, or the operators of this platform."),
        "key_service": _("Sign in, open “My page” and create an API token; send it as api_key: %(url)s")
        % {"url": request.build_absolute_uri(reverse("me"))},
        "endpoints": [
            {
                "specification": SPECIFICATION,
                "url": endpoint_url.rstrip("/"),
                "changeset": CHANGESET,
                "type": "test" if settings.DEBUG else "production",
                "formats": [CONTENT_TYPES["xml"].split(";")[0], CONTENT_TYPES["json"].split(";")[0]],
            }
        ],
    }
    return _render(fmt, "discovery", data)


# -------------------------------------------------------------------------------------------- services


def _open311_categories() -> QuerySet[Category]:
    # Private categories (neighbour disputes) are not Open311 services: their matters could never be read
    # back through this API, and they belong in a conversation, not a civic-tech client.
    return Category.objects.filter(is_active=True, is_private=False)


def _services() -> list[Category]:
    """One service per category code: the platform default where it is in use, and otherwise the first
    community that keeps its own category under that code."""
    categories = _open311_categories()
    defaults = list(categories.filter(community=None))
    listed = {category.code for category in defaults}
    for category in categories.exclude(code__in=listed).order_by("code", "id"):
        if category.code not in listed:
            listed.add(category.code)
            defaults.append(category)
    return sorted(defaults, key=lambda category: (category.position, category.code))


def _service(code: str) -> Category | None:
    categories = _open311_categories().filter(code=code)
    return categories.filter(community=None).first() or categories.order_by("id").first()


def _deadline(amount: int, unit: str) -> str:
    if unit == DeadlineUnit.HOURS:
        return ngettext("%(count)s hour", "%(count)s hours", amount) % {"count": amount}
    return ngettext("%(count)s working day", "%(count)s working days", amount) % {"count": amount}


def _service_item(category: Category) -> dict:
    group = _(category.group) if category.group else ""
    description = _(category.description) if category.description else ""
    deadlines = _("First response within %(response)s; resolved within %(resolution)s.") % {
        "response": _deadline(category.response_amount, category.response_unit),
        "resolution": _deadline(category.resolution_amount, category.resolution_unit),
    }
    return {
        "service_code": category.code,
        "service_name": _(category.name),
        "description": f"{description} {deadlines}".strip(),
        # Every service has a definition: the urgency and hide_name attributes below.
        "metadata": True,
        "type": "realtime",
        "keywords": ", ".join(filter(None, [group, category.code.replace("-", " ")])),
        "group": group,
    }


@_endpoint(("GET", "HEAD"))
def services(request: HttpRequest, fmt: str) -> HttpResponse:
    return _render(fmt, "services", [_service_item(category) for category in _services()])


def _attributes() -> list[dict]:
    """What a report can carry beyond the description and the place, as the web form has it."""
    return [
        {
            "variable": True,
            "code": "urgency",
            "datatype": "singlevaluelist",
            "required": False,
            "datatype_description": _("Choose one; normal when left out."),
            "order": 1,
            "description": _("How urgent is it?"),
            "values": [{"key": key, "name": str(label)} for key, label in Urgency.choices],
        },
        {
            "variable": True,
            "code": "hide_name",
            "datatype": "singlevaluelist",
            "required": False,
            "datatype_description": _("Choose one; false when left out."),
            "order": 2,
            "description": _("Hide my name from the public?"),
            "values": [
                {"key": "false", "name": _("No")},
                {"key": "true", "name": _("Yes, hide my name")},
            ],
        },
    ]


@_endpoint(("GET", "HEAD"))
def service_definition(request: HttpRequest, fmt: str, service_code: str) -> HttpResponse:
    if _service(service_code) is None:
        raise Open311Error(404, _("There is no service with the code “%(code)s”.") % {"code": service_code})
    return _render(fmt, "service_definition", {"service_code": service_code, "attributes": _attributes()})


# -------------------------------------------------------------------------------------------- requests


def _published_matters() -> QuerySet[Matter]:
    """The public board's matters (no private category, no withdrawn matter), with what a request item
    shows loaded in the same query: the latest event and the first photo come as subqueries."""
    latest = Event.objects.filter(matter=OuterRef("pk")).order_by("-at", "-id")
    first_photo = MatterPhoto.objects.filter(matter=OuterRef("pk")).order_by("uploaded_at", "id")
    return (
        public_board()
        .select_related("category", "region__parent", "community", "handling_region", "street")
        .annotate(
            latest_event_at=Subquery(latest.values("at")[:1]),
            latest_event_kind=Subquery(latest.values("kind")[:1]),
            latest_event_note=Subquery(latest.values("note")[:1]),
            first_photo=Subquery(first_photo.values("pk")[:1]),
        )
    )


def _agencies(matters: list[Matter]) -> dict[tuple[int, str], str]:
    """The residents' committee or street office of each handling region, in one query."""
    region_ids = {matter.handling_region_id for matter in matters if matter.tier in TIER_AGENCY_KINDS}
    if not region_ids:
        return {}
    agencies: dict[tuple[int, str], str] = {}
    organisations = Organisation.objects.filter(
        region_id__in=region_ids, kind__in=TIER_AGENCY_KINDS.values()
    ).order_by("-id")
    for region_id, kind, name in organisations.values_list("region_id", "kind", "name"):
        agencies[(region_id, kind)] = name  # the oldest wins
    return agencies


def _agency(matter: Matter, agencies: dict[tuple[int, str], str]) -> str:
    kind = TIER_AGENCY_KINDS.get(matter.tier)
    return agencies.get((matter.handling_region_id, kind)) or matter.handling_region.name


def _status_notes(matter: Matter) -> str | None:
    kind = matter.latest_event_kind
    if not kind:
        return None
    if kind == Event.Kind.DUPLICATE and matter.duplicate_of_id:
        return _("Duplicate of request %(id)s.") % {"id": matter.duplicate_of_id}
    if kind in HANDLER_NOTE_KINDS and matter.latest_event_note:
        return matter.latest_event_note
    return str(Event.Kind(kind).label)


def _address(matter: Matter) -> str:
    """Most specific first, as the spec asks: 清波院落 1栋, 清波社区, 苏坡街道."""
    parts = [matter.region.label]
    for region in (matter.community, matter.street):
        if region.pk != matter.region_id:
            parts.append(region.name)
    return ", ".join(parts)


def _media_url(request: HttpRequest, matter: Matter) -> str | None:
    if not matter.first_photo:
        return None
    return request.build_absolute_uri(reverse("matters:photo", args=[matter.pk, matter.first_photo]))


def _request_item(request: HttpRequest, matter: Matter, agencies: dict[tuple[int, str], str]) -> dict:
    # The reporter is deliberately absent: no name, phone or account, whatever hide_name says.
    is_open = matter.status in OPEN_STATUSES
    updated = matter.latest_event_at or matter.submitted_at
    if matter.status == Status.CLOSED and matter.closed_at:
        updated = matter.closed_at  # "for requests with status=closed, the date the request was closed"
    return {
        "service_request_id": matter.pk,
        "status": "open" if is_open else "closed",
        "status_notes": _status_notes(matter),
        "service_name": _(matter.category.name),
        "service_code": matter.category.code,
        "description": matter.description,
        "agency_responsible": _agency(matter, agencies),
        "service_notice": _("Handled at tier: %(tier)s.") % {"tier": matter.get_tier_display()},
        "requested_datetime": _w3c(matter.submitted_at),
        "updated_datetime": _w3c(updated),
        "expected_datetime": _w3c(matter.resolution_due),
        "address": _address(matter),
        "address_id": matter.region_id,
        "zipcode": None,
        "lat": float(matter.latitude) if matter.latitude is not None else None,
        "long": float(matter.longitude) if matter.longitude is not None else None,
        "media_url": _media_url(request, matter),
    }


def _request_items(request: HttpRequest, matters: list[Matter]) -> list[dict]:
    agencies = _agencies(matters)
    return [_request_item(request, matter, agencies) for matter in matters]


def _csv(request: HttpRequest, name: str) -> list[str]:
    return [part.strip() for part in request.GET.get(name, "").split(",") if part.strip()]


def _moment(request: HttpRequest, name: str, *, end: bool) -> datetime.datetime | None:
    """A w3c datetime (2010-01-01T00:00:00Z, or with an offset) or a date. A "+" left unencoded in a query
    string arrives as a space: read it back as the offset it was. A date alone means the whole day."""
    value = request.GET.get(name, "").strip().replace(" ", "+")
    if not value:
        return None
    try:
        moment = parse_datetime(value)
        day = None if moment else parse_date(value)
    except ValueError:
        moment = day = None
    if day is not None:
        moment = datetime.datetime.combine(day, datetime.time.max if end else datetime.time.min)
    if moment is None:
        raise Open311Error(
            400,
            _("%(name)s must be a date and time such as 2026-01-05T00:00:00+08:00.") % {"name": name},
        )
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment)
    return moment


def _period(request: HttpRequest) -> tuple[datetime.datetime, datetime.datetime]:
    start, end = _moment(request, "start_date", end=False), _moment(request, "end_date", end=True)
    if start is None and end is None:
        end = timezone.now()
    if start is None:
        start = end - MAX_SPAN
    if end is None:
        end = start + MAX_SPAN
    if start > end:
        raise Open311Error(400, _("start_date must come before end_date."))
    if end - start > MAX_SPAN:
        raise Open311Error(400, _("start_date and end_date may not span more than 90 days."))
    return start, end


def _positive(request: HttpRequest, name: str, default: int, maximum: int | None = None) -> int:
    value = request.GET.get(name, "").strip()
    if not value:
        return default
    if not value.isdigit() or not 1 <= int(value) <= (maximum or int(value)):
        raise Open311Error(
            400,
            _("%(name)s must be a whole number from 1 to %(maximum)s.") % {"name": name, "maximum": maximum}
            if maximum
            else _("%(name)s must be a whole number from 1.") % {"name": name},
        )
    return int(value)


def _requests_list(request: HttpRequest, fmt: str) -> HttpResponse:
    matters = _published_matters()
    ids = _csv(request, "service_request_id")
    if ids:
        # "This overrides all other arguments."
        if not all(part.isdigit() and len(part) <= 18 for part in ids):
            raise Open311Error(400, _("service_request_id must be a comma-separated list of numbers."))
        matters = matters.filter(pk__in=[int(part) for part in ids[:MAX_PAGE_SIZE]])
    else:
        start, end = _period(request)
        matters = matters.filter(submitted_at__gte=start, submitted_at__lte=end)
        codes = _csv(request, "service_code")
        if codes:
            matters = matters.filter(category__code__in=codes)
        statuses = set(_csv(request, "status"))
        if statuses - {"open", "closed"}:
            raise Open311Error(400, _("status must be open, closed, or both separated by a comma."))
        if statuses == {"open"}:
            matters = matters.filter(status__in=OPEN_STATUSES)
        elif statuses == {"closed"}:
            matters = matters.filter(status__in=CLOSED_STATUSES)
    page = _positive(request, "page", 1)
    page_size = _positive(request, "page_size", MAX_PAGE_SIZE, MAX_PAGE_SIZE)
    offset = (page - 1) * page_size
    return _render(
        fmt, "service_requests", _request_items(request, list(matters[offset : offset + page_size]))
    )


@_endpoint(("GET", "HEAD"))
def request_detail(request: HttpRequest, fmt: str, service_request_id: str) -> HttpResponse:
    matter = _published_matters().filter(pk=int(service_request_id)).first()
    if matter is None:
        # A private or withdrawn matter answers exactly like one that does not exist.
        raise _not_found()
    return _render(fmt, "service_requests", _request_items(request, [matter]))


@_endpoint(("GET", "HEAD"))
def token_detail(request: HttpRequest, fmt: str, token: str) -> HttpResponse:
    try:
        token = uuid.UUID(token)
    except ValueError:
        raise _not_found() from None
    matter = public_board().select_related(None).filter(token=token).only("pk", "token").first()
    if matter is None:
        raise _not_found()
    return _render(fmt, "service_requests", [{"service_request_id": matter.pk, "token": str(matter.token)}])


# ------------------------------------------------------------------------------------------- reporting

# ServiceError fields of matter_report, by the name the Open311 client sent them under.
PARAMETER_NAMES = {
    "description": "description",
    "region": "address_id",
    "latitude": "lat",
    "urgency": "attribute[urgency]",
    "category": "service_code",
}


def _caller(request: HttpRequest):
    """The owner of the api_key: a platform API token, checked exactly as the REST API checks it."""
    api_key = (request.POST.get("api_key") or request.GET.get("api_key") or "").strip()
    if not api_key:
        raise Open311Error(403, _("An api_key is required: create an API token on “My page”."))
    try:
        return token_auth.authenticate(request, api_key)
    except TokenRefused:
        raise Open311Error(403, _("This api_key is unknown or has been revoked.")) from None


def _coordinate(request: HttpRequest, name: str, limit: int) -> Decimal | None:
    value = request.POST.get(name, "").strip()
    if not value:
        return None
    try:
        number = Decimal(value)
    except InvalidOperation:
        number = None
    if number is None or not number.is_finite() or abs(number) > limit:
        raise Open311Error(400, _("%(name)s must be a number of degrees (WGS84).") % {"name": name})
    return number.quantize(Decimal("0.000001"))


def _location(request: HttpRequest, user) -> Region:
    """address_id names a place of the region tree; without it the caller's own building is meant."""
    address_id = request.POST.get("address_id", "").strip()
    if address_id:
        known = address_id.isdigit() and len(address_id) <= 18
        region = Region.objects.filter(pk=int(address_id)).first() if known else None
        if region is None:
            raise Open311Error(400, _("address_id %(id)s is not a place we know.") % {"id": address_id})
        return region
    record = resident_record_of(user)
    if record is None:
        raise Open311Error(
            400,
            _(
                "Give address_id (a place of the region tree): lat/long or an address_string alone cannot be "
                "placed, and the owner of this api_key has no building on the roster."
            ),
        )
    return record.region


def _category(code: str, region: Region) -> Category:
    """The category under that code as the place's community has configured it."""
    community = region_at_level(region, RegionLevel.COMMUNITY)
    if community is None:
        raise Open311Error(400, _("address_id must name a place within a community."))
    category = categories_for(community).filter(code=code, is_private=False).first()
    if category is None:
        raise Open311Error(400, _("service_code “%(code)s” is not offered at this place.") % {"code": code})
    return category


def _hide_name(request: HttpRequest) -> bool:
    value = request.POST.get("attribute[hide_name]", "false").strip().lower() or "false"
    if value not in ("true", "false"):
        raise Open311Error(400, _("attribute[hide_name] must be true or false."))
    return value == "true"


def _requests_create(request: HttpRequest, fmt: str) -> HttpResponse:
    user = _caller(request)
    code = request.POST.get("service_code", "").strip()
    if not code:
        raise Open311Error(400, _("service_code is required."))
    if _service(code) is None:
        raise Open311Error(400, _("There is no service with the code “%(code)s”.") % {"code": code})
    latitude, longitude = _coordinate(request, "lat", 90), _coordinate(request, "long", 180)
    hide_name = _hide_name(request)
    region = _location(request, user)
    category = _category(code, region)
    # first_name, last_name, email, phone, device_id, account_id and media_url are ignored: the reporter is
    # the key's owner, whose details the platform already holds, and photos come only as checked uploads.
    try:
        matter = matter_report(
            entered_by=user,
            category=category,
            description=request.POST.get("description", ""),
            region=region,
            urgency=request.POST.get("attribute[urgency]", "").strip() or Urgency.NORMAL,
            hide_name=hide_name,
            latitude=latitude,
            longitude=longitude,
        )
    except ServiceError as error:
        name = PARAMETER_NAMES.get(error.field or "")
        message = str(error.message)
        raise Open311Error(400, f"{name}: {message}" if name else message) from None
    agency = _agency(matter, _agencies([matter]))
    notice = _(
        "Received. %(agency)s handles it at tier: %(tier)s. Expect a first response by %(response)s and "
        "a resolution by %(resolution)s."
    ) % {
        "agency": agency,
        "tier": matter.get_tier_display(),
        "response": timezone.localtime(matter.response_due).strftime("%Y-%m-%d %H:%M"),
        "resolution": timezone.localtime(matter.resolution_due).strftime("%Y-%m-%d %H:%M"),
    }
    created = {
        "service_request_id": matter.pk,
        "token": str(matter.token),
        "service_notice": notice,
        "account_id": user.pk,
    }
    return _render(fmt, "service_requests", [created], status=201)


@csrf_exempt  # authenticated by its api_key, never by a session cookie
@_endpoint(("GET", "HEAD", "POST"))
def requests(request: HttpRequest, fmt: str) -> HttpResponse:
    if request.method == "POST":
        return _requests_create(request, fmt)
    return _requests_list(request, fmt)


def not_found(request: HttpRequest, path: str) -> HttpResponse:
    """Anything else, including a format other than .xml or .json: 404 in XML, the spec's required format."""
    fmt = "json" if path.endswith(".json") else "xml"
    return _errors(fmt, _not_found())


def root(request: HttpRequest) -> HttpResponse:
    return _errors("xml", Open311Error(404, _("Start from discovery.xml or discovery.json.")))


FORMAT = r"\.(?P<fmt>json|xml)$"

urlpatterns = [
    re_path(r"^$", root, name="root"),
    re_path(r"^discovery" + FORMAT, discovery, name="discovery"),
    re_path(r"^services" + FORMAT, services, name="services"),
    re_path(r"^services/(?P<service_code>[-\w]+)" + FORMAT, service_definition, name="service"),
    re_path(r"^requests" + FORMAT, requests, name="requests"),
    re_path(r"^requests/(?P<service_request_id>\d{1,18})" + FORMAT, request_detail, name="request"),
    re_path(r"^tokens/(?P<token>[-\w]+)" + FORMAT, token_detail, name="token"),
    re_path(r"^(?P<path>.+)$", not_found),
]
