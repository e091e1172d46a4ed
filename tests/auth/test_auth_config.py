"""The [auth] and server settings of the configuration file: public URLs, JWK Set expiry."""

from __future__ import annotations

import pytest

from service.config import DEMO_PROFILE, Config, ConfigError, load_config, parse_config


def test_public_base_urls_lists_every_spelling_the_clients_call() -> None:
    config = parse_config(
        {"public_base_urls": ["https://cds.chu.example/", "http://cds.internal:8080"]}
    )
    assert config.public_base_urls == ("https://cds.chu.example", "http://cds.internal:8080")
    assert config.auth.public_base_urls == config.public_base_urls


def test_public_base_url_is_the_one_element_form() -> None:
    config = parse_config({"public_base_url": "https://cds.chu.example/"})
    assert config.public_base_urls == ("https://cds.chu.example",)


def test_default_public_base_urls_is_the_loopback_address() -> None:
    assert Config().public_base_urls == ("http://127.0.0.1:8080",)
    assert parse_config({}).public_base_urls == ("http://127.0.0.1:8080",)


def test_demo_profile_accepts_both_loopback_spellings() -> None:
    config = load_config(DEMO_PROFILE)
    assert set(config.public_base_urls) == {"http://localhost:8080", "http://127.0.0.1:8080"}


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        ({"public_base_urls": []}, "public_base_urls"),
        ({"public_base_urls": "https://a.example"}, "public_base_urls"),
        ({"public_base_urls": ["https://a.example", "ftp://b"]}, "public_base_urls[1]"),
        ({"public_base_urls": ["https://a.example", "https://a.example/"]}, "public_base_urls[1]"),
        (
            {"public_base_url": "https://a.example", "public_base_urls": ["https://b.example"]},
            "public_base_url",
        ),
        ({"public_base_url": "ftp://x"}, "public_base_url"),
        ({"public_base_urls": ["https://a.example?x=1"]}, "public_base_urls[0]"),
        ({"public_base_url_s": ["https://a.example"]}, "public_base_url_s"),
    ],
)
def test_bad_public_urls_stop_start_up_naming_the_key(raw: dict, key: str) -> None:
    with pytest.raises(ConfigError) as raised:
        parse_config(raw)
    assert str(raised.value).startswith(f"{key}:")


def test_jwks_max_age_defaults_to_one_hour_and_is_configurable() -> None:
    assert Config().auth.jwks_max_age_s == 3600
    config = parse_config({"auth": {"jwks_max_age_s": 600}})
    assert config.auth.jwks_max_age_s == 600


@pytest.mark.parametrize("value", [0, 59, 86401, "1h", True])
def test_a_jwks_max_age_out_of_bounds_stops_start_up(value: object) -> None:
    with pytest.raises(ConfigError, match=r"^auth\.jwks_max_age_s: must be"):
        parse_config({"auth": {"jwks_max_age_s": value}})


def test_an_unknown_key_in_a_client_table_stops_start_up() -> None:
    """A typo there would silently switch a check off (here: the tenant check)."""
    client = {"iss": "https://ehr.example", "jku": "https://ehr.example/jwks", "tennant": "acme"}
    with pytest.raises(ConfigError, match=r"^auth\.clients\[0\]\.tennant: unknown"):
        parse_config({"auth": {"clients": [client]}})
