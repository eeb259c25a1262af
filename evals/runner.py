"""Replay a scenario against the real graph, database and scheduler with a controlled clock.

Each scenario runs inside one transaction on its own connection that is rolled back at the
end, so every scenario starts from the same migrated and seeded database. Inside it the code
under test commits as usual (savepoints), the scheduler claims touchpoints as usual, and the
clock only moves when a step says `advance`.
"""

from __future__ import annotations

import datetime as dt
import re
import tempfile
import time
from collections.abc import Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker

from agent.runtime import AgentRuntime, TurnResult
from api.assembly import build_core
from evals.schema import ACTIONS, BookingSpec, Expect, Scenario, Step, parse_duration
from knowledge import repository
from knowledge.db import Database, unit_of_work
from knowledge.infra.clock import FrozenClock
from knowledge.infra.settings import Settings
from knowledge.models import (
    ApiUser,
    AutomatedReminder,
    Booking,
    Conversation,
    Escalation,
    Lead,
    Message,
    TeamAlert,
)
from knowledge.models.conversations import REMINDER_KINDS
from knowledge.schemas import RULE_FIELD_OWNER, validate_rule_value
from knowledge.users import create_user
from scheduler import flows, planner
from scheduler import repository as reminders
from scheduler.worker import Worker
from tools import bookings
from tools import escalations as cases
from tools.bookings import create as booking_records
from tools.bookings.schemas import BookingCreate, CustomerIn
from tools.messaging import webchat

AGENT_NAME = "Agent"  # the person acting in `agent:` steps (each scenario is rolled back)
ALERT_NOTICES = {"sms": "team_sms", "email": "management_email"}
PRIORITY_RANK = {"LOW": 0, "MEDIUM": 1, "HIGH": 2, "URGENT": 3}
SET_FIELDS = ("proteins", "upgrades")


@dataclass(frozen=True)
class Failure:
    field: str
    expected: Any
    actual: Any


@dataclass
class StepResult:
    index: int
    action: str  # say | burst | advance | event | agent
    failures: list[Failure] = field(default_factory=list)
    outcome: str | None = None
    intent: str | None = None
    tone: str | None = None
    priority: str | None = None
    reply: str = ""
    replies: int = 0
    sent: list[str] = field(default_factory=list)
    latency_ms: float | None = None  # customer turns only
    expect: Expect = field(default_factory=Expect)

    @property
    def passed(self) -> bool:
        return not self.failures


@dataclass
class ScenarioResult:
    name: str
    file: str
    total_steps: int = 0
    steps: list[StepResult] = field(default_factory=list)
    error: Failure | None = None  # the scenario could not be set up or run to the end

    @property
    def passed(self) -> bool:
        return self.error is None and all(step.passed for step in self.steps)

    @property
    def first_failure(self) -> tuple[int | None, Failure] | None:
        for step in self.steps:
            if step.failures:
                return step.index, step.failures[0]
        return (None, self.error) if self.error else None


@dataclass
class _Marks:
    """Where the rows stood before a step, to see what the step added."""

    message: int
    escalation: int
    alert: int


@dataclass
class _Run:
    scenario: Scenario
    sessionmaker: async_sessionmaker[AsyncSession]
    clock: FrozenClock
    runtime: AgentRuntime
    worker: Worker
    customer_id: int
    phone: str
    channel: str
    agent_user_id: int
    booking_id: int | None = None
    #: An anonymous web visitor: the chat API, their chat token and their visitor row.
    web: httpx.AsyncClient | None = None
    web_headers: dict[str, str] = field(default_factory=dict)
    visitor_id: int | None = None

    @property
    def customer_ids(self) -> list[int]:
        """Whose rows the scenario watches: the customer's, and a web visitor's."""
        return [self.customer_id] + ([self.visitor_id] if self.visitor_id else [])


class Harness:
    """Runs scenarios on one database (migrated and seeded) with one checkpointer."""

    def __init__(
        self,
        engine: AsyncEngine,
        checkpointer: Any,
        *,
        llm: Any = None,
        llm_timeout: float = 8.0,
    ) -> None:
        self.engine = engine
        self.checkpointer = checkpointer
        self.llm = llm
        # Every reply simulated whatever the environment configures, knowledge cached for the
        # scenario (its edits invalidate the cache themselves).
        self.settings = Settings(
            env="test",
            run_worker=False,
            twilio_account_sid=None,
            twilio_auth_token=None,
            smtp_host=None,
            knowledge_cache_ttl_seconds=3600,
            llm_timeout_seconds=llm_timeout,
        )

    async def run(self, scenario: Scenario, file: Path | str) -> ScenarioResult:
        result = ScenarioResult(name=scenario.name, file=str(file), total_steps=len(scenario.steps))
        async with self.engine.connect() as connection:
            outer = await connection.begin()
            try:
                await self._run(scenario, connection, result)
            finally:
                await outer.rollback()
        return result

    async def _run(
        self, scenario: Scenario, connection: AsyncConnection, result: ScenarioResult
    ) -> None:
        sessionmaker = async_sessionmaker(
            bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
        )
        clock = FrozenClock(scenario.now)
        core = build_core(self.settings, sessionmaker, clock, self.checkpointer, llm=self.llm)
        runtime, worker = core.runtime, core.worker
        try:
            run = await _arrange(scenario, sessionmaker, clock, runtime, worker)
        except _SetupError as exc:
            result.error = exc.failure
            return
        async with AsyncExitStack() as stack:
            if scenario.customer.anonymous:
                await _open_web_chat(run, stack, self.engine)
            await self._steps(run, scenario, result)

    async def _steps(self, run: _Run, scenario: Scenario, result: ScenarioResult) -> None:
        for index, step in enumerate(scenario.steps):
            try:
                step_result = await _perform(run, index, step)
            except Exception as exc:  # a crash in the code under test fails this scenario only
                result.steps.append(
                    StepResult(
                        index=index,
                        action=_action(step),
                        failures=[Failure("error", "the step to run", _describe(exc))],
                        expect=step.expect,
                    )
                )
                return
            result.steps.append(step_result)


async def _open_web_chat(run: _Run, stack: AsyncExitStack, engine: AsyncEngine) -> None:
    """The chat API in-process on the scenario's transaction, and a visitor's chat session."""
    from api.app import create_app

    folder = stack.enter_context(tempfile.TemporaryDirectory())
    settings = Settings(env="test", data_dir=Path(folder), run_worker=False)
    database = Database(
        url=engine.url.render_as_string(hide_password=False),
        engine=engine,
        sessionmaker=run.sessionmaker,
    )
    app = create_app(
        settings,
        database=database,
        clock=run.clock,
        knowledge_service=run.runtime.knowledge,
        runtime=run.runtime,
    )
    await stack.enter_async_context(app.router.lifespan_context(app))
    client = await stack.enter_async_context(
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://chat")
    )
    started = await client.post("/api/v1/chat/sessions")
    token = started.json()["token"]
    run.web, run.web_headers = client, {"X-Chat-Token": token}
    async with run.sessionmaker() as session:
        web = await webchat.session_for_token(session, token)
        assert web is not None
        run.visitor_id = web.visitor_id


async def _web_say(run: _Run, text: str) -> None:
    assert run.web is not None
    response = await run.web.post(
        "/api/v1/chat/messages", json={"text": text}, headers=run.web_headers
    )
    if response.status_code != 200:
        raise RuntimeError(f"the chat API answered {response.status_code}: {response.text[:200]}")


async def _texted_code(run: _Run) -> str:
    async with run.sessionmaker() as session:
        body = await session.scalar(
            select(Message.body)
            .where(Message.kind == "verification_code")
            .order_by(Message.id.desc())
            .limit(1)
        )
    found = re.search(r"\b(\d{6})\b", body or "")
    if found is None:
        raise LookupError("no code was texted")
    return found.group(1)


class _SetupError(Exception):
    def __init__(self, failure: Failure) -> None:
        super().__init__(failure.actual)
        self.failure = failure


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:500]


def _action(step: Step) -> str:
    for name in ACTIONS:
        if getattr(step, name) is not None:
            return name
    return "say"


# ---- arranging the world before the first step ---------------------------------------------


async def _arrange(
    scenario: Scenario,
    sessionmaker: async_sessionmaker[AsyncSession],
    clock: FrozenClock,
    runtime: AgentRuntime,
    worker: Worker,
) -> _Run:
    now = clock.now()
    spec = scenario.customer
    async with unit_of_work(sessionmaker) as session:
        await _apply_knowledge(session, scenario)
        customer = await bookings.get_or_create_customer(
            session, spec.phone, name=spec.name, channel=spec.channel
        )
        await bookings.get_or_create_conversation(session, customer.id, spec.channel)
        for n in range(spec.past_bookings):
            held = now - timedelta(days=120 * (n + 1))
            session.add(
                _booking_row(
                    customer.id,
                    BookingSpec(event_at=held, status="completed", proteins=["chicken", "steak"]),
                    created_at=held - timedelta(days=30),
                    deposit=Decimal("100"),
                )
            )
        agent_user, _token = await create_user(session, AGENT_NAME, "agent")
        run = _Run(
            scenario=scenario,
            sessionmaker=sessionmaker,
            clock=clock,
            runtime=runtime,
            worker=worker,
            customer_id=customer.id,
            phone=customer.phone or spec.phone,
            channel=spec.channel,
            agent_user_id=agent_user.id,
        )
        await _take_slots(session, scenario.taken)
        for other in scenario.more_bookings:
            session.add(
                _booking_row(
                    customer.id,
                    other,
                    created_at=other.created_at or now - timedelta(days=30),
                    deposit=Decimal("100"),
                )
            )
        if scenario.booking is not None and not scenario.booked_in_a_step:
            rules = (await runtime.knowledge.charter(session)).rules
            booking = _booking_row(
                customer.id,
                scenario.booking,
                created_at=scenario.booking.created_at or now - timedelta(days=30),
                deposit=rules.deposit.deposit_amount,
            )
            session.add(booking)
            await session.flush()
            run.booking_id = booking.id
            await _plan_existing(session, booking, now, rules)
    return run


async def _take_slots(session: AsyncSession, starts: Sequence[datetime]) -> None:
    """Other customers' parties at the given starts, so those slots are taken."""
    for n, start in enumerate(starts):
        other = await bookings.get_or_create_customer(
            session, f"+1916555{9000 + n:04d}", name=f"Other party {n + 1}", channel="sms"
        )
        spec = BookingSpec(event_at=start, proteins=["chicken", "steak"])
        session.add(
            _booking_row(
                other.id, spec, created_at=start - timedelta(days=30), deposit=Decimal("100")
            )
        )
    await session.flush()


async def _apply_knowledge(session: AsyncSession, scenario: Scenario) -> None:
    """The scenario's overrides of add-on prices and rule values (rolled back afterwards)."""
    for slug, price in scenario.knowledge.addon_prices.items():
        addon = await repository.addon_by_slug(session, slug)
        if addon is None:
            raise _SetupError(
                Failure(f"knowledge.addon_prices.{slug}", "a known add-on slug", "no such add-on")
            )
        addon.price = Decimal(str(price))
    changed: dict[str, dict[str, Any]] = {}
    for name, value in scenario.knowledge.rules.items():
        owner = RULE_FIELD_OWNER.get(name)
        if owner is None:
            raise _SetupError(Failure(f"knowledge.rules.{name}", "a known rule value", "unknown"))
        changed.setdefault(owner, {})[name] = value
    for rule_type, values in changed.items():
        rule = await repository.rule_by_type(session, rule_type)
        if rule is None:
            raise _SetupError(Failure(f"knowledge.rules.{rule_type}", "a seeded rule", "missing"))
        try:
            rule.value = validate_rule_value(rule_type, {**rule.value, **values})
        except ValueError as exc:
            failure = Failure(f"knowledge.rules.{rule_type}", "a valid value", str(exc))
            raise _SetupError(failure) from None
    await session.flush()


def _booking_row(
    customer_id: int, spec: BookingSpec, *, created_at: datetime, deposit: Decimal
) -> Booking:
    return Booking(
        reference=spec.reference or booking_records.new_reference(),
        customer_id=customer_id,
        event_at=spec.event_at,
        address=spec.address,
        adults=spec.adults,
        kids=spec.kids,
        toddlers=spec.toddlers,
        proteins=list(spec.proteins),
        upgrades=list(spec.upgrades),
        menu_selected=bool(spec.proteins),
        deposit_amount=deposit,
        deposit_paid=spec.deposit_paid,
        status=spec.status,
        created_at=created_at,
    )


async def _plan_existing(
    session: AsyncSession, booking: Booking, now: datetime, rules: Any
) -> None:
    """A booking that exists before the scenario: its journey as planned when it was made, with
    the touchpoints already due counted as done and the later ones pending."""
    if booking.status == "cancelled":
        return
    planned = planner.plan(booking.event_at, booking.created_at, rules)
    await reminders.upsert_plan(session, booking.id, planned, booking.created_at)
    await session.flush()
    rows = await session.scalars(
        select(AutomatedReminder).where(
            AutomatedReminder.booking_id == booking.id,
            AutomatedReminder.status == "pending",
            AutomatedReminder.scheduled_at <= now,
        )
    )
    for row in rows:
        row.status, row.sent_at = "sent", row.scheduled_at
    await session.flush()


# ---- one step ------------------------------------------------------------------------------


async def _perform(run: _Run, index: int, step: Step) -> StepResult:
    marks = await _marks(run)
    result = StepResult(index=index, action=_action(step), expect=step.expect)
    turn: TurnResult | None = None
    if run.web is not None and (step.say is not None or step.code is not None):
        started = time.perf_counter()
        await _web_say(run, step.say if step.say is not None else await _texted_code(run))
        result.latency_ms = (time.perf_counter() - started) * 1000
        await run.worker.run_due()
    elif step.say is not None or step.burst is not None:
        started = time.perf_counter()
        if step.burst is not None:
            turn = await run.runtime.receive_burst(run.phone, step.burst, channel=run.channel)
        else:
            assert step.say is not None
            turn = await run.runtime.receive(run.phone, step.say, channel=run.channel)
        result.latency_ms = (time.perf_counter() - started) * 1000
        await run.worker.run_due()
    elif step.advance is not None:
        await run.worker.advance(run.clock, parse_duration(step.advance))
    elif step.event == "booking_created":
        await _create_booking(run)
        await run.worker.run_due()
    elif step.event == "chef_departed":
        if run.booking_id is None:
            raise LookupError("chef_departed needs the scenario's booking")
        await flows.announce_departure(run.runtime, run.booking_id, step.eta_minutes or 30)
        await run.worker.run_due()
    elif step.agent is not None:
        await _agent_action(run, step.agent, step.text)
        await run.worker.run_due()
    await _observe(run, marks, result, turn)
    result.failures = await _check(run, marks, step.expect, result)
    return result


async def _create_booking(run: _Run) -> None:
    spec = run.scenario.booking
    assert spec is not None  # the schema requires it for booking_created
    customer = run.scenario.customer
    async with unit_of_work(run.sessionmaker) as session:
        charter = await run.runtime.knowledge.charter(session)
        data = BookingCreate(
            customer=CustomerIn(
                name=spec.name or customer.name or "Dana Lee",
                phone=customer.phone,
                channel=customer.channel,
            ),
            event_at=spec.event_at,
            address=spec.address,
            adults=spec.adults,
            kids=spec.kids,
            toddlers=spec.toddlers,
            proteins=spec.proteins,
            upgrades=spec.upgrades,
        )
        booking, _created = await flows.create_booking(session, data, run.clock.now(), charter)
        run.booking_id = booking.id


async def _open_case(session: AsyncSession, customer_ids: Sequence[int]) -> Escalation:
    query = (
        select(Escalation)
        .where(Escalation.customer_id.in_(customer_ids), Escalation.status.in_(cases.OPEN))
        .order_by(Escalation.id.desc())
        .limit(1)
    )
    escalation = (await session.scalars(query)).first()
    if escalation is None:
        raise LookupError("there is no open escalation for this customer")
    return escalation


async def _agent_action(run: _Run, action: str, text: str | None) -> None:
    """A person on the customer's open escalation, as the console does it (a reply takes the
    case first if nobody holds it, and is signed with the person's name)."""
    async with unit_of_work(run.sessionmaker) as session:
        user = await session.get(ApiUser, run.agent_user_id)
        assert user is not None
        escalation = await _open_case(session, run.customer_ids)
        conversation_id = escalation.conversation_id
        if action in ("claim", "reply"):
            await cases.claim(session, escalation.id, user, run.clock.now())
        elif action == "release":
            await cases.release(session, escalation.id, user)
        elif action == "resolve":
            await cases.resolve(session, escalation.id, user, text, run.clock.now())
    if action == "reply":
        if conversation_id is None:
            raise LookupError("the open escalation has no conversation to reply on")
        await run.runtime.human_reply(conversation_id, user, text or "")


# ---- what happened, and whether it was expected ---------------------------------------------


async def _conversation_ids(session: AsyncSession, customer_ids: Sequence[int]) -> list[int]:
    query = select(Conversation.id).where(Conversation.customer_id.in_(customer_ids))
    return list((await session.scalars(query)).all())


async def _marks(run: _Run) -> _Marks:
    async with run.sessionmaker() as session:
        return _Marks(
            message=await session.scalar(select(func.coalesce(func.max(Message.id), 0))) or 0,
            escalation=await session.scalar(select(func.coalesce(func.max(Escalation.id), 0))) or 0,
            alert=await session.scalar(select(func.coalesce(func.max(TeamAlert.id), 0))) or 0,
        )


async def _observe(run: _Run, marks: _Marks, result: StepResult, turn: TurnResult | None) -> None:
    async with run.sessionmaker() as session:
        conversations = await _conversation_ids(session, run.customer_ids)
        outbound = (
            await session.scalars(
                select(Message)
                .where(
                    Message.conversation_id.in_(conversations),
                    Message.direction == "outbound",
                    Message.id > marks.message,
                )
                .order_by(Message.id)
            )
        ).all()
        # The cases the step opened, and those its message joined (one case per problem).
        joined = turn.escalation_ids if turn is not None else []
        opened = (
            await session.scalars(
                select(Escalation).where(
                    Escalation.customer_id.in_(run.customer_ids),
                    (Escalation.id > marks.escalation) | Escalation.id.in_(joined),
                )
            )
        ).all()
    # A verification code texted to the booking's phone is not a reply in the chat.
    replies = [m for m in outbound if m.kind != "verification_code"]
    result.reply = "\n".join(m.body for m in replies)
    result.replies = len(replies)
    result.sent = [m.kind for m in outbound if m.kind in REMINDER_KINDS]
    if opened:
        result.priority = max((e.priority for e in opened), key=PRIORITY_RANK.__getitem__)
    if turn is not None:
        result.outcome, result.intent, result.tone = turn.outcome, turn.intent, turn.tone
    else:
        result.outcome = "escalated" if opened else ("handled" if replies else "silent")
        # a web visitor's turn: what it understood is in its reply's decision trail
        trail = next((m.meta for m in replies if (m.meta or {}).get("intents")), None)
        if trail is not None:
            result.intent, result.tone = trail["intents"][0], trail.get("tone")


def _contains(haystack: str, needle: str) -> bool:
    return needle.casefold() in haystack.casefold()


def _same(expected: Any, actual: Any) -> bool:
    if isinstance(actual, datetime):
        try:
            wanted = (
                expected if isinstance(expected, datetime) else datetime.fromisoformat(expected)
            )
        except (TypeError, ValueError):
            return False
        return wanted == actual
    if isinstance(actual, Decimal):
        try:
            return Decimal(str(expected)) == actual
        except ArithmeticError:
            return False
    return bool(expected == actual)


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")
    return value


async def _check(run: _Run, marks: _Marks, expect: Expect, result: StepResult) -> list[Failure]:
    failures: list[Failure] = []
    for name in ("outcome", "intent", "tone", "priority"):
        wanted = getattr(expect, name)
        if wanted is not None and wanted != getattr(result, name):
            failures.append(Failure(name, wanted, getattr(result, name)))
    for needle in expect.reply_contains:
        if not _contains(result.reply, needle):
            failures.append(Failure("reply_contains", needle, result.reply))
    if expect.replies is not None and result.replies != expect.replies:
        failures.append(Failure("replies", expect.replies, result.replies))
    for needle in expect.reply_not_contains:
        if _contains(result.reply, needle):
            failures.append(Failure("reply_not_contains", needle, result.reply))
    if expect.reply_matches is not None and not re.search(
        expect.reply_matches, result.reply, re.IGNORECASE
    ):
        failures.append(Failure("reply_matches", expect.reply_matches, result.reply))
    if expect.sent is not None and list(expect.sent) != result.sent:
        failures.append(Failure("sent", list(expect.sent), result.sent))
    if expect.notified is not None or expect.escalations_open is not None or expect.booking:
        failures.extend(await _check_rows(run, marks, expect))
    return failures


async def _check_rows(run: _Run, marks: _Marks, expect: Expect) -> list[Failure]:
    failures: list[Failure] = []
    async with run.sessionmaker() as session:
        if expect.escalations_open is not None:
            count = await session.scalar(
                select(func.count())
                .select_from(Escalation)
                .where(
                    Escalation.customer_id.in_(run.customer_ids),
                    Escalation.status.in_(cases.OPEN),
                )
            )
            if count != expect.escalations_open:
                failures.append(Failure("escalations_open", expect.escalations_open, count))
        if expect.notified is not None:
            notified = await _notified(session, run, marks)
            if sorted(set(expect.notified)) != notified:
                failures.append(Failure("notified", sorted(set(expect.notified)), notified))
        if expect.booking:
            failures.extend(await _check_booking(session, run, expect.booking))
        if expect.lead:
            failures.extend(await _check_lead(session, run, expect.lead))
    return failures


async def _check_lead(session: AsyncSession, run: _Run, wanted: dict[str, Any]) -> list[Failure]:
    query = (
        select(Lead)
        .where(Lead.customer_id.in_(run.customer_ids))
        .order_by(Lead.id.desc())
        .limit(1)
        .execution_options(populate_existing=True)
    )
    lead = (await session.scalars(query)).first()
    if lead is None:
        return [Failure("lead", wanted, None)]
    return _compare("lead", lead, wanted)


def _compare(label: str, row: Any, wanted: dict[str, Any]) -> list[Failure]:
    """A row's columns against the expected values: lists as sets, times as ISO 8601, a date
    as 2027-01-16 and a clock time as 18:00."""
    failures: list[Failure] = []
    for name, value in wanted.items():
        if name not in type(row).__table__.columns:
            failures.append(Failure(f"{label}.{name}", value, f"no such {label} field"))
            continue
        actual = getattr(row, name)
        if isinstance(actual, dt.time | dt.date) and not isinstance(actual, datetime):
            shown: Any = actual.strftime("%H:%M") if isinstance(actual, dt.time) else str(actual)
            ok = str(value) == shown
        elif name in SET_FIELDS:
            shown = sorted(actual or [])
            ok = isinstance(value, Sequence) and set(value) == set(actual or [])
        else:
            shown, ok = _plain(actual), _same(value, actual)
        if not ok:
            failures.append(Failure(f"{label}.{name}", value, shown))
    return failures


async def _notified(session: AsyncSession, run: _Run, marks: _Marks) -> list[str]:
    """Team SMS and management email queued for this customer's cases during the step."""
    query = (
        select(TeamAlert.channel)
        .join(Escalation, Escalation.id == TeamAlert.escalation_id)
        .where(Escalation.customer_id.in_(run.customer_ids), TeamAlert.id > marks.alert)
    )
    channels = (await session.scalars(query)).all()
    return sorted({ALERT_NOTICES[c] for c in channels if c in ALERT_NOTICES})


async def _check_booking(session: AsyncSession, run: _Run, wanted: dict[str, Any]) -> list[Failure]:
    booking = await _scenario_booking(session, run)
    if booking is None:
        return [Failure("booking", wanted, None)]
    return _compare("booking", booking, wanted)


async def _scenario_booking(session: AsyncSession, run: _Run) -> Booking | None:
    if run.booking_id is not None:
        booking = await session.get(Booking, run.booking_id, populate_existing=True)
        return booking
    return await bookings.current_booking(session, run.customer_id, run.clock.now())
