"""The admin is for system administrators; staff work in the product's own pages."""

from django import forms
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.contrib.auth.forms import BaseUserCreationForm
from django.utils.translation import gettext_lazy as _

from gongzhi.core.crypto import lookup_hash
from gongzhi.core.models import (
    ApiToken,
    AuditEvent,
    Consent,
    Household,
    Organisation,
    Region,
    Resident,
    ResidentClaim,
    RoleAssignment,
    User,
)
from gongzhi.core.services import region_create
from gongzhi.core.validators import normalize_mobile, validate_mobile


class ReadOnlyAdmin(admin.ModelAdmin):
    """For records that change only through the services, or never (append-only tables)."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class RoleAssignmentInline(admin.TabularInline):
    model = RoleAssignment
    fk_name = "user"
    extra = 0
    raw_id_fields = ["region", "organisation", "granted_by"]


class UserCreationForm(BaseUserCreationForm):
    mobile = forms.CharField(label=_("Mobile number"), validators=[validate_mobile])

    class Meta:
        model = User
        fields = ["name"]

    def clean_mobile(self):
        mobile = normalize_mobile(self.cleaned_data["mobile"])
        if User.objects.filter(mobile_hash=lookup_hash(mobile)).exists():
            raise forms.ValidationError(_("This mobile number is already registered; sign in instead."))
        return mobile

    def save(self, commit=True):
        user = super().save(commit=False)
        user.set_mobile(self.cleaned_data["mobile"])
        if commit:
            user.save()
        return user


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    list_display = ["name", "mobile_masked", "is_staff", "is_superuser", "is_active", "date_joined"]
    list_filter = ["is_staff", "is_superuser", "is_active"]
    search_fields = ["name", "mobile_masked"]
    ordering = ["-date_joined"]
    readonly_fields = ["mobile_masked", "date_joined", "last_login"]
    fieldsets = [
        (None, {"fields": ["name", "mobile_masked", "password"]}),
        ("Permissions", {"fields": ["is_active", "is_staff", "is_superuser", "groups"]}),
        ("Dates", {"fields": ["last_login", "date_joined"]}),
    ]
    add_form = UserCreationForm
    add_fieldsets = [(None, {"fields": ["mobile", "name", "password1", "password2"]})]
    inlines = [RoleAssignmentInline]

    def get_inlines(self, request, obj):
        return self.inlines if obj is not None else []  # roles are granted once the account exists


@admin.register(Region)
class RegionAdmin(admin.ModelAdmin):
    list_display = ["name", "level", "path"]
    list_filter = ["level"]
    search_fields = ["name"]
    raw_id_fields = ["parent"]
    readonly_fields = ["path", "depth"]

    def save_model(self, request, obj, form, change):
        # The materialised path holds the new row's own key: only region_create builds it correctly.
        created = region_create(parent=obj.parent, name=obj.name, level=obj.level)
        obj.pk, obj.path, obj.depth = created.pk, created.path, created.depth

    def has_change_permission(self, request, obj=None):
        # Moving a node would leave its descendants' paths stale; use region services instead.
        return False


@admin.register(Organisation)
class OrganisationAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "credit_code", "region"]
    list_filter = ["kind"]
    search_fields = ["name", "credit_code"]
    raw_id_fields = ["region"]


@admin.register(Resident)
class ResidentAdmin(admin.ModelAdmin):
    list_display = ["name", "community", "region", "phone_masked", "id_number_masked", "verified_at"]
    search_fields = ["name", "phone_masked"]
    exclude = ["id_number", "phone"]
    readonly_fields = ["phone_masked", "id_number_masked"]
    raw_id_fields = ["community", "region", "household", "user"]


@admin.register(Household)
class HouseholdAdmin(admin.ModelAdmin):
    list_display = ["number", "region", "community"]
    raw_id_fields = ["region", "community"]


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    list_display = ["at", "action", "actor", "target_type", "target_id", "region", "ip_address"]
    list_filter = ["action", "at", "target_type"]
    search_fields = ["target_id", "actor__name"]
    date_hierarchy = "at"
    list_select_related = ["actor", "region"]


admin.site.register(Consent, list_display=["user", "purpose", "policy_version", "given_at", "withdrawn_at"])
admin.site.register(ResidentClaim, list_display=["name", "community", "status", "created_at"])
admin.site.register(
    ApiToken, list_display=["name", "user", "organisation", "prefix", "created_at", "revoked_at"]
)
