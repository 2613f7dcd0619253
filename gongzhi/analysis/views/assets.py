"""The asset map: a region's assets, searchable by kind and words, with the organisations registered there,
the shared resources they open and the skills volunteers name; adding and changing assets; and a resident's
page to offer their own skill.

Those who oversee a region (VIEW_ANALYSIS or MANAGE_ANALYSIS) open its map; a resident opens their own
community's. Any other region, like an asset the user may not see, is a 404."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import path
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from gongzhi.analysis import assets as asset_map
from gongzhi.analysis.forms_assets import AssetEditForm, AssetFilterForm, AssetForm, SkillForm
from gongzhi.analysis.models import Asset, AssetKind
from gongzhi.core.exceptions import ServiceError
from gongzhi.core.forms import add_service_error
from gongzhi.core.models import Region
from gongzhi.core.roles import Perm
from gongzhi.core.scope import has_perm_anywhere
from gongzhi.core.selectors import region_children, resident_search

PAGE_SIZE = 30
MATCHES_SHOWN = 20
# Drill-down stops above buildings: a building's assets are a compound's.
DRILL_LEVELS = [
    Region.Level.CITY,
    Region.Level.DISTRICT,
    Region.Level.STREET,
    Region.Level.COMMUNITY,
    Region.Level.GRID,
]


def _map_region(user, value: str | None) -> Region:
    """The region asked for, if the user may open its map; by default the top of what they may open."""
    regions = asset_map.map_regions(user)
    if value:
        try:
            region = regions.filter(pk=int(value)).first()
        except ValueError:
            region = None
    else:
        region = regions.order_by("depth", "path").first()
    if region is None:
        raise Http404
    return region


@login_required
@require_GET
def assets(request):
    user = request.user
    region = _map_region(user, request.GET.get("region"))
    filters = AssetFilterForm(request.GET)
    q, kind = filters.values()
    found = asset_map.asset_search(user, region=region, q=q)
    counts = asset_map.kind_counts(found)
    listed = found.filter(kind=kind) if kind else found
    page = Paginator(
        listed.select_related("region__parent", "resident", "organisation")
        .defer("resident__id_number", "resident__phone")
        .order_by("kind", "name", "pk"),
        PAGE_SIZE,
    ).get_page(request.GET.get("page"))
    for asset in page.object_list:
        asset.holder = asset_map.holder_name(user, asset)
    platform = asset_map.platform_assets(user, region, kind=kind, q=q)
    regions = asset_map.map_regions(user)
    context = {
        "region": region,
        "filters": filters,
        "q": q,
        "kind": kind,
        "page": page,
        "kinds": [(value, label, counts.get(value, 0)) for value, label in AssetKind.choices],
        "total": sum(counts.values()),
        "platform": platform,
        "ancestors": list(
            regions.filter(pk__in=region.ancestor_ids()).exclude(pk=region.pk).order_by("depth")
        ),
        "children": list(region_children(region)) if region.level in DRILL_LEVELS else [],
        "oversees": asset_map.oversees(user, region),
        "may_add": has_perm_anywhere(user, Perm.MANAGE_ANALYSIS),
        "is_resident": asset_map.own_resident(user) is not None,
    }
    return render(request, "analysis/assets.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def asset_new(request):
    """Staff add an asset; for a skill they first find its resident on the roster (as when entering paper
    answers), then tick that the resident agreed."""
    user = request.user
    if not has_perm_anywhere(user, Perm.MANAGE_ANALYSIS):
        raise Http404
    source = request.POST if request.method == "POST" else request.GET
    query = source.get("q", "").strip()[:50]
    matches = list(resident_search(user, query=query)[:MATCHES_SHOWN]) if query else []
    resident = None
    if source.get("resident", "").isdigit():
        resident = resident_search(user).filter(pk=source["resident"]).first()
    initial = {"kind": AssetKind.SKILL, "resident": resident.pk} if resident else {}
    if resident is not None:
        initial["community"] = resident.community_id
    form = AssetForm(request.POST if request.method == "POST" else None, user=user, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        if data["kind"] == AssetKind.SKILL and resident is None:
            form.add_error(None, _("A skill belongs to a resident: find them on the roster first."))
        else:
            try:
                asset = asset_map.asset_add(
                    by=user,
                    region=data["region"] or data["community"],
                    kind=data["kind"],
                    name=data["name"],
                    description=data["description"],
                    offers=data["offers"],
                    keywords=data["keywords"],
                    willing_to_help=data["willing_to_help"],
                    resident=resident if data["kind"] == AssetKind.SKILL else None,
                    organisation=data["organisation"],
                    resident_agreed=data["resident_agreed"],
                    request=request,
                )
            except ServiceError as error:
                add_service_error(form, error)
            else:
                messages.success(request, _("The asset is on the map."))
                return redirect("analysis:asset", asset.pk)
    context = {"form": form, "query": query, "matches": matches, "resident": resident}
    status = 400 if request.method == "POST" else 200
    return render(request, "analysis/asset_form.html", context, status=status)


@login_required
@require_GET
def asset(request, asset_id: int):
    user = request.user
    found = asset_map.access_asset(user, asset_id)
    context = {
        "asset": found,
        "holder": asset_map.holder_name(user, found),
        "may_keep": asset_map.may_keep(user, found),
        "oversees": asset_map.oversees(user, found.community),
    }
    return render(request, "analysis/asset.html", context)


def _kept_asset(request, asset_id: int) -> Asset:
    """An asset the user keeps; one they only read is as missing as one they cannot see."""
    found = asset_map.access_asset(request.user, asset_id)
    if not asset_map.may_keep(request.user, found):
        raise Http404
    return found


@login_required
@require_http_methods(["GET", "POST"])
def asset_edit(request, asset_id: int):
    user = request.user
    found = _kept_asset(request, asset_id)
    skill = found.kind == AssetKind.SKILL
    initial = {
        "name": found.name,
        "description": found.description,
        "offers": found.offers,
        "keywords": found.keywords,
        "willing_to_help": found.willing_to_help,
        "region": None if found.region_id == found.community_id else found.region_id,
        "organisation": found.organisation_id,
    }
    form = AssetEditForm(
        request.POST if request.method == "POST" else None, user=user, skill=skill, initial=initial
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            asset_map.asset_update(
                asset=found,
                by=user,
                name=data["name"],
                description=data["description"],
                offers=data["offers"],
                keywords=data["keywords"],
                willing_to_help=data["willing_to_help"],
                region=None if skill else data["region"] or found.community,
                organisation=None if skill else data["organisation"],
            )
        except ServiceError as error:
            add_service_error(form, error)
        else:
            messages.success(request, _("The asset is changed."))
            return redirect("analysis:asset", found.pk)
    status = 400 if request.method == "POST" else 200
    return render(request, "analysis/asset_edit.html", {"asset": found, "form": form}, status=status)


@login_required
@require_POST
def asset_remove(request, asset_id: int):
    found = _kept_asset(request, asset_id)
    own = found.resident_id is not None and found.resident.user_id == request.user.pk
    asset_map.asset_remove(asset=found, by=request.user)
    messages.success(request, _("The asset is off the map."))
    return redirect("analysis:my_skill" if own else "analysis:assets")


@login_required
@require_http_methods(["GET", "POST"])
def my_skill(request):
    """A resident offers their own skill, agreeing to the statement shown, and sees the skills they offer."""
    user = request.user
    resident = asset_map.own_resident(user)
    if resident is None:
        raise Http404
    form = SkillForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            asset_map.asset_add(
                by=user,
                region=resident.region,
                kind=AssetKind.SKILL,
                name=data["name"],
                description=data["description"],
                offers=data["offers"],
                keywords=data["keywords"],
                willing_to_help=data["willing_to_help"],
                resident=resident,
                resident_agreed=data["agreed"],
                request=request,
            )
        except ServiceError as error:
            add_service_error(form, error)
        else:
            messages.success(request, _("Thank you: your skill is on the community's asset map."))
            return redirect("analysis:my_skill")
    context = {"form": form, "skills": list(asset_map.skills_of(user))}
    status = 400 if request.method == "POST" else 200
    return render(request, "analysis/asset_my_skill.html", context, status=status)


urls = [
    path("assets/", assets, name="assets"),
    path("assets/new/", asset_new, name="asset_new"),
    path("assets/my-skill/", my_skill, name="my_skill"),
    path("assets/<int:asset_id>/", asset, name="asset"),
    path("assets/<int:asset_id>/edit/", asset_edit, name="asset_edit"),
    path("assets/<int:asset_id>/remove/", asset_remove, name="asset_remove"),
]
