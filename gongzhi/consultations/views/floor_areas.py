"""Owners' floor areas from Excel (gongzhi.consultations.floor_areas): the template, the upload that checks a
file and shows what it would change, and the confirmation that writes it.

Everything here needs Perm.MANAGE_CONSULTATIONS over the consultation's community; anything else is a 404."""

from django import forms
from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.urls import path
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from gongzhi.consultations.floor_areas import (
    floor_areas_apply,
    floor_areas_check,
    floor_areas_template,
    import_refusal,
)
from gongzhi.consultations.selectors import access_managed_consultation
from gongzhi.core.excel import xlsx_response
from gongzhi.core.exceptions import ServiceError
from gongzhi.core.forms import add_service_error
from gongzhi.core.roster import MAX_FILE_BYTES

ROWS_SHOWN = 1000  # rows of each table on the preview; a community's whole file fits, a city's does not


class FloorAreaUploadForm(forms.Form):
    file = forms.FileField(
        label=_("Floor area workbook (.xlsx)"),
        widget=forms.ClearableFileInput(
            attrs={"accept": ".xlsx,application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}
        ),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["file"].help_text = gettext(
            "Start from the template. At most %(size)s MB; the file is checked before anything is imported."
        ) % {"size": MAX_FILE_BYTES // 2**20}


class FloorAreaApplyForm(forms.Form):
    plan = forms.CharField(widget=forms.HiddenInput)


def _page(request, consultation, *, form=None, check=None, apply_form=None, status=200):
    return render(
        request,
        "consultations/floor_areas.html",
        {
            "c": consultation,
            "refusal": import_refusal(consultation),
            "form": form or FloorAreaUploadForm(),
            "check": check,
            "changes": check.changes[:ROWS_SHOWN] if check else [],
            "errors": check.errors[:ROWS_SHOWN] if check else [],
            "apply_form": apply_form or (FloorAreaApplyForm(initial={"plan": check.plan}) if check else None),
            "rows_shown": ROWS_SHOWN,
        },
        status=status,
    )


@login_required
@require_http_methods(["GET", "POST"])
def upload(request, consultation_id: int):
    """The upload form; posted, the check of the file (nothing written) and, if it is clean, the
    confirmation."""
    consultation = access_managed_consultation(request.user, consultation_id)
    if request.method == "GET":
        return _page(request, consultation)
    form = FloorAreaUploadForm(request.POST, request.FILES)
    if form.is_valid():
        try:
            check = floor_areas_check(
                consultation=consultation, by=request.user, upload=form.cleaned_data["file"]
            )
        except ServiceError as error:
            add_service_error(form, error)
        else:
            return _page(request, consultation, check=check)
    return _page(request, consultation, form=form, status=400)


@login_required
@require_POST
def apply(request, consultation_id: int):
    consultation = access_managed_consultation(request.user, consultation_id)
    form = FloorAreaApplyForm(request.POST)
    if form.is_valid():
        try:
            changed = floor_areas_apply(
                consultation=consultation, by=request.user, plan=form.cleaned_data["plan"]
            )
        except ServiceError as error:
            add_service_error(form, error)
        else:
            return render(
                request, "consultations/floor_areas_applied.html", {"c": consultation, "changed": changed}
            )
    consultation.refresh_from_db()
    return _page(request, consultation, apply_form=form, status=400)


@login_required
@require_GET
def template(request, consultation_id: int):
    consultation = access_managed_consultation(request.user, consultation_id)
    data = floor_areas_template(consultation=consultation, by=request.user, request=request)
    return xlsx_response(data, f"floor-areas-{consultation.pk}.xlsx")


urls = [
    path("<int:consultation_id>/floor-areas/", upload, name="floor_areas"),
    path("<int:consultation_id>/floor-areas/apply/", apply, name="floor_areas_apply"),
    path("<int:consultation_id>/floor-areas/template.xlsx", template, name="floor_areas_template"),
]
