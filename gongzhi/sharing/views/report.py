"""The contribution report page and its Excel workbook (see gongzhi.sharing.reports).

A report is of a region the user oversees (Perm.VIEW_SHARING) or of an organisation they act for, and of a
year; anything else, like the page for a resident, is a 404. The workbook holds hours and counts, no
person's name, so downloading it is not an audited export.
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
from gongzhi.sharing.reports import (
    ContributionReport,
    access_report_scope,
    contribution_report,
    report_organisations,
    report_regions,
    report_subregions,
    report_tables,
    scope_value,
)

# The year picker offers this year and the ones before it.
YEARS_OFFERED = 6


class ReportForm(forms.Form):
    """What the report is of, and the year, read from the query string (a GET form: it can be bookmarked)."""

    scope = forms.ChoiceField(label=gettext_lazy("Report on"), widget=FastSelect)
    year = forms.TypedChoiceField(label=gettext_lazy("Year"), coerce=int, widget=FastSelect)

    def __init__(self, data, *, scopes: list[tuple[str, str]]):
        super().__init__(data)
        self.fields["scope"].choices = scopes
        this_year = timezone.localdate().year
        self.fields["year"].choices = [
            (year, year) for year in range(this_year, this_year - YEARS_OFFERED, -1)
        ]


class ReportRequest:
    """One request: the scope (404 outside the user's) and the form with the year, this year by default."""

    def __init__(self, request):
        user = request.user
        self.scope = access_report_scope(user, request.GET.get("scope"))
        self.region = self.scope if isinstance(self.scope, Region) else None
        regions, top_depth = report_regions(user, self.region)
        choices = [
            (scope_value(region), f"{'— ' * max(region.depth - top_depth, 0)}{region.name}")
            for region in regions
        ]
        choices += [
            (scope_value(organisation), organisation.name) for organisation in report_organisations(user)
        ]
        current = scope_value(self.scope)
        if current not in {value for value, _label in choices}:
            # Reached by drilling down below the picker's depth.
            choices.append((current, self.scope.name))
        self.data = {"year": str(timezone.localdate().year)} | {
            name: value for name, value in request.GET.items() if name == "year"
        }
        self.data["scope"] = current
        self.form = ReportForm(self.data, scopes=choices)
        self.ancestors = (
            [
                region
                for region in regions
                if region.pk in self.region.ancestor_ids() and region.pk != self.region.pk
            ]
            if self.region is not None
            else []
        )

    def query(self, **changes) -> str:
        return urlencode({**self.data, **{name: str(value) for name, value in changes.items()}})

    def report(self) -> ContributionReport | None:
        if not self.form.is_valid():
            return None
        scope = {"region": self.region} if self.region is not None else {"organisation": self.scope}
        return contribution_report(**scope, year=self.form.cleaned_data["year"])


def _chart(report: ContributionReport) -> dict:
    """The charts' data for static/js/sharing-report.js, with labels in the reader's language."""
    return {
        "axis": _("Place-hours"),
        "months": [f"{month:%Y-%m}" for month in report.months],
        "kinds": [line.label for line in report.kinds],
        "opened": {
            "name": _("Hours opened"),
            "months": [float(figures.opened) for figures in report.month_totals],
            "kinds": [float(line.total.opened) for line in report.kinds],
        },
        "booked": {
            "name": _("Hours booked"),
            "months": [float(figures.booked) for figures in report.month_totals],
            "kinds": [float(line.total.booked) for line in report.kinds],
        },
    }


@login_required
@require_GET
def report(request):
    asked = ReportRequest(request)
    contribution = asked.report()
    context = {
        "form": asked.form,
        "scope": asked.scope,
        "region": asked.region,
        "ancestors": [(ancestor, asked.query(scope=scope_value(ancestor))) for ancestor in asked.ancestors],
        "report": contribution,
    }
    if contribution is not None:
        context.update(
            subregions=[
                (region, asked.query(scope=scope_value(region)))
                for region in (report_subregions(asked.region) if asked.region is not None else [])
            ],
            months=list(zip(contribution.months, contribution.month_totals, strict=True)),
            chart=_chart(contribution),
            export_url=f"{reverse('sharing:report_export')}?{asked.query()}",
        )
    return render(request, "sharing/report.html", context)


@login_required
@require_GET
def report_export(request):
    asked = ReportRequest(request)
    contribution = asked.report()
    if contribution is None:
        # The page shows what is wrong with the choice.
        return redirect(f"{reverse('sharing:report')}?{asked.query()}")
    filename = f"sharing-report-{scope_value(asked.scope)}-{contribution.year}.xlsx"
    return xlsx_response(tables_workbook(report_tables(contribution)), filename)


urls = [
    path("report/", report, name="report"),
    path("report/export/", report_export, name="report_export"),
]
