"""Forms of the needs register and the needs dashboard. The choices offered are already scoped to the user:
a community or region outside their scope is refused as an invalid choice, before any service runs."""

from django import forms
from django.db.models import Q, QuerySet
from django.utils.translation import gettext_lazy as _

from gongzhi.analysis.models import EvidenceKind, Group, NeedCategory, NeedStatus, NeedType
from gongzhi.core.models import Region, RegionLevel
from gongzhi.core.roles import Perm
from gongzhi.core.scope import in_scope

# The parts of a community a need can concern; deeper ones (rooms) are not regions.
CONCERNED_LEVELS = [RegionLevel.GRID, RegionLevel.COMPOUND, RegionLevel.BUILDING]
# "All residents" is a survey audience, not a group a need concerns.
NEED_GROUPS = [(value, label) for value, label in Group.choices if value != Group.ALL]


def communities_seen_by(user) -> QuerySet[Region]:
    return Region.objects.filter(
        in_scope(user, Perm.VIEW_ANALYSIS, field=None) | in_scope(user, Perm.MANAGE_ANALYSIS, field=None),
        level=RegionLevel.COMMUNITY,
    ).order_by("path")


def communities_kept_by(user) -> QuerySet[Region]:
    return Region.objects.filter(
        in_scope(user, Perm.MANAGE_ANALYSIS, field=None), level=RegionLevel.COMMUNITY
    ).order_by("path")


class NeedFilterForm(forms.Form):
    """The register's filters, read from the query string."""

    community = forms.ModelChoiceField(
        label=_("Community"), queryset=Region.objects.none(), required=False, empty_label=_("All")
    )
    category = forms.ChoiceField(label=_("Category"), required=False)
    status = forms.ChoiceField(label=_("Status"), required=False)
    group = forms.ChoiceField(label=_("Group concerned"), required=False)

    def __init__(self, data, *, user):
        super().__init__(data)
        self.fields["community"].queryset = communities_seen_by(user)
        everything = [("", _("All"))]
        self.fields["category"].choices = everything + NeedCategory.choices
        self.fields["status"].choices = everything + NeedStatus.choices
        self.fields["group"].choices = everything + NEED_GROUPS

    def filter(self, needs):
        if not self.is_valid():
            return needs
        data = self.cleaned_data
        if data["community"]:
            needs = needs.filter(community=data["community"])
        if data["category"]:
            needs = needs.filter(category=data["category"])
        if data["status"]:
            needs = needs.filter(status=data["status"])
        if data["group"]:
            # The groups are a JSON list; its text holds each group quoted, on SQLite and PostgreSQL alike.
            needs = needs.filter(groups__icontains=f'"{data["group"]}"')
        return needs


class RegionsField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, region):
        return region.label


class NeedForm(forms.Form):
    community = forms.ModelChoiceField(label=_("Community"), queryset=Region.objects.none())
    title = forms.CharField(label=_("Need"), max_length=100)
    description = forms.CharField(label=_("Description"), required=False, widget=forms.Textarea)
    category = forms.ChoiceField(label=_("Category"), choices=NeedCategory.choices)
    need_type = forms.ChoiceField(
        label=_("Type"),
        choices=NeedType.choices,
        widget=forms.RadioSelect,
        help_text=_(
            "How the need shows itself; a need often shows in more than one way: choose the main one."
        ),
    )
    groups = forms.MultipleChoiceField(
        label=_("Groups concerned"), choices=NEED_GROUPS, required=False, widget=forms.CheckboxSelectMultiple
    )
    regions = RegionsField(
        label=_("Regions concerned"),
        queryset=Region.objects.none(),
        required=False,
        help_text=_("Leave empty when the need concerns the whole community."),
    )

    def __init__(self, data=None, *, user):
        super().__init__(data)
        communities = communities_kept_by(user)
        self.fields["community"].queryset = communities
        kept = Q(pk__in=[])
        for path in communities.values_list("path", flat=True):
            kept |= Q(path__startswith=path)
        self.fields["regions"].queryset = (
            Region.objects.filter(kept, level__in=CONCERNED_LEVELS).select_related("parent").order_by("path")
        )


class SurveyEvidenceForm(forms.Form):
    """One option of a choice question of the community's surveys, sent as "question:option"."""

    source = forms.ChoiceField(label=_("Survey answers"))

    def __init__(self, data=None, *, sources: list[tuple[str, str]]):
        super().__init__(data)
        self.fields["source"].choices = sources

    @property
    def question_and_option(self) -> tuple[int, int]:
        question, option = self.cleaned_data["source"].split(":")
        return int(question), int(option)


class RecordEvidenceForm(forms.Form):
    """A matter or a consultation of the community, by the number shown on its page."""

    kind = forms.ChoiceField(
        label=_("Source"),
        choices=[
            (EvidenceKind.MATTER, _("A matter reported")),
            (EvidenceKind.CONSULTATION, _("A consultation")),
        ],
    )
    number = forms.IntegerField(label=_("Its number"), min_value=1)


class NoteEvidenceForm(forms.Form):
    note = forms.CharField(label=_("Observation"), max_length=300)
    count = forms.IntegerField(
        label=_("People concerned"),
        min_value=0,
        initial=0,
        help_text=_("How many people the observation counts, or 0."),
    )


class ActionForm(forms.Form):
    text = forms.CharField(label=_("What was done"), max_length=300)
    status = forms.ChoiceField(label=_("Status now"), choices=NeedStatus.choices)


class DashboardForm(forms.Form):
    year = forms.IntegerField(label=_("Year"), min_value=2000, max_value=2100)
    group = forms.ChoiceField(label=_("Group"), choices=Group.choices, required=False)
