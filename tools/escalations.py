"""Escalations: opening a case with the alerts that tell the team, a person claiming,
assigning, noting, releasing and resolving it (which hands the thread to them and back to the
agent), and watching the cases nobody works (`watch`)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import cast

from sqlalchemy import and_, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from knowledge.charter import Rules
from knowledge.db import Database, unit_of_work
from knowledge.errors import Conflict, Forbidden, NotFound
from knowledge.infra import metrics
from knowledge.infra.clock import Clock
from knowledge.models import (
    ApiUser,
    Booking,
    CaseNote,
    Conversation,
    Customer,
    Escalation,
    TeamAlert,
)
from knowledge.schemas import Priority
from knowledge.service import KnowledgeService
from tools.policy import PRIORITY_RANK, EscalationPlan

#: What a case is about, by the intent that opened it: a later message about the same problem
#: joins the open case. "question" (a person asked for, a question nobody could answer) joins
#: any open case of the conversation, and any later problem joins a case opened for one: a
#: person is on the thread already.
_PROBLEMS: dict[str, str] = {
    "cancellation": "booking_change",
    "date_change": "booking_change",
    "headcount_change": "booking_change",
    "menu_selection": "booking_change",
    "protein_swap": "booking_change",
    "complaint": "complaint",
    "rating": "complaint",
    "no_show": "no_show",
    "dietary_request": "dietary",
    "weather_concern": "weather",
    "access_info": "access",
}
ANY_PROBLEM = "question"
#: A joined case keeps this much of what the customer wrote.
_REQUEST_LIMIT = 20_000


def problem_of(intent: str) -> str:
    return _PROBLEMS.get(intent, ANY_PROBLEM)


async def open_escalation(
    session: AsyncSession,
    plan: EscalationPlan,
    *,
    customer: Customer,
    booking: Booking | None,
    conversation_id: int | None,
    customer_request: str | None,
    rules: Rules,
    console_url: str,
    problem: str = ANY_PROBLEM,
) -> Escalation:
    """The case for this problem: the conversation's open case about it, with the new message
    added (its priority raised and its deadline brought forward when the new message is more
    urgent, the team told), or a new case with its alerts (console always; SMS and email as
    the plan says)."""
    case = await _open_case(session, customer, booking, conversation_id, problem)
    if case is not None:
        await _join(session, case, plan, customer, booking, customer_request, rules, console_url)
        return case
    escalation = Escalation(
        booking_id=booking.id if booking else None,
        customer_id=customer.id,
        conversation_id=conversation_id,
        priority=plan.priority,
        reason=plan.reason,
        customer_request=customer_request,
        action_required=plan.action_required,
        deadline=plan.deadline,
        status="open",
        problem=problem,
    )
    session.add(escalation)
    await session.flush()
    _alert(session, escalation, plan, customer, booking, rules, console_url, plan.notify)
    await session.flush()
    return escalation


#: What an open case hears when the customer takes back what they asked ("nvm keep it").
WITHDRAWN = "Customer asked to leave things as they are"


async def withdrawn(
    session: AsyncSession,
    *,
    customer: Customer,
    booking: Booking | None,
    conversation_id: int,
    customer_request: str,
    rules: Rules,
    console_url: str,
) -> list[Escalation]:
    """The conversation's open cases, each told that the customer took back what they asked:
    the message joins it and its holder (or the queue) is alerted. Nothing is closed and no
    priority moves: whether anything is left to do is a person's call."""
    query = (
        select(Escalation)
        .where(Escalation.status.in_(OPEN), Escalation.conversation_id == conversation_id)
        .order_by(Escalation.id)
        .with_for_update()
    )
    told = list((await session.scalars(query)).all())
    for case in told:
        plan = EscalationPlan(
            priority=cast(Priority, case.priority),
            reason=WITHDRAWN,
            action_required="Check with the customer whether anything is left to do",
            deadline=case.deadline,
        )
        await _join(session, case, plan, customer, booking, customer_request, rules, console_url)
    return told


async def _open_case(
    session: AsyncSession,
    customer: Customer,
    booking: Booking | None,
    conversation_id: int | None,
    problem: str,
) -> Escalation | None:
    """The open case a new one about `problem` joins: the conversation's (or, with no
    conversation, the customer's for the same booking), about the same problem or where one
    of them is a plain request for a person."""
    query = select(Escalation).where(Escalation.status.in_(OPEN))
    if conversation_id is not None:
        query = query.where(Escalation.conversation_id == conversation_id)
    else:
        query = query.where(
            Escalation.customer_id == customer.id,
            Escalation.booking_id == (booking.id if booking else None),
        )
    if problem != ANY_PROBLEM:
        query = query.where(
            (Escalation.problem == problem)
            | (Escalation.problem == ANY_PROBLEM)
            | Escalation.problem.is_(None)
        )
    query = query.order_by(Escalation.id).limit(1).with_for_update()
    return (await session.scalars(query)).first()


async def _join(
    session: AsyncSession,
    case: Escalation,
    plan: EscalationPlan,
    customer: Customer,
    booking: Booking | None,
    customer_request: str | None,
    rules: Rules,
    console_url: str,
) -> None:
    """Add a message to its open case: the higher priority and the earlier deadline win; the
    holder (or the queue) hears of it, and the plan's other alerts go out only when the case
    became more urgent."""
    said = [case.customer_request, customer_request]
    case.customer_request = "\n\n".join(filter(None, said))[-_REQUEST_LIMIT:] or None
    case.reason = _with_part(case.reason, plan.reason)[:255]
    case.action_required = _with_part(case.action_required, plan.action_required)
    raised = PRIORITY_RANK[plan.priority] > PRIORITY_RANK[case.priority]
    if raised:
        case.priority = plan.priority
        if case.problem == ANY_PROBLEM:
            case.problem = None  # now about whatever made it urgent: any problem joins it
    case.deadline = min(case.deadline, plan.deadline)
    _alert(
        session,
        case,
        plan,
        customer,
        booking,
        rules,
        console_url,
        plan.notify if raised else (),
        updated=True,
    )
    await session.flush()


def _with_part(joined: str, part: str) -> str:
    """ "A; B" with `part` added unless it is one of the parts already."""
    return joined if part in joined.split("; ") else f"{joined}; {part}"


def _alert(
    session: AsyncSession,
    escalation: Escalation,
    plan: EscalationPlan,
    customer: Customer,
    booking: Booking | None,
    rules: Rules,
    console_url: str,
    notify: tuple[str, ...],
    updated: bool = False,
) -> None:
    who = customer.name or customer.phone or f"customer {customer.id}"
    ref = f"booking {booking.reference}" if booking else "no booking"
    link = f"{console_url.rstrip('/')}/console/escalations/{escalation.id}"
    what = "Case updated, now " if updated else ""
    subject = f"{what}{escalation.priority}: {plan.reason} ({ref})"
    body = f"{who}, {ref}. {plan.reason}. Action: {plan.action_required}. {link}"
    alerts = [
        TeamAlert(
            escalation_id=escalation.id,
            channel="console",
            user_id=escalation.assigned_to_id,
            subject=subject,
            body=body,
        )
    ]
    if "team_sms" in notify:
        alerts.append(
            TeamAlert(
                escalation_id=escalation.id,
                channel="sms",
                target=rules.business.team_phone,
                subject=subject,
                body=f"{escalation.priority}: {ref} - {plan.reason}. {link}"[:320],
            )
        )
    if "management_email" in notify:
        alerts.append(
            TeamAlert(
                escalation_id=escalation.id,
                channel="email",
                target=rules.business.management_email,
                subject=subject,
                body=body,
            )
        )
    session.add_all(alerts)


# ---- a person working a case ---------------------------------------------------------------

OPEN = ("open", "in_progress")


async def _lock(session: AsyncSession, escalation_id: int) -> Escalation:
    escalation = await session.get(Escalation, escalation_id, with_for_update=True)
    if escalation is None:
        raise NotFound(f"no escalation with id {escalation_id}")
    return escalation


async def _owner_name(session: AsyncSession, user_id: int | None) -> str:
    user = await session.get(ApiUser, user_id) if user_id is not None else None
    return user.name if user is not None else "someone else"


async def _hand_back(session: AsyncSession, escalation: Escalation) -> None:
    """Return the thread to the agent unless the same person still holds another open case."""
    if escalation.conversation_id is None:
        return
    conversation = await session.get(Conversation, escalation.conversation_id, with_for_update=True)
    if conversation is None or conversation.owner != "human":
        return
    still_held = await session.scalar(
        select(func.count())
        .select_from(Escalation)
        .where(
            Escalation.conversation_id == conversation.id,
            Escalation.id != escalation.id,
            Escalation.status == "in_progress",
            Escalation.assigned_to_id == conversation.owner_user_id,
        )
    )
    if not still_held:
        conversation.owner, conversation.owner_user_id = "ai", None


def _first_action(escalation: Escalation, now: datetime) -> None:
    """Time from the case's opening to the first person acting on it (claim or resolve)."""
    if escalation.status == "open" and escalation.assigned_to_id is None:
        waited = max(0.0, (now - escalation.created_at).total_seconds())
        metrics.instruments().case_claim_seconds.labels(escalation.priority).observe(waited)


async def claim(
    session: AsyncSession, escalation_id: int, user: ApiUser, now: datetime
) -> Escalation:
    """Take a case and its thread: from now on the agent stays silent on the thread.

    Under concurrent claims the row lock makes exactly one win; the other gets Conflict naming
    the owner. Claiming a case one already holds is a no-op."""
    escalation = await _lock(session, escalation_id)
    if escalation.status not in OPEN:
        raise Conflict(f"escalation {escalation_id} is already {escalation.status}")
    if escalation.assigned_to_id not in (None, user.id):
        owner = await _owner_name(session, escalation.assigned_to_id)
        raise Conflict(f"escalation {escalation_id} is already claimed by {owner}")
    _first_action(escalation, now)
    await _give(session, escalation, user.id)
    await session.flush()
    return escalation


async def _give(session: AsyncSession, escalation: Escalation, user_id: int) -> None:
    """The case and its thread to one person: the agent stays silent on the thread."""
    escalation.assigned_to_id, escalation.status = user_id, "in_progress"
    if escalation.conversation_id is not None:
        conversation = await session.get(
            Conversation, escalation.conversation_id, with_for_update=True
        )
        if conversation is not None:
            conversation.owner, conversation.owner_user_id = "human", user_id


async def assign(
    session: AsyncSession,
    escalation_id: int,
    assignee_id: int,
    by: ApiUser,
    now: datetime,
    console_url: str,
) -> Escalation:
    """Give a case, and its thread, to a teammate, who gets a console alert with its link. An
    unclaimed case anyone may assign; a held one, its holder or an admin."""
    escalation = await _lock(session, escalation_id)
    _check_holder(escalation, by)
    assignee = await session.get(ApiUser, assignee_id)
    if assignee is None or assignee.revoked_at is not None:
        raise NotFound(f"no active teammate with id {assignee_id}")
    if escalation.assigned_to_id == assignee.id:
        return escalation
    _first_action(escalation, now)
    await _give(session, escalation, assignee.id)
    link = f"{console_url.rstrip('/')}/console/escalations/{escalation.id}"
    given = "assigned you" if assignee.id != by.id else "took"
    session.add(
        TeamAlert(
            escalation_id=escalation.id,
            kind="assigned",
            channel="console",
            user_id=assignee.id,
            subject=f"{by.name} {given} a case: {escalation.priority}, {escalation.reason}",
            body=f"{escalation.action_required}. {link}",
        )
    )
    await session.flush()
    return escalation


async def add_note(session: AsyncSession, escalation_id: int, user: ApiUser, body: str) -> CaseNote:
    """A note for the team on the case; never sent to the customer. Closed cases take notes
    too (what happened afterwards)."""
    if await session.get(Escalation, escalation_id) is None:
        raise NotFound(f"no escalation with id {escalation_id}")
    note = CaseNote(escalation_id=escalation_id, user_id=user.id, body=body.strip())
    session.add(note)
    await session.flush()
    await session.refresh(note)
    return note


async def notes_of(session: AsyncSession, escalation_id: int) -> list[tuple[CaseNote, str | None]]:
    """The case's notes, oldest first, each with its author's name."""
    query = (
        select(CaseNote, ApiUser.name)
        .outerjoin(ApiUser, ApiUser.id == CaseNote.user_id)
        .where(CaseNote.escalation_id == escalation_id)
        .order_by(CaseNote.id)
    )
    return [(note, name) for note, name in (await session.execute(query)).all()]


async def alerts_for(session: AsyncSession, user: ApiUser, limit: int = 20) -> list[TeamAlert]:
    """The console alerts addressed to a person that they have not marked read, newest first."""
    query = (
        select(TeamAlert)
        .where(
            TeamAlert.channel == "console",
            TeamAlert.user_id == user.id,
            TeamAlert.status != "read",
        )
        .order_by(TeamAlert.id.desc())
        .limit(limit)
    )
    return list((await session.scalars(query)).all())


async def mark_read(session: AsyncSession, alert_id: int, user: ApiUser) -> None:
    alert = await session.get(TeamAlert, alert_id)
    if alert is None or alert.channel != "console" or alert.user_id != user.id:
        raise NotFound(f"no alert {alert_id} for you")
    alert.status = "read"
    await session.flush()


def _check_holder(escalation: Escalation, user: ApiUser) -> None:
    if escalation.status not in OPEN:
        raise Conflict(f"escalation {escalation.id} is already {escalation.status}")
    if escalation.assigned_to_id not in (None, user.id) and user.role != "admin":
        raise Forbidden(f"escalation {escalation.id} is held by another person")


async def release(session: AsyncSession, escalation_id: int, user: ApiUser) -> Escalation:
    """Put a case back in the queue unresolved; the thread returns to the agent."""
    escalation = await _lock(session, escalation_id)
    _check_holder(escalation, user)
    await _hand_back(session, escalation)
    escalation.assigned_to_id, escalation.status = None, "open"
    await session.flush()
    return escalation


async def resolve(
    session: AsyncSession, escalation_id: int, user: ApiUser, notes: str | None, now: datetime
) -> Escalation:
    """Close a case with notes; the thread returns to the agent (nothing is sent for it)."""
    escalation = await _lock(session, escalation_id)
    _check_holder(escalation, user)
    _first_action(escalation, now)
    await _hand_back(session, escalation)
    escalation.status, escalation.resolved_at = "resolved", now
    escalation.assigned_to_id = escalation.assigned_to_id or user.id
    escalation.resolution_notes = (notes or "").strip() or None
    await session.flush()
    return escalation


# ---- watching cases nobody works --------------------------------------------------------------


async def watch(session: AsyncSession, now: datetime, rules: Rules, console_url: str) -> int:
    """Alert again about the open cases the seed's targets are at risk for, each alert once
    (a unique index on case, kind and channel, so any number of processes may watch): a case
    nobody has claimed for the priority's delay goes to the team again (console and team SMS),
    and at twice the delay to the owner (management email, and the owner's mobile when set);
    a claimed case nearing its deadline reminds its holder. Returns the alerts made.

    The delay counts from when the case took its priority (its deadline less the priority's
    hours), so a case raised to URGENT is watched as URGENT from then."""
    cases = (
        await session.scalars(
            select(Escalation).where(Escalation.status.in_(OPEN)).order_by(Escalation.id)
        )
    ).all()
    rows = [row for case in cases for row in _due_alerts(case, now, rules, console_url)]
    if not rows:
        return 0
    made = await session.scalars(
        insert(TeamAlert)
        .values(rows)
        .on_conflict_do_nothing(
            index_elements=["escalation_id", "kind", "channel"],
            index_where=and_(TeamAlert.kind.is_not(None), TeamAlert.kind != "assigned"),
        )
        .returning(TeamAlert.id)
    )
    return len(made.all())


async def alerts_of(session: AsyncSession, escalation_id: int) -> list[TeamAlert]:
    """Every alert about a case, oldest first: who was told, how, and whether it went."""
    query = select(TeamAlert).where(TeamAlert.escalation_id == escalation_id)
    return list((await session.scalars(query.order_by(TeamAlert.id))).all())


async def watch_cases(
    database: Database, knowledge: KnowledgeService, clock: Clock, console_url: str
) -> int:
    """`watch` in a transaction of its own, with the live rules (the background loops)."""
    async with unit_of_work(database.sessionmaker) as session:
        rules = await knowledge.rules(session)
        return await watch(session, clock.now(), rules, console_url)


def _due_alerts(
    case: Escalation, now: datetime, rules: Rules, console_url: str
) -> list[dict[str, object]]:
    values = rules.escalations
    priority = cast(Priority, case.priority)
    link = f"{console_url.rstrip('/')}/console/escalations/{case.id}"
    rows: list[dict[str, object]] = []
    hours = values.deadline_hours.get(priority)
    delay = values.unclaimed_alert_minutes.get(priority)
    warning = values.deadline_warning_minutes.get(priority)
    if case.assigned_to_id is None and hours and delay:
        since = case.deadline - timedelta(hours=hours)
        waited = f"{int((now - since).total_seconds() // 60)} min"
        if now >= since + timedelta(minutes=delay):
            subject = f"Still unclaimed after {waited} - {priority}: {case.reason}"
            kind, text = f"unclaimed:{priority}", f"{subject}. {link}"
            team = rules.business.team_phone
            rows.append(_watch_row(case, kind, "console", None, None, subject, text))
            rows.append(_watch_row(case, kind, "sms", team, None, subject, text[:320]))
        if now >= since + timedelta(minutes=2 * delay):
            subject = f"For the owner: unclaimed after {waited} - {priority}: {case.reason}"
            due = f"{case.deadline.astimezone(rules.timezone):%a %b %-d, %-I:%M %p}"
            body = f"{subject}. Action: {case.action_required}. Due by {due}. {link}"
            kind, email = f"owner:{priority}", rules.business.management_email
            rows.append(_watch_row(case, kind, "email", email, None, subject, body))
            if values.owner_phone:
                text = f"{subject}. {link}"[:320]
                rows.append(_watch_row(case, kind, "sms", values.owner_phone, None, subject, text))
    if (
        case.assigned_to_id is not None
        and warning
        and now >= case.deadline - timedelta(minutes=warning)
    ):
        left = max(0, int((case.deadline - now).total_seconds() // 60))
        subject = f"Due in {left} min - {priority}: {case.reason}"
        holder = case.assigned_to_id
        kind, text = f"deadline:{priority}", f"{subject}. {link}"
        rows.append(_watch_row(case, kind, "console", None, holder, subject, text))
    return rows


def _watch_row(
    case: Escalation,
    kind: str,
    channel: str,
    target: str | None,
    user_id: int | None,
    subject: str,
    body: str,
) -> dict[str, object]:
    return {
        "escalation_id": case.id,
        "kind": kind,
        "channel": channel,
        "target": target,
        "user_id": user_id,
        "subject": subject[:255],
        "body": body,
        "status": "pending",
        "attempts": 0,
    }
