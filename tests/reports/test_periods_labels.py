"""Report ranges and label catalogues: pure, no servers."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from collector.reports.labels import LabelError, catalogue, languages
from collector.reports.periods import PeriodError, choose, month, quarter
from collector.reports.render import css_string, format_number, pick, segment, slot_text


def utc(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M")


def test_a_month_is_local_midnight_to_local_midnight_with_its_neighbours() -> None:
    november = month("2026-11", "Europe/Brussels")
    assert (utc(november.start_ms), utc(november.end_ms)) == ("2026-10-31 23:00", "2026-11-30 23:00")
    assert november.previous().label == "2026-10" and november.last_year().label == "2025-11"  # type: ignore[union-attr]
    # October holds the autumn DST change: it starts at +02:00 and ends at +01:00.
    october = november.previous()
    assert (utc(october.start_ms), utc(october.end_ms)) == ("2026-09-30 22:00", "2026-10-31 23:00")
    assert month("2026-01", "UTC").previous().label == "2025-12"


def test_quarters_and_ranges() -> None:
    q4 = quarter("2026-Q4", "UTC")
    assert (q4.first_day, q4.last_day) == (date(2026, 10, 1), date(2026, 12, 31))
    assert q4.previous().label == "2026-Q3" and quarter("2026q1", "UTC").previous().label == "2025-Q4"
    week = choose("UTC", month_text=None, quarter_text=None, start="2026-11-09", end="2026-11-15")
    assert (week.end_ms - week.start_ms) == 7 * 86_400_000
    assert week.previous().label == "2026-11-02..2026-11-08" and week.last_year() is None


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"month_text": "2026-13"}, "YYYY-MM"),
        ({"quarter_text": "2026-Q5"}, "YYYY-Qn"),
        ({"start": "2026-11-09"}, "both from and to"),
        ({"start": "2026-11-09", "end": "2026-11-01"}, "before"),
        ({"month_text": "2026-11", "quarter_text": "2026-Q4"}, "give one range"),
        ({}, "give one range"),
    ],
)
def test_bad_ranges_say_what_is_expected(kwargs: dict[str, str], message: str) -> None:
    arguments = {"month_text": None, "quarter_text": None, "start": None, "end": None, **kwargs}
    with pytest.raises(PeriodError, match=message):
        choose("UTC", **arguments)


def test_every_language_has_every_english_label() -> None:
    assert {"en", "nl", "fr"} <= set(languages())
    english = catalogue("en")
    for language in languages():
        labels = catalogue(language)
        assert set(labels) == set(english), language
        assert len(labels["weekdays"]) == 7
        # Templates read labels as attributes: a key named like a dict method would print the method.
        assert not set(labels) & set(dir(dict)), language
    assert catalogue("nl")["fix_rate"] != english["fix_rate"] and catalogue("fr")["headline"] != english["headline"]


def test_an_unknown_language_names_the_ones_there_are() -> None:
    with pytest.raises(LabelError, match="choose one of en, fr, nl"):
        catalogue("de")


def test_numbers_follow_the_catalogue_and_paths_reach_lists() -> None:
    assert format_number(1234.567, 1, catalogue("en")) == "1,234.6"
    assert format_number(1234.567, 1, catalogue("nl")) == "1.234,6"
    assert format_number(0.5341, 1, catalogue("en"), 0.01) == "53.4"
    assert format_number(None, 1, catalogue("en")) == "—"
    assert pick({"meters": [{"uptime": 0.9}]}, "meters/0/uptime") == 0.9
    assert pick({"meters": []}, "meters/0/uptime") is None
    assert (
        pick(
            {"categories": {"Aircon/dehumidifier": {"fixed": 2}}}, f"categories/{segment('Aircon/dehumidifier')}/fixed"
        )
        == 2
    )
    assert slot_text("2026-11-13T14:00:00+01:00", catalogue("en")) == "Fri 2026-11-13 14:00–14:15"
    assert slot_text("2026-11-13T23:45:00+01:00", catalogue("fr")) == "ven 2026-11-13 23:45–00:00"
    assert css_string('a "quoted" \\ label') == '"a \\"quoted\\" \\\\ label"'
