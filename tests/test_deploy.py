"""Deployment files: the systemd units in `deploy/` pass `systemd-analyze verify`, the example
environment file names only real settings (and a copy left unedited is refused in production),
and every `hibachi` command that `docs/production.md` and the units run exists, with the
options they give it. Each check is also shown failing on a deliberate mistake."""

from __future__ import annotations

import inspect
import re
import shlex
import shutil
import subprocess
from collections.abc import Iterator
from importlib.metadata import entry_points
from pathlib import Path

import pytest
import typer
import typer.core
import typer.main
from pydantic import AliasChoices

from api.cli import COMMANDS_GROUP, app, load_commands
from knowledge.infra.settings import Settings, load_settings

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
GUIDE = ROOT / "docs" / "production.md"
ENV_EXAMPLE = DEPLOY / "hibachi.env.example"
README = ROOT / "README.md"
UNITS = (
    "hibachi.service",
    "hibachi-worker.service",
    "hibachi-backup.service",
    "hibachi-backup.timer",
)
# Where the units expect the install; the copies under test point at files that exist here.
INSTALLED_HIBACHI = "/opt/hibachi/.venv/bin/hibachi"
INSTALLED_ENV = "/etc/hibachi/hibachi.env"
SYSTEMD_ANALYZE = shutil.which("systemd-analyze")
needs_systemd_analyze = pytest.mark.skipif(
    SYSTEMD_ANALYZE is None,
    reason="systemd-analyze is not installed (Debian: apt-get install systemd)",
)

# --- systemd units ---------------------------------------------------------------------------


def installed_copies(tmp_path: Path) -> Path:
    """The units, with their hibachi binary replaced by an executable stand-in and their
    environment file by a copy of the example, as systemd would find them once installed."""
    stand_in = tmp_path / "hibachi"
    stand_in.write_text("#!/bin/sh\nexit 0\n")
    stand_in.chmod(0o755)
    env_file = tmp_path / "hibachi.env"
    shutil.copyfile(ENV_EXAMPLE, env_file)
    for name in UNITS:
        text = (DEPLOY / name).read_text()
        text = text.replace(INSTALLED_HIBACHI, str(stand_in)).replace(INSTALLED_ENV, str(env_file))
        (tmp_path / name).write_text(text)
    return tmp_path


def verify(unit: Path) -> list[str]:
    """What `systemd-analyze verify` says is wrong with `unit`: its exit status, and every line
    it prints about our files (lines about the host's own units are not ours to judge)."""
    assert SYSTEMD_ANALYZE is not None
    done = subprocess.run(
        [SYSTEMD_ANALYZE, "verify", str(unit)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    ours = (*UNITS, str(unit.parent))
    said = [
        line
        for line in (done.stderr + done.stdout).splitlines()
        if any(name in line for name in ours)
    ]
    return ([f"exit status {done.returncode}"] if done.returncode else []) + said


@needs_systemd_analyze
class TestUnits:
    @pytest.mark.parametrize("name", UNITS)
    def test_each_unit_verifies_clean(self, name: str, tmp_path: Path) -> None:
        """`systemd-analyze verify` exits 0 and prints nothing about the unit: every directive
        is known and well-formed, and every command it runs is executable."""
        folder = installed_copies(tmp_path)
        assert verify(folder / name) == []

    def test_a_misspelled_directive_is_caught(self, tmp_path: Path) -> None:
        """The check above has teeth: `Restartt=` (ignored by systemd with a warning, exit 0)
        and a bad value for a known directive are both reported."""
        folder = installed_copies(tmp_path)
        unit = folder / "hibachi.service"
        text = unit.read_text()
        unit.write_text(text.replace("\nRestart=", "\nRestartt=", 1))
        assert any("Restartt" in line for line in verify(unit))
        unit.write_text(text.replace("KillMode=mixed", "KillMode=mixd", 1))
        assert any("mixd" in line for line in verify(unit))

    def test_a_missing_binary_is_caught(self) -> None:
        """The copies must replace the install path: the unit as shipped names a binary that
        does not exist on this machine, and verify says so."""
        if Path(INSTALLED_HIBACHI).exists():
            pytest.skip(f"{INSTALLED_HIBACHI} exists here")
        assert any("not executable" in line for line in verify(DEPLOY / "hibachi.service"))


def directives(name: str) -> dict[str, list[str]]:
    """A unit file's directives (every value of each), comments left out."""
    found: dict[str, list[str]] = {}
    for line in (DEPLOY / name).read_text().splitlines():
        if "=" in line and not line.lstrip().startswith(("#", ";", "[")):
            key, value = line.split("=", 1)
            found.setdefault(key.strip(), []).append(value.strip())
    return found


class TestUnitContents:
    def test_the_timer_starts_the_backup_daily_and_catches_up(self) -> None:
        """The timer names the backup service shipped beside it (verify does not check that),
        fires daily, and runs a missed backup at the next boot."""
        timer = directives("hibachi-backup.timer")
        assert timer["Unit"] == ["hibachi-backup.service"]
        assert "hibachi-backup.service" in UNITS
        assert timer["Persistent"] == ["true"]
        assert timer["OnCalendar"] == ["*-*-* 03:30:00"]
        assert directives("hibachi-backup.service")["Type"] == ["oneshot"]

    def test_the_service_outlasts_its_workers_drain(self) -> None:
        """systemd waits longer than the service's grace for open requests plus the 30 s it
        gives its workers to stop (api.workers.WorkerProcesses.stop), signals the service
        alone, and counts its exit status 143 after a SIGTERM as a clean stop."""
        from api.workers import WorkerProcesses
        from knowledge.infra.settings import Settings

        grace = inspect.signature(WorkerProcesses.stop).parameters["grace"].default
        assert grace == 30.0
        requests = Settings.model_fields["shutdown_grace_seconds"].default
        service = directives("hibachi.service")
        assert int(service["TimeoutStopSec"][0]) > requests + grace
        assert service["KillMode"] == ["mixed"]
        assert service["SuccessExitStatus"] == ["143"]

    @pytest.mark.parametrize("name", [n for n in UNITS if n.endswith(".service")])
    def test_every_service_runs_as_hibachi_with_the_environment_file(self, name: str) -> None:
        """Each service runs as the unprivileged `hibachi` user from the install, reads the
        one environment file, and runs with the file system read-only."""
        service = directives(name)
        assert service["User"] == ["hibachi"]
        assert service["WorkingDirectory"] == ["/opt/hibachi"]
        assert service["EnvironmentFile"] == [INSTALLED_ENV]
        assert service["ProtectSystem"] == ["strict"]
        assert service["NoNewPrivileges"] == ["yes"]
        assert service["PrivateTmp"] == ["yes"]


# --- the environment file ----------------------------------------------------------------

#: A variable name: upper case with at least one underscore (DATABASE_URL, HIBACHI_ENV).
VARIABLE = re.compile(r"\b[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+\b")
#: NAME=value, active or commented out (`#NAME=value`).
ASSIGNMENT = re.compile(r"^(?P<off>#?)(?P<name>[A-Za-z_][A-Za-z0-9_]*)=(?P<value>.*)$")


def setting_names() -> dict[str, str]:
    """Every environment name `Settings` reads, mapped to its field: a field's alias choices
    (DATABASE_URL and HIBACHI_DATABASE_URL), else the prefix and the field's name."""
    prefix = str(Settings.model_config.get("env_prefix") or "")
    names: dict[str, str] = {}
    for field, info in Settings.model_fields.items():
        alias = info.validation_alias
        if isinstance(alias, AliasChoices):
            choices = [choice for choice in alias.choices if isinstance(choice, str)]
        elif isinstance(alias, str):
            choices = [alias]
        else:
            choices = [prefix + field]
        names.update({choice.upper(): field for choice in choices})
    return names


def unknown_variables(text: str) -> set[str]:
    """Variable names in `text` (assignments and comments alike) that no setting reads."""
    return set(VARIABLE.findall(text)) - set(setting_names())


def assignments(text: str, *, commented: bool) -> Iterator[tuple[str, str]]:
    """(name, value) of each active assignment, and of the commented-out ones if asked."""
    for line in text.splitlines():
        found = ASSIGNMENT.match(line.strip())
        if found and (commented or not found["off"]):
            yield found["name"], found["value"].strip()


class TestEnvironmentExample:
    def test_every_variable_named_is_a_setting(self) -> None:
        """Every upper-case variable name in the example, set, commented out or mentioned, is
        one the settings read (so a misspelled name cannot sit there silently unused)."""
        text = ENV_EXAMPLE.read_text()
        assert len(VARIABLE.findall(text)) >= 20
        assert unknown_variables(text) == set()

    def test_a_misspelled_variable_is_caught(self) -> None:
        """The check above has teeth: a misspelled name is reported, a real one is not."""
        assert unknown_variables("DATABASE_ULR=x\nHIBACHI_DATABASE_URL=y\n") == {"DATABASE_ULR"}

    def test_every_line_is_a_comment_or_an_assignment(self) -> None:
        """systemd ignores a line without `=`; here there is none by mistake, and no value
        carries `export` or shell syntax systemd would keep as text."""
        for line in ENV_EXAMPLE.read_text().splitlines():
            if line.strip() and not line.startswith("#"):
                assert ASSIGNMENT.match(line), line
                assert not line.startswith("export ") and "$" not in line, line

    def test_every_readme_setting_is_in_the_example(self) -> None:
        """Every variable of the README's configuration table is named in the example, so a
        deployment sees each one it may set."""
        readme = README.read_text()
        table = readme.split("## Configuration", 1)[1].split("\n## ", 1)[0]
        documented = {
            name
            for row in table.splitlines()
            if row.startswith("| `")
            for name in VARIABLE.findall(row.split("|")[1])
        }
        assert "DATABASE_URL" in documented and "HIBACHI_ENV" in documented
        assert documented - set(VARIABLE.findall(ENV_EXAMPLE.read_text())) == set()

    def test_every_value_is_accepted(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Every value in the example, the commented-out ones included, passes its setting's
        validation (numbers, booleans, a PostgreSQL URL)."""
        for name in setting_names():
            monkeypatch.delenv(name, raising=False)
        for name, value in assignments(ENV_EXAMPLE.read_text(), commented=True):
            monkeypatch.setenv(name, value)
        settings = load_settings()
        assert settings.env == "production" and settings.turns_in_workers

    def test_an_unedited_copy_is_refused_in_production(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A copy of the example with its `changeme` placeholders left in does not start:
        production_problems names each placeholder secret and nothing else."""
        for name in setting_names():
            monkeypatch.delenv(name, raising=False)
        for name, value in assignments(ENV_EXAMPLE.read_text(), commented=False):
            monkeypatch.setenv(name, value)
        settings = load_settings()
        assert settings.env == "production"
        named = {problem.split(":", 1)[0] for problem in settings.production_problems()}
        assert named == {"TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "SMTP_PASSWORD"}


# --- `hibachi` commands in the guide and the units -------------------------------------------

#: A fenced code block of the guide (indented too, inside a list item).
FENCE = re.compile(r"^[ \t]*```[^\n]*\n(.*?)^[ \t]*```", re.MULTILINE | re.DOTALL)
#: Inline code that starts with the command: `hibachi migrate`.
INLINE = re.compile(r"`(hibachi [^`\n]+)`")
#: The command inside a code line: after a space, a slash (…/bin/hibachi) or the line's start.
IN_CODE = re.compile(r"(?<![\w.@:=-])hibachi (?=[a-z])")
#: A value standing for one the reader fills in: N, FILE, URL.
PLACEHOLDER = re.compile(r"[A-Z][A-Z_]*")
#: Where a command ends on a shell line.
SHELL_END = re.compile(r"\s(?:\|\|?|;|&&|>|2>)\s|[)`]")


def invocations_in_guide(text: str) -> list[str]:
    """Every `hibachi …` invocation the guide shows, in code blocks and inline code."""
    found: list[str] = INLINE.findall(text)
    for block in FENCE.findall(text):
        for line in re.sub(r"\s*\\\n\s*", " ", block).splitlines():
            for match in IN_CODE.finditer(line):
                found.append(SHELL_END.split(line[match.start() :], maxsplit=1)[0])
    return found


def invocations_in_units() -> list[str]:
    """The `hibachi …` command line each unit runs (through `sh -c` too), with systemd's
    `$$` and `%%` escapes undone."""
    found = []
    for name in UNITS:
        for key, values in directives(name).items():
            if not key.startswith("Exec"):
                continue
            for value in values:
                words = shlex.split(value.replace("$$", "$").replace("%%", "%"))
                if words[:2] == ["/bin/sh", "-c"]:
                    words = shlex.split(words[2])
                for i, word in enumerate(words):
                    if word == INSTALLED_HIBACHI:
                        found.append(shlex.join(["hibachi", *words[i + 1 :]]))
    return found


def given(option: list[str], args: list[str]) -> str | None:
    """The value `args` give the option named by any of `option` (`--workers 2`, `--workers=2`)."""
    for i, word in enumerate(args):
        for name in option:
            if word == name and i + 1 < len(args):
                return args[i + 1]
            if word.startswith(name + "="):
                return word.split("=", 1)[1]
    return None


def command_problems(invocation: str) -> list[str]:
    """Why `invocation` would not run: an unknown command or subcommand, an unknown option, a
    missing or extra argument, or a value its option refuses. An option's value written as a
    placeholder (`--workers N`) passes."""
    words = shlex.split(invocation, comments=True)
    assert words[0] == "hibachi", invocation
    if len(words) > 1 and words[1] in {entry.name for entry in entry_points(group=COMMANDS_GROUP)}:
        load_commands()  # `eval` comes from the evaluation harness's entry point
    command = typer.main.get_command(app)
    path, args = ["hibachi"], words[1:]
    while isinstance(command, typer.core.TyperGroup) and args and not args[0].startswith("-"):
        sub = command.commands.get(args[0])
        if sub is None:
            return [f"`{' '.join(path)} {args[0]}`: no such command"]
        path.append(args.pop(0))
        command = sub
    if not args:  # a command named in passing (`hibachi backup` uses pg_dump)
        return []
    if isinstance(command, typer.core.TyperGroup):
        return [f"`{invocation}`: a group takes a command, not {args[0]}"]
    try:
        command.make_context(" ".join(path), list(args))  # click consumes the list it parses
    except typer.BadParameter as exc:
        # Only the exact class is a refused value; MissingParameter is a subclass.
        value = given(exc.param.opts, args) if exc.param is not None else None
        if type(exc) is typer.BadParameter and value and PLACEHOLDER.fullmatch(value):
            return []
        return [f"`{invocation}`: {exc}"]
    except Exception as exc:  # a usage error: unknown option, missing or extra argument
        return [f"`{invocation}`: {exc}"]
    return []


class TestCommands:
    def test_the_guide_names_the_commands_it_is_about(self) -> None:
        """The extraction finds the guide's commands (so the next test is not vacuous)."""
        shown = [shlex.split(i, comments=True)[1:] for i in invocations_in_guide(GUIDE.read_text())]
        for expected in (
            ["serve", "--workers"],
            ["serve", "--no-worker"],
            ["worker", "--nice"],
            ["migrate", "--seed"],
            ["users", "add"],
            ["db", "downgrade"],
            ["reader", "train"],
            ["backup", "FILE"],
            ["restore"],
        ):
            assert any(words[: len(expected)] == expected for words in shown), expected

    def test_every_command_in_the_guide_exists(self) -> None:
        """Each `hibachi` command the guide shows is a real command or subcommand, with only
        options it has and the arguments it takes."""
        problems = [p for i in invocations_in_guide(GUIDE.read_text()) for p in command_problems(i)]
        assert problems == []

    def test_every_command_in_the_units_exists(self) -> None:
        """The units run `serve`, `worker` and `backup` with options those commands have."""
        found = invocations_in_units()
        assert [i.split()[1] for i in found] == ["serve", "worker", "backup"]
        assert [p for i in found for p in command_problems(i)] == []

    @pytest.mark.parametrize(
        "invocation",
        [
            "hibachi migrat",
            "hibachi users ad NAME --role admin",
            "hibachi serve --wokers 2",
            "hibachi serve --workers two",
            "hibachi users add NAME --role admn",
            "hibachi worker --nicee 10",
            "hibachi restore FILE --to URL",
            "hibachi backup FILE OTHER",
            "hibachi restore --into URL",
        ],
    )
    def test_a_wrong_command_is_caught(self, invocation: str) -> None:
        """The checks above have teeth: a misspelled command, subcommand or option, or a
        missing argument, is reported."""
        assert command_problems(invocation) != []

    def test_a_placeholder_value_passes(self) -> None:
        """`--workers N` and `hibachi backup FILE` are how the guide writes a value to fill in."""
        assert command_problems("hibachi serve --workers N") == []
        assert command_problems("hibachi restore FILE --into URL") == []

    def test_inline_and_block_commands_are_both_read(self) -> None:
        """Commands are read from inline code and from code blocks, continuation lines joined
        and comments dropped, and not from prose or from paths and user names."""
        text = (
            "Running hibachi on a box: `hibachi migrate --seed`.\n\n"
            "```sh\nsudo /opt/hibachi/.venv/bin/hibachi reader train    # once\n"
            "hibachi restore FILE \\\n    --into URL | tee log\n"
            "useradd --system hibachi\nchown hibachi:hibachi /var/backups/hibachi\n```\n"
        )
        assert invocations_in_guide(text) == [
            "hibachi migrate --seed",
            "hibachi reader train    # once",
            "hibachi restore FILE --into URL",
        ]
