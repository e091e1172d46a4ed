"""Configuration: documented defaults, the demo profile, and errors that name the key."""

import re
from pathlib import Path

import pytest

from service.config import DEMO_PROFILE, Config, ConfigError, load_config, parse_config


def test_defaults_are_safe() -> None:
    config = Config()
    assert config.auth.required is True
    assert config.fhir.allowed_servers == ()
    assert config.fhir.allow_http is False
    assert config.fhir.deadline_s <= 1.5
    assert config.cors.allowed_origins == ()
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
    assert config.cors.allowed_origins == ("*",)
    (client,) = config.auth.clients
    assert client.iss == "https://sandbox.cds-hooks.org"
    assert client.jwks_file is not None and client.jwks_file.is_file()
    assert config.store.url.startswith("sqlite:///")


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
    assert Config().locale.time_zone == "Europe/Paris"
    assert parse_config({"locale": {"time_zone": "America/Chicago"}}).locale.time_zone == (
        "America/Chicago"
    )
    with pytest.raises(ConfigError, match=r"locale\.time_zone"):
        parse_config({"locale": {"time_zone": "Mars/Olympus"}})


def test_the_site_clock_gives_the_site_day() -> None:
    from service.cementoplasty import site_clock

    now = site_clock("Pacific/Kiritimati")()  # UTC+14: its day is never behind UTC's
    assert now.utcoffset() is not None and now.utcoffset().total_seconds() == 14 * 3600


# Each table of the file, array tables included: an unknown key stops start-up, named.
@pytest.mark.parametrize(
    ("raw", "key"),
    [
        ({"colour": "blue"}, "colour"),
        ({"server": {"max_request_byte": 1}}, "server.max_request_byte"),
        ({"fhir": {"deadline": 1}}, "fhir.deadline"),
        ({"store": {"uri": "sqlite://"}}, "store.uri"),
        ({"locale": {"timezone": "UTC"}}, "locale.timezone"),
        ({"policy": {"inr": 2}}, "policy.inr"),
        ({"cors": {"origins": []}}, "cors.origins"),
        ({"auth": {"require": False}}, "auth.require"),
        ({"auth": {"public_base_urls": ["https://x"]}}, "auth.public_base_urls"),
        (
            {"auth": {"clients": [{"iss": "https://a", "jku": "https://a/k", "kid": "1"}]}},
            "auth.clients[0].kid",
        ),
        ({"triggers": {"procedure": ["kyphoplasty"]}}, "triggers.procedure"),
        ({"logging": {"lvl": "INFO"}}, "logging.lvl"),
    ],
)
def test_an_unknown_key_in_any_table_names_itself(raw: dict, key: str) -> None:
    with pytest.raises(ConfigError, match=rf"^{re.escape(key)}: unknown configuration key"):
        parse_config(raw)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        # Never cut to a whole number: 2.5 pages is a mistake, not 2 pages.
        ({"fhir": {"max_pages": 2.5}}, "fhir.max_pages: must be a whole number"),
        ({"policy": {"lab_max_age_days": 7.9}}, "policy.lab_max_age_days: must be a whole number"),
        ({"store": {"spool_max_mb": 0.5}}, "store.spool_max_mb: must be a whole number"),
        # A string is never read as a number or a boolean.
        ({"policy": {"inr_max": "1.5"}}, "policy.inr_max: must be a number"),
        ({"auth": {"required": "false"}}, "auth.required: must be true or false"),
        ({"demo": 1}, "demo: must be true or false"),
        # Bounds on every number.
        ({"server": {"max_request_bytes": 10}}, "server.max_request_bytes: must be at least 1024"),
        ({"fhir": {"max_pages": 1000}}, "fhir.max_pages: must be at most 100"),
        ({"fhir": {"max_referenced_fetches": 0}}, "fhir.max_referenced_fetches: must be at least"),
        ({"auth": {"clock_skew_s": -1}}, "auth.clock_skew_s: must be at least 0"),
        ({"auth": {"jwks_refresh_interval_s": 0}}, "auth.jwks_refresh_interval_s: must be at"),
        ({"policy": {"vka_stop_days": 0}}, "policy.vka_stop_days: must be at least 1"),
        (
            {"policy": {"unlisted_hold_days": {"prasugrel": 61}}},
            "policy.unlisted_hold_days.prasugrel: must be at most 60",
        ),
        # A list whose emptiness would turn the service off.
        ({"triggers": {"procedures": []}}, "triggers.procedures: must not be empty"),
        ({"auth": {"algorithms": []}}, "auth.algorithms: must not be empty"),
        ({"public_base_urls": []}, "public_base_urls: at least one URL"),
        # Tables that are not tables.
        ({"fhir": 3}, "fhir: must be a table"),
        ({"auth": {"clients": ["https://a"]}}, "auth.clients[0]: must be a table"),
        ({"logging": {"level": "VERBOSE"}}, "logging.level: DEBUG, INFO, WARNING or ERROR"),
    ],
)
def test_a_bad_value_stops_start_up_with_its_key(raw: dict, message: str) -> None:
    with pytest.raises(ConfigError) as error:
        parse_config(raw)
    assert str(error.value).startswith(message)


def test_any_fhir_server_only_in_the_demo() -> None:
    with pytest.raises(ConfigError, match=r'^fhir.allowed_servers\[0\]: "\*" .* demo = true'):
        parse_config({"fhir": {"allowed_servers": ["*"]}})
    assert parse_config(
        {"demo": True, "fhir": {"allowed_servers": ["*"]}}
    ).fhir.allowed_servers == ("*",)


def test_a_sqlite_store_in_a_missing_folder_refuses_to_start(tmp_path: Path) -> None:
    from service.app import create_app

    missing = tmp_path / "no-such-folder" / "store.sqlite3"
    config = parse_config({"auth": {"required": False}, "store": {"url": f"sqlite:///{missing}"}})
    with pytest.raises(ConfigError, match=r"^store.url: the folder .*no-such-folder.* not exist"):
        create_app(config)
    assert not missing.parent.exists()  # was created silently


def test_the_protocol_settings_are_cds_hooks_own_classes() -> None:
    from cds_hooks.auth import AuthSettings, TrustedClient
    from cds_hooks.fhir_client import FhirFetchSettings

    config = parse_config(
        {"auth": {"clients": [{"iss": "https://ehr.example", "jku": "https://ehr.example/k"}]}}
    )
    assert type(config.fhir) is FhirFetchSettings
    assert type(config.auth) is AuthSettings
    assert type(config.auth.clients[0]) is TrustedClient
    assert config.auth.clients[0].jku == ("https://ehr.example/k",)  # one string: a list of one


def test_relative_dates_in_discovery_are_off_unless_the_operator_turns_them_on() -> None:
    # CDS Hooks 3.0 relative-date tokens: 2.0 clients (the sandbox, most EHRs) do not read them.
    assert parse_config({}).prefetch.relative_dates is False
    assert parse_config({"prefetch": {"relative_dates": True}}).prefetch.relative_dates is True


# Review of the typed configuration: values the old reader refused (or read otherwise) that the
# first version of the model let through.
@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ('[[auth.clients]]\niss = 1979-05-27\njku = "https://a/k"', "auth.clients[0].iss: must be"),
        ("[cors]\nallowed_origins = [1979-05-27]", "cors.allowed_origins[0]: must be"),
        ("[store]\nspool_dir = 1979-05-27", "store.spool_dir: must be"),
        ('[[auth.clients]]\niss = "https://a"\njku = "https://a/k"\ntenant = ""', "tenant"),
        ('[store]\nspool_dir = ""', "store.spool_dir: must not be empty"),
        (
            '[[auth.clients]]\niss = "https://a"\njku = "https://a/k"\njwks_file = ""',
            "auth.clients[0].jwks_file: must not be empty",
        ),
        (
            '[[auth.clients]]\niss = ""\njku = "https://a/k"',
            "auth.clients[0].iss: must not be empty",
        ),
        (
            "[auth]\njwks_refresh_interval_s = 3600\njwks_max_age_s = 60",
            "auth.jwks_refresh_interval_s: must not exceed auth.jwks_max_age_s",
        ),
    ],
)
def test_dates_empty_strings_and_intervals_that_cannot_work_are_refused(
    toml: str, message: str
) -> None:
    import tomllib

    with pytest.raises(ConfigError) as error:
        parse_config(tomllib.loads(toml), base_dir=Path("/etc/cds"))
    assert message in str(error.value)


def test_the_report_command_says_a_missing_store_folder_is_a_configuration_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from service.cli import main

    config = tmp_path / "config.toml"
    config.write_text(f'[store]\nurl = "sqlite:///{tmp_path}/missing/x.sqlite3"\n')
    monkeypatch.setenv("CDS_CONFIG", str(config))
    assert main(["report"]) == 2
    assert "configuration error: store.url: the folder" in capsys.readouterr().err
    assert not (tmp_path / "missing").exists()
