"""Issue 15, point 8, on the rendered Kustomize tree: no example key or secret would be
accepted, each calling service gets its own narrow key, and every service port is TLS
with a secret-mounted certificate (probes use the plaintext health listener)."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from pathlib import Path

import pytest

from cashback_kit.auth import KeyFileError, KeyRing
from cashback_kit.hardening import Hardening
from cashback_kit.known_keys import example_key_reason

ROOT = Path(__file__).resolve().parents[2]
KUBECTL = Path(sys.executable).parent / "kubectl"
PORTS = {"rules": 50051, "wallet": 50052, "notify": 50053}


@pytest.fixture(scope="module")
def tree() -> dict[tuple[str, str], dict]:
    import yaml

    out = subprocess.run([str(KUBECTL), "kustomize", str(ROOT / "deploy" / "k8s")],
                         check=True, capture_output=True, text=True).stdout
    docs = [d for d in yaml.safe_load_all(out) if d]
    # Generated names carry a hash suffix: key them by the name before it.
    return {(d["kind"], d["metadata"]["name"].rsplit("-", 1)[0] if d["kind"] in ("ConfigMap", "Secret")
             else d["metadata"]["name"]): d for d in docs}


def _secret(tree: dict, name: str) -> dict[str, str]:
    return {k: base64.b64decode(v).decode() for k, v in tree[("Secret", name)]["data"].items()}


def test_every_shipped_api_key_is_refused_at_start(tree):
    entries = json.loads(_secret(tree, "cashback-api-keys")["api-keys.json"])["keys"]
    with pytest.raises(KeyFileError) as refused:
        KeyRing(entries)
    assert all(f"keys[{i}]: " in str(refused.value) for i in range(len(entries)))


def test_every_shipped_service_key_and_secret_is_refused_at_start(tree):
    shipped = {**_secret(tree, "cashback-secrets"), **_secret(tree, "notify-secrets")}
    for name in ("wallet-secrets", "notify-secrets"):
        assert example_key_reason(_secret(tree, name)["CASHBACK_SERVICE_KEY"]) is not None
    with pytest.raises(ValueError, match=r"CASHBACK_TOKEN_SECRET.*placeholder"):
        Hardening.from_env({"CASHBACK_TOKEN_SECRET": shipped["CASHBACK_TOKEN_SECRET"]})
    with pytest.raises(ValueError, match=r"CASHBACK_FINGERPRINT_SECRET.*placeholder"):
        Hardening.from_env({"CASHBACK_FINGERPRINT_SECRET": shipped["CASHBACK_FINGERPRINT_SECRET"]})


def test_wallet_and_notify_each_send_a_key_of_their_own_narrow_role(tree):
    entries = json.loads(_secret(tree, "cashback-api-keys")["api-keys.json"])["keys"]
    role_of = {e["key"]: e["role"] for e in entries}
    roles = {}
    for service in ("wallet", "notify"):
        roles[service] = role_of[_secret(tree, f"{service}-secrets")["CASHBACK_SERVICE_KEY"]]
        env = tree[("Deployment", service)]["spec"]["template"]["spec"]["containers"][0]["env"]
        ref = next(e for e in env if e["name"] == "CASHBACK_SERVICE_KEY")["valueFrom"]["secretKeyRef"]
        assert ref["name"].startswith(f"{service}-secrets")
    assert roles == {"wallet": "wallet-service", "notify": "notify-service"}
    assert "service" not in role_of.values()  # the deprecated shared role ships nowhere


def test_every_service_port_is_tls_with_a_secret_mounted_certificate(tree):
    config = tree[("ConfigMap", "cashback-config")]["data"]
    cert, key, ca = config["CASHBACK_TLS_CERT"], config["CASHBACK_TLS_KEY"], config["CASHBACK_TLS_CA"]
    health_port = int(config["CASHBACK_HEALTH_ADDR"].rsplit(":", 1)[1])
    for service, port in PORTS.items():
        assert config[f"{service.upper()}_ADDR"] == f"0.0.0.0:{port}"
        pod = tree[("Deployment", service)]["spec"]["template"]["spec"]
        container = pod["containers"][0]
        assert {"configMapRef": {"name": tree[("ConfigMap", "cashback-config")]["metadata"]["name"]}} \
            in container["envFrom"]
        mounts = {m["name"]: m for m in container["volumeMounts"]}
        secrets = {v["name"]: v["secret"]["secretName"] for v in pod["volumes"] if "secret" in v}
        tls_dir = mounts["tls"]["mountPath"]
        assert secrets["tls"] == "cashback-tls" and mounts["tls"]["readOnly"]
        assert {cert, key, ca} == {f"{tls_dir}/tls.crt", f"{tls_dir}/tls.key", f"{tls_dir}/ca.crt"}
        assert container["readinessProbe"]["grpc"]["port"] == health_port != port
        assert container["livenessProbe"]["grpc"]["port"] == health_port
        # Keys and certificates in separate read-only mounts (a mount inside a Secret mount fails).
        assert not tls_dir.startswith(mounts["api-keys"]["mountPath"] + "/")
        assert config["CASHBACK_API_KEYS_FILE"].startswith(mounts["api-keys"]["mountPath"] + "/")


def test_rules_takes_grpc_only_from_the_wallet_notify_and_ops_tooling(tree):
    policy = tree[("NetworkPolicy", "rules-ingress")]["spec"]
    rules_labels = tree[("Deployment", "rules")]["spec"]["template"]["metadata"]["labels"]
    assert policy["podSelector"]["matchLabels"].items() <= rules_labels.items()
    grpc_rule = next(r for r in policy["ingress"] if {"port": PORTS["rules"], "protocol": "TCP"} in r["ports"])
    allowed = [peer["podSelector"]["matchLabels"] for peer in grpc_rule["from"]]
    notify_labels = tree[("Deployment", "notify")]["spec"]["template"]["metadata"]["labels"]
    wallet_labels = tree[("Deployment", "wallet")]["spec"]["template"]["metadata"]["labels"]
    assert any(a.items() <= wallet_labels.items() for a in allowed)
    # Notify reads a promotion's audience (ListCustomers, the only rules RPC its key may call).
    assert any(a.items() <= notify_labels.items() for a in allowed)
    assert all(a.items() <= wallet_labels.items() or a.items() <= notify_labels.items() or "namespaceSelector" in peer
               for a, peer in zip(allowed, grpc_rule["from"], strict=True))
    # The rules port appears in no other rule (which would let anyone in).
    assert sum(any(p["port"] == PORTS["rules"] for p in r["ports"]) for r in policy["ingress"]) == 1
