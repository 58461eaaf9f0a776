"""CSV exports of check-ins and survey answers: streamed from the database, safe to open in a spreadsheet.

Rows are read with `yield_per`, so an export of a million check-ins holds one batch in memory, and written
with the csv module (RFC 4180 quoting: commas, quotes and newlines survive). Every cell that a spreadsheet
would run as a formula — one starting with `=`, `+`, `-`, `@`, a tab or a carriage return — gets a leading
apostrophe (OWASP's "CSV injection" advice); notes read as people read them in Slack (`@dana`, `#acme`, a link's
label and address) and come back from Slack's `&lt;` `&gt;` `&amp;` escaping.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import UTC, date, datetime
from typing import Any, TextIO

from sqlalchemy import func
from sqlmodel import col, select

from domain.surveys import SURVEYS
from handlers.parsing import words_as_read
from storage.base import StoreBase
from storage.models import CheckIn, Customer, SurveyResponse

CHECKIN_COLUMNS: tuple[str, ...] = (
    "checkin_id",
    "created_at",
    "customer_id",
    "customer",
    "owner_id",
    "author_id",
    "kind",
    "mood",
    "note",
    "next_step",
    "next_due",
    "response_days",
    "permalink",
)
SURVEY_COLUMNS: tuple[str, ...] = (
    "response_id",
    "created_at",
    "customer_id",
    "customer",
    "survey",
    "respondent_id",
    "external",
    "score",
    "question",
    "question_label",
    "answer",
)
FORMULA_LEADS = ("=", "+", "-", "@", "\t", "\r")
BATCH = 1000
ENCODING = "utf-8-sig"  # with a BOM, so spreadsheet apps read emoji and accents as UTF-8


def unescape_slack(text: str) -> str:
    """Slack escapes exactly `<`, `>` and `&` in message text; `&amp;` last so `&amp;lt;` stays `&lt;`."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def csv_cell(value: Any) -> str:
    """One value as text a spreadsheet shows but never evaluates."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float):
        return f"{value:g}"  # numbers Partner computed stay numbers; only text can carry a formula
    if isinstance(value, int):
        return str(value)
    if isinstance(value, (list, tuple)):
        value = "; ".join(str(v) for v in value)
    text = str(value)
    return "'" + text if text.startswith(FORMULA_LEADS) else text


def write_csv(
    out: TextIO,
    columns: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    progress: Callable[[int], None] | None = None,
    every: int = BATCH,
) -> int:
    """Header plus rows (CRLF line ends, as RFC 4180); calls `progress(rows_so_far)` every `every` rows."""
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(columns)
    count = 0
    for row in rows:
        writer.writerow([csv_cell(v) for v in row])
        count += 1
        if progress is not None and count % every == 0:
            progress(count)
    if progress is not None:
        progress(count)
    return count


def _text(value: str | None, person: Callable[[str], str] | None = None) -> str | None:
    """What was typed, as people read it in Slack: a spreadsheet shows `<@U0456|dana>` and `<https://…|the deal>`
    as Slack's wire format, which nobody typed or read (handlers.parsing.words_as_read; `person` names someone Slack
    sent without a name)."""
    return words_as_read(value, person=person) if value else value


def _answer_text(value: Any) -> Any:
    if isinstance(value, str):
        return words_as_read(value)
    if isinstance(value, list):
        return [words_as_read(v) if isinstance(v, str) else v for v in value]
    return value


def _export_filter(
    model: type[CheckIn] | type[SurveyResponse], team_id: str, customer_id: int | None, since: datetime | None
) -> list[Any]:
    """The rows an export covers: the team's, of one customer or all, from `since` on."""
    where: list[Any] = [model.team_id == team_id]
    if customer_id is not None:
        where.append(model.customer_id == customer_id)
    if since is not None:
        where.append(model.created_at >= since)
    return where


class ExportQueries(StoreBase):
    def count_export_checkins(
        self, *, team_id: str, customer_id: int | None = None, since: datetime | None = None
    ) -> int:
        with self.session() as session:
            query = select(func.count(col(CheckIn.id))).where(*_export_filter(CheckIn, team_id, customer_id, since))
            return int(session.exec(query).one())

    def export_checkins(
        self,
        *,
        team_id: str,
        customer_id: int | None = None,
        since: datetime | None = None,
        person: Callable[[str], str] | None = None,
    ) -> Iterator[tuple[Any, ...]]:
        """Check-ins oldest first, as rows in CHECKIN_COLUMNS order, streamed in batches."""
        # Columns, not CheckIn objects: building 100,000 ORM instances took more time than writing the file.
        columns = (
            CheckIn.id,
            CheckIn.created_at,
            CheckIn.customer_id,
            Customer.name,
            Customer.owner_id,
            CheckIn.author_id,
            CheckIn.kind,
            CheckIn.mood,
            CheckIn.note,
            CheckIn.next_step,
            CheckIn.next_due,
            CheckIn.response_days,
            CheckIn.permalink,
        )
        with self.session() as session:
            rows = session.exec(
                select(*columns)
                .join(Customer, col(Customer.id) == CheckIn.customer_id)
                .where(*_export_filter(CheckIn, team_id, customer_id, since))
                .order_by(col(CheckIn.created_at), col(CheckIn.id))
                .execution_options(yield_per=BATCH)
            )
            for row in rows:
                *who_and_how, note, step, next_due, response_days, permalink = row
                yield (*who_and_how, _text(note, person), _text(step, person), next_due, response_days, permalink)

    def count_export_survey_responses(
        self, *, team_id: str, customer_id: int | None = None, since: datetime | None = None
    ) -> int:
        with self.session() as session:
            covered = _export_filter(SurveyResponse, team_id, customer_id, since)
            query = select(func.count(col(SurveyResponse.id))).where(*covered)
            return int(session.exec(query).one())

    def export_survey_answers(
        self, *, team_id: str, customer_id: int | None = None, since: datetime | None = None
    ) -> Iterator[tuple[Any, ...]]:
        """One row per answered question (SURVEY_COLUMNS order), responses oldest first, streamed.

        Team surveys (no customer) are included with empty customer columns when exporting everything.
        """
        with self.session() as session:
            rows = session.exec(
                select(SurveyResponse, Customer.name)
                .join(Customer, col(Customer.id) == SurveyResponse.customer_id, isouter=True)
                .where(*_export_filter(SurveyResponse, team_id, customer_id, since))
                .order_by(col(SurveyResponse.created_at), col(SurveyResponse.id))
                .execution_options(yield_per=BATCH)
            )
            for response, name in rows:
                survey = SURVEYS.get(response.survey)
                labels = {q.key: q.label for q in survey.questions()} if survey is not None else {}
                for key, value in (response.answers or {}).items():
                    if value is None or value == "" or value == []:
                        continue
                    yield (
                        response.id,
                        response.created_at,
                        response.customer_id,
                        name,
                        response.survey,
                        response.respondent_id,
                        response.external,
                        response.score,
                        key,
                        labels.get(key, ""),
                        _answer_text(value),
                    )

    def write_checkins_csv(
        self,
        out: TextIO,
        *,
        team_id: str,
        customer_id: int | None = None,
        since: datetime | None = None,
        progress: Callable[[int], None] | None = None,
        person: Callable[[str], str] | None = None,
    ) -> int:
        rows = self.export_checkins(team_id=team_id, customer_id=customer_id, since=since, person=person)
        return write_csv(out, CHECKIN_COLUMNS, rows, progress=progress)

    def write_survey_answers_csv(
        self,
        out: TextIO,
        *,
        team_id: str,
        customer_id: int | None = None,
        since: datetime | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> int:
        rows = self.export_survey_answers(team_id=team_id, customer_id=customer_id, since=since)
        return write_csv(out, SURVEY_COLUMNS, rows, progress=progress)
