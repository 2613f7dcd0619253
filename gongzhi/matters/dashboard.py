"""The matters dashboard: the figures of a region the user oversees for a chosen period, the rankings of the
regions below it, the twelve-month trend, and the same figures as an Excel workbook.

Anyone who sees matters somewhere (Perm.VIEW_MATTERS) may open it for a region in that scope; any other
region, like the page for anyone else, is a 404. The workbook holds counts and rates only, no personal data,
so downloading it is not an audited export.
"""

import io
from urllib.parse import urlencode

import openpyxl
from django import forms
from django.contrib.auth.decorators import login_required
from django.db.models import Q
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.dates import MONTHS
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET
from openpyxl.styles import Font

from gongzhi.core.excel import xlsx_response
from gongzhi.core.forms import FastSelect
from gongzhi.core.models import Region, RegionLevel
from gongzhi.core.roles import Perm
from gongzhi.core.scope import acts_as_superuser, has_perm_anywhere, in_scope, scope_regions
from gongzhi.core.selectors import access_region_where
from gongzhi.matters.metrics import (
    DEFAULT_SORT,
    SORTS,
    Dashboard,
    Metrics,
    Period,
    Rate,
    dashboard_figures_cached,
)
from gongzhi.matters.models import TIER_ORDER, Tier

# A custom period is read in one pass over its matters; three years is more than any report asks for.
MAX_CUSTOM_DAYS = 3 * 366
# The picker offers the user's regions and two levels below them; deeper ones are reached from the rankings.
PICKER_DEPTH = 2
PICKER_LEVELS = [RegionLevel.CITY, RegionLevel.DISTRICT, RegionLevel.STREET, RegionLevel.COMMUNITY]

PERIOD_KINDS = [
    ("month", gettext_lazy("Month")),
    ("quarter", gettext_lazy("Quarter")),
    ("year", gettext_lazy("Year")),
    ("custom", gettext_lazy("From one date to another")),
]
QUARTERS = [
    (1, gettext_lazy("Q1 (January to March)")),
    (2, gettext_lazy("Q2 (April to June)")),
    (3, gettext_lazy("Q3 (July to September)")),
    (4, gettext_lazy("Q4 (October to December)")),
]


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, attrs=None):
        super().__init__(attrs, format="%Y-%m-%d")  # what <input type=date> reads and sends


class DashboardForm(forms.Form):
    """The region and the period, read from the query string (a GET form: the page can be bookmarked)."""

    region = forms.TypedChoiceField(label=gettext_lazy("Region"), coerce=int, widget=FastSelect)
    period = forms.ChoiceField(label=gettext_lazy("Period"), choices=PERIOD_KINDS)
    year = forms.IntegerField(label=gettext_lazy("Year"), min_value=2000, max_value=2100)
    month = forms.TypedChoiceField(label=gettext_lazy("Month"), coerce=int, choices=list(MONTHS.items()))
    quarter = forms.TypedChoiceField(label=gettext_lazy("Quarter"), coerce=int, choices=QUARTERS)
    start = forms.DateField(label=gettext_lazy("From"), required=False, widget=DateInput)
    end = forms.DateField(label=gettext_lazy("To (inclusive)"), required=False, widget=DateInput)
    sort = forms.ChoiceField(label=gettext_lazy("Rank by"), choices=list(SORTS.items()), required=False)

    # Which fields the period kind uses: the page's script hides the others.
    PERIOD_FIELDS = {
        "year": "month quarter year",
        "month": "month",
        "quarter": "quarter",
        "start": "custom",
        "end": "custom",
    }

    def __init__(self, data, *, regions: list[Region], top_depth: int):
        super().__init__(data)
        self.fields["region"].choices = [
            (region.pk, f"{'— ' * max(region.depth - top_depth, 0)}{region.name}") for region in regions
        ]
        for name, kinds in self.PERIOD_FIELDS.items():
            self.fields[name].widget.attrs["data-period-kinds"] = kinds

    def clean(self):
        cleaned = super().clean()
        kind = cleaned.get("period")
        if kind == "custom":
            start, end = cleaned.get("start"), cleaned.get("end")
            for name in ("start", "end"):
                if not cleaned.get(name) and name not in self.errors:
                    self.add_error(name, _("Give a date."))
            if start and end:
                if end < start:
                    self.add_error("end", _("The end date comes before the start date."))
                elif (end - start).days >= MAX_CUSTOM_DAYS:
                    self.add_error("end", _("Choose a period of at most three years."))
        return cleaned

    @property
    def chosen_period(self) -> Period:
        data = self.cleaned_data
        kind, year = data["period"], data.get("year")
        if kind == "month":
            return Period.month(year, data["month"])
        if kind == "quarter":
            return Period.quarter(year, data["quarter"])
        if kind == "year":
            return Period.year(year)
        return Period.custom(data["start"], data["end"])

    @property
    def chosen_sort(self) -> str:
        return self.cleaned_data.get("sort") or DEFAULT_SORT


def _default_data(region: Region) -> dict:
    today = timezone.localdate()
    return {
        "region": str(region.pk),
        "period": "month",
        "year": str(today.year),
        "month": str(today.month),
        "quarter": str((today.month + 2) // 3),
        "sort": DEFAULT_SORT,
    }


def _user_roots(user) -> list[Region]:
    if acts_as_superuser(user):
        return list(Region.objects.filter(parent=None).order_by("id"))
    return scope_regions(user, Perm.VIEW_MATTERS)


def _chosen_region(user, value: str | None, roots: list[Region]) -> Region:
    if not value:
        if not roots:
            raise Http404
        return roots[0]
    try:
        region_id = int(value)
    except ValueError:
        raise Http404 from None
    return access_region_where(user, Perm.VIEW_MATTERS, region_id)


def _picker_regions(user, region: Region, roots: list[Region]) -> tuple[list[Region], int]:
    """The user's regions, two levels below them (down to communities), and the way to the region shown."""
    top_depth = min(root.depth for root in roots)
    picked = (
        Q(level__in=PICKER_LEVELS, depth__lte=top_depth + PICKER_DEPTH)
        | Q(pk__in=[root.pk for root in roots])
        | Q(pk__in=region.ancestor_ids())
    )
    regions = Region.objects.filter(in_scope(user, Perm.VIEW_MATTERS, field=None)).filter(picked)
    return list(regions.order_by("path")), top_depth


class DashboardRequest:
    """What one request asks for: the region (404 outside the user's scope) and the form with the period."""

    def __init__(self, request):
        user = request.user
        if not has_perm_anywhere(user, Perm.VIEW_MATTERS):
            raise Http404
        roots = _user_roots(user)
        self.region = _chosen_region(user, request.GET.get("region"), roots)
        regions, top_depth = _picker_regions(user, self.region, roots)
        self.ancestors = [r for r in regions if r.pk in self.region.ancestor_ids() and r.pk != self.region.pk]
        data = _default_data(self.region) | {
            name: value for name, value in request.GET.items() if name in DashboardForm.base_fields
        }
        data["region"] = str(self.region.pk)
        self.data = data
        self.form = DashboardForm(data, regions=regions, top_depth=top_depth)

    def query(self, **changes) -> str:
        return urlencode({**self.data, **{name: str(value) for name, value in changes.items()}})

    def figures(self) -> Dashboard | None:
        if not self.form.is_valid():
            return None
        form = self.form
        return dashboard_figures_cached(region=self.region, period=form.chosen_period, sort=form.chosen_sort)


def _trend_chart(figures: Dashboard) -> dict:
    """The chart's data for static/js/matters-dashboard.js, with its labels in the reader's language."""
    trend = figures.trend
    return {
        "months": [f"{month.month:%Y-%m}" for month in trend],
        "series": {
            "received": {"name": _("Matters received"), "data": [month.received for month in trend]},
            "response": {"name": _("Response rate"), "data": [month.response.percent for month in trend]},
            "resolution": {
                "name": _("Resolution rate"),
                "data": [month.resolution.percent for month in trend],
            },
            "satisfaction": {
                "name": _("Satisfaction rate"),
                "data": [month.satisfaction.percent for month in trend],
            },
        },
        "axes": {"count": _("Matters"), "rate": _("Rate (%)")},
    }


@login_required
@require_GET
def dashboard(request):
    asked = DashboardRequest(request)
    figures = asked.figures()
    context = {
        "form": asked.form,
        "region": asked.region,
        "ancestors": [(ancestor, asked.query(region=ancestor.pk)) for ancestor in asked.ancestors],
        "figures": figures,
    }
    if figures is not None:
        sort = asked.form.chosen_sort
        context.update(
            sort=sort,
            tiers=[(tier, Tier(tier).label, figures.metrics.tier_shares[tier]) for tier in TIER_ORDER],
            ranked_level_label=RegionLevel(figures.ranked_level).label if figures.ranked_level else "",
            rankings=[(ranking, asked.query(region=ranking.region.pk)) for ranking in figures.rankings],
            ranking_columns=[(key, label, asked.query(sort=key)) for key, label in SORTS.items()],
            export_url=f"{reverse('matters:dashboard_export')}?{asked.query()}",
            trend_chart=_trend_chart(figures),
        )
    return render(request, "matters/dashboard.html", context)


@login_required
@require_GET
def dashboard_export(request):
    asked = DashboardRequest(request)
    figures = asked.figures()
    if figures is None:
        # The page shows what is wrong with the period.
        return redirect(f"{reverse('matters:dashboard')}?{asked.query()}")
    filename = f"matters-dashboard-{figures.region.pk}-{figures.period.slug}.xlsx"
    return xlsx_response(dashboard_workbook(figures), filename)


# ------------------------------------------------------------------------------------------ the workbook


def metric_lines(metrics: Metrics) -> list[tuple[str, Rate | None, float | int | None, str]]:
    """(label, rate, plain figure, how it is counted) for each figure, in the workbook's order."""
    lines = [
        (_("Matters received"), None, metrics.received, _("reported in the period")),
        (
            _("Matters dispatched"),
            None,
            metrics.dispatched,
            _("received, less those withdrawn or marked duplicate before any response"),
        ),
        (
            _("Response rate"),
            metrics.response,
            None,
            _("first response by the response deadline / matters dispatched"),
        ),
        (
            _("Resolution rate"),
            metrics.resolution,
            None,
            _("confirmed resolved / closed with the reporter's answer (auto-confirmed left out)"),
        ),
        (
            _("Answer coverage"),
            metrics.answer_coverage,
            None,
            _("closed with the reporter's answer / closed"),
        ),
        (_("Satisfaction rate"), metrics.satisfaction, None, _("ratings of 4 or 5 / all ratings")),
        (_("Mean rating"), None, _rounded(metrics.mean_rating), _("out of 5")),
        (
            _("On-time rate"),
            metrics.on_time,
            None,
            _("resolved by the deadline / due in the period (withdrawn and duplicates left out)"),
        ),
        (
            _("Lowest-tier share"),
            metrics.lowest_tier,
            None,
            _("resolved at the tier where they entered / first resolved in the period"),
        ),
    ]
    for tier in TIER_ORDER:
        lines.append(
            (
                _("Resolved at tier: %(tier)s") % {"tier": Tier(tier).label},
                metrics.tier_shares[tier],
                None,
                _("resolved at this tier / first resolved in the period"),
            )
        )
    lines += [
        (_("Escalated by hand"), metrics.escalated_by_hand, None, _("escalated by a handler / dispatched")),
        (
            _("Escalated by deadline"),
            metrics.escalated_by_deadline,
            None,
            _("escalated when overdue / dispatched"),
        ),
        (
            _("Reopen rate within 30 days"),
            metrics.reopened,
            None,
            _("reopened within 30 days / first resolved in the period"),
        ),
        (
            _("Median time to first response (working hours)"),
            None,
            _rounded(metrics.response_hours_median),
            _("matters dispatched in the period that have a response"),
        ),
        (
            _("90th percentile time to first response (working hours)"),
            None,
            _rounded(metrics.response_hours_p90),
            _("matters dispatched in the period that have a response"),
        ),
    ]
    return lines


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def _sheet_title(text: str) -> str:
    # Excel refuses these characters in a sheet name and anything past 31 characters.
    return "".join(" " if character in "[]:*?/\\" else character for character in text)[:31]


def dashboard_workbook(figures: Dashboard) -> bytes:
    """Three sheets: the figures, the rankings and the monthly trend, as numbers Excel can compute with."""
    workbook = openpyxl.Workbook(write_only=True)
    bold = Font(bold=True)

    def header(sheet, *cells):
        row = []
        for value in cells:
            cell = openpyxl.cell.WriteOnlyCell(sheet, value=value)
            cell.font = bold
            row.append(cell)
        sheet.append(row)

    sheet = workbook.create_sheet(_sheet_title(_("Figures")))
    sheet.append([_("Region"), figures.region.name])
    sheet.append([_("Period"), figures.period.label])
    sheet.append([_("From"), figures.period.start, _("To (inclusive)"), figures.period.last_day])
    sheet.append([])
    header(
        sheet,
        _("Figure"),
        _("Rate (%)"),
        _("Numerator"),
        _("Denominator"),
        _("Value"),
        _("How it is counted"),
    )
    for label, rate, value, note in metric_lines(figures.metrics):
        if rate is not None:
            sheet.append([label, rate.percent, rate.numerator, rate.denominator, None, note])
        else:
            sheet.append([label, None, None, None, value, note])

    sheet = workbook.create_sheet(_sheet_title(_("Rankings")))
    if figures.ranked_level is None:
        sheet.append([_("There are no smaller regions to rank below this one.")])
    else:
        header(
            sheet,
            _("Rank"),
            _("Region"),
            _("Matters received"),
            _("Matters dispatched"),
            _("Response rate (%)"),
            _("Resolution rate (%)"),
            _("Answer coverage (%)"),
            _("Satisfaction rate (%)"),
            _("Mean rating"),
            _("On-time rate (%)"),
            _("Lowest-tier share (%)"),
            _("Escalated by hand (%)"),
            _("Escalated by deadline (%)"),
            _("Reopen rate within 30 days (%)"),
            _("Median time to first response (working hours)"),
            _("90th percentile time to first response (working hours)"),
        )
        for ranking in figures.rankings:
            metrics = ranking.metrics
            sheet.append(
                [
                    ranking.rank,
                    ranking.region.name,
                    metrics.received,
                    metrics.dispatched,
                    metrics.response.percent,
                    metrics.resolution.percent,
                    metrics.answer_coverage.percent,
                    metrics.satisfaction.percent,
                    _rounded(metrics.mean_rating),
                    metrics.on_time.percent,
                    metrics.lowest_tier.percent,
                    metrics.escalated_by_hand.percent,
                    metrics.escalated_by_deadline.percent,
                    metrics.reopened.percent,
                    _rounded(metrics.response_hours_median),
                    _rounded(metrics.response_hours_p90),
                ]
            )

    sheet = workbook.create_sheet(_sheet_title(_("Monthly trend")))
    header(
        sheet,
        _("Month"),
        _("Matters received"),
        _("Response rate (%)"),
        _("Responded in time"),
        _("Matters dispatched"),
        _("Resolution rate (%)"),
        _("Confirmed resolved"),
        _("Closed with an answer"),
        _("Satisfaction rate (%)"),
        _("Ratings of 4 or 5"),
        _("Ratings"),
    )
    for month in figures.trend:
        sheet.append(
            [
                f"{month.month:%Y-%m}",
                month.received,
                month.response.percent,
                month.response.numerator,
                month.response.denominator,
                month.resolution.percent,
                month.resolution.numerator,
                month.resolution.denominator,
                month.satisfaction.percent,
                month.satisfaction.numerator,
                month.satisfaction.denominator,
            ]
        )
    output = io.BytesIO()
    workbook.save(output)
    return output.getvalue()
