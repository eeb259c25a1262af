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


async def sign_in(page: Any, base: str, name: str, path: str = "/console") -> None:
    """Open `path` and sign in there as `name` with the password every test person has."""
    from tests.factories import PASSWORD

    await page.goto(base + path)
    await page.get_by_label("Name").fill(name)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()


class PageCheck:
    """Looks at a page as it stands, at its own width or at each of `widths`: no sideways
    scroll (fails at once), what axe-core finds serious (collected in `violations`, for one
    assertion at the end), and a full-page screenshot kept as `{prefix}{name}[-phone].png`."""

    def __init__(self, artifacts: Path, prefix: str = "console-") -> None:
        self.artifacts = artifacts
        self.prefix = prefix
        self.violations: dict[str, list[str]] = {}

    async def __call__(self, page: Any, name: str, widths: tuple[int, ...] = ()) -> None:
        original = page.viewport_size
        for width in widths or (original["width"],):
            if widths:
                await page.set_viewport_size({"width": width, "height": 844})
            scroll = await page.evaluate("document.documentElement.scrollWidth")
            assert scroll <= width, f"{page.url} is {scroll} px wide at {width} px"
            found = await serious_violations(page)
            if found:
                self.violations[f"{name} at {width} px"] = found
            suffix = "-phone" if widths and width <= 480 else ""
            path = self.artifacts / f"{self.prefix}{name}{suffix}.png"
            await page.screenshot(path=str(path), full_page=True)
        if widths:
            await page.set_viewport_size(original)
