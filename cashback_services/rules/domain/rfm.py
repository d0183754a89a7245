"""RFM segments: the map from recency, frequency and monetary scores (1-5) to
the eleven named segments.

The map is the usual R x FM grid: frequency and monetary are averaged (half
up) into one FM score, and each cell of recency x FM names one segment, so
every combination has exactly one. The SQL that scores a merchant's customers
joins on `grid()`, so this table is the only place the map is written."""

from __future__ import annotations

SEGMENTS = ("champions", "loyal_customers", "potential_loyalists", "recent_customers", "promising",
            "need_attention", "about_to_sleep", "at_risk", "cant_lose", "hibernating", "lost")

# recency -> the segment for FM = 5, 4, 3, 2, 1.
_BY_RECENCY = {
    5: ("champions", "champions", "potential_loyalists", "potential_loyalists", "recent_customers"),
    4: ("champions", "loyal_customers", "potential_loyalists", "potential_loyalists", "promising"),
    3: ("loyal_customers", "loyal_customers", "need_attention", "about_to_sleep", "about_to_sleep"),
    2: ("at_risk", "at_risk", "at_risk", "hibernating", "hibernating"),
    1: ("cant_lose", "cant_lose", "at_risk", "hibernating", "lost"),
}
DEFAULT_WINDOW_DAYS = 365


def segment_of(recency: int, frequency: int, monetary: int) -> str:
    fm = (frequency + monetary + 1) // 2
    return _BY_RECENCY[recency][5 - fm]


def grid() -> list[tuple[int, int, int, str]]:
    """Every (recency, frequency, monetary) with its segment: 125 rows."""
    return [(r, f, m, segment_of(r, f, m)) for r in range(1, 6) for f in range(1, 6) for m in range(1, 6)]
