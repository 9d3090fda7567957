"""Two worker hosts and a server host, TLS, a token, and `--checkpoints server`.

Worker A starts every trial; it is SIGKILLed while training the promoted
segment, and worker B, started only then, must resume that trial from the
checkpoint A uploaded to the server.

What each variant proves:

- `netns`: the server and each worker run in their own network namespace,
  which this test creates (a bridge in the server's namespace, a veth pair to
  each worker's). The three processes can reach each other only over those
  links, the workers from distinct addresses (10.213.0.2 and .3) to the
  server's 10.213.0.1, and only through TLS with the token. The namespaces
  separate networks, not filesystems: the processes could still see each
  other's files, so the test gives them nothing to share. Each worker keeps
  its checkpoints in a private temporary folder, and the server's checkpoint
  folder is written by the server only. Needs root with CAP_NET_ADMIN; skipped
  with the reason otherwise.
- `loopback`: the fallback that runs anywhere. The server listens on 127.0.0.2
  only, with TLS and the token, and the workers are distinct processes with
  distinct worker ids and no shared checkpoint folder. A gRPC client cannot
  choose its source address, so both workers connect from the same loopback
  host: this variant proves the protocol path (TLS, token, server-stored
  checkpoints), not network separation.

Traffic goes only to 127.0.0.0/8 or into the namespaces this test created.
"""

from __future__ import annotations

import shutil
import subprocess
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import pytest

from rung.client.transfer import is_server_ref
from rung.credentials import CA_FILE_ENV, TOKEN_ENV
from rung.server.launch import spawn_server
from support import REPO, subprocess_env
from worker_fleet import (
    STUDY,
    RemoteClient,
    assert_resumed_by_another_worker,
    kill_in_promoted_segment,
    start_worker,
    stop_all,
    wait_exit,
)

TOKEN = "two-hosts-token-0123456789abcdef"
SUBNET = "10.213.0"


@dataclass(frozen=True)
class Hosts:
    """Where the server and the two workers run: command prefixes and the server's address."""

    server_ip: str
    server: tuple[str, ...]
    worker_a: tuple[str, ...]
    worker_b: tuple[str, ...]


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, text=True, timeout=30)


@pytest.fixture
def hosts(request: pytest.FixtureRequest) -> Iterator[Hosts]:
    if request.param == "loopback":
        yield Hosts("127.0.0.2", (), (), ())
        return
    if shutil.which("ip") is None:
        pytest.skip("network namespaces: the `ip` command (iproute2) is not installed")
    tag = uuid.uuid4().hex[:6]
    names = {role: f"rung{tag}{role}" for role in ("s", "a", "b")}
    created: list[str] = []
    try:
        for name in names.values():
            _ip("netns", "add", name)
            created.append(name)
            _ip("-n", name, "link", "set", "lo", "up")
        server_ns = names["s"]
        _ip("-n", server_ns, "link", "add", "br0", "type", "bridge")
        _ip("-n", server_ns, "addr", "add", f"{SUBNET}.1/24", "dev", "br0")
        _ip("-n", server_ns, "link", "set", "br0", "up")
        for host, role in ((2, "a"), (3, "b")):
            port = f"port{role}"
            _ip("link", "add", "eth0", "netns", names[role], "type", "veth",
                "peer", "name", port, "netns", server_ns)
            _ip("-n", server_ns, "link", "set", port, "master", "br0", "up")
            _ip("-n", names[role], "addr", "add", f"{SUBNET}.{host}/24", "dev", "eth0")
            _ip("-n", names[role], "link", "set", "eth0", "up")
    except subprocess.CalledProcessError as exc:
        for name in created:
            _ip("netns", "delete", name)
        pytest.skip(
            "network namespaces are not permitted here (needs root with CAP_NET_ADMIN): "
            f"{' '.join(exc.cmd)}: {exc.stderr.strip()}"
        )
    try:
        yield Hosts(
            f"{SUBNET}.1", *(("ip", "netns", "exec", names[r]) for r in ("s", "a", "b"))
        )
    finally:
        for name in created:
            _ip("netns", "delete", name)


def write_pki(folder: Path, server_ip: str) -> tuple[Path, Path, Path]:
    """(CA certificate, server certificate for `server_ip`, server key), made by openssl."""
    if shutil.which("openssl") is None:
        pytest.skip("the openssl command is needed to make the test's certificates")
    ca, ca_key = folder / "ca.pem", folder / "ca.key"
    cert, key, csr, ext = (folder / n for n in ("server.pem", "server.key", "server.csr", "ext"))
    ext.write_text(f"subjectAltName=IP:{server_ip}\nextendedKeyUsage=serverAuth\n")
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    for command in (
        ["req", "-x509", *ec, "-keyout", ca_key, "-out", ca, "-days", "1",
         "-subj", "/CN=rung-test-ca"],
        ["req", *ec, "-keyout", key, "-out", csr, "-subj", "/CN=rung-test-server"],
        ["x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key, "-CAcreateserial",
         "-out", cert, "-days", "1", "-extfile", ext],
    ):
        subprocess.run(["openssl", *map(str, command)], check=True, capture_output=True, timeout=60)
    return ca, cert, key


def start_server(hosts: Hosts, folder: Path, cert: Path, key: Path, token_file: Path
                 ) -> tuple[subprocess.Popen[str], str]:
    args = [
        "--host", hosts.server_ip, "--port", "0", "--db", str(folder / "rung.db"),
        "--lease-seconds", "3", "--tls-cert", str(cert), "--tls-key", str(key),
        "--token-file", str(token_file),
    ]
    return spawn_server(args, folder / "server.log", prefix=hosts.server, cwd=REPO,
                        env=subprocess_env())


@pytest.mark.parametrize("hosts", ["netns", "loopback"], indirect=True)
def test_a_trial_started_on_one_host_is_resumed_on_the_other(
    hosts: Hosts, tmp_path: Path, fmnist_dir: Path
) -> None:
    ca, cert, key = write_pki(tmp_path, hosts.server_ip)
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN)
    token_file.chmod(0o600)
    server, address = start_server(hosts, tmp_path, cert, key, token_file)
    assert address == f"{hosts.server_ip}:{address.rsplit(':', 1)[1]}"
    connection = ["--token-file", str(token_file), "--ca-file", str(ca)]
    logs = {w: tmp_path / f"worker-{w}.log" for w in ("A", "B")}
    procs: list[subprocess.Popen[bytes]] = []
    remote = RemoteClient(
        address, hosts.worker_a, env={**subprocess_env(), TOKEN_ENV: TOKEN, CA_FILE_ENV: str(ca)}
    )
    try:
        remote.call("create_study", "hosts", **STUDY)
        worker_a = start_worker(address, "hosts", fmnist_dir, "A", "server", logs["A"],
                                hosts.worker_a, connection)
        procs.append(worker_a)
        trial_id, killed = kill_in_promoted_segment(
            lambda: remote.list_trials("hosts"), {"A": worker_a}
        )
        assert killed == "A"
        worker_b = start_worker(address, "hosts", fmnist_dir, "B", "server", logs["B"],
                                hosts.worker_b, connection)
        procs.append(worker_b)
        wait_exit(worker_b, logs["B"])

        trials = remote.list_trials("hosts")
        assert all(t.segments[0].worker_id == "A" for t in trials)  # A started every trial
        resumed = assert_resumed_by_another_worker(trials, trial_id, killed="A")
        assert resumed.worker_id == "B"
        assert all(is_server_ref(t.checkpoint) for t in trials)
        assert remote.call("get_study", "hosts")["state"] == "STUDY_DONE"
    finally:
        stop_all([*procs, server])
        remote.close()
