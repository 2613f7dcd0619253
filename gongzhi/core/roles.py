"""Roles and what they may do. A role is held in a scope (a region subtree or an organisation); the code
below is the single place that says which permissions a role carries."""

from enum import StrEnum

from django.db import models
from django.utils.translation import gettext_lazy as _


class Perm(StrEnum):
    VIEW_REGIONS = "view_regions"
    MANAGE_REGIONS = "manage_regions"
    VIEW_RESIDENTS = "view_residents"
    EDIT_RESIDENTS = "edit_residents"
    VERIFY_RESIDENTS = "verify_residents"
    VIEW_FULL_PERSONAL_DATA = "view_full_personal_data"
    VIEW_SENSITIVE_TAGS = "view_sensitive_tags"
    IMPORT_ROSTER = "import_roster"
    EXPORT_ROSTER = "export_roster"
    VIEW_ORGANISATIONS = "view_organisations"
    MANAGE_ORGANISATIONS = "manage_organisations"
    MANAGE_ROLES = "manage_roles"
    ACT_FOR_ORGANISATION = "act_for_organisation"
    # Matters: see those of a region (private ones too), report for a resident, set a community's categories.
    VIEW_MATTERS = "view_matters"
    REPORT_FOR_RESIDENTS = "report_for_residents"
    CONFIGURE_MATTERS = "configure_matters"
    # Volunteering: see activities, records and reports of a region; organise activities, verify hours and
    # run the points supermarket; award points out of the budget; set the budget (the secretary alone).
    VIEW_VOLUNTEERING = "view_volunteering"
    MANAGE_VOLUNTEERING = "manage_volunteering"
    AWARD_POINTS = "award_points"
    FUND_POINTS = "fund_points"
    # Consultations: follow a region's consultations and their records; run them (rule sets, review,
    # participants, notice, meetings, hall tallies).
    VIEW_CONSULTATIONS = "view_consultations"
    MANAGE_CONSULTATIONS = "manage_consultations"
    # Sharing: see a region's shared resources, bookings and contribution reports; list and run the
    # community's own resources (an organisation runs its own through ACT_FOR_ORGANISATION).
    VIEW_SHARING = "view_sharing"
    MANAGE_SHARING = "manage_sharing"
    # Analysis: read a region's dashboards, needs register and asset map (aggregates only); run surveys and
    # keep the register.
    VIEW_ANALYSIS = "view_analysis"
    MANAGE_ANALYSIS = "manage_analysis"


class Role(models.TextChoices):
    BUILDING_LEADER = "building_leader", _("Building leader")
    COMPOUND_LEADER = "compound_leader", _("Compound leader")
    GRID_WORKER = "grid_worker", _("Grid worker")
    COMMUNITY_WORKER = "community_worker", _("Community worker")
    COMMUNITY_SECRETARY = "community_secretary", _("Community secretary")
    STREET_OFFICER = "street_officer", _("Street officer")
    DISTRICT_OFFICER = "district_officer", _("District officer")
    PROVIDER_STAFF = "provider_staff", _("Provider staff")
    WORK_UNIT_STAFF = "work_unit_staff", _("Work-unit staff")


_NEIGHBOUR = {Perm.VIEW_REGIONS, Perm.VIEW_RESIDENTS, Perm.VIEW_MATTERS, Perm.REPORT_FOR_RESIDENTS}
_WORKER = _NEIGHBOUR | {
    Perm.EDIT_RESIDENTS,
    Perm.VERIFY_RESIDENTS,
    Perm.IMPORT_ROSTER,
    Perm.EXPORT_ROSTER,
    Perm.VIEW_ORGANISATIONS,
    Perm.MANAGE_REGIONS,
    Perm.CONFIGURE_MATTERS,
    Perm.VIEW_VOLUNTEERING,
    Perm.MANAGE_VOLUNTEERING,
    Perm.AWARD_POINTS,
    Perm.VIEW_CONSULTATIONS,
    Perm.MANAGE_CONSULTATIONS,
    Perm.VIEW_SHARING,
    Perm.MANAGE_SHARING,
    Perm.VIEW_ANALYSIS,
    Perm.MANAGE_ANALYSIS,
}
_OFFICER = {
    Perm.VIEW_REGIONS,
    Perm.VIEW_RESIDENTS,
    Perm.EXPORT_ROSTER,
    Perm.VIEW_ORGANISATIONS,
    Perm.MANAGE_ORGANISATIONS,
    Perm.MANAGE_ROLES,
    Perm.MANAGE_REGIONS,
    Perm.VIEW_MATTERS,
    Perm.VIEW_VOLUNTEERING,
    Perm.VIEW_CONSULTATIONS,
    Perm.VIEW_SHARING,
    Perm.VIEW_ANALYSIS,
}

ROLE_PERMISSIONS: dict[str, frozenset[Perm]] = {
    Role.BUILDING_LEADER: frozenset(_NEIGHBOUR),
    Role.COMPOUND_LEADER: frozenset(_NEIGHBOUR),
    Role.GRID_WORKER: frozenset(_NEIGHBOUR | {Perm.EDIT_RESIDENTS}),
    Role.COMMUNITY_WORKER: frozenset(_WORKER),
    # The secretary answers for the roster: full numbers and sensitive groups, and who holds which role.
    Role.COMMUNITY_SECRETARY: frozenset(
        _WORKER
        | {
            Perm.VIEW_FULL_PERSONAL_DATA,
            Perm.VIEW_SENSITIVE_TAGS,
            Perm.MANAGE_ROLES,
            Perm.MANAGE_ORGANISATIONS,
            Perm.FUND_POINTS,
        }
    ),
    # A street keeps rule sets for all its communities.
    Role.STREET_OFFICER: frozenset(
        _OFFICER | {Perm.VIEW_SENSITIVE_TAGS, Perm.MANAGE_CONSULTATIONS, Perm.MANAGE_ANALYSIS}
    ),
    Role.DISTRICT_OFFICER: frozenset(_OFFICER),
    Role.PROVIDER_STAFF: frozenset({Perm.ACT_FOR_ORGANISATION}),
    Role.WORK_UNIT_STAFF: frozenset({Perm.ACT_FOR_ORGANISATION}),
}

# Roles a staff member may hand out, by the level of the region they are handed out in.
REGION_ROLES_BY_LEVEL = {
    "building": [Role.BUILDING_LEADER],
    "compound": [Role.COMPOUND_LEADER],
    "grid": [Role.GRID_WORKER],
    "community": [Role.COMMUNITY_WORKER, Role.COMMUNITY_SECRETARY],
    "street": [Role.STREET_OFFICER],
    "district": [Role.DISTRICT_OFFICER],
}
ORGANISATION_ROLES = [Role.PROVIDER_STAFF, Role.WORK_UNIT_STAFF]
