from django import forms
from django.utils.translation import gettext_lazy as _

from gongzhi.core.forms import FastSelect, ListedChoiceIterator
from gongzhi.core.models import Organisation, Region
from gongzhi.matters.models import DESCRIPTION_MAX_LENGTH, Category, DeadlineUnit, Status, Tier, Urgency
from gongzhi.matters.services import MAX_PHOTOS


class ListedModelChoiceField(forms.ModelChoiceField):
    iterator = ListedChoiceIterator


class MultiplePhotoInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class PhotosField(forms.FileField):
    """Up to nine photos in one input; each is checked and stripped of EXIF by the service."""

    widget = MultiplePhotoInput(attrs={"accept": "image/jpeg,image/png,image/webp", "multiple": True})

    def __init__(self, **kwargs):
        kwargs.setdefault("required", False)
        kwargs.setdefault("label", _("Photos"))
        kwargs.setdefault("help_text", _("Up to 9 photos (JPEG, PNG or WebP, at most 10 MB each)."))
        super().__init__(**kwargs)

    def clean(self, data, initial=None):
        files = data if isinstance(data, list | tuple) else [data] if data else []
        if len(files) > MAX_PHOTOS:
            raise forms.ValidationError(_("At most 9 photos."))
        return [super(PhotosField, self).clean(file, initial) for file in files]


class ReportForm(forms.Form):
    category = ListedModelChoiceField(
        label=_("What is it about?"),
        queryset=Category.objects.none(),
        widget=FastSelect,
        empty_label=_("Choose a category"),
    )
    description = forms.CharField(
        label=_("Describe the problem"),
        max_length=DESCRIPTION_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 5}),
        help_text=_("Plain text, at most 4,000 characters. Say where exactly and since when."),
    )
    region = ListedModelChoiceField(
        label=_("Where?"), queryset=Region.objects.none(), widget=FastSelect, empty_label=None
    )
    urgency = forms.ChoiceField(
        label=_("Urgency"), choices=Urgency.choices, initial=Urgency.NORMAL, widget=FastSelect
    )
    hide_name = forms.BooleanField(label=_("Hide my name from the public"), required=False)
    latitude = forms.DecimalField(
        label=_("Latitude"), required=False, max_digits=9, decimal_places=6, min_value=-90, max_value=90
    )
    longitude = forms.DecimalField(
        label=_("Longitude"), required=False, max_digits=9, decimal_places=6, min_value=-180, max_value=180
    )
    photos = PhotosField()

    def __init__(self, *args, categories, places, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["category"].queryset = categories
        self.fields["region"].queryset = places
        self.fields["region"].label_from_instance = lambda region: region.label


class NoteForm(forms.Form):
    note = forms.CharField(
        label=_("Note"), max_length=2000, required=False, widget=forms.Textarea(attrs={"rows": 2})
    )


class ResolveForm(forms.Form):
    note = forms.CharField(
        label=_("What was done"), max_length=2000, widget=forms.Textarea(attrs={"rows": 3})
    )
    photos = PhotosField()


class ReasonForm(forms.Form):
    reason = forms.CharField(label=_("Reason"), max_length=1000, widget=forms.Textarea(attrs={"rows": 2}))


class WithdrawForm(forms.Form):
    reason = forms.CharField(label=_("Reason"), max_length=1000, required=False)


class DuplicateForm(forms.Form):
    original = forms.IntegerField(label=_("Number of the original matter"), min_value=1)


class ConfirmForm(forms.Form):
    resolved = forms.TypedChoiceField(
        label=_("Is the problem solved?"),
        choices=[("1", _("Yes, it is solved")), ("0", _("No, it is not solved"))],
        coerce=lambda value: value == "1",
        widget=forms.RadioSelect,
    )
    rating = forms.TypedChoiceField(
        label=_("How satisfied are you? (5 is best)"),
        choices=[(str(n), str(n)) for n in range(5, 0, -1)],
        coerce=int,
        required=False,
        empty_value=None,
        widget=forms.RadioSelect,
    )
    comment = forms.CharField(label=_("Comment"), max_length=500, required=False)


class CallInForm(forms.Form):
    organisations = forms.ModelMultipleChoiceField(
        label=_("Departments and organisations"),
        queryset=Organisation.objects.none(),
        widget=forms.CheckboxSelectMultiple,
    )
    note = forms.CharField(label=_("What you ask of them"), max_length=2000, required=False)

    def __init__(self, *args, organisations, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["organisations"].queryset = organisations


class CoReportForm(forms.Form):
    report = forms.CharField(
        label=_("Your report"), max_length=2000, widget=forms.Textarea(attrs={"rows": 3})
    )


BOARD_STATUSES = [("", _("Any status")), ("open", _("Open"))] + [
    (value, label) for value, label in Status.choices if value != Status.WITHDRAWN
]


class BoardFilterForm(forms.Form):
    region = ListedModelChoiceField(
        label=_("Area"),
        queryset=Region.objects.none(),
        required=False,
        widget=FastSelect,
        empty_label=_("Everywhere"),
    )
    category = forms.ChoiceField(label=_("Category"), required=False, widget=FastSelect)
    status = forms.ChoiceField(label=_("Status"), choices=BOARD_STATUSES, required=False, widget=FastSelect)
    since = forms.DateField(label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    until = forms.DateField(label=_("To"), required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args, areas, category_choices, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["region"].queryset = areas
        self.fields["region"].label_from_instance = lambda region: region.name
        self.fields["category"].choices = [("", _("Any category"))] + category_choices

    def clean(self):
        cleaned = super().clean()
        since, until = cleaned.get("since"), cleaned.get("until")
        if since and until and until < since:
            self.add_error("until", _("The end date comes before the start date."))
        return cleaned


class CategoryConfigForm(forms.Form):
    first_tier = forms.ChoiceField(label=_("First tier"), choices=Tier.choices)
    response_amount = forms.IntegerField(label=_("Response within"), min_value=1, max_value=999)
    response_unit = forms.ChoiceField(label=_("unit"), choices=DeadlineUnit.choices)
    resolution_amount = forms.IntegerField(label=_("Resolution within"), min_value=1, max_value=999)
    resolution_unit = forms.ChoiceField(label=_("unit"), choices=DeadlineUnit.choices)
    is_active = forms.BooleanField(label=_("In use"), required=False)
