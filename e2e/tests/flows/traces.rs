//! Traces you can follow: one course purchase is one trace, from the gateway through marketplace,
//! billing and its Stripe call, the webhook, the outbox relay and RabbitMQ to every consumer.
//!
//! The services export their spans over OTLP/HTTP like in production; the collector is a small
//! receiver in this process that decodes the protobuf export. Every flow of this binary runs in
//! one process with one tracer provider, so [`Collector::global`] installs it before any service
//! starts (see `Platform::start`), and a test reads only the trace it started itself: it sends its
//! own `traceparent` on the first request, so it knows the trace id.

use crate::support::{str_of, unique_word, Platform, User};
use actix_web::{web, App, HttpResponse, HttpServer};
use opentelemetry_proto::tonic::collector::trace::v1::{ExportTraceServiceRequest, ExportTraceServiceResponse};
use opentelemetry_proto::tonic::common::v1::any_value::Value as AnyValue;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use prost::Message;
use serde_json::json;
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

/// A span as the collector received it, ids in lowercase hex.
#[derive(Debug, Clone)]
pub struct Span {
    pub trace_id: String,
    pub span_id: String,
    /// `None` for a root span.
    pub parent_span_id: Option<String>,
    pub name: String,
    pub kind: SpanKind,
    pub attributes: BTreeMap<String, String>,
    /// `(trace_id, span_id)` of each linked span.
    pub links: Vec<(String, String)>,
}

impl Span {
    fn attr(&self, key: &str) -> &str {
        self.attributes.get(key).map(String::as_str).unwrap_or_default()
    }
}

/// Spans of the watched traces, and of the traces they link to, are kept for the whole run; others
/// only in a window of the most recent ones.
#[derive(Default)]
struct Store {
    watched: HashSet<String>,
    kept: Vec<Span>,
    recent: VecDeque<Span>,
}

const RECENT: usize = 10_000;

impl Store {
    fn add(&mut self, request: ExportTraceServiceRequest) {
        let spans = request.resource_spans.into_iter().flat_map(|r| r.scope_spans).flat_map(|s| s.spans);
        for span in spans {
            let span = Span {
                trace_id: hex::encode(&span.trace_id),
                span_id: hex::encode(&span.span_id),
                parent_span_id: (!span.parent_span_id.is_empty()).then(|| hex::encode(&span.parent_span_id)),
                kind: SpanKind::try_from(span.kind).unwrap_or(SpanKind::Unspecified),
                attributes: span
                    .attributes
                    .into_iter()
                    .map(|kv| {
                        let value = match kv.value.and_then(|v| v.value) {
                            Some(AnyValue::StringValue(s)) => s,
                            Some(AnyValue::IntValue(i)) => i.to_string(),
                            Some(AnyValue::BoolValue(b)) => b.to_string(),
                            Some(AnyValue::DoubleValue(d)) => d.to_string(),
                            other => format!("{other:?}"),
                        };
                        (kv.key, value)
                    })
                    .collect(),
                links: span.links.into_iter().map(|l| (hex::encode(l.trace_id), hex::encode(l.span_id))).collect(),
                name: span.name,
            };
            if self.watched.contains(&span.trace_id) {
                // A linked trace is kept too: a link's target ends after the span that links
                // to it (the webhook request outlives the settlement inside it), so it comes later.
                self.watched.extend(span.links.iter().map(|(trace, _)| trace.clone()));
                self.kept.push(span);
            } else {
                if self.recent.len() == RECENT {
                    self.recent.pop_front();
                }
                self.recent.push_back(span);
            }
        }
    }
}

/// The OTLP/HTTP receiver every service of this process exports to.
pub struct Collector {
    store: Arc<Mutex<Store>>,
}

impl Collector {
    /// Started, and installed as the process's span exporter, on first use. Call before anything
    /// else installs a tracing subscriber.
    pub fn global() -> &'static Collector {
        static COLLECTOR: OnceLock<Collector> = OnceLock::new();
        COLLECTOR.get_or_init(|| {
            let (collector, url) = Collector::start();
            let guard = platform::telemetry::init_with(platform::telemetry::Settings {
                service_name: "e2e".into(),
                format: platform::config::LogFormat::Pretty,
                otlp_traces_url: Some(format!("{url}/v1/traces")),
                // Logs stay quiet unless RUST_LOG asks for them.
                default_log_filter: "off".into(),
                export_delay: Some(Duration::from_millis(100)),
                // Every flow of the binary traces at once: never drop a span for want of room.
                export_queue_size: Some(262_144),
                tracing: true,
                // Every span of every flow: the test asserts whole traces.
                sampling: platform::telemetry::Sampling::ALWAYS_ON,
            });
            // Installed for the life of the process: the exporter thread outlives every test.
            std::mem::forget(guard);
            collector
        })
    }

    /// On a thread of its own with its own runtime: each test's runtime ends with the test.
    fn start() -> (Collector, String) {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a port for the collector");
        let url = format!("http://{}", listener.local_addr().expect("its address"));
        let store = Arc::new(Mutex::new(Store::default()));
        let shared = web::Data::from(store.clone());
        std::thread::spawn(move || {
            actix_web::rt::System::new().block_on(async move {
                let server = HttpServer::new(move || {
                    App::new()
                        .app_data(shared.clone())
                        .app_data(web::PayloadConfig::new(64 * 1024 * 1024))
                        .route("/v1/traces", web::post().to(receive))
                })
                .workers(1)
                .disable_signals()
                .listen(listener)
                .expect("the collector listens")
                .run();
                let _ = server.await;
            })
        });
        (Collector { store }, url)
    }

    /// Keep every span of `trace_id` from now on.
    pub fn watch(&self, trace_id: &str) {
        self.store.lock().expect("store").watched.insert(trace_id.to_string());
    }

    /// The spans received so far of a watched trace.
    pub fn spans(&self, trace_id: &str) -> Vec<Span> {
        self.store.lock().expect("store").kept.iter().filter(|s| s.trace_id == trace_id).cloned().collect()
    }

    /// A span of any trace, if received recently.
    pub fn find(&self, trace_id: &str, span_id: &str) -> Option<Span> {
        let store = self.store.lock().expect("store");
        store.kept.iter().chain(store.recent.iter()).find(|s| s.trace_id == trace_id && s.span_id == span_id).cloned()
    }
}

/// `POST /v1/traces`: an `ExportTraceServiceRequest` in protobuf, as the OTLP/HTTP exporter sends.
async fn receive(store: web::Data<Mutex<Store>>, body: web::Bytes) -> HttpResponse {
    match ExportTraceServiceRequest::decode(body.as_ref()) {
        Ok(request) => {
            store.lock().expect("store").add(request);
            HttpResponse::Ok()
                .content_type("application/x-protobuf")
                .body(ExportTraceServiceResponse::default().encode_to_vec())
        }
        Err(e) => HttpResponse::BadRequest().body(e.to_string()),
    }
}

/// The spans of one trace, indexed for the walk below.
struct Trace {
    spans: Vec<Span>,
    by_id: HashMap<String, Span>,
}

impl Trace {
    fn new(spans: Vec<Span>) -> Self {
        let by_id = spans.iter().map(|s| (s.span_id.clone(), s.clone())).collect();
        Self { spans, by_id }
    }

    /// The one span matching `what` under `ancestor` (a child, or any descendant when `direct` is false).
    fn under(&self, ancestor: &str, direct: bool, what: &str, matches: impl Fn(&Span) -> bool) -> Span {
        let found: Vec<&Span> = self
            .spans
            .iter()
            .filter(|s| matches(s))
            .filter(|s| if direct { s.parent_span_id.as_deref() == Some(ancestor) } else { self.descends(s, ancestor) })
            .collect();
        assert_eq!(found.len(), 1, "{what} under {ancestor}: {found:#?}\nthe trace: {:#?}", self.spans);
        found[0].clone()
    }

    fn descends(&self, span: &Span, ancestor: &str) -> bool {
        let mut parent = span.parent_span_id.clone();
        while let Some(id) = parent {
            if id == ancestor {
                return true;
            }
            parent = self.by_id.get(&id).and_then(|s| s.parent_span_id.clone());
        }
        false
    }
}

fn http_request(path: &'static str) -> impl Fn(&Span) -> bool {
    move |s| s.name == "http.request" && s.kind == SpanKind::Server && s.attr("url.path") == path
}

fn event(name: &'static str, event_type: &'static str, consumer: Option<&'static str>) -> impl Fn(&Span) -> bool {
    move |s| s.name == name && s.attr("event.type") == event_type && consumer.is_none_or(|c| s.attr("consumer") == c)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_purchase_is_one_trace_from_the_gateway_through_stripe_and_the_broker_to_every_consumer() {
    let p = Platform::start().await;
    let collector = Collector::global();
    let instructor = User::instructor();
    let learner = User::learner();
    let course = p.publish_course(&instructor, &format!("{} traced checkout", unique_word()), "20.00").await;
    let course_id = str_of(&course["id"]);

    // The caller's own trace context: its span is the parent of the gateway's.
    let trace_id = uuid::Uuid::new_v4().simple().to_string();
    let caller_span = uuid::Uuid::new_v4().simple().to_string()[..16].to_string();
    collector.watch(&trace_id);
    let res = testkit::http()
        .post(p.url("/api/courses/purchase"))
        .bearer_auth(&learner.token)
        .header("idempotency-key", uuid::Uuid::new_v4().to_string())
        .header("traceparent", format!("00-{trace_id}-{caller_span}-01"))
        .json(&json!({"course_id": course_id}))
        .send()
        .await
        .expect("the gateway answers");
    assert_eq!(res.status(), 201);
    let purchase: serde_json::Value = res.json().await.expect("a purchase");
    // The client confirms with Stripe; Stripe's webhook comes back later, outside our trace.
    p.confirm(&purchase["client_secret"], "pm_card_visa");
    p.wait_owned(&learner, &course_id).await;

    let rewarded = event("event.consume", "marketplace.course.purchased.v1", Some("rewards"));
    let spans = p
        .eventually("the purchase's trace down to rewards' consumer", || async {
            let spans = collector.spans(&trace_id);
            spans.iter().any(&rewarded).then_some(spans)
        })
        .await;
    let trace = Trace::new(spans);

    // Every span's parent is in the trace, but the caller's.
    for s in &trace.spans {
        let parent = s.parent_span_id.as_deref().expect("no span of the purchase starts a trace of its own");
        assert!(parent == caller_span || trace.by_id.contains_key(parent), "{s:#?} has a parent outside the trace");
    }
    // gateway -> marketplace -> billing -> Stripe
    let gateway = trace.under(&caller_span, true, "the gateway", http_request("/api/courses/purchase"));
    assert!(trace.spans.iter().filter(|s| s.parent_span_id.as_deref() == Some(caller_span.as_str())).count() == 1);
    let marketplace = trace.under(&gateway.span_id, true, "marketplace", http_request("/api/courses/purchase"));
    let billing = trace.under(&marketplace.span_id, false, "billing", http_request("/internal/payments"));
    let stripe = trace.under(&billing.span_id, false, "the Stripe call", |s| {
        s.name == "stripe.request" && s.attr("stripe.operation") == "POST payment_intents"
    });
    assert_eq!(stripe.kind, SpanKind::Client);
    assert_eq!(stripe.attr("stripe.outcome"), "ok");

    // The webhook: settled in the purchase's trace (a child of the request that created the
    // payment), linked to the webhook delivery's own trace.
    let settle = trace.under(&billing.span_id, false, "the webhook's settlement", |s| {
        s.name == "billing.payment.settle" && s.attr("cause") == "webhook"
    });
    assert_eq!(settle.links.len(), 1, "{settle:#?}");
    let (webhook_trace, webhook_span) = settle.links[0].clone();
    assert_ne!(webhook_trace, trace_id, "the delivery is a trace of its own");
    let delivery = collector.find(&webhook_trace, &webhook_span).expect("the linked span was exported");
    assert!(http_request("/api/payments/webhook")(&delivery), "{delivery:#?}");

    // outbox relay -> RabbitMQ -> marketplace's consumer -> relay -> rewards' consumer
    let paid = "billing.payment.succeeded.v1";
    let published = trace.under(&settle.span_id, false, "billing's publish", event("event.publish", paid, None));
    assert_eq!(published.kind, SpanKind::Producer);
    assert_eq!(published.attr("messaging.system"), "rabbitmq");
    let granted = trace.under(
        &published.span_id,
        true,
        "marketplace granting",
        event("event.consume", paid, Some("marketplace")),
    );
    assert_eq!(granted.kind, SpanKind::Consumer);
    let purchased = "marketplace.course.purchased.v1";
    let announced =
        trace.under(&granted.span_id, false, "marketplace's publish", event("event.publish", purchased, None));
    let credited = trace.under(&announced.span_id, true, "rewards crediting", rewarded);
    assert_eq!(credited.kind, SpanKind::Consumer);
    p.stop().await;
}
