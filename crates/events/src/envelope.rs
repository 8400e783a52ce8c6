//! CloudEvents 1.0, structured JSON mode.

use crate::catalog::DomainEvent;
use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub const SPEC_VERSION: &str = "1.0";
pub const CONTENT_TYPE: &str = "application/cloudevents+json";

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CloudEvent {
    pub specversion: String,
    pub id: Uuid,
    /// `/services/<name>`
    pub source: String,
    #[serde(rename = "type")]
    pub event_type: String,
    pub time: DateTime<Utc>,
    /// The aggregate the event is about (payment id, subscription id, ...).
    pub subject: String,
    pub datacontenttype: String,
    /// Path of the payload's JSON Schema under `proto-schemas/`.
    pub dataschema: String,
    /// W3C trace context of the change that produced the event (the CloudEvents distributed
    /// tracing extension), so its consumers continue the same trace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub traceparent: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tracestate: Option<String>,
    pub data: serde_json::Value,
}

impl CloudEvent {
    pub fn new<E: DomainEvent>(event: &E, traceparent: Option<String>) -> Result<Self, serde_json::Error> {
        Ok(Self {
            specversion: SPEC_VERSION.into(),
            id: Uuid::now_v7(),
            source: format!("/services/{}", E::SOURCE),
            event_type: E::TYPE.into(),
            time: Utc::now(),
            subject: event.subject(),
            datacontenttype: "application/json".into(),
            dataschema: E::schema_path(),
            traceparent,
            tracestate: None,
            data: serde_json::to_value(event)?,
        })
    }

    /// The same event as part of the trace `context`.
    pub fn in_trace(mut self, context: platform::telemetry::TraceContext) -> Self {
        self.traceparent = context.traceparent;
        self.tracestate = context.tracestate;
        self
    }

    /// The payload as the typed event; fails when the type does not match.
    pub fn data_as<E: DomainEvent + DeserializeOwned>(&self) -> Result<E, String> {
        if self.event_type != E::TYPE {
            return Err(format!("expected {} but got {}", E::TYPE, self.event_type));
        }
        serde_json::from_value(self.data.clone()).map_err(|e| format!("{}: {e}", E::TYPE))
    }
}
