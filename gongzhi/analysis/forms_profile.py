"""The participation ladder's filter: a period and, optionally, one group."""

from django import forms
from django.utils.translation import gettext_lazy as _

from gongzhi.analysis.ladder import Period, period_parse
from gongzhi.analysis.models import Group


class LadderForm(forms.Form):
    period = forms.CharField(
        label=_("Period"), max_length=7, help_text=_("A year (2025) or a quarter (2025-Q2).")
    )
    group = forms.ChoiceField(label=_("Group"), choices=Group.choices, required=False)

    def clean_period(self) -> Period:
        try:
            return period_parse(self.cleaned_data["period"])
        except ValueError:
            raise forms.ValidationError(_("Give a year such as 2025 or a quarter such as 2025-Q2.")) from None

    def clean_group(self) -> str:
        group = self.cleaned_data.get("group", "")
        return "" if group == Group.ALL else group
