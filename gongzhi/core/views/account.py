"""A person's own pages: registration with consent, their page (record, consents, API tokens), and claiming
their record on the community roster."""

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from gongzhi.core import services
from gongzhi.core.exceptions import ServiceError
from gongzhi.core.forms import (
    ApiTokenForm,
    ClaimForm,
    InvitationCodeForm,
    MobileCodeForm,
    RegistrationForm,
    add_service_error,
)
from gongzhi.core.models import ResidentClaim
from gongzhi.core.selectors import (
    access_api_token,
    api_tokens_of,
    claim_latest_of,
    consents_of,
    organisations_acted_for,
    resident_record_of,
)

# Axes authenticates with the request; a just-registered person is signed in directly.
SIGN_IN_BACKEND = "gongzhi.core.backends.ModelBackend"


@require_http_methods(["GET", "POST"])
def register(request):
    if request.user.is_authenticated:
        return redirect("me")
    if request.method == "POST" and "send_code" in request.POST:
        return register_send_code(request)
    form = RegistrationForm(request.POST or None)
    if form.is_valid():
        try:
            user = services.user_register(
                mobile=form.cleaned_data["mobile"],
                code=form.cleaned_data["code"],
                name=form.cleaned_data["name"],
                password=form.cleaned_data["password1"],
                request=request,
            )
        except ServiceError as error:
            add_service_error(form, error)
        else:
            login(request, user, backend=SIGN_IN_BACKEND)
            messages.success(
                request, _("Your account is ready. Now find your record on the community roster.")
            )
            return redirect("claim")
    context = {"form": form, "policy_version": services.CONSENT_POLICY_VERSION}
    return render(request, "core/account/register.html", context)


def register_send_code(request):
    """The registration form's "send me a code" button: texts the code and shows the form again with what was
    typed so far (passwords excepted) and no complaints about the fields not filled in yet."""
    typed = {k: v for k, v in request.POST.items() if k in ("mobile", "name") or k.startswith("consent_")}
    mobile_form = MobileCodeForm(request.POST)
    code_errors = mobile_form.errors.get("mobile", [])
    if mobile_form.is_valid():
        try:
            services.mobile_code_send(mobile=mobile_form.cleaned_data["mobile"])
        except ServiceError as error:
            code_errors = [error.message]
        else:
            messages.success(request, _("A verification code is on its way to your phone."))
    context = {
        "form": RegistrationForm(initial=typed),
        "code_errors": code_errors,
        "policy_version": services.CONSENT_POLICY_VERSION,
    }
    return render(request, "core/account/register.html", context)


def render_me(request, *, token_form=None, new_token=None, new_secret: str = ""):
    user = request.user
    organisations = organisations_acted_for(user)
    consents = [
        {"consent": consent, "statement": services.CONSENT_PURPOSES.get(consent.purpose, ("",))[0]}
        for consent in consents_of(user)
    ]
    return render(
        request,
        "core/account/me.html",
        {
            "record": resident_record_of(user),
            "claim": claim_latest_of(user),
            "consents": consents,
            "tokens": api_tokens_of(user),
            "token_form": token_form or ApiTokenForm(organisations=organisations),
            "new_token": new_token,
            "new_secret": new_secret,
        },
    )


@never_cache
@login_required
@require_GET
def me(request):
    return render_me(request)


@login_required
@require_POST
def consent_withdraw(request, purpose: str):
    if purpose not in services.CONSENT_PURPOSES:
        raise Http404
    services.consent_withdraw(user=request.user, purpose=purpose)
    messages.success(request, _("You have withdrawn this consent."))
    return redirect("me")


@never_cache
@login_required
@require_POST
def token_create(request):
    form = ApiTokenForm(request.POST, organisations=organisations_acted_for(request.user))
    if form.is_valid():
        try:
            token, secret = services.api_token_create(
                user=request.user,
                name=form.cleaned_data["name"],
                organisation=form.cleaned_data.get("organisation"),
                request=request,
            )
        except ServiceError as error:
            add_service_error(form, error)
        else:
            # The secret is shown in this one response and never stored: no redirect, no session.
            return render_me(request, new_token=token, new_secret=secret)
    return render_me(request, token_form=form)


@login_required
@require_POST
def token_revoke(request, token_id: int):
    token = access_api_token(request.user, token_id)
    services.api_token_revoke(user=request.user, token=token, request=request)
    messages.success(request, _("The token “%(name)s” no longer works.") % {"name": token.name})
    return redirect("me")


def refuse(request, error: ServiceError):
    """A refusal about the person's state (already linked, already waiting) rather than about what they typed:
    the page may no longer show the form, so say it above the page."""
    messages.error(request, error.message)
    return redirect("claim")


def render_claim(request, *, code_form=None, claim_form=None):
    latest = claim_latest_of(request.user)
    return render(
        request,
        "core/account/claim.html",
        {
            "record": resident_record_of(request.user),
            "claim": latest,
            "pending": latest is not None and latest.status == ResidentClaim.Status.PENDING,
            "code_form": code_form or InvitationCodeForm(),
            "claim_form": claim_form or ClaimForm(),
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def claim(request):
    """The person's record on the roster: linked, waiting for the community, or to be claimed here."""
    if request.method == "GET":
        return render_claim(request)
    form = ClaimForm(request.POST)
    if form.is_valid():
        try:
            services.claim_submit(
                user=request.user,
                building=form.cleaned_data["building"],
                room=form.cleaned_data["room"],
                name=form.cleaned_data["name"],
                id_number=form.cleaned_data["id_number"],
            )
        except ServiceError as error:
            if error.field not in form.fields:
                return refuse(request, error)
            add_service_error(form, error)
        else:
            messages.success(request, _("Your request has been sent to the community."))
            return redirect("claim")
    return render_claim(request, claim_form=form)


@login_required
@require_POST
def claim_with_code(request):
    form = InvitationCodeForm(request.POST)
    if form.is_valid():
        try:
            resident = services.invitation_claim(
                user=request.user, code=form.cleaned_data["code"], request=request
            )
        except ServiceError as error:
            if error.field not in form.fields:
                return refuse(request, error)
            add_service_error(form, error)
        else:
            messages.success(
                request,
                _("Welcome, %(name)s: your account is now linked to your record.") % {"name": resident.name},
            )
            return redirect("claim")
    return render_claim(request, code_form=form)


@login_required
@require_GET
def claim_buildings(request):
    """The building choice for the community just chosen (HTMX swaps the whole <select>)."""
    form = ClaimForm(initial={"community": request.GET.get("community")})
    return render(request, "core/account/_building_select.html", {"form": form})
