"""Forms of the roster import and export pages (gongzhi.core.views.roster)."""

from django import forms
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from gongzhi.core.models import RosterImport
from gongzhi.core.roster import MAX_FILE_BYTES


class RosterUploadForm(forms.Form):
    community = forms.ModelChoiceField(queryset=None, label=_("Community"), empty_label=None)
    file = forms.FileField(
        label=_("Roster workbook (.xlsx)"),
        widget=forms.ClearableFileInput(
            attrs={"accept": ".xlsx,application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}
        ),
    )

    def __init__(self, *args, communities, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["community"].queryset = communities
        self.fields["file"].help_text = gettext(
            "Start from the template. At most %(size)s MB; the file is checked before anything is imported."
        ) % {"size": MAX_FILE_BYTES // 2**20}


class RosterImportStartForm(forms.Form):
    mode = forms.ChoiceField(
        label=_("If some rows have errors"),
        choices=RosterImport.Mode.choices,
        initial=RosterImport.Mode.ALL_OR_NOTHING,
        widget=forms.RadioSelect,
    )


class RosterExportForm(forms.Form):
    community = forms.ModelChoiceField(
        queryset=None, label=_("Community"), required=False, empty_label=_("All the communities I may export")
    )
    q = forms.CharField(
        label=_("Search"),
        required=False,
        max_length=50,
        help_text=_("A name, a masked mobile number or its last four digits; empty for everyone."),
    )
    building = forms.IntegerField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args, communities, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["community"].queryset = communities
