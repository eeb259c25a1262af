"""Named crash points for fault-injection tests.

With `HIBACHI_CRASH_AT=<name>` in its environment, a process kills itself with SIGKILL (no
cleanup, no flush: like a power cut) the first time execution reaches `crash_point(<name>)`.
Without it, a crash point does nothing. The points in use:

- `inbound_stored`: a webhook's message is committed, the acknowledgement not yet sent
- `turn_decided`: a turn has decided, nothing of it committed
- `reply_sent`: Twilio (or the SMTP server) accepted a reply, the acceptance not yet recorded
- `email_stored`: an email from the mailbox is committed, not yet flagged seen there
"""

from __future__ import annotations

import os
import signal

CRASH_AT = os.environ.get("HIBACHI_CRASH_AT") or None


def crash_point(name: str) -> None:
    if name == CRASH_AT:
        os.kill(os.getpid(), signal.SIGKILL)
