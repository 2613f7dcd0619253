"""Forms of the staff's consultation pages: rule sets, raising a topic and each step's action."""

from django import forms
from django.forms.models import fields_for_model
from django.utils.translation import gettext_lazy as _

from gongzhi.consultations.models import Attachment, Origin, ParticipantKind, RuleSet
from gongzhi.consultations.services import RULE_SET_FIELDS
from gongzhi.core.forms import FastSelect, ListedChoiceIterator, RegionChoiceField
from gongzhi.core.models import Organisation, Region

DATETIME_INPUT = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")


class ListedModelChoiceField(forms.ModelChoiceField):
    iterator = ListedChoiceIterator


class RowForm(forms.Form):
    """An action on one row of the consultation (a motion, a participant, an objection ...), chosen among
    the consultation's own rows: a row of another consultation is simply not a valid choice."""

    row_field = ""

    def __init__(self, *args, rows, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields[self.row_field].queryset = rows

    def clean(self):
        # The row travels in a hidden input, where its error would not show.
        if self.row_field in self.errors:
            self.add_error(None, _("This is not part of this consultation; reload the page."))
        return super().clean()


def row_choice() -> forms.ModelChoiceField:
    return forms.ModelChoiceField(queryset=None, widget=forms.HiddenInput)


class RuleSetForm(forms.Form):
    """Every field of a rule set, with the model's labels, defaults and choices; the service validates."""

    region = RegionChoiceField(label=_("Kept by"), queryset=Region.objects.none(), empty_label=None)

    def __init__(self, *args, regions, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["region"].queryset = regions
        self.fields.update(fields_for_model(RuleSet, fields=["name", *RULE_SET_FIELDS]))
        self.fields["speech_rules"].widget.attrs["rows"] = 5


class RaiseTopicForm(forms.Form):
    """A topic the committee raises itself, from an escalated matter or from a survey finding."""

    ORIGINS = [
        (value, label)
        for value, label in Origin.choices
        if value in (Origin.COMMITTEE, Origin.MATTER, Origin.SURVEY)
    ]

    community = ListedModelChoiceField(
        label=_("Community"), queryset=Region.objects.none(), widget=FastSelect, empty_label=None
    )
    rule_set = ListedModelChoiceField(label=_("Rules"), queryset=RuleSet.objects.none(), empty_label=None)
    title = forms.CharField(label=_("Topic"), max_length=100)
    description = forms.CharField(label=_("Description"), widget=forms.Textarea(attrs={"rows": 4}))
    origin = forms.ChoiceField(label=_("Raised"), choices=ORIGINS, initial=Origin.COMMITTEE)
    source_matter = forms.IntegerField(
        label=_("Matter number"),
        required=False,
        min_value=1,
        help_text=_("For a topic raised from an escalated matter: the matter's number (#)."),
    )
    source_note = forms.CharField(
        label=_("Source"),
        max_length=200,
        required=False,
        help_text=_("For a topic raised from a survey: which survey and finding."),
    )
    is_major = forms.BooleanField(
        label=_("Major matter (Civil Code art. 278 items 6-8: three-quarters needed)"), required=False
    )
    # Unchecked (and absent) is public: community affairs are published (居务公开) unless kept private.
    keep_private = forms.BooleanField(
        label=_("Keep the record to the community's residents and the participants"),
        required=False,
        help_text=_("For a topic about a few households' own affairs; otherwise everyone can read it."),
    )

    def __init__(self, *args, communities, rule_sets, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["community"].queryset = communities
        self.fields["rule_set"].queryset = rule_sets

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("origin") == Origin.MATTER and not cleaned.get("source_matter"):
            self.add_error("source_matter", _("Give the number of the matter the topic comes from."))
        return cleaned


class PublicForm(forms.Form):
    is_public = forms.TypedChoiceField(
        label=_("Who can read the record"),
        choices=[
            ("public", _("Everyone (居务公开)")),
            ("private", _("The community's residents, the participants and the staff")),
        ],
        coerce=lambda value: value == "public",
        widget=forms.RadioSelect,
    )


class ReviewForm(forms.Form):
    decision = forms.ChoiceField(
        label=_("Decision"),
        choices=[("accept", _("Accept the topic")), ("decline", _("Decline the topic"))],
        widget=forms.RadioSelect,
    )
    reason = forms.CharField(
        label=_("Public reason"),
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Published with the record, whichever the decision."),
    )


class RegionParticipantsForm(forms.Form):
    region = ListedModelChoiceField(
        label=_("Area"), queryset=Region.objects.none(), widget=FastSelect, empty_label=None
    )
    households = forms.ChoiceField(
        label=_("Add"),
        choices=[("", _("Every resident")), ("1", _("Every household"))],
        required=False,
        widget=forms.RadioSelect,
    )

    def __init__(self, *args, regions, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["region"].queryset = regions
        self.fields["region"].label_from_instance = lambda region: region.label

    def clean_households(self):
        return self.cleaned_data["households"] == "1"


PERSON_KINDS = (ParticipantKind.RESIDENT, ParticipantKind.OWNER, ParticipantKind.REPRESENTATIVE)
ORGANISATION_KINDS = (
    ParticipantKind.WORK_UNIT,
    ParticipantKind.ORGANISATION,
    ParticipantKind.PROPERTY_COMPANY,
)


class ParticipantForm(forms.Form):
    """One stakeholder: a resident found on the roster (as resident, owner or representative), an
    organisation, or an expert by name."""

    kind = forms.ChoiceField(
        label=_("Takes part as"),
        choices=[
            (value, label) for value, label in ParticipantKind.choices if value != ParticipantKind.HOUSEHOLD
        ],
    )
    resident = forms.IntegerField(required=False, widget=forms.HiddenInput)
    organisation = ListedModelChoiceField(
        label=_("Organisation"), queryset=Organisation.objects.none(), required=False
    )
    name = forms.CharField(
        label=_("Name"), max_length=100, required=False, help_text=_("An expert's name and field.")
    )
    floor_area = forms.DecimalField(
        label=_("Floor area (m²)"),
        max_digits=9,
        decimal_places=2,
        min_value=0,
        required=False,
        help_text=_("An owner's exclusive floor area, as on the property certificate."),
    )

    def __init__(self, *args, organisations=None, **kwargs):
        super().__init__(*args, **kwargs)
        if organisations is not None:
            self.fields["organisation"].queryset = organisations

    def clean(self):
        cleaned = super().clean()
        kind = cleaned.get("kind")
        if kind in PERSON_KINDS and not cleaned.get("resident"):
            self.add_error(None, _("Search the roster and choose the resident."))
        if kind in ORGANISATION_KINDS and not cleaned.get("organisation"):
            self.add_error("organisation", _("Choose the organisation."))
        if kind == ParticipantKind.EXPERT and not cleaned.get("name"):
            self.add_error("name", _("Give the expert's name."))
        cleaned["floor_area"] = cleaned.get("floor_area") or 0
        return cleaned


class RosterSearchForm(forms.Form):
    q = forms.CharField(
        label=_("Find a resident"),
        max_length=50,
        required=False,
        widget=forms.TextInput(
            attrs={"type": "search", "autocomplete": "off", "placeholder": _("Name, or last four digits")}
        ),
    )


class MotionForm(forms.Form):
    text = forms.CharField(
        label=_("Motion"),
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("The question put to the vote, e.g. “Agree to mark 40 parking spaces as proposed.”"),
    )


class NoticeForm(forms.Form):
    meeting_at = forms.DateTimeField(label=_("Meeting"), widget=DATETIME_INPUT)
    place = forms.CharField(label=_("Place"), max_length=200, required=False)
    online = forms.BooleanField(label=_("Participants may also take part online"), required=False)
    materials = forms.CharField(
        label=_("Materials"),
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_("What participants should read before the meeting; attach files below."),
    )


class AttachmentForm(forms.Form):
    kind = forms.ChoiceField(choices=Attachment.Kind.choices, widget=forms.HiddenInput)
    file = forms.FileField(
        label=_("File"), help_text=_("PDF, Word, Excel, PowerPoint, image or text; at most 20 MB.")
    )


class AttendanceForm(RowForm):
    row_field = "participant"
    participant = row_choice()


class MinutesForm(forms.Form):
    minutes = forms.CharField(
        label=_("Minutes"),
        max_length=50_000,
        widget=forms.Textarea(attrs={"rows": 8}),
        help_text=_("Who attended, who spoke and what was said, the motions and how the hall voted."),
    )


class VotingOpenForm(forms.Form):
    closes_at = forms.DateTimeField(label=_("Voting closes"), widget=DATETIME_INPUT)


class HallTallyForm(RowForm):
    row_field = "motion"
    motion = row_choice()
    yes_heads = forms.IntegerField(label=_("For (people)"), min_value=0, initial=0)
    no_heads = forms.IntegerField(label=_("Against (people)"), min_value=0, initial=0)
    abstain_heads = forms.IntegerField(label=_("Abstain (people)"), min_value=0, initial=0)
    yes_area = forms.DecimalField(label=_("For (m²)"), min_value=0, decimal_places=2, initial=0)
    no_area = forms.DecimalField(label=_("Against (m²)"), min_value=0, decimal_places=2, initial=0)
    abstain_area = forms.DecimalField(label=_("Abstain (m²)"), min_value=0, decimal_places=2, initial=0)

    def __init__(self, *args, counts_area: bool = True, **kwargs):
        super().__init__(*args, **kwargs)
        if not counts_area:
            for choice in ("yes", "no", "abstain"):
                del self.fields[f"{choice}_area"]


class HallConfirmForm(RowForm):
    row_field = "tally"
    tally = row_choice()


class ObjectionAnswerForm(RowForm):
    row_field = "objection"
    objection = row_choice()
    answer = forms.CharField(
        label=_("Public answer"), max_length=4000, widget=forms.Textarea(attrs={"rows": 3})
    )


class TaskForm(forms.Form):
    title = forms.CharField(label=_("Task"), max_length=200)
    responsible = forms.CharField(label=_("Responsible"), max_length=100, help_text=_("A person or a team."))
    organisation = ListedModelChoiceField(
        label=_("Responsible organisation"),
        queryset=Organisation.objects.none(),
        required=False,
        help_text=_("Its staff may then report progress themselves."),
    )
    due_on = forms.DateField(label=_("Due"), widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args, organisations=None, **kwargs):
        super().__init__(*args, **kwargs)
        if organisations is not None:
            self.fields["organisation"].queryset = organisations


class ProgressForm(RowForm):
    row_field = "task"
    task = row_choice()
    text = forms.CharField(label=_("Progress"), max_length=4000, widget=forms.Textarea(attrs={"rows": 2}))
    done = forms.BooleanField(label=_("The task is done"), required=False)


class ConfirmStepForm(forms.Form):
    """A step that needs nothing but the click (publish, close the ballots ...)."""
