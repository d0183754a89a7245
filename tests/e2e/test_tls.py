"""TLS through configuration: a server certificate, and optionally required client
certificates, end to end against a real process."""

from __future__ import annotations

import subprocess
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from cashback_kit.procs import start_process
from tests.support.keys import process_env

pytestmark = pytest.mark.e2e


def _openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("pki")
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=test-ca",
             "-keyout", str(d / "ca.key"), "-out", str(d / "ca.pem"))
    ext = d / "san.ext"
    ext.write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    for name in ("server", "client"):
        _openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={name}",
                 "-keyout", str(d / f"{name}.key"), "-out", str(d / f"{name}.csr"))
        _openssl("x509", "-req", "-in", str(d / f"{name}.csr"), "-CA", str(d / "ca.pem"), "-CAkey",
                 str(d / "ca.key"), "-CAcreateserial", "-days", "2", "-extfile", str(ext),
                 "-out", str(d / f"{name}.pem"))
    return d


def _check(target: str, creds: grpc.ChannelCredentials) -> int:
    with grpc.secure_channel(target, creds) as ch:
        return health_pb2_grpc.HealthStub(ch).Check(health_pb2.HealthCheckRequest(), timeout=5).status


def test_a_service_serves_tls_with_a_configured_certificate(pki, tmp_path, pg_url):
    env = process_env(tmp_path, pg_url, CASHBACK_TLS_CERT=str(pki / "server.pem"),
                      CASHBACK_TLS_KEY=str(pki / "server.key"))
    proc = start_process("rules", env)
    try:
        ca = (pki / "ca.pem").read_bytes()
        assert _check(proc.target, grpc.ssl_channel_credentials(ca)) == health_pb2.HealthCheckResponse.SERVING
        with grpc.insecure_channel(proc.target) as ch, pytest.raises(grpc.RpcError):
            health_pb2_grpc.HealthStub(ch).Check(health_pb2.HealthCheckRequest(), timeout=3)
    finally:
        proc.terminate()


def test_client_certificates_are_required_when_a_client_ca_is_configured(pki, tmp_path, pg_url):
    env = process_env(tmp_path, pg_url, CASHBACK_TLS_CERT=str(pki / "server.pem"),
                      CASHBACK_TLS_KEY=str(pki / "server.key"), CASHBACK_TLS_CLIENT_CA=str(pki / "ca.pem"))
    proc = start_process("rules", env)
    try:
        ca = (pki / "ca.pem").read_bytes()
        with pytest.raises(grpc.RpcError):
            _check(proc.target, grpc.ssl_channel_credentials(ca))
        mtls = grpc.ssl_channel_credentials(
            ca, private_key=(pki / "client.key").read_bytes(), certificate_chain=(pki / "client.pem").read_bytes()
        )
        assert _check(proc.target, mtls) == health_pb2.HealthCheckResponse.SERVING
    finally:
        proc.terminate()
