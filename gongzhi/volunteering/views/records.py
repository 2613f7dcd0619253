"""The volunteer's own pages (my volunteering, the points passbook), certificates and their public check,
the volunteer record for staff, points awards and a community's volunteering settings.

Thin: parse a form, call one service or selector, render. Anything the viewer may not see is a 404."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from gongzhi.core.crypto import mask_name
from gongzhi.core.exceptions import ServiceError
from gongzhi.core.forms import add_service_error
from gongzhi.core.models import AuditEvent, Region
from gongzhi.core.qr import qr_svg
from gongzhi.core.roles import Perm
from gongzhi.core.scope import has_perm_in
from gongzhi.core.selectors import access_region_where, regions_where, resident_search
from gongzhi.core.services import audit_record
from gongzhi.volunteering import selectors, services
from gongzhi.volunteering.certificates import certificate_pdf as render_certificate_pdf
from gongzhi.volunteering.forms_records import (
    AwardForm,
    FundForm,
    RecordNoteForm,
    ResidentSearchForm,
    SettingsForm,
    VolunteerProfileForm,
)
from gongzhi.volunteering.models import AccountKind

PASSBOOK_PAGE_SIZE = 25
# The newest sign-ups on "my volunteering"; the permanent record below lists every verified one.
SIGNUPS_SHOWN = 20
CERTIFICATES_SHOWN = 10
RECENT_AWARDS = 20
SEARCH_RESULTS = 20


def _page_number(request) -> int:
    try:
        return max(1, min(int(request.GET.get("page", 1)), 100_000))
    except ValueError:
        return 1


def _needs_record(request):
    """A signed-in person whose account is not yet linked to the roster: tell them how to link it."""
    return render(request, "volunteering/me_needs_record.html")


# My volunteering -----------------------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def me(request):
    resident = selectors.own_record(request.user)
    if resident is None:
        return _needs_record(request)
    volunteer = services.volunteer_profile_for(resident=resident)
    volunteer.resident = resident
    profile_form = None
    certificate_error = ""
    action = request.POST.get("action") if request.method == "POST" else None
    if action == "profile":
        profile_form = VolunteerProfileForm(request.POST)
        if profile_form.is_valid():
            try:
                services.volunteer_profile_update(volunteer=volunteer, **profile_form.cleaned_data)
            except ServiceError as error:
                add_service_error(profile_form, error)
            else:
                messages.success(request, _("Your volunteer profile is saved."))
                return redirect("volunteering:me")
    elif action == "certificate":
        try:
            certificate = services.certificate_issue(volunteer=volunteer, by=request.user)
        except ServiceError as error:
            certificate_error = error.message
        else:
            return redirect("volunteering:certificate_pdf", certificate.number)
    elif action is not None:
        raise Http404
    context = {
        "resident": resident,
        "volunteer": volunteer,
        "qr_code": qr_svg(volunteer.qr_token),
        "profile_form": profile_form
        or VolunteerProfileForm(
            initial={"skills": volunteer.skills, "on_honour_roll": volunteer.on_honour_roll}
        ),
        "signups": list(selectors.signups_of(resident)[:SIGNUPS_SHOWN]),
        "record": list(selectors.service_record(volunteer)),
        "notes": list(selectors.record_notes(volunteer)),
        "certificates": list(selectors.certificates_of(volunteer)[:CERTIFICATES_SHOWN]),
        "certificate_error": certificate_error,
    }
    failed = (profile_form is not None and profile_form.errors) or certificate_error
    return render(request, "volunteering/me.html", context, status=400 if failed else 200)


# The passbook (积分存折) ------------------------------------------------------------------------------------


@login_required
@require_GET
def passbook(request):
    resident = selectors.own_record(request.user)
    if resident is None:
        return _needs_record(request)
    paginator = Paginator(selectors.passbook(resident), PASSBOOK_PAGE_SIZE)
    page = paginator.get_page(_page_number(request))
    entries = list(page.object_list)
    for entry in entries:
        entry.points_in = entry.amount if entry.amount > 0 else None
        entry.points_out = -entry.amount if entry.amount < 0 else None
    balance = selectors.points_balance(resident)
    return render(
        request,
        "volunteering/passbook.html",
        {"resident": resident, "page": page, "entries": entries, "balance": balance},
    )


# Certificates ------------------------------------------------------------------------------------------


def _verify_url(request, number: str) -> str:
    return request.build_absolute_uri(
        f"{reverse('volunteering:certificate_verify')}?{urlencode({'number': number})}"
    )


@login_required
@require_GET
def certificate_pdf(request, number: str):
    """The certificate, for the volunteer or staff who may see their record; a 404 to anyone else."""
    certificate = selectors.certificate_by_number(number)
    if certificate is None:
        raise Http404
    volunteer = selectors.access_volunteer(request.user, certificate.volunteer_id)
    if volunteer.resident.user_id != request.user.pk:
        # Someone else's record leaving the platform (PIPL): staff downloads are audited.
        audit_record(
            actor=request.user,
            action=AuditEvent.Action.EXPORT,
            target=certificate,
            region=certificate.community,
            request=request,
            detail={"certificate": certificate.number},
        )
    pdf = render_certificate_pdf(certificate, verify_url=_verify_url(request, certificate.number))
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="{certificate.number}.pdf"'
    response["Cache-Control"] = "private, no-store"
    return response


@require_GET
def certificate_verify(request):
    """Public: anyone holding a certificate (an employer, a school) checks what its number certifies. The name
    is masked and the ID number never shown."""
    number = request.GET.get("number", "").strip()[:40]
    certificate = selectors.certificate_by_number(number) if number else None
    context = {
        "number": number,
        "certificate": certificate,
        "masked_name": mask_name(certificate.name) if certificate else "",
        "hours": f"{certificate.hours.normalize():f}" if certificate else "",
    }
    return render(
        request,
        "volunteering/certificate_verify.html",
        context,
        status=404 if number and not certificate else 200,
    )


# The volunteer record, for staff -------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def volunteer(request, volunteer_id: int):
    volunteer = selectors.access_volunteer(request.user, volunteer_id)
    resident = volunteer.resident
    if not has_perm_in(request.user, Perm.VIEW_VOLUNTEERING, resident.region):
        # Only the volunteer themself sees their profile without that permission: their own page is theirs.
        return redirect("volunteering:me")
    may_manage = has_perm_in(request.user, Perm.MANAGE_VOLUNTEERING, resident.community)
    note_form = None
    certificate_error = ""
    action = request.POST.get("action") if request.method == "POST" else None
    if action is not None and not may_manage:
        raise Http404
    if action == "note":
        note_form = RecordNoteForm(request.POST)
        if note_form.is_valid():
            try:
                services.record_note_add(volunteer=volunteer, by=request.user, **note_form.cleaned_data)
            except ServiceError as error:
                add_service_error(note_form, error)
            else:
                messages.success(request, _("Added to the volunteer's record."))
                return redirect("volunteering:volunteer", volunteer.pk)
    elif action == "certificate":
        try:
            certificate = services.certificate_issue(volunteer=volunteer, by=request.user)
        except ServiceError as error:
            certificate_error = error.message
        else:
            return redirect("volunteering:certificate_pdf", certificate.number)
    elif action is not None:
        raise Http404
    context = {
        "volunteer": volunteer,
        "resident": resident,
        "may_manage": may_manage,
        "note_form": note_form or RecordNoteForm(),
        "record": list(selectors.service_record(volunteer)),
        "notes": list(selectors.record_notes(volunteer)),
        "certificates": list(selectors.certificates_of(volunteer)[:CERTIFICATES_SHOWN]),
        "certificate_error": certificate_error,
    }
    failed = (note_form is not None and note_form.errors) or certificate_error
    return render(request, "volunteering/record.html", context, status=400 if failed else 200)


# Points awards and the award budget ----------------------------------------------------------------------


def _community_where(user, perm: Perm, community_id: int) -> Region:
    community = access_region_where(user, perm, community_id)
    if community.level != Region.Level.COMMUNITY:
        raise Http404
    return community


@login_required
@require_http_methods(["GET", "POST"])
def award(request, community_id: int):
    community = _community_where(request.user, Perm.AWARD_POINTS, community_id)
    may_fund = has_perm_in(request.user, Perm.FUND_POINTS, community)
    search = ResidentSearchForm(request.GET or None)
    query = search.cleaned_data["q"].strip() if search.is_valid() else ""
    action = request.POST.get("action") if request.method == "POST" else None
    award_form = fund_form = None

    if action == "award":
        award_form = _award_form(request.POST, request.user, community, query=query)
        if award_form.is_valid():
            data = award_form.cleaned_data
            try:
                services.points_award(
                    community=community,
                    resident=data["resident"],
                    amount=data["amount"],
                    reason=data["reason"],
                    awarded_by=request.user,
                    idempotency_key=f"award:{data['token']}",
                )
            except ServiceError as error:
                add_service_error(award_form, error)
            else:
                messages.success(
                    request,
                    _("%(points)s points awarded to %(name)s.")
                    % {"points": data["amount"], "name": data["resident"].name},
                )
                return redirect("volunteering:award", community.pk)
    elif action == "fund":
        if not may_fund:
            raise Http404
        fund_form = FundForm(request.POST)
        if fund_form.is_valid():
            data = fund_form.cleaned_data
            try:
                services.budget_fund(
                    community=community,
                    amount=data["amount"],
                    by=request.user,
                    idempotency_key=f"fund:{data['token']}",
                )
            except ServiceError as error:
                add_service_error(fund_form, error)
            else:
                messages.success(
                    request, _("%(points)s points added to the award budget.") % {"points": data["amount"]}
                )
                return redirect("volunteering:award", community.pk)
    elif action is not None:
        raise Http404

    budget = services.community_account(community=community, kind=AccountKind.AWARD_BUDGET)
    context = {
        "community": community,
        "budget": budget,
        "search": search,
        "query": query,
        "award_form": award_form or _award_form(None, request.user, community, query=query),
        "fund_form": (fund_form or FundForm()) if may_fund else None,
        "awards": list(selectors.recent_awards(budget, limit=RECENT_AWARDS)),
        "may_fund": may_fund,
    }
    failed = (award_form is not None and award_form.errors) or (fund_form is not None and fund_form.errors)
    return render(request, "volunteering/award.html", context, status=400 if failed else 200)


def _award_form(data, user, community: Region, *, query: str) -> AwardForm:
    """The award form offers the residents the search found or, after a refused submit, the one chosen."""
    residents = resident_search(user, community_id=community.pk)
    form = AwardForm(data, residents=residents)
    chosen = form.chosen_resident_id()
    if chosen is not None:
        offered = list(residents.filter(pk=chosen))
    elif query:
        offered = list(resident_search(user, query=query, community_id=community.pk)[:SEARCH_RESULTS])
    else:
        offered = []
    form.fields["resident"].offer(offered)
    form.searched = bool(query)
    form.offered = offered
    return form


# Settings ------------------------------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def community_settings(request, community_id: int):
    community = _community_where(request.user, Perm.FUND_POINTS, community_id)
    row = services.settings_for(community)
    form = SettingsForm(
        request.POST or None,
        initial={
            "points_expire_after_years": row.points_expire_after_years,
            "person_in_charge": row.person_in_charge,
            "handler_name": row.handler_name,
            "handler_contact": row.handler_contact,
        },
    )
    if request.method == "POST" and form.is_valid():
        try:
            services.settings_update(community=community, by=request.user, **form.cleaned_data)
        except ServiceError as error:
            add_service_error(form, error)
        else:
            messages.success(request, _("The settings are saved."))
            return redirect("volunteering:settings", community.pk)
    return render(
        request,
        "volunteering/settings.html",
        {"community": community, "form": form},
        status=400 if form.errors else 200,
    )


@login_required
@require_GET
def award_home(request):
    """The award page of the (first) community where the user may award points."""
    community = regions_where(request.user, Perm.AWARD_POINTS, levels=[Region.Level.COMMUNITY]).first()
    if community is None:
        raise Http404
    return redirect("volunteering:award", community.pk)


urls = [
    path("awards/", award_home, name="award_home"),
    path("me/", me, name="me"),
    path("passbook/", passbook, name="passbook"),
    path("certificates/verify/", certificate_verify, name="certificate_verify"),
    path("certificates/<str:number>.pdf", certificate_pdf, name="certificate_pdf"),
    path("volunteers/<int:volunteer_id>/", volunteer, name="volunteer"),
    path("communities/<int:community_id>/awards/", award, name="award"),
    path("communities/<int:community_id>/settings/", community_settings, name="settings"),
]
