"""`/partner boundary <customer> …`: working agreements, introduced one at a time and gently reminded.

    add "<text>" [kind=response_time|contact_window|channel|custom] [value=…]
    list | activate <n> | slip [<n>] [note] | held [<n>] | retire <n>
    preview <n> | wording <n> "<text>"|reset | reminders <n> off|weekly|<cadence>

``n`` is the number `list` shows; `slip` and `held` without one mean the one active agreement.
Anyone may log a slip; the customer's owner and admins change the rest.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date

from domain import boundaries as rules
from domain.errors import UserError
from handlers.blocks import command_name, mrkdwn_name
from handlers.blocks.boundaries import boundary_list, describe_value, quoted
from handlers.boundaries_hooks import (
    activate_boundary,
    activation_text,
    hold_boundary,
    log_slip,
    next_up,
    reminder_plan,
    require_boundary_change,
    retire_boundary,
    slip_outcome,
)
from handlers.commands.base import CommandCall, Reply
from handlers.commands.lookup import find_customer, words_and_offsets
from handlers.commands.mend import boundary_mend, is_fix, is_undo, slip_mend
from handlers.parsing import (
    AGREEMENT_QUOTE_OPENERS,
    QUOTED_PHRASE,
    quoted_text,
    split_quoted,
    typed_domain,
    unescape,
)

# A module reference, not names: schedules.boundaries imports the Block Kit builders, so the two import each other.
from schedules import boundaries as planning
from storage.boundaries import BoundaryRecord
from storage.models import Customer

USAGE = (
    '/partner boundary <customer> add "<text>" [kind=… value=…] | list | activate <n> | slip [<n>] [note] | '
    'held [<n>] | retire <n> | preview <n> | wording <n> "<text>" | reminders <n> off|weekly|<cadence>'
)
ADD_USAGE = '/partner boundary <customer> add "<text>" [kind=response_time|contact_window|channel|custom] [value=…]'
MAX_WORDING = 500  # characters the user sees; Boundary.reminder_text holds them escaped
MAX_STORED_WORDING = 2500  # Boundary.reminder_text's column: the wording with its escapes and links' markup

# An option's value may be quoted as the text is (value="1 business day"), or a number (in figures or words, as an
# agreement's text says it) with its unit unquoted (response=2 business days, value=4 hours, response=one business day).
_OPTION = re.compile(
    rf"(?P<key>[A-Za-z_]+)=(?:{QUOTED_PHRASE}|(?P<bare>(?:\d+(?:\.\d+)?|an?|one|two|three|four|five|six|seven|eight"
    r"|nine|ten)\s+(?:(?:business|working|work)\s+)?"
    r"(?:days?|hours?|hrs?|minutes?|mins?)[.,;!]*(?![^\s\"“”‘’])|\S+))",
    re.IGNORECASE,
)
# After `slip <number>`, a unit says how late it was ("slip 3 days without an answer"), not which agreement.
_HOW_LATE = re.compile(
    r"(?:(?:business|working|work)\s+)?(?:days?|d|hours?|hrs?|h|minutes?|mins?|weeks?|wks?|w)(?![^\s,.;:!?])",
    re.IGNORECASE,
)
_QUOTED = re.compile(QUOTED_PHRASE)
# `response=…` (or `reply=`) is a response-time agreement's value: kind=response_time value=… in one.
_RESPONSE_OPTIONS = ("response", "reply")

ADD_OPTIONS = ("kind", "value", *_RESPONSE_OPTIONS)  # the key=value options of `add` (help names each)
_NUMBERED = ("activate", "slip", "held", "retire", "preview", "wording", "reminders")
ACTIONS = ("add", "list", *_NUMBERED)


def parse_add(raw: str) -> tuple[str, str | None, str | None]:
    """(text, kind, value) from `"<text>" kind=… value=…`; the text may also go unquoted before the options."""
    opener = raw.strip()[:1]
    # Straight single quotes around whole words quote it too ('We reply the same day'), as they quote a name; an
    # apostrophe never does (`We don't call after 5pm` is the text as typed).
    if opener in tuple(AGREEMENT_QUOTE_OPENERS) or (opener == "'" and _QUOTED.match(raw.strip())):
        text, rest = split_quoted(raw, ADD_USAGE, agreement=True)
    else:
        first_option = _OPTION.search(raw)
        cut = first_option.start() if first_option else len(raw)
        text, rest = raw[:cut], raw[cut:]
    options: dict[str, str] = {}
    leftover, taken = "", 0  # what no option took, read as it was typed
    for match in _OPTION.finditer(rest):
        key = match["key"].lower()
        if key not in ADD_OPTIONS:
            raise UserError(
                f"Unknown option '{match['key']}='. You can set kind= and value= (or response=). Usage: `{ADD_USAGE}`"
            )
        value, end = quoted_text(match), match.end()
        if value is None and key == "value" and (said := _window_said_on(rest, match)) is not None:
            value, end = said
        elif value is None:
            # `response=2d.` ends a sentence, `response=2d, …` a clause: the punctuation is not the value's (as
            # checkin's `next=fri.` reads it). A value that is nothing but punctuation stays as typed, to be refused.
            value = match["bare"].rstrip(".,;!") or match["bare"]
        if key in _RESPONSE_OPTIONS:
            key = "value"
            if rules.resolve_kind(options.setdefault("kind", "response_time")) != "response_time":
                raise UserError(f"response= is a response time, not a {options['kind']}. Usage: `{ADD_USAGE}`")
        if key in options and options[key].casefold() != value.casefold():  # else one would be dropped unsaid
            raise UserError(
                f"{key}= is given twice ('{options[key]}' and '{value}'): give it once. Usage: `{ADD_USAGE}`"
            )
        options[key] = value
        leftover, taken = leftover + rest[taken : match.start()] + " ", end
    leftover += rest[taken:]
    if leftover.strip(" \t\n.,;!"):  # a sentence's full stop after a quoted value (`value="1 day".`) says nothing
        raise UserError(
            f"I didn't understand '{leftover.strip()}' after the text. Put the text in quotes, then "
            f"kind= and value=. Usage: `{ADD_USAGE}`"
        )
    text = text.strip()  # kept as Slack escaped it: restated in mrkdwn, `<b>` must stay text and `<@U…>` a mention
    if not text:
        raise UserError(f'What is the agreement? e.g. "We answer within one business day". Usage: `{ADD_USAGE}`')
    kind = options.get("kind")
    # A value Slack made a link of as it was typed (`value=acme.zendesk.com/support`, `value=help@acme.com`) is kept
    # as typed: its markup would count against the 64 characters, and refuse an address the person typed in 30.
    value = unescape(typed_domain(options["value"], emails=True)) if "value" in options else None
    # "Replies within one business day" is measured as it says, also with kind=response_time and no value= typed.
    measured = kind is None or rules.resolve_kind(kind) == "response_time"
    if measured and value is None and (stated := rules.response_time_in(unescape(text))) is not None:
        kind, value = kind or "response_time", stated
    return text, kind, value


def _window_said_on(rest: str, match: re.Match[str]) -> tuple[str, int] | None:
    """`value=9 am-10 am`, `value=2 pm to 3:30 pm`, `value=9-10 am`: an unquoted value that goes on past its first word
    as a contact window, with a space before am/pm as people type it (and as snooze and cadence read a time); the
    value and where it ends. The longest run of words up to the next option that the window's own reader reads."""
    following = _OPTION.search(rest, match.end())
    stop = following.start() if following else len(rest)
    ends = [m.end() for m in re.finditer(r"\S+", rest[match.end() : stop])]
    for end in reversed(ends):
        said = (match["bare"] + rest[match.end() : match.end() + end]).rstrip(",;!")  # a sentence's, not the value's
        said = said[:-1] if said.endswith(".") and not said.lower().endswith(("a.m.", "p.m.")) else said
        try:
            rules.parse_contact_window(said)
        except ValueError:
            continue
        return " ".join(said.split()), match.end() + end
    return None


def _number(
    raw: str, action: str, records: list[BoundaryRecord], customer: Customer, *, active_by_default: bool = False
) -> tuple[BoundaryRecord, str]:
    """The boundary numbered as in `list`, and the rest of what was typed after the number.

    With `active_by_default` (`held`, `slip`) and no number, the one active boundary is meant (`held` without a
    number is how the issue spells it), or for a slip with none active the one that holds; with several active, the
    number is still needed. `activate` alone means the one proposed need, when there is just one.
    """
    parts = raw.strip().split(None, 1)
    usage = f"/partner boundary {command_name(customer.name)} {action} <n>"
    token = parts[0].lstrip("#") if parts else ""
    numbered = token.isascii() and token.isdigit()
    active = [r for r in records if r.rule.status == "active"]
    held = [r for r in records if r.rule.status == "held"]
    if action == "slip" and numbered and len(parts) > 1 and _HOW_LATE.match(parts[1]):
        # "slip 3 days without an answer": how late it was, not agreement number 3 — the whole of it is the note,
        # on the agreement a slip without a number means (when there is one to mean; else the number stands).
        numbered = not (active or (len(held) == 1 and action != "held"))
    if active_by_default and not numbered:
        if len(active) == 1:
            return active[0], raw.strip()
        if not active and len(held) == 1 and action != "held":
            # "slip missed it again" once the one agreement in force holds: that one (the slip reopens it).
            return held[0], raw.strip()
        if len(active) > 1:  # "slip missed the call" with two being introduced: which one, named, not "not a number"
            which = ", ".join(f"{r.number}. {quoted(r.rule.text)}" for r in active)
            example = (
                f"/partner boundary {command_name(customer.name)} {action} {active[0].number} {raw.strip()}".rstrip()
            )
            raise UserError(
                f"*{mrkdwn_name(customer.name)}* has {len(active)} active agreements ({which}): give the "
                f"number, e.g. `{example}`."
            )
    if active_by_default and not numbered and parts and not active:
        # "slip called at 4pm" with no agreement in force: say that, not "'called' isn't a number".
        if not records:
            raise UserError(f"*{mrkdwn_name(customer.name)}* has no working agreements yet. Add one: `{ADD_USAGE}`")
        name = command_name(customer.name)
        which = ", ".join(f"{r.number}. {quoted(r.rule.text)} ({r.rule.status})" for r in records)
        raise UserError(
            f"*{mrkdwn_name(customer.name)}* has no agreement being introduced now ({which}): give the number of the "
            f"one you mean, e.g. `/partner boundary {name} {action} {records[0].number} {raw.strip()}`, or introduce "
            f"one with `/partner boundary {name} activate <n>`."
        )
    if not parts:
        proposed = [r for r in records if r.rule.status == "proposed"]
        if action == "activate" and len(proposed) == 1:  # a new team's first need: `activate` alone introduces it
            return proposed[0], ""
        raise UserError(
            f"Which one? Give its number from `/partner boundary {command_name(customer.name)} list`. Usage: `{usage}`"
        )
    if not numbered:
        raise UserError(f"'{parts[0]}' isn't a number from the list. Usage: `{usage}`")
    n = int(token)
    if not records:
        raise UserError(f"*{mrkdwn_name(customer.name)}* has no working agreements yet. Add one: `{ADD_USAGE}`")
    if not 1 <= n <= len(records):
        numbers = "only number 1" if len(records) == 1 else f"numbers 1 to {len(records)}"
        raise UserError(f"There is no number {n}: *{mrkdwn_name(customer.name)}* has {numbers}. Usage: `{usage}`")
    return records[n - 1], parts[1] if len(parts) > 1 else ""


def boundary(call: CommandCall) -> Reply:
    words = words_and_offsets(call.args)
    try:
        customer, rest = find_customer(call.store, team_id=call.team_id, words=[w for w, _ in words], usage=USAGE)
    except UserError:
        if not words or words[0][0].lower() not in ACTIONS:
            raise
        # Typed in a customer's channel (`/partner boundary slip they DMed again` in #acme): the command to copy, with
        # that customer's name and all of it, as a check-in typed there without one is answered.
        here = (
            call.store.customers_in_channel(team_id=call.team_id, channel_id=call.channel_id) if call.channel_id else []
        )
        example = (
            f"/partner boundary {command_name(here[0].name)} {call.args.strip()}"
            if len(here) == 1
            else f"/partner boundary Acme {words[0][0].lower()} …"
        )
        raise UserError(
            f"'{words[0][0]}' is what to do, not a customer: the customer comes first, e.g. `{example}`. "
            f"Usage: `{USAGE}`"
        ) from None
    used = len(words) - len(rest)
    action = rest[0].lower() if rest else "list"
    raw = call.args[words[used][1] :] if rest else ""
    handler = _HANDLERS.get(action)
    if handler is None and (is_undo(action) or is_fix(action)):  # `unslip 2`, `delete 1`, `edit 2 "…"`: how to mend
        raise UserError(slip_mend(customer.name) if action in ("unslip", "undo") else boundary_mend(customer.name))
    if handler is None:
        raise UserError(f"I don't know `{rest[0]}` for boundaries: use {', '.join(ACTIONS)}. Usage: `{USAGE}`")
    reply = handler(call, customer, raw)
    if handler not in (_list, _preview):  # the Home shows each customer's active boundary and the slipping ones
        call.refresh_homes(customer.owner_id, call.user_id)
    return reply


def _records(call: CommandCall, customer: Customer) -> list[BoundaryRecord]:
    assert customer.id is not None
    return call.store.boundary_records(team_id=call.team_id, customer_id=customer.id)


def _list(call: CommandCall, customer: Customer, raw: str) -> Reply:
    if raw.strip():
        raise UserError(f"`list` takes nothing after it. Usage: `/partner boundary {command_name(customer.name)} list`")
    cal = planning.customer_calendar(customer, call.settings.default_tz)
    return boundary_list(customer, _records(call, customer), call.now, call.settings.boundary_policy, cal)


def _add(call: CommandCall, customer: Customer, raw: str) -> Reply:
    text, kind, value = parse_add(raw)
    _no_broadcast(text, ADD_USAGE)
    try:
        rule = rules.Boundary(text=text, kind=kind or "", value=value)  # type: ignore[arg-type]
    except ValueError as e:
        raise UserError(f"{e} Usage: `{ADD_USAGE}`") from None
    if problem := rules.value_length_problem(rule.value):
        raise UserError(f"{problem} Usage: `{ADD_USAGE}`")
    require_boundary_change(call.client, call.settings, user_id=call.user_id, customer=customer)
    records = _records(call, customer)
    request_key = f"trigger:{call.trigger_id}" if call.trigger_id else None
    same = next(
        (r for r in records if r.rule.status != "retired" and r.rule.text.casefold() == rule.text.casefold()), None
    )
    if same is not None and (request_key is None or same.row.request_key != request_key):
        raise UserError(f"*{mrkdwn_name(customer.name)}* already has {quoted(same.rule.text)} (number {same.number}).")
    if same is not None:
        # Slack delivering this very command again (a retry, its trigger): answered as the first delivery was, from
        # the list as that one found it, not as a refusal of a duplicate.
        records = [r for r in records if r.id != same.id]
    assert customer.id is not None
    call.store.add_boundary(
        team_id=call.team_id,
        customer_id=customer.id,
        text=rule.text,
        kind=rule.kind,
        value=rule.value,
        created_by=call.user_id,
        now=call.now,
        request_key=request_key,  # a delivery at once with it finds the first's row
    )
    number = len(records) + 1
    policy = call.settings.boundary_policy
    in_force = [r for r in records if r.rule.status == "active"]
    if rules.can_activate([r.rule for r in records], policy, now=call.now).ok:
        hint = f"Introduce it when you're ready: `/partner boundary {command_name(customer.name)} activate {number}`."
    else:
        hint = f"It waits its turn: {quoted(in_force[0].rule.text)} is still settling in." if in_force else ""
    # "within 1 business day", "9–10am their time": as the list and the card say it
    shown = describe_value(rule) if rule.kind in ("response_time", "contact_window") else rule.value
    kind_note = f" ({rule.kind.replace('_', ' ')}{': ' + shown if shown else ''})"
    return {
        "text": f":handshake: Proposed {quoted(rule.text)}{kind_note} for "
        f"*{mrkdwn_name(customer.name)}* as number {number}. {hint}"
    }


def _activate(call: CommandCall, customer: Customer, raw: str) -> Reply:
    record, extra = _number(raw, "activate", _records(call, customer), customer)
    _nothing_after(extra, customer, "activate")
    require_boundary_change(call.client, call.settings, user_id=call.user_id, customer=customer)
    after, changed = activate_boundary(
        call.store,
        team_id=call.team_id,
        record=record,
        settings=call.settings,
        now=call.now,
        rescore_later=call.rescore_later,
    )
    # Not changed: also what Slack shows for its retry of this very command, the reminder plan the first answer gave.
    return {"text": activation_text(customer, after, call.settings, call.now, changed=changed)}


def _slip(call: CommandCall, customer: Customer, raw: str) -> Reply:
    typed = raw.split()
    if typed and len(typed) <= 2 and is_undo(typed[-1]) and (len(typed) == 1 or typed[0].lstrip("#").isdigit()):
        # `slip undo`, `slip 2 undo`: someone taking a slip back, not logging one more with the note "undo".
        raise UserError(slip_mend(customer.name, int(typed[0].lstrip("#")) if len(typed) == 2 else None))
    record, note = _number(raw, "slip", _records(call, customer), customer, active_by_default=True)
    logged = log_slip(
        call.store,
        customer=customer,
        record=record,
        by=call.user_id,
        note=note.strip(),  # kept as Slack escaped it: notes are shown in mrkdwn
        source="manual",
        idempotency_key=f"command:{call.trigger_id}",
        settings=call.settings,
        now=call.now,
        rescore_later=call.rescore_later,
    )
    outcome = slip_outcome(logged, customer, call.settings, call.now)
    return {"text": f"Logged a slip on {quoted(logged.record.rule.text)} with *{mrkdwn_name(customer.name)}*{outcome}"}


def _held(call: CommandCall, customer: Customer, raw: str) -> Reply:
    record, extra = _number(raw, "held", _records(call, customer), customer, active_by_default=True)
    _nothing_after(extra, customer, "held")
    require_boundary_change(call.client, call.settings, user_id=call.user_id, customer=customer)
    after, changed = hold_boundary(
        call.store,
        team_id=call.team_id,
        record=record,
        settings=call.settings,
        now=call.now,
        rescore_later=call.rescore_later,
    )
    text = f":white_check_mark: {quoted(after.rule.text)} is holding with *{mrkdwn_name(customer.name)}*."
    if not changed:
        text = f"{quoted(after.rule.text)} was already holding with *{mrkdwn_name(customer.name)}*."
    return {"text": text + next_up(call.store, customer=customer, settings=call.settings, now=call.now)}


def _retire(call: CommandCall, customer: Customer, raw: str) -> Reply:
    record, extra = _number(raw, "retire", _records(call, customer), customer)
    _nothing_after(extra, customer, "retire")
    require_boundary_change(call.client, call.settings, user_id=call.user_id, customer=customer)
    after, changed = retire_boundary(
        call.store,
        team_id=call.team_id,
        record=record,
        settings=call.settings,
        now=call.now,
        actor_id=call.user_id,
        rescore_later=call.rescore_later,
    )
    text = f"Retired {quoted(after.rule.text)} for *{mrkdwn_name(customer.name)}*; its history is kept."
    if not changed:  # also Slack's retry of this very command: what comes next, as the first answer said
        text = f"{quoted(after.rule.text)} was already retired for *{mrkdwn_name(customer.name)}*; its history is kept."
    return {"text": text + next_up(call.store, customer=customer, settings=call.settings, now=call.now)}


def _preview(call: CommandCall, customer: Customer, raw: str) -> Reply:
    # `preview` alone: the agreement being introduced, as `held` and `slip` alone mean it (the one whose reminders go).
    record, extra = _number(raw, "preview", _records(call, customer), customer, active_by_default=not raw.strip())
    _nothing_after(extra, customer, "preview")
    cal = planning.customer_calendar(customer, call.settings.default_tz)
    policy = call.settings.boundary_policy
    upcoming = planning.next_reminder_sent(customer, record.row.reminders, cal, after=call.now, policy=policy)
    day = upcoming[0] if upcoming else cal.local_date(call.now)
    # Needs in force at once whose reminders fall the same day go out as one message (the first one's): shown so.
    together = [record]
    if record.rule.status == "active" and upcoming:

        def next_day(r: BoundaryRecord) -> date | None:
            found = planning.next_reminder_sent(customer, r.row.reminders, cal, after=call.now, policy=policy)
            return found[0] if found else None

        together = [
            r
            for r in _records(call, customer)
            if r.rule.status == "active" and (r.id == record.id or next_day(r) == day)
        ]
    lead = together[0]
    seed = planning.template_seed(lead.id, day)
    template = None
    if planning.picks_a_wording(together):  # the words the planner will pick (plan_boundary_reminders)
        previous = planning.previous_template(call.store, customer, lead, before=upcoming[1] if upcoming else call.now)
        template = rules.pick_template(previous, seed)
    if len(together) > 1:
        wording = planning.several_reminder_wording(together, template)
    else:
        wording = planning.reminder_wording(record, template)
    wording = planning.whose_reminder(call.store, customer, wording)
    if record.row.reminder_text:
        source = "your own wording"
    else:
        source = f"one of {len(rules.REMINDER_TEMPLATES)} wordings, never the same twice in a row"
    if record.rule.status != "active":
        when = f"Reminders go out while it is active; it is {record.rule.status}."
    else:
        when = reminder_plan(customer, record, call.settings, call.now)
    change = f'Change it: `/partner boundary {command_name(customer.name)} wording {record.number} "<your words>"`'
    if record.row.reminder_text:
        change += f" or `… wording {record.number} reset`"
    quoted_wording = "\n".join(f">{line}" for line in wording.split("\n"))
    if len(together) > 1:
        source += (
            f"; with {len(together) - 1} other agreement{'s' if len(together) > 2 else ''} in force, in one message"
        )
    text = f"*Next reminder for {mrkdwn_name(customer.name)}* ({source}):\n{quoted_wording}\n{when}\n{change}."
    return {"text": text}


def _wording(call: CommandCall, customer: Customer, raw: str) -> Reply:
    record, rest = _number(raw, "wording", _records(call, customer), customer)
    usage = f'/partner boundary {command_name(customer.name)} wording {record.number} "<your words>"|reset'
    text, after = split_quoted(rest, usage, agreement=True)
    if after.strip():
        raise UserError(f"I didn't understand '{after.strip()}' after the wording. Usage: `{usage}`")
    text = text.strip()  # kept as Slack escaped it, like the agreement's text
    if not text:
        raise UserError(f"What should the reminder say? Usage: `{usage}`")
    _no_broadcast(text, usage)
    length = rules.visible_length(text)
    if length > MAX_WORDING:
        raise UserError(f"Keep the wording to {MAX_WORDING} characters (this is {length}). Usage: `{usage}`")
    if problem := rules.stored_too_long(text, MAX_STORED_WORDING):
        raise UserError(f"{problem} Usage: `{usage}`")
    require_boundary_change(call.client, call.settings, user_id=call.user_id, customer=customer)
    reset = text.lower() in ("reset", "default")
    call.store.edit_boundary(team_id=call.team_id, boundary_id=record.id, reminder_text=None if reset else text)
    if reset:
        return {"text": f"Reminders for {quoted(record.rule.text)} use my own varied wording again."}
    return {"text": f"Reminders for {quoted(record.rule.text)} will say:\n>{text}"}


def _reminders(call: CommandCall, customer: Customer, raw: str) -> Reply:
    record, rest = _number(raw, "reminders", _records(call, customer), customer)
    usage = (
        f"/partner boundary {command_name(customer.name)} reminders {record.number} "
        "off|weekly|<cadence, e.g. biweekly tue 10am>"
    )
    if not rest.strip():
        raise UserError(f"How often? Usage: `{usage}`")
    try:
        setting = planning.parse_reminder_setting(rest)
    except ValueError as e:
        raise UserError(f"{e} Usage: `{usage}`") from None
    require_boundary_change(call.client, call.settings, user_id=call.user_id, customer=customer)
    row = call.store.edit_boundary(team_id=call.team_id, boundary_id=record.id, reminders=setting)
    assert row is not None
    updated = call.store.boundary_record(team_id=call.team_id, boundary_id=record.id)
    assert updated is not None
    if setting == "off":
        return {"text": f"No more reminders for {quoted(record.rule.text)}."}
    plan = reminder_plan(customer, updated, call.settings, call.now)
    return {"text": f"Reminders for {quoted(record.rule.text)}: {plan}"}


def _no_broadcast(text: str, usage: str) -> None:
    """Reminders restate the text in the customer's channel every week: never as an @here/@channel/@everyone."""
    broadcast = rules.broadcast_in(text)
    if broadcast is not None:
        raise UserError(
            f"Leave out {broadcast}: I restate agreements in the customer's channel, and {broadcast} would notify "
            f"{rules.broadcast_reach(broadcast)} each time. Usage: `{usage}`"
        )


def _nothing_after(extra: str, customer: Customer, action: str) -> None:
    if extra.strip():
        usage = f"/partner boundary {command_name(customer.name)} {action} <n>"
        raise UserError(f"I didn't understand '{extra.strip()}' after the number. Usage: `{usage}`")


_HANDLERS: dict[str, Callable[[CommandCall, Customer, str], Reply]] = {
    "add": _add,
    "new": _add,
    "list": _list,
    "ls": _list,
    "activate": _activate,
    "slip": _slip,
    "slipped": _slip,
    "held": _held,
    "hold": _held,
    "holding": _held,
    "retire": _retire,
    "preview": _preview,
    "wording": _wording,
    "reminders": _reminders,
    "reminder": _reminders,
}
