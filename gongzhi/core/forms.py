from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.forms.utils import flatatt
from django.urls import reverse_lazy
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from gongzhi.core.exceptions import ServiceError
from gongzhi.core.models import Organisation, Region, ResidentTag, User
from gongzhi.core.roles import Perm
from gongzhi.core.scope import has_perm_anywhere, has_perm_in, scope_regions
from gongzhi.core.selectors import (
    buildings_in,
    claim_communities,
    regions_visible_to,
    regions_where,
    user_by_mobile,
)
from gongzhi.core.services import CONSENT_PURPOSES
from gongzhi.core.validators import (
    normalize_id_number,
    normalize_mobile,
    validate_credit_code,
    validate_id_number,
    validate_mobile,
)


class MobileAuthenticationForm(AuthenticationForm):
    username = forms.CharField(
        label=_("Mobile number"),
        max_length=20,
        widget=forms.TextInput(attrs={"autofocus": True, "inputmode": "tel", "autocomplete": "tel"}),
    )
    error_messages = {
        "invalid_login": _("Mobile number or password is wrong."),
        "inactive": _("This account is disabled."),
    }


def add_service_error(form: forms.Form, error: ServiceError) -> None:
    """Shows a service's refusal on the form: under its field when the form has one, else above the form."""
    form.add_error(error.field if error.field in form.fields else None, error.message)


class RotatingCodeField(forms.CharField):
    """The six digits under a QR code shown in the room (gongzhi.core.codes), typed on a phone."""

    def __init__(self, **kwargs):
        attrs = {"inputmode": "numeric", "pattern": "[0-9]{6}", "autocomplete": "one-time-code"}
        super().__init__(max_length=6, min_length=6, widget=forms.TextInput(attrs=attrs), **kwargs)

    def clean(self, value):
        code = super().clean(value).strip()
        if not code.isdigit():
            raise ValidationError(_("The code is six digits."))
        return code


class FastSelect(forms.Select):
    """A <select> whose options are written in Python. Django renders each option through its own template,
    about 0.2 ms apiece: a community's hundred buildings cost more than the rest of the page together."""

    def render(self, name, value, attrs=None, renderer=None):
        selected = {str(v) for v in self.format_value(value)}
        options = format_html_join(
            "",
            '<option value="{}"{}>{}</option>',
            (
                (key, mark_safe(" selected") if str(key) in selected else "", label)
                for key, label in self.choices
            ),
        )
        return format_html(
            "<select{}>{}</select>",
            flatatt(self.build_attrs(self.attrs, {**(attrs or {}), "name": name})),
            options,
        )


class ListedChoiceIterator(forms.models.ModelChoiceIterator):
    """Reads the choices with one plain query; the default .iterator() opens a server-side cursor on
    PostgreSQL, three round trips for a list of a few dozen."""

    def __iter__(self):
        if self.field.empty_label is not None:
            yield ("", self.field.empty_label)
        for obj in list(self.queryset):
            yield self.choice(obj)


class BuildingChoiceField(forms.ModelChoiceField):
    widget = FastSelect
    iterator = ListedChoiceIterator

    def label_from_instance(self, obj):
        return obj.label


class RegionChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        return f"{obj.name} ({obj.get_level_display()})"


# Codes and numbers typed by hand: no autocorrect, no spelling marks, capitals on phones.
CODE_INPUT = {"autocomplete": "off", "autocapitalize": "characters", "spellcheck": "false"}


def mobile_field(label=None, **kwargs) -> forms.CharField:
    return forms.CharField(
        label=label or _("Mobile number"),
        max_length=20,
        validators=[validate_mobile],
        widget=forms.TextInput(attrs={"inputmode": "tel", "autocomplete": "tel"}),
        **kwargs,
    )


def id_number_field(**kwargs) -> forms.CharField:
    return forms.CharField(
        label=_("ID number"),
        max_length=18,
        validators=[validate_id_number],
        widget=forms.TextInput(attrs=CODE_INPUT),
        **kwargs,
    )


# Accounts: registration, consent, claiming a resident record, API tokens.


NEW_PASSWORD = {"autocomplete": "new-password"}


class MobileCodeForm(forms.Form):
    mobile = mobile_field()


class RegistrationForm(forms.Form):
    """A new account; each purpose in CONSENT_PURPOSES needs its own tick (PIPL art. 14: specific consent)."""

    mobile = mobile_field(help_text=_("You will sign in with this number."))
    code = forms.CharField(
        label=_("Verification code"),
        max_length=6,
        help_text=_("The six digits texted to your mobile number."),
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "one-time-code"}),
    )
    name = forms.CharField(
        label=_("Name"), max_length=50, widget=forms.TextInput(attrs={"autocomplete": "name"})
    )
    password1 = forms.CharField(
        label=_("Password"), strip=False, widget=forms.PasswordInput(attrs=NEW_PASSWORD)
    )
    password2 = forms.CharField(
        label=_("Password again"), strip=False, widget=forms.PasswordInput(attrs=NEW_PASSWORD)
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for purpose, (statement, retention) in CONSENT_PURPOSES.items():
            self.fields[f"consent_{purpose}"] = forms.BooleanField(
                label=gettext(statement),
                help_text=gettext("Retention: %(retention)s") % {"retention": gettext(retention)},
                error_messages={"required": _("Registration needs your agreement to this.")},
            )

    def clean_mobile(self):
        return normalize_mobile(self.cleaned_data["mobile"])

    def clean(self):
        cleaned = super().clean()
        password1, password2 = cleaned.get("password1"), cleaned.get("password2")
        if password1 and password2 and password1 != password2:
            self.add_error("password2", _("The two passwords differ."))
        elif password1:
            try:
                validate_password(password1, user=User(name=cleaned.get("name", "")))
            except ValidationError as error:
                self.add_error("password1", error)
        return cleaned


class ApiTokenForm(forms.Form):
    name = forms.CharField(
        label=_("Token name"), max_length=100, help_text=_("What the token is for, e.g. “our booking app”.")
    )
    organisation = forms.ModelChoiceField(
        label=_("Acts for"),
        queryset=Organisation.objects.none(),
        required=False,
        empty_label=_("Me, with my own roles"),
        help_text=_("An organisation's token can do only what that organisation may do."),
    )

    def __init__(self, *args, organisations, **kwargs):
        super().__init__(*args, **kwargs)
        if organisations.exists():
            self.fields["organisation"].queryset = organisations
        else:
            del self.fields["organisation"]


class RegionAddForm(forms.Form):
    """A child of `parent`: only the levels below the parent's are offered."""

    name = forms.CharField(label=_("Name"), max_length=100)
    level = forms.ChoiceField(label=_("Level"))

    def __init__(self, *args, parent: Region, **kwargs):
        super().__init__(*args, **kwargs)
        below = Region.LEVEL_ORDER[Region.LEVEL_ORDER.index(parent.level) + 1 :]
        self.fields["level"].choices = [
            (value, label) for value, label in Region.Level.choices if value in below
        ]


class InvitationCodeForm(forms.Form):
    code = forms.CharField(
        label=_("Invitation code"),
        max_length=20,
        help_text=_("The eight-character code your community gave you."),
        widget=forms.TextInput(attrs=CODE_INPUT),
    )


class CommunityChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        return f"{obj.parent.name} {obj.name}" if obj.parent else obj.name


class ClaimForm(forms.Form):
    """A request to be recognised as a resident; choosing the community loads its buildings (HTMX)."""

    community = CommunityChoiceField(
        label=_("Community"),
        queryset=claim_communities(),
        empty_label=_("Choose your community"),
        widget=forms.Select(
            attrs={
                "hx-get": reverse_lazy("claim-buildings"),
                "hx-target": "#id_building",
                "hx-swap": "outerHTML",
                "hx-trigger": "change",
            }
        ),
    )
    building = BuildingChoiceField(
        label=_("Building"), queryset=Region.objects.none(), empty_label=_("Choose the community first")
    )
    room = forms.CharField(label=_("Room"), max_length=32, help_text=_("As on your door, e.g. 1-101."))
    name = forms.CharField(label=_("Your name as on your ID card"), max_length=50)
    id_number = id_number_field()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        community = self.chosen_community()
        if community is not None:
            self.fields["building"].queryset = buildings_in(community)
            self.fields["building"].empty_label = _("Choose your building")

    def chosen_community(self) -> Region | None:
        value = self.data.get("community") if self.is_bound else self.initial.get("community")
        if not value:
            return None
        try:
            return self.fields["community"].clean(value)
        except ValidationError:
            return None

    def clean_id_number(self):
        return normalize_id_number(self.cleaned_data["id_number"])


# The staff workbench: region tree, residents, households, organisations, roles, verification.


class SearchForm(forms.Form):
    def filters(self) -> dict:
        """The valid filters; one that is malformed or outside the user's scope is left out, not refused."""
        self.is_valid()
        return self.cleaned_data


class AreaSearchForm(SearchForm):
    """A search within one region of the user's tree (the region comes from a link in the tree)."""

    region = forms.ModelChoiceField(queryset=Region.objects.none(), required=False, widget=forms.HiddenInput)

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["region"].queryset = regions_visible_to(user)


class HouseholdSearchForm(AreaSearchForm):
    q = forms.CharField(
        label=_("Room"),
        required=False,
        max_length=32,
        widget=forms.TextInput(attrs={"type": "search", "autocomplete": "off"}),
    )


class ResidentSearchForm(AreaSearchForm):
    q = forms.CharField(
        label=_("Name, or phone (masked, or its last four digits)"),
        required=False,
        max_length=50,
        widget=forms.TextInput(
            attrs={"type": "search", "autocomplete": "off", "placeholder": _("e.g. Zhang or 5678")}
        ),
    )
    building = BuildingChoiceField(
        label=_("Building"), queryset=Region.objects.none(), required=False, empty_label=_("All buildings")
    )

    # A street holds hundreds of buildings: offer the list only within a community or below.
    BUILDING_LIST_LEVELS = (Region.Level.COMMUNITY, Region.Level.GRID, Region.Level.COMPOUND)

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, user=user, **kwargs)
        area = self.area(user)
        if area is not None and area.level in self.BUILDING_LIST_LEVELS:
            self.fields["building"].queryset = buildings_in(area)
        else:
            del self.fields["building"]

    def area(self, user) -> Region | None:
        """The region chosen on the page, or the user's one region of work."""
        value = self.data.get("region")
        if value:
            try:
                return self.fields["region"].clean(value)
            except ValidationError:
                return None
        roots = scope_regions(user, Perm.VIEW_RESIDENTS)
        return roots[0] if len(roots) == 1 else None


class OrganisationSearchForm(SearchForm):
    q = forms.CharField(
        label=_("Name"),
        required=False,
        max_length=50,
        widget=forms.TextInput(attrs={"type": "search", "autocomplete": "off"}),
    )
    kind = forms.ChoiceField(
        label=_("Kind"), required=False, choices=[("", _("All kinds")), *Organisation.Kind.choices]
    )


class ResidentForm(forms.Form):
    """A person entered by staff (elderly residents without a phone, assisted registration)."""

    region = BuildingChoiceField(label=_("Building"), queryset=Region.objects.none(), empty_label=_("Choose"))
    room = forms.CharField(
        label=_("Room"), max_length=32, required=False, help_text=_("e.g. 1-101; leave blank if unknown.")
    )
    name = forms.CharField(label=_("Name"), max_length=50)
    id_number = id_number_field(required=False)
    phone = mobile_field(label=_("Mobile number"), required=False)
    is_household_head = forms.BooleanField(label=_("Head of household"), required=False)
    tags = forms.MultipleChoiceField(label=_("Groups"), required=False, widget=forms.CheckboxSelectMultiple)

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        buildings = regions_where(user, Perm.EDIT_RESIDENTS, levels=[Region.Level.BUILDING])
        self.fields["region"].queryset = buildings
        # Only someone who may see the sensitive groups (PIPL art. 28) may record them.
        show_sensitive = has_perm_anywhere(user, Perm.VIEW_SENSITIVE_TAGS)
        self.fields["tags"].choices = [
            (value, label)
            for value, label in ResidentTag.Tag.choices
            if show_sensitive or value not in ResidentTag.SENSITIVE
        ]

    def clean_id_number(self):
        return normalize_id_number(self.cleaned_data["id_number"])

    def clean_phone(self):
        return normalize_mobile(self.cleaned_data["phone"])

    def clean(self):
        cleaned = super().clean()
        region, tags = cleaned.get("region"), cleaned.get("tags") or []
        if (
            region is not None
            and set(tags) & ResidentTag.SENSITIVE
            and not has_perm_in(self.user, Perm.VIEW_SENSITIVE_TAGS, region)
        ):
            self.add_error("tags", _("You may not record sensitive groups in this building."))
        return cleaned


class OrganisationForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=200)
    kind = forms.ChoiceField(label=_("Kind"), choices=Organisation.Kind.choices)
    region = RegionChoiceField(
        label=_("Region"),
        queryset=Region.objects.none(),
        empty_label=_("Choose"),
        help_text=_("Where the organisation is registered or serves."),
    )
    credit_code = forms.CharField(
        label=_("Unified social credit code"),
        max_length=18,
        required=False,
        validators=[validate_credit_code],
        help_text=_("18 characters; leave blank if the organisation is not registered yet."),
        widget=forms.TextInput(attrs=CODE_INPUT),
    )
    address = forms.CharField(label=_("Address"), max_length=200, required=False)
    contact_phone = forms.CharField(label=_("Contact phone"), max_length=20, required=False)
    description = forms.CharField(
        label=_("Description"), required=False, widget=forms.Textarea(attrs={"rows": 3})
    )

    # Organisations belong to a community or a level above it, not to a single building.
    LEVELS = [Region.Level.CITY, Region.Level.DISTRICT, Region.Level.STREET, Region.Level.COMMUNITY]

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["region"].queryset = regions_where(user, Perm.MANAGE_ORGANISATIONS, levels=self.LEVELS)

    def clean_credit_code(self):
        return self.cleaned_data["credit_code"].strip().upper()


class ClaimRejectForm(forms.Form):
    reason = forms.CharField(
        label=_("Reason"), max_length=200, error_messages={"required": _("Give the resident a reason.")}
    )


class RoleGrantForm(forms.Form):
    """Hands a role to someone who has registered; they are found by their exact mobile number."""

    mobile = mobile_field(help_text=_("The person must have registered with this number."))
    role = forms.ChoiceField(label=_("Role"))

    def __init__(self, *args, roles, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["role"].choices = [(role.value, role.label) for role in roles]

    def clean(self):
        cleaned = super().clean()
        if "mobile" in cleaned:
            cleaned["person"] = user_by_mobile(cleaned["mobile"])
            if cleaned["person"] is None:
                self.add_error("mobile", _("No one has registered with this mobile number yet."))
        return cleaned
