"""The admin is for system administrators. Bookings are read-only here: they move only through the services,
which check the rules, lock the resource and pay or refund points."""

from django.contrib import admin

from gongzhi.core.admin import ReadOnlyAdmin
from gongzhi.sharing.models import Blackout, Booking, OpeningHours, Resource


class OpeningHoursInline(admin.TabularInline):
    model = OpeningHours
    extra = 0


class BlackoutInline(admin.TabularInline):
    model = Blackout
    extra = 0


@admin.register(Resource)
class ResourceAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "community", "organisation", "capacity", "is_active"]
    list_filter = ["kind", "is_active"]
    search_fields = ["name", "address"]
    raw_id_fields = ["community", "region", "organisation", "created_by"]
    filter_horizontal = ["audience_regions", "audience_organisations"]
    inlines = [OpeningHoursInline, BlackoutInline]


@admin.register(Booking)
class BookingAdmin(ReadOnlyAdmin):
    list_display = ["resource", "starts_at", "ends_at", "status", "party_size", "booked_by"]
    list_filter = ["status"]
    date_hierarchy = "starts_at"
