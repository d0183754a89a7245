"""One server interceptor for the cross-cutting work of every RPC: request ids,
authentication and authorisation, and the one mapping from exceptions to gRPC
status codes (with google.rpc.BadRequest field violations)."""

from __future__ import annotations

import inspect
import logging
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import grpc
from google.protobuf import any_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2

from cashback_kit import errors
from cashback_kit.auth import PUBLIC_PREFIXES, KeyRing, Principal, authorize, authorize_method, current_principal
from cashback_kit.logs import caller_key_id, request_id, valid_request_id

log = logging.getLogger("cashback.rpc")

# Codes of a downstream service's answer we pass on as they are.
_PASS_THROUGH = {
    grpc.StatusCode.INVALID_ARGUMENT,
    grpc.StatusCode.NOT_FOUND,
    grpc.StatusCode.ALREADY_EXISTS,
    grpc.StatusCode.FAILED_PRECONDITION,
    grpc.StatusCode.ABORTED,
    grpc.StatusCode.RESOURCE_EXHAUSTED,
    grpc.StatusCode.OUT_OF_RANGE,
}
_DOWNSTREAM_DOWN = {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.CANCELLED}
# PostgreSQL SQLSTATEs that mean "a concurrent transaction got in the way: retry".
_RETRYABLE_SQLSTATE = {"40001", "40P01", "55P03"}


class Classified:
    def __init__(self, code: grpc.StatusCode, message: str, details: bytes | None = None) -> None:
        self.code, self.message, self.details = code, message, details


# google.rpc.ErrorInfo.domain of every error this platform raises.
ERROR_DOMAIN = "cashback.example"


def _pack(status: status_pb2.Status, detail: Any) -> None:
    packed = any_pb2.Any()
    packed.Pack(detail)
    status.details.append(packed)


def _status_bytes(code: grpc.StatusCode, message: str, exc: errors.DomainError | None = None) -> bytes:
    """google.rpc.Status with ErrorInfo (the reason callers branch on) and, for bad
    input, BadRequest with every field violation at once."""
    status = status_pb2.Status(code=getattr(code_pb2, code.name), message=message)
    if exc is not None:
        # BadRequest first: clients of the first release read details[0] as it.
        violations = exc.violations if isinstance(exc, errors.InvalidArgument) else []
        if violations:
            _pack(status, error_details_pb2.BadRequest(field_violations=[
                error_details_pb2.BadRequest.FieldViolation(field=v.field, description=v.description)
                for v in violations
            ]))
        _pack(status, error_details_pb2.ErrorInfo(reason=exc.reason, domain=ERROR_DOMAIN, metadata=exc.metadata))
    return status.SerializeToString()


def _sqlstate(exc: BaseException) -> str | None:
    seen: set[int] = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        state = getattr(cur, "sqlstate", None) or getattr(cur, "pgcode", None)
        if isinstance(state, str):
            return state
        cur = getattr(cur, "orig", None) or cur.__cause__ or cur.__context__
    return None


def classify(exc: BaseException) -> Classified:
    """Every exception becomes exactly one status. INTERNAL is for bugs only."""
    if isinstance(exc, errors.DomainError):
        code = grpc.StatusCode[exc.code]
        return Classified(code, exc.message, _status_bytes(code, exc.message, exc))
    if isinstance(exc, NotImplementedError):
        return Classified(grpc.StatusCode.UNIMPLEMENTED, "this RPC is not implemented yet")
    if isinstance(exc, grpc.aio.AioRpcError):
        code = exc.code()
        if code in _PASS_THROUGH:
            details = dict(exc.trailing_metadata() or ()).get("grpc-status-details-bin")
            return Classified(code, exc.details() or code.name, details if isinstance(details, bytes) else None)
        if code in _DOWNSTREAM_DOWN:
            return Classified(grpc.StatusCode.UNAVAILABLE, "a dependency is unavailable; retry later")
        return Classified(grpc.StatusCode.INTERNAL, f"a dependency answered {code.name}")
    try:
        from sqlalchemy import exc as sa_exc
    except ImportError:  # pragma: no cover
        sa_exc = None  # type: ignore[assignment]
    if sa_exc is not None:
        if isinstance(exc, sa_exc.TimeoutError):
            return Classified(grpc.StatusCode.UNAVAILABLE, "the database is busy or unreachable; retry later")
        if isinstance(exc, sa_exc.DBAPIError):
            state = _sqlstate(exc)
            text = str(exc.orig) if exc.orig is not None else str(exc)
            if state in _RETRYABLE_SQLSTATE or "database is locked" in text:
                return Classified(grpc.StatusCode.ABORTED, "concurrent update; safe to retry")
            if isinstance(exc, sa_exc.IntegrityError) and (state == "23505" or "UNIQUE constraint" in text):
                return Classified(grpc.StatusCode.ABORTED, "concurrent write of the same key; safe to retry")
            if exc.connection_invalidated or isinstance(exc, sa_exc.InterfaceError | sa_exc.OperationalError):
                return Classified(grpc.StatusCode.UNAVAILABLE, "the database is unavailable; retry later")
            if state is not None and state[:2] in {"08", "57", "53"}:
                return Classified(grpc.StatusCode.UNAVAILABLE, "the database is unavailable; retry later")
    if isinstance(exc, OSError | TimeoutError | ConnectionError):
        return Classified(grpc.StatusCode.UNAVAILABLE, "a dependency is unreachable; retry later")
    if type(exc).__module__.startswith("asyncpg") and "Connection" in type(exc).__name__:
        return Classified(grpc.StatusCode.UNAVAILABLE, "the database is unavailable; retry later")
    return Classified(grpc.StatusCode.INTERNAL, f"internal error (request {request_id.get()})")


async def _abort(context: grpc.aio.ServicerContext, method: str, exc: BaseException, *, quiet: bool = False) -> None:
    """`quiet`: no log line (an unauthenticated flood must not become a log flood too)."""
    c = classify(exc)
    if c.code is grpc.StatusCode.INTERNAL:
        log.error("rpc failed", exc_info=exc, extra={"method": method})
    elif not quiet:
        log.info("rpc refused", extra={"method": method, "code": c.code.name, "detail": c.message})
    trailing = (("grpc-status-details-bin", c.details),) if c.details else ()
    await context.abort(c.code, c.message, trailing_metadata=trailing)


RpcObserver = Callable[[str, str, float], None]
# A handler's behaviour. These are aio behaviours (coroutines, async generators); grpc's
# stubs type RpcMethodHandler's fields as sync ones, hence the loose type.
Behaviour = Callable[..., Any]


class StreamCounter:
    """Open streams per owner (a key id, or one shared owner for public streams)."""

    def __init__(self, limit: int, refusal: str, reason: str) -> None:
        self.limit, self.refusal, self.reason = limit, refusal, reason
        self.open: dict[str, int] = {}

    def acquire(self, owner: str) -> None:
        if self.open.get(owner, 0) >= self.limit:
            raise errors.ResourceExhausted(
                self.refusal.format(limit=self.limit), reason=self.reason, metadata={"limit": str(self.limit)}
            )
        self.open[owner] = self.open.get(owner, 0) + 1

    def release(self, owner: str) -> None:
        left = self.open.get(owner, 0) - 1
        if left > 0:
            self.open[owner] = left
        else:
            self.open.pop(owner, None)


class ServiceInterceptor(grpc.aio.ServerInterceptor):
    def __init__(
        self,
        keys: KeyRing,
        observers: list[RpcObserver] | None = None,
        *,
        max_streams_per_key: int = 8,
        max_public_streams: int = 64,
    ) -> None:
        self.keys = keys
        self.observers = observers or []
        self.key_streams = StreamCounter(
            max_streams_per_key, "this key already holds {limit} open streams: close one or retry later",
            "TOO_MANY_STREAMS_PER_KEY",
        )
        self.public_streams = StreamCounter(
            max_public_streams, "too many open unauthenticated streams ({limit}): retry later",
            "TOO_MANY_PUBLIC_STREAMS",
        )
        self._wrapped: dict[str, tuple[grpc.RpcMethodHandler, grpc.RpcMethodHandler]] = {}

    def _begin(self, method: str, request: Any, context: grpc.aio.ServicerContext) -> Principal:
        md = {k: v for k, v in context.invocation_metadata() or () if isinstance(v, str)}
        # A client's id is logged and echoed in INTERNAL messages: a malformed one is replaced.
        request_id.set(valid_request_id(md.get("x-request-id")) or uuid.uuid4().hex[:16])
        principal = self.keys.authenticate(md.get("authorization"))
        current_principal.set(principal)
        caller_key_id.set(principal.key_id)
        if request is _NO_REQUEST_YET:
            authorize_method(principal, method)
        else:
            authorize(principal, method, request)
        return principal

    def _observe(self, method: str, code: str, started: float) -> None:
        for obs in self.observers:
            obs(method, code, time.perf_counter() - started)

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler[Any, Any] | None]],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler[Any, Any] | None:
        handler = await continuation(details)
        method = details.method
        if handler is None:
            return handler
        # The wrapper holds no per-call state: build it once per registered handler.
        cached = self._wrapped.get(method)
        if cached is not None and cached[0] is handler:
            return cached[1]
        if method.startswith(PUBLIC_PREFIXES):
            wrapped = self._wrap_public(method, handler)
        else:
            wrapped = self._wrap(method, handler)
        self._wrapped[method] = (handler, wrapped)
        return wrapped

    def _wrap_public(self, method: str, handler: grpc.RpcMethodHandler) -> grpc.RpcMethodHandler:
        """No key needed, but no unbounded hold on the server either: open public streams
        (health Watch, reflection) share one small cap, so they can never take the
        server's concurrent-RPC slots from authenticated calls."""
        inner: Behaviour | None = handler.unary_stream or handler.stream_stream
        if inner is None:
            return handler
        counter = self.public_streams

        async def capped(request_or_iterator: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
            try:
                counter.acquire("public")
            except errors.ResourceExhausted as exc:
                await _abort(context, method, exc, quiet=True)
            try:
                async for item in _items(inner(request_or_iterator, context)):
                    yield item
            finally:
                counter.release("public")

        if handler.unary_stream is not None:
            return _rebuild(handler, unary_stream=capped)
        return _rebuild(handler, stream_stream=capped)

    def _wrap(self, method: str, handler: grpc.RpcMethodHandler) -> grpc.RpcMethodHandler:
        if handler.unary_unary is not None:
            return _rebuild(handler, unary_unary=self._unary(method, handler.unary_unary, first_request=True))
        if handler.stream_unary is not None:
            return _rebuild(handler, stream_unary=self._unary(method, handler.stream_unary, first_request=False))
        if handler.unary_stream is not None:
            return _rebuild(handler, unary_stream=self._stream(method, handler.unary_stream, first_request=True))
        if handler.stream_stream is not None:
            return _rebuild(handler, stream_stream=self._stream(method, handler.stream_stream, first_request=False))
        return handler

    def _checked_requests(self, method: str, requests: AsyncIterator[Any]) -> AsyncIterator[Any]:
        """A client stream's messages, each authorised for its merchant as it arrives."""

        async def checked() -> AsyncIterator[Any]:
            principal = current_principal.get()
            assert principal is not None
            async for request in requests:
                authorize(principal, method, request)
                yield request

        return checked()

    def _unary(self, method: str, inner: Behaviour, *, first_request: bool) -> Behaviour:
        async def unary(request: Any, context: grpc.aio.ServicerContext) -> Any:
            started = time.perf_counter()
            try:
                self._begin(method, request if first_request else _NO_REQUEST_YET, context)
                if not first_request:
                    request = self._checked_requests(method, request)
                result = inner(request, context)
                if inspect.isawaitable(result):
                    result = await result
            except grpc.aio.AbortError:
                self._observe(method, "ABORTED_BY_HANDLER", started)
                raise
            except Exception as exc:
                self._observe(method, classify(exc).code.name, started)
                await _abort(context, method, exc)
                raise AssertionError("unreachable") from exc
            self._observe(method, "OK", started)
            return result

        return unary

    def _stream(self, method: str, inner: Behaviour, *, first_request: bool) -> Behaviour:
        async def stream(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
            started = time.perf_counter()
            owner = None
            try:
                principal = self._begin(method, request if first_request else _NO_REQUEST_YET, context)
                self.key_streams.acquire(principal.key_id)
                owner = principal.key_id
                if not first_request:
                    request = self._checked_requests(method, request)
                async for item in _items(inner(request, context)):
                    yield item
            except grpc.aio.AbortError:
                raise
            except Exception as exc:
                self._observe(method, classify(exc).code.name, started)
                await _abort(context, method, exc)
            finally:
                if owner is not None:
                    self.key_streams.release(owner)
            self._observe(method, "OK", started)

        return stream


_NO_REQUEST_YET = object()


async def _items(result: Any) -> AsyncIterator[Any]:
    if inspect.isawaitable(result):
        result = await result
    if hasattr(result, "__aiter__"):
        async for item in result:
            yield item
    else:
        for item in result:
            yield item


def _rebuild(handler: grpc.RpcMethodHandler, **behaviour: Behaviour) -> grpc.RpcMethodHandler:
    kinds = {
        "unary_unary": grpc.unary_unary_rpc_method_handler,
        "unary_stream": grpc.unary_stream_rpc_method_handler,
        "stream_unary": grpc.stream_unary_rpc_method_handler,
        "stream_stream": grpc.stream_stream_rpc_method_handler,
    }
    ((kind, fn),) = behaviour.items()
    return kinds[kind](
        fn, request_deserializer=handler.request_deserializer, response_serializer=handler.response_serializer
    )
