"""Notifications: an in-app inbox plus channels (email, SMS), always sent after the transaction commits so
that nobody is told about something that was rolled back."""

from collections.abc import Iterable
from enum import StrEnum

from django.core.mail import send_mail
from django.db import connection, transaction
from django.db.models import QuerySet

from gongzhi.core import versioned
from gongzhi.core.models import Notification, User
from gongzhi.core.sms import sms_send


class Channel(StrEnum):
    IN_APP = "in_app"
    EMAIL = "email"
    SMS = "sms"


def notify(
    *,
    users: Iterable[User],
    title: str,
    body: str = "",
    url: str = "",
    channels: Iterable[Channel] = (Channel.IN_APP,),
) -> None:
    """Queues a message for each user on each channel once the surrounding transaction commits."""
    recipients = list(users)
    channels = set(channels)

    def deliver():
        if Channel.IN_APP in channels:
            Notification.objects.bulk_create(
                [Notification(user=user, title=title, body=body, url=url) for user in recipients]
            )
        for user in recipients:
            if Channel.SMS in channels:
                sms_send(mobile=user.mobile, text=f"{title} {body}".strip())
            if Channel.EMAIL in channels and user.email:
                send_mail(title, body, None, [user.email])

    transaction.on_commit(deliver)


def notifications_for(user: User) -> QuerySet[Notification]:
    return Notification.objects.filter(user=user)


def unread_count(user: User) -> int:
    """Shown in every page's header: cached under the user's inbox_version, which the database raises with
    every change to their notifications. Plain SQL: the ORM took longer to build this query than the
    database took to answer it."""

    def count() -> int:
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT COUNT(*) FROM {Notification._meta.db_table} WHERE user_id = %s AND read_at IS NULL",
                [user.pk],
            )
            return cursor.fetchone()[0]

    return versioned.for_user(user, "unread", "inbox_version", count)
