"""Page tokens and page sizes, one way for every service. A token is the
position after the last row of a page (opaque to clients: URL-safe base64 of
JSON); a token that does not decode to the shape a list expects is refused
with InvalidArgument on `page_token`, never a server error."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any, TypeVar

from cashback_kit.errors import InvalidArgument

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 500

T = TypeVar("T")


def page_size(value: int, default: int = DEFAULT_PAGE_SIZE, most: int = MAX_PAGE_SIZE) -> int:
    """A request's page_size: 0 means the default, anything above `most` is `most`."""
    if value < 0:
        raise InvalidArgument("page_size must not be negative", field="page_size")
    return min(value or default, most)


def encode(position: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(position).encode()).decode()


def decode(token: str, shape: Callable[[Any], T]) -> T | None:
    """The position in `token` (None for no token), checked by `shape`, which
    returns it typed or raises ValueError/TypeError/KeyError."""
    if not token:
        return None
    try:
        return shape(json.loads(base64.urlsafe_b64decode(token.encode())))
    except (ValueError, TypeError, KeyError, UnicodeError) as exc:
        raise InvalidArgument("page_token is not a token this service issued", field="page_token") from exc
