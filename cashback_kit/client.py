"""gRPC channels for service-to-service calls: the service key on every call,
deadlines, and transparent retry of UNAVAILABLE (safe: every mutating RPC is
idempotent by its natural key)."""

from __future__ import annotations

import json
from pathlib import Path

import grpc

from cashback_kit.config import Settings

_RETRY = json.dumps(
    {
        # Spread calls over every address the name resolves to (headless Services in k8s).
        "loadBalancingConfig": [{"round_robin": {}}],
        "methodConfig": [
            {
                "name": [{}],
                "retryPolicy": {
                    "maxAttempts": 4,
                    "initialBackoff": "0.1s",
                    "maxBackoff": "1s",
                    "backoffMultiplier": 2,
                    "retryableStatusCodes": ["UNAVAILABLE"],
                },
            }
        ]
    }
)

CHANNEL_OPTIONS = [
    ("grpc.service_config", _RETRY),
    ("grpc.enable_retries", 1),
    ("grpc.max_receive_message_length", 4 * 1024 * 1024),
    ("grpc.keepalive_time_ms", 60_000),
]


def open_channel(target: str, settings: Settings | None = None) -> grpc.aio.Channel:
    if settings is not None and settings.tls_ca:
        ca = Path(settings.tls_ca).read_bytes()
        cert = Path(settings.tls_cert).read_bytes() if settings.tls_cert else None
        key = Path(settings.tls_key).read_bytes() if settings.tls_key else None
        creds = grpc.ssl_channel_credentials(root_certificates=ca, private_key=key, certificate_chain=cert)
        return grpc.aio.secure_channel(target, creds, options=CHANNEL_OPTIONS)
    return grpc.aio.insecure_channel(target, options=CHANNEL_OPTIONS)


def bearer(key: str) -> tuple[tuple[str, str], ...]:
    return (("authorization", f"Bearer {key}"),)
