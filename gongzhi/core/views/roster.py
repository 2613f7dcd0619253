"""Roster import and export pages, for staff who may import (or export) a community's roster; anyone else
gets 404. The work is in gongzhi.core.roster."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import FileResponse, Http404
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from gongzhi.core.excel import XLSX, xlsx_response
from gongzhi.core.exceptions import ServiceError
from gongzhi.core.models import Region, RosterImport
from gongzhi.core.roles import Perm
from gongzhi.core.roster import (
    access_roster_community,
    access_roster_import,
    roster_error_report,
    roster_errors_describe,
    roster_export,
    roster_import_check,
    roster_import_progress,
    roster_import_retry,
    roster_import_start,
    roster_imports_visible_to,
    roster_template,
)
from gongzhi.core.roster_forms import RosterExportForm, RosterImportStartForm, RosterUploadForm
from gongzhi.core.scope import has_perm_anywhere
from gongzhi.core.selectors import communities_visible_to


def _id_or_404(value) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise Http404 from None


def _communities_or_404(user, perm: Perm):
    communities = communities_visible_to(user, perm).order_by("path")
    if not communities.exists():
        raise Http404
    return communities


def _chosen_community(user, data, perm: Perm) -> Region | None:
    """The community named by ?community= (any region inside it will do); 404 outside the user's scope."""
    region_id = data.get("community")
    return access_roster_community(user, _id_or_404(region_id), perm) if region_id else None


@login_required
@require_http_methods(["GET", "POST"])
def import_list(request):
    """The community's past imports, and the upload form that checks a new file."""
    communities = _communities_or_404(request.user, Perm.IMPORT_ROSTER)
    community = _chosen_community(request.user, request.GET, Perm.IMPORT_ROSTER)
    form = RosterUploadForm(
        request.POST or None,
        request.FILES or None,
        communities=communities,
        initial={"community": community or communities.first()},
    )
    if request.method == "POST" and form.is_valid():
        try:
            roster_import = roster_import_check(
                user=request.user, community=form.cleaned_data["community"], upload=form.cleaned_data["file"]
            )
        except ServiceError as error:
            form.add_error(error.field, error.message)
        else:
            return redirect("roster-import", import_id=roster_import.pk)
    imports = roster_imports_visible_to(request.user).select_related("community", "created_by")
    if community is not None:
        imports = imports.filter(community=community)
    page = Paginator(imports.order_by("-created_at", "-id"), 25).get_page(request.GET.get("page"))
    return render(
        request,
        "core/roster/import_list.html",
        {
            "form": form,
            "page": page,
            "community": community,
        },
    )


def _import_context(roster_import: RosterImport, start_form=None) -> dict:
    errors = roster_errors_describe(roster_import.errors)
    return {
        "roster_import": roster_import,
        "errors": errors,
        "error_count": len(roster_import.errors),
        "rows_with_errors": roster_import.total_rows - roster_import.valid_rows,
        "errors_hidden": len(roster_import.errors) - len(errors),
        "progress": roster_import_progress(roster_import),
        "start_form": start_form or RosterImportStartForm(),
    }


@login_required
@require_GET
def import_detail(request, import_id: int):
    """The dry run's result and the confirmation; then the progress and the result of the import."""
    roster_import = access_roster_import(request.user, import_id)
    return render(request, "core/roster/import_detail.html", _import_context(roster_import))


@login_required
@require_POST
def import_start(request, import_id: int):
    roster_import = access_roster_import(request.user, import_id)
    form = RosterImportStartForm(request.POST)
    if form.is_valid():
        try:
            roster_import_start(
                user=request.user, roster_import=roster_import, mode=form.cleaned_data["mode"]
            )
        except ServiceError as error:
            form.add_error(error.field, error.message)
        else:
            return redirect("roster-import", import_id=roster_import.pk)
    return render(request, "core/roster/import_detail.html", _import_context(roster_import, form), status=400)


@login_required
@require_POST
def import_retry(request, import_id: int):
    roster_import = access_roster_import(request.user, import_id)
    try:
        roster_import_retry(user=request.user, roster_import=roster_import)
    except ServiceError as error:
        messages.error(request, error.message)
    return redirect("roster-import", import_id=roster_import.pk)


@never_cache
@login_required
@require_GET
def import_progress(request, import_id: int):
    """The part of the import page that HTMX polls every second while the import runs."""
    roster_import = access_roster_import(request.user, import_id)
    return render(request, "core/roster/_import_status.html", _import_context(roster_import))


@login_required
@require_GET
def import_errors(request, import_id: int):
    """All the errors of an import as a workbook."""
    roster_import = access_roster_import(request.user, import_id)
    return xlsx_response(roster_error_report(roster_import), f"roster-errors-{roster_import.pk}.xlsx")


@login_required
@require_GET
def template_download(request):
    _communities_or_404(request.user, Perm.IMPORT_ROSTER)
    return xlsx_response(roster_template(), "roster-template.xlsx")


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def export(request):
    """GET shows what will be exported (the workbench links here with its filters); POST downloads it."""
    communities = _communities_or_404(request.user, Perm.EXPORT_ROSTER)
    data = request.POST if request.method == "POST" else request.GET
    community = _chosen_community(request.user, data, Perm.EXPORT_ROSTER)
    if request.method == "POST":
        form = RosterExportForm(request.POST, communities=communities)
        if form.is_valid():
            roster = roster_export(
                user=request.user,
                community=community,
                query=form.cleaned_data["q"] or "",
                building_id=form.cleaned_data["building"],
                request=request,
            )
            return FileResponse(roster.file, as_attachment=True, filename=roster.filename, content_type=XLSX)
    else:
        form = RosterExportForm(
            communities=communities,
            initial={
                "community": community,
                "q": request.GET.get("q", ""),
                "building": request.GET.get("building"),
            },
        )
    can_import = has_perm_anywhere(request.user, Perm.IMPORT_ROSTER)
    return render(request, "core/roster/export.html", {"form": form, "can_import": can_import})
