//! W3C trace context in AMQP message headers (`traceparent`, `tracestate`), the way the
//! OpenTelemetry messaging conventions carry it: the relay writes the context of its publish
//! span, and the consumer's span continues it. Retry and dead-letter copies keep the headers, so
//! a retried event stays in its trace.

use lapin::types::{AMQPValue, FieldTable};
use platform::telemetry::TraceContext;

const TRACEPARENT: &str = "traceparent";
const TRACESTATE: &str = "tracestate";

/// Add `context` to `headers` (nothing when it is empty).
pub fn inject(headers: &mut FieldTable, context: &TraceContext) {
    if let Some(tp) = &context.traceparent {
        headers.insert(TRACEPARENT.into(), AMQPValue::LongString(tp.as_str().into()));
    }
    if let Some(ts) = &context.tracestate {
        headers.insert(TRACESTATE.into(), AMQPValue::LongString(ts.as_str().into()));
    }
}

/// The context a message carries in its headers, empty when it has none.
pub fn extract(headers: Option<&FieldTable>) -> TraceContext {
    let text = |key: &str| match headers.and_then(|h| h.inner().get(key)) {
        Some(AMQPValue::LongString(s)) => Some(s.to_string()),
        Some(AMQPValue::ShortString(s)) => Some(s.to_string()),
        _ => None,
    };
    TraceContext { traceparent: text(TRACEPARENT), tracestate: text(TRACESTATE) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_context_survives_the_headers_round_trip() {
        let context =
            TraceContext::new(Some("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"), Some("vendor=opaque"));
        let mut headers = FieldTable::default();
        inject(&mut headers, &context);
        assert_eq!(extract(Some(&headers)), context);
    }

    #[test]
    fn no_headers_no_context() {
        let mut headers = FieldTable::default();
        inject(&mut headers, &TraceContext::default());
        assert!(headers.inner().is_empty());
        assert_eq!(extract(None), TraceContext::default());
        assert_eq!(extract(Some(&headers)), TraceContext::default());
    }
}
