"""The deployment files are linted and checked against the code they deploy.

Dockerfile (hadolint, and the rules that matter here in Python), .dockerignore (lets in what
pyproject.toml ships, keeps out the rest), deploy/compose.yaml (the Compose Specification's
JSON schema), deploy/k8s/ (the Kubernetes JSON schemas, strict, for the oldest and newest
Kubernetes versions kubernetes-validate knows, and the probes, resources and
securityContext every pod needs), every YAML file (yamllint), every shell script
(shellcheck), and across them: every ITINERA_* variable is a real setting, every command
is a real `itinera` subcommand, no secret is written down, and the database roles of
deploy/postgres/ give the application what it needs and nothing more (on a real
PostgreSQL).  An image build and a cluster cannot run here: see deploy/README.md.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from importlib import resources
from pathlib import Path
from typing import Any

import asyncpg
import jsonschema
import kubernetes_validate
import pytest
import typer.main
import yaml
from typer.testing import CliRunner
from yamllint import linter as yamllint_linter
from yamllint.config import YamlLintConfig

from api.routes import health
from itinera_cli import app as cli_app
from settings import Settings
from store.migrations import apply_migrations

PROJECT = Path(__file__).resolve().parent.parent
DEPLOY = PROJECT / "deploy"
K8S = DEPLOY / "k8s"
COMPOSE_FILE = DEPLOY / "compose.yaml"
DOCKERFILE = PROJECT / "Dockerfile"
IMAGE = "itinera"  # the image built from DOCKERFILE, as compose and the manifests name it

SETTING_VARIABLES = {f"ITINERA_{name.upper()}" for name in Settings.model_fields}
SECRET_SETTINGS = {f"ITINERA_{name.upper()}" for name, field in Settings.model_fields.items()
                   if "SecretStr" in str(field.annotation)}
# Must be set, and the same, in every replica of a role: a process without them would make
# keys of its own (the image has no writable data folder, so it refuses to start instead).
SHARED_SECRETS = {
    "worker": {"ITINERA_PAYLOAD_KEYS", "ITINERA_PAYLOAD_ACTIVE_KEY"},
    "api": {"ITINERA_PAYLOAD_KEYS", "ITINERA_PAYLOAD_ACTIVE_KEY", "ITINERA_JWT_SIGNING_KEY", "ITINERA_CASE_ID_KEY"},
}
# Secret settings a deployment may leave unset (the default needs none).
OPTIONAL_SECRETS = {"ITINERA_TEMPORAL_API_KEY"}
# Names of environment variables that hold secrets and must never be written down.
SECRET_NAME = re.compile(r"PASSWORD|PASSWD|_KEYS?$|_TOKEN$|SECRET")
NOT_SECRET = {"ITINERA_PAYLOAD_ACTIVE_KEY"}  # a key id, not a key

ITINERA_VARIABLE = re.compile(r"\bITINERA_[A-Z0-9_]*[A-Z0-9]\b")
INTERPOLATION = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}")


# --- reading the files ------------------------------------------------------------------------


def yaml_files() -> list[Path]:
    return sorted([*DEPLOY.rglob("*.yaml"), *DEPLOY.rglob("*.yml")])


def load_all(path: Path) -> list[Any]:
    with path.open() as f:
        return [doc for doc in yaml.safe_load_all(f) if doc is not None]


def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE_FILE.read_text())


def kustomization() -> dict[str, Any]:
    return yaml.safe_load((K8S / "kustomization.yaml").read_text())


def k8s_objects() -> list[tuple[Path, dict[str, Any]]]:
    return [(path, doc) for path in sorted(K8S.glob("*.yaml")) if path.name != "kustomization.yaml"
            for doc in load_all(path)]


def k8s_kind(kind: str) -> list[dict[str, Any]]:
    return [doc for _, doc in k8s_objects() if doc["kind"] == kind]


def pod_templates() -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """(workload, pod template) of every Deployment and Job."""
    return [(doc, doc["spec"]["template"]) for _, doc in k8s_objects() if doc["kind"] in ("Deployment", "Job")]


def all_containers(pod_spec: dict[str, Any]) -> list[dict[str, Any]]:
    return [*pod_spec.get("initContainers", []), *pod_spec["containers"]]


def deployment(component: str) -> dict[str, Any]:
    [found] = [d for d in k8s_kind("Deployment") if d["metadata"]["labels"]["app.kubernetes.io/component"] == component]
    return found


def itinera_services() -> dict[str, dict[str, Any]]:
    """The compose services that run the image built from the Dockerfile."""
    return {name: service for name, service in compose()["services"].items()
            if interpolated(service["image"]).startswith(f"{IMAGE}:") or "build" in service}


def env_example() -> dict[str, str | None]:
    """deploy/env.example: NAME -> value, or None for a commented-out optional NAME=."""
    values: dict[str, str | None] = {}
    for line in (DEPLOY / "env.example").read_text().splitlines():
        if m := re.match(r"^([A-Z][A-Z0-9_]*)=(.*)$", line):
            values[m[1]] = m[2]
        elif m := re.match(r"^# ([A-Z][A-Z0-9_]*)=", line):
            values.setdefault(m[1], None)
    return values


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with line continuations joined and comments dropped."""
    logical, current = [], ""
    for line in DOCKERFILE.read_text().splitlines():
        if not current and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if line.rstrip().endswith("\\"):
            current += line.rstrip()[:-1] + " "
            continue
        logical.append(current + line)
        current = ""
    return [(text.split(None, 1)[0].upper(), text.split(None, 1)[1].strip()) for text in logical]


def tool(name: str) -> str:
    """A linter binary that the test extra installs into the virtualenv."""
    path = Path(sys.executable).parent / name
    found = str(path) if path.exists() else shutil.which(name)
    if not found:
        pytest.fail(f"{name} is not installed: `pip install -e '.[test]'` brings it (pyproject.toml)")
    return found


def mentions(path: Path) -> set[str]:
    return set(ITINERA_VARIABLE.findall(path.read_text()))


# --- every YAML file ----------------------------------------------------------------------------


def test_every_yaml_file_parses_and_passes_yamllint() -> None:
    files = yaml_files()
    assert COMPOSE_FILE in files and len([f for f in files if f.parent == K8S]) >= 8
    config = YamlLintConfig(file=str(DEPLOY / ".yamllint.yaml"))
    problems = []
    for path in files:
        assert load_all(path), f"{path} holds no document"
        problems += [f"{path.relative_to(PROJECT)}:{p.line}:{p.column} {p.desc} ({p.rule})"
                     for p in yamllint_linter.run(path.read_text(), config, str(path))]
    assert not problems, "\n".join(problems)


def test_yamllint_catches_a_duplicate_key() -> None:
    config = YamlLintConfig(file=str(DEPLOY / ".yamllint.yaml"))
    found = list(yamllint_linter.run("a: 1\na: 2\nb: yes\n", config))
    assert {p.rule for p in found} >= {"key-duplicates", "truthy"}


# --- Dockerfile and .dockerignore ----------------------------------------------------------------


def test_hadolint_finds_nothing_in_the_dockerfile() -> None:
    result = subprocess.run([tool("hadolint"), "--no-color", "--failure-threshold", "style", "--format", "json",
                             str(DOCKERFILE)], capture_output=True, text=True, timeout=60)
    findings = json.loads(result.stdout or "[]")
    assert result.returncode == 0 and findings == [], json.dumps(findings, indent=1) + result.stderr


def test_hadolint_would_catch_a_latest_tag_and_root() -> None:
    result = subprocess.run([tool("hadolint"), "--no-color", "--format", "json", "-"],
                            input="FROM python:latest\nUSER root\n", capture_output=True, text=True, timeout=60)
    assert {f["code"] for f in json.loads(result.stdout)} >= {"DL3007", "DL3002"}


def test_the_dockerfile_is_multi_stage_pinned_slim_and_runs_itinera_unprivileged() -> None:
    instructions = dockerfile_instructions()
    args = dict(a.split("=", 1) for i, a in instructions if i == "ARG" and "=" in a)
    bases = []
    for instruction, value in instructions:
        if instruction == "FROM":
            image = value.split()[0]
            bases.append(INTERPOLATION.sub(lambda m: args[m[1]], re.sub(r"\$(\w+)", r"${\1}", image)))
    assert len(bases) >= 2, "multi-stage: a build stage and a runtime stage"
    python = tomllib.loads((PROJECT / "pyproject.toml").read_text())["project"]["requires-python"]
    minor = re.search(r"3\.\d+", python)[0]
    for base in bases:
        # A patch release of the slim image of the minor version pyproject.toml requires;
        # never `latest` nor a bare minor tag that moves under the build.
        assert re.fullmatch(rf"python:{re.escape(minor)}\.\d+-slim(-[a-z]+)?(@sha256:[0-9a-f]{{64}})?", base), base

    runtime = instructions[max(i for i, (name, _) in enumerate(instructions) if name == "FROM"):]
    users = [value for name, value in runtime if name == "USER"]
    assert users and re.fullmatch(r"[1-9]\d*(:[1-9]\d*)?", users[-1]), "last USER: numeric, not root"
    assert ("COPY", "--from=build /opt/itinera /opt/itinera") in runtime, "runtime copies the built virtualenv"
    assert any(name == "ENTRYPOINT" and json.loads(value) == ["itinera"] for name, value in runtime)
    [cmd] = [json.loads(value) for name, value in runtime if name == "CMD"]
    assert_itinera_command(cmd, "Dockerfile CMD")

    runs = " ".join(value for name, value in instructions if name == "RUN")
    assert "pip install" in runs and "--no-cache-dir" in runs
    assert "['project']['dependencies']" in runs, "the [project] dependencies, read from pyproject.toml"
    assert not re.search(r"\.\[|optional-dependencies|\[test|\[bench", runs), "no test or bench extras in the image"
    assert "MIGRATIONS_DIR" in runs, "the migrations are put where store/migrations.py looks for them"

    env = " ".join(value for name, value in runtime if name == "ENV")
    port = re.search(r"ITINERA_API_PORT=(\d+)", env)[1]
    assert ("EXPOSE", port) in runtime


def dockerignore_includes(path: str) -> bool:
    """Whether Docker sends ``path`` to the build (moby/patternmatcher semantics: the last
    pattern that matches the path or one of its parent folders decides)."""
    included = True
    parts = path.split("/")
    for raw in (DOCKERFILE.parent / ".dockerignore").read_text().splitlines():
        pattern = raw.strip()
        if not pattern or pattern.startswith("#"):
            continue
        negate = pattern.startswith("!")
        pattern = os.path.normpath(pattern.lstrip("!").strip()).lstrip("/")
        regex = ""
        i = 0
        while i < len(pattern):
            if pattern.startswith("**/", i):
                regex, i = regex + "(?:.*/)?", i + 3
            elif pattern.startswith("**", i):
                regex, i = regex + ".*", i + 2
            elif pattern[i] == "*":
                regex, i = regex + "[^/]*", i + 1
            elif pattern[i] == "?":
                regex, i = regex + "[^/]", i + 1
            else:
                regex, i = regex + re.escape(pattern[i]), i + 1
        if any(re.fullmatch(regex, "/".join(parts[:n])) for n in range(1, len(parts) + 1)):
            included = negate
    return included


def test_dockerignore_lets_in_what_pyproject_ships_and_keeps_out_the_rest() -> None:
    setuptools = tomllib.loads((PROJECT / "pyproject.toml").read_text())["tool"]["setuptools"]
    packages = setuptools["packages"]
    if isinstance(packages, dict):  # [tool.setuptools.packages.find]: the include patterns' top packages
        packages = sorted({pattern.rstrip("*").rstrip(".") for pattern in packages["find"]["include"]})
    shipped = [*(f"{p.replace('.', '/')}/__init__.py" for p in packages),
               *(f"{m}.py" for m in setuptools["py-modules"]), "pyproject.toml",
               *(f"migrations/{p.name}" for p in (PROJECT / "migrations").glob("*.sql")),
               *(f"{package.replace('.', '/')}/{pattern.replace('*', 'x.html')}"
                 for package, patterns in setuptools.get("package-data", {}).items() for pattern in patterns)]
    missing = [path for path in shipped if not dockerignore_includes(path)]
    assert not missing, f".dockerignore keeps out what pyproject.toml ships: {missing}"
    kept_out = [".git/config", ".venv/bin/python", ".itinera-data/jwt-signing.key", "tests/conftest.py",
                "bench/__main__.py", "deploy/.env", "deploy/compose.yaml", "api/__pycache__/app.cpython-311.pyc",
                "itinera.egg-info/PKG-INFO", "build/lib/settings.py", ".env", "Dockerfile"]
    leaked = [path for path in kept_out if dockerignore_includes(path)]
    assert not leaked, f".dockerignore lets in {leaked}"


# --- shell scripts -------------------------------------------------------------------------------


def test_shellcheck_finds_nothing_in_the_scripts() -> None:
    scripts = sorted(DEPLOY.rglob("*.sh"))
    assert len(scripts) >= 4
    result = subprocess.run([tool("shellcheck"), "--shell=sh", "--severity=style", *map(str, scripts)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


# --- ITINERA_* variables and `itinera` commands everywhere ---------------------------------------


def test_every_itinera_variable_named_anywhere_in_the_deployment_is_a_setting() -> None:
    files = [DOCKERFILE, *sorted(p for p in DEPLOY.rglob("*") if p.is_file())]
    unknown = {f"{path.relative_to(PROJECT)}: {name}" for path in files for name in mentions(path)
               if name not in SETTING_VARIABLES}
    assert not unknown, f"not settings (settings.py): {sorted(unknown)}"


def cli_command_path(args: list[str]) -> list[str]:
    """The subcommand words at the start of ``args`` (``users add``), checked against the CLI."""
    group = typer.main.get_command(cli_app)
    words: list[str] = []
    for arg in args:
        if arg.startswith("-") or not hasattr(group, "commands"):
            break
        assert arg in group.commands, f"`itinera {' '.join([*words, arg])}` is no itinera command"
        words.append(arg)
        group = group.commands[arg]
    return words


def assert_itinera_command(args: list[str], where: str) -> None:
    words = cli_command_path(args)
    assert words or args == ["--help"], f"{where}: {args} starts with no itinera command"
    result = CliRunner().invoke(cli_app, [*words, "--help"])
    assert result.exit_code == 0, f"{where}: itinera {' '.join(words)} --help failed: {result.output}"


def test_every_command_given_to_the_image_is_an_itinera_command() -> None:
    seen = set()
    for name, service in itinera_services().items():
        assert isinstance(service.get("command"), list), f"compose {name}: command as a list"
        assert_itinera_command(service["command"], f"compose service {name}")
        seen.add(service["command"][0])
    for workload, template in pod_templates():
        for container in all_containers(template["spec"]):
            if "command" in container:  # the init container runs python, not itinera
                assert container["command"][:2] == ["python", "-c"]
                continue
            assert_itinera_command(container["args"], f"{workload['kind']} {workload['metadata']['name']}")
            seen.add(container["args"][0])
    assert {"migrate", "worker", "api"} <= seen


def test_the_operator_commands_shown_in_the_docs_are_itinera_commands() -> None:
    # In deploy/README.md's code and compose.yaml's comments: `... run --rm [-T] cli CMD`,
    # `kubectl ... -- itinera CMD` and lines that start with `itinera CMD`.
    text = (DEPLOY / "README.md").read_text() + COMPOSE_FILE.read_text()
    shown = re.findall(r"(?:run --rm (?:-T )?cli|-- itinera|^\s*(?:#\s*)?itinera) ([a-z][a-z-]*(?: [a-z][a-z-]*)?)",
                       text, re.M)
    assert len(shown) >= 4
    for words in shown:
        first, *rest = words.split()
        assert_itinera_command([first, *rest] if first == "users" else [first], f"docs: {words}")


def test_the_probes_named_are_the_api_s_routes() -> None:
    paths = {route.path for route in health.probes.routes}
    assert {"/livez", "/readyz"} <= paths


# --- compose -------------------------------------------------------------------------------------


def test_compose_file_matches_the_compose_specification() -> None:
    schema = json.loads(resources.files("check_jsonschema.builtin_schemas.vendor")
                        .joinpath("compose-spec.json").read_text())
    validator = jsonschema.validators.validator_for(schema)(schema)
    errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(compose())]
    assert not errors, "\n".join(errors)
    broken = dict(compose())
    broken["services"] = {**broken["services"], "worker": {**broken["services"]["worker"], "replica": 2}}
    assert list(validator.iter_errors(broken)), "the schema must refuse an unknown key"


def test_compose_wires_the_services_together() -> None:
    doc = compose()
    services = doc["services"]
    assert {"temporal-db", "temporal-schema", "temporal", "temporal-namespace", "temporal-ui", "itinera-db",
            "migrate", "worker", "api", "proxy"} <= set(services)
    for name, service in services.items():
        image = service["image"]
        tag = image.rsplit(":", 1)[-1].rstrip("}")
        assert ":" in image and tag != "latest" and not image.endswith(":latest"), f"{name}: pin {image}"
        for dependency in service.get("depends_on", {}):
            assert dependency in services, f"{name} depends on unknown {dependency}"
        networks = service.get("networks", [])
        for network in networks if isinstance(networks, list) else networks.keys():
            assert network in doc["networks"], f"{name}: unknown network {network}"
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0]
            if source.startswith("."):
                assert (DEPLOY / source).exists(), f"{name} mounts missing {source}"
            else:
                assert source in doc["volumes"], f"{name}: unknown volume {source}"

    itinera = itinera_services()
    assert set(itinera) == {"migrate", "worker", "api", "cli"}
    for name, service in itinera.items():
        assert service["build"]["context"] == ".." and service["build"]["dockerfile"] == "Dockerfile"
        assert service["read_only"] is True and service["cap_drop"] == ["ALL"]
    assert services["worker"]["deploy"]["replicas"] >= 2 and services["api"]["deploy"]["replicas"] >= 2
    assert services["cli"]["profiles"] == ["tools"]

    # Migrations as the owner, before the worker and the API, which run as itinera_app.
    assert services["migrate"]["environment"]["ITINERA_DATABASE_URL"].startswith("postgresql://itinera_owner@")
    for name in ("worker", "api", "cli"):
        assert services[name]["environment"]["ITINERA_DATABASE_URL"].startswith("postgresql://itinera_app@")
    for name in ("worker", "api"):
        assert services[name]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
        assert services[name]["depends_on"]["temporal-namespace"]["condition"] == "service_completed_successfully"
    assert services["temporal"]["depends_on"]["temporal-schema"]["condition"] == "service_completed_successfully"
    assert "/readyz" in " ".join(services["api"]["healthcheck"]["test"])

    # The proxy reaches the API replicas on the API's port, and the API believes only the proxy.
    caddyfile = (DEPLOY / "compose" / "Caddyfile").read_text()
    assert re.search(r"name api\s+port 8000", caddyfile)
    assert services["api"]["environment"]["ITINERA_API_PORT"] == "8000"
    proxy_ip = services["proxy"]["networks"]["edge"]["ipv4_address"]
    assert services["api"]["environment"]["ITINERA_TRUSTED_PROXIES"] == proxy_ip
    assert "edge" in services["api"]["networks"]
    ui = services["temporal-ui"]["environment"]
    assert ui["TEMPORAL_CODEC_ENDPOINT"].endswith("/codec")
    assert services["api"]["environment"]["ITINERA_TEMPORAL_UI_ORIGIN"].endswith(
        "${TEMPORAL_UI_PUBLISHED_PORT:-8080}")


def interpolated(value: str) -> str:
    """A compose value as `docker compose` would see it with deploy/.env filled in."""
    return INTERPOLATION.sub(lambda m: m[3] if m[2] in ("-", ":-") else "filled-in", value)


def test_compose_secrets_come_from_the_env_file_and_every_variable_is_documented() -> None:
    text = COMPOSE_FILE.read_text()
    used = {m[1]: m[2] for m in INTERPOLATION.finditer(text)}
    documented = env_example()
    assert not set(used) - set(documented), f"not in deploy/env.example: {sorted(set(used) - set(documented))}"
    for name, operator in used.items():
        if operator == ":?":
            assert documented[name] is not None, f"{name} is required: uncommented in env.example"
        if SECRET_NAME.search(name) and name not in NOT_SECRET:
            assert operator == ":?", f"{name}: a secret must be required (${{{name}:?...}}), with no default"
            assert documented[name] == "", f"env.example must leave {name} empty, never hold a value"
    for name, service in compose()["services"].items():
        for key, value in service.get("environment", {}).items():
            if SECRET_NAME.search(key) and key not in NOT_SECRET:
                assert re.fullmatch(r"\$\{[A-Z_]+:\?[^}]*\}", str(value)), f"{name}: {key} written down"
    assert ".env" in (DEPLOY / ".gitignore").read_text().splitlines(), "deploy/.env must be git-ignored"


def test_compose_gives_each_role_its_shared_secrets_and_valid_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    services = compose()["services"]
    for role, needed in SHARED_SECRETS.items():
        missing = needed - set(services[role]["environment"])
        assert not missing, f"compose {role} lacks {missing}"
    unhandled = SECRET_SETTINGS - set().union(*SHARED_SECRETS.values()) - OPTIONAL_SECRETS
    assert not unhandled, f"secret settings the deployment does not provide (compose, k8s, README): {unhandled}"
    for name, service in itinera_services().items():
        for key in list(os.environ):
            if key.startswith("ITINERA_"):
                monkeypatch.delenv(key)
        for key, value in service.get("environment", {}).items():
            if key.startswith("ITINERA_"):
                monkeypatch.setenv(key, interpolated(str(value)))
        Settings()  # raises on a value the service could not start with


# --- Kubernetes ----------------------------------------------------------------------------------


def kubernetes_versions() -> list[str]:
    versions = kubernetes_validate.utils.all_versions()
    supported = [v for v in versions if tuple(map(int, v.split(".")[:2])) >= (1, 30)]
    return [supported[0], supported[-1]]


@pytest.mark.parametrize("version", kubernetes_versions())
def test_kubernetes_manifests_match_the_kubernetes_schemas(version: str) -> None:
    objects = k8s_objects()
    assert {doc["kind"] for _, doc in objects} >= {"Namespace", "ServiceAccount", "ConfigMap", "Job", "Deployment",
                                                  "Service", "PodDisruptionBudget"}
    errors = []
    for path, doc in objects:
        assert {"apiVersion", "kind", "metadata"} <= set(doc) and doc["metadata"].get("name"), path
        try:
            kubernetes_validate.validate(doc, version, strict=True)
        except kubernetes_validate.ValidationError as error:
            errors.append(f"{path.name} {doc['kind']}/{doc['metadata']['name']}: "
                          f"{'/'.join(map(str, error.path))}: {error.message}")
    assert not errors, "\n".join(errors)


def test_the_kubernetes_schemas_refuse_a_misspelt_field() -> None:
    doc = deployment("api")
    container = doc["spec"]["template"]["spec"]["containers"][0]
    container["readinesProbe"] = container.pop("readinessProbe")
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(doc, kubernetes_versions()[-1], strict=True)


def test_kustomization_lists_every_manifest_and_names_the_image() -> None:
    kustomize = kustomization()
    assert kustomize["kind"] == "Kustomization"
    listed = kustomize["resources"]
    assert sorted(listed) == sorted(p.name for p in K8S.glob("*.yaml") if p.name != "kustomization.yaml")
    [namespace] = k8s_kind("Namespace")
    assert kustomize["namespace"] == namespace["metadata"]["name"]
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    images = {image["name"] for image in kustomize["images"]}
    for _, template in pod_templates():
        for container in all_containers(template["spec"]):
            assert container["image"].split(":")[0] in images


def test_kubernetes_pods_run_unprivileged_with_resources_and_probes() -> None:
    templates = pod_templates()
    assert len(templates) == 3
    for workload, template in templates:
        where = f"{workload['kind']} {workload['metadata']['name']}"
        spec = template["spec"]
        security = spec["securityContext"]
        assert security["runAsNonRoot"] is True and security["runAsUser"] > 0, where
        assert security["seccompProfile"]["type"] == "RuntimeDefault", where
        assert spec["automountServiceAccountToken"] is False, where
        volumes = {v["name"] for v in spec.get("volumes", [])}
        for container in all_containers(spec):
            name = f"{where} container {container['name']}"
            image = container["image"]
            assert ":" in image and not image.endswith(":latest"), f"{name}: pin {image}"
            for kind in ("requests", "limits"):
                assert {"cpu", "memory"} <= set(container["resources"][kind]), f"{name}: {kind}"
            csc = container["securityContext"]
            assert csc["allowPrivilegeEscalation"] is False and csc["readOnlyRootFilesystem"] is True, name
            assert csc["capabilities"]["drop"] == ["ALL"] and "add" not in csc["capabilities"], name
            assert {m["name"] for m in container.get("volumeMounts", [])} <= volumes, name
            ports = {p["name"]: p["containerPort"] for p in container.get("ports", [])}
            if ports:  # serves HTTP: the API's probes, on its port
                assert container["livenessProbe"]["httpGet"]["path"] == "/livez", name
                assert container["readinessProbe"]["httpGet"]["path"] == "/readyz", name
                assert container["startupProbe"]["httpGet"]["path"] == "/livez", name
                for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
                    assert container[probe]["httpGet"]["port"] in ports, f"{name}: {probe} on an unknown port"
        for container in spec["containers"]:
            mounts = {m["mountPath"] for m in container.get("volumeMounts", [])}
            assert "/tmp" in mounts, f"{where}: a writable /tmp beside the read-only root"
    api_ports = deployment("api")["spec"]["template"]["spec"]["containers"][0]["ports"]
    assert {p["containerPort"] for p in api_ports} == {8000}


def test_kubernetes_workloads_scale_out_and_survive_disruptions() -> None:
    deployments = k8s_kind("Deployment")
    assert {d["metadata"]["labels"]["app.kubernetes.io/component"] for d in deployments} == {"api", "worker"}
    budgets = k8s_kind("PodDisruptionBudget")
    for d in deployments:
        name = d["metadata"]["name"]
        assert d["spec"]["replicas"] >= 2, f"{name}: several replicas"
        assert d["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0, name
        labels = d["spec"]["template"]["metadata"]["labels"]
        assert d["spec"]["selector"]["matchLabels"].items() <= labels.items(), name
        covering = [b for b in budgets if b["spec"]["selector"]["matchLabels"].items() <= labels.items()]
        assert len(covering) == 1 and covering[0]["spec"]["minAvailable"] < d["spec"]["replicas"], name
    [service] = k8s_kind("Service")
    api = deployment("api")["spec"]["template"]
    assert service["spec"]["selector"].items() <= api["metadata"]["labels"].items()
    port_names = {p["name"] for p in api["spec"]["containers"][0]["ports"]}
    assert {p["targetPort"] for p in service["spec"]["ports"]} <= port_names
    [job] = k8s_kind("Job")
    assert job["spec"]["template"]["spec"]["restartPolicy"] in ("Never", "OnFailure")
    assert job["spec"]["template"]["spec"]["containers"][0]["args"] == ["migrate"]


def container_env(container: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every variable a container gets: name -> where from (``value``, ``secretKeyRef``, ...)."""
    configmaps = {c["metadata"]["name"]: c["data"] for c in k8s_kind("ConfigMap")}
    env: dict[str, dict[str, Any]] = {}
    for source in container.get("envFrom", []):
        assert "configMapRef" in source, "secrets by name, never envFrom a whole Secret"
        ref = source["configMapRef"]["name"]
        assert ref in configmaps, f"unknown ConfigMap {ref}"
        env.update({key: {"configMap": ref, "value": value} for key, value in configmaps[ref].items()})
    for item in container.get("env", []):
        env[item["name"]] = item.get("valueFrom") or {"value": item["value"]}
    return env


def test_kubernetes_settings_are_settings_secrets_are_referenced_and_documented(
        monkeypatch: pytest.MonkeyPatch) -> None:
    readme = (DEPLOY / "README.md").read_text()
    for configmap in k8s_kind("ConfigMap"):
        for key in configmap["data"]:
            assert key in SETTING_VARIABLES, f"ConfigMap {configmap['metadata']['name']}: {key} is no setting"
            assert key not in SECRET_SETTINGS and not (SECRET_NAME.search(key) and key not in NOT_SECRET), \
                f"ConfigMap {configmap['metadata']['name']}: {key} is a secret"
    for workload, template in pod_templates():
        for container in all_containers(template["spec"]):
            where = f"{workload['metadata']['name']}/{container['name']}"
            env = container_env(container)
            for key, source in env.items():
                if key.startswith("ITINERA_"):
                    assert key in SETTING_VARIABLES, f"{where}: {key}"
                if key in SECRET_SETTINGS or (SECRET_NAME.search(key) and key not in NOT_SECRET):
                    assert "secretKeyRef" in source, f"{where}: {key} must come from a Secret"
                if "secretKeyRef" in source:
                    ref = source["secretKeyRef"]
                    assert ref["key"] == key, f"{where}: Secret keys are named as the variable they fill"
                    assert re.search(rf"create secret generic {re.escape(ref['name'])} [^`]*?"
                                     rf"--from-(?:literal|file)={re.escape(key)}=", readme), \
                        f"deploy/README.md must show how to create Secret {ref['name']} with {key}"
            for key in list(os.environ):
                if key.startswith("ITINERA_"):
                    monkeypatch.delenv(key)
            for key, source in env.items():
                if key.startswith("ITINERA_"):
                    monkeypatch.setenv(key, source.get("value", "from-a-secret"))
            Settings()  # raises on a value the container could not start with

    for role, needed in SHARED_SECRETS.items():
        env = container_env(deployment(role)["spec"]["template"]["spec"]["containers"][0])
        assert needed <= set(env), f"k8s {role} lacks {needed - set(env)}"
        assert env["ITINERA_DATABASE_URL"]["value"].startswith("postgresql://itinera_app@")
        assert "PGPASSWORD" in env
    [job] = k8s_kind("Job")
    env = container_env(job["spec"]["template"]["spec"]["containers"][0])
    assert env["ITINERA_DATABASE_URL"]["value"].startswith("postgresql://itinera_owner@")
    assert env["PGPASSWORD"]["secretKeyRef"]["name"] != container_env(
        deployment("api")["spec"]["template"]["spec"]["containers"][0])["PGPASSWORD"]["secretKeyRef"]["name"]


def wait_for_migrations_script() -> str:
    scripts = {c["command"][2] for _, t in pod_templates() for c in t["spec"].get("initContainers", [])}
    assert len(scripts) == 1, "the workers and the API wait for migrations the same way"
    return scripts.pop()


# --- the database roles, on a real PostgreSQL ----------------------------------------------------


def _url_as(url: str, user: str, database: str) -> dict[str, Any]:
    """asyncpg.connect() arguments: the stack's cluster, as another role or database."""
    return {"dsn": url, "user": user, "database": database}


async def test_database_roles_give_the_application_rows_and_nothing_more(stack) -> None:
    database = "deploy_roles"
    admin = await asyncpg.connect(stack.database_url)
    try:
        await admin.execute((DEPLOY / "postgres" / "roles.sql").read_text())
        await admin.execute((DEPLOY / "postgres" / "roles.sql").read_text())  # idempotent
        await admin.execute(f"DROP DATABASE IF EXISTS {database}")
        await admin.execute(f"CREATE DATABASE {database} OWNER itinera_owner")
    finally:
        await admin.close()
    admin = await asyncpg.connect(**_url_as(stack.database_url, "postgres", database))
    try:
        await admin.execute((DEPLOY / "postgres" / "grants.sql").read_text())
    finally:
        await admin.close()

    app_url = stack.database_url.replace("/postgres?", f"/{database}?")
    app_url = re.sub(r"^postgresql://[^@/]*@", "postgresql://itinera_app:@", app_url)
    script = wait_for_migrations_script()
    compile(script, "wait-for-migrations", "exec")
    env = {**os.environ, "ITINERA_DATABASE_URL": app_url}
    waiting = subprocess.Popen([sys.executable, "-c", script], env=env, cwd=PROJECT, stdout=subprocess.PIPE, text=True)
    try:
        line = await asyncio.to_thread(waiting.stdout.readline)
        assert line.startswith("waiting for migrations:"), line  # the init container holds the pod back
    finally:
        waiting.kill()
        waiting.wait()

    owner = await asyncpg.connect(**_url_as(stack.database_url, "itinera_owner", database))
    try:
        assert await apply_migrations(owner)
    finally:
        await owner.close()

    done = await asyncio.to_thread(subprocess.run, [sys.executable, "-c", script], env=env, cwd=PROJECT,
                                   capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and not done.stdout, done.stdout + done.stderr  # and lets it start

    app = await asyncpg.connect(**_url_as(stack.database_url, "itinera_app", database))
    try:
        tables = [r[0] for r in await app.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")]
        assert "case_events" in tables and "audit_log" in tables
        for table in tables:
            assert await app.fetchval("SELECT has_table_privilege(current_user, $1, 'SELECT')", table), \
                f"itinera_app may not read {table}"  # schema_migrations too: the init containers read it
            assert not await app.fetchval("SELECT has_table_privilege(current_user, $1, 'TRUNCATE')", table)
        for table in set(tables) - {"schema_migrations"}:
            assert await app.fetchval("SELECT has_table_privilege(current_user, $1, 'INSERT')", table), \
                f"itinera_app may not write {table}"
        # Append-only for the application: the event store, the audit trail, webhook attempts, destination profile versions.
        append_only = {"case_events", "audit_log", "webhook_attempts", "destination_profiles"}
        for table in append_only:
            assert not await app.fetchval("SELECT has_table_privilege(current_user, $1, 'UPDATE')", table)
        for table in set(tables) - append_only - {"schema_migrations"}:
            for privilege in ("UPDATE", "DELETE"):
                assert await app.fetchval("SELECT has_table_privilege(current_user, $1, $2)", table, privilege), \
                    f"itinera_app may not {privilege} {table}"
        for sequence in [r[0] for r in await app.fetch("SELECT sequencename FROM pg_sequences")]:
            assert await app.fetchval("SELECT has_sequence_privilege(current_user, $1, 'USAGE')", sequence)
        assert not await app.fetchval(
            "SELECT count(*) FROM pg_class c JOIN pg_roles r ON r.oid = c.relowner WHERE r.rolname = current_user")
        for statement in ("CREATE TABLE sneaky (id int)", "ALTER TABLE case_events DISABLE TRIGGER USER",
                          "TRUNCATE audit_log", "DROP TABLE cases"):
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await app.execute(statement)
    finally:
        await app.close()
    admin = await asyncpg.connect(stack.database_url)
    try:
        await admin.execute(f"DROP DATABASE {database} WITH (FORCE)")
    finally:
        await admin.close()
