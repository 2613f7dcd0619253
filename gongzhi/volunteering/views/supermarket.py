"""The points supermarket (积分超市). Residents: the shop of their community's outlets, redeeming an item for
a code shown as a QR code, their redemptions, cancelling before collection. Outlet staff: the desk where a
scanned code hands the item over, and the outlets and items they run.

Thin: parse a form, call one service or selector, render. Anything the viewer may not see is a 404. Points
and stock move only in the services, together or not at all."""

import secrets

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import path
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from gongzhi.core.crypto import mask_name
from gongzhi.core.exceptions import ServiceError
from gongzhi.core.forms import add_service_error
from gongzhi.core.models import Region
from gongzhi.core.qr import qr_svg
from gongzhi.core.roles import Perm
from gongzhi.core.scope import acts_as_superuser, has_perm_anywhere, has_perm_in, scope_regions
from gongzhi.core.selectors import organisations_visible_to, regions_where
from gongzhi.volunteering import selectors, services
from gongzhi.volunteering.forms_supermarket import (
    HandOverForm,
    ItemForm,
    OutletForm,
    RedeemForm,
    RestockForm,
    organisations_near,
)
from gongzhi.volunteering.models import Item, Outlet, RedemptionStatus

PAGE_SIZE = 20
DESK_PAGE_SIZE = 50
OUTLET_FIELDS = ("name", "kind", "organisation", "address", "opening_hours", "is_active")


def code_groups(code: str) -> str:
    """ABCDEFGHJK -> "ABCDE FGHJK": easier to read out and type."""
    return " ".join(code[i : i + 5] for i in range(0, len(code), 5))


def _redeem_form(item_id: int, data=None) -> RedeemForm:
    # Each item's form has its own ids on the page and its own one-time token: a token shared by two forms
    # would make the second item's redeem return the first item's redemption.
    return RedeemForm(data, auto_id=f"item{item_id}-%s", initial={"request_token": secrets.token_urlsafe(24)})


# ---------------------------------------------------------------------------------------------------------
# Residents: the shop, redeeming, their redemptions
# ---------------------------------------------------------------------------------------------------------


@login_required
@require_GET
@never_cache
def shop(request):
    # never_cache: a page from the browser's cache would carry tokens already used.
    return _shop_page(request)


def _shop_page(request, *, failed: tuple[Item, RedeemForm] | None = None):
    """The resident's outlets and their items, each with a redeem form; after a refused redeem, that item's
    form with its errors."""
    resident = selectors.own_record(request.user)
    if resident is None:
        return render(request, "volunteering/shop.html", {"resident": None}, status=400 if failed else 200)
    balance = selectors.points_balance(resident)
    failed_item, failed_form = failed or (None, None)
    outlets: dict[int, tuple[Outlet, list]] = {}
    failed_listed = False
    for item in selectors.shop_items(resident):
        if failed_item is not None and item.pk == failed_item.pk:
            form, failed_listed = failed_form, True
        else:
            form = _redeem_form(item.pk) if item.stock else None
        outlets.setdefault(item.outlet_id, (item.outlet, []))[1].append((item, form))
    context = {
        "resident": resident,
        "balance": balance,
        "outlets": list(outlets.values()),
        "failed_item": failed_item,
        "failed_form": failed_form if not failed_listed else None,
    }
    return render(request, "volunteering/shop.html", context, status=400 if failed else 200)


@login_required
@require_POST
def redeem(request, item_id: int):
    item = selectors.access_item(request.user, item_id)
    resident = selectors.own_record(request.user)
    if resident is None:
        raise Http404
    form = _redeem_form(item.pk, request.POST)
    if form.is_valid():
        try:
            redemption = services.redemption_create(
                item=item,
                resident=resident,
                request_token=form.cleaned_data["request_token"],
                quantity=form.cleaned_data["quantity"],
                by=request.user,
            )
        except ServiceError as error:
            add_service_error(form, error)
        else:
            # The same page for a doubled submit: the service returns the redemption the first one made.
            return redirect("volunteering:redemption", redemption.pk)
    return _shop_page(request, failed=(item, form))


@login_required
@require_GET
def redemption(request, redemption_id: int):
    redemption = selectors.access_redemption(request.user, redemption_id)
    item, outlet = redemption.item, redemption.item.outlet
    is_own = redemption.resident.user_id == request.user.pk
    reserved = redemption.status == RedemptionStatus.RESERVED
    qr_code = None
    if is_own and reserved:
        # The bare code: scanner apps paste it into the desk's input as it is. White behind the modules, so
        # that a phone in dark mode still shows a scannable code.
        qr_code = qr_svg(redemption.code, scale=8)
    context = {
        "redemption": redemption,
        "item": item,
        "outlet": outlet,
        "is_own": is_own,
        "resident_masked": mask_name(redemption.resident.name),
        "code_groups": code_groups(redemption.code),
        "qr_code": qr_code,
        "may_cancel": reserved and (is_own or services.may_serve(request.user, outlet)),
    }
    return render(request, "volunteering/redemption.html", context)


@login_required
@require_POST
def redemption_cancel(request, redemption_id: int):
    redemption = selectors.access_redemption(request.user, redemption_id)
    try:
        services.redemption_cancel(redemption=redemption, by=request.user)
    except ServiceError as error:
        messages.error(request, error.message)
    else:
        messages.success(
            request,
            _("Cancelled: %(points)s points are back in the passbook and the item is back in stock.")
            % {"points": redemption.points},
        )
    if request.POST.get("from") == "desk":
        return redirect("volunteering:outlet_desk")
    return redirect("volunteering:redemption", redemption.pk)


@login_required
@require_GET
def redemptions(request):
    resident = selectors.own_record(request.user)
    page = None
    if resident is not None:
        page = Paginator(selectors.redemptions_of(resident), PAGE_SIZE).get_page(request.GET.get("page"))
        for row in page:
            row.code_groups = code_groups(row.code)
    return render(request, "volunteering/redemptions.html", {"resident": resident, "page": page})


# ---------------------------------------------------------------------------------------------------------
# Outlet staff: the desk
# ---------------------------------------------------------------------------------------------------------


def _cancel_by_code(user, code: str):
    """Cancels a reserved redemption of one of the user's outlets by its code; any other code is refused the
    way the hand-over refuses it."""
    found = selectors.redemption_at_outlets_served_by(user, services.redemption_code_normalise(code))
    if found is None:
        raise ServiceError(_("No such redemption code at your outlets."), field="code")
    return services.redemption_cancel(redemption=found, by=user)


@login_required
@require_http_methods(["GET", "POST"])
def outlet_desk(request):
    served = selectors.outlets_served_by(request.user)
    if not served.exists():
        raise Http404
    form = HandOverForm(request.POST or None)
    done, done_action, status = None, "", 200
    if request.method == "POST":
        done_action = "cancel" if request.POST.get("action") == "cancel" else "hand_over"
        if form.is_valid():
            code = form.cleaned_data["code"]
            try:
                if done_action == "cancel":
                    done = _cancel_by_code(request.user, code)
                else:
                    done = services.redemption_hand_over(code=code, by=request.user)
            except ServiceError as error:
                add_service_error(form, error)
            else:
                form = HandOverForm()  # an empty input, ready for the next scan
        if done is None:
            status = 400
    if done is not None:
        done.resident_masked = mask_name(done.resident.name)
        done.code_groups = code_groups(done.code)
    page = Paginator(selectors.redemptions_waiting_at(served), DESK_PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    for row in page:
        row.resident_masked = mask_name(row.resident.name)
        row.code_groups = code_groups(row.code)
    context = {"form": form, "done": done, "done_action": done_action, "page": page}
    return render(request, "volunteering/outlet_desk.html", context, status=status)


# ---------------------------------------------------------------------------------------------------------
# Outlet staff: outlets and their items
# ---------------------------------------------------------------------------------------------------------


def _new_outlet_form(user, data=None) -> OutletForm | None:
    """The form for a new outlet, in a community the user manages; None when they manage none."""
    communities = regions_where(user, Perm.MANAGE_VOLUNTEERING, levels=[Region.Level.COMMUNITY])
    first = list(communities[:2])
    if not first:
        return None
    if len(first) == 1:
        return OutletForm(data, community=first[0], organisations=organisations_near([first[0]]))
    roots = scope_regions(user, Perm.MANAGE_VOLUNTEERING)
    organisations = (
        organisations_visible_to(user).select_related("region").order_by("name", "pk")
        if acts_as_superuser(user) or not roots
        else organisations_near(roots)
    )
    return OutletForm(data, communities=communities, organisations=organisations)


@login_required
@require_http_methods(["GET", "POST"])
def outlets(request):
    user = request.user
    if not (has_perm_anywhere(user, Perm.VIEW_VOLUNTEERING) or selectors.may_run_volunteering(user)):
        raise Http404
    form = _new_outlet_form(user, request.POST if request.method == "POST" else None)
    status = 200
    if request.method == "POST":
        if form is None:
            raise Http404
        if form.is_valid():
            data = form.cleaned_data
            outlet = Outlet(community=data["community"], **{field: data[field] for field in OUTLET_FIELDS})
            try:
                services.outlet_save(outlet=outlet, by=user)
            except ServiceError as error:
                add_service_error(form, error)
            else:
                messages.success(request, _("Outlet added: %(name)s.") % {"name": outlet.name})
                return redirect("volunteering:outlet", outlet.pk)
        status = 400
    listed = (
        selectors.outlets_visible_to(user)
        .select_related("community", "organisation")
        .order_by("community__path", "name", "pk")
    )
    page = Paginator(listed, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "volunteering/outlets.html", {"form": form, "page": page}, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def outlet(request, outlet_id: int):
    user = request.user
    outlet = selectors.access_outlet(user, outlet_id)
    may_manage = has_perm_in(user, Perm.MANAGE_VOLUNTEERING, outlet.community)
    may_serve = services.may_serve(user, outlet)
    outlet_form = item_form = None
    status = 200
    if request.method == "POST":
        action = request.POST.get("action")
        if action == "outlet":
            outlet_form = _outlet_edit_form(user, outlet, request.POST)
            if outlet_form.is_valid():
                for field in OUTLET_FIELDS:
                    setattr(outlet, field, outlet_form.cleaned_data[field])
                try:
                    services.outlet_save(outlet=outlet, by=user)
                except ServiceError as error:
                    add_service_error(outlet_form, error)
                else:
                    messages.success(request, _("Saved: %(name)s.") % {"name": outlet.name})
                    return redirect("volunteering:outlet", outlet.pk)
                outlet = selectors.access_outlet(user, outlet_id)
        elif action == "item":
            item_form = ItemForm(request.POST)
            if item_form.is_valid():
                item = Item(outlet=outlet, **item_form.item_fields())
                try:
                    services.item_save(item=item, by=user)
                except ServiceError as error:
                    add_service_error(item_form, error)
                else:
                    messages.success(request, _("Item added: %(name)s.") % {"name": item.name})
                    return redirect("volunteering:outlet", outlet.pk)
        else:
            raise Http404
        status = 400
    if outlet_form is None and may_manage:
        outlet_form = _outlet_edit_form(user, outlet)
    if item_form is None and may_serve:
        item_form = ItemForm()
    items = selectors.items_visible_to(user).filter(outlet=outlet)
    if not may_serve:
        items = items.filter(is_active=True)
    context = {
        "outlet": outlet,
        "items": items.order_by("-is_active", "name", "pk"),
        "may_manage": may_manage,
        "may_serve": may_serve,
        "outlet_form": outlet_form,
        "item_form": item_form,
    }
    return render(request, "volunteering/outlet.html", context, status=status)


def _outlet_edit_form(user, outlet: Outlet, data=None) -> OutletForm:
    initial = {field: getattr(outlet, field) for field in OUTLET_FIELDS}
    initial["organisation"] = outlet.organisation_id
    return OutletForm(
        data,
        initial=initial,
        community=outlet.community,
        organisations=organisations_near([outlet.community]),
    )


@login_required
@require_http_methods(["GET", "POST"])
@never_cache
def item(request, item_id: int):
    user = request.user
    item = selectors.access_item(user, item_id)
    may_serve = services.may_serve(user, item.outlet)
    form, status = None, 200
    if request.method == "POST":
        form = ItemForm(request.POST)
        if form.is_valid():
            try:
                item = services.item_update(
                    item=item, by=user, fields=form.item_fields(), stock_seen=form.cleaned_data["stock_seen"]
                )
            except ServiceError as error:
                add_service_error(form, error)
            else:
                messages.success(request, _("Saved: %(name)s.") % {"name": item.name})
                return redirect("volunteering:outlet", item.outlet_id)
        status = 400
    elif may_serve:
        form = ItemForm.for_item(item)
    resident = selectors.own_record(user)
    on_sale = item.is_active and item.outlet.is_active and item.stock > 0
    may_redeem = on_sale and resident is not None and resident.community_id == item.outlet.community_id
    context = {
        "item": item,
        "outlet": item.outlet,
        "may_serve": may_serve,
        "form": form,
        "redeem_form": _redeem_form(item.pk) if may_redeem else None,
    }
    return render(request, "volunteering/item.html", context, status=status)


@login_required
@require_POST
def item_restock(request, item_id: int):
    user = request.user
    item = selectors.access_item(user, item_id)
    form = RestockForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Enter how many to add: a whole number from 1."))
        return redirect("volunteering:outlet", item.outlet_id)
    added = form.cleaned_data["add"]
    try:
        item = services.item_restock(item=item, by=user, add=added)
    except ServiceError as error:
        messages.error(request, error.message)
    else:
        messages.success(
            request,
            _("%(added)s added to %(name)s; %(stock)s in stock now.")
            % {"added": added, "name": item.name, "stock": item.stock},
        )
    return redirect("volunteering:outlet", item.outlet_id)


urls = [
    path("shop/", shop, name="shop"),
    path("items/<int:item_id>/", item, name="item"),
    path("items/<int:item_id>/redeem/", redeem, name="redeem"),
    path("items/<int:item_id>/restock/", item_restock, name="item_restock"),
    path("redemptions/", redemptions, name="redemptions"),
    path("redemptions/<int:redemption_id>/", redemption, name="redemption"),
    path("redemptions/<int:redemption_id>/cancel/", redemption_cancel, name="redemption_cancel"),
    path("outlets/", outlets, name="outlets"),
    path("outlets/desk/", outlet_desk, name="outlet_desk"),
    path("outlets/<int:outlet_id>/", outlet, name="outlet"),
]
