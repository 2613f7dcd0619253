"""Volunteering forms: they parse what a person typed. The rules (who may, when, how many) are the
services'."""

from django import forms
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from gongzhi.core.forms import CODE_INPUT, FastSelect, ListedChoiceIterator, RotatingCodeField
from gongzhi.core.models import Organisation, Region
from gongzhi.core.roles import Perm
from gongzhi.core.scope import in_scope
from gongzhi.core.selectors import organisations_acted_for
from gongzhi.volunteering.models import Activity, PointsRule, RiskLevel
from gongzhi.volunteering.services import ACTIVITY_FIELDS, Decision

# Where an activity can be held: its audience is the residents of this region's subtree.
ACTIVITY_LEVELS = [Region.Level.COMMUNITY, Region.Level.GRID, Region.Level.COMPOUND, Region.Level.BUILDING]


class RegionField(forms.ModelChoiceField):
    widget = FastSelect
    iterator = ListedChoiceIterator

    def label_from_instance(self, obj):
        return f"{obj.label} ({obj.get_level_display()})"


class OrganisationField(forms.ModelChoiceField):
    iterator = ListedChoiceIterator


def _local_datetime_input() -> forms.DateTimeInput:
    # A phone shows its own date and time picker; the value is local time (Asia/Shanghai).
    return forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")


class ActivityForm(forms.Form):
    """A new activity or changes to one. `region` and `organisation` only when creating: an activity stays
    in the place and with the organiser it was published for."""

    region = RegionField(
        label=_("Where, and for whom"),
        queryset=Region.objects.none(),
        empty_label=_("Choose"),
        help_text=_("Residents of this place (and of everywhere within it) may sign up."),
    )
    organisation = OrganisationField(
        label=_("Organised by"),
        queryset=Organisation.objects.none(),
        required=False,
        empty_label=_("The community itself"),
    )
    title = forms.CharField(label=_("Title"), max_length=100)
    description = forms.CharField(
        label=_("What volunteers will do"), required=False, widget=forms.Textarea(attrs={"rows": 4})
    )
    place = forms.CharField(label=_("Meeting place"), max_length=200)
    starts_at = forms.DateTimeField(label=_("Starts"), widget=_local_datetime_input())
    ends_at = forms.DateTimeField(label=_("Ends"), widget=_local_datetime_input())
    cancel_deadline = forms.DateTimeField(
        label=_("Volunteers may cancel until"),
        required=False,
        widget=_local_datetime_input(),
        help_text=_("Leave blank to allow cancelling until the start."),
    )
    capacity = forms.IntegerField(label=_("Places"), min_value=1, max_value=10_000)
    skills_wanted = forms.CharField(label=_("Skills wanted"), max_length=200, required=False)
    min_age = forms.IntegerField(label=_("Minimum age"), min_value=0, max_value=100, initial=0)
    risk_level = forms.ChoiceField(
        label=_("Risk level"),
        choices=RiskLevel.choices,
        initial=RiskLevel.LOW,
        help_text=_("A medium or high risk activity opens only once the volunteers' insurance is confirmed."),
    )
    points_rule = forms.ChoiceField(
        label=_("Points rule"), choices=PointsRule.choices, initial=PointsRule.PER_HOUR
    )
    points = forms.IntegerField(
        label=_("Points"),
        min_value=0,
        max_value=10_000,
        initial=0,
        help_text=_(
            "Per verified hour, or for taking part, as the rule says. Paid from the community's budget."
        ),
    )
    open_to_everyone = forms.BooleanField(
        label=_("Residents of other communities may sign up too"), required=False
    )

    def __init__(self, *args, user, activity: Activity | None = None, **kwargs):
        if activity is not None:
            kwargs.setdefault("initial", {name: getattr(activity, name) for name in ACTIVITY_FIELDS})
        super().__init__(*args, **kwargs)
        if activity is not None:
            del self.fields["region"]
            del self.fields["organisation"]
            return
        organisations = list(organisations_acted_for(user).select_related("region"))
        # Community staff choose among the places where they manage volunteering; an organisation's staff
        # within the organisation's own area.
        where = in_scope(user, Perm.MANAGE_VOLUNTEERING, field=None)
        for organisation in organisations:
            where |= Q(path__startswith=organisation.region.path)
        self.fields["region"].queryset = (
            Region.objects.filter(where, level__in=ACTIVITY_LEVELS).select_related("parent").order_by("path")
        )
        if organisations:
            self.fields["organisation"].queryset = Organisation.objects.filter(
                pk__in=[organisation.pk for organisation in organisations]
            ).order_by("name")
            if len(organisations) == 1:
                self.fields["organisation"].initial = organisations[0].pk
        else:
            del self.fields["organisation"]

    def has_choices(self) -> bool:
        return "region" not in self.fields or self.fields["region"].queryset.exists()

    def clean(self):
        cleaned = super().clean()
        starts_at, ends_at = cleaned.get("starts_at"), cleaned.get("ends_at")
        if starts_at and ends_at and ends_at <= starts_at:
            self.add_error("ends_at", _("The activity must end after it starts."))
        return cleaned

    def activity_fields(self) -> dict:
        """The cleaned values the services take (ACTIVITY_FIELDS). A blank cancellation deadline means the
        start."""
        fields = {name: self.cleaned_data[name] for name in ACTIVITY_FIELDS}
        if fields["cancel_deadline"] is None:
            fields["cancel_deadline"] = fields["starts_at"]
        fields["description"] = fields["description"].strip()
        return fields


class ButtonForm(forms.Form):
    """No fields: a button (sign up, cancel my sign-up, open for sign-up). It carries the service's refusal
    as a form error."""


class CheckInForm(forms.Form):
    code = RotatingCodeField(label=_("The six digits under the activity's QR code"))


class InsuranceForm(forms.Form):
    policy = forms.CharField(
        label=_("Insurance policy"),
        max_length=200,
        help_text=_("The insurer and the policy number covering the volunteers."),
    )


class ActivityCancelForm(forms.Form):
    reason = forms.CharField(
        label=_("Why is it cancelled?"),
        max_length=200,
        help_text=_("Everyone who signed up or is waiting gets this message."),
    )


class ScanForm(forms.Form):
    token = forms.CharField(
        label=_("Volunteer's code"),
        max_length=300,
        help_text=_(
            "Scan the volunteer's personal QR code with the phone's scanner and paste what it reads."
        ),
        widget=forms.TextInput(attrs={**CODE_INPUT, "autofocus": True, "autocapitalize": "off"}),
    )


class AttendanceForm(forms.Form):
    action = forms.ChoiceField(
        choices=[
            ("check_in", _("Check in")),
            ("check_out", _("Check out")),
            ("no_show", _("Did not come")),
        ]
    )


class VerifyForm(forms.Form):
    decision = forms.ChoiceField(
        choices=[
            (Decision.APPROVE, _("Approve")),
            (Decision.ADJUST, _("Adjust")),
            (Decision.REJECT, _("Reject")),
        ]
    )
    hours = forms.DecimalField(label=_("Hours"), required=False, max_digits=5, decimal_places=2, min_value=0)
    reason = forms.CharField(label=_("Reason"), max_length=200, required=False)
