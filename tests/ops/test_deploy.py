"""The compose stack references only what it defines and documents; monitoring uses real metrics."""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from core.rollout import RolloutState
from ops.metrics import JobMetrics, Metrics
from ops.settings import Settings
from tests.conftest import REPO_ROOT
from tests.ops.test_settings import env_names

DEPLOY = REPO_ROOT / "ops" / "deploy"
COMPOSE = DEPLOY / "compose.yaml"

# Read by Docker Compose itself rather than by a service.
COMPOSE_OWN = frozenset({"COMPOSE_PROFILES"})
# vLLM's own metric names (vllm/v1/metrics/loggers.py, as exposed: counters end in _total).
VLLM_METRICS = frozenset(
    {
        "vllm:num_requests_running",
        "vllm:num_requests_waiting",
        "vllm:kv_cache_usage_perc",
        "vllm:prompt_tokens_total",
        "vllm:generation_tokens_total",
        "vllm:request_success_total",
        "vllm:num_preemptions_total",
        "vllm:lora_requests_info",
        *(
            f"vllm:{name}_{part}"
            for name in (
                "time_to_first_token_seconds",
                "e2e_request_latency_seconds",
                "inter_token_latency_seconds",
            )
            for part in ("bucket", "sum", "count")
        ),
    }
)
PROMETHEUS_OWN = frozenset({"up"})
VARIABLE = re.compile(r"(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)")
ENV_LINE = re.compile(r"^#?\s*([A-Z][A-Z0-9_]*)=", flags=re.M)


def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return loaded


def services() -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = compose()["services"]
    return found


def strings(node: object) -> Iterator[str]:
    """Every string value (not comment) in a parsed YAML tree."""
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for value in node.values():
            yield from strings(value)
    elif isinstance(node, list):
        for item in node:
            yield from strings(item)


def documented() -> set[str]:
    return set(ENV_LINE.findall((DEPLOY / ".env.example").read_text()))


def referenced_variables() -> set[str]:
    return {name for text in strings(compose()) for name in VARIABLE.findall(text)}


def leximind_variables() -> set[str]:
    """LEXIMIND_* names the stack sets in containers or documents for the operator."""
    names = {n for n in documented() if n.startswith("LEXIMIND_")}
    names |= {n for n in referenced_variables() if n.startswith("LEXIMIND_")}
    for service in services().values():
        names |= {n for n in service.get("environment", {}) if n.startswith("LEXIMIND_")}
    return names


def test_every_service_has_a_healthcheck() -> None:
    """Each service says how Docker tells it is healthy, with a real test command."""
    for name, service in services().items():
        check = service.get("healthcheck")
        assert check and check.get("test"), f"{name} has no healthcheck"
        assert check["test"][0] in {"CMD", "CMD-SHELL"}, name


def test_the_stack_has_every_part_of_the_design() -> None:
    """Weaviate, MinIO, vLLM (GPU and CPU), MLflow, Label Studio, Redis, two API replicas, the
    Discord bot, the scheduler, the proxy, Prometheus and Grafana."""
    assert set(services()) == {
        "api-1",
        "api-2",
        "discord",
        "scheduler",
        "scheduler-cpu",
        "proxy",
        "vllm",
        "vllm-cpu",
        "weaviate",
        "minio",
        "redis",
        "mlflow",
        "label-studio",
        "prometheus",
        "grafana",
    }
    commands = {n: s["command"][0] for n, s in services().items() if n.startswith("api-")}
    assert commands == {"api-1": "serve", "api-2": "serve"}
    assert services()["discord"]["command"] == ["discord"]
    assert services()["scheduler"]["command"] == ["scheduler"]
    assert services()["scheduler-cpu"]["command"] == ["scheduler"]


def test_dependencies_volumes_and_networks_are_defined() -> None:
    """depends_on names services; named volumes and networks are declared and all used."""
    spec = compose()
    declared_volumes, declared_networks = set(spec["volumes"]), set(spec["networks"])
    used_volumes: set[str] = set()
    used_networks: set[str] = set()
    for name, service in services().items():
        assert set(service.get("depends_on", {})) <= set(services()), name
        for mount in service.get("volumes", []):
            source = mount.split(":", 1)[0]
            if source.startswith((".", "/")):
                assert (DEPLOY / source).resolve().exists(), f"{name} mounts missing {source}"
            else:
                used_volumes.add(source)
        nets = service.get("networks", [])
        used_networks |= set(nets if isinstance(nets, list) else nets.keys())
        build = service.get("build")
        if build:
            assert (DEPLOY / build["context"] / build["dockerfile"]).is_file(), name
            for context in build.get("additional_contexts", {}).values():
                assert context.removeprefix("service:") in services(), f"{name}: {context}"
    assert used_volumes == declared_volumes
    assert used_networks == declared_networks


def test_every_variable_is_documented_in_env_example() -> None:
    """Each ${VARIABLE} of compose.yaml is in .env.example, which documents nothing else."""
    referenced = referenced_variables()
    assert referenced - documented() == set()
    stale = documented() - referenced - COMPOSE_OWN
    assert {n for n in stale if not n.startswith("LEXIMIND_")} == set()


def test_leximind_variables_are_real_settings() -> None:
    """Every LEXIMIND_* name the stack uses is a real setting."""
    unknown = leximind_variables() - env_names(Settings)
    assert unknown == set()


def test_published_ports_are_unique_and_configurable() -> None:
    """No two services publish the same host port; each port comes from a variable."""
    published = []
    for service in services().values():
        for port in service.get("ports", []):
            assert VARIABLE.search(port), port
            published.append(port.rsplit(":", 1)[0])
    assert len(published) == len(set(published))


def test_vllm_serves_lora_adapters_on_the_gpu_and_a_cpu_variant_exists() -> None:
    """LoRA with rank 8 and runtime updating on both; the GPU one reserves an NVIDIA device;
    the CPU one answers under the same name on the network."""
    gpu, cpu = services()["vllm"], services()["vllm-cpu"]
    for server in (gpu, cpu):
        args = server["command"]
        assert "--enable-lora" in args
        assert args[args.index("--max-lora-rank") + 1] == "8"
        assert server["environment"]["VLLM_ALLOW_RUNTIME_LORA_UPDATING"] == "True"
    [device] = gpu["deploy"]["resources"]["reservations"]["devices"]
    assert device["driver"] == "nvidia" and "gpu" in device["capabilities"]
    assert "deploy" not in cpu
    assert cpu["networks"]["backend"]["aliases"] == ["vllm"]
    assert (gpu["profiles"], cpu["profiles"]) == (["gpu"], ["cpu"])


def api_ports() -> dict[str, str]:
    """Service -> the port its `leximind serve` listens on."""
    found = {}
    for name, service in services().items():
        command = service.get("command", [])
        if command[:1] == ["serve"]:
            found[name] = command[command.index("--port") + 1]
    return found


def test_the_proxy_routes_to_both_replicas() -> None:
    """Caddy balances over exactly the serve replicas, on their ports, checking /healthz."""
    caddyfile = (DEPLOY / "Caddyfile").read_text()
    [upstreams] = re.findall(r"^\s*reverse_proxy\s+([^{\n]+)\{", caddyfile, flags=re.M)
    routed = dict(u.split(":") for u in upstreams.split())
    assert routed == api_ports() and len(routed) == 2
    assert re.search(r"^\s*health_uri /healthz$", caddyfile, flags=re.M)
    proxy_mounts = services()["proxy"]["volumes"]
    assert "./Caddyfile:/etc/caddy/Caddyfile:ro" in proxy_mounts


def scrape_targets() -> Iterator[str]:
    config = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    for job in config["scrape_configs"]:
        for static in job.get("static_configs", []):
            yield from static["targets"]
        for sd in job.get("file_sd_configs", []):
            for path in sd["files"]:
                local = DEPLOY / "prometheus" / Path(path).relative_to("/etc/prometheus")
                for group in json.loads(local.read_text()):
                    yield from group["targets"]


def test_prometheus_scrapes_services_on_ports_they_expose() -> None:
    """Each target is a service (or network alias) exposing the port scraped."""
    hosts: dict[str, set[str]] = {}
    for name, service in services().items():
        exposed = {str(p) for p in service.get("expose", [])}
        networks = service.get("networks", {})
        aliases = (
            networks.get("backend", {}).get("aliases", []) if isinstance(networks, dict) else []
        )
        for host in (name, *aliases):
            hosts.setdefault(host, set()).update(exposed)
    hosts["localhost"] = {"9090"}
    for target in scrape_targets():
        host, port = target.rsplit(":", 1)
        assert port in hosts.get(host, set()), f"nothing exposes {target}"
    env = yaml.safe_load(COMPOSE.read_text())["x-leximind"]["environment"]
    assert "discord:" + env["LEXIMIND_METRICS__PORT"] in set(scrape_targets())


def exposed_metric_names() -> set[str]:
    """The sample names Leximind's processes expose, as Prometheus stores them."""

    class Rollout:
        def state(self) -> RolloutState:
            return RolloutState(champion="v1", challenger="v2", share=0.1)

    class Writer:
        store_down = False

        def status(self) -> dict[str, object]:
            return {"spool_depth": 0, "spool_rejected": 0}

    api = Metrics()
    api.watch_spool(Writer())
    api.watch_rollout(Rollout())
    names: set[str] = set()
    for registry in (api.registry, JobMetrics().registry):
        for family in registry.collect():
            if family.type == "counter":
                names.add(f"{family.name}_total")
            elif family.type == "histogram":
                names |= {f"{family.name}_{s}" for s in ("bucket", "sum", "count")}
            else:
                names.add(family.name)
    return names


def dashboard_expressions() -> Iterator[tuple[str, str]]:
    for path in sorted((DEPLOY / "grafana" / "dashboards").glob("*.json")):
        for panel in json.loads(path.read_text())["panels"]:
            for target in panel.get("targets", []):
                yield path.name, target["expr"]


def test_dashboards_query_only_metrics_that_exist() -> None:
    """Every metric a panel queries is exposed by Leximind's code or is one of vLLM's own."""
    known = exposed_metric_names() | VLLM_METRICS | PROMETHEUS_OWN
    used: set[str] = set()
    for name, expr in dashboard_expressions():
        found = set(re.findall(r"\b(?:leximind_\w+|vllm:\w+)", expr))
        found |= {"up"} if re.search(r"\bup\{", expr) else set()
        assert found, f"{name}: {expr} queries no known metric"
        assert found <= known, f"{name}: unknown {found - known}"
        used |= found
    wanted = {
        "leximind_requests_total",
        "leximind_retrieval_seconds_bucket",
        "leximind_generation_seconds_bucket",
        "leximind_abstentions_total",
        "leximind_feedback_total",
        "leximind_spool_depth",
        "leximind_job_runs_total",
        "vllm:num_requests_running",
    }
    assert wanted <= used


def test_grafana_provisions_the_datasource_the_dashboards_use() -> None:
    """Dashboards point at the provisioned Prometheus uid, from the folder the provider reads."""
    grafana = DEPLOY / "grafana"
    [source] = yaml.safe_load((grafana / "provisioning/datasources/prometheus.yaml").read_text())[
        "datasources"
    ]
    assert source["url"] == "http://prometheus:9090"
    [provider] = yaml.safe_load((grafana / "provisioning/dashboards/leximind.yaml").read_text())[
        "providers"
    ]
    mounts = services()["grafana"]["volumes"]
    assert f"./grafana/dashboards:{provider['options']['path']}:ro" in mounts
    for path in grafana.glob("dashboards/*.json"):
        for panel in json.loads(path.read_text())["panels"]:
            if panel["type"] != "row":
                assert panel["datasource"]["uid"] == source["uid"], path.name


def test_the_image_is_multi_stage_non_root_and_installs_the_package() -> None:
    """Two stages, the package installed (not editable), the model exported at build time,
    a non-root user and a health check."""
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    assert len(re.findall(r"^FROM ", dockerfile, flags=re.M)) >= 2
    assert re.search(r"pip install \.$", dockerfile, flags=re.M)
    assert "exported_model(" in dockerfile
    [user] = re.findall(r"^USER (\S+)", dockerfile, flags=re.M)
    assert user not in {"root", "0"}
    assert "HEALTHCHECK" in dockerfile and 'ENTRYPOINT ["leximind"]' in dockerfile


def test_the_image_copies_every_package_the_project_installs() -> None:
    """Each top-level package pyproject.toml installs is copied into the build stage."""
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
    packages = {p.rstrip("*") for p in project["tool"]["setuptools"]["packages"]["find"]["include"]}
    copied = set(re.findall(r"^COPY (\w+) \1$", (DEPLOY / "Dockerfile").read_text(), flags=re.M))
    assert packages <= copied, sorted(packages - copied)


def test_exactly_one_scheduler_runs_per_profile_and_only_the_gpu_one_retrains() -> None:
    """gpu: the trainer image on the GPU, pointed at the trainer venv's CLI; cpu and no-gpu:
    the app image with retraining off. Each of them answers Prometheus as `scheduler`."""
    gpu, cpu = services()["scheduler"], services()["scheduler-cpu"]
    for profile in ("gpu", "cpu", "no-gpu"):
        running = [
            n for n, s in services().items() if s.get("profiles") and profile in s["profiles"]
        ]
        assert sum(n.startswith("scheduler") for n in running) == 1, profile
    assert gpu["build"]["dockerfile"] == "ops/deploy/trainer.Dockerfile"
    assert gpu["build"]["additional_contexts"] == {"leximind-app": "service:api-1"}
    assert gpu["environment"]["LEXIMIND_TRAINING__CLI"] == "/opt/trainer/bin/llamafactory-cli"
    [device] = gpu["deploy"]["resources"]["reservations"]["devices"]
    assert device["driver"] == "nvidia" and "gpu" in device["capabilities"]
    assert "trainer-models:/var/cache/leximind-hf" in gpu["volumes"]
    assert gpu["environment"]["HF_HOME"] == "/var/cache/leximind-hf"
    assert cpu["environment"]["LEXIMIND_SCHEDULER__RETRAIN_ENABLED"] == "false"
    assert cpu["image"] == services()["api-1"]["image"] and "deploy" not in cpu
    assert cpu["networks"]["backend"]["aliases"] == ["scheduler"]
    # Both keep every setting of the app services and share their data and adapters.
    for scheduler in (gpu, cpu):
        assert services()["api-1"]["environment"].items() <= scheduler["environment"].items()
        assert {"leximind-data:/var/lib/leximind", "adapters:/var/lib/leximind/adapters"} <= set(
            scheduler["volumes"]
        )


def test_the_trainer_image_adds_the_trainer_venv_to_the_app_image() -> None:
    """The trainer venv is built by make_venv.sh on the app's Python image and copied onto the
    app image, whose non-root user runs it; the CLI path is the one compose configures."""
    trainer = (DEPLOY / "trainer.Dockerfile").read_text()
    app = (DEPLOY / "Dockerfile").read_text()
    python_image = re.compile(r"^ARG PYTHON_IMAGE=(\S+)$", flags=re.M)
    assert python_image.findall(trainer) == python_image.findall(app)
    assert "bash /tmp/make_venv.sh /opt/trainer" in trainer
    assert "COPY ops/training/make_venv.sh" in trainer
    assert (REPO_ROOT / "ops" / "training" / "make_venv.sh").is_file()
    stages = re.findall(r"^FROM (\S+)", trainer, flags=re.M)
    assert stages == ["${PYTHON_IMAGE}", "leximind-app"]
    assert "COPY --from=trainer /opt/trainer /opt/trainer" in trainer
    assert re.findall(r"^USER (\S+)", trainer, flags=re.M)[-1] == "leximind"
    assert "LEXIMIND_TRAINING__CLI=/opt/trainer/bin/llamafactory-cli" in trainer
