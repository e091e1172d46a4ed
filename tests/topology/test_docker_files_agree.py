"""docker/Dockerfile, docker/compose.yaml, docker/config.toml and docker/nginx.conf name the same
command, ports, paths, environment and health checks, and the topology test runs what they name
(it reads them through `docker_files`). No Docker engine runs here: this is what keeps the files
honest between releases."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from support.docker_files import (
    DOCKER,
    loopback_nginx_conf,
    loopback_service_config,
    nginx_body_limit_bytes,
    nginx_listen_port,
    nginx_text,
    nginx_upstreams,
    read_compose,
    read_config,
    read_config_text,
    read_dockerfile,
)

from service.config import Config

SERVICE_NAMES = ("cds-1", "cds-2")


def test_the_image_runs_the_service_on_its_exposed_port_as_a_numeric_user() -> None:
    dockerfile = read_dockerfile()
    assert dockerfile.cmd[:2] == ["cementoplasty-cds", "serve"]
    port = int(dockerfile.cmd_option("--port"))
    assert dockerfile.expose == [port]
    assert dockerfile.cmd_option("--host") == "0.0.0.0"  # reachable from nginx's container
    health = urlsplit(dockerfile.healthcheck_url)
    assert (health.port, health.path) == (port, "/healthz")
    uid, _, gid = dockerfile.user.partition(":")
    assert uid.isdigit() and gid.isdigit() and int(uid) != 0  # runAsNonRoot can check it
    assert any(f"--uid {uid}" in line for line in dockerfile.run)
    # The pinned versions the tests ran with.
    assert any(line.startswith("pip install -c constraints.txt") for line in dockerfile.run)


def test_compose_mounts_the_configuration_where_the_image_reads_it() -> None:
    dockerfile = read_dockerfile()
    services = read_compose()["services"]
    for name in SERVICE_NAMES:
        mounts = {volume.split(":")[1]: volume for volume in services[name]["volumes"]}
        assert dockerfile.env["CDS_CONFIG"] in mounts
        assert mounts[dockerfile.env["CDS_CONFIG"]].startswith("./config.toml:")
        assert mounts[dockerfile.env["CDS_CONFIG"]].endswith(":ro")


def test_each_replica_keeps_its_audit_spool_on_a_volume_of_its_own() -> None:
    compose = read_compose()
    dockerfile = read_dockerfile()
    spool = read_config()["store"]["spool_dir"]
    volumes = []
    for name in SERVICE_NAMES:
        data = [v for v in compose["services"][name]["volumes"] if v.split(":")[1] == "/data"]
        assert len(data) == 1, f"{name} has no /data volume"
        volumes.append(data[0].split(":")[0])
    assert len(set(volumes)) == len(volumes), "replicas share a spool volume"
    assert set(volumes) <= set(compose["volumes"]), "a named volume, not the container's layer"
    assert spool.startswith("/data/")
    # The image creates /data for its user: a new named volume starts with that ownership.
    assert any("/data" in line and "chown" in line for line in dockerfile.run)
    assert dockerfile.workdir == "/data"


def test_nginx_balances_over_the_compose_replicas_on_the_image_port() -> None:
    text = nginx_text()
    port = int(read_dockerfile().cmd_option("--port"))
    assert nginx_upstreams(text) == [(name, port) for name in SERVICE_NAMES]
    compose = read_compose()
    assert set(compose["services"]["nginx"]["depends_on"]) == set(SERVICE_NAMES)
    published = compose["services"]["nginx"]["ports"]
    assert [entry.split(":")[1] for entry in published] == [str(nginx_listen_port(text))]
    assert compose["services"]["nginx"]["volumes"] == ["./nginx.conf:/etc/nginx/nginx.conf:ro"]
    # nginx refuses what the service would refuse, no more, no less.
    assert nginx_body_limit_bytes(text) == Config().server.max_request_bytes
    assert re.search(r"location = /metrics \{ return 404; \}", text)


def test_nginx_retries_hook_calls_only_and_answers_its_errors_as_operation_outcomes() -> None:
    text = nginx_text()
    hooks = re.search(r"location ~ \^/cds-services/\[\^/\]\+\$ \{(.*?)\}", text, re.S)
    assert hooks, "no location for hook calls"
    assert "non_idempotent" in hooks[1]
    retried = re.findall(r"^\s*proxy_next_upstream [^;]*non_idempotent;", text, re.M)
    assert len(retried) == 1  # never feedback, nor anything else
    for status in ("413", "502 503 504"):
        assert f"error_page {status} = @" in text
    assert text.count('"resourceType":"OperationOutcome"') == 2


def test_the_database_the_configuration_names_is_the_one_compose_creates() -> None:
    compose = read_compose()
    db = compose["services"]["db"]
    url = urlsplit(read_config()["store"]["url"])
    env = db["environment"]
    assert url.hostname == "db" and url.port == 5432
    assert (url.username, url.password, url.path.lstrip("/")) == (
        env["POSTGRES_USER"],
        env["POSTGRES_PASSWORD"],
        env["POSTGRES_DB"],
    )
    assert db["healthcheck"]["test"] == [
        "CMD",
        "pg_isready",
        "-U",
        env["POSTGRES_USER"],
        "-d",
        env["POSTGRES_DB"],
    ]
    for name in SERVICE_NAMES:
        service = compose["services"][name]
        assert service["depends_on"] == {"db": {"condition": "service_healthy"}}
        assert service["build"] == {"context": "..", "dockerfile": "docker/Dockerfile"}


def test_the_shipped_configuration_trusts_no_client_so_the_service_refuses_to_start() -> None:
    config = read_config()
    assert config["auth"]["required"] is True
    assert "clients" not in config["auth"]  # README: add the EHR's issuer and JWK Set


def test_the_loopback_substitutions_change_only_what_they_document(tmp_path) -> None:
    nginx = loopback_nginx_conf(nginx_text(), {"cds-1": 18101, "cds-2": 18102}, 18100, tmp_path)
    assert nginx_upstreams(nginx) == [("127.0.0.1", 18101), ("127.0.0.1", 18102)]
    kept = [line for line in nginx_text().splitlines() if "server cds-" not in line]
    assert all(line in nginx.splitlines() for line in kept if "listen" not in line)
    text = (DOCKER / "config.toml").read_text()
    loopback = loopback_service_config(
        text,
        public_base_url="http://127.0.0.1:18100",
        store_url="postgresql://x/y",
        data_dir=tmp_path,
        client_iss="https://ehr.example.org",
        client_jwks=tmp_path / "ehr.json",
    )
    changed = set(loopback.splitlines()) - set(text.splitlines())
    assert len(changed) == 6, changed  # 3 substituted lines, the client's table of 3
    assert read_config_text(loopback)["auth"] == {
        "required": True,
        "clients": [{"iss": "https://ehr.example.org", "jwks_file": str(tmp_path / "ehr.json")}],
    }
