"""deploy/: the Kustomize tree renders, validates against the Kubernetes schemas,
follows the hardening rules, and sets no environment variable the services don't read."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from cashback_kit.config import ENV_VARS, Settings

ROOT = Path(__file__).resolve().parents[2]
KUBECTL = Path(sys.executable).parent / "kubectl"


@pytest.fixture(scope="module")
def manifests() -> list[dict]:
    out = subprocess.run([str(KUBECTL), "kustomize", str(ROOT / "deploy" / "k8s")],
                         check=True, capture_output=True, text=True).stdout
    return [d for d in yaml.safe_load_all(out) if d]


def vars_the_code_reads() -> set[str]:
    """ENV_VARS (what Settings reads, checked below) plus any NAME a service reads itself."""
    names = set(ENV_VARS)
    pattern = re.compile(r"""(?:environ\.get|environ\[|getenv|\benv\.get|\be\.get)\(?\s*["']([A-Z][A-Z0-9_]{2,})["']""")
    for path in [*ROOT.glob("cashback_services/**/*.py"), *ROOT.glob("cashback_kit/*.py")]:
        names |= set(pattern.findall(path.read_text()))
    return names


def test_every_variable_in_env_vars_changes_the_settings():
    samples = {"PORT": "1234", "GRACE": "7", "METRICS_PORT": "9999", "SECONDS": "7", "STREAMS_PER_KEY": "9",
               "PUBLIC_STREAMS": "9", "SECRET": "a-real-secret-of-forty-characters-long-xx"}
    for var in ENV_VARS:
        value = next((v for suffix, v in samples.items() if var.endswith(suffix)), "/x/y")
        changed = [s for s in ("rules", "wallet", "notify")
                   if Settings.from_env(s, {var: value}) != Settings.from_env(s, {})]
        assert changed, f"{var} is listed in ENV_VARS but no service's Settings reads it"


def test_the_tree_renders_and_validates_against_the_kubernetes_schemas(manifests):
    kinds = sorted(d["kind"] for d in manifests)
    assert kinds.count("Deployment") == 3 and kinds.count("Service") == 3 and "Job" in kinds
    for doc in manifests:
        kubernetes_validate.validate(doc, "1.30", strict=True)


def test_every_container_is_hardened_probed_and_bounded(manifests):
    for doc in manifests:
        if doc["kind"] != "Deployment":
            continue
        pod = doc["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        for c in pod["containers"]:
            sc = c["securityContext"]
            assert sc["readOnlyRootFilesystem"] and not sc["allowPrivilegeEscalation"]
            assert sc["capabilities"]["drop"] == ["ALL"]
            assert "grpc" in c["readinessProbe"] and "grpc" in c["livenessProbe"]
            assert c["resources"]["limits"]["memory"] and c["resources"]["requests"]["cpu"]


def test_notify_runs_two_replicas(manifests):
    notify = next(d for d in manifests if d["kind"] == "Deployment" and d["metadata"]["name"] == "notify")
    assert notify["spec"]["replicas"] == 2


def _env_names(manifests: list[dict]) -> set[str]:
    names: set[str] = set()
    for doc in manifests:
        if doc["kind"] in ("ConfigMap", "Secret"):
            names |= set((doc.get("data") or {}).keys()) - {"api-keys.json"}
        spec = doc.get("spec", {}).get("template", {}).get("spec", {})
        for c in spec.get("containers", []):
            names |= {e["name"] for e in c.get("env", [])}
    compose = yaml.safe_load((ROOT / "deploy" / "docker-compose.yml").read_text())
    for name, svc in compose["services"].items():
        if name != "postgres":
            names |= set(svc.get("environment", {}).keys())
    return names


def test_every_variable_the_manifests_set_is_one_the_services_read(manifests):
    unknown = _env_names(manifests) - vars_the_code_reads()
    assert not unknown, f"manifests set variables no service reads: {sorted(unknown)}"
