"""Forms of the survey pages: a survey's settings, a question to add, the answers to a questionnaire (built
from its questions), and the filters of its results."""

from django import forms
from django.utils.translation import gettext_lazy as _

from gongzhi.analysis.models import Group, Mode, NeedCategory, OnePer, QuestionKind, Survey
from gongzhi.core.forms import FastSelect
from gongzhi.core.models import Region
from gongzhi.core.roles import Perm
from gongzhi.core.selectors import region_subtree, regions_where

# A survey is run by a community, or by a street for all its communities.
RUNNING_LEVELS = [Region.Level.STREET, Region.Level.COMMUNITY]


class SurveyForm(forms.Form):
    title = forms.CharField(label=_("Title"), max_length=100)
    intro = forms.CharField(
        label=_("Introduction"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Shown above the questions: why you ask, and what you will do with the answers."),
    )
    region = forms.ModelChoiceField(label=_("Run by"), queryset=Region.objects.none(), widget=FastSelect)
    audience_group = forms.ChoiceField(label=_("For"), choices=Group.choices, initial=Group.ALL)
    anonymous = forms.BooleanField(
        label=_("Anonymous"),
        required=False,
        initial=True,
        help_text=_("Untick to keep who answered; only the survey's owners see it."),
    )
    one_per = forms.ChoiceField(label=_("Answers"), choices=OnePer.choices, initial=OnePer.RESIDENT)

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        regions = regions_where(user, Perm.MANAGE_ANALYSIS, levels=RUNNING_LEVELS)
        self.fields["region"].queryset = regions
        if len(regions) == 1:
            self.fields["region"].initial = regions[0]


class QuestionForm(forms.Form):
    kind = forms.ChoiceField(label=_("Kind"), choices=QuestionKind.choices)
    text = forms.CharField(label=_("Question"), max_length=300)
    help_text = forms.CharField(label=_("Help"), max_length=300, required=False)
    required = forms.BooleanField(label=_("Must be answered"), required=False, initial=True)
    options = forms.CharField(
        label=_("Options"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_(
            "For a choice question: one option a line. A needs question offers the register's categories."
        ),
    )
    minimum = forms.IntegerField(label=_("Lowest"), required=False)
    maximum = forms.IntegerField(label=_("Highest"), required=False)

    def options_list(self) -> list[str]:
        return [line.strip() for line in self.cleaned_data["options"].splitlines() if line.strip()]


def _question_field(question) -> forms.Field:
    common = {"label": question.text, "help_text": question.help_text, "required": False}
    kind = question.kind
    if kind == QuestionKind.SINGLE:
        return forms.ChoiceField(
            choices=list(enumerate(question.options)), widget=forms.RadioSelect, **common
        )
    if kind == QuestionKind.MULTIPLE:
        return forms.MultipleChoiceField(
            choices=list(enumerate(question.options)), widget=forms.CheckboxSelectMultiple, **common
        )
    if kind == QuestionKind.NEEDS:
        names = dict(NeedCategory.choices)
        return forms.MultipleChoiceField(
            choices=[(value, names.get(value, value)) for value in question.options],
            widget=forms.CheckboxSelectMultiple,
            **common,
        )
    if kind == QuestionKind.SCALE:
        steps = range(question.minimum, question.maximum + 1)
        return forms.ChoiceField(
            choices=[(step, step) for step in steps],
            widget=forms.RadioSelect(attrs={"class": "scale"}),
            **common,
        )
    if kind == QuestionKind.NUMBER:
        # A text field with a number keyboard: the service checks the value and says what is wrong.
        return forms.CharField(
            max_length=20, widget=forms.TextInput(attrs={"inputmode": "decimal"}), **common
        )
    if kind == QuestionKind.LONG_TEXT:
        return forms.CharField(widget=forms.Textarea(attrs={"rows": 4}), **common)
    return forms.CharField(**common)


class AnswersForm(forms.Form):
    """One field a question, named by its key. Every field is optional here: the service checks what must be
    answered, and all at once, so every error shows on its question."""

    def __init__(self, *args, survey: Survey, **kwargs):
        super().__init__(*args, **kwargs)
        self.questions = list(survey.questions.all())
        self.required_keys = {question.key for question in self.questions if question.required}
        for question in self.questions:
            self.fields[question.key] = _question_field(question)

    def answers(self) -> dict:
        return {key: value for key, value in self.cleaned_data.items() if value not in ("", [], None)}


class EntryForm(forms.Form):
    mode = forms.ChoiceField(
        label=_("How were the answers given?"),
        choices=[(Mode.PAPER, Mode.PAPER.label), (Mode.ASSISTED, Mode.ASSISTED.label)],
        initial=Mode.PAPER,
        widget=forms.RadioSelect,
    )


class ResultsFilterForm(forms.Form):
    group = forms.ChoiceField(
        label=_("Group"),
        required=False,
        choices=[("", _("Everyone"))] + [choice for choice in Group.choices if choice[0] != Group.ALL],
    )
    region = forms.ModelChoiceField(
        label=_("Living in"), required=False, queryset=Region.objects.none(), empty_label=_("Everywhere")
    )

    def __init__(self, *args, survey: Survey, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["region"].queryset = region_subtree(survey.audience_region).filter(
            level__in=[Region.Level.COMPOUND, Region.Level.BUILDING]
        )

    def filters(self) -> dict:
        """The valid filters; a malformed one is left out, not refused."""
        if self.is_valid():
            return {"group": self.cleaned_data["group"], "region": self.cleaned_data["region"]}
        return {"group": "", "region": None}
