"""OpenTelemetry tracing through the gRPC instrumentation, off unless configured.

CASHBACK_TRACING=otlp exports to OTEL_EXPORTER_OTLP_ENDPOINT (the standard OTel
variables apply); CASHBACK_TRACING=console prints spans (for debugging and tests).
Server and client interceptors both come from opentelemetry-instrumentation-grpc,
so a wallet -> rules call is one trace."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from cashback_kit.config import Settings


def configure_tracing(settings: Settings) -> Callable[[], Awaitable[None]] | None:
    """Install the tracer provider and gRPC instrumentation; returns a flush-on-stop hook."""
    mode = settings.tracing.lower()
    if mode in ("", "off", "none"):
        return None
    if mode not in ("otlp", "console"):
        raise ValueError("CASHBACK_TRACING must be otlp, console or off")
    from opentelemetry import trace
    from opentelemetry.instrumentation.grpc import GrpcAioInstrumentorClient, GrpcAioInstrumentorServer
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SimpleSpanProcessor

    provider = TracerProvider(resource=Resource.create({"service.name": f"cashback-{settings.service}"}))
    if mode == "otlp":
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    else:
        provider.add_span_processor(SimpleSpanProcessor(ConsoleSpanExporter()))
    trace.set_tracer_provider(provider)
    GrpcAioInstrumentorServer().instrument()
    GrpcAioInstrumentorClient().instrument()

    async def flush() -> None:
        provider.shutdown()

    return flush
