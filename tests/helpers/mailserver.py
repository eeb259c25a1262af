"""Real mail servers on loopback for the email tests: Debian's dovecot as the shop's IMAP
mailbox (a private instance with its own configuration, plain text on 127.0.0.1 only) and
aiosmtpd as the SMTP server replies go out through."""

from __future__ import annotations

import imaplib
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller

from tests.helpers.service import free_port

USER, PASSWORD = "shop", "mailbox-secret"
SHOP = "hello@myhibachi.example"

_CONFIG = """
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
first_valid_uid = 1
base_dir = {dir}/run
state_dir = {dir}/state
log_path = {dir}/dovecot.log
mail_location = maildir:{dir}/mail/%u
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {dir}/users
}}
userdb {{
  driver = static
  args = uid=mail gid=mail home={dir}/mail/%u
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service stats {{
  unix_listener stats-reader {{
    mode = 0666
  }}
  unix_listener stats-writer {{
    mode = 0666
  }}
}}
"""


def dovecot() -> str | None:
    """Dovecot's binary, installed from Debian's packages when missing (as root)."""
    found = shutil.which("dovecot") or (
        "/usr/sbin/dovecot" if Path("/usr/sbin/dovecot").exists() else None
    )
    if found is None and os.geteuid() == 0 and shutil.which("apt-get"):
        subprocess.run(
            "apt-get update -qq && apt-get install -y -qq dovecot-imapd",
            shell=True,
            check=False,
            capture_output=True,
            timeout=600,
        )
        found = shutil.which("dovecot") or (
            "/usr/sbin/dovecot" if Path("/usr/sbin/dovecot").exists() else None
        )
    return found


@dataclass
class ImapServer:
    directory: Path
    port: int
    binary: str

    @property
    def url(self) -> str:
        return f"imap://{USER}:{PASSWORD}@127.0.0.1:{self.port}/INBOX"

    def start(self) -> None:
        (self.directory / "run").mkdir(parents=True)
        self.directory.chmod(0o755)
        (self.directory / "state").mkdir()
        (self.directory / "mail").mkdir()
        (self.directory / "users").write_text(f"{USER}:{{PLAIN}}{PASSWORD}\n")
        config = self.directory / "dovecot.conf"
        config.write_text(_CONFIG.format(dir=self.directory, port=self.port))
        shutil.chown(self.directory / "mail", "mail", "mail")
        subprocess.run([self.binary, "-c", str(config)], check=True, timeout=30)
        for _ in range(100):
            try:
                with imaplib.IMAP4("127.0.0.1", self.port) as probe:
                    probe.login(USER, PASSWORD)
                    probe.logout()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"dovecot did not start: {self.log()}")

    def stop(self) -> None:
        config = self.directory / "dovecot.conf"
        subprocess.run([self.binary, "-c", str(config), "stop"], check=False, timeout=30)

    def log(self) -> str:
        path = self.directory / "dovecot.log"
        return path.read_text()[-2000:] if path.exists() else ""

    def deliver(self, email: EmailMessage | bytes) -> None:
        """Put an email in the shop's inbox, unseen, as a mail server would."""
        raw = email if isinstance(email, bytes) else email.as_bytes()
        with imaplib.IMAP4("127.0.0.1", self.port) as imap:
            imap.login(USER, PASSWORD)
            imap.append("INBOX", None, imaplib.Time2Internaldate(time.time()), raw)
            imap.logout()

    def mark_all_seen(self) -> None:
        with imaplib.IMAP4("127.0.0.1", self.port) as imap:
            imap.login(USER, PASSWORD)
            _, (count, *_) = imap.select("INBOX")
            if count and int(count) > 0:
                imap.store("1:*", "+FLAGS", r"(\Seen)")
            imap.logout()

    def unseen(self) -> int:
        with imaplib.IMAP4("127.0.0.1", self.port) as imap:
            imap.login(USER, PASSWORD)
            imap.select("INBOX")
            _, found = imap.uid("search", None, "UNSEEN")
            imap.logout()
        return len(found[0].split()) if found and found[0] else 0


@dataclass
class SmtpSink:
    """Collects every email sent to it."""

    port: int = field(default_factory=free_port)
    received: list[EmailMessage] = field(default_factory=list)
    envelopes: list[tuple[str, list[str]]] = field(default_factory=list)
    controller: Any = None

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = BytesParser(policy=policy.default).parsebytes(envelope.content)
        assert isinstance(message, EmailMessage)
        self.received.append(message)
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return "250 OK"

    def start(self) -> None:
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()


def imap_server() -> Iterator[ImapServer]:
    """A private dovecot for the test module. Its folder is one dovecot's own users can enter
    (pytest's temporary folders are private to root)."""
    binary = dovecot()
    if binary is None:
        import pytest

        pytest.skip("dovecot is not installed and could not be installed here")
    directory = Path(tempfile.mkdtemp(prefix="hibachi-dovecot-"))
    directory.chmod(0o755)
    server = ImapServer(directory / "server", free_port(), binary)
    server.start()
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(directory, ignore_errors=True)
