"""Every write of the spine. Keyword-only, one transaction each, ServiceError for what the user got wrong."""

import datetime
import hmac
import secrets
import uuid

from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from gongzhi.core.crypto import lookup_hash
from gongzhi.core.exceptions import ServiceError
from gongzhi.core.models import (
    ApiToken,
    AuditEvent,
    Consent,
    Household,
    Organisation,
    Region,
    Resident,
    ResidentClaim,
    ResidentInvitation,
    ResidentTag,
    RoleAssignment,
    User,
)
from gongzhi.core.notifications import Channel, notify
from gongzhi.core.roles import ORGANISATION_ROLES, REGION_ROLES_BY_LEVEL, Perm
from gongzhi.core.scope import has_perm_in, scope_organisation_ids
from gongzhi.core.sms import sms_send
from gongzhi.core.validators import id_number_birth_date, id_number_sex, normalize_id_number, normalize_mobile

# What a person agrees to when registering; shown on the form, stored with the consent (PIPL art. 17).
# Stored in English, the msgid, so that the record does not depend on the reader's language; pages
# show the translation (gettext_noop only marks the strings for the catalogue).
CONSENT_POLICY_VERSION = "2026-11"
CONSENT_PURPOSES = {
    "account": (
        gettext_noop(
            "Use of your mobile number and name to run your account "
            "and contact you about matters you take part in"
        ),
        gettext_noop("Kept while your account exists and for 3 years after it is closed"),
    ),
    "roster": (
        gettext_noop(
            "Linking your account to your household on the community roster "
            "so that community services reach you"
        ),
        gettext_noop("Kept while you live in the community and for 3 years after you move out"),
    ),
}

INVITATION_ALPHABET = (
    "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O or 1/I: codes are read aloud and typed by hand
)
INVITATION_VALID_DAYS = 30


def client_ip(request) -> str | None:
    return request.META.get("REMOTE_ADDR") if request is not None else None


def audit_record(
    *,
    actor: User | None,
    action: str,
    target=None,
    region: Region | None = None,
    request=None,
    detail: dict | None = None,
) -> AuditEvent:
    return AuditEvent.objects.create(
        actor=actor if actor is not None and actor.is_authenticated else None,
        action=action,
        target_type=target._meta.label_lower if target is not None else "",
        target_id=str(target.pk) if target is not None else "",
        region=region,
        ip_address=client_ip(request),
        detail=detail or {},
    )


@transaction.atomic
def region_create(*, parent: Region | None, name: str, level: str) -> Region:
    if parent is not None and Region.LEVEL_ORDER.index(level) <= Region.LEVEL_ORDER.index(parent.level):
        raise ServiceError(_("A region must sit at a lower level than its parent."))
    # The path holds the new row's own key, so insert with a placeholder first and fix it up.
    region = Region(parent=parent, name=name, level=level, path=f"/tmp-{uuid.uuid4().hex}/")
    region.depth = parent.depth + 1 if parent else 0
    region.full_clean(exclude=["path"])
    region.save()
    region.path = f"{parent.path if parent else '/'}{region.pk}/"
    region.save(update_fields=["path"])
    return region


@transaction.atomic
def region_add(*, created_by: User, parent: Region, name: str, level: str) -> Region:
    """Staff add a grid, compound or building (higher up: a street or community) to their tree."""
    if not has_perm_in(created_by, Perm.MANAGE_REGIONS, parent):
        raise ServiceError(_("You may not change the regions here."))
    name = name.strip()
    if not name:
        raise ServiceError(_("Give the region a name."), field="name")
    if Region.objects.filter(parent=parent, name=name).exists():
        raise ServiceError(
            _("%(parent)s already has a region of this name.") % {"parent": parent.name}, field="name"
        )
    try:
        return region_create(parent=parent, name=name, level=level)
    except ServiceError as error:
        error.field = "level"
        raise


@transaction.atomic
def role_grant(
    *,
    granted_by: User,
    user: User,
    role: str,
    region: Region | None = None,
    organisation: Organisation | None = None,
    request=None,
) -> RoleAssignment:
    scope_region = region or (organisation.region if organisation else None)
    if scope_region is None or not has_perm_in(granted_by, Perm.MANAGE_ROLES, scope_region):
        raise ServiceError(_("You may not hand out roles there."))
    if region is not None and role not in REGION_ROLES_BY_LEVEL.get(region.level, []):
        raise ServiceError(_("This role cannot be held at this level of the region tree."))
    if organisation is not None and role not in ORGANISATION_ROLES:
        raise ServiceError(_("This role cannot be held in an organisation."))
    try:
        with transaction.atomic():
            assignment = RoleAssignment.objects.create(
                user=user, role=role, region=region, organisation=organisation, granted_by=granted_by
            )
    except IntegrityError:
        raise ServiceError(_("This person already holds this role there.")) from None
    audit_record(
        actor=granted_by,
        action=AuditEvent.Action.ROLE_GRANTED,
        target=user,
        region=scope_region,
        request=request,
        detail={
            "role": role,
            "region": region.pk if region else None,
            "organisation": organisation.pk if organisation else None,
        },
    )
    return assignment


@transaction.atomic
def role_revoke(*, revoked_by: User, assignment: RoleAssignment, request=None) -> None:
    scope_region = assignment.region or assignment.organisation.region
    if not has_perm_in(revoked_by, Perm.MANAGE_ROLES, scope_region):
        raise ServiceError(_("You may not take away roles there."))
    audit_record(
        actor=revoked_by,
        action=AuditEvent.Action.ROLE_REVOKED,
        target=assignment.user,
        region=scope_region,
        request=request,
        detail={"role": assignment.role},
    )
    assignment.delete()


@transaction.atomic
def organisation_create(
    *,
    created_by: User,
    name: str,
    kind: str,
    region: Region,
    credit_code: str = "",
    address: str = "",
    contact_phone: str = "",
    description: str = "",
) -> Organisation:
    if not has_perm_in(created_by, Perm.MANAGE_ORGANISATIONS, region):
        raise ServiceError(_("You may not register organisations in this region."))
    organisation = Organisation(
        name=name.strip(),
        kind=kind,
        region=region,
        credit_code=credit_code.strip().upper(),
        address=address,
        contact_phone=contact_phone,
        description=description,
    )
    # Before full_clean: the unique constraint is conditional, so full_clean would not name the field.
    code = organisation.credit_code
    if code and Organisation.objects.filter(credit_code=code).exists():
        raise ServiceError(
            _("An organisation with this unified social credit code is already registered."),
            field="credit_code",
        )
    validate_or_raise(organisation)
    organisation.save()
    return organisation


def validate_or_raise(instance) -> None:
    """full_clean, turning Django's ValidationError into the first message as a ServiceError."""
    try:
        instance.full_clean()
    except ValidationError as error:
        field, messages = next(iter(error.message_dict.items()))
        raise ServiceError(messages[0], field=None if field == "__all__" else field) from None


def clean_text(value: str, *, field: str, max_length: int, required: bool = True) -> str:
    """Free text from a form or the API, stripped, with a field error when missing or too long."""
    value = (value or "").strip()
    if required and not value:
        raise ServiceError(_("This field is required."), field=field)
    if len(value) > max_length:
        raise ServiceError(
            _("At most %(max)s characters (you wrote %(count)s).") % {"max": max_length, "count": len(value)},
            field=field,
        )
    return value


MOBILE_CODE_TTL = 10 * 60
MOBILE_CODE_RESEND_AFTER = 60
MOBILE_CODE_PER_HOUR = 5
MOBILE_CODE_ATTEMPTS = 5


def _mobile_code_keys(mobile: str) -> tuple[str, str, str, str]:
    digest = lookup_hash(mobile)
    return (
        f"mobile-code:{digest}",
        f"mobile-code-recent:{digest}",
        f"mobile-code-hour:{digest}",
        f"mobile-code-attempts:{digest}",
    )


def mobile_code_send(*, mobile: str) -> str:
    """Texts a six-digit code that proves the person holds the number; returns it for the caller's tests.
    At most one a minute and five an hour per number, so the form cannot be used to flood a phone."""
    mobile = normalize_mobile(mobile)
    code_key, recent_key, hour_key, attempts_key = _mobile_code_keys(mobile)
    if cache.get(recent_key):
        raise ServiceError(_("A code was sent less than a minute ago; please wait."), field="mobile")
    cache.add(hour_key, 0, 3600)
    if cache.incr(hour_key) > MOBILE_CODE_PER_HOUR:
        raise ServiceError(_("Too many codes for this number; try again in an hour."), field="mobile")
    code = f"{secrets.randbelow(10**6):06d}"
    cache.set(code_key, lookup_hash(code), MOBILE_CODE_TTL)
    cache.set(recent_key, True, MOBILE_CODE_RESEND_AFTER)
    cache.delete(attempts_key)
    sms_send(
        mobile=mobile,
        text=_("Your Gongzhi verification code is %(code)s. It is valid for 10 minutes.") % {"code": code},
    )
    return code


def mobile_code_check(*, mobile: str, code: str) -> None:
    """Raises unless `code` is the latest code texted to `mobile`; it works once; five wrong tries void it."""
    code_key, _recent, _hour, attempts_key = _mobile_code_keys(normalize_mobile(mobile))
    expected = cache.get(code_key)
    if expected is None:
        raise ServiceError(
            _("Ask for a verification code first, or ask again: codes last 10 minutes."), field="code"
        )
    if not hmac.compare_digest(expected, lookup_hash(code.strip())):
        cache.add(attempts_key, 0, MOBILE_CODE_TTL)
        if cache.incr(attempts_key) >= MOBILE_CODE_ATTEMPTS:
            cache.delete(code_key)
        raise ServiceError(_("The verification code is wrong."), field="code")
    cache.delete(code_key)


@transaction.atomic
def user_register(*, mobile: str, code: str, name: str, password: str, request=None) -> User:
    """A new account with the consents shown on the form, once the code texted to the number is given back."""
    mobile = normalize_mobile(mobile)
    if User.objects.filter(mobile_hash=lookup_hash(mobile)).exists():
        raise ServiceError(_("This mobile number is already registered; sign in instead."), field="mobile")
    mobile_code_check(mobile=mobile, code=code)
    user = User.objects.create_user(mobile, password, name=name.strip())
    for purpose in CONSENT_PURPOSES:
        consent_record(user=user, purpose=purpose, request=request)
    return user


def consent_record(*, user: User, purpose: str, request=None) -> Consent:
    statement, retention = CONSENT_PURPOSES[purpose]
    consent = Consent.objects.create(
        user=user, purpose=purpose, policy_version=CONSENT_POLICY_VERSION, retention=retention
    )
    audit_record(
        actor=user,
        action=AuditEvent.Action.CONSENT,
        target=user,
        request=request,
        detail={
            "purpose": purpose,
            "policy_version": CONSENT_POLICY_VERSION,
            "statement": statement,
            "retention": retention,
        },
    )
    return consent


@transaction.atomic
def consent_withdraw(*, user: User, purpose: str) -> None:
    Consent.objects.filter(user=user, purpose=purpose, withdrawn_at=None).update(withdrawn_at=timezone.now())


def community_of(region: Region) -> Region:
    """The community a region lies in (the region itself if it is one)."""
    if region.level == Region.Level.COMMUNITY:
        return region
    community = Region.objects.filter(pk__in=region.ancestor_ids(), level=Region.Level.COMMUNITY).first()
    if community is None:
        raise ServiceError(_("This region does not lie in a community."))
    return community


@transaction.atomic
def resident_create(
    *,
    created_by: User,
    region: Region,
    name: str,
    id_number: str = "",
    phone: str = "",
    room: str = "",
    is_household_head: bool = False,
    tags: list[str] | tuple[str, ...] = (),
    community: Region | None = None,
) -> Resident:
    """Registers a person on the roster (staff entry or import). The caller has already validated the
    numbers; this refuses a person whose ID number is already on the roster."""
    if not has_perm_in(created_by, Perm.EDIT_RESIDENTS, region):
        raise ServiceError(_("You may not register residents in this region."))
    community = community or community_of(region)
    id_number = normalize_id_number(id_number)
    household = None
    if room:
        household, _created = Household.objects.get_or_create(
            region=region, number=room, defaults={"community": community}
        )
    resident = Resident(
        community=community,
        region=region,
        household=household,
        name=name.strip(),
        is_household_head=is_household_head,
    )
    resident.set_id_number(id_number)
    resident.set_phone(normalize_mobile(phone))
    if id_number:
        resident.birth_date = id_number_birth_date(id_number)
        resident.sex = id_number_sex(id_number)
    if id_number and Resident.objects.filter(id_number_hash=resident.id_number_hash).exists():
        raise ServiceError(_("A resident with this ID number is already on the roster."), field="id_number")
    resident.save()
    ResidentTag.objects.bulk_create([ResidentTag(resident=resident, tag=tag) for tag in set(tags)])
    return resident


def resident_unmask(*, user: User, resident: Resident, request=None) -> dict[str, str]:
    """The full phone and ID numbers, for those who may see them; every look is audited."""
    if not has_perm_in(user, Perm.VIEW_FULL_PERSONAL_DATA, resident.region):
        raise ServiceError(_("You may not see full personal data."))
    full = Resident.objects.only("id_number", "phone").get(pk=resident.pk)
    audit_record(
        actor=user,
        action=AuditEvent.Action.UNMASK,
        target=resident,
        region=resident.community,
        request=request,
        detail={"fields": ["phone", "id_number"]},
    )
    return {"phone": full.phone, "id_number": full.id_number}


def invitation_code_new() -> str:
    return "".join(secrets.choice(INVITATION_ALPHABET) for _ in range(8))


@transaction.atomic
def invitation_create(*, created_by: User, resident: Resident) -> ResidentInvitation:
    if not has_perm_in(created_by, Perm.VERIFY_RESIDENTS, resident.region):
        raise ServiceError(_("You may not invite residents of this region."))
    if resident.user_id:
        raise ServiceError(_("This resident already has an account."))
    ResidentInvitation.objects.filter(resident=resident, used_at=None).delete()
    return ResidentInvitation.objects.create(
        resident=resident,
        code=invitation_code_new(),
        created_by=created_by,
        expires_at=timezone.now() + datetime.timedelta(days=INVITATION_VALID_DAYS),
    )


@transaction.atomic
def invitation_claim(*, user: User, code: str, request=None) -> Resident:
    invitation = (
        ResidentInvitation.objects.select_for_update()
        .select_related("resident")
        .filter(code=code.strip().upper().replace(" ", ""), used_at=None, expires_at__gt=timezone.now())
        .first()
    )
    if invitation is None:
        raise ServiceError(_("This invitation code is unknown, used or expired."), field="code")
    resident = resident_link(resident=invitation.resident, user=user)
    invitation.used_at = timezone.now()
    invitation.save(update_fields=["used_at"])
    audit_record(
        actor=user,
        action=AuditEvent.Action.RESIDENT_VERIFIED,
        target=resident,
        region=resident.community,
        request=request,
        detail={"by": "invitation"},
    )
    return resident


def resident_link(*, resident: Resident, user: User) -> Resident:
    resident = Resident.objects.select_for_update().get(pk=resident.pk)
    if resident.user_id and resident.user_id != user.pk:
        raise ServiceError(_("This resident record already belongs to another account."))
    if Resident.objects.filter(user=user).exclude(pk=resident.pk).exists():
        raise ServiceError(_("Your account is already linked to a resident record."))
    resident.user = user
    resident.verified_at = timezone.now()
    resident.save(update_fields=["user", "verified_at", "updated_at"])
    return resident


@transaction.atomic
def claim_submit(*, user: User, building: Region, room: str, name: str, id_number: str) -> ResidentClaim:
    if building.level != Region.Level.BUILDING:
        raise ServiceError(_("Choose the building you live in."), field="building")
    if ResidentClaim.objects.filter(user=user, status=ResidentClaim.Status.PENDING).exists():
        raise ServiceError(_("You already have a request waiting for the community."))
    if Resident.objects.filter(user=user).exists():
        raise ServiceError(_("Your account is already linked to a resident record."))
    id_number = normalize_id_number(id_number)
    claim = ResidentClaim(
        user=user,
        community=community_of(building),
        region=building,
        room=room.strip(),
        name=name.strip(),
        id_number=id_number,
        id_number_hash=lookup_hash(id_number),
    )
    claim.save()
    return claim


@transaction.atomic
def claim_approve(*, decided_by: User, claim: ResidentClaim, request=None) -> Resident:
    """Links the account to the roster record with the same ID number, or registers the person."""
    claim = ResidentClaim.objects.select_for_update().get(pk=claim.pk)
    if claim.status != ResidentClaim.Status.PENDING:
        raise ServiceError(_("This request has already been decided."))
    if not has_perm_in(decided_by, Perm.VERIFY_RESIDENTS, claim.region):
        raise ServiceError(_("You may not verify residents of this region."))
    resident = Resident.objects.filter(id_number_hash=claim.id_number_hash).first()
    if resident is None:
        resident = resident_create(
            created_by=decided_by,
            region=claim.region,
            name=claim.name,
            id_number=claim.id_number,
            phone=claim.user.mobile,
            room=claim.room,
        )
    elif not resident.region.is_within(claim.community):
        raise ServiceError(_("This ID number is on the roster of another community."))
    resident = resident_link(resident=resident, user=claim.user)
    claim.status = ResidentClaim.Status.APPROVED
    claim.resident = resident
    claim.decided_by = decided_by
    claim.decided_at = timezone.now()
    claim.save()
    audit_record(
        actor=decided_by,
        action=AuditEvent.Action.RESIDENT_VERIFIED,
        target=resident,
        region=claim.community,
        request=request,
        detail={"by": "worker", "claim": claim.pk},
    )
    notify(
        users=[claim.user],
        title=_("Your community has verified you as a resident."),
        url=reverse("me"),
        channels=[Channel.IN_APP, Channel.SMS],
    )
    return resident


@transaction.atomic
def claim_reject(*, decided_by: User, claim: ResidentClaim, reason: str) -> ResidentClaim:
    claim = ResidentClaim.objects.select_for_update().get(pk=claim.pk)
    if claim.status != ResidentClaim.Status.PENDING:
        raise ServiceError(_("This request has already been decided."))
    if not has_perm_in(decided_by, Perm.VERIFY_RESIDENTS, claim.region):
        raise ServiceError(_("You may not verify residents of this region."))
    if not reason.strip():
        raise ServiceError(_("Give the resident a reason."), field="reason")
    claim.status = ResidentClaim.Status.REJECTED
    claim.reason = reason.strip()
    claim.decided_by = decided_by
    claim.decided_at = timezone.now()
    claim.save()
    notify(
        users=[claim.user],
        title=_("Your community could not verify your request."),
        body=claim.reason,
        url=reverse("claim"),
        channels=[Channel.IN_APP, Channel.SMS],
    )
    return claim


def api_token_secret() -> str:
    return "gz_" + secrets.token_urlsafe(32)


@transaction.atomic
def api_token_create(
    *, user: User, name: str, organisation: Organisation | None = None, request=None
) -> tuple[ApiToken, str]:
    """Returns the token and its secret; the secret is not stored and cannot be shown again."""
    if organisation is not None and organisation.pk not in scope_organisation_ids(
        user, Perm.ACT_FOR_ORGANISATION
    ):
        raise ServiceError(_("You may only create tokens for organisations you work for."))
    if not name.strip():
        raise ServiceError(_("Give the token a name."), field="name")
    secret = api_token_secret()
    token = ApiToken.objects.create(
        user=user,
        organisation=organisation,
        name=name.strip(),
        prefix=secret[:8],
        token_hash=lookup_hash(secret),
    )
    audit_record(actor=user, action=AuditEvent.Action.TOKEN_CREATED, target=token, request=request)
    return token, secret


@transaction.atomic
def api_token_revoke(*, user: User, token: ApiToken, request=None) -> None:
    if token.user_id != user.pk:
        raise ServiceError(_("This is not your token."))
    ApiToken.objects.filter(pk=token.pk, revoked_at=None).update(revoked_at=timezone.now())
    audit_record(actor=user, action=AuditEvent.Action.TOKEN_REVOKED, target=token, request=request)


def user_set_large_text(*, user: User, enabled: bool) -> None:
    User.objects.filter(pk=user.pk).update(large_text=enabled)
