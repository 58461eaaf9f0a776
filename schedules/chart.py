"""The digest's PNG chart: weekly health of the customers that changed most, drawn headless with matplotlib."""

from __future__ import annotations

import io
import textwrap
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

WIDTH_IN, HEIGHT_IN, DPI = 8.0, 4.5, 100
CHART_SIZE = (int(WIDTH_IN * DPI), int(HEIGHT_IN * DPI))  # pixels: 800 × 450
MAX_LINES = 6
# The legend's room right of the plot holds about this many characters a line at its 8 pt: a longer name is wrapped
# onto a second line and cut there with "…", rather than cut off mid-letter by the image's edge.
LEGEND_CHARS, LEGEND_LINES = 20, 2
# pyplot keeps global state; one chart at a time per process (digests are rare, this costs nothing).
_lock = threading.Lock()


@dataclass(frozen=True)
class HealthLine:
    name: str
    values: Sequence[int | None]  # one per week, oldest first; None where no score was stored


def biggest_movers(lines: Sequence[HealthLine], limit: int = MAX_LINES) -> list[HealthLine]:
    """The lines with the widest swing (highest minus lowest) over the period; ties by name.

    Lines with a single score (customers scored only since last week) come after every line that could move: a
    team's first digests still chart the scores they list, instead of "No health scores stored yet".
    """
    scored = []
    for line in lines:
        known = [v for v in line.values if v is not None]
        if known:
            scored.append((max(known) - min(known), len(known) < 2, line))
    scored.sort(key=lambda item: (item[1], -item[0], item[2].name.lower()))
    return [line for _swing, _single, line in scored[:limit]]


def health_chart(lines: Sequence[HealthLine], *, week_starts: Sequence[date], title: str) -> bytes:
    """A PNG of exactly CHART_SIZE pixels: one line per customer over the weeks, bands shaded like Home."""
    with _lock:
        plt = _pyplot()
        figure, axes = plt.subplots(figsize=(WIDTH_IN, HEIGHT_IN), dpi=DPI)
        try:
            axes.axhspan(70, 100, color="#2eb67d", alpha=0.08)
            axes.axhspan(40, 70, color="#ecb22e", alpha=0.08)
            axes.axhspan(0, 40, color="#e01e5a", alpha=0.08)
            x = list(range(len(week_starts)))
            handles, labels = [], []
            for number, line in enumerate(lines, start=1):
                points = [(i, v) for i, v in zip(x, line.values, strict=False) if v is not None]
                if points:
                    (drawn,) = axes.plot([p[0] for p in points], [p[1] for p in points], marker="o", linewidth=2)
                    handles.append(drawn)
                    labels.append(legend_label(line.name, plt, number))
            axes.set_ylim(0, 100)
            axes.set_xlim(-0.3, max(len(x) - 0.7, 0.7))
            axes.set_xticks(x)
            axes.set_xticklabels([f"{d.day} {d:%b}" for d in week_starts], rotation=45, ha="right", fontsize=8)
            axes.set_ylabel("Health score")
            axes.set_title(title, fontsize=11)
            axes.grid(axis="y", alpha=0.3)
            if lines:
                # Handles and labels given, not read from the lines: matplotlib leaves out a label starting with "_".
                axes.legend(handles, labels, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False)
            else:
                axes.text(0.5, 0.5, "No health scores stored yet", ha="center", va="center", transform=axes.transAxes)
            figure.subplots_adjust(left=0.08, right=0.78, bottom=0.2, top=0.9)
            if (legend := axes.get_legend()) is not None:
                _fit_legend(figure, legend)  # once the plot is laid out: where the legend starts is known
            out = io.BytesIO()
            # No bbox_inches="tight": it would change the pixel size, which Slack previews and tests rely on.
            figure.savefig(out, format="png", dpi=DPI)
            return out.getvalue()
        finally:
            plt.close(figure)


def legend_label(name: str, plt: Any, number: int | None = None) -> str:
    """A customer's name as the legend shows it: wrapped to the legend's width, each `$` escaped. matplotlib reads
    text between two `$` as TeX, so "Deal $1M - $2M" would lose its dollars and show the rest in italics, and
    "$$ Bank" would raise instead of drawing (the week's chart never uploaded).

    A name the chart's fonts cannot draw whole (Japanese where no CJK font is installed, an emoji) would show empty
    boxes: it is labelled by its `number` in the chart, with what of it can be drawn ("#2", "#3 Ünïcødé"), and
    named in full in the chart's message (`chart_key`)."""
    shown = name
    if not drawn_whole(name, plt):
        kept = _drawable(name, plt)
        shown = f"#{number} {kept}".strip() if number is not None else kept or "?"
    lines = textwrap.wrap(shown, width=LEGEND_CHARS, max_lines=LEGEND_LINES, placeholder="…")
    return "\n".join(lines).replace("$", r"\$")


def chart_key(names: Sequence[str]) -> list[tuple[int, str]]:
    """The customers the legend gives by number (`legend_label`), as (number, name): for the chart's message."""
    if not names:
        return []
    plt = _pyplot()
    return [(number, name) for number, name in enumerate(names, start=1) if not drawn_whole(name, plt)]


def drawn_whole(name: str, plt: Any) -> bool:
    """True when the chart's fonts have a glyph for every character of the name."""
    glyphs = _font_glyphs(plt)
    return all(ord(ch) in glyphs or ch.isspace() for ch in name)


def _fit_legend(figure: Any, legend: Any) -> None:
    """Cuts with "…" each legend line that would still run past the image's edge (a name in wide letters)."""
    figure.canvas.draw()  # places the legend: where its texts start is read from the drawing
    renderer = figure.canvas.get_renderer()
    texts = legend.get_texts()
    if not texts:
        return
    room = figure.bbox.x1 - 2 - min(text.get_window_extent(renderer).x0 for text in texts)

    def width(line: str, text: Any) -> float:
        return float(renderer.get_text_width_height_descent(line, text.get_fontproperties(), ismath=False)[0])

    for text in texts:
        fitted = []
        for line in text.get_text().split("\n"):
            cut, shown = line, line
            while len(cut) > 1 and width(shown, text) > room:
                cut = cut[:-1].rstrip().removesuffix("\\")  # never leave half of an escaped `\$`
                shown = cut + "…"
            fitted.append(shown)
        text.set_text("\n".join(fitted))


def _drawable(name: str, plt: Any) -> str:
    """The name without the characters the chart's font has no glyph for (emoji, and scripts such as Japanese
    where no font for them is installed), which matplotlib would draw as empty boxes; "" when none is left."""
    glyphs = _font_glyphs(plt)
    kept = "".join(ch for ch in name if ord(ch) in glyphs or ch.isspace())
    return " ".join(kept.split())


# Fonts for names in other scripts, used (after matplotlib's default) wherever the operator installed them.
FALLBACK_FONTS = (
    "Noto Sans CJK JP",
    "Noto Sans CJK SC",
    "Noto Sans CJK KR",
    "WenQuanYi Zen Hei",
    "Droid Sans Fallback",
)
_glyphs: frozenset[int] | None = None


def _font_glyphs(plt: Any) -> frozenset[int]:
    """The code points the chart's fonts can show (read once per process)."""
    global _glyphs
    if _glyphs is None:
        from matplotlib import font_manager, ft2font

        codes: set[int] = set()
        for family in plt.rcParams["font.family"]:
            path = font_manager.findfont(font_manager.FontProperties(family=family), fallback_to_default=False)
            codes.update(ft2font.FT2Font(path).get_charmap())
        _glyphs = frozenset(codes)
    return _glyphs


def _pyplot() -> Any:
    """pyplot, imported on first use: it takes a second or more, which every CLI start would otherwise pay."""
    import matplotlib

    matplotlib.use("Agg")  # headless: no display on servers; chosen before pyplot is imported
    import matplotlib.pyplot as plt
    from matplotlib import font_manager

    installed = {font.name for font in font_manager.fontManager.ttflist}
    default = font_manager.FontProperties().get_name()
    plt.rcParams["font.family"] = [default, *(name for name in FALLBACK_FONTS if name in installed)]

    return plt


def week_starts(last_week_start: date, weeks: int) -> list[date]:
    return [last_week_start - timedelta(weeks=weeks - 1 - i) for i in range(weeks)]
