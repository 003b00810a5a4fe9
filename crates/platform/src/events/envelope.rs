//! The CloudEvents 1.0 envelope in JSON structured mode.
//!
//! A plain struct rather than the `cloudevents-sdk` crate: structured JSON is ten fields, and the
//! SDK's protocol bindings would pin our Kafka and HTTP crate versions to its own.

use chrono::{DateTime, Utc};
use serde::{de::DeserializeOwned, Deserialize, Serialize};
use uuid::Uuid;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CloudEvent {
    pub specversion: String,
    /// Unique per event; consumers deduplicate on it.
    pub id: String,
    /// The producing service, e.g. `/miyagi/users`.
    pub source: String,
    /// Schema-versioned type, e.g. `miyagi.user.profile.updated.v1`.
    #[serde(rename = "type")]
    pub event_type: String,
    /// The aggregate id the event is about; also the partitioning key.
    pub subject: String,
    pub time: DateTime<Utc>,
    pub datacontenttype: String,
    pub data: serde_json::Value,
    /// W3C trace context of the operation that caused the event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub traceparent: Option<String>,
    /// Set on a tombstone: the person the event was about had their data erased, so `data` is
    /// null. Consumers pass tombstones by ([`CloudEvent::tombstone`]).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub erased: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum EnvelopeError {
    #[error("not a CloudEvents 1.0 JSON envelope: {0}")]
    Malformed(String),
    #[error("event {id} of type {event_type} has an invalid payload: {reason}")]
    Payload {
        id: String,
        event_type: String,
        reason: String,
    },
}

impl CloudEvent {
    /// A new event caused by the current operation: fresh time-ordered id, current trace context.
    pub fn new(
        source: &str,
        event_type: &str,
        subject: impl Into<String>,
        data: &impl Serialize,
    ) -> Self {
        Self {
            specversion: "1.0".into(),
            id: Uuid::now_v7().to_string(),
            source: source.into(),
            event_type: event_type.into(),
            subject: subject.into(),
            time: Utc::now(),
            datacontenttype: "application/json".into(),
            data: serde_json::to_value(data).expect("event payloads serialize to JSON"),
            traceparent: crate::telemetry::current_traceparent(),
            erased: false,
        }
    }

    /// The event with its payload gone: what stays (id, type, subject, time) keeps the log's
    /// order and the inboxes' memory intact but says nothing about the person.
    pub fn tombstone(&self) -> Self {
        Self {
            data: serde_json::Value::Null,
            traceparent: None,
            erased: true,
            ..self.clone()
        }
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("envelopes serialize to JSON")
    }

    /// Parses and checks an envelope read off the log; a failure here sends it to the dead letters.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, EnvelopeError> {
        let event: CloudEvent =
            serde_json::from_slice(bytes).map_err(|e| EnvelopeError::Malformed(e.to_string()))?;
        if event.specversion != "1.0" {
            return Err(EnvelopeError::Malformed(format!(
                "specversion {:?} is not 1.0",
                event.specversion
            )));
        }
        if event.id.is_empty() || event.event_type.is_empty() || event.source.is_empty() {
            return Err(EnvelopeError::Malformed(
                "id, type and source must not be empty".into(),
            ));
        }
        Ok(event)
    }

    /// The payload as `T`; a mismatch is a permanent error for this event.
    pub fn data_as<T: DeserializeOwned>(&self) -> Result<T, EnvelopeError> {
        serde_json::from_value(self.data.clone()).map_err(|e| EnvelopeError::Payload {
            id: self.id.clone(),
            event_type: self.event_type.clone(),
            reason: e.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_envelope_round_trips_through_bytes() {
        let event = CloudEvent::new(
            "/test",
            "miyagi.test.v1",
            "agg-1",
            &serde_json::json!({"n": 1}),
        );
        assert_eq!(CloudEvent::from_bytes(&event.to_bytes()).unwrap(), event);
    }

    #[test]
    fn the_envelope_uses_cloudevents_attribute_names() {
        let event = CloudEvent::new("/test", "miyagi.test.v1", "agg-1", &1);
        let json: serde_json::Value = serde_json::from_slice(&event.to_bytes()).unwrap();
        for key in [
            "specversion",
            "id",
            "source",
            "type",
            "subject",
            "time",
            "datacontenttype",
            "data",
        ] {
            assert!(json.get(key).is_some(), "missing {key}");
        }
    }

    #[test]
    fn garbage_is_a_malformed_envelope() {
        assert!(matches!(
            CloudEvent::from_bytes(b"{\"hello\":1}"),
            Err(EnvelopeError::Malformed(_))
        ));
    }
}
