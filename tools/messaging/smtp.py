"""Sending email over SMTP (`SMTP_*` settings), with the answer turned into a send result:
a refused recipient fails at once, a busy or unreachable server is tried again."""

from __future__ import annotations

from email.message import EmailMessage

import aiosmtplib

from knowledge.settings import Settings
from tools.messaging.channels import SendResult
from tools.messaging.email import provider_id


class SmtpTransport:
    def __init__(self, settings: Settings, timeout: float = 20.0) -> None:
        assert settings.smtp_host
        self.settings = settings
        self.timeout = timeout

    async def send(self, email: EmailMessage) -> SendResult:
        s = self.settings
        try:
            await aiosmtplib.send(
                email,
                hostname=s.smtp_host,
                port=s.smtp_port,
                username=s.smtp_username,
                password=s.smtp_password,
                start_tls=s.smtp_starttls,
                timeout=self.timeout,
            )
        except aiosmtplib.SMTPRecipientsRefused as exc:
            codes = [error.code for error in exc.recipients]
            return SendResult(
                error_code=str(codes[0] if codes else 550),
                retry=any(400 <= code < 500 for code in codes),
            )
        except aiosmtplib.SMTPResponseException as exc:
            return SendResult(error_code=str(exc.code), retry=400 <= exc.code < 500)
        except (aiosmtplib.SMTPException, OSError, TimeoutError):
            return SendResult(error_code="smtp_unreachable", retry=True)
        return SendResult(sid=provider_id(str(email["Message-ID"])), status="sent")
