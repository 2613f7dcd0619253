"""Forms of the points supermarket (积分超市): redeeming, handing over at the desk, outlets and items."""

from django import forms
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from gongzhi.core.forms import CODE_INPUT, FastSelect, ListedChoiceIterator
from gongzhi.core.models import Organisation, Region
from gongzhi.volunteering.models import Item, LimitPeriod, Outlet

MAX_QUANTITY = 99
MAX_PRICE = 1_000_000
MAX_STOCK = 1_000_000


class RedeemForm(forms.Form):
    """One item's redeem form on the shop page. `request_token` is made once when the page is drawn, so a
    doubled submit (a double tap, a retry on a slow network) redeems once."""

    quantity = forms.IntegerField(
        label=_("Quantity"),
        min_value=1,
        max_value=MAX_QUANTITY,
        initial=1,
        widget=forms.NumberInput(attrs={"inputmode": "numeric"}),
    )
    # Checked by the service, whose refusal ("reload the page") is shown above the form: a hidden field's
    # own error would be shown nowhere.
    request_token = forms.CharField(required=False, widget=forms.HiddenInput)


class HandOverForm(forms.Form):
    """The outlet desk: the scanner app pastes the code here, or staff type it from the resident's phone."""

    code = forms.CharField(
        label=_("Redemption code"),
        max_length=200,
        help_text=_("Scan the resident's QR code, or type its ten letters and digits; spaces do not matter."),
        widget=forms.TextInput(attrs={**CODE_INPUT, "autofocus": True}),
    )


class ListedModelChoiceField(forms.ModelChoiceField):
    iterator = ListedChoiceIterator
    widget = FastSelect


class CommunityChoiceField(ListedModelChoiceField):
    def label_from_instance(self, obj):
        return f"{obj.parent.name} {obj.name}" if obj.parent_id else obj.name


def organisations_near(communities: list[Region]):
    """Organisations that may run an outlet of these communities: registered in the community (a shop, a
    work unit) or at a level above it (a street's social-work agency)."""
    near = Q(pk__in=[])
    for community in communities:
        near |= Q(region_id__in=community.ancestor_ids()) | Q(region__path__startswith=community.path)
    return Organisation.objects.filter(near).select_related("region").order_by("name", "pk")


class OutletForm(forms.Form):
    """An outlet's details. The community is fixed for an existing outlet (outlets do not move) and for a
    user who manages one community; someone who manages several chooses it."""

    community = CommunityChoiceField(
        label=_("Community"), queryset=Region.objects.none(), empty_label=_("Choose")
    )
    name = forms.CharField(label=_("Name"), max_length=100)
    kind = forms.ChoiceField(label=_("Kind"), choices=Outlet.Kind.choices, widget=FastSelect)
    organisation = ListedModelChoiceField(
        label=_("Run by"),
        queryset=Organisation.objects.none(),
        required=False,
        empty_label=_("The community itself"),
        help_text=_("Staff of this organisation can hand items over and manage the items."),
    )
    address = forms.CharField(label=_("Address"), max_length=200, required=False)
    opening_hours = forms.CharField(
        label=_("Opening hours"), max_length=100, required=False, help_text=_("e.g. Mon–Fri 9:00–17:00")
    )
    is_active = forms.BooleanField(
        label=_("Open"), required=False, initial=True, help_text=_("A closed outlet is hidden from the shop.")
    )

    def __init__(self, *args, organisations, community: Region | None = None, communities=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.community = community
        if community is not None:
            del self.fields["community"]
        else:
            self.fields["community"].queryset = communities.select_related("parent")
        self.fields["organisation"].queryset = organisations

    def clean(self):
        cleaned = super().clean()
        community = self.community or cleaned.get("community")
        cleaned["community"] = community
        organisation = cleaned.get("organisation")
        if community is not None and organisation is not None:
            region = organisation.region
            if not (community.is_within(region) or region.is_within(community)):
                self.add_error("organisation", _("This organisation does not serve that community."))
        return cleaned


class ItemForm(forms.Form):
    """An item of an outlet. When an item is edited, `stock_seen` is the stock the form showed: the change
    the staff member made is applied to the stock as it is now, so redemptions made meanwhile are kept."""

    name = forms.CharField(label=_("Name"), max_length=100)
    description = forms.CharField(label=_("Description"), max_length=300, required=False)
    unit = forms.CharField(label=_("Unit"), max_length=20, required=False, help_text=_("e.g. jin, bag, box"))
    price = forms.IntegerField(
        label=_("Price in points"),
        min_value=1,
        max_value=MAX_PRICE,
        error_messages={"min_value": _("The price is at least 1 point.")},
    )
    stock = forms.IntegerField(
        label=_("In stock"),
        min_value=0,
        max_value=MAX_STOCK,
        error_messages={"min_value": _("Stock cannot be negative.")},
    )
    limit_per_person = forms.IntegerField(
        label=_("Limit per person"),
        min_value=1,
        max_value=MAX_QUANTITY,
        required=False,
        help_text=_("Leave blank for no limit."),
    )
    limit_period = forms.ChoiceField(
        label=_("Limit period"), choices=LimitPeriod.choices, initial=LimitPeriod.MONTH, widget=FastSelect
    )
    is_active = forms.BooleanField(label=_("On sale"), required=False, initial=True)
    stock_seen = forms.IntegerField(required=False, widget=forms.HiddenInput)

    FIELDS = (
        "name",
        "description",
        "unit",
        "price",
        "stock",
        "limit_per_person",
        "limit_period",
        "is_active",
    )

    @classmethod
    def for_item(cls, item: Item, **kwargs) -> "ItemForm":
        initial = {field: getattr(item, field) for field in cls.FIELDS}
        return cls(initial={**initial, "stock_seen": item.stock}, **kwargs)

    def item_fields(self) -> dict:
        return {field: self.cleaned_data[field] for field in self.FIELDS}


class RestockForm(forms.Form):
    add = forms.IntegerField(
        label=_("Add to stock"),
        min_value=1,
        max_value=MAX_STOCK,
        widget=forms.NumberInput(attrs={"inputmode": "numeric"}),
    )
