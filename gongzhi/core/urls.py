from django.contrib.auth import views as auth_views
from django.urls import path

from gongzhi.core.views import account, roster, site, workbench  # noqa: F401

urlpatterns = [
    path("", site.home, name="home"),
    path("healthz", site.healthz, name="healthz"),
    path("ping", site.ping, name="ping"),
    path("login/", site.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("prefs/large-text/", site.large_text_toggle, name="large-text"),
    path("notifications/", site.notification_list, name="notifications"),
]

# Accounts: registration, consent, claiming a resident record, API tokens.
urlpatterns += [
    path("register/", account.register, name="register"),
    path("me/", account.me, name="me"),
    path("me/consents/<str:purpose>/withdraw/", account.consent_withdraw, name="consent-withdraw"),
    path("me/tokens/", account.token_create, name="token-create"),
    path("me/tokens/<int:token_id>/revoke/", account.token_revoke, name="token-revoke"),
    path("me/claim/", account.claim, name="claim"),
    path("me/claim/code/", account.claim_with_code, name="claim-code"),
    path("me/claim/buildings/", account.claim_buildings, name="claim-buildings"),
]

# The staff workbench: region tree, residents, households, organisations, roles, verification.
urlpatterns += [
    path("workbench/", workbench.home, name="workbench"),
    path("workbench/regions/<int:region_id>/", workbench.region_detail, name="workbench-region"),
    path("workbench/regions/<int:region_id>/add/", workbench.region_add, name="workbench-region-add"),
    path("workbench/regions/<int:region_id>/roles/", workbench.region_roles, name="workbench-roles"),
    path(
        "workbench/regions/<int:region_id>/roles/<int:assignment_id>/revoke/",
        workbench.role_revoke,
        name="workbench-role-revoke",
    ),
    path("workbench/residents/", workbench.resident_list, name="workbench-residents"),
    path("workbench/residents/add/", workbench.resident_add, name="workbench-resident-add"),
    path("workbench/residents/<int:resident_id>/", workbench.resident_detail, name="workbench-resident"),
    path(
        "workbench/residents/<int:resident_id>/unmask/",
        workbench.resident_unmask,
        name="workbench-resident-unmask",
    ),
    path(
        "workbench/residents/<int:resident_id>/invitation/",
        workbench.resident_invite,
        name="workbench-resident-invite",
    ),
    path("workbench/households/", workbench.household_list, name="workbench-households"),
    path("workbench/households/<int:household_id>/", workbench.household_detail, name="workbench-household"),
    path("workbench/organisations/", workbench.organisation_list, name="workbench-organisations"),
    path("workbench/organisations/add/", workbench.organisation_add, name="workbench-organisation-add"),
    path(
        "workbench/organisations/<int:organisation_id>/",
        workbench.organisation_detail,
        name="workbench-organisation",
    ),
    path(
        "workbench/organisations/<int:organisation_id>/roles/",
        workbench.organisation_role_grant,
        name="workbench-organisation-role-grant",
    ),
    path("workbench/claims/", workbench.claim_list, name="workbench-claims"),
    path("workbench/claims/<int:claim_id>/approve/", workbench.claim_approve, name="workbench-claim-approve"),
    path("workbench/claims/<int:claim_id>/reject/", workbench.claim_reject, name="workbench-claim-reject"),
]

# Roster import and export.
urlpatterns += [
    path("workbench/roster/imports/", roster.import_list, name="roster-imports"),
    path("workbench/roster/imports/<int:import_id>/", roster.import_detail, name="roster-import"),
    path("workbench/roster/imports/<int:import_id>/start/", roster.import_start, name="roster-import-start"),
    path("workbench/roster/imports/<int:import_id>/retry/", roster.import_retry, name="roster-import-retry"),
    path(
        "workbench/roster/imports/<int:import_id>/progress/",
        roster.import_progress,
        name="roster-import-progress",
    ),
    path(
        "workbench/roster/imports/<int:import_id>/errors.xlsx",
        roster.import_errors,
        name="roster-import-errors",
    ),
    path("workbench/roster/template.xlsx", roster.template_download, name="roster-template"),
    path("workbench/roster/export/", roster.export, name="roster-export"),
]
