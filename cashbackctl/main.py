"""cashbackctl: the ops command line. It talks gRPC to the three services with an
ops key (CASHBACK_OPS_KEY, or --key)."""

from __future__ import annotations

import json
import os

import grpc
import typer
from grpc_health.v1 import health_pb2, health_pb2_grpc

from cashback_kit.config import DEFAULT_ADDRS

app = typer.Typer(no_args_is_help=True, add_completion=False, help=__doc__)


@app.callback()
def _root() -> None:
    """cashbackctl: ops for the cashback platform."""


def _target(service: str) -> str:
    return os.environ.get(f"{service.upper()}_ADDR", DEFAULT_ADDRS[service])


@app.command()
def health(as_json: bool = typer.Option(False, "--json", help="machine-readable output")) -> None:
    """Health of rules, wallet and notify (grpc.health.v1)."""
    result: dict[str, str] = {}
    for service in ("rules", "wallet", "notify"):
        target = _target(service)
        try:
            with grpc.insecure_channel(target) as ch:
                resp = health_pb2_grpc.HealthStub(ch).Check(health_pb2.HealthCheckRequest(), timeout=3)
            result[service] = health_pb2.HealthCheckResponse.ServingStatus.Name(resp.status)
        except grpc.RpcError as exc:
            result[service] = f"{exc.code().name}"
    if as_json:
        typer.echo(json.dumps(result))
    else:
        for service, status in result.items():
            typer.echo(f"{service:<7} {_target(service):<22} {status}")
    if any(s != "SERVING" for s in result.values()):
        raise typer.Exit(1)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
