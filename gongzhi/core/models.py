"""The spine every capability stands on: regions, people, organisations, scoped roles, audit, notices."""

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from gongzhi.core.crypto import EncryptedTextField, lookup_hash, mask_id_number, mask_phone
from gongzhi.core.validators import normalize_mobile, validate_credit_code


class RegionLevel(models.TextChoices):
    CITY = "city", _("City")
    DISTRICT = "district", _("District")
    STREET = "street", _("Street")
    COMMUNITY = "community", _("Community")
    GRID = "grid", _("Grid")
    COMPOUND = "compound", _("Compound")
    BUILDING = "building", _("Building")


class Region(models.Model):
    """A node of the region tree. `path` is the materialised path of primary keys, e.g. "/1/4/17/", so that
    everything under a node is one indexed prefix query on SQLite and PostgreSQL alike."""

    Level = RegionLevel

    name = models.CharField(_("name"), max_length=100)
    level = models.CharField(_("level"), max_length=16, choices=Level.choices)
    parent = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="children",
        verbose_name=_("parent"),
    )
    path = models.CharField(max_length=255, unique=True, editable=False)
    depth = models.PositiveSmallIntegerField(default=0, editable=False)

    class Meta:
        verbose_name = _("region")
        verbose_name_plural = _("regions")
        ordering = ["path"]
        constraints = [
            models.UniqueConstraint(fields=["parent", "name"], name="region_unique_name_among_siblings"),
            models.CheckConstraint(condition=Q(level__in=RegionLevel.values), name="region_level_valid"),
        ]

    LEVEL_ORDER = RegionLevel.values

    def __str__(self):
        return self.name

    @property
    def label(self) -> str:
        """Building names repeat across compounds ("1栋"), so a building is named with its compound.
        Lists should select_related the parent."""
        parent = self.parent if self.parent_id and self.level == RegionLevel.BUILDING else None
        if parent is None:
            return self.name
        return place_label(self.name, self.level, parent.name, parent.level)

    def is_within(self, ancestor: "Region") -> bool:
        return self.path.startswith(ancestor.path)

    def ancestor_ids(self) -> list[int]:
        return [int(pk) for pk in self.path.strip("/").split("/")]


def place_label(name: str, level: str, parent_name: str, parent_level: str) -> str:
    """`Region.label` for a region read as plain values (name, level and its parent's)."""
    if level == RegionLevel.BUILDING and parent_level == RegionLevel.COMPOUND:
        return f"{parent_name} {name}"
    return name


class UserManager(BaseUserManager):
    use_in_migrations = True

    def get_by_natural_key(self, mobile):
        return self.get(mobile_hash=lookup_hash(normalize_mobile(mobile)))

    def create_user(self, mobile: str, password: str | None = None, **fields):
        user = self.model(**fields)
        user.set_mobile(mobile)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, mobile: str = "", password: str | None = None, **fields):
        # `createsuperuser` prompts for the USERNAME_FIELD and passes it under that name.
        mobile = mobile or fields.pop("mobile_hash", "")
        fields.update(is_staff=True, is_superuser=True)
        return self.create_user(mobile, password, **fields)


class User(AbstractBaseUser, PermissionsMixin):
    """An account. People sign in with their mobile number, stored encrypted like every phone number."""

    mobile = EncryptedTextField(_("mobile number"))
    mobile_hash = models.CharField(_("mobile number"), max_length=64, unique=True)
    mobile_masked = models.CharField(_("mobile number"), max_length=16)
    name = models.CharField(_("name"), max_length=50)
    email = models.EmailField(_("email"), blank=True)
    is_active = models.BooleanField(_("active"), default=True)
    is_staff = models.BooleanField(_("may use the admin site"), default=False)
    date_joined = models.DateTimeField(_("joined"), default=timezone.now)
    large_text = models.BooleanField(_("large text, high contrast"), default=False)
    # Raised by database triggers (migration 0005) whenever the user's role assignments, or the regions and
    # organisations they name, change; never lowered. A request's user carries its roles cached under it.
    roles_version = models.BigIntegerField(default=0, editable=False)
    # Raised the same way with every change to the user's notifications (migration 0005).
    inbox_version = models.BigIntegerField(default=0, editable=False)

    objects = UserManager()

    USERNAME_FIELD = "mobile_hash"
    REQUIRED_FIELDS = ["name"]

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")

    def __str__(self):
        return f"{self.name} ({self.mobile_masked})"

    def set_mobile(self, mobile: str) -> None:
        mobile = normalize_mobile(mobile)
        self.mobile = mobile
        self.mobile_hash = lookup_hash(mobile)
        self.mobile_masked = mask_phone(mobile)


class OrganisationKind(models.TextChoices):
    RESIDENTS_COMMITTEE = "residents_committee", _("Residents' committee")
    PARTY_COMMITTEE = "party_committee", _("Party committee")
    STREET_OFFICE = "street_office", _("Street office")
    SOCIAL_ORGANISATION = "social_organisation", _("Social organisation")
    SOCIAL_WORK_AGENCY = "social_work_agency", _("Social-work agency")
    SOCIAL_ENTERPRISE = "social_enterprise", _("Social enterprise")
    WORK_UNIT = "work_unit", _("Work unit")
    PROPERTY_COMPANY = "property_company", _("Property company")
    OWNERS_COMMITTEE = "owners_committee", _("Owners' committee")
    FOUNDATION = "foundation", _("Foundation")
    BUSINESS = "business", _("Business")


class Organisation(models.Model):
    Kind = OrganisationKind

    name = models.CharField(_("name"), max_length=200)
    kind = models.CharField(_("kind"), max_length=32, choices=Kind.choices)
    # Blank for bodies without their own registration (an owners' committee is often registered later).
    credit_code = models.CharField(
        _("unified social credit code"), max_length=18, blank=True, validators=[validate_credit_code]
    )
    region = models.ForeignKey(
        Region, on_delete=models.PROTECT, related_name="organisations", verbose_name=_("region")
    )
    address = models.CharField(_("address"), max_length=200, blank=True)
    contact_phone = models.CharField(_("contact phone"), max_length=20, blank=True)
    description = models.TextField(_("description"), blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("organisation")
        verbose_name_plural = _("organisations")
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["credit_code"], condition=~Q(credit_code=""), name="organisation_unique_credit_code"
            ),
            models.CheckConstraint(
                condition=Q(kind__in=OrganisationKind.values), name="organisation_kind_valid"
            ),
        ]

    def __str__(self):
        return self.name


class RoleAssignment(models.Model):
    """(user, role, scope): the permissions of the role hold in the scope region's whole subtree, or within
    the scope organisation. Which permissions each role carries is in `gongzhi.core.roles`."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="role_assignments"
    )
    role = models.CharField(_("role"), max_length=32)
    region = models.ForeignKey(Region, on_delete=models.CASCADE, null=True, blank=True, related_name="+")
    organisation = models.ForeignKey(
        Organisation, on_delete=models.CASCADE, null=True, blank=True, related_name="roles"
    )
    granted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    granted_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("role assignment")
        verbose_name_plural = _("role assignments")
        constraints = [
            models.CheckConstraint(
                condition=Q(region__isnull=False, organisation__isnull=True)
                | Q(region__isnull=True, organisation__isnull=False),
                name="role_scope_is_region_or_organisation",
            ),
            models.UniqueConstraint(fields=["user", "role", "region"], name="role_unique_per_region"),
            models.UniqueConstraint(
                fields=["user", "role", "organisation"], name="role_unique_per_organisation"
            ),
        ]

    def __str__(self):
        return f"{self.user} · {self.get_role_display()} · {self.region or self.organisation}"

    def get_role_display(self):
        from gongzhi.core.roles import Role

        return Role(self.role).label if self.role in Role.values else self.role


class Household(models.Model):
    community = models.ForeignKey(
        Region, on_delete=models.PROTECT, related_name="+", verbose_name=_("community")
    )
    region = models.ForeignKey(
        Region, on_delete=models.PROTECT, related_name="households", verbose_name=_("building")
    )
    number = models.CharField(_("room"), max_length=32)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("household")
        verbose_name_plural = _("households")
        constraints = [
            models.UniqueConstraint(fields=["region", "number"], name="household_unique_room_per_building")
        ]
        indexes = [models.Index(fields=["community", "number"])]

    def __str__(self):
        return self.number


class RosterStamp(models.Model):
    """A community's roster version: database triggers (migration 0004) raise it on every change to its
    residents, households, tags or regions, whoever makes the change (services, the admin, raw SQL). Cached
    roster pages are keyed by the versions of the communities they show (gongzhi.core.rostercache)."""

    community = models.OneToOneField(Region, on_delete=models.CASCADE, primary_key=True, related_name="+")
    version = models.BigIntegerField(default=1)

    def __str__(self):
        return f"{self.community_id}@{self.version}"


class Resident(models.Model):
    """A person on the community roster. An account is optional: elderly residents are registered by staff."""

    class Sex(models.TextChoices):
        MALE = "M", _("Male")
        FEMALE = "F", _("Female")

    community = models.ForeignKey(
        Region, on_delete=models.PROTECT, related_name="+", verbose_name=_("community")
    )
    region = models.ForeignKey(
        Region, on_delete=models.PROTECT, related_name="residents", verbose_name=_("building")
    )
    household = models.ForeignKey(
        Household,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="members",
        verbose_name=_("household"),
    )
    name = models.CharField(_("name"), max_length=50)
    sex = models.CharField(_("sex"), max_length=1, choices=Sex.choices, blank=True)
    birth_date = models.DateField(_("date of birth"), null=True, blank=True)
    id_number = EncryptedTextField(_("ID number"), blank=True)
    id_number_hash = models.CharField(max_length=64, blank=True, editable=False)
    id_number_masked = models.CharField(_("ID number"), max_length=24, blank=True, editable=False)
    phone = EncryptedTextField(_("phone"), blank=True)
    phone_hash = models.CharField(max_length=64, blank=True, editable=False, db_index=True)
    phone_masked = models.CharField(_("phone"), max_length=16, blank=True, editable=False)
    is_household_head = models.BooleanField(_("head of household"), default=False)
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="resident"
    )
    verified_at = models.DateTimeField(_("verified"), null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("resident")
        verbose_name_plural = _("residents")
        constraints = [
            models.UniqueConstraint(
                fields=["id_number_hash"], condition=~Q(id_number_hash=""), name="resident_unique_id_number"
            ),
            models.CheckConstraint(condition=Q(sex__in=["M", "F", ""]), name="resident_sex_valid"),
        ]
        indexes = [
            models.Index(fields=["community", "name"]),
            models.Index(fields=["region", "name"]),
            models.Index(fields=["community", "phone_masked"]),
            # SQLite cannot use the partial unique index above for a lookup by value; this one it can.
            models.Index(fields=["id_number_hash"], name="resident_id_number_lookup"),
        ]

    def __str__(self):
        return self.name

    def set_id_number(self, id_number: str) -> None:
        self.id_number = id_number
        self.id_number_hash = lookup_hash(id_number) if id_number else ""
        self.id_number_masked = mask_id_number(id_number) if id_number else ""

    def set_phone(self, phone: str) -> None:
        self.phone = phone
        self.phone_hash = lookup_hash(phone) if phone else ""
        self.phone_masked = mask_phone(phone) if phone else ""


class ResidentTag(models.Model):
    """Groups a resident belongs to. The sensitive ones (PIPL art. 28) need their own permission to see."""

    class Tag(models.TextChoices):
        ELDERLY = "elderly", _("Elderly (60+)")
        LIVING_ALONE = "living_alone", _("Elderly living alone")
        CHILD = "child", _("Child or youth")
        DISABILITY = "disability", _("Disability")
        LOW_INCOME = "low_income", _("Low income")
        MINORITY = "minority", _("Ethnic minority")
        HEALTH = "health", _("Health condition")
        VETERAN = "veteran", _("Veteran")

    SENSITIVE = frozenset({Tag.DISABILITY, Tag.LOW_INCOME, Tag.MINORITY, Tag.HEALTH})

    resident = models.ForeignKey(Resident, on_delete=models.CASCADE, related_name="tags")
    tag = models.CharField(_("tag"), max_length=16, choices=Tag.choices)

    class Meta:
        verbose_name = _("resident tag")
        verbose_name_plural = _("resident tags")
        constraints = [models.UniqueConstraint(fields=["resident", "tag"], name="resident_tag_unique")]
        indexes = [models.Index(fields=["tag", "resident"])]

    def __str__(self):
        return self.get_tag_display()

    @property
    def is_sensitive(self) -> bool:
        return self.tag in self.SENSITIVE


class Consent(models.Model):
    """What a person agreed to, for which purpose and for how long (PIPL arts. 14, 17)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="consents")
    purpose = models.CharField(_("purpose"), max_length=32)
    policy_version = models.CharField(_("policy version"), max_length=16)
    retention = models.CharField(_("retention period"), max_length=200)
    given_at = models.DateTimeField(default=timezone.now)
    withdrawn_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("consent")
        verbose_name_plural = _("consents")
        constraints = [
            models.UniqueConstraint(
                fields=["user", "purpose", "policy_version"],
                condition=Q(withdrawn_at__isnull=True),
                name="consent_one_active_per_purpose",
            )
        ]

    def __str__(self):
        return f"{self.purpose} {self.policy_version}"


class ResidentInvitation(models.Model):
    """A one-time code a community hands a resident so they can claim their roster record online."""

    resident = models.ForeignKey(Resident, on_delete=models.CASCADE, related_name="invitations")
    code = models.CharField(max_length=16, unique=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)

    def __str__(self):
        return self.code


class ResidentClaim(models.Model):
    """A registered user's request to be recognised as a resident, decided by a community worker."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        APPROVED = "approved", _("Approved")
        REJECTED = "rejected", _("Rejected")

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="resident_claims"
    )
    community = models.ForeignKey(Region, on_delete=models.PROTECT, related_name="+")
    region = models.ForeignKey(Region, on_delete=models.PROTECT, related_name="+", verbose_name=_("building"))
    room = models.CharField(_("room"), max_length=32)
    name = models.CharField(_("name"), max_length=50)
    id_number = EncryptedTextField(_("ID number"))
    id_number_hash = models.CharField(max_length=64)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    resident = models.ForeignKey(Resident, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    reason = models.CharField(_("reason"), max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user"], condition=Q(status="pending"), name="claim_one_pending_per_user"
            )
        ]

    def __str__(self):
        return f"{self.name} ({self.get_status_display()})"

    @property
    def id_number_masked(self) -> str:
        return mask_id_number(self.id_number)


class AuditEvent(models.Model):
    """Append-only: the database refuses UPDATE and DELETE on this table (see migration 0002)."""

    class Action(models.TextChoices):
        SIGN_IN = "sign_in", _("Signed in")
        SIGN_IN_FAILED = "sign_in_failed", _("Failed sign-in")
        SIGN_OUT = "sign_out", _("Signed out")
        ROLE_GRANTED = "role_granted", _("Role granted")
        ROLE_REVOKED = "role_revoked", _("Role revoked")
        UNMASK = "unmask", _("Personal data unmasked")
        EXPORT = "export", _("Personal data exported")
        IMPORT = "import", _("Roster imported")
        RESIDENT_VERIFIED = "resident_verified", _("Resident verified")
        CONSENT = "consent", _("Consent recorded")
        TOKEN_CREATED = "token_created", _("API token created")
        TOKEN_REVOKED = "token_revoked", _("API token revoked")
        KEY_ROTATION = "key_rotation", _("Encryption keys rotated")

    at = models.DateTimeField(default=timezone.now, db_index=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+")
    action = models.CharField(_("action"), max_length=32, choices=Action.choices, db_index=True)
    target_type = models.CharField(max_length=64, blank=True)
    target_id = models.CharField(max_length=64, blank=True)
    region = models.ForeignKey(Region, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    detail = models.JSONField(default=dict, blank=True)

    class Meta:
        verbose_name = _("audit event")
        verbose_name_plural = _("audit events")
        ordering = ["-at", "-id"]

    def __str__(self):
        return f"{self.at:%Y-%m-%d %H:%M} {self.get_action_display()}"


class Notification(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications")
    title = models.CharField(_("title"), max_length=200)
    body = models.TextField(_("message"), blank=True)
    url = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["user", "read_at"])]

    def __str__(self):
        return self.title


class ApiToken(models.Model):
    """A personal token, or an organisation's token that acts only within that organisation's roles.
    Only a hash of the secret is stored; the secret is shown once, on creation."""

    name = models.CharField(_("name"), max_length=100)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    organisation = models.ForeignKey(
        Organisation, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    prefix = models.CharField(max_length=12, editable=False)
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    def __str__(self):
        return f"{self.name} ({self.prefix}…)"


class RosterImport(models.Model):
    """One upload of a roster spreadsheet: checked first (dry run), then imported with progress."""

    class Mode(models.TextChoices):
        ALL_OR_NOTHING = "all_or_nothing", _("Import nothing if any row fails")
        VALID_ROWS = "valid_rows", _("Import the valid rows")

    class Status(models.TextChoices):
        CHECKED = "checked", _("Checked")
        RUNNING = "running", _("Importing")
        DONE = "done", _("Imported")
        FAILED = "failed", _("Nothing imported")

    community = models.ForeignKey(Region, on_delete=models.PROTECT, related_name="+")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    file = models.FileField(upload_to="roster-imports/")
    original_name = models.CharField(max_length=200)
    mode = models.CharField(max_length=16, choices=Mode.choices, default=Mode.ALL_OR_NOTHING)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.CHECKED)
    total_rows = models.PositiveIntegerField(default=0)
    valid_rows = models.PositiveIntegerField(default=0)
    processed_rows = models.PositiveIntegerField(default=0)
    imported_rows = models.PositiveIntegerField(default=0)
    errors = models.JSONField(default=list, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(processed_rows__lte=F("total_rows")), name="roster_import_progress_bounded"
            )
        ]

    def __str__(self):
        return self.original_name
