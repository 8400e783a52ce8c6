//! `trace_id` on every JSON log line written inside a traced request or event, so logs and traces
//! join on one key. The id is remembered on the span that starts (or continues) a trace, and
//! found from any span below it.

use std::fmt;
use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

/// Stored in a span's extensions by [`remember_trace_id`]: the 16 bytes, written as hex only when
/// a log line is (most requests write none).
struct TraceId(opentelemetry::trace::TraceId);

/// Remember `span`'s trace id for the log lines written inside it. Call once its parent is set:
/// reading the id starts the OpenTelemetry span.
pub(super) fn remember_trace_id(span: &tracing::Span) {
    let Some(trace_id) = super::raw_trace_id_of(span) else {
        return;
    };
    span.with_subscriber(|(id, dispatch)| {
        if let Some(span) = dispatch.downcast_ref::<tracing_subscriber::Registry>().and_then(|r| r.span(id)) {
            span.extensions_mut().replace(TraceId(trace_id));
        }
    });
}

/// A JSON event format with `"trace_id"` as the first key when the event is inside a span whose
/// trace id was remembered (the nearest such span wins: a webhook applied inside a purchase's
/// trace logs the purchase's id).
pub struct WithTraceId<F>(pub F);

impl<S, N, F> FormatEvent<S, N> for WithTraceId<F>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'w> FormatFields<'w> + 'static,
    F: FormatEvent<S, N>,
{
    fn format_event(&self, ctx: &FmtContext<'_, S, N>, mut writer: Writer<'_>, event: &Event<'_>) -> fmt::Result {
        let trace_id = ctx
            .event_scope()
            .and_then(|scope| scope.into_iter().find_map(|span| span.extensions().get::<TraceId>().map(|t| t.0)));
        let Some(trace_id) = trace_id else {
            return self.0.format_event(ctx, writer, event);
        };
        let mut line = String::with_capacity(256);
        self.0.format_event(ctx, Writer::new(&mut line), event)?;
        match line.strip_prefix('{') {
            Some(rest) => write!(writer, "{{\"trace_id\":\"{trace_id}\",{rest}"),
            None => writer.write_str(&line),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::{set_parent_from, TraceContext};
    use opentelemetry::trace::TracerProvider as _;
    use std::io::Write;
    use std::sync::{Arc, Mutex};
    use tracing_subscriber::layer::SubscriberExt;

    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl Write for Buffer {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().map_err(|_| std::io::Error::other("poisoned"))?.extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn lines(buffer: &Buffer) -> Vec<serde_json::Value> {
        let text = String::from_utf8(buffer.0.lock().expect("buffer").clone()).expect("utf-8");
        text.lines().map(|l| serde_json::from_str(l).expect("each line is JSON")).collect()
    }

    #[test]
    fn json_lines_inside_a_continued_trace_carry_its_trace_id() {
        let buffer = Buffer::default();
        let writer = buffer.clone();
        let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder().build();
        let subscriber = tracing_subscriber::registry()
            .with(
                tracing_subscriber::fmt::layer()
                    .json()
                    .event_format(super::WithTraceId(tracing_subscriber::fmt::format().json()))
                    .with_writer(move || writer.clone()),
            )
            .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("test")));
        tracing::subscriber::with_default(subscriber, || {
            tracing::info!("outside any trace");
            let span = tracing::info_span!("event.consume");
            let incoming = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
            set_parent_from(&span, &TraceContext::new(Some(incoming), None));
            span.in_scope(|| {
                tracing::info_span!("child").in_scope(|| tracing::warn!(n = 1, "inside a child span"));
            });
        });
        let lines = lines(&buffer);
        assert_eq!(lines.len(), 2, "{lines:?}");
        assert!(lines[0].get("trace_id").is_none(), "{}", lines[0]);
        assert_eq!(lines[1]["trace_id"], "4bf92f3577b34da6a3ce929d0e0e4736", "{}", lines[1]);
        assert_eq!(lines[1]["fields"]["message"], "inside a child span");
        assert_eq!(lines[1]["level"], "WARN");
    }
}
