"""The admin is for system administrators. The ledger, sign-ups and certificates are read-only here: points
move only through the services (a correction is a reversing transaction), and the database refuses to change
an entry or a certificate anyway."""

from django.contrib import admin

from gongzhi.core.admin import ReadOnlyAdmin
from gongzhi.volunteering.models import (
    Activity,
    Certificate,
    Item,
    LedgerEntry,
    LedgerTransaction,
    Outlet,
    PointsAccount,
    Redemption,
    SignUp,
    VolunteeringSettings,
    VolunteerProfile,
)


class LedgerEntryInline(admin.TabularInline):
    model = LedgerEntry
    extra = 0
    can_delete = False
    readonly_fields = ["account", "amount", "created_at"]

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(LedgerTransaction)
class LedgerTransactionAdmin(ReadOnlyAdmin):
    list_display = ["id", "created_at", "memo", "idempotency_key", "reverses", "created_by"]
    search_fields = ["idempotency_key", "memo"]
    date_hierarchy = "created_at"
    list_select_related = ["created_by", "reverses"]
    inlines = [LedgerEntryInline]


@admin.register(PointsAccount)
class PointsAccountAdmin(ReadOnlyAdmin):
    list_display = ["id", "kind", "community", "resident", "balance"]
    list_filter = ["kind"]
    list_select_related = ["community", "resident"]
    raw_id_fields = ["resident"]


@admin.register(SignUp)
class SignUpAdmin(ReadOnlyAdmin):
    list_display = ["activity", "volunteer", "status", "checked_in_at", "verification", "hours"]
    list_filter = ["status", "verification"]
    list_select_related = ["activity", "volunteer"]


@admin.register(Certificate)
class CertificateAdmin(ReadOnlyAdmin):
    list_display = ["number", "name", "hours", "issuer", "issued_at"]
    search_fields = ["number"]


@admin.register(Redemption)
class RedemptionAdmin(ReadOnlyAdmin):
    list_display = ["code", "item", "quantity", "points", "status", "created_at"]
    list_filter = ["status"]
    list_select_related = ["item"]


admin.site.register(
    Activity, list_display=["title", "community", "starts_at", "capacity", "status"], raw_id_fields=["region"]
)
admin.site.register(
    VolunteerProfile, list_display=["number", "resident", "hours", "no_shows"], raw_id_fields=["resident"]
)
admin.site.register(Outlet, list_display=["name", "kind", "community", "is_active"])
admin.site.register(Item, list_display=["name", "outlet", "price", "stock", "is_active"])
admin.site.register(VolunteeringSettings, list_display=["community", "points_expire_after_years"])
