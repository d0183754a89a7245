"""Points said as a count in the customer's language («۱۲۰ امتیاز», «١٢٠ نقطة»,
"120 points"): shared by notify's messages and the program report, so a count of
points reads the same in an SMS and on the merchant's report."""

from __future__ import annotations

# The wallet's unit for points (not an ISO currency): amounts in it print as a count of points.
POINTS = "PTS"


def _arabic_points(n: int) -> str:
    """The counted noun as Arabic grammar wants it after the number: نقاط after 3-10
    (and 103-110, ...), نقطة after 11-99, 100, 1000; one and two are words of their own."""
    if n == 1:
        return "نقطة واحدة"
    if n == 2:
        return "نقطتان"
    return "نقاط" if 3 <= n % 100 <= 10 else "نقطة"


def points_phrase(count: str, n: int, lang: str) -> str:
    """`n` points with `count` (n already written in the language's digits) and the noun its grammar wants."""
    if lang == "fa":
        return f"{count} امتیاز"
    if lang == "ar":
        return _arabic_points(n) if n in (1, 2) else f"{count} {_arabic_points(n)}"
    return f"{count} point" if n == 1 else f"{count} points"
