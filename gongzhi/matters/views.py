"""Matter pages: the public board, reporting (with similar matters nearby), a matter's page with its
timeline and the actions open to the viewer, the handler's queue and the reporter's own list.

Thin: parse a form, call one selector or service, render. Anything the viewer may not see is a 404."""

from pathlib import Path

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from gongzhi.core.exceptions import ServiceError
from gongzhi.core.forms import add_service_error
from gongzhi.core.models import Region
from gongzhi.core.roles import Perm
from gongzhi.core.scope import has_perm_in, scope_regions
from gongzhi.core.selectors import access_resident, organisations_visible_to, resident_record_of
from gongzhi.core.services import community_of
from gongzhi.matters import selectors, services
from gongzhi.matters.forms import (
    BoardFilterForm,
    CallInForm,
    CategoryConfigForm,
    ConfirmForm,
    CoReportForm,
    DuplicateForm,
    NoteForm,
    ReasonForm,
    ReportForm,
    ResolveForm,
    WithdrawForm,
)
from gongzhi.matters.models import Category, CoHandler, Status

BOARD_PAGE_SIZE = 20


class Page:
    """A page of a matter list without a COUNT: the board spans a city's year of matters, and counting a
    million rows costs more than showing twenty. One extra row tells whether there is a next page."""

    def __init__(self, matters, number: int, size: int):
        rows = selectors.matter_rows(matters, offset=(number - 1) * size, limit=size + 1)
        self.number = number
        self.object_list = rows[:size]
        self.has_next = len(rows) > size
        self.has_previous = number > 1
        self.next_page_number = number + 1
        self.previous_page_number = number - 1

    def __iter__(self):
        return iter(self.object_list)


def page_number(request) -> int:
    try:
        return max(1, min(int(request.GET.get("page", 1)), 10_000))
    except ValueError:
        return 1


@require_GET
def board(request):
    form = BoardFilterForm(
        request.GET or None,
        areas=_board_areas(request.GET.get("region")),
        category_choices=[
            (code, _(name))
            for code, name in Category.objects.filter(community=None).values_list("code", "name")
        ],
    )
    filters = form.cleaned_data if form.is_valid() else {}
    matters = selectors.public_board(
        region=filters.get("region"),
        category_code=filters.get("category", ""),
        status=filters.get("status", ""),
        since=filters.get("since"),
        until=filters.get("until"),
    )
    page = Page(matters, page_number(request), BOARD_PAGE_SIZE)
    template = "matters/_board_results.html" if request.headers.get("HX-Request") else "matters/board.html"
    return render(request, template, {"form": form, "page": page})


def _board_areas(chosen: str | None):
    """Districts and streets to filter by, and the community chosen by following a matter's place link: a
    city's thousands of communities would make a list nobody can use (and cost more than the page)."""
    areas = Q(level__in=[Region.Level.DISTRICT, Region.Level.STREET])
    if chosen and chosen.isdigit():
        areas |= Q(pk=int(chosen), level=Region.Level.COMMUNITY)
    return Region.objects.filter(areas).only("id", "name", "path").order_by("path")


PLACE_LEVELS = [Region.Level.COMMUNITY, Region.Level.GRID, Region.Level.COMPOUND, Region.Level.BUILDING]


def _report_places(user, resident) -> tuple[Region | None, Region | None, list[Region]]:
    """Where a report can be about: the places of the resident's community, their building first; or, for
    a grid worker or leader reporting what they found on their rounds, the places of the area they keep."""
    if resident is not None:
        area, start = resident.community, resident.region
    else:
        area = next(
            (
                region
                for region in scope_regions(user, Perm.REPORT_FOR_RESIDENTS)
                if region.level in PLACE_LEVELS
            ),
            None,
        )
        start = area
    if area is None:
        return None, None, []
    places = Region.objects.filter(path__startswith=area.path, level__in=PLACE_LEVELS).select_related(
        "parent"
    )
    return area, start, places.order_by("path")


@login_required
@require_http_methods(["GET", "POST"])
def report(request):
    on_behalf_of = None
    if request.GET.get("for"):
        on_behalf_of = access_resident(request.user, _int_or_404(request.GET["for"]))
        if not has_perm_in(request.user, Perm.REPORT_FOR_RESIDENTS, on_behalf_of.region):
            raise Http404
    resident = on_behalf_of or resident_record_of(request.user)
    area, start, places = _report_places(request.user, resident)
    if area is None:
        return render(request, "matters/report_needs_record.html", status=200)
    form = ReportForm(
        request.POST or None,
        request.FILES or None,
        categories=services.categories_for(
            area if area.level == Region.Level.COMMUNITY else community_of(area)
        ),
        places=places,
        initial={"region": start.pk},
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            matter = services.matter_report(
                entered_by=request.user,
                on_behalf_of=on_behalf_of,
                category=data["category"],
                description=data["description"],
                region=data["region"],
                urgency=data["urgency"],
                hide_name=data["hide_name"],
                latitude=data["latitude"],
                longitude=data["longitude"],
                photos=data["photos"],
            )
        except ServiceError as error:
            add_service_error(form, error)
        else:
            messages.success(
                request,
                _("Thank you. Your matter has been passed to %(place)s.")
                % {"place": matter.handling_region.name},
            )
            return redirect("matters:detail", matter.pk)
    return render(request, "matters/report.html", {"form": form, "on_behalf_of": on_behalf_of})


def _int_or_404(value) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise Http404 from None


@login_required
@require_GET
def similar(request):
    """The HTMX panel on the report form: matters like this one nearby, each with a "me too" button."""
    try:
        category = Category.objects.get(pk=int(request.GET.get("category", "")))
        region = Region.objects.get(pk=int(request.GET.get("region", "")))
        latitude = float(request.GET["latitude"]) if request.GET.get("latitude") else None
        longitude = float(request.GET["longitude"]) if request.GET.get("longitude") else None
    except (ValueError, Category.DoesNotExist, Region.DoesNotExist):
        return render(request, "matters/_similar.html", {"matters": []})
    matters = selectors.similar_matters(
        request.user, category_code=category.code, region=region, latitude=latitude, longitude=longitude
    )
    return render(request, "matters/_similar.html", {"matters": matters})


def detail(request, matter_id: int):
    return _detail_page(request, selectors.access_matter(request.user, matter_id))


def _detail_page(request, matter, *, failed: tuple[str, object] | None = None):
    """The matter's page; after a refused action, with that action's form and its errors open."""
    user = request.user
    co_handlers = list(matter.co_handlers.select_related("organisation"))
    actions = selectors.allowed_actions(user, matter, co_handlers)
    context = {
        "matter": matter,
        "events": selectors.matter_timeline(matter),
        "photos": list(matter.photos.all()),
        "co_handlers": co_handlers,
        "actions": actions,
        "may_see_people": services.is_reporter(user, matter)
        or (user.is_authenticated and has_perm_in(user, Perm.VIEW_MATTERS, matter.region)),
        "following": selectors.is_following(user, matter),
        "forms": _action_forms(user, matter, actions, bound=failed),
        "failed_action": failed[0] if failed else "",
        "my_calls": _my_calls(user, matter),
    }
    return render(request, "matters/detail.html", context, status=400 if failed else 200)


def _action_forms(user, matter, actions, bound: tuple[str, object] | None = None) -> dict:
    """An empty form for each action the viewer may take, or the bound one that failed."""
    forms = {}
    for action in actions:
        if action in ACTIONS:
            form_class = ACTIONS[action][0]
            kwargs = {"organisations": _call_in_choices(user, matter)} if action == "call_in" else {}
            forms[action] = form_class(**kwargs)
    if bound:
        forms[bound[0]] = bound[1]
    return forms


def _call_in_choices(user, matter):
    return organisations_visible_to(user).filter(region__path__startswith=matter.handling_region.path)


def _my_calls(user, matter) -> list[tuple[CoHandler, object]]:
    """Calls to the viewer's organisations on this matter, each with the form it is waiting for."""
    calls = []
    for call in selectors.co_handling_for(user).filter(matter=matter):
        calls.append((call, CoReportForm() if call.state == CoHandler.State.ACCEPTED else None))
    return calls


ACTIONS = {
    # action: (form, call the service with the cleaned data)
    "accept": (NoteForm, lambda m, u, d: services.matter_accept(matter=m, handler=u, note=d["note"])),
    "start": (NoteForm, lambda m, u, d: services.matter_start(matter=m, handler=u, note=d["note"])),
    "resolve": (
        ResolveForm,
        lambda m, u, d: services.matter_resolve(matter=m, handler=u, note=d["note"], photos=d["photos"]),
    ),
    "escalate": (
        ReasonForm,
        lambda m, u, d: services.matter_escalate(matter=m, handler=u, reason=d["reason"]),
    ),
    "return": (
        ReasonForm,
        lambda m, u, d: services.matter_return(matter=m, handler=u, reason=d["reason"]),
    ),
    "duplicate": (DuplicateForm, lambda m, u, d: _mark_duplicate(m, u, d["original"])),
    "withdraw": (
        WithdrawForm,
        lambda m, u, d: services.matter_withdraw(matter=m, user=u, reason=d["reason"]),
    ),
    "confirm": (
        ConfirmForm,
        lambda m, u, d: services.matter_confirm(
            matter=m, user=u, resolved=d["resolved"], rating=d["rating"], comment=d["comment"]
        ),
    ),
    "call_in": (
        CallInForm,
        lambda m, u, d: services.matter_call_in(
            matter=m, officer=u, organisations=list(d["organisations"]), note=d["note"]
        ),
    ),
}

DONE_MESSAGES = {
    "accept": gettext_lazy("You accepted the matter."),
    "start": gettext_lazy("Marked as in progress."),
    "resolve": gettext_lazy("Marked as resolved; the reporter is asked to confirm."),
    "escalate": gettext_lazy("Escalated to the next tier."),
    "return": gettext_lazy("Returned; it goes one tier up."),
    "duplicate": gettext_lazy("Marked as a duplicate."),
    "withdraw": gettext_lazy("You withdrew the matter."),
    "confirm": gettext_lazy("Thank you for your answer."),
    "call_in": gettext_lazy("The departments are called in."),
}


def _mark_duplicate(matter, user, original_id: int):
    try:
        original = selectors.access_matter(user, original_id)
    except Http404:
        raise ServiceError(_("There is no matter with this number."), field="original") from None
    return services.matter_mark_duplicate(matter=matter, handler=user, original=original)


@login_required
@require_POST
def act(request, matter_id: int, action: str):
    matter = selectors.access_matter(request.user, matter_id)
    if action not in ACTIONS:
        raise Http404
    form_class, perform = ACTIONS[action]
    kwargs = {"organisations": _call_in_choices(request.user, matter)} if action == "call_in" else {}
    form = form_class(request.POST, request.FILES, **kwargs)
    if form.is_valid():
        try:
            perform(matter, request.user, form.cleaned_data)
        except ServiceError as error:
            add_service_error(form, error)
        else:
            messages.success(request, str(DONE_MESSAGES[action]))
            return redirect("matters:detail", matter.pk)
    matter.refresh_from_db()
    return _detail_page(request, matter, failed=(action, form))


@require_GET
def photo(request, matter_id: int, photo_id: int):
    """A matter's photo, for whoever may see the matter: a 404 to anyone else, like the matter itself."""
    matter = selectors.access_matter(request.user, matter_id)
    picture = get_object_or_404(matter.photos, pk=photo_id)
    response = FileResponse(
        picture.image.open("rb"), content_type=PHOTO_TYPES.get(Path(picture.image.name).suffix)
    )
    response["Cache-Control"] = "public, max-age=86400" if not matter.is_private else "private, max-age=3600"
    return response


PHOTO_TYPES = {".jpg": "image/jpeg", ".png": "image/png", ".webp": "image/webp"}


@login_required
@require_POST
def me_too(request, matter_id: int):
    matter = selectors.access_matter(request.user, matter_id)
    try:
        services.matter_me_too(matter=matter, user=request.user)
    except ServiceError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, _("Noted: this matters to you too. You will hear of every change."))
    return redirect("matters:detail", matter.pk)


@login_required
@require_POST
def co_handle(request, co_handler_id: int, action: str):
    call = selectors.co_handling_for(request.user).filter(pk=co_handler_id).first()
    if call is None or action not in ("accept", "report"):
        raise Http404
    try:
        if action == "accept":
            services.co_handler_accept(co_handler=call, user=request.user)
        else:
            form = CoReportForm(request.POST)
            if not form.is_valid():
                raise ServiceError(form.errors["report"][0])
            services.co_handler_report(co_handler=call, user=request.user, report=form.cleaned_data["report"])
    except ServiceError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, _("Your organisation's answer is recorded."))
    return redirect("matters:detail", call.matter_id)


@login_required
@require_GET
def mine(request):
    page = Page(selectors.matters_of(request.user), page_number(request), BOARD_PAGE_SIZE)
    return render(request, "matters/mine.html", {"page": page})


@login_required
@require_GET
def queue(request):
    if not selectors.may_handle_matters(request.user):
        raise Http404
    status = request.GET.get("status", "")
    matters = selectors.handler_queue(request.user)
    if status in (Status.SUBMITTED, Status.ACCEPTED, Status.IN_PROGRESS):
        matters = matters.filter(status=status)
    page = Page(matters, page_number(request), BOARD_PAGE_SIZE)
    calls = list(selectors.co_handling_for(request.user)[:50])
    return render(request, "matters/queue.html", {"page": page, "calls": calls, "status": status})


@login_required
@require_http_methods(["GET", "POST"])
def categories(request, community_id: int):
    """A community's categories: first tier and deadlines, for people who may configure them."""
    community = Region.objects.filter(pk=community_id, level=Region.Level.COMMUNITY).first()
    if community is None or not has_perm_in(request.user, Perm.CONFIGURE_MATTERS, community):
        raise Http404
    forms = {}
    for category in services.categories_for(community, include_inactive=True):
        bound = request.method == "POST" and request.POST.get("code") == category.code
        form = CategoryConfigForm(
            request.POST if bound else None,
            prefix=category.code,
            initial={
                "first_tier": category.first_tier,
                "response_amount": category.response_amount,
                "response_unit": category.response_unit,
                "resolution_amount": category.resolution_amount,
                "resolution_unit": category.resolution_unit,
                "is_active": category.is_active,
            },
        )
        if bound and form.is_valid():
            try:
                services.category_configure(
                    user=request.user, community=community, code=category.code, **form.cleaned_data
                )
            except ServiceError as error:
                add_service_error(form, error)
            else:
                messages.success(request, _("Saved: %(name)s.") % {"name": _(category.name)})
                return redirect("matters:categories", community.pk)
        forms[category] = form
    if request.method == "POST" and not any(form.is_bound for form in forms.values()):
        raise PermissionDenied
    return render(request, "matters/categories.html", {"community": community, "forms": forms})
