"""Business days in a customer's local calendar.

Pure domain code: no Slack, no database, and no wall clock — every function takes the dates or
instants it needs. Instants are timezone-aware datetimes (returned in UTC); dates are local
calendar dates in the customer's time zone.

Public holidays come from the ``holidays`` package. A region (state, province, Land) can be given
either as ``subdiv="CA"`` or folded into the country as ``country="US-CA"``; both normalise to
``country="US", subdiv="CA"``.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from types import MappingProxyType
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

__all__ = [
    "WEEKDAYS",
    "WEEKDAY_NAMES",
    "WorkCalendar",
    "format_working_week",
    "parse_weekday",
    "parse_working_week",
    "supported_countries",
    "validate_country",
    "validate_subdivision",
    "validate_timezone",
    "validate_typed_timezone",
    "wall_clock_instant",
]

WEEKDAYS: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
WEEKDAY_NAMES: tuple[str, ...] = (
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
)

# Every spelling people actually type for a weekday, mapped to Monday=0 … Sunday=6.
_WEEKDAY_ALIASES: dict[str, int] = {
    **{name: i for i, name in enumerate(WEEKDAYS)},
    **{name.lower(): i for i, name in enumerate(WEEKDAY_NAMES)},
    "tues": 1,
    "weds": 2,
    "thur": 3,
    "thurs": 3,
}

_ONE_DAY = timedelta(days=1)
# The working day on the customer's clock: working hours count in it, owners are DMed within it.
WORKDAY_START = time(9)
WORKDAY_END = time(17)
# A calendar with at least one working weekday always finds a business day within this many days
# unless every such day is a holiday — which would be a broken holiday table, so fail loudly then.
_MAX_SCAN_DAYS = 366 * 2

_TZ_LIST = "https://en.wikipedia.org/wiki/List_of_tz_database_time_zones"
_TZ_HELP = f"use an IANA name like Europe/Berlin; see {_TZ_LIST}"
_RIGHT_COPIES_HELP = "the right/ copies count leap seconds, which puts every time about 27 seconds early"
_COUNTRY_HELP = (
    "use a two-letter ISO 3166 code such as US, DE or GB (supported codes are listed at "
    "https://holidays.readthedocs.io or by domain.calendar.supported_countries())"
)


# --------------------------------------------------------------------------- validation helpers


@functools.cache
def _timezones_by_lower_name() -> Mapping[str, str]:
    # Built once: scanning the tz database on every validation would be slow.
    return MappingProxyType({name.lower(): name for name in available_timezones()})


def validate_timezone(name: str) -> str:
    """Return the canonical spelling of an IANA time zone name, or raise ``ValueError``.

    Matching is case-insensitive ("europe/berlin" → "Europe/Berlin") because people type these.
    """
    cleaned = name.strip() if isinstance(name, str) else ""
    canonical = _timezones_by_lower_name().get(cleaned.lower())
    if canonical is None:
        # Some valid keys (e.g. links absent from available_timezones()) still load; accept them as typed.
        try:
            ZoneInfo(cleaned)
        except (ZoneInfoNotFoundError, ValueError, OSError):
            raise ValueError(f"Unknown time zone {name!r} — {_TZ_HELP}") from None
        canonical = cleaned
    return canonical


# Legacy zones people type for a region whose clocks do change: each is a fixed offset all year, so a customer in
# New York typed as EST would get every call an hour off from March to November.
_FIXED_LOOKALIKES = {
    "EST": ("UTC−05:00", "America/New_York", "America/Panama"),
    "MST": ("UTC−07:00", "America/Denver", "America/Phoenix"),
}


# A UTC offset typed for a time zone (`+09:00`, `UTC+9`, `GMT-5`, `+0530`); a unicode minus too, as phones type it.
_OFFSET = re.compile(r"(?:utc|gmt)?\s*([+\-−])\s*(\d{1,2})(?::?(\d{2}))?", re.IGNORECASE)
# The zones most teams mean by an offset (its standard time), to name in the answer instead of a bare list link.
_ZONES_AT_OFFSET: dict[int, tuple[str, ...]] = {
    -10 * 60: ("Pacific/Honolulu",),
    -9 * 60: ("America/Anchorage",),
    -8 * 60: ("America/Los_Angeles", "America/Vancouver"),
    -7 * 60: ("America/Denver", "America/Phoenix"),
    -6 * 60: ("America/Chicago", "America/Mexico_City"),
    -5 * 60: ("America/New_York", "America/Toronto", "America/Bogota"),
    -4 * 60: ("America/Halifax", "America/Santiago"),
    -3 * 60 - 30: ("America/St_Johns",),
    -3 * 60: ("America/Sao_Paulo", "America/Argentina/Buenos_Aires"),
    -1 * 60: ("Atlantic/Azores",),
    1 * 60: ("Europe/Berlin", "Europe/Paris", "Africa/Lagos"),
    2 * 60: ("Europe/Athens", "Europe/Helsinki", "Africa/Johannesburg"),
    3 * 60: ("Europe/Istanbul", "Europe/Moscow", "Asia/Riyadh"),
    4 * 60: ("Asia/Dubai",),
    5 * 60: ("Asia/Karachi", "Asia/Tashkent"),
    5 * 60 + 30: ("Asia/Kolkata",),
    5 * 60 + 45: ("Asia/Kathmandu",),
    6 * 60: ("Asia/Dhaka",),
    7 * 60: ("Asia/Bangkok", "Asia/Jakarta", "Asia/Ho_Chi_Minh"),
    8 * 60: ("Asia/Singapore", "Asia/Shanghai", "Australia/Perth"),
    9 * 60: ("Asia/Tokyo", "Asia/Seoul"),
    9 * 60 + 30: ("Australia/Adelaide", "Australia/Darwin"),
    10 * 60: ("Australia/Sydney", "Australia/Brisbane"),
    12 * 60: ("Pacific/Auckland",),
}


def _shown_offset(offset: int) -> str:
    return f"UTC{'−' if offset < 0 else '+'}{abs(offset) // 60:02d}:{abs(offset) % 60:02d}"


# The zones whose clocks show an offset while on daylight saving time: a team types what its clocks show today,
# `UTC-4` for New York in July or `UTC+11` for Sydney in December.
_ZONES_ON_SUMMER_TIME_AT_OFFSET: dict[int, tuple[str, ...]] = {
    -7 * 60: ("America/Los_Angeles",),
    -6 * 60: ("America/Denver",),
    -5 * 60: ("America/Chicago",),
    -4 * 60: ("America/New_York", "America/Toronto"),
    -3 * 60: ("America/Halifax",),
    1 * 60: ("Europe/London", "Europe/Dublin"),
    2 * 60: ("Europe/Berlin", "Europe/Paris"),
    3 * 60: ("Europe/Athens", "Europe/Helsinki"),
    10 * 60 + 30: ("Australia/Adelaide",),
    11 * 60: ("Australia/Sydney", "Australia/Melbourne"),
    13 * 60: ("Pacific/Auckland",),
}


def _zones_named(offset: int) -> str | None:
    """`tz=Asia/Tokyo or tz=Asia/Seoul`: the zones most teams mean by an offset, those on summer time at it last;
    None for an offset without any."""
    zones = dict.fromkeys(_ZONES_AT_OFFSET.get(offset, ()) + _ZONES_ON_SUMMER_TIME_AT_OFFSET.get(offset, ()))
    options = [f"tz={zone}" for zone in zones]
    return (", ".join(options[:-1]) + " or " + options[-1]) if len(options) > 1 else options[0] if options else None


def _offset_answer(what: str, offset: int, *, also: str = "") -> str:
    named = _zones_named(offset) or "the zone of the customer's city"
    return (
        f"{what}, not a time zone: Partner needs the place, so calls stay at the same local time when its clocks "
        f"change for daylight saving. Use {named}{also}; every zone is listed at {_TZ_LIST}"
    )


def _offset_refusal(typed: str) -> str | None:
    """The answer to a UTC offset typed for a time zone, naming the zones of that offset; None for anything else."""
    match = _OFFSET.fullmatch(typed.strip())
    if match is None:
        return None
    sign, hours, minutes = match.group(1), int(match.group(2)), int(match.group(3) or 0)
    if hours > 14 or minutes >= 60 or hours == minutes == 0:  # GMT+0 is UTC, a zone of its own
        return None
    offset = (-1 if sign in "-−" else 1) * (hours * 60 + minutes)
    return _offset_answer(f"'{typed.strip()}' is an offset ({_shown_offset(offset)})", offset)


# The tz database's fixed offsets carry POSIX's reversed sign: Etc/GMT+5 is UTC−05:00.
_ETC_OFFSET = re.compile(r"Etc/GMT([+-])(\d{1,2})")


def _etc_refusal(canonical: str) -> str | None:
    """The answer to `Etc/GMT+5` typed for a time zone: an offset as `UTC-5` is, its reversed sign said, since
    whoever typed it for UTC+05:00 would have every call ten hours off; None for any other zone."""
    match = _ETC_OFFSET.fullmatch(canonical)
    if match is None or int(match.group(2)) == 0:
        return None
    offset = (-60 if match.group(1) == "+" else 60) * int(match.group(2))
    opposite = _zones_named(-offset)
    also = f"; for {_shown_offset(-offset)}, {opposite}" if opposite else ""
    what = f"'{canonical}' is a fixed {_shown_offset(offset)} (the tz database reverses the sign of its Etc zones)"
    return _offset_answer(what, offset, also=also)


# Files of the tz database's folder that load as zones yet are no place a customer is in: the host's own zone
# (`localtime`: two machines disagree), leftovers (`posixrules`, `Factory`), and the copies of every zone under posix/
# (the same rules, for old systems) and right/ (counting leap seconds: every time ≈ 27 s early).
_NOT_PLACES = frozenset({"localtime", "posixrules", "factory"})
_COPIES = {"posix/": "the posix/ copies are for old systems", "right/": _RIGHT_COPIES_HELP}


def _not_a_place_refusal(name: str) -> str | None:
    """Why `name` is refused when it is one of the files above (naming the zone a copy is of), else None."""
    cleaned = name.strip()
    lower = cleaned.lower()
    folder = next((f for f in _COPIES if lower.startswith(f)), None)
    if lower not in _NOT_PLACES and folder is None:
        return None
    meant = None
    if folder is not None:
        try:  # the zone it is a copy of, if that is one to name (not right/EST, nor right/localtime)
            meant = validate_typed_timezone(cleaned[len(folder) :])
        except ValueError:
            meant = None
    if meant is None or folder is None:
        return f"Unknown time zone {name!r} — {_TZ_HELP}"
    return f"Unknown time zone {name!r} — use tz={meant}: {_COPIES[folder]}."


def validate_typed_timezone(name: str) -> str:
    """`validate_timezone` for a zone a person typed: also refuses EST and MST, fixed offsets that look like the
    zones of US regions that move their clocks, naming the zone meant either way; a UTC offset (`+09:00`,
    `UTC+9`, `Etc/GMT-9`), naming the zones most people mean by it; and files of the tz database that are no place
    (`localtime`, `right/Europe/Berlin`). A customer stored with one of those by an older version still loads:
    `validate_timezone` takes them."""
    if isinstance(name, str) and (refusal := _offset_refusal(name) or _not_a_place_refusal(name)) is not None:
        raise ValueError(refusal)
    canonical = validate_timezone(name)
    if (refusal := _etc_refusal(canonical)) is not None:
        raise ValueError(refusal)
    if canonical in _FIXED_LOOKALIKES:
        offset, moving, fixed = _FIXED_LOOKALIKES[canonical]
        raise ValueError(
            f"{canonical} is a fixed {offset} all year, with no daylight saving time. For clocks that change in "
            f"March and November, use tz={moving}; for {offset} all year, tz={fixed}."
        )
    return canonical


@functools.cache
def supported_countries() -> Mapping[str, tuple[str, ...]]:
    """Alpha-2 country codes with holiday data, each with its supported subdivision codes."""
    import holidays  # ≈ 3.6 MiB resident: loaded only once a customer has a holiday calendar

    return MappingProxyType(
        {
            code: tuple(subdivs)
            for code, subdivs in holidays.list_supported_countries().items()
            if len(code) == 2 and code.isalpha()
        }
    )


@functools.cache
def _countries_by_zone() -> Mapping[str, str]:
    """IANA zone → its country's alpha-2 code, from the tz database's zone.tab (shipped by tzdata, a dependency)."""
    from importlib.resources import files

    try:
        text = files("tzdata").joinpath("zoneinfo", "zone.tab").read_text(encoding="utf-8")
    except (ImportError, OSError):
        return MappingProxyType({})
    pairs = (line.split("\t") for line in text.splitlines() if line and not line.startswith("#"))
    return MappingProxyType({fields[2]: fields[0] for fields in pairs if len(fields) >= 3})


@functools.cache
def zones_of_country(country: str) -> tuple[str, ...]:
    """The tz database's zones of a country ("JP" → ("Asia/Tokyo",)), from zone.tab; () for a code it has none for."""
    return tuple(zone for zone, code in _countries_by_zone().items() if code == country)


def _zone_bytes(tz: str) -> bytes | None:
    from importlib.resources import files

    try:
        return files("tzdata").joinpath("zoneinfo", *tz.split("/")).read_bytes()
    except (ImportError, OSError, ValueError):
        return None


@functools.cache
def _zone_tab_twins() -> Mapping[bytes, tuple[str, ...]]:
    """zone.tab's zones by their compiled data: tzdata ships each link as a copy of the zone it names."""
    twins: dict[bytes, list[str]] = {}
    for zone in _countries_by_zone():
        data = _zone_bytes(zone)
        if data is not None:
            twins.setdefault(data, []).append(zone)
    return MappingProxyType({data: tuple(zones) for data, zones in twins.items()})


@functools.cache
def zone_tab_name(tz: str) -> str:
    """The zone.tab name of a legacy or alias zone ("Asia/Calcutta" → "Asia/Kolkata", "US/Eastern" →
    "America/New_York", "Australia/ACT" → "Australia/Sydney"), which people and older Slack profiles still use;
    the zone itself when it is listed, matches none, or matches zones of several countries ("GB": JE, GG, IM too)."""
    if tz in _countries_by_zone():
        return tz
    data = _zone_bytes(tz)
    zones = _zone_tab_twins().get(data, ()) if data is not None else ()
    countries = {_countries_by_zone()[zone] for zone in zones}
    return zones[0] if len(countries) == 1 and len(zones) == 1 else tz


def country_of_zone(tz: str) -> str | None:
    """The country a time zone is in ("America/New_York" → "US", "Asia/Calcutta" → "IN"), or None (UTC, a zone of no
    one country)."""
    return _countries_by_zone().get(zone_tab_name(tz))


# Zones of one region of a country whose national holidays leave out that region's own (`holidays` gives a country
# without a region only the holidays every region keeps): AU alone has no Boxing Day (observed) on Mon 28 Dec 2026
# nor New South Wales's Labour Day, GB alone no Easter Monday, CA alone no Victoria Day or Thanksgiving. Europe/London
# is all of the UK, named for England, where most of its people live.
_REGION_OF_ZONE: Mapping[str, str] = MappingProxyType(
    {
        "Australia/Sydney": "NSW",
        "Australia/Broken_Hill": "NSW",
        "Australia/Melbourne": "VIC",
        "Australia/Brisbane": "QLD",
        "Australia/Lindeman": "QLD",
        "Australia/Adelaide": "SA",
        "Australia/Darwin": "NT",
        "Australia/Perth": "WA",
        "Australia/Hobart": "TAS",
        "Europe/London": "ENG",
        "America/Toronto": "ON",
        "America/Vancouver": "BC",
        "America/Edmonton": "AB",
        "America/Winnipeg": "MB",
        "America/Regina": "SK",
        "America/Halifax": "NS",
        "America/Moncton": "NB",
        "America/St_Johns": "NL",
    }
)


def holidays_of_zone(tz: str) -> str | None:
    """The `country=` that skips the public holidays where a time zone's customers are: its country, with the region
    the zone is named for where the country's own list leaves that region's out ("Australia/Sydney" → "AU-NSW",
    "Europe/London" → "GB-ENG", "Asia/Tokyo" → "JP"); None for a zone of no one country (UTC)."""
    country = country_of_zone(tz)
    if country is None:
        return None
    region = _REGION_OF_ZONE.get(zone_tab_name(tz))
    return f"{country}-{region}" if region is not None else country


def zone_elsewhere(tz: str, country: str | None) -> str | None:
    """The zone to suggest when a customer's holidays are one country's and its time zone another's (`country=JP`
    for a customer left on its Los Angeles owner's zone): that country's one zone ("Asia/Tokyo"), "" when it has
    several (its city's is needed); None when the two agree, or the zone is of no one country (UTC)."""
    where = country_of_zone(tz)
    if country is None or where is None or where == country:
        return None
    zones = zones_of_country(country)
    return zones[0] if len(zones) == 1 else ""


def region_left_out(tz: str, country: str | None, subdiv: str | None) -> str | None:
    """The `country=` to suggest when a country was set without the region its customer's time zone is named for, whose
    own holidays the country's list leaves out (Australia/Sydney with AU: "AU-NSW"); None when nothing is left out."""
    code = holidays_of_zone(tz)
    if country is None or subdiv is not None or code is None or not code.startswith(f"{country}-"):
        return None
    return code


def validate_country(code: str) -> str:
    """Return the upper-case alpha-2 code if ``holidays`` supports it, else raise ``ValueError``."""
    cleaned = code.strip().upper() if isinstance(code, str) else ""
    if cleaned not in supported_countries():
        raise ValueError(f"Unknown country code {code!r} — {_COUNTRY_HELP}")
    return cleaned


def validate_subdivision(country: str, subdiv: str) -> str:
    """Return the subdivision code as ``holidays`` spells it (case-insensitive match), or raise."""
    country = validate_country(country)
    known = supported_countries()[country]
    by_upper = {s.upper(): s for s in known}
    cleaned = subdiv.strip().upper() if isinstance(subdiv, str) else ""
    if cleaned not in by_upper:
        listed = ", ".join(known) if known else "none"
        raise ValueError(f"Unknown region {subdiv!r} for {country} — valid codes: {listed}")
    return by_upper[cleaned]


@functools.lru_cache(maxsize=512)
def _holidays_for(country: str, subdiv: str | None, year: int) -> Mapping[date, str]:
    # Building a holidays object is costly, so cache one per (country, region, year). Copy it into a
    # read-only mapping: HolidayBase grows itself on lookups of other years, which is not thread-safe.
    import holidays  # ≈ 3.6 MiB resident: loaded only once a customer has a holiday calendar

    table = holidays.country_holidays(country, subdiv=subdiv, years=year)
    return MappingProxyType({day: name for day, name in table.items() if day.year == year})


# --------------------------------------------------------------------------- working week


def parse_weekday(text: str) -> int:
    """ "tue", "Tuesday", "thurs" → Monday=0 … Sunday=6; ``ValueError`` otherwise."""
    key = text.strip().lower().rstrip(".")
    if key not in _WEEKDAY_ALIASES:
        raise ValueError(f"{text!r} is not a day of the week — use mon, tue, wed, thu, fri, sat or sun")
    return _WEEKDAY_ALIASES[key]


def parse_working_week(text: str) -> frozenset[int]:
    """Parse "mon-fri", "sun-thu" (ranges wrap past Sunday), "mon,tue,thu" or "mon-wed, fri"."""
    usage = "Describe the working week like 'mon-fri', 'sun-thu' or 'mon,tue,thu'"
    # "mon - wed" is as clear as "mon-wed": close up spaces around dashes before splitting.
    compact = re.sub(r"\s*-\s*", "-", text.strip().lower())
    parts = [p for p in re.split(r"[,\s]+", compact) if p]
    if not parts:
        raise ValueError(f"The working week is empty. {usage}.")
    days: set[int] = set()
    for part in parts:
        bounds = part.split("-")
        try:
            if len(bounds) == 1:
                days.add(parse_weekday(bounds[0]))
                continue
            if len(bounds) != 2:
                raise ValueError(part)
            first, last = parse_weekday(bounds[0]), parse_weekday(bounds[1])
        except ValueError:
            raise ValueError(f"I didn't understand {part!r} in {text!r}. {usage}.") from None
        # Walk forward modulo 7 so "sun-thu" means Sun, Mon, Tue, Wed, Thu.
        span = (last - first) % 7
        days.update((first + i) % 7 for i in range(span + 1))
    return frozenset(days)


def format_working_week(days: Iterable[int]) -> str:
    """Compact text :func:`parse_working_week` reads back: {0..4} → "mon-fri", {6,0,1,2,3} → "sun-thu"."""
    wanted = set(days)
    if not wanted:
        return ""
    if len(wanted) == 7:
        return "mon-sun"
    # Start right after a non-working day so a wrapping run (sun-thu) prints as one range.
    start = next(d for d in range(7) if (d - 1) % 7 not in wanted and d in wanted)
    runs: list[str] = []
    i = 0
    while i < 7:
        day = (start + i) % 7
        if day not in wanted:
            i += 1
            continue
        j = i
        while j + 1 < 7 and (start + j + 1) % 7 in wanted:
            j += 1
        last = (start + j) % 7
        runs.append(WEEKDAYS[day] if i == j else f"{WEEKDAYS[day]}-{WEEKDAYS[last]}")
        i = j + 1
    return ",".join(runs)


# --------------------------------------------------------------------------- the calendar


def _require_aware(instant: datetime, what: str = "instant") -> None:
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise ValueError(f"{what} must be timezone-aware (got naive {instant.isoformat()})")


@dataclass(frozen=True)
class WorkCalendar:
    """A customer's working calendar: time zone, public holidays and working weekdays.

    Construction validates and normalises every field (ValueError naming the bad value), so an
    existing ``WorkCalendar`` is always usable. ``country`` may be "US-CA"; it is split into
    ``country="US", subdiv="CA"``.
    """

    tz: str = "UTC"
    country: str | None = None
    working_days: frozenset[int] = frozenset({0, 1, 2, 3, 4})
    subdiv: str | None = None

    def __post_init__(self) -> None:
        # Normalising here (not only in a factory) means no invalid calendar can exist at all.
        object.__setattr__(self, "tz", validate_timezone(self.tz))
        country, subdiv = self.country, self.subdiv
        if country is not None and not country.strip():
            country = None
        if country is not None and "-" in country:
            country, _, folded = country.partition("-")
            if subdiv is not None and subdiv.strip().upper() != folded.strip().upper():
                raise ValueError(f"Region given twice and differently: {self.country!r} and {subdiv!r}")
            subdiv = folded
        if subdiv is not None and not subdiv.strip():
            subdiv = None
        if country is None:
            if subdiv is not None:
                raise ValueError(f"Region {subdiv!r} needs a country code too (e.g. US-CA)")
        else:
            country = validate_country(country)
            if subdiv is not None:
                subdiv = validate_subdivision(country, subdiv)
        object.__setattr__(self, "country", country)
        object.__setattr__(self, "subdiv", subdiv)
        days = frozenset(self.working_days)
        if not days or not days <= frozenset(range(7)):
            raise ValueError(f"Working days must be a non-empty set of weekdays 0 (Mon) … 6 (Sun), got {sorted(days)}")
        object.__setattr__(self, "working_days", days)

    @classmethod
    def create(
        cls,
        tz: str = "UTC",
        country: str | None = None,
        working_week: str | Iterable[int] | None = None,
        *,
        subdiv: str | None = None,
    ) -> WorkCalendar:
        """Build from user-facing settings, e.g. ``create("Asia/Jerusalem", "IL", "sun-thu")``."""
        if working_week is None:
            days = frozenset({0, 1, 2, 3, 4})
        elif isinstance(working_week, str):
            days = parse_working_week(working_week)
        else:
            days = frozenset(working_week)
        return cls(tz=tz, country=country, working_days=days, subdiv=subdiv)

    # ----------------------------------------------------------------- days

    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.tz)

    def holiday_name(self, day: date) -> str | None:
        if self.country is None:
            return None
        return _holidays_for(self.country, self.subdiv, day.year).get(day)

    def is_holiday(self, day: date) -> bool:
        return self.holiday_name(day) is not None

    def next_holiday(self, day: date, *, within_days: int = 366) -> tuple[date, str] | None:
        """The first public holiday on or after `day` that falls on a working day (one on a weekend moves no call),
        with its name, within `within_days`; None without a country or none that soon."""
        if self.country is None:
            return None
        last = day + timedelta(days=within_days)
        for year in range(day.year, last.year + 1):
            table = _holidays_for(self.country, self.subdiv, year)
            for holiday in sorted(table):
                if day <= holiday <= last and holiday.weekday() in self.working_days:
                    return holiday, table[holiday]
        return None

    def is_business_day(self, day: date) -> bool:
        return day.weekday() in self.working_days and not self.is_holiday(day)

    def _scan(self, day: date, step: timedelta) -> date:
        for _ in range(_MAX_SCAN_DAYS):
            if self.is_business_day(day):
                return day
            day += step
        raise ValueError(f"No business day within {_MAX_SCAN_DAYS} days of {day} in {self!r}")

    def next_business_day(self, day: date, *, include_today: bool = False) -> date:
        """First business day after ``day`` (or ``day`` itself when ``include_today`` and it is one)."""
        return self._scan(day if include_today else day + _ONE_DAY, _ONE_DAY)

    @property
    def week_start(self) -> int:
        """The weekday the customer's working week begins (Monday=0): the first working day after its longest run of
        days off — Sunday for a Sun–Thu week, Monday for Mon–Fri (or a week with no day off)."""
        if len(self.working_days) == 7:
            return 0

        def days_off_before(day: int) -> int:
            return next(n for n in range(7) if (day - n - 1) % 7 in self.working_days)

        return max(sorted(self.working_days), key=days_off_before)

    def next_week(self, day: date) -> date:
        """The first business day of the customer's week after the one ``day`` is in ("until next week")."""
        start = day + timedelta(days=(self.week_start - day.weekday() - 1) % 7 + 1)
        return self.next_business_day(start, include_today=True)

    def previous_business_day(self, day: date, *, include_today: bool = False) -> date:
        """Last business day before ``day`` (or ``day`` itself when ``include_today`` and it is one)."""
        return self._scan(day if include_today else day - _ONE_DAY, -_ONE_DAY)

    def add_business_days(self, day: date, n: int) -> date:
        """Move ``n`` business days forward (negative: backward), counting from but excluding ``day``.

        Friday + 1 → Monday; Saturday + 1 → Monday; ``n == 0`` returns ``day`` unchanged.
        """
        for _ in range(abs(n)):
            day = self.next_business_day(day) if n > 0 else self.previous_business_day(day)
        return day

    def business_days_between(self, start: date, end: date) -> int:
        """Business days in the half-open range (start, end]; 0 when ``end <= start``.

        "A call on Friday, now Monday" → 1, which is why a daily cadence is still green then.
        """
        if end <= start:
            return 0
        # Counted, not walked: the jobs ask this for every customer each minute, over ranges of months (a long
        # silence), and a day-by-day walk was a fifth of an idle tick's CPU at 2,000 customers (bench/idle_tick.py).
        first = start + _ONE_DAY
        weeks, rest = divmod((end - first).days + 1, 7)
        count = weeks * len(self.working_days)  # each weekday occurs once per whole week
        count += sum((first.weekday() + i) % 7 in self.working_days for i in range(rest))
        if self.country is not None:
            for year in range(first.year, end.year + 1):
                holidays = _holidays_for(self.country, self.subdiv, year)
                count -= sum(first <= day <= end and day.weekday() in self.working_days for day in holidays)
        return count

    # ----------------------------------------------------------------- instants

    def local_date(self, instant: datetime) -> date:
        _require_aware(instant)
        return instant.astimezone(self.zone()).date()

    def local_datetime(self, instant: datetime) -> datetime:
        """The instant as an aware datetime on the customer's wall clock."""
        _require_aware(instant)
        return instant.astimezone(self.zone())

    def at_local(self, day: date, at: time) -> datetime:
        """Local wall time on ``day`` → aware UTC instant (:func:`wall_clock_instant`): a time the clocks skip
        goes at the first minute after the jump (02:30 → 03:00), a time they repeat at its first occurrence."""
        if at.tzinfo is not None:
            raise ValueError(f"at_local expects a naive wall-clock time, got {at.isoformat()}")
        return wall_clock_instant(day, at, self.zone())

    def days_later(self, instant: datetime, days: int) -> datetime:
        """The same wall-clock time `days` later on the customer's clock (aware UTC): a week from Friday 10:00 is
        next Friday 10:00 there, also across a daylight-saving change, where 168 hours would end at 09:00 or 11:00."""
        local = self.local_datetime(instant).replace(tzinfo=None) + timedelta(days=days)
        return self.at_local(local.date(), local.time())

    def _work_window(self, day: date, day_start: time, day_end: time) -> tuple[datetime, datetime] | None:
        if not self.is_business_day(day):
            return None
        return self.at_local(day, day_start), self.at_local(day, day_end)

    def business_hours_between(
        self,
        start: datetime,
        end: datetime,
        *,
        day_start: time = WORKDAY_START,
        day_end: time = WORKDAY_END,
    ) -> float:
        """Working hours elapsed in [start, end): only business days, only day_start–day_end local.

        Real elapsed time is counted, so a window that spans a DST change is its true length.
        Returns 0.0 when ``end <= start``.
        """
        _require_aware(start, "start")
        _require_aware(end, "end")
        _check_work_hours(day_start, day_end)
        if end <= start:
            return 0.0
        total = timedelta()
        day, last = self.local_date(start), self.local_date(end)
        while day <= last:
            window = self._work_window(day, day_start, day_end)
            if window is not None:
                lo, hi = max(window[0], start), min(window[1], end)
                if hi > lo:
                    total += hi - lo
            day += _ONE_DAY
        return total / timedelta(hours=1)

    def add_business_hours(
        self,
        start: datetime,
        hours: float,
        *,
        day_start: time = WORKDAY_START,
        day_end: time = WORKDAY_END,
    ) -> datetime:
        """The instant (UTC) after ``hours`` working hours have elapsed from ``start``.

        Time outside working hours does not count: Friday 16:00 + 2h → Monday 10:00 local. If the
        budget runs out exactly at a day's end, that end is returned (not the next morning).
        """
        _require_aware(start, "start")
        _check_work_hours(day_start, day_end)
        if hours < 0:
            raise ValueError(f"hours must be >= 0, got {hours}")
        remaining = timedelta(hours=hours)
        start = start.astimezone(UTC)
        if not remaining:
            return start
        day = self.local_date(start)
        while True:
            window = self._work_window(day, day_start, day_end)
            if window is not None:
                cursor = max(window[0], start)
                if cursor < window[1]:
                    available = window[1] - cursor
                    if remaining <= available:
                        return cursor + remaining
                    remaining -= available
            day += _ONE_DAY


def wall_clock_instant(day: date, at: time, zone: ZoneInfo) -> datetime:
    """The aware UTC instant when the wall clocks of ``zone`` show ``at`` on ``day``.

    A time repeated when the clocks go back takes its first occurrence (PEP 495 fold=0). A time skipped when they
    spring forward (Berlin's 02:30 on 28 March 2027) is the moment of the jump, the first minute that exists after
    it (03:00): the clocks pass 02:30 right then, whereas reading it with the old offset (fold=0) would wait till
    03:30.
    """
    local = datetime.combine(day, at).replace(tzinfo=zone, fold=0)
    instant = local.astimezone(UTC)
    if instant.astimezone(zone).replace(tzinfo=None) == local.replace(tzinfo=None):
        return instant
    # In a gap: `instant` is after the jump and `instant - gap` before it; the jump is found to the second.
    gap = local.replace(fold=1).utcoffset() - local.utcoffset()  # type: ignore[operator]
    before, after = instant - abs(gap), instant
    after_offset = after.astimezone(zone).utcoffset()
    while after - before > timedelta(seconds=1):
        middle = before + (after - before) / 2
        middle = middle.replace(microsecond=0)
        if middle.astimezone(zone).utcoffset() == after_offset:
            after = middle
        else:
            before = middle
    return after


def _check_work_hours(day_start: time, day_end: time) -> None:
    if day_start.tzinfo is not None or day_end.tzinfo is not None:
        raise ValueError("day_start and day_end are local wall-clock times and must be naive")
    if day_end <= day_start:
        raise ValueError(f"day_end ({day_end}) must be after day_start ({day_start})")
