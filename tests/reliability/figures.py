"""Figures the reliability suites report for `make soak` (a JSON line each, to the
file named by CASHBACK_SOAK_REPORT; nothing when it is unset)."""

from __future__ import annotations

import json
import os


def record(suite: str, **figures: object) -> None:
    path = os.environ.get("CASHBACK_SOAK_REPORT")
    if path:
        with open(path, "a") as f:
            f.write(json.dumps({"suite": suite, **figures}) + "\n")
