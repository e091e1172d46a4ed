"""Configuration: documented defaults, the demo profile, and errors that name the key."""

from pathlib import Path

import pytest

from service.config import DEMO_PROFILE, Config, ConfigError, load_config, parse_config


def test_defaults_are_safe() -> None:
    config = Config()
    assert config.auth.required is True
    assert config.fhir.allowed_servers == ()
    assert config.fhir.allow_http is False
    assert config.fhir.deadline_s <= 1.5
    assert config.cors_allowed_origins == ()
    assert config.demo is False
    assert config.policy.lab_max_age_days == 7
    assert config.policy.inr_max == 1.5
    assert config.policy.pain_controlled_max == 3
    assert config.policy.pain_uncontrolled_min == 4


def test_no_file_means_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CDS_CONFIG", raising=False)
    assert load_config() == Config()


def test_demo_profile_trusts_the_sandbox_and_allows_http() -> None:
    config = load_config(DEMO_PROFILE)
    assert config.demo is True
    assert config.fhir.allow_http is True
    assert config.fhir.allowed_servers == ("*",)
    assert config.cors_allowed_origins == ("*",)
    (client,) = config.auth.clients
    assert client.iss == "https://sandbox.cds-hooks.org"
    assert client.jwks_file is not None and client.jwks_file.is_file()
    assert config.store_url.startswith("sqlite:///")


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        ({"public_base_url": "ftp://x"}, "public_base_url"),
        ({"fhir": {"allowed_servers": ["http://ehr.example/fhir"]}}, "fhir.allowed_servers[0]"),
        ({"fhir": {"deadline_s": "fast"}}, "fhir.deadline_s"),
        ({"fhir": {"deadline_s": 0}}, "fhir.deadline_s"),
        ({"locale": {"default": "de"}}, "locale.default"),
        ({"policy": {"inr_max": 9}}, "policy.inr_max"),
        ({"policy": {"pain_controlled_max": 5}}, "policy.pain_controlled_max"),
        ({"auth": {"algorithms": ["HS256"]}}, "auth.algorithms"),
        ({"auth": {"algorithms": ["none"]}}, "auth.algorithms"),
        ({"auth": {"clients": [{"jwks_file": "x.json"}]}}, "auth.clients[0].iss"),
        ({"auth": {"clients": [{"iss": "https://a"}]}}, "auth.clients[0]"),
        ({"store": {"url": "mysql://x"}}, "store.url"),
        ({"triggers": {"procedures": ["appendectomy"]}}, "triggers.procedures"),
        ({"fhir": {"alowed_servers": []}}, "fhir.alowed_servers"),
        ({"polcy": {}}, "polcy"),
        ({"prefetch": {"relative_dates": "yes"}}, "prefetch.relative_dates"),
        ({"prefetch": {"relative_date": True}}, "prefetch.relative_date"),
    ],
)
def test_bad_values_name_their_key(raw: dict, key: str) -> None:
    with pytest.raises(ConfigError) as error:
        parse_config(raw)
    assert str(error.value).startswith(key)


def test_http_server_allowed_only_with_allow_http() -> None:
    config = parse_config(
        {"fhir": {"allowed_servers": ["http://127.0.0.1:9/fhir/"], "allow_http": True}}
    )
    assert config.fhir.allowed_servers == ("http://127.0.0.1:9/fhir",)


def test_jwks_file_is_relative_to_the_config_file(tmp_path: Path) -> None:
    (tmp_path / "keys.json").write_text('{"keys": []}')
    config_file = tmp_path / "cds.toml"
    config_file.write_text(
        '[[auth.clients]]\niss = "https://ehr.example"\njwks_file = "keys.json"\n'
    )
    config = load_config(config_file)
    assert config.auth.clients[0].jwks_file == (tmp_path / "keys.json").resolve()


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such file"):
        load_config(tmp_path / "absent.toml")


def test_unlisted_hold_days_must_name_an_unlisted_antithrombotic() -> None:
    from service.config_check import check_policy_against_valuesets
    from service.valuesets import load_valuesets

    valuesets = load_valuesets()
    good = parse_config({"policy": {"unlisted_hold_days": {"prasugrel": 7, "ticagrelor": 5}}})
    check_policy_against_valuesets(good.policy, valuesets)
    for key in ("prasugrell", "clopidogrel"):  # a typo; a drug the guideline already covers
        bad = parse_config({"policy": {"unlisted_hold_days": {key: 7}}})
        with pytest.raises(ConfigError, match=f"policy.unlisted_hold_days.{key}"):
            check_policy_against_valuesets(bad.policy, valuesets)


def test_cli_stops_on_a_bad_policy_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    from service.cli import main

    config_file = tmp_path / "cds.toml"
    config_file.write_text("[policy.unlisted_hold_days]\nprasugrell = 7\n")
    monkeypatch.setenv("CDS_CONFIG", str(config_file))
    assert main(["report"]) == 2
    assert "policy.unlisted_hold_days.prasugrell" in capsys.readouterr().err


def test_time_zone_defaults_to_paris_and_is_checked() -> None:
    assert Config().time_zone == "Europe/Paris"
    assert parse_config({"locale": {"time_zone": "America/Chicago"}}).time_zone == (
        "America/Chicago"
    )
    with pytest.raises(ConfigError, match=r"locale\.time_zone"):
        parse_config({"locale": {"time_zone": "Mars/Olympus"}})


def test_the_site_clock_gives_the_site_day() -> None:
    from service.cementoplasty import site_clock

    now = site_clock("Pacific/Kiritimati")()  # UTC+14: its day is never behind UTC's
    assert now.utcoffset() is not None and now.utcoffset().total_seconds() == 14 * 3600


def test_relative_dates_in_discovery_are_off_unless_the_operator_turns_them_on() -> None:
    # CDS Hooks 3.0 relative-date tokens: 2.0 clients (the sandbox, most EHRs) do not read them.
    assert parse_config({}).prefetch_relative_dates is False
    assert parse_config({"prefetch": {"relative_dates": True}}).prefetch_relative_dates is True
