"""Activity pages. Residents: the list of activities meant for them, an activity's page (sign up, cancel,
check in with the activity's code). Organisers: their activities, the activity form and its actions, and
the roster: the rotating check-in QR code, scanning volunteers' codes, attendance and verification of hours.

Thin: parse a form, call one service or selector, render. Anything the viewer may not see is a 404. No page
changes anything on GET: the check-in link in the QR code opens a page with a confirm button."""

from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from gongzhi.analysis.assets import neighbours_with_skills
from gongzhi.core.exceptions import ServiceError
from gongzhi.core.forms import add_service_error
from gongzhi.core.qr import qr_svg
from gongzhi.volunteering import selectors, services
from gongzhi.volunteering.forms import (
    ActivityCancelForm,
    ActivityForm,
    AttendanceForm,
    ButtonForm,
    CheckInForm,
    InsuranceForm,
    ScanForm,
    VerifyForm,
)
from gongzhi.volunteering.models import ActivityStatus, SignUpStatus, Verification

PAGE_SIZE = 20


def _htmx(request) -> bool:
    """An HTMX request for a fragment; a history restore wants the whole page."""
    return request.headers.get("HX-Request") == "true" and not request.headers.get(
        "HX-History-Restore-Request"
    )


def _visible_activity(user, activity_id: int):
    """The activity with its places counted (`taken`, `waiting`); 404 unless the user may see it."""
    activities = selectors.with_places(selectors.activities_visible_to(user))
    return get_object_or_404(
        activities.select_related("region__parent", "community", "organisation"), pk=activity_id
    )


def _places_left(activity) -> int:
    return max(0, activity.capacity - activity.taken)


# ---------------------------------------------------------------------------------------------------------
# Residents: the list, an activity's page, signing up and checking in
# ---------------------------------------------------------------------------------------------------------


@login_required
@require_GET
def activity_list(request):
    """Open activities meant for the user, coming first (or past), each with its places and the user's own
    sign-up, read with one query for the whole page."""
    when = "past" if request.GET.get("when") == "past" else "upcoming"
    now = timezone.now()
    activities = selectors.with_places(
        selectors.activities_visible_to(request.user).filter(status=ActivityStatus.OPEN)
    ).select_related("region__parent", "organisation")
    if when == "past":
        activities = activities.filter(ends_at__lte=now).order_by("-starts_at", "-pk")
    else:
        activities = activities.filter(ends_at__gt=now).order_by("starts_at", "pk")
    page = Paginator(activities, PAGE_SIZE).get_page(request.GET.get("page"))
    page.object_list = list(page.object_list)
    resident = selectors.own_record(request.user)
    mine = {}
    if resident is not None and page.object_list:
        mine = {
            signup.activity_id: signup
            for signup in selectors.signups_of(resident).filter(
                activity_id__in=[activity.pk for activity in page.object_list]
            )
        }
    for activity in page.object_list:
        activity.places_left = _places_left(activity)
        activity.my_signup = mine.get(activity.pk)
    return render(
        request,
        "volunteering/activities.html",
        {"page": page, "when": when, "resident": resident, "now": now},
    )


@login_required
@require_GET
def activity_detail(request, activity_id: int):
    return _detail_page(request, _visible_activity(request.user, activity_id))


def _detail_page(request, activity, *, failed: tuple[str, object] | None = None):
    """The activity's page; after a refused action, with that action's form showing why."""
    user = request.user
    now = timezone.now()
    resident = selectors.own_record(user)
    signup = selectors.signup_of(resident, activity)
    organiser = services.may_organise(user, activity)
    forms = {"signup": ButtonForm(), "withdraw": ButtonForm(), "checkin": CheckInForm()}
    if organiser:
        forms |= {"open": ButtonForm(), "insurance": InsuranceForm(), "cancel": ActivityCancelForm()}
    if failed:
        forms[failed[0]] = failed[1]
    verified = signup is not None and signup.verification != Verification.PENDING
    context = {
        "activity": activity,
        "places_left": _places_left(activity),
        "resident": resident,
        "signup": signup,
        "waiting_position": selectors.waitlist_position(signup) if signup else None,
        "points_earned": services.points_for(activity, signup.hours) if verified and signup.hours else 0,
        "may_sign_up": activity.status == ActivityStatus.OPEN
        and activity.starts_at > now
        and (signup is None or signup.status == SignUpStatus.CANCELLED),
        "may_withdraw": signup is not None
        and signup.status in (SignUpStatus.CONFIRMED, SignUpStatus.WAITLISTED)
        and signup.checked_in_at is None,
        "may_check_in": signup is not None
        and activity.status == ActivityStatus.OPEN
        and signup.status in (SignUpStatus.CONFIRMED, SignUpStatus.NO_SHOW)
        and signup.verification == Verification.PENDING
        and signup.checked_out_at is None,
        "organiser": organiser,
        "started": activity.starts_at <= now,
        "forms": forms,
        "failed_action": failed[0] if failed else "",
    }
    return render(request, "volunteering/activity_detail.html", context, status=400 if failed else 200)


@login_required
@require_POST
def signup_create(request, activity_id: int):
    activity = _visible_activity(request.user, activity_id)
    form = ButtonForm(request.POST)
    resident = selectors.own_record(request.user)
    if resident is None:
        form.add_error(None, _("To sign up, first link your account to your household on “My page”."))
    else:
        try:
            signup = services.signup_create(activity=activity, resident=resident)
        except ServiceError as error:
            add_service_error(form, error)
        else:
            if signup.status == SignUpStatus.CONFIRMED:
                messages.success(request, _("You are signed up. Thank you!"))
            else:
                messages.success(
                    request,
                    _("All places are taken; you are on the waiting list and will hear if one frees up."),
                )
            return redirect("volunteering:activity", activity.pk)
    return _detail_page(request, activity, failed=("signup", form))


@login_required
@require_POST
def signup_withdraw(request, activity_id: int):
    activity = _visible_activity(request.user, activity_id)
    form = ButtonForm(request.POST)
    signup = selectors.signup_of(selectors.own_record(request.user), activity)
    if signup is None:
        form.add_error(None, _("You have not signed up for this activity."))
    else:
        try:
            services.signup_cancel(signup=signup, by=request.user)
        except ServiceError as error:
            add_service_error(form, error)
        else:
            messages.success(request, _("Your sign-up is cancelled."))
            return redirect("volunteering:activity", activity.pk)
    return _detail_page(request, activity, failed=("withdraw", form))


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def checkin(request, activity_id: int):
    """Where the activity's QR code leads (…/check-in/?code=123456), and where the typed code is sent. GET
    only shows the confirm button; the POST checks in (or, the second time, out)."""
    activity = _visible_activity(request.user, activity_id)
    resident = selectors.own_record(request.user)
    signup = selectors.signup_of(resident, activity)
    if request.method == "POST":
        form = CheckInForm(request.POST)
        if resident is None:
            form.add_error(None, _("To check in, first link your account to your household on “My page”."))
        elif form.is_valid():
            try:
                signup = services.checkin_by_activity_code(
                    activity=activity, resident=resident, code=form.cleaned_data["code"]
                )
            except ServiceError as error:
                add_service_error(form, error)
            else:
                if signup.checked_out_at is not None:
                    done = _("Checked out at %(time)s. Thank you for volunteering!")
                    at = signup.checked_out_at
                else:
                    done = _("Checked in at %(time)s. Welcome!")
                    at = signup.checked_in_at
                messages.success(request, done % {"time": timezone.localtime(at).strftime("%H:%M")})
                return redirect("volunteering:activity", activity.pk)
    else:
        form = CheckInForm(initial={"code": request.GET.get("code", "")[:6]})
    return render(
        request,
        "volunteering/activity_checkin.html",
        {"activity": activity, "resident": resident, "signup": signup, "form": form},
        status=400 if form.errors else 200,
    )


# ---------------------------------------------------------------------------------------------------------
# Organisers: their activities, the activity form and its actions
# ---------------------------------------------------------------------------------------------------------


def _require_organiser_pages(user) -> None:
    if not selectors.may_run_volunteering(user):
        raise Http404


ORGANISE_FILTERS = ("upcoming", "past", "to_verify")


@login_required
@require_GET
def organise(request):
    """The activities the user runs, drafts too, with their sign-ups and the hours waiting to be verified."""
    _require_organiser_pages(request.user)
    when = request.GET.get("when") if request.GET.get("when") in ORGANISE_FILTERS else "upcoming"
    now = timezone.now()
    activities = (
        selectors.with_places(selectors.activities_organised_by(request.user))
        .annotate(
            awaiting=Count(
                "signups",
                filter=Q(signups__checked_in_at__isnull=False, signups__verification=Verification.PENDING),
            )
        )
        .select_related("region__parent", "organisation")
    )
    if when == "upcoming":
        activities = activities.filter(ends_at__gt=now).order_by("starts_at", "pk")
    elif when == "past":
        activities = activities.filter(ends_at__lte=now).order_by("-starts_at", "-pk")
    else:
        activities = activities.filter(awaiting__gt=0).order_by("starts_at", "pk")
    page = Paginator(activities, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "volunteering/activity_organise.html", {"page": page, "when": when})


@login_required
@require_http_methods(["GET", "POST"])
def activity_new(request):
    _require_organiser_pages(request.user)
    form = ActivityForm(request.POST or None, user=request.user)
    if not form.has_choices():
        raise Http404
    if request.method == "POST" and form.is_valid():
        try:
            activity = services.activity_create(
                created_by=request.user,
                region=form.cleaned_data["region"],
                organisation=form.cleaned_data.get("organisation"),
                **form.activity_fields(),
            )
        except ServiceError as error:
            add_service_error(form, error)
        else:
            messages.success(request, _("Saved as a draft. Open it for sign-up when it is ready."))
            return redirect("volunteering:activity", activity.pk)
    return render(
        request,
        "volunteering/activity_form.html",
        {"form": form, "activity": None},
        status=400 if form.errors else 200,
    )


@login_required
@require_http_methods(["GET", "POST"])
def activity_edit(request, activity_id: int):
    activity = selectors.access_organised_activity(request.user, activity_id)
    form = ActivityForm(request.POST or None, user=request.user, activity=activity)
    if request.method == "POST" and form.is_valid():
        try:
            services.activity_update(activity=activity, by=request.user, **form.activity_fields())
        except ServiceError as error:
            add_service_error(form, error)
        else:
            messages.success(request, _("The activity is saved."))
            return redirect("volunteering:activity", activity.pk)
    return render(
        request,
        "volunteering/activity_form.html",
        {"form": form, "activity": activity},
        status=400 if form.errors else 200,
    )


def _organiser_action(request, activity_id: int, name: str, form_class, perform, done: str):
    """An organiser's POST on the activity's page: done and back to the page, or the page with the error."""
    selectors.access_organised_activity(request.user, activity_id)
    activity = _visible_activity(request.user, activity_id)
    form = form_class(request.POST)
    if form.is_valid():
        try:
            perform(activity, form.cleaned_data)
        except ServiceError as error:
            add_service_error(form, error)
        else:
            messages.success(request, done)
            return redirect("volunteering:activity", activity.pk)
    return _detail_page(request, activity, failed=(name, form))


@login_required
@require_POST
def activity_open(request, activity_id: int):
    return _organiser_action(
        request,
        activity_id,
        "open",
        ButtonForm,
        lambda activity, data: services.activity_open(activity=activity, by=request.user),
        _("The activity is open for sign-up."),
    )


@login_required
@require_POST
def activity_insurance(request, activity_id: int):
    return _organiser_action(
        request,
        activity_id,
        "insurance",
        InsuranceForm,
        lambda activity, data: services.activity_confirm_insurance(
            activity=activity, by=request.user, policy=data["policy"]
        ),
        _("The volunteers' insurance is recorded."),
    )


@login_required
@require_POST
def activity_cancel(request, activity_id: int):
    return _organiser_action(
        request,
        activity_id,
        "cancel",
        ActivityCancelForm,
        lambda activity, data: services.activity_cancel(
            activity=activity, by=request.user, reason=data["reason"]
        ),
        _("The activity is cancelled; everyone who signed up is told."),
    )


# ---------------------------------------------------------------------------------------------------------
# The roster: the activity's QR code, scanning volunteers, attendance and verification
# ---------------------------------------------------------------------------------------------------------


def _code_context(request, activity) -> dict:
    """The rotating check-in code and its QR code (the absolute check-in link), while the activity is open."""
    if activity.status != ActivityStatus.OPEN:
        return {"code": None, "qr_svg": ""}
    code = services.activity_code(activity)
    link = request.build_absolute_uri(reverse("volunteering:checkin", args=[activity.pk]))
    link = f"{link}?{urlencode({'code': code})}"
    return {"code": code, "qr_svg": qr_svg(link, scale=8), "checkin_link": link}


def _roster_row(signup, activity, *, error: str = "", done: str = ""):
    """A roster line with what the organiser needs to decide: proposed hours, points, the last outcome."""
    signup.proposed_hours = services.hours_proposed(signup, activity)
    signup.proposed_points = services.points_for(activity, signup.proposed_hours)
    signup.points_paid = (
        services.points_for(activity, signup.hours)
        if signup.verification != Verification.PENDING and signup.hours
        else 0
    )
    signup.row_error, signup.row_done = error, done
    return signup


def _roster_page(request, activity, *, scan_form=None, row_error: tuple[int, str] | None = None):
    now = timezone.now()
    signups = [
        _roster_row(signup, activity, error=row_error[1] if row_error and row_error[0] == signup.pk else "")
        for signup in selectors.activity_roster(activity)
    ]
    context = {
        "activity": activity,
        "signups": signups,
        "taken": sum(1 for s in signups if s.status == SignUpStatus.CONFIRMED),
        "waiting": sum(1 for s in signups if s.status == SignUpStatus.WAITLISTED),
        "awaiting": sum(1 for s in signups if s.checked_in_at and s.verification == Verification.PENDING),
        "started": activity.starts_at <= now,
        "scan_form": scan_form or ScanForm(),
        # The community's capacity inventory (the asset map): who has offered the skills wanted.
        "skilled_neighbours": neighbours_with_skills(
            request.user, community=activity.community, wanted=activity.skills_wanted
        ),
        **_code_context(request, activity),
    }
    failed = bool(row_error) or (scan_form is not None and scan_form.errors)
    return render(request, "volunteering/activity_roster.html", context, status=400 if failed else 200)


@never_cache
@login_required
@require_GET
def roster(request, activity_id: int):
    return _roster_page(request, selectors.access_organised_activity(request.user, activity_id))


@never_cache
@login_required
@require_GET
def roster_code(request, activity_id: int):
    """The QR code block alone: the roster page fetches it every 30 seconds (HTMX) as the code rotates."""
    activity = selectors.access_organised_activity(request.user, activity_id)
    return render(
        request,
        "volunteering/activity_roster_code.html",
        {"activity": activity, **_code_context(request, activity)},
    )


def _scanned(signup) -> str:
    name = signup.volunteer.resident.name
    if signup.checked_out_at is not None:
        at = timezone.localtime(signup.checked_out_at).strftime("%H:%M")
        return _("%(name)s checked out at %(time)s.") % {"name": name, "time": at}
    at = timezone.localtime(signup.checked_in_at).strftime("%H:%M")
    return _("%(name)s checked in at %(time)s.") % {"name": name, "time": at}


@never_cache
@login_required
@require_POST
def roster_scan(request, activity_id: int):
    """The organiser's phone scanner pastes a volunteer's personal code (or the whole link) here."""
    activity = selectors.access_organised_activity(request.user, activity_id)
    form = ScanForm(request.POST)
    signup = None
    if form.is_valid():
        try:
            signup = services.checkin_by_personal_code(
                activity=activity, token=form.cleaned_data["token"], by=request.user
            )
        except ServiceError as error:
            add_service_error(form, error)
    if _htmx(request):
        row = None
        if signup is not None:
            row = _roster_row(selectors.activity_roster(activity).get(pk=signup.pk), activity)
        return render(
            request,
            "volunteering/activity_roster_scan.html",
            {
                "activity": activity,
                "scan_form": ScanForm() if row else form,
                "scan_done": _scanned(signup) if row else "",
                "signup": row,
                "oob": True,
                "started": activity.starts_at <= timezone.now(),
            },
        )
    if signup is not None:
        messages.success(request, _scanned(signup))
        return redirect("volunteering:roster", activity.pk)
    return _roster_page(request, activity, scan_form=form)


def _row_action(request, activity_id: int, signup_id: int, form_class, perform):
    """A roster line's POST: with HTMX the line alone comes back (with the outcome); without, the roster
    page (after a redirect when done, with the error on the line when refused)."""
    activity = selectors.access_organised_activity(request.user, activity_id)
    signup = get_object_or_404(selectors.activity_roster(activity), pk=signup_id)
    signup.activity = activity
    form = form_class(request.POST)
    error = done = ""
    if not form.is_valid():
        error = " ".join(message for messages_ in form.errors.values() for message in messages_)
    else:
        try:
            done = perform(signup, form.cleaned_data)
        except ServiceError as error_:
            error = error_.message
    if _htmx(request):
        row = _roster_row(
            selectors.activity_roster(activity).get(pk=signup_id), activity, error=error, done=done
        )
        return render(
            request,
            "volunteering/activity_roster_row.html",
            {"activity": activity, "signup": row, "started": activity.starts_at <= timezone.now()},
        )
    if error:
        return _roster_page(request, activity, row_error=(signup_id, error))
    messages.success(request, done)
    return redirect("volunteering:roster", activity.pk)


ATTENDANCE_DONE = {
    "check_in": lambda name: _("%(name)s is checked in.") % {"name": name},
    "check_out": lambda name: _("%(name)s is checked out.") % {"name": name},
    "no_show": lambda name: _("%(name)s is marked absent.") % {"name": name},
}


@never_cache
@login_required
@require_POST
def attendance(request, activity_id: int, signup_id: int):
    def perform(signup, data):
        services.attendance_mark(signup=signup, by=request.user, action=data["action"])
        return ATTENDANCE_DONE[data["action"]](signup.volunteer.resident.name)

    return _row_action(request, activity_id, signup_id, AttendanceForm, perform)


@never_cache
@login_required
@require_POST
def verify(request, activity_id: int, signup_id: int):
    def perform(signup, data):
        verified = services.hours_verify(
            signup=signup,
            by=request.user,
            decision=data["decision"],
            hours=data["hours"],
            reason=data["reason"],
        )
        name = signup.volunteer.resident.name
        if verified.verification == Verification.REJECTED:
            return _("%(name)s: hours rejected.") % {"name": name}
        return _("%(name)s: %(hours)s hours verified, %(points)s points paid.") % {
            "name": name,
            "hours": verified.hours,
            "points": services.points_for(signup.activity, verified.hours),
        }

    return _row_action(request, activity_id, signup_id, VerifyForm, perform)


urls = [
    path("", activity_list, name="activities"),
    path("organise/", organise, name="organise"),
    path("activities/new/", activity_new, name="activity_new"),
    path("activities/<int:activity_id>/", activity_detail, name="activity"),
    path("activities/<int:activity_id>/edit/", activity_edit, name="activity_edit"),
    path("activities/<int:activity_id>/sign-up/", signup_create, name="signup"),
    path("activities/<int:activity_id>/withdraw/", signup_withdraw, name="signup_withdraw"),
    path("activities/<int:activity_id>/check-in/", checkin, name="checkin"),
    path("activities/<int:activity_id>/open/", activity_open, name="activity_open"),
    path("activities/<int:activity_id>/insurance/", activity_insurance, name="activity_insurance"),
    path("activities/<int:activity_id>/cancel/", activity_cancel, name="activity_cancel"),
    path("activities/<int:activity_id>/roster/", roster, name="roster"),
    path("activities/<int:activity_id>/roster/code/", roster_code, name="roster_code"),
    path("activities/<int:activity_id>/roster/scan/", roster_scan, name="roster_scan"),
    path("activities/<int:activity_id>/roster/<int:signup_id>/attendance/", attendance, name="attendance"),
    path("activities/<int:activity_id>/roster/<int:signup_id>/verify/", verify, name="verify"),
]
