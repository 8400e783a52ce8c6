//! Logs and traces. Logs go through `tracing` (JSON or pretty); spans are exported over OTLP/HTTP
//! only when an endpoint is configured (`OTEL_EXPORTER_OTLP_ENDPOINT`), from a batch processor on
//! its own thread, so a missing collector costs a log line, never a request. W3C trace context
//! (`traceparent`, `tracestate`) crosses every hop: HTTP headers here, AMQP headers and the
//! CloudEvents envelope in `events`. JSON log lines carry the `trace_id` of the request or event
//! they were written for.

use crate::config::LogFormat;
use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry::trace::{TraceContextExt, TracerProvider as _};
use opentelemetry_otlp::WithExportConfig;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{BatchConfigBuilder, BatchSpanProcessor, Sampler, SdkTracerProvider};
use opentelemetry_sdk::Resource;
use std::time::Duration;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

mod log_format;

pub use log_format::WithTraceId;

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

/// What [`init_with`] installs. [`Settings::from_env`] reads the OpenTelemetry standard variables;
/// tests set the fields.
#[derive(Debug, Clone)]
pub struct Settings {
    /// `service.name` of every span (`OTEL_SERVICE_NAME` overrides it).
    pub service_name: String,
    pub format: LogFormat,
    /// The full OTLP/HTTP traces URL (`http://collector:4318/v1/traces`). `None`: spans are not
    /// exported (they still get ids, so `traceparent` still propagates).
    pub otlp_traces_url: Option<String>,
    /// The log filter when `RUST_LOG` is not set.
    pub default_log_filter: String,
    /// How long the batch processor waits between exports; `None`: `OTEL_BSP_SCHEDULE_DELAY` or 5 s.
    pub export_delay: Option<Duration>,
    /// Spans buffered before new ones are dropped; `None`: `OTEL_BSP_MAX_QUEUE_SIZE` or 2048.
    pub export_queue_size: Option<usize>,
    /// `false` (`OTEL_SDK_DISABLED=true`): no spans at all, so no trace context either; logs
    /// only. For measuring what tracing costs (`make bench`), not for production.
    pub tracing: bool,
    /// Which traces are recorded and exported (`OTEL_TRACES_SAMPLER`, `OTEL_TRACES_SAMPLER_ARG`).
    pub sampling: Sampling,
}

/// The head sampler: which new traces are recorded, and whether a span follows its parent's
/// decision (the `traceparent` flag) instead of deciding again. Unsampled spans still get ids, so
/// `traceparent` (flag `00`) still propagates and log lines still carry the trace id; they are
/// never recorded, ended into span data or exported.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sampling {
    /// Follow the parent's sampled flag when there is a parent (local or remote).
    pub parent_based: bool,
    /// Fraction of new traces (those without a parent, or all with `parent_based = false`)
    /// sampled, by trace id, so every service agrees on a trace: 1.0 every trace, 0.0 none.
    pub ratio: f64,
}

impl Default for Sampling {
    /// The specification's default, `parentbased_always_on`.
    fn default() -> Self {
        Self::ALWAYS_ON
    }
}

impl Sampling {
    /// `parentbased_always_on`: every trace, every span.
    pub const ALWAYS_ON: Sampling = Sampling { parent_based: true, ratio: 1.0 };

    /// Read the OpenTelemetry standard variables' values: `OTEL_TRACES_SAMPLER` (`always_on`,
    /// `always_off`, `traceidratio`, `parentbased_always_on` (default), `parentbased_always_off`,
    /// `parentbased_traceidratio`) and `OTEL_TRACES_SAMPLER_ARG` (the ratio, 0.0..=1.0, for the
    /// two `traceidratio` samplers; 1.0 when missing). An unknown sampler or a bad ratio is an
    /// error naming the variable.
    pub fn parse(sampler: Option<&str>, arg: Option<&str>) -> Result<Self, String> {
        let ratio = || -> Result<f64, String> {
            match arg.map(str::trim).filter(|a| !a.is_empty()) {
                None => Ok(1.0),
                Some(a) => a
                    .parse::<f64>()
                    .ok()
                    .filter(|r| (0.0..=1.0).contains(r))
                    .ok_or_else(|| format!("OTEL_TRACES_SAMPLER_ARG must be a ratio from 0.0 to 1.0, not {a:?}")),
            }
        };
        let name = sampler.map(|s| s.trim().to_ascii_lowercase()).filter(|s| !s.is_empty());
        Ok(match name.as_deref().unwrap_or("parentbased_always_on") {
            "always_on" => Sampling { parent_based: false, ratio: 1.0 },
            "always_off" => Sampling { parent_based: false, ratio: 0.0 },
            "traceidratio" => Sampling { parent_based: false, ratio: ratio()? },
            "parentbased_always_on" => Sampling { parent_based: true, ratio: 1.0 },
            "parentbased_always_off" => Sampling { parent_based: true, ratio: 0.0 },
            "parentbased_traceidratio" => Sampling { parent_based: true, ratio: ratio()? },
            other => {
                return Err(format!(
                    "OTEL_TRACES_SAMPLER {other:?} is not one of always_on, always_off, traceidratio, \
                     parentbased_always_on, parentbased_always_off, parentbased_traceidratio"
                ))
            }
        })
    }

    /// [`Sampling::parse`] of `OTEL_TRACES_SAMPLER` and `OTEL_TRACES_SAMPLER_ARG`. Binaries check
    /// it with the rest of their configuration, so a typo fails at startup instead of sampling
    /// every trace.
    pub fn from_env() -> Result<Self, String> {
        let var = |name: &str| std::env::var(name).ok();
        Self::parse(var("OTEL_TRACES_SAMPLER").as_deref(), var("OTEL_TRACES_SAMPLER_ARG").as_deref())
    }

    fn sampler(self) -> Sampler {
        let root = if self.ratio >= 1.0 {
            Sampler::AlwaysOn
        } else if self.ratio <= 0.0 {
            Sampler::AlwaysOff
        } else {
            Sampler::TraceIdRatioBased(self.ratio)
        };
        if self.parent_based {
            Sampler::ParentBased(Box::new(root))
        } else {
            root
        }
    }
}

impl Settings {
    /// `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` is used as is; `OTEL_EXPORTER_OTLP_ENDPOINT` is a base
    /// URL that `/v1/traces` is appended to (the specification's rule). Neither set: no export.
    pub fn from_env(service: &str, format: LogFormat) -> Self {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        let otlp_traces_url = var("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT").or_else(|| {
            var("OTEL_EXPORTER_OTLP_ENDPOINT").map(|base| format!("{}/v1/traces", base.trim_end_matches('/')))
        });
        Self {
            service_name: var("OTEL_SERVICE_NAME").unwrap_or_else(|| service.to_string()),
            format,
            otlp_traces_url,
            default_log_filter: "info".into(),
            export_delay: None,
            export_queue_size: None,
            tracing: !var("OTEL_SDK_DISABLED").is_some_and(|v| v.eq_ignore_ascii_case("true")),
            sampling: Sampling::from_env().unwrap_or_else(|e| {
                eprintln!("telemetry: {e}; sampling every trace (parentbased_always_on)");
                Sampling::ALWAYS_ON
            }),
        }
    }
}

/// Install the global subscriber from the environment. Safe to call more than once (tests): later
/// calls only return a guard.
pub fn init(service: &str, format: LogFormat) -> TelemetryGuard {
    init_with(Settings::from_env(service, format))
}

/// Install the global subscriber. Safe to call more than once: later calls change nothing.
pub fn init_with(settings: Settings) -> TelemetryGuard {
    let exporter =
        settings.otlp_traces_url.as_deref().and_then(|url| {
            match opentelemetry_otlp::SpanExporter::builder().with_http().with_endpoint(url).build() {
                Ok(exporter) => Some(exporter),
                Err(e) => {
                    eprintln!("telemetry: OTLP exporter disabled: {e}");
                    None
                }
            }
        });
    let mut builder = SdkTracerProvider::builder()
        .with_sampler(settings.sampling.sampler())
        .with_resource(Resource::builder().with_service_name(settings.service_name.clone()).build());
    if let Some(exporter) = exporter {
        let mut batch = BatchConfigBuilder::default();
        if let Some(delay) = settings.export_delay {
            batch = batch.with_scheduled_delay(delay);
        }
        if let Some(size) = settings.export_queue_size {
            batch = batch.with_max_queue_size(size);
        }
        builder =
            builder.with_span_processor(BatchSpanProcessor::builder(exporter).with_batch_config(batch.build()).build());
    }
    // Even without an exporter, spans carry trace ids so `traceparent` propagates downstream.
    let provider = builder.build();
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
    let tracer = provider.tracer(settings.service_name.clone());

    // Filters per layer: a global `RUST_LOG=warn` must not starve the span exporter.
    let log_filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(&settings.default_log_filter));
    let fmt_layer = match settings.format {
        LogFormat::Json => tracing_subscriber::fmt::layer()
            .json()
            .event_format(WithTraceId(tracing_subscriber::fmt::format().json().with_current_span(true)))
            .boxed(),
        LogFormat::Pretty => tracing_subscriber::fmt::layer().compact().boxed(),
    }
    .with_filter(log_filter);
    // The exporter's own HTTP client must not trace itself into the export it is sending.
    let otel_layer = settings.tracing.then(|| span_layer(tracer).with_filter(EnvFilter::new("info,h2=off,hyper=off")));
    let installed = tracing_subscriber::registry().with(fmt_layer).with(otel_layer).try_init().is_ok();
    TelemetryGuard { provider: installed.then_some(provider) }
}

/// The layer that turns `tracing` spans into OpenTelemetry spans, with only what a span needs:
/// no source location, module target and thread attributes (six more attributes on every
/// exported span, a thread name allocated for each), no busy/idle timings (two clock reads per poll of an
/// instrumented future), and no OpenTelemetry context attached on every poll (nothing here reads
/// `opentelemetry::Context::current()`: parents come from the `tracing` span tree).
fn span_layer<S>(
    tracer: opentelemetry_sdk::trace::Tracer,
) -> tracing_opentelemetry::OpenTelemetryLayer<S, opentelemetry_sdk::trace::Tracer>
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    tracing_opentelemetry::layer()
        .with_tracer(tracer)
        .with_location(false)
        .with_threads(false)
        .with_target(false)
        .with_tracked_inactivity(false)
        .with_context_activation(false)
}

/// W3C trace context of a span, as carried between processes: `traceparent` and, when a vendor
/// upstream set one, `tracestate`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TraceContext {
    pub traceparent: Option<String>,
    pub tracestate: Option<String>,
}

impl Injector for TraceContext {
    fn set(&mut self, key: &str, value: String) {
        match key {
            "traceparent" => self.traceparent = Some(value),
            "tracestate" if !value.is_empty() => self.tracestate = Some(value),
            _ => {}
        }
    }
}

impl Extractor for TraceContext {
    fn get(&self, key: &str) -> Option<&str> {
        match key {
            "traceparent" => self.traceparent.as_deref(),
            "tracestate" => self.tracestate.as_deref(),
            _ => None,
        }
    }
    fn keys(&self) -> Vec<&str> {
        vec!["traceparent", "tracestate"]
    }
}

impl TraceContext {
    pub fn new(traceparent: Option<&str>, tracestate: Option<&str>) -> Self {
        Self { traceparent: traceparent.map(str::to_string), tracestate: tracestate.map(str::to_string) }
    }

    /// The context of `span` (empty when no tracing subscriber is installed).
    pub fn of(span: &tracing::Span) -> Self {
        let mut carrier = Self::default();
        TraceContextPropagator::new().inject_context(&span.context(), &mut carrier);
        carrier
    }

    /// The current span's context, to send on the next hop.
    pub fn current() -> Self {
        Self::of(&tracing::Span::current())
    }

    fn span_context(&self) -> Option<opentelemetry::trace::SpanContext> {
        self.traceparent.as_ref()?;
        let cx = TraceContextPropagator::new().extract(self);
        let span_context = cx.span().span_context().clone();
        span_context.is_valid().then_some(span_context)
    }
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

/// Continue the caller's trace: make `span` a child of the incoming `traceparent` (with its
/// `tracestate`), if any; otherwise `span` starts a trace. Either way its log lines carry the
/// trace id. Call before the span is first entered.
pub fn set_parent_from_headers(span: &tracing::Span, headers: &actix_web::http::header::HeaderMap) {
    if headers.contains_key("traceparent") {
        let _ = span.set_parent(TraceContextPropagator::new().extract(&ActixHeaders(headers)));
    }
    log_format::remember_trace_id(span);
}

/// Same, from any carrier of a stored or received context (AMQP headers, an envelope, a row).
pub fn set_parent_from(span: &tracing::Span, context: &TraceContext) {
    if context.span_context().is_some() {
        let _ = span.set_parent(TraceContextPropagator::new().extract(context));
    }
    log_format::remember_trace_id(span);
}

/// Make `span` point at another trace without joining it (OpenTelemetry span link): for work
/// that one trace caused and another one carries out, e.g. a Stripe webhook that settles the
/// payment a purchase's trace created.
pub fn link_to(span: &tracing::Span, context: &TraceContext) {
    if let Some(span_context) = context.span_context() {
        span.add_link(span_context);
    }
}

/// The current span's W3C `traceparent`, to send on the next hop.
pub fn current_traceparent() -> Option<String> {
    TraceContext::current().traceparent
}

/// The trace id (32 hex digits) of the current span, `None` without a tracing subscriber.
pub fn current_trace_id() -> Option<String> {
    trace_id_of(&tracing::Span::current())
}

/// The trace id (32 hex digits) of `span`.
pub fn trace_id_of(span: &tracing::Span) -> Option<String> {
    raw_trace_id_of(span).map(|id| id.to_string())
}

/// The trace id of `span` as its 16 bytes; `None` without a tracing subscriber.
fn raw_trace_id_of(span: &tracing::Span) -> Option<opentelemetry::trace::TraceId> {
    let cx = span.context();
    let span_context = cx.span().span_context().clone();
    span_context.is_valid().then(|| span_context.trace_id())
}

/// Headers to add to an outgoing reqwest call so the callee continues this trace.
pub fn inject_reqwest(builder: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
    let TraceContext { traceparent, tracestate } = TraceContext::current();
    let builder = match traceparent {
        Some(tp) => builder.header("traceparent", tp),
        None => return builder,
    };
    match tracestate {
        Some(ts) => builder.header("tracestate", ts),
        None => builder,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry_sdk::error::OTelSdkResult;
    use opentelemetry_sdk::trace::{SpanData, SpanProcessor};
    use std::sync::{Arc, Mutex};

    #[test]
    fn samplers_parse_from_the_standard_variables() {
        let parse = |s: Option<&str>, a: Option<&str>| Sampling::parse(s, a);
        assert_eq!(parse(None, None), Ok(Sampling::ALWAYS_ON));
        assert_eq!(parse(Some(""), Some("0.5")), Ok(Sampling::ALWAYS_ON));
        assert_eq!(parse(Some("always_on"), None), Ok(Sampling { parent_based: false, ratio: 1.0 }));
        assert_eq!(parse(Some("always_off"), None), Ok(Sampling { parent_based: false, ratio: 0.0 }));
        assert_eq!(parse(Some("parentbased_always_off"), None), Ok(Sampling { parent_based: true, ratio: 0.0 }));
        assert_eq!(parse(Some("TraceIdRatio"), Some("0.25")), Ok(Sampling { parent_based: false, ratio: 0.25 }));
        assert_eq!(
            parse(Some("parentbased_traceidratio"), Some(" 0.01 ")),
            Ok(Sampling { parent_based: true, ratio: 0.01 })
        );
        // The specification's default ratio when the argument is missing.
        assert_eq!(parse(Some("parentbased_traceidratio"), None), Ok(Sampling::ALWAYS_ON));
        for (s, a) in [("parentbased_traceidratio", "1.5"), ("traceidratio", "-0.1"), ("traceidratio", "half")] {
            let e = parse(Some(s), Some(a)).expect_err(a);
            assert!(e.contains("OTEL_TRACES_SAMPLER_ARG"), "{e}");
        }
        let e = parse(Some("jaeger_remote"), None).expect_err("unsupported");
        assert!(e.contains("OTEL_TRACES_SAMPLER") && e.contains("jaeger_remote"), "{e}");
    }

    /// (name, span id, parent span id) of the spans that reached the processor, i.e. would have
    /// been exported.
    #[derive(Debug, Clone, Default)]
    struct Ended(Arc<Mutex<Vec<(String, String, String)>>>);

    impl SpanProcessor for Ended {
        fn on_start(&self, _span: &mut opentelemetry_sdk::trace::Span, _cx: &opentelemetry::Context) {}
        fn on_end(&self, span: SpanData) {
            let ids = (span.span_context.span_id().to_string(), span.parent_span_id.to_string());
            self.0.lock().expect("ended").push((span.name.to_string(), ids.0, ids.1));
        }
        fn force_flush(&self) -> OTelSdkResult {
            Ok(())
        }
        fn shutdown_with_timeout(&self, _timeout: Duration) -> OTelSdkResult {
            Ok(())
        }
    }

    #[test]
    fn a_ratio_sampler_follows_the_callers_decision_and_unsampled_spans_still_propagate() {
        let ended = Ended::default();
        let provider = SdkTracerProvider::builder()
            .with_sampler(Sampling { parent_based: true, ratio: 0.0 }.sampler())
            .with_span_processor(ended.clone())
            .build();
        let subscriber = tracing_subscriber::registry().with(span_layer(provider.tracer("test")));
        let sampled_caller = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        let unsampled_caller = "00-5bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00";
        let (root, child_of_sampled, child_of_unsampled) = tracing::subscriber::with_default(subscriber, || {
            let run = |name: &'static str, caller: Option<&str>| {
                let span = tracing::info_span!("request", name);
                set_parent_from(&span, &TraceContext::new(caller, None));
                let _entered = span.enter();
                tracing::info_span!("inner").in_scope(TraceContext::current)
            };
            (run("root", None), run("sampled", Some(sampled_caller)), run("unsampled", Some(unsampled_caller)))
        });
        // A new trace at ratio 0 is not sampled, and says so downstream; it still has ids.
        let root = root.traceparent.expect("an unsampled trace still propagates");
        assert!(root.ends_with("-00"), "{root}");
        // A caller's decision wins either way, and the trace id carries on.
        let sampled = child_of_sampled.traceparent.expect("traceparent");
        assert!(sampled.starts_with("00-4bf92f3577b34da6a3ce929d0e0e4736-") && sampled.ends_with("-01"), "{sampled}");
        let unsampled = child_of_unsampled.traceparent.expect("traceparent");
        assert!(unsampled.starts_with("00-5bf92f3577b34da6a3ce929d0e0e4736-") && unsampled.ends_with("-00"));
        // Only the sampled trace's two spans reach the exporter, the inner one under the request,
        // the request under the caller's span.
        let mut spans = ended.0.lock().expect("ended").clone();
        spans.sort();
        let names: Vec<&str> = spans.iter().map(|s| s.0.as_str()).collect();
        assert_eq!(names, ["inner", "request"]);
        assert_eq!(spans[0].2, spans[1].1, "{spans:?}");
        assert_eq!(spans[1].2, "00f067aa0ba902b7");
        assert!(sampled.contains(&spans[0].1), "{sampled} is the inner span's context");
    }
}
