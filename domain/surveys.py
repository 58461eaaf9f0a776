"""The bot's surveys as pure data, plus answer validation and scoring.

Nothing here knows about Slack or the database: a Block Kit builder renders these definitions and
storage persists the cleaned answers. The length limits below mirror Slack's so that a definition
that imports cleanly always renders (modal title 24, input label 2000, option text 75, option value
150, block/action ids 255, plain-text input max_length 3000).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

# Slack limits (Block Kit reference); kept here so the builder and the tests share one source of truth.
MAX_KEY = 255
MAX_LABEL = 2000
MAX_HINT = 2000
MAX_OPTION_LABEL = 75
MAX_OPTION_VALUE = 150
MAX_TITLE = 24
MAX_INTRO = 3000
MAX_SECTION_TITLE = 150
MAX_TEXT_LENGTH = 3000

RATING_MIN = 1
RATING_MAX = 5

# Stable keys shared by storage and the Block Kit builder; never rename one once answers exist.
SurveyKey = Literal["scorecard", "level", "practices", "profile", "customer_view"]
QuestionKind = Literal["rating", "choice", "text"]
AnswerValue = int | str

_KEY_RE = re.compile(r"^[a-z][a-z0-9]*(?:_[a-z0-9]+)*$")


@dataclass(frozen=True)
class Option:
    """One choice of a rating or choice question; `value` is what gets stored."""

    value: str
    label: str

    def __post_init__(self) -> None:
        if not self.value or len(self.value) > MAX_OPTION_VALUE:
            raise ValueError(f"option value must be 1..{MAX_OPTION_VALUE} chars: {self.value!r}")
        if not self.label or len(self.label) > MAX_OPTION_LABEL:
            raise ValueError(f"option label must be 1..{MAX_OPTION_LABEL} chars: {self.label!r}")


# One shared 1–5 scale so every rating reads the same way in Slack and averages are comparable.
RATING_OPTIONS: tuple[Option, ...] = (
    Option("1", "1 · Not at all"),
    Option("2", "2 · A little"),
    Option("3", "3 · Somewhat"),
    Option("4", "4 · Mostly"),
    Option("5", "5 · Completely"),
)


@dataclass(frozen=True)
class Question:
    """One input. Ratings default to RATING_OPTIONS; text answers are capped at `max_length` chars."""

    key: str
    label: str
    kind: QuestionKind
    options: tuple[Option, ...] = ()
    required: bool = True
    multiline: bool = False
    max_length: int | None = None
    hint: str | None = None

    def __post_init__(self) -> None:
        _check_key(self.key)
        if not self.label or len(self.label) > MAX_LABEL:
            raise ValueError(f"{self.key}: label must be 1..{MAX_LABEL} chars")
        if self.hint is not None and len(self.hint) > MAX_HINT:
            raise ValueError(f"{self.key}: hint must be at most {MAX_HINT} chars")
        if self.kind == "rating" and not self.options:
            object.__setattr__(self, "options", RATING_OPTIONS)
        if self.kind == "choice" and not self.options:
            raise ValueError(f"{self.key}: a choice question needs options")
        if self.kind == "text":
            if self.options:
                raise ValueError(f"{self.key}: a text question takes no options")
            if self.max_length is None:
                # Slack's own ceiling for multiline; single-line answers are meant to be short.
                object.__setattr__(self, "max_length", MAX_TEXT_LENGTH if self.multiline else 500)
        elif self.multiline or self.max_length is not None:
            raise ValueError(f"{self.key}: multiline/max_length only apply to text questions")
        if self.max_length is not None and not 1 <= self.max_length <= MAX_TEXT_LENGTH:
            raise ValueError(f"{self.key}: max_length must be 1..{MAX_TEXT_LENGTH}")
        values = [o.value for o in self.options]
        if len(set(values)) != len(values):
            raise ValueError(f"{self.key}: duplicate option values")

    @property
    def option_values(self) -> tuple[str, ...]:
        return tuple(o.value for o in self.options)


@dataclass(frozen=True)
class Section:
    """A titled group of questions; with `comment` it also gets an optional free-text comment box."""

    key: str
    title: str
    questions: tuple[Question, ...]
    comment: bool = False

    def __post_init__(self) -> None:
        _check_key(self.key)
        if not self.title or len(self.title) > MAX_SECTION_TITLE:
            raise ValueError(f"{self.key}: title must be 1..{MAX_SECTION_TITLE} chars")
        if not self.questions:
            raise ValueError(f"{self.key}: a section needs at least one question")

    @property
    def comment_key(self) -> str:
        return f"{self.key}_comment"

    @property
    def comment_question(self) -> Question | None:
        """The comment box as an ordinary optional text question, so it validates and renders uniformly."""
        if not self.comment:
            return None
        return Question(
            key=self.comment_key,
            label=f"Anything to add about “{self.title}”?",
            kind="text",
            required=False,
            multiline=True,
            max_length=1000,
        )

    def all_questions(self) -> tuple[Question, ...]:
        extra = self.comment_question
        return (*self.questions, extra) if extra else self.questions


@dataclass(frozen=True)
class Survey:
    """A whole survey; `audience` says whether it is for the account team or the customer's own people."""

    key: SurveyKey
    title: str
    intro: str
    sections: tuple[Section, ...]
    audience: Literal["team", "customer"] = "team"

    def __post_init__(self) -> None:
        if not self.title or len(self.title) > MAX_TITLE:
            raise ValueError(f"{self.key}: title must be 1..{MAX_TITLE} chars (Slack modal title)")
        if len(self.intro) > MAX_INTRO:
            raise ValueError(f"{self.key}: intro must be at most {MAX_INTRO} chars")
        # Keys double as Slack block ids and storage columns, so they must be unique across the survey.
        keys = [s.key for s in self.sections] + [q.key for q in self.questions()]
        dupes = sorted({k for k in keys if keys.count(k) > 1})
        if dupes:
            raise ValueError(f"{self.key}: duplicate keys {dupes}")

    def questions(self) -> tuple[Question, ...]:
        """Every input in display order, section comment boxes included."""
        return tuple(q for s in self.sections for q in s.all_questions())

    def question(self, key: str) -> Question:
        for q in self.questions():
            if q.key == key:
                return q
        raise KeyError(key)


def _check_key(key: str) -> None:
    if len(key) > MAX_KEY or not _KEY_RE.match(key):
        raise ValueError(f"key must be snake_case and at most {MAX_KEY} chars: {key!r}")


def _rating(key: str, label: str) -> Question:
    return Question(key=key, label=label, kind="rating")


def _text(key: str, label: str, *, multiline: bool = True, hint: str | None = None) -> Question:
    return Question(key=key, label=label, kind="text", required=False, multiline=multiline, hint=hint)


# --- Relationship levels -------------------------------------------------------------------------------

Level = Literal["supplier", "supplier_of_choice", "partner"]
LEVELS: tuple[Level, ...] = ("supplier", "supplier_of_choice", "partner")
# Each level as people read it, on every surface (card, Home, list, status, digest, DMs): one spelling per tier.
LEVEL_NAMES: dict[str, str] = {
    "supplier": "Supplier",
    "supplier_of_choice": "Supplier of choice",
    "partner": "Partner",
}


def normalize_level(level: str) -> Level:
    """Accept "Supplier of choice", "supplier-of-choice" etc. and return the stored value."""
    cleaned = re.sub(r"[\s\-]+", "_", level.strip().lower())
    for known in LEVELS:
        if cleaned == known:
            return known
    raise ValueError(f"unknown relationship level: {level!r}")


def level_rank(level: str) -> int:
    """supplier 1, supplier_of_choice 2, partner 3."""
    return LEVELS.index(normalize_level(level)) + 1


def level_gap(ours: str, theirs: str) -> int:
    """How many levels higher we rate the relationship than the customer does.

    Positive means we flatter ourselves (the blind spot worth raising); negative means the customer
    thinks more of us than we do; 0 means we agree.
    """
    return level_rank(ours) - level_rank(theirs)


# --- The surveys ---------------------------------------------------------------------------------------

SCORECARD = Survey(
    key="scorecard",
    title="Ideal-customer scorecard",
    intro=(
        "Rate how closely this customer matches our ideal customer, from 1 (not at all) to 5 (completely). "
        "Be honest — the point is to see where the relationship needs work."
    ),
    sections=(
        Section(
            key="respect",
            title="How they treat us",
            questions=(
                _rating("earns_place", "They let us earn our place."),
                _rating("trusted_advisor", "They treat us as a trusted advisor and take our advice."),
                _rating("partners_equals", "They see us as partners and equals."),
                _rating("make_it_right", "They give us a chance to make things right."),
                _rating("appreciative", "They are appreciative."),
            ),
            comment=True,
        ),
        Section(
            key="openness",
            title="Openness and clarity",
            questions=(
                _rating("realistic_expectations", "They are realistic and clear about what they expect."),
                _rating("educates_us", "They educate us on their real challenges."),
                _rating("open_to_solutions", "They are open to solutions to problems they had not seen."),
                _rating("knows_strengths", "They know their strengths and weaknesses."),
            ),
            comment=True,
        ),
        Section(
            key="commitment",
            title="Commitment and engagement",
            questions=(
                _rating("committed_patient", "They are committed and patient about results."),
                _rating("enthusiastic", "They are enthusiastic about our work."),
                _rating("engaged", "They are engaged — they ask and answer questions."),
            ),
            comment=True,
        ),
        Section(
            key="practicalities",
            title="Day-to-day dealings",
            questions=(
                _rating("gives_information", "They give us the information we need."),
                _rating("pays_fairly", "They pay fairly and on time."),
            ),
            comment=True,
        ),
    ),
)

_LEVEL_OPTIONS_TEAM: tuple[Option, ...] = (
    Option("supplier", "Supplier — we compete on price at every re-tender"),
    Option("supplier_of_choice", "Supplier of choice — we deliver everything; “better the devil we know”"),
    Option("partner", "Partner — we share their goals and work toward their success together"),
)

LEVEL = Survey(
    key="level",
    title="Relationship level",
    intro="Where does this relationship stand today? Answer as the customer would, not as we would like.",
    sections=(
        Section(
            key="standing",
            title="How does this customer see us?",
            questions=(
                Question(
                    key="level",
                    label="How does this customer see us?",
                    kind="choice",
                    options=_LEVEL_OPTIONS_TEAM,
                ),
                _text("move_up", "What would move us up a level?"),
            ),
        ),
    ),
)

PRACTICES = Survey(
    key="practices",
    title="Partnership practices",
    intro="A quick self-check for the account team. Rate each from 1 (not at all) to 5 (completely).",
    sections=(
        Section(
            key="practices",
            title="Our partnership practices",
            questions=(
                _rating("inner_circle", "Do we include this customer inside our circle?"),
                _rating("show_partnership", "Have we helped them see the partnership?"),
                _rating("daily_priority", "Is this partnership a daily priority for the team?"),
                _rating("learning_needs", "Are we doing the work of learning what they need and want?"),
            ),
            comment=True,
        ),
    ),
)

PROFILE = Survey(
    key="profile",
    title="Ideal-customer profile",
    intro="What we know about this customer. Answer what you can; leave the rest blank and revisit later.",
    sections=(
        Section(
            key="business",
            title="Their business with us",
            questions=(
                _text(
                    "annual_budget",
                    "What is their annual budget for what we do?",
                    multiline=False,
                    hint="A rough figure or range is fine.",
                ),
                _text("need_frequency", "How often a year do they need us, and when?"),
                _text("why_chose_us", "Why did they choose us?"),
                _text("why_stay", "Why do they stay — and what does the competition now offer them?"),
            ),
        ),
        Section(
            key="relationship",
            title="The relationship",
            questions=(
                _text("keeps_them_up", "What keeps them up at night?"),
                _text("gone_right", "What has gone right in the relationship?"),
            ),
        ),
    ),
)

_LEVEL_OPTIONS_CUSTOMER: tuple[Option, ...] = (
    Option("supplier", "A supplier — one of several, and price decides each time"),
    Option("supplier_of_choice", "A supplier of choice — you deliver, so we keep coming back"),
    Option("partner", "A partner — you share our goals and we work on them together"),
)

CUSTOMER_VIEW = Survey(
    key="customer_view",
    title="How you see us",
    intro="Thank you for taking a minute. Your honest answers help us work better with you.",
    audience="customer",
    sections=(
        Section(
            key="view",
            title="Working with us",
            questions=(
                # Same key and values as the team's level survey so the two can be compared directly.
                Question(
                    key="level",
                    label="How do you see us?",
                    kind="choice",
                    options=_LEVEL_OPTIONS_CUSTOMER,
                ),
                _text("start_doing", "What should we start doing?"),
                _text("keep_doing", "What should we keep doing?"),
            ),
        ),
    ),
)

SURVEYS: dict[str, Survey] = {s.key: s for s in (SCORECARD, LEVEL, PRACTICES, PROFILE, CUSTOMER_VIEW)}


# --- Answers -------------------------------------------------------------------------------------------


def _parse_rating(raw: object) -> int | None:
    """An int in 1..5 from an int or a digit string; None for anything else."""
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int):
        value = raw
    elif isinstance(raw, str) and raw.strip().isdecimal():
        value = int(raw.strip())
    else:
        return None
    return value if RATING_MIN <= value <= RATING_MAX else None


def validate_answers(
    survey: Survey, answers: Mapping[str, str | None]
) -> tuple[dict[str, AnswerValue], dict[str, str]]:
    """Clean raw answers and collect per-question errors (keyed by question key, ready for Slack).

    Cleaned answers hold ints for ratings and stripped strings otherwise; unanswered optional questions
    are left out. Keys that are not questions of this survey are ignored, because a Slack view state
    carries other blocks too.
    """
    cleaned: dict[str, AnswerValue] = {}
    errors: dict[str, str] = {}
    for q in survey.questions():
        raw = answers.get(q.key)
        text = raw.strip() if isinstance(raw, str) else None
        if not text:
            if q.required:
                errors[q.key] = "Please answer this question."
            continue
        if q.kind == "rating":
            rating = _parse_rating(text)
            if rating is None:
                errors[q.key] = f"Pick a rating from {RATING_MIN} to {RATING_MAX}."
            else:
                cleaned[q.key] = rating
        elif q.kind == "choice":
            if text in q.option_values:
                cleaned[q.key] = text
            else:
                errors[q.key] = "Pick one of the listed options."
        else:
            limit = q.max_length or MAX_TEXT_LENGTH
            if len(text) > limit:
                errors[q.key] = f"Please keep this under {limit} characters (it is {len(text)})."
            else:
                cleaned[q.key] = text
    if not cleaned and not errors and survey.questions():
        # Every question optional (the profile) and none answered: saving it would put an empty profile in place of
        # the one on the card. Said at the first field; nothing is saved.
        errors[survey.questions()[0].key] = "Answer at least one question to save this form (or close it)."
    return cleaned, errors


def summarize(survey: Survey, answers: Mapping[str, AnswerValue | None]) -> float | None:
    """Average of the answered ratings (1–5), or None when the survey has no rated answers.

    Accepts cleaned or raw answers; invalid ratings are skipped rather than guessed at.
    """
    ratings = [
        r for q in survey.questions() if q.kind == "rating" and (r := _parse_rating(answers.get(q.key))) is not None
    ]
    if not ratings:
        return None
    return sum(ratings) / len(ratings)
