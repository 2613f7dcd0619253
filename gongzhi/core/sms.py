"""The SMS adapter. A deployment points SMS_BACKEND at a class with `send(mobile, text)` for its carrier;
the default writes each message to the log so that development and tests can read what was sent."""

import logging

from django.conf import settings
from django.utils.module_loading import import_string

logger = logging.getLogger("gongzhi.sms")


class LogSmsBackend:
    def send(self, mobile: str, text: str) -> None:
        logger.info("SMS to %s: %s", mobile, text)


def sms_send(*, mobile: str, text: str) -> None:
    import_string(settings.SMS_BACKEND)().send(mobile, text)
