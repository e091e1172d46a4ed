"""The files of `docker/` read as data, so that the topology test runs what they say and the
consistency test checks that they say the same thing.

* `Dockerfile`: ENV, EXPOSE, USER, WORKDIR, HEALTHCHECK and CMD (exec form);
* `compose.yaml`: PyYAML (anchors and merge keys resolved);
* `config.toml`: tomllib;
* `nginx.conf`: its upstream servers, listen port and body limit, and `loopback_nginx_conf`,
  the documented substitution that runs it on loopback.
"""

from __future__ import annotations

import json
import re
import shlex
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
DOCKER = REPO_ROOT / "docker"


@dataclass(frozen=True)
class Dockerfile:
    env: dict[str, str]
    expose: list[int]
    user: str
    workdir: str  # the last WORKDIR: where the service runs
    healthcheck: list[str]  # the exec form after HEALTHCHECK ... CMD
    cmd: list[str]
    run: list[str]

    @property
    def healthcheck_url(self) -> str:
        match = re.search(r"http://127\.0\.0\.1:\d+/[a-z]+", " ".join(self.healthcheck))
        assert match, f"no loopback URL in the HEALTHCHECK: {self.healthcheck}"
        return match.group(0)

    def cmd_option(self, name: str) -> str:
        return self.cmd[self.cmd.index(name) + 1]


def instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of a Dockerfile, continuation lines joined, comments dropped."""
    joined = re.sub(
        r"\\\n",
        " ",
        "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#")),
    )
    out = []
    for line in joined.splitlines():
        if line.strip():
            keyword, _, arguments = line.strip().partition(" ")
            out.append((keyword.upper(), arguments.strip()))
    return out


def read_dockerfile(path: Path = DOCKER / "Dockerfile") -> Dockerfile:
    env: dict[str, str] = {}
    expose: list[int] = []
    user = workdir = ""
    healthcheck: list[str] = []
    cmd: list[str] = []
    run: list[str] = []
    for keyword, arguments in instructions(path.read_text()):
        if keyword == "ENV":
            env.update(item.split("=", 1) for item in shlex.split(arguments))  # type: ignore[misc]
        elif keyword == "EXPOSE":
            expose += [int(port) for port in arguments.split()]
        elif keyword == "USER":
            user = arguments
        elif keyword == "WORKDIR":
            workdir = arguments
        elif keyword == "HEALTHCHECK":
            healthcheck = json.loads(arguments.split(" CMD ", 1)[1])
        elif keyword == "CMD":
            cmd = json.loads(arguments)
        elif keyword == "RUN":
            run.append(arguments)
    return Dockerfile(env, expose, user, workdir, healthcheck, cmd, run)


def read_compose(path: Path = DOCKER / "compose.yaml") -> dict[str, Any]:
    compose = yaml.safe_load(path.read_text())
    assert isinstance(compose, dict)
    return compose


def read_config(path: Path = DOCKER / "config.toml") -> dict[str, Any]:
    return tomllib.loads(path.read_text())


def nginx_text() -> str:
    return (DOCKER / "nginx.conf").read_text()


def nginx_upstreams(text: str) -> list[tuple[str, int]]:
    """(host, port) of each `server` of the `cds` upstream."""
    block = re.search(r"upstream cds \{(.*?)\}", text, re.S)
    assert block, "no `upstream cds` in nginx.conf"
    return [(host, int(port)) for host, port in re.findall(r"server ([\w.-]+):(\d+)", block[1])]


def nginx_listen_port(text: str) -> int:
    return int(re.findall(r"^\s*listen (\d+);", text, re.M)[0])


def nginx_body_limit_bytes(text: str) -> int:
    megabytes = re.search(r"client_max_body_size (\d+)m;", text)
    assert megabytes, "no client_max_body_size in megabytes in nginx.conf"
    return int(megabytes[1]) * 2**20


def substitute_once(text: str, old: str, new: str) -> str:
    """Replace `old`, which must occur exactly once: a change of nginx.conf or config.toml that
    the substitution no longer fits fails the test instead of running something else."""
    count = text.count(old)
    assert count == 1, f"{old!r} occurs {count} times, expected once"
    return text.replace(old, new)


def loopback_nginx_conf(
    text: str, upstream_ports: dict[str, int], listen_port: int, prefix: Path
) -> str:
    """docker/nginx.conf for loopback, and only this changed:

    * each upstream `server cds-N:8080` -> `server 127.0.0.1:<port of instance N>`;
    * `listen 8080;` -> `listen 127.0.0.1:<nginx port>;`;
    * in `http {`: the access log and temporary files under `prefix` (the image's defaults are
      system folders); the pid file and error log are given on the command line (`-g`, `-e`).
    """
    for host, port in upstream_ports.items():
        old = next(f"server {h}:{p}" for h, p in nginx_upstreams(text) if h == host)
        text = substitute_once(text, old, f"server 127.0.0.1:{port}")
    text = substitute_once(
        text, f"listen {nginx_listen_port(text)};", f"listen 127.0.0.1:{listen_port};"
    )
    private = "".join(
        f"\n    {directive} {prefix / name};"
        for directive, name in (
            ("access_log", "access.log"),
            ("client_body_temp_path", "body"),
            ("proxy_temp_path", "proxy"),
            ("fastcgi_temp_path", "fastcgi"),
            ("uwsgi_temp_path", "uwsgi"),
            ("scgi_temp_path", "scgi"),
        )
    )
    return substitute_once(text, "http {", "http {" + private)


def loopback_service_config(
    text: str,
    *,
    public_base_url: str,
    store_url: str,
    data_dir: Path,
    client_iss: str,
    client_jwks: Path,
) -> str:
    """docker/config.toml for one loopback instance, and only this changed:

    * `public_base_url` -> nginx's loopback URL;
    * `[store] url` -> the private PostgreSQL cluster (compose: the `db` service);
    * `/data` (the instance's volume in compose) -> the instance's own data folder;
    * one `[[auth.clients]]` table appended, as the file's comment says to: the test's client,
      its JWK Set in `client_jwks` (auth stays required, as shipped: the EHR's calls are signed,
      and nginx's resend of a call to the other replica carries the same token).
    """
    config = read_config_text(text)
    text = substitute_once(text, json.dumps(config["public_base_url"]), json.dumps(public_base_url))
    text = substitute_once(text, json.dumps(config["store"]["url"]), json.dumps(store_url))
    spool = config["store"]["spool_dir"]
    assert spool.startswith("/data/"), spool
    text = substitute_once(
        text, json.dumps(spool), json.dumps(str(data_dir / spool[len("/data/") :]))
    )
    assert config["auth"]["required"] is True and "clients" not in config["auth"]
    client = (
        "[[auth.clients]]\n"
        f"iss = {json.dumps(client_iss)}\n"
        f"jwks_file = {json.dumps(str(client_jwks))}\n"
    )
    return text.rstrip("\n") + "\n\n" + client


def read_config_text(text: str) -> dict[str, Any]:
    return tomllib.loads(text)
