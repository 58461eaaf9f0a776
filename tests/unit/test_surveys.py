from __future__ import annotations

import ast
import inspect
import re

import pytest

from domain import surveys
from domain.surveys import (
    LEVELS,
    PROFILE,
    SURVEYS,
    Option,
    Question,
    Section,
    Survey,
    level_gap,
    level_rank,
    normalize_level,
    summarize,
    validate_answers,
)

ALL = list(SURVEYS.values())
IDS = list(SURVEYS)


def test_all_five_surveys_exist() -> None:
    assert set(SURVEYS) == {"scorecard", "level", "practices", "profile", "customer_view"}
    assert all(key == s.key for key, s in SURVEYS.items())


# --- Slack limits --------------------------------------------------------------------------------------


@pytest.mark.parametrize("survey", ALL, ids=IDS)
def test_slack_length_limits(survey: Survey) -> None:
    assert 0 < len(survey.title) <= 24
    assert len(survey.intro) <= 3000
    for section in survey.sections:
        assert len(section.title) <= 150
        for q in section.all_questions():
            assert 0 < len(q.label) <= 2000
            assert len(q.key) <= 255 and re.fullmatch(r"[a-z][a-z0-9_]*", q.key)
            assert q.hint is None or len(q.hint) <= 2000
            for option in q.options:
                assert 0 < len(option.label) <= 75
                assert 0 < len(option.value) <= 150
            if q.kind == "text":
                assert q.max_length is not None and q.max_length <= 3000


@pytest.mark.parametrize("survey", ALL, ids=IDS)
def test_keys_unique(survey: Survey) -> None:
    keys = [s.key for s in survey.sections] + [q.key for q in survey.questions()]
    assert len(keys) == len(set(keys))


def test_definitions_reject_slack_violations() -> None:
    with pytest.raises(ValueError):
        Option("x", "x" * 76)
    with pytest.raises(ValueError):
        Question(key="Bad Key", label="x", kind="text")
    with pytest.raises(ValueError):
        Question(key="q", label="x" * 2001, kind="text")
    with pytest.raises(ValueError):
        Question(key="q", label="x", kind="choice")  # a choice with no options
    q = Question(key="q", label="x", kind="text")
    with pytest.raises(ValueError):
        Survey(key="level", title="x" * 25, intro="", sections=(Section("s", "S", (q,)),))
    with pytest.raises(ValueError):
        Survey(key="level", title="Dupes", intro="", sections=(Section("s", "S", (q, q)),))
    with pytest.raises(ValueError):
        # A comment box key colliding with a question key.
        clashing = Section("s", "S", (Question(key="s_comment", label="x", kind="text"),), comment=True)
        Survey(key="level", title="Clash", intro="", sections=(clashing,))


# --- content -------------------------------------------------------------------------------------------


def test_scorecard_has_fourteen_ratings_in_sections_with_comments() -> None:
    scorecard = SURVEYS["scorecard"]
    ratings = [q for q in scorecard.questions() if q.kind == "rating"]
    assert len(ratings) == 14
    assert len(scorecard.sections) > 1
    assert all(s.comment for s in scorecard.sections)
    comments = [q for q in scorecard.questions() if q.key.endswith("_comment")]
    assert len(comments) == len(scorecard.sections)
    assert all(not q.required and q.kind == "text" for q in comments)
    assert all(q.required and q.option_values == ("1", "2", "3", "4", "5") for q in ratings)


def test_level_surveys_share_values() -> None:
    ours = SURVEYS["level"].question("level")
    theirs = SURVEYS["customer_view"].question("level")
    assert ours.option_values == theirs.option_values == LEVELS
    assert SURVEYS["level"].question("move_up").kind == "text"
    assert SURVEYS["customer_view"].audience == "customer"
    assert {q.key for q in SURVEYS["customer_view"].questions()} == {"level", "start_doing", "keep_doing"}


def test_practices_and_profile_shapes() -> None:
    practices = [q for q in SURVEYS["practices"].questions() if q.kind == "rating"]
    assert len(practices) == 4
    profile = SURVEYS["profile"].questions()
    assert len(profile) == 6 and all(q.kind == "text" and not q.required for q in profile)


# --- validate_answers ----------------------------------------------------------------------------------


def test_validate_answers_cleans_valid_input() -> None:
    survey = SURVEYS["practices"]
    cleaned, errors = validate_answers(
        survey,
        {
            "inner_circle": "4",
            "show_partnership": " 2 ",
            "daily_priority": "5",
            "learning_needs": "1",
            "practices_comment": "  We rarely invite them to planning.  ",
            "unrelated_block": "ignored",
        },
    )
    assert errors == {}
    assert cleaned == {
        "inner_circle": 4,
        "show_partnership": 2,
        "daily_priority": 5,
        "learning_needs": 1,
        "practices_comment": "We rarely invite them to planning.",
    }


def test_validate_answers_errors() -> None:
    survey = SURVEYS["practices"]
    cleaned, errors = validate_answers(
        survey,
        {
            "inner_circle": "6",
            "show_partnership": "three",
            "daily_priority": "   ",
            "learning_needs": None,
            "practices_comment": "x" * 1001,
        },
    )
    assert cleaned == {}
    assert set(errors) == {
        "inner_circle",
        "show_partnership",
        "daily_priority",
        "learning_needs",
        "practices_comment",
    }
    assert errors["inner_circle"] == "Pick a rating from 1 to 5."
    assert errors["daily_priority"] == errors["learning_needs"] == "Please answer this question."
    assert "1000" in errors["practices_comment"]


def test_validate_answers_choices() -> None:
    survey = SURVEYS["level"]
    cleaned, errors = validate_answers(survey, {"level": "best_friend", "move_up": ""})
    assert errors == {"level": "Pick one of the listed options."}
    cleaned, errors = validate_answers(survey, {"level": "supplier_of_choice"})
    assert errors == {}
    assert cleaned == {"level": "supplier_of_choice"}  # unanswered optional text is left out


def test_validate_answers_single_line_limit() -> None:
    survey = SURVEYS["profile"]
    _, errors = validate_answers(survey, {"annual_budget": "£" * 501})
    assert set(errors) == {"annual_budget"}
    cleaned, errors = validate_answers(survey, {"annual_budget": "about £120k", "gone_right": "a\nb"})
    assert errors == {}
    assert cleaned == {"annual_budget": "about £120k", "gone_right": "a\nb"}


def test_every_survey_accepts_a_complete_answer_set() -> None:
    for survey in ALL:
        answers = {q.key: (q.options[-1].value if q.options else "ok") for q in survey.questions()}
        cleaned, errors = validate_answers(survey, answers)
        assert errors == {}, survey.key
        assert set(cleaned) == set(answers)


# --- summaries and levels ------------------------------------------------------------------------------


def test_summarize_averages_ratings() -> None:
    survey = SURVEYS["practices"]
    answers = {"inner_circle": 4, "show_partnership": 2, "daily_priority": 5, "learning_needs": 1}
    assert summarize(survey, answers) == pytest.approx(3.0)
    # Raw strings work too; unanswered and invalid ratings are skipped, not counted as zero.
    assert summarize(survey, {"inner_circle": "4", "show_partnership": "9", "practices_comment": "5"}) == 4.0
    assert summarize(survey, {}) is None


def test_summarize_scorecard_and_non_rating_surveys() -> None:
    scorecard = SURVEYS["scorecard"]
    answers = {q.key: 3 for q in scorecard.questions() if q.kind == "rating"}
    answers[next(iter(answers))] = 5
    assert summarize(scorecard, answers) == pytest.approx(3 + 2 / 14)
    assert summarize(SURVEYS["profile"], {"gone_right": "lots"}) is None
    assert summarize(SURVEYS["level"], {"level": "partner"}) is None


def test_level_rank() -> None:
    assert [level_rank(level) for level in LEVELS] == [1, 2, 3]
    assert level_rank("Supplier of choice") == 2
    assert normalize_level(" supplier-of-choice ") == "supplier_of_choice"
    with pytest.raises(ValueError):
        level_rank("vendor")


@pytest.mark.parametrize(
    ("ours", "theirs", "gap"),
    [
        ("partner", "supplier", 2),  # we think much more of it than they do
        ("supplier_of_choice", "supplier_of_choice", 0),
        ("supplier", "partner", -2),
        ("partner", "supplier_of_choice", 1),
    ],
)
def test_level_gap(ours: str, theirs: str, gap: int) -> None:
    assert level_gap(ours, theirs) == gap


def test_surveys_module_is_pure() -> None:
    tree = ast.parse(inspect.getsource(surveys))
    roots = {
        ((node.module or "") if isinstance(node, ast.ImportFrom) else alias.name).split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in node.names
    }
    assert roots <= {"__future__", "re", "collections", "dataclasses", "typing"}


def test_a_form_of_optional_questions_left_blank_is_refused_at_its_first_field() -> None:
    cleaned, errors = validate_answers(PROFILE, {"annual_budget": " ", "gone_right": None})
    assert cleaned == {} and errors == {
        "annual_budget": "Answer at least one question to save this form (or close it)."
    }
    assert validate_answers(PROFILE, {"gone_right": "the launch"}) == ({"gone_right": "the launch"}, {})
