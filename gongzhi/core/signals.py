"""Sign-ins and failed sign-ins go to the audit log."""

from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver

from gongzhi.core.crypto import mask_phone
from gongzhi.core.models import AuditEvent
from gongzhi.core.services import audit_record
from gongzhi.core.validators import normalize_mobile


@receiver(user_logged_in)
def audit_sign_in(sender, request, user, **kwargs):
    audit_record(actor=user, action=AuditEvent.Action.SIGN_IN, target=user, request=request)


@receiver(user_logged_out)
def audit_sign_out(sender, request, user, **kwargs):
    if user is not None:
        audit_record(actor=user, action=AuditEvent.Action.SIGN_OUT, target=user, request=request)


@receiver(user_login_failed)
def audit_failed_sign_in(sender, credentials, request=None, **kwargs):
    # Record the masked number only: a failed attempt is not proof the number belongs to anyone.
    attempted = mask_phone(normalize_mobile(str(credentials.get("username", ""))))
    audit_record(
        actor=None, action=AuditEvent.Action.SIGN_IN_FAILED, request=request, detail={"mobile": attempted}
    )
