"""The staff workbench: the region tree, residents, households, organisations, verification and roles.

It exists only for people who see residents somewhere; to anyone else every page here is a 404, and so is
anything outside their scope (gongzhi.core.selectors.access_*)."""

from functools import wraps

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse, HttpResponseForbidden
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from gongzhi.core import services
from gongzhi.core.exceptions import ServiceError
from gongzhi.core.forms import (
    ClaimRejectForm,
    HouseholdSearchForm,
    OrganisationForm,
    OrganisationSearchForm,
    RegionAddForm,
    ResidentForm,
    ResidentSearchForm,
    RoleGrantForm,
    add_service_error,
)
from gongzhi.core.models import Region
from gongzhi.core.roles import ORGANISATION_ROLES, REGION_ROLES_BY_LEVEL, Perm
from gongzhi.core.rostercache import cached_roster
from gongzhi.core.scope import has_perm_anywhere, has_perm_in, scope_regions
from gongzhi.core.selectors import (
    access_claim,
    access_household,
    access_organisation,
    access_region,
    access_region_where,
    access_resident,
    claims_pending_for,
    claims_queue_for,
    community_resident_counts,
    household_members_visible_to,
    household_search,
    organisation_search,
    organisation_staff,
    region_ancestors_visible_to,
    region_children,
    region_roots_for,
    resident_list_items,
    resident_search,
    resident_tags_visible_to,
    role_assignments_in,
    scope_spans_communities,
)
from gongzhi.core.views.site import safe_next

PAGE_SIZE = 50


def workbench_view(perm: Perm = Perm.VIEW_RESIDENTS):
    """Signed in, able to see residents somewhere and holding `perm` somewhere; otherwise a 404."""

    def decorator(view):
        @login_required
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            user = request.user
            if not has_perm_anywhere(user, Perm.VIEW_RESIDENTS) or not has_perm_anywhere(user, perm):
                raise Http404
            return view(request, *args, **kwargs)

        return wrapper

    return decorator


def htmx_swap(request, target: str = "") -> bool:
    """An HTMX request for a fragment (into `target`, if given); a history restore wants the whole page."""
    if request.headers.get("HX-Request") != "true" or request.headers.get("HX-History-Restore-Request"):
        return False
    return not target or request.headers.get("HX-Target") == target


def page_of(request, items):
    return Paginator(items, PAGE_SIZE).get_page(request.GET.get("page"))


def tree_nodes(user, regions) -> list[dict]:
    return [
        {"region": region, "can_manage_roles": has_perm_in(user, Perm.MANAGE_ROLES, region)}
        for region in regions
    ]


@workbench_view()
@require_GET
def home(request):
    user = request.user
    roots = region_roots_for(user)
    can_verify = has_perm_anywhere(user, Perm.VERIFY_RESIDENTS)
    return render(
        request,
        "core/workbench/home.html",
        {
            "nodes": tree_nodes(user, roots),
            "can_add_resident": has_perm_anywhere(user, Perm.EDIT_RESIDENTS),
            "can_verify": can_verify,
            "pending_claims": claims_pending_for(user).count() if can_verify else 0,
            "can_see_organisations": has_perm_anywhere(user, Perm.VIEW_ORGANISATIONS),
            "can_add_organisation": has_perm_anywhere(user, Perm.MANAGE_ORGANISATIONS),
            "role_regions": roots if user.is_superuser else scope_regions(user, Perm.MANAGE_ROLES),
        },
    )


@workbench_view()
@require_GET
def region_detail(request, region_id: int):
    """A region and its children; an HTMX request (a tree node opening) gets the children only."""
    region = access_region(request.user, region_id)
    nodes = tree_nodes(request.user, region_children(region))
    if htmx_swap(request):
        return render(request, "core/workbench/_region_children.html", {"nodes": nodes})
    return render_region(request, region, nodes=nodes)


def render_region(request, region, *, nodes, add_form=None):
    may_add = region.level != Region.Level.BUILDING and has_perm_in(request.user, Perm.MANAGE_REGIONS, region)
    return render(
        request,
        "core/workbench/region.html",
        {
            "region": region,
            "ancestors": region_ancestors_visible_to(request.user, region),
            "nodes": nodes,
            "can_manage_roles": has_perm_in(request.user, Perm.MANAGE_ROLES, region),
            "add_form": (add_form or RegionAddForm(parent=region)) if may_add else None,
        },
    )


@workbench_view(Perm.MANAGE_REGIONS)
@require_POST
def region_add(request, region_id: int):
    parent = access_region_where(request.user, Perm.MANAGE_REGIONS, region_id)
    form = RegionAddForm(request.POST, parent=parent)
    if form.is_valid():
        try:
            region = services.region_add(created_by=request.user, parent=parent, **form.cleaned_data)
        except ServiceError as error:
            add_service_error(form, error)
        else:
            messages.success(request, _("%(name)s is added.") % {"name": region.name})
            return redirect("workbench-region", region_id=parent.pk)
    nodes = tree_nodes(request.user, region_children(parent))
    return render_region(request, parent, nodes=nodes, add_form=form)


# Residents


@workbench_view()
@require_GET
def resident_list(request):
    """By name, masked phone or its last four digits, building or region; live search swaps the results.
    The list is cached per roles, query and roster version (gongzhi.core.rostercache)."""
    fragment = htmx_swap(request, "resident-results")
    html = cached_roster(
        request.user,
        part="workbench-residents" + ("#results" if fragment else ""),
        params=request.GET.lists(),
        build=lambda: render_resident_list(request, fragment=fragment),
    )
    if fragment:
        return HttpResponse(html)
    return render(request, "core/workbench/residents.html", {"content": html})


def render_resident_list(request, *, fragment: bool) -> str:
    user = request.user
    form = ResidentSearchForm(request.GET, user=user)
    filters = form.filters()
    if not any(filters.values()) and scope_spans_communities(user):
        # A street or district officer's unfiltered list: their communities with counts, to pick or search.
        context = {"form": form, "communities": community_resident_counts(user)}
    else:
        building = filters.get("building")
        residents = resident_search(
            user,
            query=filters.get("q", ""),
            building_id=building.pk if building else None,
            within=filters.get("region"),
        )
        page = page_of(request, residents)
        context = {
            "form": form,
            "area": filters.get("region"),
            "page": page,
            "rows": resident_list_items(user, page.object_list),
            "can_add_resident": has_perm_anywhere(user, Perm.EDIT_RESIDENTS),
        }
    if fragment:
        return render_to_string("core/workbench/_resident_results.html", {**context, "oob": True}, request)
    return render_to_string("core/workbench/_residents.html", context, request)


def render_resident(request, resident, *, numbers=None, invitation=None, invitation_error: str = ""):
    user = request.user
    household = resident.household
    return render(
        request,
        "core/workbench/resident.html",
        {
            "resident": resident,
            "tags": resident_tags_visible_to(user, resident),
            "members": household_members_visible_to(user, household).exclude(pk=resident.pk)
            if household
            else [],
            "can_unmask": has_perm_in(user, Perm.VIEW_FULL_PERSONAL_DATA, resident.region),
            "can_invite": not resident.user_id and has_perm_in(user, Perm.VERIFY_RESIDENTS, resident.region),
            "numbers": numbers,
            "invitation": invitation,
            "invitation_error": invitation_error,
        },
    )


@workbench_view()
@require_GET
def resident_detail(request, resident_id: int):
    return render_resident(request, access_resident(request.user, resident_id))


@never_cache
@workbench_view()
@require_POST
def resident_unmask(request, resident_id: int):
    """The full phone and ID numbers, for one look; the service writes the audit event."""
    resident = access_resident(request.user, resident_id)
    try:
        numbers = services.resident_unmask(user=request.user, resident=resident, request=request)
    except ServiceError as error:
        return HttpResponseForbidden(error.message)
    if htmx_swap(request):
        return render(
            request, "core/workbench/_resident_numbers.html", {"resident": resident, "numbers": numbers}
        )
    return render_resident(request, resident, numbers=numbers)


@never_cache
@workbench_view()
@require_POST
def resident_invite(request, resident_id: int):
    """A one-time code the community hands the resident so they can claim their record online."""
    resident = access_resident(request.user, resident_id)
    invitation, error_message = None, ""
    try:
        invitation = services.invitation_create(created_by=request.user, resident=resident)
    except ServiceError as error:
        error_message = error.message
    if htmx_swap(request):
        return render(
            request,
            "core/workbench/_invitation.html",
            {"invitation": invitation, "invitation_error": error_message},
        )
    return render_resident(request, resident, invitation=invitation, invitation_error=error_message)


@workbench_view(Perm.EDIT_RESIDENTS)
@require_http_methods(["GET", "POST"])
def resident_add(request):
    form = ResidentForm(
        request.POST or None, user=request.user, initial={"region": request.GET.get("building")}
    )
    if form.is_valid():
        data = form.cleaned_data
        try:
            resident = services.resident_create(
                created_by=request.user,
                region=data["region"],
                name=data["name"],
                id_number=data["id_number"],
                phone=data["phone"],
                room=data["room"],
                is_household_head=data["is_household_head"],
                tags=data["tags"],
            )
        except ServiceError as error:
            add_service_error(form, error)
        else:
            messages.success(request, _("%(name)s is now on the roster.") % {"name": resident.name})
            return redirect("workbench-resident", resident_id=resident.pk)
    return render(request, "core/workbench/resident_form.html", {"form": form})


# Households


@workbench_view()
@require_GET
def household_list(request):
    form = HouseholdSearchForm(request.GET, user=request.user)
    filters = form.filters()
    households = household_search(request.user, query=filters.get("q", ""), within=filters.get("region"))
    return render(
        request,
        "core/workbench/households.html",
        {"form": form, "area": filters.get("region"), "page": page_of(request, households)},
    )


@workbench_view()
@require_GET
def household_detail(request, household_id: int):
    household = access_household(request.user, household_id)
    members = household_members_visible_to(request.user, household)
    return render(
        request,
        "core/workbench/household.html",
        {
            "household": household,
            "rows": [
                {"resident": member, "tags": resident_tags_visible_to(request.user, member)}
                for member in members
            ],
        },
    )


# Organisations


@workbench_view()
@require_GET
def organisation_list(request):
    form = OrganisationSearchForm(request.GET)
    filters = form.filters()
    organisations = organisation_search(
        request.user, query=filters.get("q", ""), kind=filters.get("kind", "")
    )
    return render(
        request,
        "core/workbench/organisations.html",
        {
            "form": form,
            "page": page_of(request, organisations),
            "can_add_organisation": has_perm_anywhere(request.user, Perm.MANAGE_ORGANISATIONS),
        },
    )


def render_organisation(request, organisation, *, role_form=None):
    can_manage_roles = has_perm_in(request.user, Perm.MANAGE_ROLES, organisation.region)
    return render(
        request,
        "core/workbench/organisation.html",
        {
            "organisation": organisation,
            "can_manage_roles": can_manage_roles,
            "assignments": organisation_staff(organisation) if can_manage_roles else [],
            "role_form": role_form or RoleGrantForm(roles=ORGANISATION_ROLES),
        },
    )


@workbench_view()
@require_GET
def organisation_detail(request, organisation_id: int):
    return render_organisation(request, access_organisation(request.user, organisation_id))


@workbench_view(Perm.MANAGE_ORGANISATIONS)
@require_http_methods(["GET", "POST"])
def organisation_add(request):
    form = OrganisationForm(request.POST or None, user=request.user)
    if form.is_valid():
        try:
            organisation = services.organisation_create(created_by=request.user, **form.cleaned_data)
        except ServiceError as error:
            add_service_error(form, error)
        else:
            messages.success(request, _("%(name)s is registered.") % {"name": organisation.name})
            return redirect("workbench-organisation", organisation_id=organisation.pk)
    return render(request, "core/workbench/organisation_form.html", {"form": form})


@workbench_view(Perm.MANAGE_ROLES)
@require_POST
def organisation_role_grant(request, organisation_id: int):
    """Makes a registered person staff of an organisation (their organisation API tokens act for it)."""
    organisation = access_organisation(request.user, organisation_id)
    if not has_perm_in(request.user, Perm.MANAGE_ROLES, organisation.region):
        raise Http404
    form = RoleGrantForm(request.POST, roles=ORGANISATION_ROLES)
    if grant_role_from(request, form, organisation=organisation):
        return redirect("workbench-organisation", organisation_id=organisation.pk)
    return render_organisation(request, organisation, role_form=form)


def grant_role_from(request, form: RoleGrantForm, **scope) -> bool:
    """Grants the role the form names in `scope` (region= or organisation=); a refusal goes on the form."""
    if not form.is_valid():
        return False
    try:
        services.role_grant(
            granted_by=request.user,
            user=form.cleaned_data["person"],
            role=form.cleaned_data["role"],
            request=request,
            **scope,
        )
    except ServiceError as error:
        add_service_error(form, error)
        return False
    messages.success(request, _("The role is granted."))
    return True


# Verification of residents who claim their record


def render_claims(request, *, rejecting: int | None = None, reject_form=None):
    return render(
        request,
        "core/workbench/claims.html",
        {
            "page": page_of(request, claims_queue_for(request.user)),
            "rejecting": rejecting,
            "reject_form": reject_form,
        },
    )


@workbench_view(Perm.VERIFY_RESIDENTS)
@require_GET
def claim_list(request):
    return render_claims(request)


@workbench_view(Perm.VERIFY_RESIDENTS)
@require_POST
def claim_approve(request, claim_id: int):
    resident_claim = access_claim(request.user, claim_id)
    try:
        resident = services.claim_approve(decided_by=request.user, claim=resident_claim, request=request)
    except ServiceError as error:
        messages.error(request, error.message)
    else:
        messages.success(
            request, _("%(name)s is verified and linked to their account.") % {"name": resident.name}
        )
    return redirect("workbench-claims")


@workbench_view(Perm.VERIFY_RESIDENTS)
@require_POST
def claim_reject(request, claim_id: int):
    resident_claim = access_claim(request.user, claim_id)
    form = ClaimRejectForm(request.POST)
    if not form.is_valid():
        return render_claims(request, rejecting=resident_claim.pk, reject_form=form)
    try:
        services.claim_reject(
            decided_by=request.user, claim=resident_claim, reason=form.cleaned_data["reason"]
        )
    except ServiceError as error:
        # Decided meanwhile by someone else: the request has left the queue, so say so above it.
        messages.error(request, error.message)
    else:
        messages.success(request, _("The request is declined; the person sees your reason."))
    return redirect("workbench-claims")


# Roles


@workbench_view()
@require_http_methods(["GET", "POST"])
def region_roles(request, region_id: int):
    """Who holds which role in this region's subtree; hand out the roles of this level by mobile number."""
    region = access_region_where(request.user, Perm.MANAGE_ROLES, region_id)
    roles = REGION_ROLES_BY_LEVEL.get(region.level, [])
    form = RoleGrantForm(request.POST or None, roles=roles)
    if roles and grant_role_from(request, form, region=region):
        return redirect("workbench-roles", region_id=region.pk)
    return render(
        request,
        "core/workbench/roles.html",
        {
            "region": region,
            "form": form if roles else None,
            "page": page_of(request, role_assignments_in(region)),
        },
    )


@workbench_view()
@require_POST
def role_revoke(request, region_id: int, assignment_id: int):
    region = access_region_where(request.user, Perm.MANAGE_ROLES, region_id)
    assignment = get_object_or_404(role_assignments_in(region), pk=assignment_id)
    try:
        services.role_revoke(revoked_by=request.user, assignment=assignment, request=request)
    except ServiceError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, _("The role is taken away."))
    return redirect(safe_next(request, default=reverse("workbench-roles", kwargs={"region_id": region.pk})))
