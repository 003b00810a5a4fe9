// figment's `Jail` closures return its large error type; that is its API, not ours.
#![allow(clippy::result_large_err)]

use super::*;
use figment::Jail;

fn load_err(jail: &mut Jail, file: Option<&str>) -> String {
    if let Some(contents) = file {
        jail.create_file("miyagi.toml", contents).unwrap();
    }
    Config::load(file.map(|_| std::path::Path::new("miyagi.toml")))
        .unwrap_err()
        .to_string()
}

#[test]
fn defaults_run_embedded_on_localhost_8080() {
    Jail::expect_with(|_| {
        let c = Config::load(None).unwrap();
        assert_eq!(c.http.bind.to_string(), "127.0.0.1:8080");
        assert_eq!(c.database.url.expose(), "sqlite");
        assert_eq!(c.auth.mode, AuthMode::None);
        Ok(())
    });
}

#[test]
fn environment_overrides_file_and_nested_keys_use_double_underscore() {
    Jail::expect_with(|jail| {
        jail.create_file(
            "miyagi.toml",
            "[http]\nbind = \"127.0.0.1:9000\"\nbody_limit_bytes = 10",
        )?;
        jail.set_env("MIYAGI_HTTP__BIND", "127.0.0.1:9100");
        let c = Config::load(Some(std::path::Path::new("miyagi.toml"))).unwrap();
        assert_eq!(c.http.bind.to_string(), "127.0.0.1:9100");
        assert_eq!(c.http.body_limit_bytes, 10);
        Ok(())
    });
}

#[test]
fn a_wrongly_typed_value_names_its_key() {
    Jail::expect_with(|jail| {
        jail.set_env("MIYAGI_HTTP__BIND", "not-an-address");
        let err = load_err(jail, None);
        assert!(err.contains("http.bind"), "{err}");
        Ok(())
    });
}

#[test]
fn an_unknown_key_is_an_error_naming_it() {
    Jail::expect_with(|jail| {
        let err = load_err(jail, Some("[http]\nbnd = \"127.0.0.1:9000\""));
        assert!(err.contains("bnd"), "{err}");
        Ok(())
    });
}

#[test]
fn a_missing_config_file_says_how_to_fix_it() {
    let err = Config::load(Some(std::path::Path::new("/nope/miyagi.toml"))).unwrap_err();
    assert!(err.to_string().contains("does not exist"), "{err}");
}

#[test]
fn kafka_without_brokers_names_the_missing_key() {
    Jail::expect_with(|jail| {
        jail.set_env("MIYAGI_BUS__KIND", "kafka");
        let err = load_err(jail, None);
        assert!(err.contains("bus.kafka.brokers"), "{err}");
        Ok(())
    });
}

#[test]
fn a_blank_kafka_instance_id_names_the_key() {
    Jail::expect_with(|jail| {
        jail.set_env("MIYAGI_BUS__KAFKA__INSTANCE_ID", " ");
        let err = load_err(jail, None);
        assert!(err.contains("bus.kafka.instance_id"), "{err}");
        Ok(())
    });
}

#[test]
fn kafka_settings_and_a_redis_cache_load_from_the_environment() {
    Jail::expect_with(|jail| {
        jail.set_env("MIYAGI_BUS__KIND", "kafka");
        jail.set_env("MIYAGI_BUS__KAFKA__BROKERS", "localhost:9092");
        jail.set_env("MIYAGI_BUS__KAFKA__PREFIX", "staging.");
        jail.set_env("MIYAGI_CACHE__URL", "redis://cache:6379/");
        let c = Config::load(None).unwrap();
        assert_eq!(c.bus.kind, BusKind::Kafka);
        assert_eq!(c.bus.kafka.brokers.as_deref(), Some("localhost:9092"));
        assert_eq!(c.bus.kafka.prefix, "staging.");
        assert!(c.bus.kafka.create_topics);
        assert_eq!(c.cache.url.expose(), "redis://cache:6379/");
        Ok(())
    });
}

#[test]
fn an_advisor_library_url_that_is_not_http_names_the_key() {
    Jail::expect_with(|jail| {
        jail.set_env("MIYAGI_ADVISOR__LIBRARY_URL", "documents:8080");
        let err = load_err(jail, None);
        assert!(err.contains("key `advisor.library_url`"), "{err}");
        assert!(err.contains("http://documents:8080"), "{err}");
        Ok(())
    });
}

#[test]
fn an_otlp_endpoint_that_is_not_http_names_the_key() {
    Jail::expect_with(|jail| {
        jail.set_env("MIYAGI_TELEMETRY__OTLP_ENDPOINT", "collector:4318");
        let err = load_err(jail, None);
        assert!(err.contains("key `telemetry.otlp_endpoint`"), "{err}");
        assert!(err.contains("http://localhost:4318"), "{err}");
        Ok(())
    });
}

#[test]
fn a_markets_setting_out_of_range_names_the_key_and_what_fits() {
    let cases = [
        (
            "MIYAGI_MARKETS__PRICE_BAND_BPS",
            "0",
            "markets.price_band_bps",
            "1000 is 10%",
        ),
        (
            "MIYAGI_MARKETS__STARTING_CASH",
            "-5",
            "markets.starting_cash",
            "such as 100000",
        ),
        (
            "MIYAGI_MARKETS__TICK_MILLIS",
            "1",
            "markets.tick_millis",
            "from 10 to 60000",
        ),
        (
            "MIYAGI_MARKETS__MAX_POSITION_SHARES",
            "10",
            "markets.max_position_shares",
            "max_order_shares",
        ),
    ];
    each_names_its_key(&cases);
}

#[test]
fn an_agents_setting_out_of_range_names_the_key_and_what_fits() {
    let cases = [
        (
            "MIYAGI_AGENTS__APPROVAL_SECS",
            "0",
            "agents.approval_secs",
            "such as 86400",
        ),
        (
            "MIYAGI_AGENTS__STEP_ATTEMPTS",
            "0",
            "agents.step_attempts",
            "from 1 to 10",
        ),
    ];
    each_names_its_key(&cases);
}

/// Each `(variable, value, key, fix)`: the variable set to the value is refused, naming the key
/// and what fits.
fn each_names_its_key(cases: &[(&str, &str, &str, &str)]) {
    for &(key, value, names, fix) in cases {
        Jail::expect_with(|jail| {
            jail.set_env(key, value);
            let err = load_err(jail, None);
            assert!(
                err.contains(&format!("key `{names}`")) && err.contains(fix),
                "{key}={value}: {err}"
            );
            Ok(())
        });
    }
}

#[test]
fn a_cache_url_that_is_not_redis_names_the_key() {
    Jail::expect_with(|jail| {
        jail.set_env("MIYAGI_CACHE__URL", "memcached://x");
        let err = load_err(jail, None);
        assert!(err.contains("cache.url"), "{err}");
        Ok(())
    });
}

#[test]
fn jwt_mode_without_a_key_source_names_the_missing_key() {
    Jail::expect_with(|jail| {
        jail.set_env("MIYAGI_AUTH__MODE", "jwt");
        let err = load_err(jail, None);
        assert!(err.contains("auth.jwt.hs256_secret"), "{err}");
        Ok(())
    });
}

#[test]
fn the_printed_config_masks_passwords_and_secrets() {
    Jail::expect_with(|jail| {
        jail.set_env(
            "MIYAGI_DATABASE__URL",
            "postgres://app:hunter2@db:5432/miyagi",
        );
        jail.set_env("MIYAGI_AUTH__MODE", "jwt");
        jail.set_env("MIYAGI_AUTH__JWT__HS256_SECRET", "topsecretvalue");
        let c = Config::load(None).unwrap();
        let shown = c.to_masked_toml();
        assert!(
            !shown.contains("hunter2") && !shown.contains("topsecretvalue"),
            "{shown}"
        );
        assert!(
            shown.contains("postgres://app:********@db:5432/miyagi"),
            "{shown}"
        );
        assert!(!format!("{c:?}").contains("hunter2"));
        Ok(())
    });
}

#[test]
fn auth_mode_none_on_a_network_address_is_refused() {
    Jail::expect_with(|jail| {
        jail.set_env("MIYAGI_HTTP__BIND", "0.0.0.0:8080");
        let err = load_err(jail, None);
        assert!(err.contains("auth.mode"), "{err}");
        Ok(())
    });
}

#[test]
fn jwks_without_issuer_and_audience_is_refused() {
    Jail::expect_with(|jail| {
        jail.set_env("MIYAGI_AUTH__MODE", "jwt");
        jail.set_env("MIYAGI_AUTH__JWT__JWKS_URL", "https://login.example/keys");
        let err = load_err(jail, None);
        assert!(err.contains("auth.jwt.issuer"), "{err}");
        jail.set_env("MIYAGI_AUTH__JWT__ISSUER", "https://login.example/");
        let err = load_err(jail, None);
        assert!(err.contains("auth.jwt.audience"), "{err}");
        Ok(())
    });
}

#[test]
fn a_wildcard_cors_origin_is_refused() {
    Jail::expect_with(|jail| {
        let err = load_err(jail, Some("[http]\ncors_origins = [\"*\"]"));
        assert!(err.contains("http.cors_origins"), "{err}");
        Ok(())
    });
}

#[test]
fn a_user_name_under_the_reserved_prefix_is_refused() {
    Jail::expect_with(|jail| {
        jail.set_env("MIYAGI_AUTH__LOCAL_USER", "miyagi:library");
        let err = load_err(jail, None);
        assert!(
            err.contains("auth.local_user") && err.contains("do not start with `miyagi:`"),
            "{err}"
        );
        Ok(())
    });
}

#[test]
fn the_bus_kind_is_named_as_config_spells_it() {
    for kind in [BusKind::Embedded, BusKind::Kafka] {
        assert_eq!(serde_json::to_value(kind).unwrap(), kind.as_str());
    }
}
