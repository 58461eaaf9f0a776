"""CSV export cells: round-trips through a real CSV reader, and nothing a spreadsheet would run as a formula."""

from __future__ import annotations

import csv
import io
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta, timezone

from hypothesis import given
from hypothesis import strategies as st

from storage.exports import FORMULA_LEADS, csv_cell, unescape_slack, write_csv

AWKWARD = [
    "plain note",
    "commas, inside, a note",
    'she said "ship it", then left',
    "line one\nline two\r\nline three",
    "emoji 🎉🟢 and accents — café",
    "=SUM(A1:A9)",
    "+1 555 0100",
    "-2 points since last week",
    "@here call me",
    "\tindented",
    "\rcarriage",
    '=HYPERLINK("http://evil.example","click")',
    "'already quoted",
    "",
]


def round_trip(rows: list[list[object]]) -> list[list[str]]:
    out = io.StringIO(newline="")
    write_csv(out, ["a", "b"], rows)
    return list(csv.reader(io.StringIO(out.getvalue(), newline="")))


def test_awkward_text_round_trips_and_formulas_are_defused() -> None:
    rows: list[list[object]] = [[i, text] for i, text in enumerate(AWKWARD)]
    read = round_trip(rows)
    assert read[0] == ["a", "b"]
    for (i, text), back in zip(rows, read[1:], strict=True):
        assert back[0] == str(i)
        expected = "'" + str(text) if str(text).startswith(FORMULA_LEADS) else text
        assert back[1] == expected
        assert not back[1].startswith(FORMULA_LEADS)


def test_rows_end_with_crlf_and_quotes_are_doubled() -> None:
    out = io.StringIO(newline="")
    count = write_csv(out, ["note"], [['say "hi", twice']])
    assert count == 1
    assert out.getvalue() == 'note\r\n"say ""hi"", twice"\r\n'


def test_typed_values_are_written_plainly() -> None:
    berlin = timezone(timedelta(hours=1))
    assert csv_cell(datetime(2026, 11, 25, 16, 0, tzinfo=berlin)) == "2026-11-25T15:00:00Z"
    assert csv_cell(date(2026, 11, 25)) == "2026-11-25"
    assert csv_cell(None) == ""
    assert csv_cell(True) == "true"
    assert csv_cell(1.5) == "1.5"
    assert csv_cell(-1.5) == "-1.5" and csv_cell(-3) == "-3"  # our own numbers stay numbers
    assert csv_cell("-3") == "'-3"  # text typed by someone does not
    assert csv_cell(["a", "b"]) == "a; b"
    assert csv_cell(datetime(2026, 1, 1, tzinfo=UTC)) == "2026-01-01T00:00:00Z"


def test_slack_escaping_is_undone_once() -> None:
    assert unescape_slack("a &lt;b&gt; &amp; c") == "a <b> & c"
    assert unescape_slack("&amp;lt;") == "&lt;"  # a literal "&lt;" typed by the user stays as typed


def test_progress_is_reported_per_batch_and_at_the_end() -> None:
    seen: list[int] = []
    write_csv(io.StringIO(), ["n"], ([i] for i in range(25)), progress=seen.append, every=10)
    assert seen == [10, 20, 25]


@given(st.lists(st.text(), min_size=1, max_size=5))
def test_any_text_round_trips_exactly_as_its_safe_cell(values: list[str]) -> None:
    out = io.StringIO(newline="")
    write_csv(out, [f"c{i}" for i in range(len(values))], [values])
    (_header, row) = list(csv.reader(io.StringIO(out.getvalue(), newline="")))
    assert row == [csv_cell(v) for v in values]
    assert all(not cell.startswith(FORMULA_LEADS) for cell in row)


def test_the_export_reads_slack_markup_without_loading_bolt() -> None:
    """`partner-bot export` (cron, no Slack) reads notes through handlers.parsing: the package must not pull Bolt in."""
    probe = "import sys, storage.exports; print(sorted(m for m in sys.modules if m.startswith('slack_bolt')))"
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]", result.stdout
