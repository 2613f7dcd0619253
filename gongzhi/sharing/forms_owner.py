"""Forms of the owner's pages: a resource and its weekly hours, decisions on bookings, blackouts, photos.

The owner of a resource is chosen among what the user acts for: the organisations they work for, and the
communities where they run sharing (a resource with no organisation belongs to its community)."""

import datetime
from dataclasses import dataclass
from decimal import Decimal

from django import forms
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db.models import Q
from django.utils.dates import WEEKDAYS
from django.utils.translation import gettext_lazy as _

from gongzhi.core.forms import FastSelect, ListedChoiceIterator
from gongzhi.core.models import Organisation, Region
from gongzhi.core.roles import Perm
from gongzhi.core.scope import acts_as_superuser, has_perm_anywhere, in_scope, scope_organisation_ids
from gongzhi.core.selectors import organisations_acted_for
from gongzhi.sharing import rules
from gongzhi.sharing.models import PriceKind, Resource

# Where a resource is: its community or a place within it.
PLACE_LEVELS = [Region.Level.COMMUNITY, Region.Level.GRID, Region.Level.COMPOUND, Region.Level.BUILDING]
# Whom it is open to: residents of the street around it, or of a part of it.
AUDIENCE_LEVELS = [Region.Level.STREET, *PLACE_LEVELS]
MAX_HOURS_ROWS = 28
WEEKDAY_CHOICES = list(WEEKDAYS.items())
MINUTES_IN_A_WEEK = 7 * 24 * 60


def may_list_resources(user) -> bool:
    """Whether the user may list a resource: they work for an organisation, or run a community's sharing.
    Reads only the user's role assignments, which are loaded once per request."""
    if not user.is_authenticated:
        return False
    return has_perm_anywhere(user, Perm.MANAGE_SHARING) or bool(
        scope_organisation_ids(user, Perm.ACT_FOR_ORGANISATION)
    )


@dataclass
class Owners:
    """What the user may list resources for, and the communities those resources may stand in."""

    organisations: list[Organisation]
    communities: list[Region]  # where the user runs sharing: the community's own resources
    places: list[Region]  # every community a resource of theirs may stand in

    @classmethod
    def of(cls, user) -> "Owners":
        organisations = list(organisations_acted_for(user).select_related("region"))
        communities = list(
            Region.objects.filter(
                in_scope(user, Perm.MANAGE_SHARING, field=None), level=Region.Level.COMMUNITY
            ).order_by("path")
        )
        # An organisation lists in the community it sits in, or in any community of the area it serves
        # (services.resource_save has the same rule).
        near = Q(pk__in=[])
        for organisation in organisations:
            near |= Q(pk__in=organisation.region.ancestor_ids()) | Q(
                path__startswith=organisation.region.path
            )
        places = {community.pk: community for community in communities}
        if organisations:
            for community in Region.objects.filter(near, level=Region.Level.COMMUNITY).order_by("path"):
                places.setdefault(community.pk, community)
        return cls(organisations, communities, sorted(places.values(), key=lambda region: region.path))

    def choices(self) -> list[tuple[str, str]]:
        return [(f"organisation:{o.pk}", o.name) for o in self.organisations] + [
            (f"community:{c.pk}", _("%(community)s (the community itself)") % {"community": c.name})
            for c in self.communities
        ]

    def __bool__(self) -> bool:
        return bool(self.organisations or self.communities)


def _parent_path(region: Region) -> str:
    """The path of the region's parent ("/1/4/17/" -> "/1/4/"), read without a query."""
    return region.path.rstrip("/").rsplit("/", 1)[0] + "/"


class PlaceChoiceField(forms.ModelChoiceField):
    widget = FastSelect
    iterator = ListedChoiceIterator

    def label_from_instance(self, obj):
        return f"{obj.label} ({obj.get_level_display()})"


class PlacesChoiceField(forms.ModelMultipleChoiceField):
    iterator = ListedChoiceIterator

    def label_from_instance(self, obj):
        return f"{obj.label} ({obj.get_level_display()})"


class OrganisationsChoiceField(forms.ModelMultipleChoiceField):
    iterator = ListedChoiceIterator


def _bounded(field: forms.IntegerField, low: int, high: int) -> None:
    field.min_value, field.max_value = low, high
    field.validators += [MinValueValidator(low), MaxValueValidator(high)]
    field.widget.attrs.update({"min": low, "max": high, "inputmode": "numeric"})


# Sensible upper bounds on what an owner types: the model's integer columns allow far more.
NUMBER_BOUNDS = {
    "capacity": (1, 10_000),
    "slot_minutes": (5, 1440),
    "min_minutes": (5, MINUTES_IN_A_WEEK),
    "max_minutes": (5, MINUTES_IN_A_WEEK),
    "book_ahead_days": (0, 366),
    "cancel_before_minutes": (0, MINUTES_IN_A_WEEK),
    "buffer_minutes": (0, 1440),
    "hours_per_week": (1, 168),
    "bookings_at_once": (1, 1000),
    "no_show_limit": (0, 100),
    "checkin_opens_minutes": (0, 1440),
    "release_after_minutes": (5, 1440),
}


class ResourceForm(forms.ModelForm):
    """Every setting of a resource but its weekly hours (HoursFormSet). The service saves it."""

    owner = forms.ChoiceField(label=_("Opened by"), widget=FastSelect)
    region = PlaceChoiceField(
        label=_("Where"),
        queryset=Region.objects.none(),
        empty_label=_("Choose"),
        help_text=_("The community, or the grid, compound or building within it."),
    )
    audience_regions = PlacesChoiceField(
        label=_("Open to residents of"),
        queryset=Region.objects.none(),
        required=False,
        widget=forms.SelectMultiple(attrs={"size": 6}),
        help_text=_(
            "Residents living anywhere within these places may book. Leave this and the organisations "
            "empty to open it to the residents of its own community."
        ),
    )
    audience_organisations = OrganisationsChoiceField(
        label=_("Open to organisations"),
        queryset=Organisation.objects.none(),
        required=False,
        widget=forms.SelectMultiple(attrs={"size": 4}),
        help_text=_("Their staff may book it for the organisation."),
    )

    class Meta:
        model = Resource
        fields = [
            "owner",
            "kind",
            "name",
            "region",
            "address",
            "description",
            "rules",
            "audience_regions",
            "audience_organisations",
            "capacity",
            "slot_minutes",
            "min_minutes",
            "max_minutes",
            "book_ahead_days",
            "cancel_before_minutes",
            "buffer_minutes",
            "needs_approval",
            "hours_per_week",
            "bookings_at_once",
            "no_show_limit",
            "checkin_opens_minutes",
            "release_after_minutes",
            "price_kind",
            "price_per",
            "price_amount",
            "needs_plate",
            "is_active",
        ]
        widgets = {
            "description": forms.Textarea(attrs={"rows": 3}),
            "rules": forms.Textarea(attrs={"rows": 3}),
        }
        help_texts = {
            "slot_minutes": _("Bookings start and end on this grid, counted from midnight."),
            "min_minutes": _("A whole number of slots."),
            "max_minutes": _("A whole number of slots."),
            "buffer_minutes": _("Kept free after each booking, e.g. for cleaning."),
            "cancel_before_minutes": _("Bookers may cancel until this long before the start."),
            "no_show_limit": _("Within 30 days; 0: never paused."),
            "price_amount": _("Yuan, or whole points; leave empty when it is free."),
            "is_active": _("An unlisted resource takes no bookings and is hidden from residents."),
        }

    def __init__(self, *args, user, owners: Owners, **kwargs):
        instance = kwargs.get("instance")
        if instance is not None and instance.pk is not None:
            kwargs.setdefault("initial", {})
            kwargs["initial"].setdefault("owner", self.owner_key(instance))
        super().__init__(*args, **kwargs)
        self.owners = owners
        choices = owners.choices()
        current = self.owner_key(self.instance) if self.instance.pk else None
        if current and current not in dict(choices):
            # A superuser editing an organisation's resource: the owner it has stays a choice.
            label = self.instance.organisation.name if self.instance.organisation_id else current
            choices.insert(0, (current, label))
        self.fields["owner"].choices = choices
        if len(choices) == 1:
            self.fields["owner"].initial = choices[0][0]
        self._choose_places(user)
        for name, (low, high) in NUMBER_BOUNDS.items():
            _bounded(self.fields[name], low, high)
        self.fields["price_amount"].required = False
        self.fields["price_amount"].widget.attrs.update({"min": 0, "step": "0.01", "inputmode": "decimal"})

    @staticmethod
    def owner_key(resource: Resource) -> str:
        if resource.organisation_id:
            return f"organisation:{resource.organisation_id}"
        return f"community:{resource.community_id}"

    def _choose_places(self, user) -> None:
        if acts_as_superuser(user):
            self.fields["region"].queryset = Region.objects.filter(level__in=PLACE_LEVELS)
            self.fields["audience_regions"].queryset = Region.objects.filter(level__in=AUDIENCE_LEVELS)
            self.fields["audience_organisations"].queryset = Organisation.objects.all()
        else:
            places, around, serving = Q(pk__in=[]), Q(pk__in=[]), Q(pk__in=[])
            communities = list(self.owners.places)
            if self.instance.pk and self.instance.community_id not in {c.pk for c in communities}:
                communities.append(self.instance.community)
            for community in communities:
                street = _parent_path(community)
                places |= Q(path__startswith=community.path)
                around |= Q(path__startswith=street)
                serving |= Q(region__path__startswith=street) | Q(region_id__in=community.ancestor_ids())
            self.fields["region"].queryset = Region.objects.filter(places, level__in=PLACE_LEVELS)
            self.fields["audience_regions"].queryset = Region.objects.filter(
                around, level__in=AUDIENCE_LEVELS
            )
            self.fields["audience_organisations"].queryset = Organisation.objects.filter(serving)
        for name in ("region", "audience_regions"):
            self.fields[name].queryset = self.fields[name].queryset.select_related("parent").order_by("path")
        self.fields["audience_organisations"].queryset = self.fields[
            "audience_organisations"
        ].queryset.order_by("name", "pk")

    @classmethod
    def initial_from(cls, data) -> dict:
        """The submitted values as a fresh form's initial values: the form drawn again (another hours row)
        without complaining about what is not filled in yet."""
        multiple = {"audience_regions", "audience_organisations"}
        return {name: data.getlist(name) if name in multiple else data.get(name) for name in cls.base_fields}

    def clean_price_amount(self):
        return self.cleaned_data["price_amount"] or Decimal(0)

    def clean(self):
        cleaned = super().clean()
        self._clean_owner(cleaned)
        slot, shortest, longest = (cleaned.get(n) for n in ("slot_minutes", "min_minutes", "max_minutes"))
        if slot and shortest and shortest < slot:
            self.add_error("min_minutes", _("The shortest booking is at least one slot."))
        elif slot and shortest and shortest % slot:
            self.add_error(
                "min_minutes",
                _("Make it a multiple of the slot (%(minutes)s minutes).") % {"minutes": slot},
            )
        if shortest and longest and longest < shortest:
            self.add_error("max_minutes", _("The longest booking cannot be shorter than the shortest."))
        elif slot and longest and longest % slot:
            self.add_error(
                "max_minutes",
                _("Make it a multiple of the slot (%(minutes)s minutes).") % {"minutes": slot},
            )
        if cleaned.get("price_kind") == PriceKind.FREE:
            cleaned["price_amount"] = Decimal(0)
        return cleaned

    def _clean_owner(self, cleaned) -> None:
        owner, region = cleaned.get("owner"), cleaned.get("region")
        if not owner:
            return
        kind, _sep, pk = owner.partition(":")
        if kind == "organisation":
            known = {str(o.pk): o for o in self.owners.organisations}
            if self.instance.organisation_id and str(self.instance.organisation_id) == pk:
                known.setdefault(pk, self.instance.organisation)
            self.instance.organisation = known[pk]
            return
        self.instance.organisation = None
        communities = {str(c.pk): c for c in self.owners.communities}
        if self.instance.pk and self.instance.community_id and str(self.instance.community_id) == pk:
            communities.setdefault(pk, self.instance.community)
        community = communities[pk]
        if region is not None and not region.is_within(community):
            self.add_error(
                "region", _("Choose a place within %(community)s.") % {"community": community.name}
            )


class HoursRowForm(forms.Form):
    weekday = forms.TypedChoiceField(label=_("Day"), choices=WEEKDAY_CHOICES, coerce=int)
    opens = forms.TimeField(
        label=_("Opens"), required=False, widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M")
    )
    closes = forms.TimeField(
        label=_("Closes"), required=False, widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M")
    )

    def clean(self):
        cleaned = super().clean()
        opens, closes = cleaned.get("opens"), cleaned.get("closes")
        given = [name for name in ("opens", "closes") if self.data.get(self.add_prefix(name))]
        if len(given) == 1 and not self.errors:
            self.add_error(None, _("Give both the opening and the closing time, or neither."))
        cleaned["period"] = (
            rules.Hours(cleaned["weekday"], opens, closes)
            if opens is not None and closes is not None and "weekday" in cleaned
            else None
        )
        return cleaned


class BaseHoursFormSet(forms.BaseFormSet):
    def clean(self):
        if any(self.errors):
            return
        seen = set()
        for period in self.periods():
            if (period.weekday, period.opens) in seen:
                raise forms.ValidationError(
                    _("Two periods start at the same time on %(day)s.") % {"day": WEEKDAYS[period.weekday]}
                )
            seen.add((period.weekday, period.opens))
        if not seen:
            raise forms.ValidationError(_("Give at least one opening period."))

    def periods(self) -> list[rules.Hours]:
        return [form.cleaned_data["period"] for form in self.forms if form.cleaned_data.get("period")]


HoursFormSet = forms.formset_factory(
    HoursRowForm,
    formset=BaseHoursFormSet,
    extra=0,
    max_num=MAX_HOURS_ROWS,
    absolute_max=MAX_HOURS_ROWS,
    validate_max=True,
)
HOURS_PREFIX = "hours"


def hours_formset(data=None, *, periods: list[rules.Hours] | None = None, blank_rows: int = 0):
    """The hours rows: the periods given, then blank rows to fill in (a new resource gets Monday to
    Sunday, one row each)."""
    initial = [
        {"weekday": p.weekday, "opens": p.opens, "closes": p.closes}
        for p in sorted(periods or [], key=lambda p: (p.weekday, p.opens))
    ]
    last = initial[-1]["weekday"] if initial else -1
    initial += [{"weekday": (last + 1 + n) % 7} for n in range(blank_rows)]
    return HoursFormSet(data, prefix=HOURS_PREFIX, initial=initial)


class EveryDayForm(forms.Form):
    """The shortcut: the same hours on all seven days."""

    opens = forms.TimeField(
        label=_("Opens"), required=False, widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M")
    )
    closes = forms.TimeField(
        label=_("Closes"), required=False, widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M")
    )

    def clean(self):
        cleaned = super().clean()
        if not self.errors and (cleaned.get("opens") is None or cleaned.get("closes") is None):
            raise forms.ValidationError(_("Give the opening and the closing time."))
        return cleaned


def hours_rows_redrawn(data, action: str):
    """The hours rows after "Add a row" or "Same hours every day", drawn from what was submitted (nothing
    is saved): returns the rows and the shortcut's form."""
    every_day = EveryDayForm(data if action == "every_day" else None, prefix="every")
    try:
        count = min(int(data.get(f"{HOURS_PREFIX}-TOTAL_FORMS", 0)), MAX_HOURS_ROWS)
    except ValueError:
        count = 0
    rows = [
        {name: data.get(f"{HOURS_PREFIX}-{n}-{name}", "") for name in ("weekday", "opens", "closes")}
        for n in range(max(count, 0))
    ]
    if action == "every_day" and every_day.is_valid():
        opens, closes = every_day.cleaned_data["opens"], every_day.cleaned_data["closes"]
        rows = [{"weekday": day, "opens": opens, "closes": closes} for day in range(7)]
        every_day = EveryDayForm(prefix="every")
    elif action == "add_row" and len(rows) < MAX_HOURS_ROWS:
        last = rows[-1]["weekday"] if rows else ""
        next_day = (int(last) + 1) % 7 if str(last).isdigit() else 0
        rows.append({"weekday": next_day})
    return HoursFormSet(prefix=HOURS_PREFIX, initial=rows), every_day


# The owner's decisions on a booking, and the desk's small forms.


class DecideForm(forms.Form):
    decision = forms.ChoiceField(choices=[("approve", _("Approve")), ("decline", _("Decline"))])
    reason = forms.CharField(label=_("Reason"), max_length=200, required=False)

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("decision") == "decline" and not cleaned.get("reason", "").strip():
            self.add_error("reason", _("Tell the booker why the request is declined."))
        return cleaned


class ButtonForm(forms.Form):
    """No fields: a button (check in)."""


class CancelForm(forms.Form):
    reason = forms.CharField(
        label=_("Reason"),
        max_length=200,
        error_messages={"required": _("Tell the booker why the booking is cancelled.")},
    )


class DayForm(forms.Form):
    day = forms.DateField(label=_("Day"), widget=forms.DateInput(attrs={"type": "date"}))


class BlackoutForm(forms.Form):
    first_day = forms.DateField(label=_("From"), widget=forms.DateInput(attrs={"type": "date"}))
    last_day = forms.DateField(label=_("To (inclusive)"), widget=forms.DateInput(attrs={"type": "date"}))
    reason = forms.CharField(
        label=_("Reason"),
        max_length=200,
        required=False,
        help_text=_("Told to the bookers whose bookings are cancelled."),
    )

    def clean(self):
        cleaned = super().clean()
        first_day, last_day = cleaned.get("first_day"), cleaned.get("last_day")
        if first_day and last_day and last_day < first_day:
            self.add_error("last_day", _("The last day cannot be before the first."))
        elif first_day and last_day and last_day - first_day > datetime.timedelta(days=366):
            self.add_error("last_day", _("Close for at most a year at a time."))
        return cleaned


class PhotoForm(forms.Form):
    photo = forms.FileField(
        label=_("Photo"),
        help_text=_("JPEG, PNG or WebP, at most 10 MB; up to 9 photos."),
        widget=forms.ClearableFileInput(attrs={"accept": "image/jpeg,image/png,image/webp"}),
    )
