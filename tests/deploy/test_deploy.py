"""deploy/: the recipes parse, and every `rung` command line in them is one the CLI accepts.

What can be checked without a cluster: YAML documents load and have the
shapes the README promises (a StatefulSet with a volume claim and gRPC health
probes, a Service, an indexed Job of one-GPU workers, the token from a
Secret); the Slurm script passes `bash -n`; the systemd unit parses as an INI
file with the sections systemd needs; the Dockerfile's COPY sources exist.
Each `rung ...` argument list is handed to the real argument parser.
"""

from __future__ import annotations

import configparser
import json
import re
import shlex
import subprocess
from pathlib import Path
from typing import Any, Iterator

import pytest
import yaml

from rung.cli import build_parser
from support import REPO

DEPLOY = REPO / "deploy"
KUBERNETES = DEPLOY / "kubernetes"
SLURM_SCRIPT = DEPLOY / "slurm" / "rung.sbatch"
DOCKERFILE = DEPLOY / "docker" / "Dockerfile"
SYSTEMD_UNIT = DEPLOY / "systemd" / "rung-server.service"
SHELL_OPERATORS = {"&", "&&", "||", ";", "|", ">", ">>", "2>&1", "2>/dev/null", ">/dev/null"}


def assert_rung_accepts(argv: list[str], where: str) -> None:
    """The argument list parses; argparse reports an error by raising SystemExit."""
    try:
        build_parser().parse_args(argv)
    except SystemExit as exc:
        pytest.fail(f"{where}: `rung {shlex.join(argv)}` is refused by the CLI (exit {exc.code})")


def k8s_documents() -> list[dict[str, Any]]:
    return [doc for path in sorted(KUBERNETES.glob("*.yaml")) for doc in yaml.safe_load_all(path.read_text()) if doc]


def pod_specs() -> Iterator[tuple[str, dict[str, Any]]]:
    for doc in k8s_documents():
        if doc["kind"] in ("StatefulSet", "Job", "Deployment"):
            yield doc["metadata"]["name"], doc["spec"]["template"]["spec"]


def test_kubernetes_manifests_have_the_promised_shape() -> None:
    docs = {(d["kind"], d["metadata"]["name"]): d for d in k8s_documents() if d["kind"] != "Kustomization"}
    server = docs[("StatefulSet", "rung-server")]["spec"]
    assert server["replicas"] == 1 and server["volumeClaimTemplates"][0]["metadata"]["name"] == "journal"
    (container,) = server["template"]["spec"]["containers"]
    for probe in ("readinessProbe", "livenessProbe"):
        assert container[probe]["grpc"] == {"port": 50051, "service": "rung.v1.Rung"}
    service = docs[("Service", "rung")]["spec"]
    assert service["selector"] == server["selector"]["matchLabels"]
    assert {p["targetPort"] for p in service["ports"]} <= {p["name"] for p in container["ports"]}

    workers = docs[("Job", "rung-workers")]["spec"]
    assert workers["completionMode"] == "Indexed" and workers["parallelism"] == workers["completions"]
    (worker,) = workers["template"]["spec"]["containers"]
    assert worker["resources"]["limits"]["nvidia.com/gpu"] == 1

    kustomization = yaml.safe_load((KUBERNETES / "kustomization.yaml").read_text())
    assert all((KUBERNETES / name).is_file() for name in kustomization["resources"])
    (secret,) = kustomization["secretGenerator"]
    for name, spec in pod_specs():  # every pod reads the token from that Secret
        secrets = [v["secret"]["secretName"] for v in spec["volumes"] if "secret" in v]
        assert secrets == [secret["name"]], name


def test_kubernetes_rung_commands_parse() -> None:
    for name, spec in pod_specs():
        for container in spec["containers"]:
            args = [str(a) for a in container["args"]]
            assert_rung_accepts(args, f"{name}/{container['name']}")
            if "--token-file" in args:
                token = Path(args[args.index("--token-file") + 1])
                mounts = {m["mountPath"] for m in container["volumeMounts"]}
                assert str(token.parent) in mounts, f"{name}: the token file is not on a mounted volume"
            if "--space" in args:  # the search space comes from the ConfigMap, as valid JSON
                (config_map,) = [d for d in k8s_documents() if d["kind"] == "ConfigMap"]
                assert json.loads(config_map["data"][Path(args[args.index("--space") + 1]).name])


def slurm_commands(script: str) -> list[list[str]]:
    """The `rung` argument lists of the script, its variables replaced by their defaults."""
    values = dict(re.findall(r'^: "\$\{(\w+):=([^}]*)\}"', script, re.M))
    values.update(re.findall(r"^(\w+)=([^\s$(]+)$", script, re.M))
    joined = script.replace("\\\n", " ")
    commands = []
    for line in joined.splitlines():
        line = re.sub(r"\$\{?(\w+)\}?", lambda m: values.get(m.group(1), "placeholder"), line)
        words = shlex.split(line, comments=True)
        if "rung" in words:
            rest = words[words.index("rung") + 1:]
            end = next((i for i, w in enumerate(rest) if w in SHELL_OPERATORS), len(rest))
            commands.append(rest[:end])
    return commands


def test_slurm_script_is_valid_bash_and_its_rung_commands_parse() -> None:
    subprocess.run(["bash", "-n", str(SLURM_SCRIPT)], check=True)
    commands = slurm_commands(SLURM_SCRIPT.read_text())
    assert [c[0] for c in commands] == ["serve", "studies", "create", "worker", "status"]
    for argv in commands:
        assert_rung_accepts(argv, SLURM_SCRIPT.name)


def test_dockerfile_copies_what_exists_and_its_command_parses() -> None:
    instructions = [
        line.split(None, 1) for line in DOCKERFILE.read_text().replace("\\\n", " ").splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    for keyword, rest in instructions:
        if keyword == "COPY":
            *sources, _target = rest.split()
            assert all((REPO / source).exists() for source in sources), rest
    entrypoint = json.loads(next(rest for keyword, rest in instructions if keyword == "ENTRYPOINT"))
    cmd = json.loads(next(rest for keyword, rest in instructions if keyword == "CMD"))
    assert entrypoint == ["rung"]
    assert_rung_accepts(cmd, DOCKERFILE.name)


def test_systemd_unit_parses_and_its_command_parses() -> None:
    unit = configparser.ConfigParser(interpolation=None, strict=True)
    unit.optionxform = str  # type: ignore[assignment,method-assign]  # systemd keys are case-sensitive
    unit.read_string(SYSTEMD_UNIT.read_text())
    assert set(unit.sections()) == {"Unit", "Service", "Install"}
    service = unit["Service"]
    assert service["User"] == "rung" and service["KillSignal"] == "SIGTERM"
    program, *argv = shlex.split(service["ExecStart"])
    assert program.startswith("/") and program.endswith("/rung")  # systemd needs an absolute path
    assert_rung_accepts(argv, SYSTEMD_UNIT.name)
    db = Path(argv[argv.index("--db") + 1])
    assert str(db.parent) == f"/var/lib/{service['StateDirectory']}"


def test_an_unknown_flag_would_be_caught() -> None:
    with pytest.raises(pytest.fail.Exception, match="refused by the CLI"):
        assert_rung_accepts(["worker", "--study", "s", "--max-epochs", "3", "--no-such-flag"], "self-check")
