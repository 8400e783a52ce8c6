//! Logs and traces. Logs go through `tracing` (JSON or pretty); spans are exported over OTLP/HTTP
//! only when `OTEL_EXPORTER_OTLP_ENDPOINT` is set, from a batch processor on its own thread, so a
//! missing collector costs a log line, never a request. W3C trace context crosses every hop.

use crate::config::LogFormat;
use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use opentelemetry_sdk::Resource;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

/// Flushes pending spans when dropped (at shutdown).
pub struct TelemetryGuard {
    provider: Option<SdkTracerProvider>,
}

impl Drop for TelemetryGuard {
    fn drop(&mut self) {
        if let Some(provider) = self.provider.take() {
            if let Err(e) = provider.shutdown() {
                eprintln!("telemetry: flushing spans failed: {e}");
            }
        }
    }
}

/// Install the global subscriber. Safe to call more than once (tests): later calls only return a guard.
pub fn init(service: &str, format: LogFormat) -> TelemetryGuard {
    let exporter = std::env::var("OTEL_EXPORTER_OTLP_ENDPOINT").ok().filter(|v| !v.is_empty()).and_then(|_| {
        match opentelemetry_otlp::SpanExporter::builder().with_http().build() {
            Ok(exporter) => Some(exporter),
            Err(e) => {
                eprintln!("telemetry: OTLP exporter disabled: {e}");
                None
            }
        }
    });
    let service_name = std::env::var("OTEL_SERVICE_NAME").unwrap_or_else(|_| service.to_string());
    let mut builder =
        SdkTracerProvider::builder().with_resource(Resource::builder().with_service_name(service_name).build());
    let exporting = exporter.is_some();
    if let Some(exporter) = exporter {
        builder = builder.with_batch_exporter(exporter);
    }
    // Even without an exporter, spans carry trace ids so `traceparent` propagates downstream.
    let provider = builder.build();
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
    let tracer = provider.tracer(service.to_string());

    // Filters per layer: a global `RUST_LOG=warn` must not starve the span exporter.
    let log_filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let fmt_layer = match format {
        LogFormat::Json => tracing_subscriber::fmt::layer().json().with_current_span(true).boxed(),
        LogFormat::Pretty => tracing_subscriber::fmt::layer().compact().boxed(),
    }
    .with_filter(log_filter);
    let otel_layer = tracing_opentelemetry::layer().with_tracer(tracer).with_filter(EnvFilter::new(if exporting {
        "info"
    } else {
        "info,h2=off,hyper=off"
    }));
    let installed = tracing_subscriber::registry().with(fmt_layer).with(otel_layer).try_init().is_ok();
    TelemetryGuard { provider: installed.then_some(provider) }
}

struct ActixHeaders<'a>(&'a actix_web::http::header::HeaderMap);

impl Extractor for ActixHeaders<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }
    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(|k| k.as_str()).collect()
    }
}

/// Continue the caller's trace: make `span` a child of the incoming `traceparent`, if any.
pub fn set_parent_from_headers(span: &tracing::Span, headers: &actix_web::http::header::HeaderMap) {
    if headers.contains_key("traceparent") {
        let cx = TraceContextPropagator::new().extract(&ActixHeaders(headers));
        let _ = span.set_parent(cx);
    }
}

/// Same, from any key/value carrier (AMQP headers, a stored envelope field).
pub fn set_parent_from(span: &tracing::Span, traceparent: Option<&str>) {
    struct One<'a>(Option<&'a str>);
    impl Extractor for One<'_> {
        fn get(&self, key: &str) -> Option<&str> {
            (key == "traceparent").then_some(self.0).flatten()
        }
        fn keys(&self) -> Vec<&str> {
            vec!["traceparent"]
        }
    }
    if traceparent.is_some() {
        let _ = span.set_parent(TraceContextPropagator::new().extract(&One(traceparent)));
    }
}

/// The current span's W3C `traceparent`, to send on the next hop.
pub fn current_traceparent() -> Option<String> {
    struct Capture(Option<String>);
    impl Injector for Capture {
        fn set(&mut self, key: &str, value: String) {
            if key == "traceparent" {
                self.0 = Some(value);
            }
        }
    }
    let mut capture = Capture(None);
    let cx = tracing::Span::current().context();
    TraceContextPropagator::new().inject_context(&cx, &mut capture);
    capture.0
}

/// Headers to add to an outgoing reqwest call so the callee continues this trace.
pub fn inject_reqwest(builder: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
    match current_traceparent() {
        Some(tp) => builder.header("traceparent", tp),
        None => builder,
    }
}
