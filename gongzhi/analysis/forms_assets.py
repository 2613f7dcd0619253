"""Forms of the asset map. The communities, places and organisations offered are already scoped to the user:
one outside their scope is refused as an invalid choice, before any service runs."""

from django import forms
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from gongzhi.analysis.assets import SKILL_CONSENT
from gongzhi.analysis.forms_needs import CONCERNED_LEVELS, communities_kept_by
from gongzhi.analysis.models import AssetKind
from gongzhi.core.models import Organisation, Region


class AssetFilterForm(forms.Form):
    """The map's search, read from the query string."""

    q = forms.CharField(label=_("Search"), max_length=100, required=False)
    kind = forms.ChoiceField(label=_("Kind"), required=False, choices=[("", _("All"))] + AssetKind.choices)

    def values(self) -> tuple[str, str]:
        """The valid filters; a malformed one is left out, not refused."""
        if not self.is_valid():
            return "", ""
        return self.cleaned_data["q"].strip(), self.cleaned_data["kind"]


class RegionField(forms.ModelChoiceField):
    def label_from_instance(self, region):
        return region.label


class _AssetFields(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=100)
    description = forms.CharField(label=_("Description"), required=False, widget=forms.Textarea)
    offers = forms.CharField(
        label=_("What it offers residents"),
        max_length=300,
        required=False,
        help_text=_("E.g. the canteen is open to elderly residents at lunch; free blood-pressure checks."),
    )
    keywords = forms.CharField(
        label=_("Keywords"), max_length=200, required=False, help_text=_("Words people may search for.")
    )
    willing_to_help = forms.BooleanField(label=_("Willing to help neighbours"), required=False)


def _places_and_organisations(form: forms.Form, user) -> None:
    communities = communities_kept_by(user)
    kept, serving = Q(pk__in=[]), Q(pk__in=[])
    for community in communities.only("path"):
        kept |= Q(path__startswith=community.path)
        serving |= Q(region__path__startswith=community.path) | Q(region_id__in=community.ancestor_ids())
    form.fields["region"].queryset = (
        Region.objects.filter(kept, level__in=CONCERNED_LEVELS).select_related("parent").order_by("path")
    )
    form.fields["organisation"].queryset = Organisation.objects.filter(serving).order_by("name")


class AssetForm(_AssetFields):
    """Staff putting an asset on the map; a skill's resident is chosen from the roster by the page."""

    community = forms.ModelChoiceField(label=_("Community"), queryset=Region.objects.none())
    kind = forms.ChoiceField(label=_("Kind"), choices=AssetKind.choices)
    region = RegionField(
        label=_("Where"),
        queryset=Region.objects.none(),
        required=False,
        help_text=_("Leave empty for the whole community. A skill is placed where its resident lives."),
    )
    organisation = forms.ModelChoiceField(
        label=_("Organisation on the platform"),
        queryset=Organisation.objects.none(),
        required=False,
        help_text=_("For an association, institution or work unit registered here."),
    )
    resident = forms.IntegerField(required=False, widget=forms.HiddenInput)
    resident_agreed = forms.BooleanField(
        label=_("The resident agreed to have their skill on the map"),
        required=False,
        help_text=_(SKILL_CONSENT),
    )
    field_order = ["community", "kind", "name", "region", "organisation"]

    def __init__(self, data=None, *, user, initial=None):
        super().__init__(data, initial=initial)
        self.fields["community"].queryset = communities_kept_by(user)
        _places_and_organisations(self, user)


class AssetEditForm(_AssetFields):
    """Changing an asset. A skill keeps its place (where its resident lives), so it has neither place nor
    organisation to choose."""

    region = RegionField(
        label=_("Where"),
        queryset=Region.objects.none(),
        required=False,
        help_text=_("Leave empty for the whole community."),
    )
    organisation = forms.ModelChoiceField(
        label=_("Organisation on the platform"), queryset=Organisation.objects.none(), required=False
    )

    def __init__(self, data=None, *, user, skill: bool, initial=None):
        super().__init__(data, initial=initial)
        if skill:
            del self.fields["region"], self.fields["organisation"]
        else:
            _places_and_organisations(self, user)


class SkillForm(_AssetFields):
    """A resident offering their own skill; the consent statement is the box they tick."""

    agreed = forms.BooleanField(label=_(SKILL_CONSENT), required=True)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["name"].label = _("Your skill")
        self.fields["name"].help_text = _("E.g. haircuts, first aid, calligraphy, fixing bicycles.")
        self.fields["offers"].label = _("What you could offer neighbours")
        self.fields["offers"].help_text = ""
        self.fields["willing_to_help"].label = _("I am willing to help neighbours with it")
