"""Forms of the consultation pages residents and participants use: proposing a topic, objecting, evaluating,
voting and signing in at the meeting. Each only parses; the services decide."""

from django import forms
from django.utils.translation import gettext_lazy as _

from gongzhi.consultations.models import Choice, Reply, RuleSet
from gongzhi.core.forms import RotatingCodeField
from gongzhi.core.models import Organisation

AS_RESIDENT = "resident"


class RuleSetChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: RuleSet):
        return f"{obj.name} ({obj.get_decision_rule_display()})"


class ProposeForm(forms.Form):
    """A topic for one community: as a resident of it, or for an organisation the proposer acts for."""

    title = forms.CharField(
        label=_("Topic"), max_length=100, help_text=_("In a few words, e.g. “Parking lines in the compound”.")
    )
    description = forms.CharField(
        label=_("Description"),
        max_length=10_000,
        widget=forms.Textarea(attrs={"rows": 6}),
        help_text=_("What is the problem, whom does it concern, and what do you propose?"),
    )
    rule_set = RuleSetChoiceField(
        label=_("Rules"),
        queryset=RuleSet.objects.none(),
        empty_label=None,
        help_text=_("The community's rules of consultation this topic will follow."),
    )
    proposer = forms.ChoiceField(label=_("Proposed by"))

    def __init__(self, *args, rule_sets, as_resident: bool, organisations: list[Organisation], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["rule_set"].queryset = rule_sets
        choices = [(AS_RESIDENT, _("Me, as a resident"))] if as_resident else []
        choices += [(str(organisation.pk), organisation.name) for organisation in organisations]
        self.fields["proposer"].choices = choices
        self.organisations = {str(organisation.pk): organisation for organisation in organisations}
        if len(choices) == 1:
            # Nothing to choose: the one way this user proposes here.
            self.fields["proposer"].initial = choices[0][0]
            self.fields["proposer"].required = False
            self.fields["proposer"].widget = forms.HiddenInput()

    def clean_proposer(self):
        return self.cleaned_data["proposer"] or self.fields["proposer"].initial

    def clean(self):
        cleaned = super().clean()
        cleaned["organisation"] = self.organisations.get(cleaned.get("proposer", ""))
        return cleaned


class ButtonForm(forms.Form):
    """No fields: a button (co-sign). It carries the service's refusal as a form error."""


class ObjectionForm(forms.Form):
    text = forms.CharField(
        label=_("Your objection"),
        max_length=4000,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_("Say what you object to and why; the committee answers publicly."),
    )


class EvaluationForm(forms.Form):
    score = forms.TypedChoiceField(
        label=_("How well was the result carried out?"),
        coerce=int,
        choices=[
            (5, _("5 · Very good")),
            (4, _("4 · Good")),
            (3, _("3 · Fair")),
            (2, _("2 · Poor")),
            (1, _("1 · Very poor")),
        ],
        widget=forms.RadioSelect,
    )
    comment = forms.CharField(
        label=_("Comment"), max_length=2000, required=False, widget=forms.Textarea(attrs={"rows": 3})
    )


class BallotForm(forms.Form):
    """One motion's vote."""

    motion = forms.IntegerField(widget=forms.HiddenInput)
    choice = forms.ChoiceField(label=_("Your vote"), choices=Choice.choices, widget=forms.RadioSelect)


class ReplyForm(forms.Form):
    """The answer to the meeting's invitation; online is offered only where the meeting is online too."""

    reply = forms.ChoiceField(label=_("Will you come?"), choices=Reply.choices, widget=forms.RadioSelect)
    note = forms.CharField(
        label=_("Note"),
        max_length=100,
        required=False,
        help_text=_("Optional, e.g. who will come for the household."),
    )

    def __init__(self, *args, online: bool = True, **kwargs):
        super().__init__(*args, **kwargs)
        if not online:
            self.fields["reply"].choices = [
                (value, label) for value, label in Reply.choices if value != Reply.ONLINE
            ]


class SignInForm(forms.Form):
    code = RotatingCodeField(label=_("The six digits under the meeting's QR code"))
