"""Forms of the volunteer's own pages, the volunteer record, points awards and a community's settings."""

import secrets

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from gongzhi.volunteering.models import RecordNote

POINTS_ERRORS = {
    "required": _("Enter the number of points."),
    "invalid": _("Enter a whole number of points greater than zero."),
    "min_value": _("Enter a whole number of points greater than zero."),
    "max_value": _("At most %(limit_value)s points at a time."),
}
# A sanity bound, not a rule: a slip of the finger should not move a million points.
MAX_POINTS_AT_ONCE = 100_000


def request_token() -> str:
    """A one-time token for a form that moves points: the same submission twice posts once."""
    return secrets.token_urlsafe(16)


class RequestTokenForm(forms.Form):
    token = forms.CharField(max_length=64, widget=forms.HiddenInput)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if not self.is_bound:
            self.initial.setdefault("token", request_token())


class VolunteerProfileForm(forms.Form):
    skills = forms.CharField(
        label=_("Skills"),
        max_length=200,
        required=False,
        help_text=_("What you are good at or would like to help with, e.g. first aid, repairs, reading."),
    )
    on_honour_roll = forms.BooleanField(
        label=_("Show my name and hours on the community's honour roll"), required=False
    )


class RecordNoteForm(forms.Form):
    kind = forms.ChoiceField(label=_("Kind"), choices=RecordNote.Kind.choices)
    title = forms.CharField(label=_("Title"), max_length=100)
    detail = forms.CharField(
        label=_("Detail"), max_length=2000, required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    on_date = forms.DateField(label=_("Date"), widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if not self.is_bound:
            self.initial.setdefault("on_date", timezone.localdate().isoformat())


class ResidentSearchForm(forms.Form):
    q = forms.CharField(
        label=_("Find the resident"),
        max_length=50,
        required=False,
        help_text=_("Part of the name, or the last four digits of the phone."),
        widget=forms.TextInput(attrs={"type": "search", "autocomplete": "off"}),
    )


class ResidentRadioChoiceField(forms.ModelChoiceField):
    """Validates against every resident of the community the user may see, but offers only the few found by
    the search: a community holds thousands of residents."""

    widget = forms.RadioSelect

    def offer(self, residents) -> None:
        self.widget.choices = [(resident.pk, resident_label(resident)) for resident in residents]


def resident_label(resident) -> str:
    room = resident.household.number if resident.household_id and resident.household else ""
    place = f"{resident.region.name} {room}".strip()
    return " · ".join(part for part in (resident.name, place, resident.phone_masked) if part)


class AwardForm(RequestTokenForm):
    resident = ResidentRadioChoiceField(
        label=_("Resident"),
        queryset=None,
        empty_label=None,
        error_messages={
            "required": _("Search for the resident and choose them."),
            "invalid_choice": _("Search for the resident and choose them."),
        },
    )
    amount = forms.IntegerField(
        label=_("Points"), min_value=1, max_value=MAX_POINTS_AT_ONCE, error_messages=POINTS_ERRORS
    )
    reason = forms.CharField(
        label=_("Reason"),
        max_length=200,
        help_text=_("What the points are for; the resident sees it in their passbook."),
        error_messages={"required": _("Give a reason for the award.")},
    )

    def __init__(self, *args, residents, offered=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["resident"].queryset = residents
        self.fields["resident"].offer(offered)

    def chosen_resident_id(self) -> int | None:
        value = self.data.get("resident") if self.is_bound else None
        return int(value) if value and str(value).isdigit() else None


class FundForm(RequestTokenForm):
    amount = forms.IntegerField(
        label=_("Points to add to the award budget"),
        min_value=1,
        max_value=MAX_POINTS_AT_ONCE,
        error_messages=POINTS_ERRORS,
    )

    def __init__(self, *args, **kwargs):
        # It shares a page with the award form: its own element ids, the same field names.
        kwargs.setdefault("auto_id", "fund_%s")
        super().__init__(*args, **kwargs)


class SettingsForm(forms.Form):
    points_expire_after_years = forms.IntegerField(
        label=_("Points expire after (years)"),
        min_value=1,
        max_value=50,
        required=False,
        help_text=_("Leave blank if points never expire. Verified hours never expire."),
    )
    person_in_charge = forms.CharField(
        label=_("Person in charge"),
        max_length=50,
        required=False,
        help_text=_("Named on every volunteer certificate the community issues."),
    )
    handler_name = forms.CharField(label=_("Certificate handler"), max_length=50, required=False)
    handler_contact = forms.CharField(
        label=_("Handler's contact"),
        max_length=50,
        required=False,
        help_text=_("A phone number where anyone can check a certificate."),
    )
