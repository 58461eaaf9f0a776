"""App Home dashboard: sizes and Slack's limits, constant SQL, filters and paging, debounced publishing."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from slack_sdk.models.views import View
from sqlalchemy import delete, insert, update
from sqlmodel import Session, col, select

from bot.app import create_app, make_client
from bot.settings import Settings
from handlers.blocks.home import PAGE_SIZE, HomePage, HomeState, WeekSummary, customer_facts, home_view
from handlers.blocks.nudges import SNOOZE_ONE_DAY
from handlers.events.home import render_home
from handlers.home_publisher import HomePublisher, publisher_of, request_home_refresh
from handlers.ids import (
    CARD_ARCHIVE,
    CHECKIN_MODAL,
    HOME_NEXT_PAGE,
    HOME_OPEN_CARD,
    HOME_PREV_PAGE,
    HOME_SCOPE,
    HOME_SHOW,
    HOME_SNOOZE,
    HOME_TIER,
    NUDGE_SNOOZE_FOR,
    NUDGE_SNOOZE_MODAL,
    OPEN_CHECKIN,
)
from schedules.boundaries import review_boundaries
from schedules.health import daily_health
from schedules.jobs import run_tick
from schedules.sharing import check_channel_sharing
from storage.home import LastContact
from storage.models import Boundary, BoundarySlip, CheckIn, Customer, HealthSnapshot, Nudge, SurveyResponse
from storage.store import Store
from tests.e2e.test_followups_burst import ack_statements
from tests.e2e.test_foundation import modal_values
from tests.fake_slack import FakeSlack
from tests.slack_requests import SlackRequests
from tests.utils import SIGNING_SECRET, TEAM_ID, BotServer, FakeClock, counting_statements

NOW = datetime(2026, 11, 25, 15, 0, tzinfo=UTC)  # a Wednesday, 10:00 in New York
DANA, SAM = "U0001", "U0002"


def sample_home_views(now: datetime = NOW) -> list[dict[str, Any]]:
    """Home views that use every Home element (rows, filters, both paging buttons), for the manifest test."""
    customers = [
        Customer(id=i, team_id="T", name=f"C{i}", name_key=f"c{i}", created_at=now, updated_at=now, tier="partner")
        for i in range(1, PAGE_SIZE + 2)
    ]
    facts = [customer_facts(c, LastContact(), now=now, default_tz="UTC") for c in customers]
    page = HomePage(
        state=HomeState(page=1),
        rows=facts[PAGE_SIZE:],
        total=len(facts) + PAGE_SIZE,
        week=WeekSummary(),
        tiers=["partner"],
        trends={},
        boundaries={},
        has_customers=True,
    )
    return [home_view(page, now=now)]


def add_customers(store: Store, count: int, *, start: int = 0, owner: str = DANA, **fields: Any) -> list[int]:
    """Customers with a call, weekly health snapshots and an active boundary each, bulk-inserted."""
    if count <= 0:
        return []
    rows = []
    for i in range(start, start + count):
        row = {
            "team_id": TEAM_ID,
            "name": f"Customer {i:04d}",
            "name_key": f"customer {i:04d}",
            "owner_id": owner,
            "tz": "America/New_York",
            "cadence": ("daily", "weekly wed 14:00", "biweekly mon", None)[i % 4],
            "tier": ("partner", "supplier", None)[i % 3],
            "health_score": (i * 37) % 100,
            "health_band": ("red", "yellow", "green")[i % 3],
            "created_at": NOW - timedelta(days=120),
            "updated_at": NOW - timedelta(days=120),  # not changed today: see not_nudged_twice's one more statement
            "post_checkins": True,
        }
        row.update(fields)
        rows.append(row)
    with Session(store.engine) as session:
        session.execute(insert(Customer), rows)
        ids = list(
            session.exec(
                select(Customer.id)
                .where(col(Customer.name_key).in_([r["name_key"] for r in rows]))
                .order_by(col(Customer.name_key))
            )
        )
        checkins, snapshots, boundaries = [], [], []
        for i, cid in zip(range(start, start + count), ids, strict=True):
            checkins.append(
                {
                    "team_id": TEAM_ID,
                    "customer_id": cid,
                    "author_id": owner,
                    "mood": ("green", "yellow", "red")[i % 3],
                    "note": "ok",
                    "kind": "call",
                    "created_at": NOW - timedelta(days=i % 15),
                }
            )
            snapshots += [
                {
                    "team_id": TEAM_ID,
                    "customer_id": cid,
                    "day": NOW.date() - timedelta(days=day),
                    "score": (i + day) % 100,
                    "band": "green",
                    "components": {},
                    "computed_at": NOW,
                }
                for day in range(0, 84, 7)
            ]
            boundaries.append(
                {
                    "team_id": TEAM_ID,
                    "customer_id": cid,
                    "position": 0,
                    "kind": "custom",
                    "text": f"Replies within one business day ({i})",
                    "status": "active",
                    "created_at": NOW - timedelta(days=30),
                    "activated_at": NOW - timedelta(days=30),  # as activating one stamps it
                }
            )
        session.execute(insert(CheckIn), checkins)
        session.execute(insert(HealthSnapshot), snapshots)
        session.execute(insert(Boundary), boundaries)
        session.commit()
    return [int(i) for i in ids if i is not None]


def as_text(view: Any) -> str:
    return json.dumps(view, ensure_ascii=False)


def validated(view: dict[str, Any]) -> dict[str, Any]:
    """Slack's own model checks (block count, text lengths, element shapes) must pass."""
    model = View(**view)
    model.validate_json()
    assert len(view["blocks"]) <= 100
    assert len(view.get("private_metadata", "")) <= 3000
    return view


def row_text(view: dict[str, Any], customer_id: int) -> str:
    return str(next(b for b in view["blocks"] if b.get("block_id") == f"customer_{customer_id}")["text"]["text"])


def row_names(view: dict[str, Any]) -> list[str]:
    names = []
    for block in view["blocks"]:
        if str(block.get("block_id", "")).startswith("customer_") and block["type"] == "section":
            names.append(block["text"]["text"].split("*")[1])
    return names


# --------------------------------------------------------------------------- sizes and SQL


def test_home_for_0_1_99_250_and_1000_customers_is_valid_and_costs_the_same_sql(
    store: Store, fake_slack: FakeSlack
) -> None:
    counts: dict[int, int] = {}
    existing = 0
    for size in (0, 1, 99, 250, 1000):
        add_customers(store, size - existing, start=existing)
        existing = size
        for scope in ("mine", "team"):
            with counting_statements(store) as statements:
                view = render_home(
                    store=store,
                    team_id=TEAM_ID,
                    user_id=DANA,
                    state=HomeState(scope=scope),  # type: ignore[arg-type]
                    now=NOW,
                    default_tz="UTC",
                )
            counts[size] = len(statements)
            validated(view)
            assert len(row_names(view)) == min(size, PAGE_SIZE)
            text = as_text(view)
            assert (f"of {size} customer{'s' if size != 1 else ''}," in text) == (size > 0)
            assert ("Next →" in text) == (size > PAGE_SIZE)
    assert len(set(counts.values())) == 1, counts
    # every customer as a light row, the page's customers with last contacts, snapshots, boundaries, header counts
    assert counts[0] == 5, counts


def test_published_home_for_1000_customers_is_accepted_by_slack(
    store: Store, fake_slack: FakeSlack, slack: Any
) -> None:
    add_customers(store, 1000)
    reply = slack.event({"type": "app_home_opened", "user": DANA, "channel": "D0001", "tab": "home"})
    assert reply.status == 200
    home = fake_slack.published_home[DANA]
    assert len(home["blocks"]) <= 100
    state = json.loads(home["private_metadata"])
    assert state == {"scope": "mine", "show": "all", "tier": None, "page": 0}
    # When it was drawn, on the viewer's own clock (Slack formats the date); it said "updated 15:00 UTC".
    footer = as_text(next(b for b in home["blocks"] if b["type"] == "context"))
    assert f"riskiest first · page 1 of 50 · updated <!date^{int(NOW.timestamp())}^{{time}}|" in footer


def test_rows_show_health_trend_last_checkin_next_nudge_and_boundary(store: Store) -> None:
    (cid,) = add_customers(store, 1)
    with Session(store.engine) as session:
        customer = session.get_one(Customer, cid)
        customer.health_score, customer.health_band = 31, "red"
        session.add(customer)
        session.commit()
    view = render_home(store=store, team_id=TEAM_ID, user_id=DANA, state=HomeState(), now=NOW, default_tz="UTC")
    row = next(b for b in view["blocks"] if b.get("block_id") == f"customer_{cid}")["text"]["text"]
    assert ":red_circle: *31*" in row
    assert "last check-in just now" in row
    # Daily cadence at 09:00 New York; it is 10:00 there and a call was logged today: next one is tomorrow.
    assert "next call Thu 26 Nov 09:00 EST" in row
    assert "Replies within one business day (0)" in row
    assert "tier Partner" in row
    trend = row.split("`")[1]
    assert len(trend) == 12 and trend != "—"
    buttons = next(b for b in view["blocks"] if b.get("block_id") == f"customer_{cid}_actions")["elements"]
    assert [b["text"]["text"] for b in buttons[:3]] == ["Log check-in", "Snooze", "Open card"]
    menu = buttons[3]  # the surveys straight from Home; no "ask them": the channel is not shared with the customer
    assert [o["text"]["text"] for o in menu["options"]] == [
        "Scorecard",
        "Rate our level",
        "Practices self-check",
        "Edit profile",
    ]


def test_missing_health_shows_a_dash_and_header_counts_the_week(store: Store) -> None:
    add_customers(store, 3, health_score=None, health_band=None)
    ids = add_customers(store, 1, start=10, cadence="daily")
    with Session(store.engine) as session:
        # Customer 10's last call was 5 days ago: overdue, and today's 09:00 call is due.
        session.execute(
            update(CheckIn).where(col(CheckIn.customer_id) == ids[0]).values(created_at=NOW - timedelta(days=5))
        )
        session.execute(delete(HealthSnapshot))
        boundary = session.exec(select(Boundary).where(Boundary.customer_id == ids[0])).one()
        session.add(BoundarySlip(team_id=TEAM_ID, boundary_id=boundary.id or 0, at=NOW - timedelta(days=2)))
        session.add(
            Nudge(
                team_id=TEAM_ID,
                kind="survey_prompt",
                subject=f"customer:{ids[0]}",
                due_key="level:2026-11-24",
                customer_id=ids[0],
                due_at=NOW - timedelta(days=1),
                created_at=NOW - timedelta(days=1),
                status="sent",
            )
        )
        session.commit()
    view = render_home(store=store, team_id=TEAM_ID, user_id=DANA, state=HomeState(), now=NOW, default_tz="UTC")
    week = {f["text"].split("*")[1]: int(f["text"].split("\n")[1]) for f in view["blocks"][1]["fields"]}
    assert week == {"Calls due today": 1, "Overdue": 1, "Boundaries slipping": 1, "Surveys pending": 1}
    rows = [row_text(view, cid) for cid in range(1, 4)]
    assert rows and all(":white_circle: *—*  `—`" in r for r in rows)


def test_a_prompt_stays_pending_until_the_team_answers_that_very_survey(store: Store) -> None:
    (cid,) = add_customers(store, 1)
    asked = NOW - timedelta(days=1)

    def prompt(survey: str) -> Nudge:
        due_key = f"{survey}:{asked.date().isoformat()}"
        return Nudge(
            team_id=TEAM_ID,
            kind="survey_prompt",
            subject=f"customer:{cid}",
            due_key=due_key,
            customer_id=cid,
            due_at=asked,
            created_at=asked,
            status="sent",
        )

    def answer(survey: str, *, external: bool = False) -> SurveyResponse:
        return SurveyResponse(
            team_id=TEAM_ID,
            customer_id=cid,
            survey=survey,
            respondent_id="U0EXT1" if external else DANA,
            external=external,
            answers={"level": "partner"},
            created_at=NOW - timedelta(hours=1),
        )

    def pending() -> int:
        view = render_home(store=store, team_id=TEAM_ID, user_id=DANA, state=HomeState(), now=NOW, default_tz="UTC")
        return int(view["blocks"][1]["fields"][3]["text"].split("\n")[1])

    with Session(store.engine) as session:
        session.add_all([prompt("scorecard"), prompt("level"), answer("customer_view", external=True)])
        session.commit()
    assert pending() == 2  # the customer's people giving their view answers neither of the owner's prompts
    with Session(store.engine) as session:
        session.add(answer("level"))
        session.commit()
    assert pending() == 1  # the scorecard is still waiting


def test_risk_order_puts_red_and_overdue_first(store: Store) -> None:
    add_customers(store, 12)
    view = render_home(store=store, team_id=TEAM_ID, user_id=DANA, state=HomeState(), now=NOW, default_tz="UTC")
    order = [":red_circle:", ":large_yellow_circle:", ":large_green_circle:"]
    rows = [
        b["text"]["text"] for b in view["blocks"] if b["type"] == "section" and "customer_" in b.get("block_id", "")
    ]
    bands = [row.split("\n")[1].split(" ")[0] for row in rows]  # the health colour opens the second line
    assert len(bands) == 12 and bands == sorted(bands, key=order.index)
    reds = [row for row, b in zip(rows, bands, strict=True) if b == ":red_circle:"]
    overdue = [":rotating_light:" in row for row in reds]
    assert overdue == sorted(overdue, reverse=True)  # within a band, overdue customers come first


# --------------------------------------------------------------------------- filters and paging from Slack


def click(slack: SlackRequests, fake: FakeSlack, action_id: str, *, user: str = DANA, **action: Any) -> dict[str, Any]:
    """A signed click on the user's current Home; returns the Home published in answer."""
    before = len(fake.calls_to("views.publish"))
    home = fake.published_home[user]
    reply = slack.block_action(action_id, user_id=user, view=home, **action)
    assert reply.status == 200 and reply.body in (b"", b"{}")
    fake.wait_for("views.publish", before + 1)
    return validated(fake.published_home[user])


def test_filters_and_paging_through_signed_clicks(slack: SlackRequests, fake_slack: FakeSlack, store: Store) -> None:
    add_customers(store, 45)
    add_customers(store, 5, start=100, owner=SAM)
    slack.event({"type": "app_home_opened", "user": DANA, "channel": "D0001", "tab": "home"})
    first = fake_slack.published_home[DANA]
    assert len(row_names(first)) == PAGE_SIZE and "of 45 customers" in as_text(first)

    second = click(slack, fake_slack, HOME_NEXT_PAGE, value="1")
    assert json.loads(second["private_metadata"])["page"] == 1
    assert not set(row_names(first)) & set(row_names(second))
    third = click(slack, fake_slack, HOME_NEXT_PAGE, value="2")
    assert len(row_names(third)) == 5 and "Next →" not in as_text(third)
    back = click(slack, fake_slack, HOME_PREV_PAGE, value="1")
    assert row_names(back) == row_names(second)

    team = click(slack, fake_slack, HOME_SCOPE, action_type="static_select", selected_option={"value": "team"})
    assert json.loads(team["private_metadata"]) == {"scope": "team", "show": "all", "tier": None, "page": 0}
    assert "of 50 customers" in as_text(team)

    risky = click(slack, fake_slack, HOME_SHOW, action_type="static_select", selected_option={"value": "risk"})
    total = int(as_text(risky).split(" customers, riskiest first")[0].rsplit(" of ", 1)[1])
    # 30 of Dana's 45 and 3 of Sam's 5 are red or yellow; greens only when overdue or their last check-in was red
    # (every green of these: as `/partner list at-risk` and the digest count them).
    assert total == 50
    for block in risky["blocks"]:
        if block["type"] == "section" and block.get("block_id", "").startswith("customer_"):
            health = block["text"]["text"].split("\n")[1]
            assert (
                not health.startswith(":large_green_circle:")
                or ":rotating_light: *overdue*" in health
                or ":red_circle: last check-in" in health
            )

    tiered = click(slack, fake_slack, HOME_TIER, action_type="static_select", selected_option={"value": "supplier"})
    names = row_names(tiered)
    assert names and all(
        "tier Supplier" in b["text"]["text"]
        for b in tiered["blocks"]
        if b.get("block_id", "").startswith("customer_") and b["type"] == "section"
    )
    assert json.loads(tiered["private_metadata"])["tier"] == "supplier"

    # The state survives re-opening the tab: Slack sends the published view back with app_home_opened.
    slack.event({"type": "app_home_opened", "user": DANA, "channel": "D0001", "tab": "home", "view": tiered})
    assert json.loads(fake_slack.published_home[DANA]["private_metadata"])["tier"] == "supplier"


def test_a_viewer_who_owns_no_customer_is_pointed_to_the_whole_team(
    slack: SlackRequests, fake_slack: FakeSlack, store: Store
) -> None:
    add_customers(store, 3)
    fake_slack.add_user("U0007", name="kim")
    slack.event({"type": "app_home_opened", "user": "U0007", "channel": "D0007", "tab": "home"})
    text = as_text(fake_slack.published_home["U0007"])
    assert "You don't own any customers yet. Pick *Whole team* above" in text and "No customers yet" not in text
    team = click(
        slack, fake_slack, HOME_SCOPE, user="U0007", action_type="static_select", selected_option={"value": "team"}
    )
    assert len(row_names(team)) == 3


def test_the_first_home_of_a_new_workspace_welcomes_and_says_how_to_add_the_first_customer(
    slack: SlackRequests, fake_slack: FakeSlack, store: Store
) -> None:
    """Nobody has a customer yet: the tab said "Pick *Whole team* above to see everyone's", and Whole team then said
    "No customer matches these filters" though no filter was chosen."""
    slack.event({"type": "app_home_opened", "user": DANA, "channel": "D0001", "tab": "home"})
    fake_slack.wait_for("views.publish", 1)
    for home in (
        validated(fake_slack.published_home[DANA]),
        click(slack, fake_slack, HOME_SCOPE, action_type="static_select", selected_option={"value": "team"}),
    ):
        text = as_text(home)
        assert "Welcome to Partner.* Your team has no customers here yet." in text
        assert "`/partner add Acme #acme @owner`" in text
        assert "Whole team* above" not in text and "No customer matches" not in text
    # Once the team has one, someone who owns none is pointed to it, and a filter that matches none says so.
    add_customers(store, 1, owner=SAM)
    everyone = click(slack, fake_slack, HOME_SCOPE, action_type="static_select", selected_option={"value": "mine"})
    assert "Pick *Whole team* above" in as_text(everyone) and "Welcome" not in as_text(everyone)
    team = click(slack, fake_slack, HOME_SCOPE, action_type="static_select", selected_option={"value": "team"})
    assert len(row_names(team)) == 1
    nobody = click(slack, fake_slack, HOME_TIER, action_type="static_select", selected_option={"value": "gold"})
    assert "No customer matches these filters." in as_text(nobody) and "Welcome" not in as_text(nobody)


@pytest.mark.parametrize(
    ("fault", "retried"),
    [
        ({"status": 429, "retry_after": 5}, True),  # longer than may be waited while Slack waits for the answer
        ({"status": 503, "times": 3}, True),  # the client's two retries fail too
        ({"error": "invalid_blocks"}, False),  # Slack refused the view itself: the same view would be refused again
        ({"error": "invalid_auth"}, False),
    ],
)
def test_a_home_slack_was_too_busy_to_take_when_opened_is_published_after_the_answer(
    bot: BotServer, slack: SlackRequests, fake_slack: FakeSlack, store: Store, fault: dict[str, Any], retried: bool
) -> None:
    """A first look at the tab stayed blank (a later look stale) until the user happened to open it again."""
    add_customers(store, 2)
    fake_slack.fail_next("views.publish", **fault)
    assert slack.event({"type": "app_home_opened", "user": DANA, "channel": "D0001", "tab": "home"}).status == 200
    assert DANA not in fake_slack.published_home
    publisher = publisher_of(bot.app)
    assert publisher is not None
    assert publisher.pending() == ({(TEAM_ID, DANA)} if retried else set())
    publisher.flush()  # the debounced refresh's timer firing, after the answer
    if retried:
        assert row_names(validated(fake_slack.published_home[DANA])) == ["Customer 0000", "Customer 0001"]
    else:
        assert DANA not in fake_slack.published_home


def test_a_forged_filter_value_falls_back_to_the_defaults(
    slack: SlackRequests, fake_slack: FakeSlack, store: Store
) -> None:
    add_customers(store, 2)
    slack.event({"type": "app_home_opened", "user": DANA, "channel": "D0001", "tab": "home"})
    home = click(slack, fake_slack, HOME_SCOPE, action_type="static_select", selected_option={"value": "everyone"})
    assert json.loads(home["private_metadata"])["scope"] == "mine"
    forged = dict(fake_slack.published_home[DANA], private_metadata="{not json")
    before = len(fake_slack.calls_to("views.publish"))
    slack.block_action(HOME_NEXT_PAGE, view=forged, value="99")
    fake_slack.wait_for("views.publish", before + 1)
    assert json.loads(fake_slack.published_home[DANA]["private_metadata"])["page"] == 0  # clamped to the last page


def test_open_card_shows_the_customer(slack: SlackRequests, fake_slack: FakeSlack, store: Store) -> None:
    (cid,) = add_customers(store, 1)
    reply = slack.block_action(HOME_OPEN_CARD, value=str(cid), view={"id": "VHOME", "type": "home"})
    assert reply.status == 200
    (opened,) = fake_slack.calls_to("views.open")
    text = as_text(opened.params["view"])
    assert "Customer 0000" in text and "America/New_York" in text and "next call" in text
    validated(opened.params["view"])


def test_snooze_opens_the_cadence_snooze_modal_for_the_customer(
    slack: SlackRequests, fake_slack: FakeSlack, store: Store
) -> None:
    (cid,) = add_customers(store, 1)
    reply = slack.block_action(HOME_SNOOZE, value=str(cid), view={"id": "VHOME", "type": "home"})
    assert reply.status == 200
    (opened,) = fake_slack.calls_to("views.open")
    assert opened.params["view"]["callback_id"] == NUDGE_SNOOZE_MODAL
    assert json.loads(opened.params["view"]["private_metadata"]) == {"nudge_id": None, "customer_id": cid}


# Past an INTEGER column (PostgreSQL refuses the query), past SQLite's 64 bits, past Python's int() digit limit.
@pytest.mark.parametrize(
    "value", ["9999", "2147483648", "9" * 20, "9" * 5000], ids=["missing", "int32+1", "20 digits", "5000 digits"]
)
@pytest.mark.parametrize("action_id", [HOME_OPEN_CARD, HOME_SNOOZE, OPEN_CHECKIN])
def test_a_row_button_for_a_missing_customer_says_so(
    slack: SlackRequests, fake_slack: FakeSlack, action_id: str, value: str
) -> None:
    reply = slack.block_action(action_id, value=value, view={"id": "VHOME", "type": "home"})
    assert reply.status == 200
    assert fake_slack.calls_to("views.open") == []
    told = [c.params["text"] for c in fake_slack.calls_to("chat.postMessage")]
    assert told == ["That customer no longer exists."], told


@pytest.mark.parametrize("action_id", [HOME_OPEN_CARD, HOME_SNOOZE, OPEN_CHECKIN])
def test_a_row_button_for_a_customer_archived_since_says_so_and_how_to_restore(
    slack: SlackRequests, fake_slack: FakeSlack, store: Store, action_id: str
) -> None:
    (cid,) = add_customers(store, 1)
    store.archive_customer(team_id=TEAM_ID, customer_id=cid, actor_id="U0001", now=datetime.now(UTC))
    assert slack.block_action(action_id, value=str(cid), view={"id": "VHOME", "type": "home"}).status == 200
    # …and Log check-in on the card, a command's reply only its reader sees (Slack sends no `message` for it)
    assert slack.block_action(OPEN_CHECKIN, value=str(cid), ephemeral=True).status == 200
    assert fake_slack.calls_to("views.open") == []
    told = [c.params["text"] for c in fake_slack.calls_to("chat.postMessage") + fake_slack.calls_to("response_url")]
    archived = "*Customer 0000* is archived. Bring it back with `/partner restore Customer 0000`."
    assert told == [archived, archived], told  # kept with its history, not "no longer exists"


# --------------------------------------------------------------------------- debounced publishing


class ManualTimers:
    """A timer factory the test fires by hand: no sleeping, no wall clock."""

    def __init__(self) -> None:
        self.armed: list[tuple[float, Callable[[], None]]] = []
        self.cancelled = 0

    def __call__(self, delay: float, fire: Callable[[], None]) -> ManualTimers.Timer:
        timers = self

        class Timer:
            def start(self) -> None:
                timers.armed.append((delay, fire))

            def cancel(self) -> None:
                timers.cancelled += 1

        return Timer()

    def fire_all(self) -> None:
        armed, self.armed = self.armed, []
        for _delay, fire in armed:
            fire()


@pytest.fixture
def debounced_bot(
    settings: Settings, store: Store, clock: FakeClock
) -> Iterator[tuple[BotServer, HomePublisher, ManualTimers]]:
    timers = ManualTimers()
    publisher = HomePublisher(timer=timers)
    server = BotServer(create_app(settings=settings, store=store, clock=clock, home_publisher=publisher), store).start()
    yield server, publisher, timers
    server.stop()
    publisher.close()


def test_a_burst_of_changes_publishes_each_home_once(
    debounced_bot: tuple[BotServer, HomePublisher, ManualTimers], fake_slack: FakeSlack, store: Store
) -> None:
    server, publisher, timers = debounced_bot
    ids = add_customers(store, 3)
    for i, cid in enumerate(ids):  # three changes, each followed by the refresh request its handler makes
        store.record_checkin(team_id=TEAM_ID, customer_id=cid, author_id=DANA, mood="red", note=f"n{i}", now=NOW)
        request_home_refresh(server.app, TEAM_ID, [DANA, SAM, DANA, None])
    assert fake_slack.calls_to("views.publish") == []  # nothing was published on the caller's thread
    # One timer per user and one for whoever looks at the whole team, not per change.
    assert [delay for delay, _ in timers.armed] == [2.0, 2.0, 2.0]
    assert publisher.pending() == {(TEAM_ID, DANA), (TEAM_ID, SAM)}
    timers.fire_all()
    published = fake_slack.calls_to("views.publish")
    assert sorted(c.params["user_id"] for c in published) == [DANA, SAM]
    assert as_text(fake_slack.published_home[DANA]).count(":red_circle: last check-in just now") == 3
    # A later change starts a new burst.
    request_home_refresh(publisher, TEAM_ID, [DANA])
    timers.fire_all()
    assert len(fake_slack.calls_to("views.publish")) == 3


def test_a_refresh_keeps_the_filters_the_user_chose(
    debounced_bot: tuple[BotServer, HomePublisher, ManualTimers], fake_slack: FakeSlack, store: Store
) -> None:
    server, _publisher, timers = debounced_bot
    add_customers(store, 2)
    add_customers(store, 2, start=10, owner=SAM)
    slack = SlackRequests(server.url, signing_secret=SIGNING_SECRET, team_id=TEAM_ID, fake=fake_slack)
    slack.event({"type": "app_home_opened", "user": DANA, "channel": "D0001", "tab": "home"})
    click(slack, fake_slack, HOME_SCOPE, action_type="static_select", selected_option={"value": "team"})
    request_home_refresh(server.app, TEAM_ID, [DANA])
    timers.fire_all()
    assert json.loads(fake_slack.published_home[DANA]["private_metadata"])["scope"] == "team"


def test_the_threaded_publisher_folds_a_burst_into_one_publish(store: Store, fake_slack: FakeSlack) -> None:
    add_customers(store, 1)
    published: list[tuple[str, str]] = []
    done = threading.Event()

    def publish(team: str, user: str, state: HomeState) -> None:
        published.append((team, user))
        done.set()

    publisher = HomePublisher(publish, delay=0.05)
    for _ in range(10):
        assert publisher.request(TEAM_ID, [DANA]) in (0, 1)
    assert done.wait(timeout=5)  # the one bounded wait: the real background timer firing
    publisher.close()
    assert published == [(TEAM_ID, DANA)]


def test_publish_failures_are_logged_not_raised(store: Store) -> None:
    timers = ManualTimers()

    def broken(team: str, user: str, state: HomeState) -> None:
        raise RuntimeError("Slack is down")

    publisher = HomePublisher(broken, timer=timers)
    publisher.request(TEAM_ID, [DANA])
    timers.fire_all()  # does not raise
    assert publisher.pending() == set()
    publisher.request(TEAM_ID, [DANA])
    assert publisher.pending() == {(TEAM_ID, DANA)}


def test_home_state_round_trips_and_rejects_junk() -> None:
    state = HomeState(scope="team", show="risk", tier="partner", page=3)
    assert HomeState.from_metadata(state.to_metadata()) == state
    for junk in (None, "", "[]", '{"scope": "all", "page": -1}', '{"page": "2"}'):
        assert HomeState.from_metadata(junk) == HomeState()


def test_only_a_call_satisfies_the_cadence_unless_any_checkin_does(store: Store) -> None:
    (cid,) = add_customers(store, 1, start=20, cadence="daily")  # daily at 09:00 New York; it is 10:00 there
    with Session(store.engine) as session:  # today's contact was a written note, not a call
        session.execute(
            update(CheckIn)
            .where(col(CheckIn.customer_id) == cid)
            .values(kind="async", created_at=NOW - timedelta(minutes=30))
        )
        session.commit()

    def week(view: dict[str, Any]) -> dict[str, int]:
        return {f["text"].split("*")[1]: int(f["text"].split("\n")[1]) for f in view["blocks"][1]["fields"]}

    calls_only = render_home(store=store, team_id=TEAM_ID, user_id=DANA, state=HomeState(), now=NOW, default_tz="UTC")
    anything = render_home(
        store=store, team_id=TEAM_ID, user_id=DANA, state=HomeState(), now=NOW, default_tz="UTC", any_checkin=True
    )
    assert week(calls_only)["Calls due today"] == 1 and week(calls_only)["Overdue"] == 1  # no call ever logged
    assert week(anything)["Calls due today"] == 0 and week(anything)["Overdue"] == 0
    assert "next call Thu 26 Nov 09:00 EST" in row_text(anything, cid)


# --------------------------------------------------------------------------- refreshed after changes


@pytest.fixture
def live_home_bot(settings: Settings, store: Store, clock: FakeClock) -> Iterator[BotServer]:
    """The real app with its real debounced publisher (timer threads), folding bursts of 50 ms."""
    publisher = HomePublisher(delay=0.05)
    server = BotServer(create_app(settings=settings, store=store, clock=clock, home_publisher=publisher), store)
    yield server.start()
    server.stop()
    server.app.drain()
    publisher.close()


def test_a_checkin_republishes_the_owners_and_the_authors_home(
    live_home_bot: BotServer, fake_slack: FakeSlack, store: Store
) -> None:
    slack = SlackRequests(live_home_bot.url, signing_secret=SIGNING_SECRET, team_id=TEAM_ID, fake=fake_slack)
    assert slack.command("add Acme Corp <@U0001|dana>", user_id=SAM).status == 200
    fake_slack.wait_for("views.publish", 2)  # a new customer: its owner's Home and the adder's
    assert "no check-in yet" in as_text(fake_slack.published_home[DANA])

    assert "Logged a red" in slack.command("checkin acme red champion left the company", user_id=SAM).json()["text"]
    published = fake_slack.wait_for("views.publish", 4)
    assert sorted(c.params["user_id"] for c in published[2:]) == [DANA, SAM]
    home = validated(fake_slack.published_home[DANA])  # Dana never reopened her Home
    assert ":red_circle: last check-in just now" in as_text(home)
    customer = store.customer_by_name(team_id=TEAM_ID, name="acme corp")
    assert customer is not None and customer.health_score is not None
    assert f"{customer.health_score}" in as_text(home)  # published after the check-in's new health score

    # The same command delivered again (a Slack retry) changes nothing, so nothing is re-published.
    again = slack.command(
        "checkin acme red champion left the company",
        user_id=SAM,
        trigger_id=slack.last_payload["trigger_id"],
        retry_num=1,
    )
    assert again.status == 200
    live_home_bot.app.drain()  # its follow-up has run…
    publisher_of(live_home_bot.app).flush()  # …and any refresh it had asked for is published now
    assert len(fake_slack.calls_to("views.publish")) == 4


@pytest.mark.parametrize(
    "text",
    [
        "edit acme tz=Europe/Berlin",
        "archive acme",
        "cadence acme weekly tue 10:00",
        "launch acme on",
        "snooze acme 2d offsite",
        "pause acme",
        'boundary acme add "Replies within a business day" kind=response_time value=1d',
    ],
)
def test_each_change_to_a_customer_refreshes_its_owners_and_the_actors_home(
    bot: BotServer, slack: SlackRequests, store: Store, text: str
) -> None:
    store.add_customer(team_id=TEAM_ID, name="Acme", created_by=DANA, now=NOW, owner_id=DANA, tz="America/New_York")
    reply = slack.command(text, user_id=SAM)  # Sam is a workspace admin
    assert reply.status == 200 and "can't" not in reply.json()["text"], reply.text
    bot.app.drain()  # the command's follow-up asks for the refresh, after the ack
    assert publisher_of(bot.app).pending() == {(TEAM_ID, DANA), (TEAM_ID, SAM)}  # (tests flush by hand)


def test_a_checkin_from_the_modal_refreshes_the_owners_and_the_authors_home(
    bot: BotServer, slack: SlackRequests, store: Store
) -> None:
    customer = store.add_customer(team_id=TEAM_ID, name="Acme", created_by=DANA, now=NOW, owner_id=DANA)
    values = modal_values(customer.id, "yellow", "pricing questions", call=True)
    assert slack.view_submission(CHECKIN_MODAL, values, user_id=SAM).status == 200
    bot.app.drain()  # the modal's follow-up asks for the refresh once the check-in has been followed up
    assert publisher_of(bot.app).pending() == {(TEAM_ID, DANA), (TEAM_ID, SAM)}


def test_card_and_modal_changes_refresh_the_owners_home(bot: BotServer, slack: SlackRequests, store: Store) -> None:
    customer = store.add_customer(team_id=TEAM_ID, name="Acme", created_by=DANA, now=NOW, owner_id=DANA)
    publisher = publisher_of(bot.app)
    assert publisher is not None
    values = {"for": {NUDGE_SNOOZE_FOR: {"type": "radio_buttons", "selected_option": {"value": SNOOZE_ONE_DAY}}}}
    metadata = json.dumps({"nudge_id": None, "customer_id": customer.id})
    assert slack.view_submission(NUDGE_SNOOZE_MODAL, values, private_metadata=metadata, user_id=SAM).status == 200
    assert publisher.pending() == {(TEAM_ID, DANA), (TEAM_ID, SAM)}
    publisher.flush()
    assert slack.block_action(CARD_ARCHIVE, value=str(customer.id), message={"ts": "1.1"}).status == 200
    assert publisher.pending() == {(TEAM_ID, DANA)}


def home_week(home: dict[str, Any]) -> dict[str, int]:
    fields = next(b for b in home["blocks"] if b.get("block_id") == "home_week")["fields"]
    return {f["text"].split("*")[1]: int(f["text"].split("\n")[1]) for f in fields}


def test_a_survey_prompt_the_scheduler_sends_shows_as_pending_on_the_owners_home(
    bot: BotServer, slack: SlackRequests, fake_slack: FakeSlack, store: Store, clock: FakeClock, settings: Settings
) -> None:
    assert slack.command("add Acme Corp <@U0001|dana> tz=UTC").status == 200
    bot.settle()
    publisher = publisher_of(bot.app)
    assert publisher is not None
    client = make_client(settings)
    quarter = clock.now + timedelta(days=91)  # the scorecard and level prompts fall due at 10:00 that day
    clock.set(quarter)  # the bot's clock, which Home is rendered at
    daily_health(store=store, client=client, now=quarter.replace(hour=0, minute=30), settings=settings)
    publisher.flush()  # the day's new score is on Dana's Home; no prompt yet
    assert home_week(fake_slack.published_home[DANA])["Surveys pending"] == 0

    report = run_tick(store=store, client=client, now=quarter, settings=settings)
    assert report.done["survey_prompts"] == 2 and report.done["health"] == 0  # already scored today
    assert publisher.pending() == {(TEAM_ID, DANA)}
    publisher.flush()
    assert home_week(fake_slack.published_home[DANA])["Surveys pending"] == 2  # Dana never reopened her Home


def test_an_agreement_the_scheduler_marks_held_leaves_the_owners_home(
    bot: BotServer, fake_slack: FakeSlack, store: Store, settings: Settings
) -> None:
    store.ensure_workspace(team_id=TEAM_ID, now=NOW)
    (cid,) = add_customers(store, 1)
    with Session(store.engine) as session:  # in force four weeks without a slip: it has held
        session.execute(update(Boundary).values(activated_at=NOW - timedelta(weeks=4)))
        session.commit()
    publisher = publisher_of(bot.app)
    assert publisher is not None
    slack = SlackRequests(bot.url, signing_secret=SIGNING_SECRET, team_id=TEAM_ID, fake=fake_slack)
    slack.event({"type": "app_home_opened", "user": DANA, "channel": "D0001", "tab": "home"})
    assert "Replies within one business day (0)" in row_text(fake_slack.published_home[DANA], cid)

    assert review_boundaries(store=store, client=make_client(settings), now=NOW, settings=settings) >= 1
    assert publisher.pending() == {(TEAM_ID, DANA)}
    publisher.flush()
    assert "Replies within one business day" not in row_text(fake_slack.published_home[DANA], cid)


def test_the_trend_ends_with_todays_score_on_a_monday_morning(
    slack: SlackRequests, fake_slack: FakeSlack, store: Store, clock: FakeClock
) -> None:
    # Monday 30 Nov, 08:30 in New York: the daily job scored Acme at 00:05 (52), a week of 80s before.
    monday_morning = datetime(2026, 11, 30, 13, 30, tzinfo=UTC)
    clock.set(monday_morning)
    (cid,) = add_customers(store, 1, health_score=52, health_band="yellow")
    with Session(store.engine) as session:
        session.execute(delete(HealthSnapshot))
        session.execute(
            insert(HealthSnapshot),
            [
                {
                    "team_id": TEAM_ID,
                    "customer_id": cid,
                    "day": monday_morning.date() - timedelta(days=days_ago),
                    "score": 52 if days_ago == 0 else 80,
                    "band": "yellow" if days_ago == 0 else "green",
                    "components": {},
                    "computed_at": monday_morning - timedelta(days=days_ago, hours=8, minutes=25),
                }
                for days_ago in range(7)
            ],
        )
        session.commit()
    slack.event({"type": "app_home_opened", "user": DANA, "channel": "D0001", "tab": "home"})
    trend = row_text(fake_slack.published_home[DANA], cid).split("`")[1]
    assert trend.endswith("▇▅"), trend  # last week's 80, then this week's 52 (it was "▇·": no score this week)

    assert slack.block_action(HOME_OPEN_CARD, value=str(cid), view=fake_slack.published_home[DANA]).status == 200
    (opened,) = fake_slack.calls_to("views.open")
    assert "▇▅`" in as_text(opened.params["view"])  # the card's trend, too


def test_a_customers_channel_shared_or_unshared_redraws_its_owners_home_with_or_without_ask_them(
    bot: BotServer, slack: SlackRequests, fake_slack: FakeSlack, store: Store, settings: Settings
) -> None:
    (cid,) = add_customers(store, 1, channel_id="C0ACME", channel_shared=False)
    publisher = publisher_of(bot.app)
    assert publisher is not None
    slack.event({"type": "app_home_opened", "user": DANA, "channel": "D0001", "tab": "home"})
    assert "Ask them how they see us" not in as_text(fake_slack.published_home[DANA])

    assert slack.event({"type": "channel_shared", "channel": "C0ACME", "connected_team_id": "T0CUST"}).status == 200
    assert publisher.pending() == {(TEAM_ID, DANA)}
    publisher.flush()
    menu = next(b for b in fake_slack.published_home[DANA]["blocks"] if b.get("block_id") == f"customer_{cid}_actions")
    assert "Ask them how they see us" in as_text(menu)  # Dana never reopened her Home

    assert slack.event({"type": "channel_unshared", "channel": "C0ACME", "is_ext_shared": False}).status == 200
    publisher.flush()
    assert "Ask them how they see us" not in as_text(fake_slack.published_home[DANA])

    # Shared while Partner was down: the tick's look-up learns it, and redraws the Home too.
    fake_slack.add_channel("C0ACME", name="acme", is_ext_shared=True)
    with Session(store.engine) as session:
        session.execute(update(Customer).values(channel_shared_checked_at=None))
        session.commit()
    assert check_channel_sharing(store=store, client=make_client(settings), now=NOW) == 1
    assert publisher.pending() == {(TEAM_ID, DANA)}
    publisher.flush()
    assert "Ask them how they see us" in as_text(fake_slack.published_home[DANA])


def test_a_change_to_a_teammates_customer_redraws_the_home_of_whoever_looks_at_the_whole_team(
    bot: BotServer, slack: SlackRequests, fake_slack: FakeSlack, store: Store
) -> None:
    (sams,) = add_customers(store, 1, owner=SAM)
    with Session(store.engine) as session:  # an active agreement as the app stores one: with its start
        session.execute(update(Boundary).values(activated_at=NOW - timedelta(days=30)))
        session.commit()
    publisher = publisher_of(bot.app)
    assert publisher is not None
    slack.event({"type": "app_home_opened", "user": DANA, "channel": "D0001", "tab": "home"})
    team = click(slack, fake_slack, HOME_SCOPE, action_type="static_select", selected_option={"value": "team"})
    assert "last check-in just now" in row_text(team, sams)
    publisher.flush()

    assert "Logged a red" in slack.command("checkin customer 0000 red lost the budget", user_id=SAM).json()["text"]
    bot.app.drain()
    # Sam's own, and the team's: Dana's whole-team view, read when it fires.
    assert publisher.pending() == {(TEAM_ID, SAM)} and publisher.pending_teams() == {TEAM_ID}
    publisher.flush()
    home = fake_slack.published_home[DANA]
    assert json.loads(home["private_metadata"])["scope"] == "team"
    assert ":red_circle: last check-in just now" in row_text(home, sams)


def test_a_change_answered_on_the_spot_reads_nobodys_home_and_whoever_looks_at_the_whole_team_still_sees_it(
    bot: BotServer, slack: SlackRequests, fake_slack: FakeSlack, store: Store
) -> None:
    """Who looks at the whole team was read on the answering thread of every change; now when the refresh fires."""
    (sams,) = add_customers(store, 1, owner=SAM)
    publisher = publisher_of(bot.app)
    assert publisher is not None
    slack.event({"type": "app_home_opened", "user": DANA, "channel": "D0001", "tab": "home"})
    click(slack, fake_slack, HOME_SCOPE, action_type="static_select", selected_option={"value": "team"})
    publisher.flush()
    published = len(fake_slack.calls_to("views.publish"))
    values = {"for": {NUDGE_SNOOZE_FOR: {"type": "radio_buttons", "selected_option": {"value": SNOOZE_ONE_DAY}}}}
    metadata = json.dumps({"nudge_id": None, "customer_id": sams})
    statements, stop = ack_statements(store)
    try:
        assert slack.view_submission(NUDGE_SNOOZE_MODAL, values, private_metadata=metadata, user_id=SAM).status == 200
    finally:
        stop()
    assert statements and not [s for s in statements if "home_state" in s], statements
    bot.app.drain()
    publisher.flush()
    homes = [c.params["user_id"] for c in fake_slack.calls_to("views.publish")[published:]]
    assert sorted(homes) == [DANA, SAM]  # Sam's own, and Dana's whole-team view: each once


def test_the_digest_counts_the_customers_at_risk_and_overdue_that_home_shows_at_the_same_moment(
    slack: SlackRequests, fake_slack: FakeSlack, store: Store, clock: FakeClock
) -> None:
    """One team, some customers paused or snoozed: the team digest's "At risk (N)" is the whole team's Home filtered to
    at risk, and the owner's own digest's "Overdue (N)" is the overdue count in their Home's header."""
    ids = add_customers(store, 30)
    add_customers(store, 15, start=100, owner=SAM)
    with Session(store.engine) as session:
        session.execute(
            update(Customer).where(col(Customer.id).in_(ids[:3])).values(paused_at=NOW - timedelta(days=20))
        )
        session.execute(
            update(Customer).where(col(Customer.id).in_(ids[3:6])).values(snoozed_until=NOW + timedelta(days=3))
        )
        session.commit()
    clock.set(NOW + timedelta(days=2, hours=3))
    slack.event({"type": "app_home_opened", "user": DANA, "channel": "D0001", "tab": "home"})
    fake_slack.wait_for("views.publish", 1)
    header = next(b for b in fake_slack.published_home[DANA]["blocks"] if b.get("block_id") == "home_week")
    (overdue_on_home,) = [int(f["text"].split("\n")[1]) for f in header["fields"] if "*Overdue*" in f["text"]]
    click(slack, fake_slack, HOME_SCOPE, action_type="static_select", selected_option={"value": "team"})
    at_risk = click(slack, fake_slack, HOME_SHOW, action_type="static_select", selected_option={"value": "risk"})
    (footer,) = [b for b in at_risk["blocks"] if b["type"] == "context" and "riskiest first" in as_text(b)]
    at_risk_on_home = int(as_text(footer).split(" of ")[1].split(" customers")[0])
    assert overdue_on_home > 0 and 0 < at_risk_on_home <= 45

    team = as_text(slack.command("digest team").json())
    mine = as_text(slack.command("digest mine").json())
    assert f"At risk ({at_risk_on_home})" in team, team
    assert f"Overdue ({overdue_on_home})" in mine, mine
