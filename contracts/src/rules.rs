//! The rules the services enforce in code, written into the document from the same constants,
//! so that what the document promises is what the server does (and generated tests can rely on
//! it: `scripts/api-fuzz.sh`). utoipa's attributes take literals only, so the rules that come
//! from a service's constants (enums, lengths) are applied here, to each service's part, before
//! the parts merge. Each rule names the schema or parameter it constrains; a rule whose target
//! is missing panics, so a renamed field cannot silently drop its constraint.
// A build-time generator: a rule whose target is gone must stop `cargo run -p contracts` and the
// contracts tests loudly, not write a document without the rule.
#![allow(clippy::expect_used, clippy::panic)]

use serde_json::{json, Map, Value};

const METHODS: [&str; 5] = ["get", "post", "put", "delete", "patch"];
const PROBLEM_REF: &str = "#/components/schemas/Problem";

/// Apply the common rules and the service's own to its part of the document.
pub fn apply(service: &str, doc: &mut Value) {
    common(doc);
    match service {
        "billing" => billing(doc),
        "subscriptions" => subscriptions(doc),
        "rewards" => rewards(doc),
        "licensing" => licensing(doc),
        "marketplace" => marketplace(doc),
        "gateway" => gateway(doc),
        "webhooks" => webhooks(doc),
        _ => {}
    }
    // Last: it checks the patterns the rules above wrote.
    refuse_control_characters(doc);
}

// ---------------------------------------------------------------------------------------------
// Building blocks.

fn problem(description: &str) -> Value {
    json!({"description": description, "content": {"application/problem+json": {"schema": {"$ref": PROBLEM_REF}}}})
}

/// Add a problem response, or append `description` to the one documented under `status`.
fn add_problem(op: &mut Value, status: &str, description: &str) {
    let responses = op["responses"].as_object_mut().expect("responses");
    match responses.get_mut(status) {
        Some(r) => {
            let old = r["description"].as_str().unwrap_or_default().to_string();
            if !old.contains(description) {
                r["description"] =
                    json!(if old.is_empty() { description.to_string() } else { format!("{old}; {description}") });
            }
        }
        None => {
            responses.insert(status.into(), problem(description));
        }
    }
}

fn operations(doc: &mut Value) -> impl Iterator<Item = (String, String, &mut Value)> {
    doc["paths"].as_object_mut().expect("paths").iter_mut().flat_map(|(path, item)| {
        let path = path.clone();
        item.as_object_mut()
            .expect("path item")
            .iter_mut()
            .filter(|(m, _)| METHODS.contains(&m.as_str()))
            .map(move |(m, op)| (m.clone(), path.clone(), op))
    })
}

fn op<'a>(doc: &'a mut Value, method: &str, path: &str) -> &'a mut Value {
    let op = &mut doc["paths"][path][method];
    assert!(op.is_object(), "rules: no operation {method} {path}");
    op
}

/// The schema of parameter `name` (in `place`) of `method path`.
fn param<'a>(doc: &'a mut Value, method: &str, path: &str, place: &str, name: &str) -> &'a mut Value {
    let params = op(doc, method, path)["parameters"].as_array_mut().expect("parameters");
    let p = params
        .iter_mut()
        .find(|p| p["name"] == name && p["in"] == place)
        .unwrap_or_else(|| panic!("rules: {method} {path} has no {place} parameter {name}"));
    &mut p["schema"]
}

/// The schema of property `prop` of component schema `schema`.
fn prop<'a>(doc: &'a mut Value, schema: &str, prop: &str) -> &'a mut Value {
    let s = &mut doc["components"]["schemas"][schema]["properties"][prop];
    assert!(s.is_object(), "rules: no property {schema}.{prop}");
    s
}

/// Merge `rules` into a schema. A nullable property (`type: [T, "null"]`) keeps `null` allowed:
/// validation keywords of one type do not apply to `null`. An `enum` on a nullable gains `null`.
fn constrain(schema: &mut Value, rules: Value) {
    let nullable = schema["type"].as_array().is_some_and(|t| t.iter().any(|t| t == "null"));
    let obj = schema.as_object_mut().expect("a schema object");
    for (k, mut v) in rules.as_object().cloned().unwrap_or_default() {
        if k == "enum" && nullable {
            v.as_array_mut().expect("enum values").push(Value::Null);
        }
        obj.insert(k, v);
    }
}

fn strings(values: &[&str]) -> Value {
    Value::Array(values.iter().map(|v| json!(v)).collect())
}

/// Control characters, refused in every text field, path and query parameter
/// (`platform::input`), as a character-class body (ECMA 262 and Python `re` read it alike).
const CONTROL: &str = r"\u0000-\u001F\u007F-\u009F";
/// The same for long text, which may hold tab, newline and carriage return.
const CONTROL_BUT_LINES: &str = r"\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F";

fn control_class(long: bool) -> &'static str {
    if long {
        CONTROL_BUT_LINES
    } else {
        CONTROL
    }
}

/// Any text without the control characters the services refuse.
fn plain_text(long: bool) -> String {
    format!("^[^{}]*$", control_class(long))
}

/// Text whose length the server counts after trimming white space: at least `min` characters
/// between the first and the last that are not white space, at most `max` in all, and no control
/// character (`long` text may hold line breaks and tabs). The document is the stricter of the two:
/// a client sending what it says is always accepted.
fn trimmed_text(min: usize, max: usize, long: bool) -> Value {
    let ctrl = control_class(long);
    let visible = format!(r"[^\s{ctrl}]");
    let space = format!(r"[^\S{ctrl}]");
    let middle = format!("[^{ctrl}]");
    let pattern = match min {
        0 => plain_text(long),
        1 => format!("^{space}*{visible}(?:{middle}*{visible})?{space}*$"),
        2 => format!("^{space}*{visible}{middle}*{visible}{space}*$"),
        n => format!("^{space}*{visible}{middle}{{{},}}{visible}{space}*$", n - 2),
    };
    json!({"minLength": min, "maxLength": max, "pattern": pattern})
}

/// Whether a rule's own pattern already keeps control characters out: anchored at both ends and
/// built only from explicit characters and classes (no `.`, `\s`, `\S`, `\W`, `\D` or negated
/// class that would let one through), or built by [`trimmed_text`] / [`plain_text`].
fn pattern_refuses_control(pattern: &str) -> bool {
    if pattern.contains(CONTROL) || pattern.contains(CONTROL_BUT_LINES) {
        return true;
    }
    let anchored = pattern.starts_with('^') && pattern.ends_with('$');
    let unescaped_dot = pattern.char_indices().any(|(i, c)| c == '.' && !pattern[..i].ends_with('\\'));
    anchored && !unescaped_dot && !["\\s", "\\S", "\\W", "\\D", "[^"].iter().any(|w| pattern.contains(w))
}

/// Write the control-character rule into every string a request carries (parameters and request
/// bodies, through the component schemas they reference), so the document says what
/// `platform::input` does. A string with an enum is already narrower; binary parts are not text. A rule-made
/// pattern that would let a control character through stops the build.
fn refuse_control_characters(doc: &mut Value) {
    let mut components = std::collections::BTreeSet::new();
    let mut pending: Vec<Value> = Vec::new();
    for (_method, _path, op) in operations(doc) {
        // `get_mut`, not `[]`: indexing a missing key mutably would write a `null` into the document.
        for p in op.get_mut("parameters").and_then(Value::as_array_mut).into_iter().flatten() {
            if p["in"] == "path" || p["in"] == "query" {
                let name = p["name"].as_str().unwrap_or_default().to_string();
                if let Some(schema) = p.get_mut("schema") {
                    restrict(schema, Some(&name));
                }
            }
        }
        let bodies = op.get_mut("requestBody").and_then(|b| b.get_mut("content")).and_then(Value::as_object_mut);
        for schema in bodies.into_iter().flat_map(|c| c.values_mut()).filter_map(|m| m.get_mut("schema")) {
            restrict(schema, None);
            pending.push(schema.clone());
        }
    }
    // The component schemas request bodies reach, transitively.
    while let Some(schema) = pending.pop() {
        for name in refs(&schema) {
            if components.insert(name.clone()) {
                pending.push(doc["components"]["schemas"][&name].clone());
            }
        }
    }
    for name in components {
        restrict(&mut doc["components"]["schemas"][&name], None);
    }
}

fn refs(schema: &Value) -> Vec<String> {
    match schema {
        Value::Object(map) => map
            .iter()
            .flat_map(|(k, v)| match (k.as_str(), v.as_str()) {
                ("$ref", Some(r)) => r.strip_prefix("#/components/schemas/").map(String::from).into_iter().collect(),
                _ => refs(v),
            })
            .collect(),
        Value::Array(items) => items.iter().flat_map(refs).collect(),
        _ => Vec::new(),
    }
}

fn restrict(schema: &mut Value, name: Option<&str>) {
    let Some(obj) = schema.as_object_mut() else { return };
    let is_string = match &obj.get("type") {
        Some(Value::String(t)) => t == "string",
        Some(Value::Array(ts)) => ts.iter().any(|t| t == "string"),
        _ => false,
    };
    // `format` is an annotation to a JSON Schema validator (and to generators such as
    // Schemathesis' coverage phase): a uuid or date-time parameter gets the rule too.
    let binary = matches!(obj.get("format").and_then(Value::as_str), Some("binary" | "byte"));
    if is_string && !obj.contains_key("enum") && !binary {
        let long = name.is_some_and(|n| platform::input::LONG_TEXT_FIELDS.contains(&n));
        match obj.get("pattern").and_then(Value::as_str) {
            None => {
                obj.insert("pattern".into(), json!(plain_text(long)));
            }
            Some(p) => assert!(pattern_refuses_control(p), "rules: pattern {p} of {name:?} lets control characters in"),
        }
    }
    if let Some(props) = obj.get_mut("properties").and_then(Value::as_object_mut) {
        for (prop, s) in props.iter_mut() {
            restrict(s, Some(prop));
        }
    }
    if let Some(items) = obj.get_mut("items") {
        restrict(items, name);
    }
    for key in ["allOf", "oneOf", "anyOf"] {
        for s in obj.get_mut(key).and_then(Value::as_array_mut).into_iter().flatten() {
            restrict(s, name);
        }
    }
    if let Some(extra) = obj.get_mut("additionalProperties") {
        restrict(extra, None);
    }
}

/// utoipa's types read back what they write, except a multipart `encoding` whose `headers` it
/// skips when empty but requires on the way in: give those their empty map again (skipped again
/// on the way out).
pub fn fill_serde_defaults(doc: &mut Value) {
    match doc {
        Value::Object(map) => {
            for (key, value) in map.iter_mut() {
                if key == "encoding" {
                    for e in value.as_object_mut().into_iter().flat_map(|e| e.values_mut()) {
                        if let Some(e) = e.as_object_mut() {
                            e.entry("headers").or_insert_with(|| json!({}));
                        }
                    }
                }
                fill_serde_defaults(value);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(fill_serde_defaults),
        _ => {}
    }
}

// ---------------------------------------------------------------------------------------------
// Every service.

fn common(doc: &mut Value) {
    for (method, _path, op) in operations(doc) {
        // The gateway's rate limits (per client IP, then per user) apply to every route.
        add_problem(
            op,
            "429",
            "rate_limited: too many requests from this client or user; retry after `Retry-After` seconds",
        );
        op["responses"]["429"]["headers"] =
            json!({"Retry-After": {"description": "Seconds to wait", "schema": {"type": "integer", "minimum": 0}}});
        if op["requestBody"]["content"].get("application/json").is_some() {
            add_problem(op, "415", "unsupported_media_type: the body is not sent as `Content-Type: application/json`");
        }
        if method != "get" && op["requestBody"]["content"].get("multipart/form-data").is_some() {
            add_problem(op, "415", "unsupported_media_type: the body is not `multipart/form-data` with a boundary");
        }
        let takes_input = op["requestBody"].is_object()
            || op["parameters"].as_array().is_some_and(|ps| ps.iter().any(|p| p["in"] == "path" || p["in"] == "query"));
        if takes_input {
            // `platform::input`: every parameter and body field is checked before the handler runs.
            add_problem(
                op,
                "422",
                "validation_failed: a parameter or body field breaks the rules above (control characters, \
                 type, range, unknown query parameter); `errors` names each field as a path",
            );
        }
        let has_path_param = op["parameters"].as_array().is_some_and(|ps| ps.iter().any(|p| p["in"] == "path"));
        if has_path_param {
            // The gateway refuses a path that is not in normal form (dot segments, encoded
            // slashes or control characters) before it routes it.
            add_problem(op, "400", "invalid_path: the request path is not in normal form");
        }
        for p in op["parameters"].as_array_mut().into_iter().flatten() {
            match (p["in"].as_str(), p["name"].as_str()) {
                (Some("query"), Some("cursor")) => constrain(&mut p["schema"], json!({"minLength": 1})),
                (Some("header"), Some(platform::idempotency::HEADER)) => constrain(
                    &mut p["schema"],
                    json!({"minLength": 1, "maxLength": platform::idempotency::MAX_KEY_LEN, "pattern": "^[!-~]+$"}),
                ),
                _ => {}
            }
        }
    }
    // Money: the currencies the platform sells in, amounts as plain decimal strings.
    let schemas = doc["components"]["schemas"].as_object_mut().expect("schemas");
    if let Some(currency) = schemas.get_mut("Currency") {
        let codes: Vec<&str> = platform::money::Currency::codes().collect();
        constrain(currency, json!({"enum": strings(&codes)}));
    }
}

/// A decimal string as `rust_decimal` reads it and the API writes it: digits, one optional point.
const DECIMAL: &str = r"^[0-9]{1,15}(\.[0-9]{1,4})?$";
/// RFC 3339 with a year the services store (1970-9999: `licensing::domain::time`).
const STORABLE_TIME: &str = r"^(19[7-9][0-9]|[2-9][0-9]{3})-[^\u0000-\u001F\u007F-\u009F]*$";

// ---------------------------------------------------------------------------------------------
// Per service.

/// The services whose logs `GET /api/admin/audit` merges (the gateway's `AUDITED_SERVICES`; the
/// contracts test checks they agree).
pub const AUDITED_SERVICES: &[&str] = &["billing", "licensing", "marketplace", "rewards", "subscriptions", "webhooks"];

fn gateway(doc: &mut Value) {
    constrain(param(doc, "get", "/api/admin/audit", "query", "service"), json!({"enum": strings(AUDITED_SERVICES)}));
}

fn billing(doc: &mut Value) {
    constrain(prop(doc, "CreateRefund", "amount"), json!({"pattern": DECIMAL}));
    // `billing::domain::country::is_iso_country`: the assigned ISO 3166-1 alpha-2 codes.
    let country = json!({"enum": strings(&billing::domain::country::codes())});
    constrain(prop(doc, "Address", "country"), country.clone());
    constrain(prop(doc, "CreateTaxRate", "country"), country);
    // `billing::routes::tax::text`: required text has something besides white space, every text
    // at most 200 characters; a VAT id at most 32.
    for (schema, field) in [
        ("BillingDetails", "name"),
        ("Address", "line1"),
        ("Address", "city"),
        ("CreateTaxRate", "region"),
        ("CreateTaxRate", "display_name"),
    ] {
        constrain(prop(doc, schema, field), trimmed_text(1, 200, false));
    }
    for (schema, field) in
        [("BillingDetails", "company"), ("Address", "line2"), ("Address", "postal_code"), ("Address", "region")]
    {
        constrain(prop(doc, schema, field), trimmed_text(0, 200, false));
    }
    constrain(prop(doc, "BillingDetails", "vat_id"), trimmed_text(1, 32, false));
    // At least 0, below 100, at most 4 decimals.
    constrain(prop(doc, "CreateTaxRate", "percentage"), json!({"pattern": r"^[0-9]{1,2}(\.[0-9]{1,4})?$"}));
    // The receipt is JSON by default and an HTML page for `Accept: text/html`.
    let ok = &mut op(doc, "get", "/api/payments/{id}/receipt")["responses"]["200"];
    let json_body = ok["content"].as_object().and_then(|c| c.values().next()).cloned().unwrap_or(json!({}));
    ok["content"] = json!({
        "application/json": json_body,
        "text/html": {"schema": {"type": "string"}},
    });
}

fn subscriptions(doc: &mut Value) {
    // `subscriptions::coupons::new_coupon`; the rules between its fields (percent_off or
    // amount_off, duration and duration_in_months), against the tiers table and against the clock
    // are api-fuzz's relational rules (scripts/api-fuzz/hooks.py).
    constrain(prop(doc, "CouponRequest", "name"), trimmed_text(1, 100, false));
    constrain(prop(doc, "CouponRequest", "percent_off"), json!({"pattern": PERCENT_OFF}));
    constrain(prop(doc, "CouponRequest", "duration"), json!({"enum": strings(&["once", "repeating", "forever"])}));
    constrain(prop(doc, "CouponRequest", "duration_in_months"), json!({"minimum": 1, "maximum": 120}));
    constrain(prop(doc, "CouponRequest", "tiers"), json!({"minItems": 1}));
    constrain(prop(doc, "CouponRequest", "max_redemptions"), json!({"minimum": 1}));
    // `subscriptions::test_clocks::create`: 1-100 characters after trimming.
    constrain(prop(doc, "TestClockRequest", "name"), trimmed_text(1, 100, false));
}

/// `platform::discount::valid_percent`: above 0, at most 100, at most 4 decimals (coupons and
/// course promotion codes).
const PERCENT_OFF: &str = r"^(?:100(?:\.0{1,4})?|[1-9][0-9]?(?:\.[0-9]{1,4})?|0\.(?=[0-9]*[1-9])[0-9]{1,4})$";

fn rewards(doc: &mut Value) {
    constrain(
        param(doc, "get", "/api/tokens/transactions", "query", "kind"),
        json!({"enum": strings(&rewards::ledger::KINDS)}),
    );
    constrain(
        param(doc, "get", "/api/leaderboard/weekly", "query", "week"),
        json!({"pattern": r"^[0-9]{4}-W(0[1-9]|[1-4][0-9]|5[0-3])$"}),
    );
}

fn licensing(doc: &mut Value) {
    use licensing::domain::license_key::KEY_SYMBOLS;
    constrain(
        prop(doc, "ActivateSeat", "license_key"),
        // Case-insensitive symbols (I, L read as 1 and O as 0), dashes and spaces ignored.
        json!({"pattern": format!(r"^[- ]*(?:[0-9A-TV-Za-tv-z][- ]*){{{KEY_SYMBOLS}}}$")}),
    );
    let colour = json!({"pattern": "^#[0-9A-Fa-f]{6}$"});
    constrain(prop(doc, "BrandingBody", "primary_color"), colour.clone());
    constrain(prop(doc, "BrandingBody", "secondary_color"), colour);
    // `licensing::domain::branding::is_domain`: lower-case labels of 1-63 letters, digits and
    // inner hyphens, at least two, the last with a letter.
    let domain = json!({
        "maxLength": 253,
        "pattern": r"^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+(?=[a-z0-9-]*[a-z])[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$",
    });
    constrain(prop(doc, "BrandingBody", "custom_domain"), domain.clone());
    constrain(param(doc, "get", "/api/enterprise/branding", "query", "domain"), domain.clone());
    constrain(prop(doc, "BrandingBody", "display_name"), trimmed_text(1, 100, false));
    let hhmm = json!({"pattern": "^(([01][0-9]|2[0-3]):[0-5][0-9]|24:00)$"});
    constrain(prop(doc, "BusinessHoursBody", "start"), hhmm.clone());
    constrain(prop(doc, "BusinessHoursBody", "end"), hhmm);
    let time = json!({"pattern": STORABLE_TIME});
    constrain(prop(doc, "CreateLicense", "starts_at"), time.clone());
    constrain(prop(doc, "CreateLicense", "expires_at"), time.clone());
    constrain(prop(doc, "ExtendLicense", "expires_at"), time);
    constrain(prop(doc, "OrganizationBody", "name"), trimmed_text(1, 200, false));
    constrain(
        prop(doc, "BusinessHoursBody", "days"),
        json!({"items": {"type": "string", "enum": strings(&licensing::routes::views::DAY_NAMES)}, "uniqueItems": true}),
    );
    let priorities: Vec<&str> = licensing::domain::sla::Priority::ALL.iter().map(|p| p.as_str()).collect();
    constrain(prop(doc, "CreateTicket", "priority"), json!({"enum": strings(&priorities)}));
    constrain(prop(doc, "CreateTicket", "subject"), trimmed_text(1, 200, false));
    constrain(prop(doc, "CreateTicket", "description"), trimmed_text(1, 20_000, true));
    constrain(prop(doc, "TicketCommentBody", "body"), trimmed_text(1, 20_000, true));
    let statuses: Vec<&str> = licensing::domain::sla::TicketStatus::ALL.iter().map(|s| s.as_str()).collect();
    constrain(prop(doc, "TicketStatusChange", "status"), json!({"enum": strings(&statuses)}));
    constrain(
        param(doc, "get", "/api/enterprise/support/tickets", "query", "status"),
        json!({"enum": strings(&statuses)}),
    );
}

fn webhooks(doc: &mut Value) {
    // `webhooks::routes::endpoints::validate` and `webhooks::guard::parse_url`: an absolute
    // http(s) URL naming a host, without credentials or fragment, at most 2048 characters. The
    // document says a subset the parser always accepts: a host name whose last label has a letter
    // (a number there is an IPv4 address to the URL parser), no IDNA (`xn--`) label, a port of at
    // most 59999. Whether the host resolves to a public address (the SSRF guard) depends on the
    // world, not the request: api-fuzz's relational rules.
    let label = r"(?![Xx][Nn]--)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?";
    let last = r"(?=[A-Za-z0-9-]*[A-Za-z])(?![Xx][Nn]--)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?";
    let url = json!({
        "maxLength": 2048,
        "pattern": format!(
            r"^[Hh][Tt][Tt][Pp][Ss]?://(?:{label}\.)*{last}(?::(?:[1-9][0-9]{{0,3}}|[1-5][0-9]{{4}}))?(?:[/?][^#\s{CONTROL}]*)?$"
        ),
    });
    // Catalog event types, or one service's all (`billing.*`): `webhooks::domain::patterns::check`.
    let catalog = events::catalog::all_event_types();
    let mut types: Vec<String> = catalog.iter().map(|t| t.to_string()).collect();
    let mut services: Vec<String> =
        catalog.iter().filter_map(|t| t.split_once('.')).map(|(s, _)| format!("{s}.*")).collect();
    services.sort();
    services.dedup();
    types.extend(services);
    let event_types = json!({"minItems": 1, "maxItems": 100, "items": {"type": "string", "enum": types}});
    for schema in ["CreateEndpoint", "UpdateEndpoint"] {
        constrain(prop(doc, schema, "url"), url.clone());
        constrain(prop(doc, schema, "event_types"), event_types.clone());
        constrain(prop(doc, schema, "description"), json!({"maxLength": 500}));
    }
}

fn marketplace(doc: &mut Value) {
    use marketplace::domain::course::{LEVELS, MAX_TAGS, MAX_TAG_LEN};
    let level = json!({"enum": strings(LEVELS)});
    let language = json!({"pattern": "^[a-z]{2}(-[A-Z]{2})?$"});
    let category = json!({"pattern": "^[a-z0-9-]{1,50}$"});
    let mut tag = trimmed_text(1, MAX_TAG_LEN, false);
    tag["type"] = json!("string");
    let tags = json!({"maxItems": MAX_TAGS, "items": tag});
    for schema in ["CourseMetadata", "CoursePatch"] {
        constrain(prop(doc, schema, "level"), level.clone());
        constrain(prop(doc, schema, "language"), language.clone());
        constrain(prop(doc, schema, "category"), category.clone());
        constrain(prop(doc, schema, "title"), trimmed_text(3, 200, false));
        constrain(prop(doc, schema, "description"), trimmed_text(1, 20_000, true));
        constrain(prop(doc, schema, "tags"), tags.clone());
    }
    let list = "/api/courses/list";
    constrain(param(doc, "get", list, "query", "level"), level);
    constrain(param(doc, "get", list, "query", "language"), language);
    constrain(param(doc, "get", list, "query", "q"), json!({"maxLength": 200}));
    for name in ["min_price", "max_price", "min_rating"] {
        constrain(param(doc, "get", list, "query", name), json!({"pattern": DECIMAL}));
    }
    // `marketplace::promotions::create` (the limits are utoipa attributes); the rules between its
    // fields and against the clock are api-fuzz's relational rules. A category is any slug of
    // 1-50 bytes to the server: the document says the catalogue's category form, a subset.
    constrain(prop(doc, "NewPromotionCode", "percent_off"), json!({"pattern": PERCENT_OFF}));
    // A map from a currency the platform sells in to a decimal string; positive and on the
    // currency's minor unit is a relational rule (hooks.py), as for Money.
    constrain(
        prop(doc, "NewPromotionCode", "amount_off"),
        json!({
            "propertyNames": {"type": "string", "enum": strings(&platform::money::Currency::codes().collect::<Vec<_>>())},
            "additionalProperties": {"type": "string", "pattern": DECIMAL},
        }),
    );
    constrain(
        prop(doc, "NewPromotionCode", "categories"),
        json!({"items": {"type": "string", "pattern": "^[a-z0-9-]{1,50}$"}}),
    );
    constrain(prop(doc, "ReviewInput", "body"), json!({"maxLength": marketplace::domain::review::MAX_BODY}));
    constrain(prop(doc, "ReviewReplyInput", "body"), trimmed_text(1, marketplace::domain::review::MAX_REPLY, true));
    // The package as uploaded: its declared (and sniffed) media type.
    // (An operator who allows more types, MARKETPLACE_ALLOWED_CONTENT_TYPES, serves those too.)
    let content = &mut op(doc, "get", "/api/courses/{id}/content")["responses"]["200"];
    let binary = json!({"schema": {"type": "string", "format": "binary"}});
    let mut by_type = Map::new();
    for t in marketplace::config::DEFAULT_CONTENT_TYPES.split(',') {
        by_type.insert(t.into(), binary.clone());
    }
    content["content"] = Value::Object(by_type);
}
