"""The needs dashboard's Excel download and the printable report of a region's needs and profile (see
gongzhi.analysis.exports). Both are of a region the user oversees, chosen exactly as the dashboard chooses
it (by default the top of their scope); any other region, like either download for someone with no analysis
role, is a 404."""

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.urls import path
from django.utils import timezone
from django.views.decorators.http import require_GET

from gongzhi.analysis import selectors
from gongzhi.analysis.exports import community_report_pdf, dashboard_workbook
from gongzhi.analysis.forms_needs import DashboardForm
from gongzhi.core.excel import xlsx_response


def _year_and_group(params) -> tuple[int, str]:
    """The dashboard's year and group; a malformed one falls back to this year and everyone, as there."""
    this_year = timezone.localdate().year
    form = DashboardForm({"year": params.get("year") or this_year, "group": params.get("group", "")})
    if not form.is_valid():
        return this_year, ""
    return form.cleaned_data["year"], form.cleaned_data["group"]


@login_required
@require_GET
def dashboard_export(request):
    region = selectors.access_dashboard_region(request.user, request.GET.get("region"))
    year, group = _year_and_group(request.GET)
    workbook = dashboard_workbook(request.user, region, year=year, group=group)
    return xlsx_response(workbook, f"needs-{region.pk}-{year}.xlsx")


@login_required
@require_GET
def community_report(request):
    region = selectors.access_dashboard_region(request.user, request.GET.get("region"))
    year, _group = _year_and_group(request.GET)
    response = HttpResponse(
        community_report_pdf(request.user, region, year=year), content_type="application/pdf"
    )
    response["Content-Disposition"] = f'inline; filename="community-report-{region.pk}-{year}.pdf"'
    return response


urls = [
    path("dashboard/export/", dashboard_export, name="dashboard_export"),
    path("report.pdf", community_report, name="community_report_pdf"),
]
