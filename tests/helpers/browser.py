"""Debian's Chromium for browser tests (never a downloaded browser), kept off the network."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
#: npm's axe-core, installed by `make axe` (a dependency of `make test`).
AXE = ROOT / "var" / "axe" / "node_modules" / "axe-core" / "axe.min.js"
HAVE_CHROMIUM = Path(CHROMIUM).exists()
ARGS = [
    "--disable-gpu",
    "--no-sandbox",
    "--no-first-run",
    # Nothing but loopback is reachable: keep Chromium from calling home.
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


async def launch(playwright: Any) -> Any:
    return await playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)


async def serious_violations(page: Any) -> list[str]:
    """What axe-core finds serious or critical on the page as it is now, one line each (rule,
    what it asks, where); the page must have loaded. Fails when axe-core is not installed:
    `make axe` installs it."""
    assert AXE.exists(), f"{AXE} is missing: run `make axe`"
    await page.add_script_tag(path=str(AXE))
    result = await page.evaluate("axe.run(document, {resultTypes: ['violations']})")
    return [
        f"{v['id']} ({v['impact']}): {v['help']}: "
        + ", ".join(str(n["target"]) for n in v["nodes"][:5])
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]
