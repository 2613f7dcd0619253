"""The community profile and the participation ladder of a region the user oversees (VIEW_ANALYSIS or
MANAGE_ANALYSIS); any other region, like both pages for someone with no analysis role, is a 404. Both drill
down to the regions below and back up to those above, like the needs dashboard."""

from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.urls import path
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from gongzhi.analysis import selectors
from gongzhi.analysis.forms_profile import LadderForm
from gongzhi.analysis.ladder import STEPS, participation_ladder, period_of
from gongzhi.analysis.models import Group
from gongzhi.analysis.profile import community_profile
from gongzhi.analysis.views.needs import DRILL_LEVELS
from gongzhi.core.models import Region
from gongzhi.core.selectors import region_children


def _ancestors(user, region: Region) -> list[Region]:
    return list(
        selectors.regions_overseen_by(user).filter(pk__in=region.ancestor_ids()).exclude(pk=region.pk)
    )


@login_required
@require_GET
def profile(request):
    user = request.user
    region = selectors.access_dashboard_region(user, request.GET.get("region"))
    figures = community_profile(region)
    children = list(region_children(region)) if region.level in DRILL_LEVELS else []
    context = {
        "region": region,
        "profile": figures,
        "children": children,
        "ancestors": _ancestors(user, region),
        "chart": {
            "bands": [band.label for band in figures.pyramid],
            "male": [band.male for band in figures.pyramid],
            "female": [band.female for band in figures.pyramid],
            "names": {"male": _("Male"), "female": _("Female")},
            "axis": _("People"),
        },
    }
    return render(request, "analysis/profile.html", context)


@login_required
@require_GET
def ladder(request):
    user = request.user
    region = selectors.access_dashboard_region(user, request.GET.get("region"))
    default = period_of(timezone.localdate())
    form = LadderForm(
        {"period": request.GET.get("period") or default.code, "group": request.GET.get("group", "")}
    )
    valid = form.is_valid()
    period = form.cleaned_data["period"] if valid else default
    group = form.cleaned_data["group"] if valid else ""
    previous = period.previous
    figures = participation_ladder(region, period.start, period.end, previous.start, previous.end, group)

    def query(**changes) -> str:
        return urlencode({"region": region.pk, "period": period.code, "group": group} | changes)

    context = {
        "form": form,
        "region": region,
        "period": period,
        "previous": previous,
        "group": group,
        "ladder": figures,
        "steps": STEPS,
        "tabs": [
            (label, query(group="" if value == Group.ALL else value), value == (group or Group.ALL))
            for value, label in Group.choices
        ],
        "groups": [(row, query(group=row.key)) for row in figures.by_group],
        "children": [
            (row, query(region=row.key) if region.level in DRILL_LEVELS else "") for row in figures.by_region
        ],
        "ancestors": [(ancestor, query(region=ancestor.pk)) for ancestor in _ancestors(user, region)],
        "chart": {
            "steps": [rung.label for rung in figures.total.rungs],
            "series": [
                {"name": _("At this step"), "data": [rung.count for rung in figures.total.rungs]},
                {"name": _("At or above"), "data": [rung.at_or_above for rung in figures.total.rungs]},
            ],
            "axis": _("Residents"),
        },
    }
    return render(request, "analysis/ladder.html", context, status=200 if valid else 400)


urls = [
    path("profile/", profile, name="profile"),
    path("ladder/", ladder, name="ladder"),
]
