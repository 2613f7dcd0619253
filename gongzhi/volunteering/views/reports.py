"""Volunteering reports for staff, with their Excel workbook, and the honour roll for everyone signed in.

A report is for a region the user oversees (Perm.VIEW_VOLUNTEERING) and any period of days; any other
region, like the page for anyone without the permission, is a 404. The report and its workbook hold
aggregates only, no person's name, so downloading the workbook is not an audited export. The honour roll
names volunteers who chose to appear on it, in regions containing the viewer's home or in their staff scope.
"""

from urllib.parse import urlencode

from django import forms
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET

from gongzhi.core.excel import tables_workbook, xlsx_response
from gongzhi.core.forms import FastSelect
from gongzhi.core.models import Region
from gongzhi.volunteering.reports import (
    HONOUR_PERIODS,
    MAX_PERIOD_DAYS,
    Period,
    access_honour_region,
    access_report_region,
    honour_regions,
    honour_roll,
    report_regions,
    report_tables,
    volunteering_report,
)

# The page lists this many activities; the workbook lists them all.
ACTIVITIES_SHOWN = 100


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, attrs=None):
        super().__init__(attrs, format="%Y-%m-%d")  # what <input type=date> reads and sends


def _region_choices(regions: list[Region], top_depth: int) -> list[tuple[int, str]]:
    return [(region.pk, f"{'— ' * max(region.depth - top_depth, 0)}{region.name}") for region in regions]


class ReportForm(forms.Form):
    """The region and the period, read from the query string (a GET form: the page can be bookmarked)."""

    region = forms.TypedChoiceField(label=gettext_lazy("Region"), coerce=int, widget=FastSelect)
    start = forms.DateField(label=gettext_lazy("From"), widget=DateInput)
    end = forms.DateField(label=gettext_lazy("To (inclusive)"), widget=DateInput)

    def __init__(self, data, *, regions: list[Region], top_depth: int):
        super().__init__(data)
        self.fields["region"].choices = _region_choices(regions, top_depth)

    def clean(self):
        cleaned = super().clean()
        start, end = cleaned.get("start"), cleaned.get("end")
        if start and end:
            if end < start:
                self.add_error("end", _("The end date comes before the start date."))
            elif (end - start).days >= MAX_PERIOD_DAYS:
                self.add_error("end", _("Choose a period of at most three years."))
        return cleaned

    @property
    def period(self) -> Period:
        return Period.between(self.cleaned_data["start"], self.cleaned_data["end"])


class ReportRequest:
    """What one request asks for: the region (404 outside the user's scope) and the form with the period,
    this year by default."""

    def __init__(self, request):
        user = request.user
        self.region = access_report_region(user, request.GET.get("region"))
        regions, top_depth = report_regions(user, self.region)
        this_year = Period.year_of(timezone.localdate())
        data = {"start": this_year.start.isoformat(), "end": this_year.last_day.isoformat()} | {
            name: value for name, value in request.GET.items() if name in ReportForm.base_fields
        }
        data["region"] = str(self.region.pk)
        self.data = data
        self.ancestors = [
            region
            for region in regions
            if region.pk in self.region.ancestor_ids() and region.pk != self.region.pk
        ]
        self.form = ReportForm(data, regions=regions, top_depth=top_depth)

    def query(self, **changes) -> str:
        return urlencode({**self.data, **{name: str(value) for name, value in changes.items()}})


@login_required
@require_GET
def reports(request):
    asked = ReportRequest(request)
    context = {
        "form": asked.form,
        "region": asked.region,
        "ancestors": [(ancestor, asked.query(region=ancestor.pk)) for ancestor in asked.ancestors],
        "report": None,
    }
    if asked.form.is_valid():
        report = volunteering_report(user=request.user, region=asked.region, period=asked.form.period)
        context.update(
            report=report,
            activities=report.activities[:ACTIVITIES_SHOWN],
            activities_hidden=max(len(report.activities) - ACTIVITIES_SHOWN, 0),
            export_url=f"{reverse('volunteering:reports_export')}?{asked.query()}",
        )
    return render(request, "volunteering/reports.html", context)


@login_required
@require_GET
def reports_export(request):
    asked = ReportRequest(request)
    if not asked.form.is_valid():
        # The page shows what is wrong with the period.
        return redirect(f"{reverse('volunteering:reports')}?{asked.query()}")
    report = volunteering_report(user=request.user, region=asked.region, period=asked.form.period)
    filename = f"volunteering-{report.region.pk}-{report.period.slug}.xlsx"
    return xlsx_response(tables_workbook(report_tables(report)), filename)


# ------------------------------------------------------------------------------------------ honour roll


class HonourForm(forms.Form):
    region = forms.TypedChoiceField(label=gettext_lazy("Region"), coerce=int, widget=FastSelect)
    period = forms.ChoiceField(label=gettext_lazy("Period"), choices=HONOUR_PERIODS)

    def __init__(self, data, *, regions: list[Region]):
        super().__init__(data)
        top_depth = min((region.depth for region in regions), default=0)
        self.fields["region"].choices = _region_choices(regions, top_depth)


@login_required
@require_GET
def honour(request):
    region = access_honour_region(request.user, request.GET.get("region"))
    if region is None:
        return render(request, "volunteering/honour.html", {"form": None, "region": None, "roll": None})
    regions = honour_regions(request.user)
    if region.pk not in {choice.pk for choice in regions}:
        regions = sorted([*regions, region], key=lambda choice: choice.path)
    data = {"period": "year"} | {name: value for name, value in request.GET.items() if name == "period"}
    form = HonourForm(data | {"region": str(region.pk)}, regions=regions)
    roll = None
    if form.is_valid():
        roll = honour_roll(region=region, period=form.cleaned_data["period"])
    return render(request, "volunteering/honour.html", {"form": form, "region": region, "roll": roll})


urls = [
    path("reports/", reports, name="reports"),
    path("reports/export/", reports_export, name="reports_export"),
    path("honour/", honour, name="honour"),
]
