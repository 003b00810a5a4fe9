//! From Miyagi's `bus.kafka` settings to librdkafka properties, including Azure Event Hubs'
//! Kafka endpoint, which takes the namespace connection string as a SASL PLAIN password.

use miyagi_platform::config::KafkaConfig;
use rdkafka::ClientConfig;

/// An Event Hubs namespace, parsed from its connection string.
#[derive(Debug, PartialEq, Eq)]
pub struct EventHubs {
    /// `<namespace>.servicebus.windows.net:9093`
    pub bootstrap: String,
}

impl EventHubs {
    pub fn parse(connection_string: &str) -> anyhow::Result<Self> {
        let bad = |why: &str| {
            anyhow::anyhow!("key `bus.kafka.event_hubs_connection_string`: {why} (copy it from the namespace's \"Shared access policies\" in the Azure portal)")
        };
        let mut endpoint = None;
        let mut key_name = false;
        let mut key = false;
        for part in connection_string
            .split(';')
            .filter(|p| !p.trim().is_empty())
        {
            let (name, value) = part
                .split_once('=')
                .ok_or_else(|| bad("expected `Name=value` parts separated by `;`"))?;
            match name.trim() {
                "Endpoint" => endpoint = Some(value.trim()),
                "SharedAccessKeyName" => key_name = !value.trim().is_empty(),
                "SharedAccessKey" => key = !value.trim().is_empty(),
                "EntityPath" => {
                    return Err(bad(
                        "it names one event hub (EntityPath); Miyagi uses several topics, so give the namespace-level connection string",
                    ))
                }
                _ => {}
            }
        }
        let endpoint = endpoint.ok_or_else(|| bad("it has no Endpoint=sb://…"))?;
        if !key_name || !key {
            return Err(bad("it needs SharedAccessKeyName and SharedAccessKey"));
        }
        let url = url::Url::parse(endpoint).map_err(|_| {
            bad("Endpoint is not a URL such as sb://<namespace>.servicebus.windows.net/")
        })?;
        if url.scheme() != "sb" {
            return Err(bad("Endpoint must start with sb://"));
        }
        let host = url
            .host_str()
            .ok_or_else(|| bad("Endpoint has no host name"))?;
        Ok(Self {
            bootstrap: format!("{host}:9093"),
        })
    }
}

/// Properties shared by the producer, consumers and admin client.
pub fn client_config(settings: &KafkaConfig) -> anyhow::Result<ClientConfig> {
    let mut config = ClientConfig::new();
    config
        .set("client.id", "miyagi")
        .set("socket.keepalive.enable", "true");
    if let Some(connection_string) = &settings.event_hubs_connection_string {
        let hubs = EventHubs::parse(connection_string.expose())?;
        config
            .set(
                "bootstrap.servers",
                settings.brokers.as_deref().unwrap_or(&hubs.bootstrap),
            )
            .set("security.protocol", "SASL_SSL")
            .set("sasl.mechanism", "PLAIN")
            .set("sasl.username", "$ConnectionString")
            .set("sasl.password", connection_string.expose());
    } else {
        let brokers = settings.brokers.as_deref().ok_or_else(|| {
            anyhow::anyhow!("key `bus.kafka.brokers`: set it to `host:port` of a Kafka broker")
        })?;
        config.set("bootstrap.servers", brokers);
    }
    for (key, value) in &settings.options {
        config.set(key, value.expose());
    }
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;
    use miyagi_platform::config::Secret;

    const NAMESPACE: &str = "Endpoint=sb://miyagi-prod.servicebus.windows.net/;SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey=c2VjcmV0";

    #[test]
    fn an_event_hubs_connection_string_gives_the_kafka_endpoint_on_port_9093() {
        assert_eq!(
            EventHubs::parse(NAMESPACE).unwrap().bootstrap,
            "miyagi-prod.servicebus.windows.net:9093"
        );
    }

    #[test]
    fn event_hubs_settings_use_sasl_ssl_plain_with_the_connection_string_as_password() {
        let settings = KafkaConfig {
            event_hubs_connection_string: Some(Secret::new(NAMESPACE)),
            ..KafkaConfig::default()
        };
        let config = client_config(&settings).unwrap();
        assert_eq!(config.get("security.protocol"), Some("SASL_SSL"));
        assert_eq!(config.get("sasl.mechanism"), Some("PLAIN"));
        assert_eq!(config.get("sasl.username"), Some("$ConnectionString"));
        assert_eq!(config.get("sasl.password"), Some(NAMESPACE));
    }

    #[test]
    fn a_connection_string_scoped_to_one_event_hub_is_refused_with_the_fix() {
        let err = EventHubs::parse(&format!("{NAMESPACE};EntityPath=profiles"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("namespace-level"), "{err}");
    }

    #[test]
    fn a_connection_string_without_a_key_is_refused() {
        let err = EventHubs::parse("Endpoint=sb://x.servicebus.windows.net/")
            .unwrap_err()
            .to_string();
        assert!(err.contains("SharedAccessKey"), "{err}");
    }

    #[test]
    fn extra_options_pass_through_to_librdkafka() {
        let mut settings = KafkaConfig {
            brokers: Some("localhost:9092".into()),
            ..KafkaConfig::default()
        };
        settings
            .options
            .insert("security.protocol".into(), Secret::new("SSL"));
        let config = client_config(&settings).unwrap();
        assert_eq!(config.get("bootstrap.servers"), Some("localhost:9092"));
        assert_eq!(config.get("security.protocol"), Some("SSL"));
    }
}
