"""When each touchpoint of a booking's journey is due: pure functions of the booking, the clock
and the rules. Times are planned in the business timezone and stored as UTC."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from knowledge.charter import Rules

# Days relative to the event's date for the touchpoints planned at booking time.
DAY_OFFSETS = {"7_day": -7, "4_day": -4, "24_hour": -1, "post_event": 1}
MENU_DEADLINE_AFTER_4_DAY = timedelta(hours=24)
# A booking made after the menu deadline still gets one: a day after booking (the confirmation
# asks for the menu), but no later than an hour before the final confirmation and no sooner
# than two hours after booking.
LATE_MENU_DEADLINE = timedelta(hours=24)
LATE_MENU_BEFORE_FINAL = timedelta(hours=1)
LATE_MENU_GRACE = timedelta(hours=2)
ARRIVING_BEFORE_ETA = timedelta(minutes=10)
# Morning touchpoints go out an hour after the business opens its messaging window.
SEND_AFTER_OPENING = timedelta(hours=1)


def _clock(value: str) -> time:
    hours, minutes = value.split(":")
    return time(int(hours), int(minutes))


def within_hours(moment: datetime, rules: Rules) -> datetime:
    """The moment itself if it is inside messaging hours, else the next opening."""
    zone = rules.timezone
    local = moment.astimezone(zone)
    opens = _clock(rules.business.messaging_hours.start)
    closes = _clock(rules.business.messaging_hours.end)
    if local.time() < opens:
        return datetime.combine(local.date(), opens, zone).astimezone(moment.tzinfo)
    if local.time() >= closes:
        next_day = local.date() + timedelta(days=1)
        return datetime.combine(next_day, opens, zone).astimezone(moment.tzinfo)
    return moment


def morning_of(day: date, rules: Rules) -> datetime:
    opens = datetime.combine(day, _clock(rules.business.messaging_hours.start), rules.timezone)
    return opens + SEND_AFTER_OPENING


def plan(event_at: datetime, now: datetime, rules: Rules) -> dict[str, datetime]:
    """Every touchpoint known at booking time and when it is due (UTC), past ones included."""
    event_day = event_at.astimezone(rules.timezone).date()
    due = {"confirmation": within_hours(now, rules)}
    for kind, offset in DAY_OFFSETS.items():
        due[kind] = morning_of(event_day + timedelta(days=offset), rules)
    due["menu_deadline"] = due["4_day"] + MENU_DEADLINE_AFTER_4_DAY
    if due["menu_deadline"] <= now:
        late = min(now + LATE_MENU_DEADLINE, due["24_hour"] - LATE_MENU_BEFORE_FINAL)
        late = max(late, now + LATE_MENU_GRACE)
        if late < event_at:
            due["menu_deadline"] = late
    return {kind: moment.astimezone(now.tzinfo) for kind, moment in due.items()}


def arriving_at(departed_at: datetime, eta_minutes: int) -> datetime:
    """The '10 minutes away' message: ten minutes before the chef's expected arrival."""
    return departed_at + timedelta(minutes=eta_minutes) - ARRIVING_BEFORE_ETA
