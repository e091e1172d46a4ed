"""A service that could answer no call refuses to start, saying why: auth required and no
client trusted (the compose stack as shipped used to answer 401 to everything, silently)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from support.e2e_servers import child_env, free_port, service_executable

from service.app import create_app
from service.config import ConfigError, load_config, parse_config

ROOT = Path(__file__).resolve().parents[2]
DOCKER_CONFIG = ROOT / "docker" / "config.toml"


def test_auth_required_without_a_client_refuses_to_start() -> None:
    with pytest.raises(ConfigError, match=r"no \[\[auth.clients\]\].*refused with 401"):
        create_app(parse_config({"auth": {"required": True}}))


def test_auth_required_with_a_client_starts(tmp_path: Path) -> None:
    jwks = tmp_path / "jwks.json"
    jwks.write_text('{"keys": []}')
    client = {"iss": "https://ehr.example.org", "jwks_file": str(jwks)}
    config = parse_config(
        {
            "auth": {"required": True, "clients": [client]},
            "store": {"url": "sqlite://", "spool_dir": str(tmp_path / "spool")},
        }
    )
    assert create_app(config).test_client().get("/healthz").status_code == 200


def test_the_compose_configuration_says_what_to_do_before_it_starts() -> None:
    config = load_config(DOCKER_CONFIG)
    assert config.store.spool_dir == Path("/data/audit-spool")
    # As shipped it trusts no client: it must refuse to start (not answer 401 to everything),
    # and the file itself says so where the client is to be added.
    with pytest.raises(ConfigError, match=r"auth\.clients"):
        create_app(config)
    assert "REFUSES TO START" in DOCKER_CONFIG.read_text()


@pytest.mark.e2e
def test_serve_exits_with_the_reason_in_its_log(tmp_path: Path) -> None:
    config = tmp_path / "service.toml"
    config.write_text('[store]\nurl = "sqlite:///store.sqlite3"\n\n[auth]\nrequired = true\n')
    command = [str(service_executable()), "serve", "--port", str(free_port()), "--workers", "1"]
    result = subprocess.run(
        command,
        env=child_env(CDS_CONFIG=str(config)),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode != 0
    assert "refusing to start" in result.stderr and "auth.clients" in result.stderr
