"""Forms of the residents' sharing pages: finding a resource and booking it. The booking's rules (hours,
durations, quotas, places) are the services'; these forms only read what was typed, so a refusal comes back
with the service's own words."""

import datetime
import uuid

from django import forms
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from gongzhi.core.forms import CODE_INPUT, FastSelect, ListedChoiceIterator, SearchForm
from gongzhi.core.models import Organisation
from gongzhi.sharing import rules
from gongzhi.sharing.models import Resource, ResourceKind
from gongzhi.sharing.services import MAX_SERIES_WEEKS

# The services name the times they refuse by the model's fields; the form asks for them as start and end.
SERVICE_FIELDS = {"starts_at": "start", "ends_at": "end"}


class ResourceSearchForm(SearchForm):
    q = forms.CharField(
        label=_("Name"),
        required=False,
        max_length=50,
        widget=forms.TextInput(attrs={"type": "search", "autocomplete": "off"}),
    )
    kind = forms.ChoiceField(
        label=_("Kind"),
        required=False,
        choices=[("", _("All kinds")), *ResourceKind.choices],
        widget=FastSelect,
    )


class OrganisationChoiceField(forms.ModelChoiceField):
    iterator = ListedChoiceIterator
    widget = FastSelect


def end_choices(resource: Resource, start: datetime.datetime | None, open_until: datetime.datetime | None):
    """The lengths a booking from `start` may have, in minutes, each labelled with the time it ends; none
    past the end of the open period that holds the start."""
    lengths = range(resource.min_minutes, resource.max_minutes + 1, resource.slot_minutes)
    if start is None:
        return [(minutes, _("%(minutes)s minutes") % {"minutes": minutes}) for minutes in lengths]
    choices = []
    for minutes in lengths:
        end = start + datetime.timedelta(minutes=minutes)
        if open_until is not None and end > open_until:
            break
        label = f"{timezone.localtime(end):%H:%M}"
        if rules.local_day(end) != rules.local_day(start):
            label = _("%(time)s (next day)") % {"time": label}
        choices.append((minutes, label))
    return choices


class BookingForm(forms.Form):
    """A booking of one resource. The end is asked as a length (its choices labelled with end times), so a
    slot crossing midnight ends "07:00 (next day)". `request_token` is drawn once with the page: a doubled
    submit (a double tap, a retry on a slow network) books once."""

    day = forms.DateField(label=_("Day"), widget=forms.DateInput(attrs={"type": "date"}))
    start = forms.TimeField(
        label=_("Start time"), widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M")
    )
    # Any length is accepted here and checked by the service, so a length outside the choices gets the
    # resource's own limit in the message rather than "not one of the choices".
    end = forms.IntegerField(label=_("Until"), min_value=1, widget=FastSelect)
    party_size = forms.IntegerField(
        label=_("Places"),
        min_value=1,
        initial=1,
        widget=forms.NumberInput(attrs={"inputmode": "numeric"}),
    )
    # Required by the service, which names what is missing: "Give the vehicle plate."
    plate = forms.CharField(
        label=_("Vehicle plate"),
        max_length=12,
        required=False,
        help_text=_("e.g. 川A12345"),
        widget=forms.TextInput(attrs=CODE_INPUT),
    )
    note = forms.CharField(label=_("Note for the owner"), max_length=200, required=False)
    organisation = OrganisationChoiceField(
        label=_("Book for"), queryset=Organisation.objects.none(), empty_label=_("Myself, as a resident")
    )
    weeks = forms.IntegerField(
        label=_("Repeat weekly for this many weeks"),
        required=False,
        min_value=1,
        max_value=MAX_SERIES_WEEKS,
        help_text=_("Leave empty to book this day only."),
        widget=forms.NumberInput(attrs={"inputmode": "numeric"}),
    )
    skip_conflicts = forms.BooleanField(
        label=_("Skip the weeks that cannot be booked"),
        required=False,
        help_text=_("Otherwise nothing is booked if any week cannot be."),
    )
    # Checked by the service, whose refusal ("reload the page") is shown above the form.
    request_token = forms.CharField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args, resource: Resource, organisations, may_book_as_resident: bool, **kwargs):
        kwargs.setdefault("initial", {}).setdefault("request_token", str(uuid.uuid4()))
        super().__init__(*args, **kwargs)
        self.resource = resource
        self.fields["start"].widget.attrs["step"] = resource.slot_minutes * 60
        # A new day or start relabels the ends (HTMX); without scripts the labels are the first ones drawn.
        refresh_ends = {
            "hx-get": reverse("sharing:book", args=[resource.pk]),
            "hx-trigger": "change",
            "hx-target": "#end-field",
            "hx-swap": "outerHTML",
            "hx-include": "#id_day, #id_start, #id_end",
        }
        self.fields["day"].widget.attrs.update(refresh_ends)
        self.fields["start"].widget.attrs.update(refresh_ends)
        if resource.is_exclusive:
            del self.fields["party_size"]
        else:
            self.fields["party_size"].max_value = resource.capacity
            self.fields["party_size"].widget.attrs["max"] = resource.capacity
        if not resource.needs_plate:
            del self.fields["plate"]
        if organisations.exists():
            self.fields["organisation"].queryset = organisations
            self.fields["organisation"].required = not may_book_as_resident
            if not may_book_as_resident:
                self.fields["organisation"].empty_label = None
        else:
            del self.fields["organisation"]

    def chosen_start(self) -> datetime.datetime | None:
        """The start the form holds (typed or prefilled), for labelling the ends; None if there is none."""
        day = self._value("day")
        start = self._value("start")
        if day is None or start is None:
            return None
        return rules.at(day, start)

    def _value(self, name):
        field = self.fields[name]
        raw = self.data.get(name) if self.is_bound else self.initial.get(name)
        if raw in (None, ""):
            return None
        try:
            return field.clean(raw)
        except forms.ValidationError:
            return None

    def set_end_choices(self, open_until: datetime.datetime | None) -> None:
        self.fields["end"].widget.choices = end_choices(self.resource, self.chosen_start(), open_until)

    def interval(self) -> tuple[datetime.datetime, datetime.datetime]:
        data = self.cleaned_data
        start = rules.at(data["day"], data["start"])
        return start, start + datetime.timedelta(minutes=data["end"])
