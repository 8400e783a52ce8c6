#!/usr/bin/env python3
"""Writes the Grafana dashboards under k8s/components/monitoring/dashboards/ (overview + one per service).

The JSON files are the deliverable (a plain Grafana imports or provisions them as they are); this
generator keeps the eight consistent (one layout, one datasource variable, the same panel helpers)
instead of hand-editing ~2000 lines of JSON. Change a panel here, run `scripts/grafana-dashboards.py`,
commit both. Every expr must use only metrics in docs/operations.md#metrics and return data on the
e2e stack: e2e/tests/flows/dashboards.rs runs each one through a real Prometheus.
"""
import json
import os

OUT = os.path.join(os.path.dirname(__file__), "..", "k8s", "components", "monitoring", "dashboards")
DS = {"type": "prometheus", "uid": "${datasource}"}
RI = "$__rate_interval"
SERVICES = ["billing", "subscriptions", "marketplace", "rewards", "licensing", "webhooks"]
ALL_JOBS = "gateway|" + "|".join(SERVICES)
HTTP = "http_server_request_duration_seconds"


def rate(metric, sel=""):
    return f"rate({metric}{{{sel}}}[{RI}])" if sel else f"rate({metric}[{RI}])"


class Board:
    def __init__(self, uid, title, description):
        self.uid, self.title, self.description = uid, title, description
        self.panels, self.y, self.x, self.row_h = [], 0, 0, 0

    def row(self, title):
        self.newline()
        self.panels.append({"type": "row", "title": title, "collapsed": False, "id": len(self.panels) + 1,
                            "gridPos": {"h": 1, "w": 24, "x": 0, "y": self.y}, "panels": []})
        self.y += 1

    def newline(self):
        if self.x:
            self.y += self.row_h
            self.x, self.row_h = 0, 0

    def panel(self, kind, title, targets, unit="short", w=12, h=8, description="", stacked=False):
        if self.x + w > 24:
            self.newline()
        refs = "ABCDEFGH"
        panel = {
            "id": len(self.panels) + 1,
            "type": kind,
            "title": title,
            "description": description,
            "datasource": DS,
            "gridPos": {"h": h, "w": w, "x": self.x, "y": self.y},
            "targets": [
                {"refId": refs[i], "datasource": DS, "expr": expr, "legendFormat": legend, "range": True}
                for i, (expr, legend) in enumerate(targets)
            ],
            "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
            "options": {},
        }
        if kind == "timeseries":
            panel["fieldConfig"]["defaults"]["custom"] = {
                "drawStyle": "line", "fillOpacity": 10, "lineWidth": 1,
                "stacking": {"mode": "normal" if stacked else "none", "group": "A"},
            }
            panel["options"] = {"legend": {"displayMode": "list", "placement": "bottom", "showLegend": True},
                                "tooltip": {"mode": "multi", "sort": "desc"}}
        elif kind == "stat":
            panel["options"] = {"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
                                "colorMode": "value", "graphMode": "area", "textMode": "auto"}
        self.panels.append(panel)
        self.x += w
        self.row_h = max(self.row_h, h)

    def ts(self, title, targets, **kw):
        self.panel("timeseries", title, targets, **kw)

    def stat(self, title, targets, w=6, h=5, **kw):
        self.panel("stat", title, targets, w=w, h=h, **kw)

    def json(self, tags):
        return {
            "uid": self.uid,
            "title": self.title,
            "description": self.description,
            "tags": ["monetization"] + tags,
            "schemaVersion": 39,
            "version": 1,
            "editable": True,
            "graphTooltip": 1,
            "time": {"from": "now-6h", "to": "now"},
            "refresh": "30s",
            "timezone": "utc",
            "annotations": {"list": []},
            "links": [{"type": "dashboards", "tags": ["monetization"], "asDropdown": True, "title": "Monetization"}],
            "templating": {"list": [{
                "name": "datasource", "label": "Prometheus", "type": "datasource", "query": "prometheus",
                "current": {}, "hide": 0, "refresh": 1, "regex": "", "options": [],
            }]},
            "panels": self.panels,
        }


def http_section(b, job):
    sel = f'job="{job}"'
    b.row("HTTP")
    b.ts("Requests by route", [(f"sum by (http_route) ({rate(HTTP + '_count', sel)})", "{{http_route}}")],
         unit="reqps")
    b.ts("Requests by status", [(f"sum by (http_response_status_code) ({rate(HTTP + '_count', sel)})",
                                 "{{http_response_status_code}}")], unit="reqps", stacked=True)
    # `or 0 * ...`: a service with no 5xx shows 0 instead of no data.
    b.ts("5xx ratio", [(
        f'(sum({rate(HTTP + "_count", sel + ",http_response_status_code=~" + chr(34) + "5.." + chr(34))})'
        f" or 0 * sum({rate(HTTP + '_count', sel)})) / sum({rate(HTTP + '_count', sel)})", "5xx")],
        unit="percentunit", description="Alert HighErrorRatio at 5 % (docs/runbooks/error-ratio.md)")
    b.ts("Latency", [
        (f"histogram_quantile({q}, sum by (le) ({rate(HTTP + '_bucket', sel)}))", f"p{int(q * 100)}")
        for q in (0.5, 0.95, 0.99)], unit="s")
    b.ts("p95 latency by route", [(
        f"histogram_quantile(0.95, sum by (http_route, le) ({rate(HTTP + '_bucket', sel)}))", "{{http_route}}")],
        unit="s")
    b.ts("Requests in flight", [(f"sum(http_server_active_requests{{{sel}}})", "in flight")])


def pool_section(b, job):
    sel = f'job="{job}"'
    b.row("Database pool")
    b.ts("Connections", [
        (f"sum by (state) (db_pool_connections{{{sel}}})", "{{state}}"),
        (f"sum(db_pool_max_connections{{{sel}}})", "max"),
    ])
    b.ts("Checkouts by outcome", [(f"sum by (outcome) ({rate('db_pool_checkouts_total', sel)})", "{{outcome}}")],
         unit="ops")
    b.ts("Waiting for a connection", [
        (f"sum(db_pool_pending_requests{{{sel}}})", "waiting now"),
        (f"sum({rate('db_pool_checkout_wait_seconds', sel)})", "wait seconds per second"),
    ])


def events_section(b, job, consumes):
    sel = f'job="{job}"'
    b.row("Events")
    b.ts("Outbox backlog", [(f"sum(monetization_outbox_pending{{{sel}}})", "unpublished rows")])
    b.ts("Oldest unpublished event", [(f"max(monetization_outbox_oldest_pending_age_seconds{{{sel}}})", "age")],
         unit="s", description="Alert OutboxBacklogOld at 5 min (docs/runbooks/outbox-backlog.md)")
    b.ts("Published by type and result", [(
        f"sum by (event_type, result) ({rate('monetization_outbox_published_total', sel)})",
        "{{event_type}} {{result}}")], unit="ops")
    if consumes:
        b.ts("Consumed by type and outcome", [(
            f"sum by (event_type, outcome) ({rate('monetization_events_consumed_total', sel)})",
            "{{event_type}} {{outcome}}")], unit="ops")
        b.ts("Handler p95 by type", [(
            "histogram_quantile(0.95, sum by (event_type, le) "
            f"({rate('monetization_event_handler_duration_seconds_bucket', sel)}))", "{{event_type}}")], unit="s")
        b.ts("Queue and dead-letter queue", [(f"max by (kind) (monetization_queue_messages{{{sel}}})", "{{kind}}")],
             description="Alert DeadLetterQueueNotEmpty (docs/runbooks/dlq-growing.md)")


def scheduler_section(b, job):
    sel = f'job="{job}"'
    b.row("Schedulers")
    b.ts("Since the last successful run", [(
        f"time() - max by (scheduler) (monetization_scheduler_last_success_timestamp_seconds{{{sel}}})",
        "{{scheduler}}")], unit="s", description="Alert SchedulerStale at 15 min (docs/runbooks/renewals-stuck.md)")
    b.ts("Items handled and failed runs", [
        (f"sum by (scheduler) ({rate('monetization_scheduler_items_total', sel)})", "{{scheduler}} items"),
        (f"sum by (scheduler) ({rate('monetization_scheduler_failures_total', sel)})", "{{scheduler}} failures"),
    ], unit="ops")


def overview():
    b = Board("monetization-overview", "Monetization / Overview",
              "Every service at a glance: availability, traffic, errors, latency, events and the business numbers.")
    jobs = f'job=~"{ALL_JOBS}"'
    b.row("Health")
    b.stat("Targets up", [(f"sum(up{{{jobs}}})", "up")], w=4)
    b.stat("Requests/s", [(f"sum({rate(HTTP + '_count', jobs)})", "req/s")], unit="reqps", w=4)
    b.stat("Oldest unpublished event", [(f"max(monetization_outbox_oldest_pending_age_seconds{{{jobs}}})", "age")],
           unit="s", w=4)
    b.stat("Dead letters", [(f'sum(monetization_queue_messages{{{jobs},kind="dlq"}})', "dlq")], w=4)
    b.stat("Active subscriptions", [('sum(monetization_subscriptions_subscriptions{status="active"})', "active")],
           w=4)
    b.stat("Tokens outstanding", [("sum(monetization_rewards_tokens_outstanding)", "tokens")], w=4)
    b.row("Traffic")
    b.ts("Up by service", [(f"up{{{jobs}}}", "{{job}} {{instance}}")])
    b.ts("Requests by service", [(f"sum by (job) ({rate(HTTP + '_count', jobs)})", "{{job}}")], unit="reqps")
    b.ts("5xx ratio by service", [(
        f'(sum by (job) ({rate(HTTP + "_count", jobs + ",http_response_status_code=~" + chr(34) + "5.." + chr(34))})'
        f" or 0 * sum by (job) ({rate(HTTP + '_count', jobs)})) / sum by (job) ({rate(HTTP + '_count', jobs)})",
        "{{job}}")], unit="percentunit")
    b.ts("p99 latency by service", [(
        f"histogram_quantile(0.99, sum by (job, le) ({rate(HTTP + '_bucket', jobs)}))", "{{job}}")], unit="s")
    b.ts("Gateway upstream calls by outcome", [(
        f"sum by (service, outcome) ({rate('monetization_gateway_upstream_requests_total')})",
        "{{service}} {{outcome}}")], unit="reqps")
    b.ts("Database connections in use", [(
        f'sum by (job) (db_pool_connections{{{jobs},state="in_use"}}) / sum by (job) (db_pool_max_connections{{{jobs}}})',
        "{{job}}")], unit="percentunit")
    b.row("Events")
    b.ts("Oldest unpublished event by service", [(
        f"max by (job) (monetization_outbox_oldest_pending_age_seconds{{{jobs}}})", "{{job}}")], unit="s")
    b.ts("Queue depth by service", [(f"max by (job, kind) (monetization_queue_messages{{{jobs}}})",
                                     "{{job}} {{kind}}")])
    b.ts("Events consumed by outcome", [(
        f"sum by (job, outcome) ({rate('monetization_events_consumed_total', jobs)})", "{{job}} {{outcome}}")],
        unit="ops")
    b.ts("Since the last successful scheduler run", [(
        f"time() - max by (job, scheduler) (monetization_scheduler_last_success_timestamp_seconds{{{jobs}}})",
        "{{job}}/{{scheduler}}")], unit="s")
    b.row("Business")
    ok = 'outcome="succeeded"'
    b.ts("Payment success rate", [(
        f"sum({rate('monetization_billing_payment_outcomes_total', ok)}) "
        f"/ sum({rate('monetization_billing_payment_outcomes_total')})", "succeeded")], unit="percentunit",
        description="Target 99.9 % (alert PaymentSuccessRateLow, docs/runbooks/payment-success.md)")
    b.ts("MRR by currency", [("sum by (currency) (monetization_subscriptions_mrr)", "{{currency}}")])
    b.ts("Course GMV by currency", [("sum by (currency) (monetization_marketplace_gmv)", "{{currency}}")])
    b.ts("Captured net of refunds by currency", [(
        "sum by (currency) (monetization_billing_captured_amount)", "{{currency}}")])
    return b


def gateway():
    b = Board("monetization-gateway", "Monetization / Gateway",
              "The API gateway: traffic by route, upstream calls, JWT refusals and rate limiting.")
    http_section(b, "gateway")
    b.row("Upstreams")
    b.ts("Upstream calls by service and outcome", [(
        f"sum by (service, outcome) ({rate('monetization_gateway_upstream_requests_total', 'job=' + chr(34) + 'gateway' + chr(34))})",
        "{{service}} {{outcome}}")], unit="reqps")
    b.ts("Upstream p95 by service", [(
        "histogram_quantile(0.95, sum by (service, le) "
        f"({rate('monetization_gateway_upstream_duration_seconds_bucket', 'job=' + chr(34) + 'gateway' + chr(34))}))",
        "{{service}}")], unit="s")
    b.row("Refusals")
    b.ts("JWT failures by reason", [(
        f"sum by (reason) ({rate('monetization_gateway_jwt_failures_total')})", "{{reason}}")], unit="reqps")
    b.ts("Rate limited (429) by limiter", [(
        f"sum by (limiter) ({rate('monetization_gateway_rate_limited_total')})", "{{limiter}}")],
        unit="reqps")
    return b


def service(job, title, description, consumes, schedulers, business):
    b = Board(f"monetization-{job}", f"Monetization / {title}", description)
    business(b)
    http_section(b, job)
    pool_section(b, job)
    events_section(b, job, consumes)
    if schedulers:
        scheduler_section(b, job)
    return b


def billing_business(b):
    sel = 'job="billing"'
    b.row("Payments and Stripe")
    ok = 'outcome="succeeded"'
    b.ts("Payment success rate", [(
        f"sum({rate('monetization_billing_payment_outcomes_total', ok)}) "
        f"/ sum({rate('monetization_billing_payment_outcomes_total')})", "succeeded")], unit="percentunit")
    b.ts("Payment outcomes by decline code", [(
        f"sum by (outcome, decline_code) ({rate('monetization_billing_payment_outcomes_total')})",
        "{{outcome}} {{decline_code}}")], unit="ops")
    b.ts("Payments on record", [("sum by (status, currency) (monetization_billing_payments)",
                                 "{{status}} {{currency}}")])
    b.ts("Captured net of refunds", [("sum by (currency) (monetization_billing_captured_amount)", "{{currency}}")])
    b.ts("Stripe calls by operation and outcome", [(
        f"sum by (operation, outcome) ({rate('monetization_billing_stripe_requests_total', sel)})",
        "{{operation}} {{outcome}}")], unit="ops")
    b.ts("Stripe p95 by operation", [(
        "histogram_quantile(0.95, sum by (operation, le) "
        f"({rate('monetization_billing_stripe_request_duration_seconds_bucket', sel)}))", "{{operation}}")], unit="s")
    b.ts("Webhooks by result", [(
        f"sum by (result) ({rate('monetization_billing_webhooks_total', sel)})", "{{result}}")], unit="ops",
        description="bad_signature/stale: alert StripeWebhooksRefused (docs/runbooks/stripe-webhooks-failing.md)")


def subscriptions_business(b):
    b.row("Subscriptions")
    b.ts("Subscriptions by tier and status", [(
        "sum by (tier, status) (monetization_subscriptions_subscriptions)", "{{tier}} {{status}}")])
    b.ts("Active subscribers by tier", [(
        'sum by (tier) (monetization_subscriptions_subscriptions{status="active"})', "{{tier}}")], stacked=True)
    b.ts("MRR by currency", [("sum by (currency) (monetization_subscriptions_mrr)", "{{currency}}")])


def marketplace_business(b):
    b.row("Sales")
    b.ts("Purchases by status", [("sum by (status) (monetization_marketplace_purchases)", "{{status}}")])
    b.ts("GMV by currency", [("sum by (currency) (monetization_marketplace_gmv)", "{{currency}}")])


def rewards_business(b):
    b.row("Tokens")
    b.ts("Tokens outstanding", [("sum(monetization_rewards_tokens_outstanding)", "outstanding")])
    b.ts("Tokens moved by kind", [("sum by (kind) (monetization_rewards_tokens_moved)", "{{kind}}")])


def licensing_business(b):
    b.row("Licenses")
    b.ts("Seats by tier", [("sum by (tier, state) (monetization_licensing_seats)", "{{tier}} {{state}}")])
    b.ts("Licenses by status", [("sum by (status) (monetization_licensing_licenses)", "{{status}}")])


def webhooks_business(b):
    sel = 'job="webhooks"'
    b.row("Deliveries")
    b.ts("Attempts by outcome", [(
        f"sum by (outcome) ({rate('monetization_webhooks_delivery_attempts_total', sel)})", "{{outcome}}")],
        unit="ops", stacked=True, description="An attempt fails on a non-2xx answer, a timeout or a refused address")
    b.ts("Attempt latency", [
        (f"histogram_quantile({q}, sum by (le) ({rate('monetization_webhooks_attempt_duration_seconds_bucket', sel)}))",
         f"p{int(q * 100)}") for q in (0.5, 0.95, 0.99)], unit="s",
        description="Bounded by WEBHOOKS_TIMEOUT_MS: partners' latency, not ours")
    b.ts("Pending backlog", [
        (f'sum(monetization_webhooks_deliveries{{{sel},status="pending"}})', "pending"),
        (f'sum(monetization_webhooks_deliveries{{{sel},status="failed"}})', "failed (schedule used up)"),
    ], description="Pending includes deliveries waiting for their next retry (up to about a day)")
    b.ts("Most overdue delivery", [(f"max(monetization_webhooks_oldest_due_age_seconds{{{sel}}})", "overdue")],
         unit="s", description="Alert WebhookDeliveriesStuck at 10 min (docs/runbooks/webhooks-stuck.md)")
    b.ts("Endpoints by state", [(f"sum by (state) (monetization_webhooks_endpoints{{{sel}}})", "{{state}}")],
         description="Disabled: failing for longer than WEBHOOKS_DISABLE_AFTER_SECS (alert WebhookEndpointDisabled)")
    b.ts("Deliveries created", [(f"sum({rate('monetization_webhooks_deliveries_created_total', sel)})", "created")],
         unit="ops")


def main():
    boards = [
        (overview(), ["overview"]),
        (gateway(), ["gateway"]),
        (service("billing", "Billing", "Payments, Stripe calls and webhooks, and billing's HTTP, pool and events.",
                 True, False, billing_business), ["billing"]),
        (service("subscriptions", "Subscriptions", "Subscribers, MRR, renewals and the service's plumbing.",
                 True, True, subscriptions_business), ["subscriptions"]),
        (service("marketplace", "Marketplace", "Course sales, GMV, earnings and expiry schedulers.",
                 True, True, marketplace_business), ["marketplace"]),
        (service("rewards", "Rewards", "Tokens issued, redeemed and outstanding.", True, False, rewards_business),
         ["rewards"]),
        (service("licensing", "Licensing", "Enterprise licenses and seats, and the licensing scheduler.",
                 False, True, licensing_business), ["licensing"]),
        (service("webhooks", "Webhooks", "Outgoing webhooks: attempts, latency, the backlog and disabled endpoints.",
                 True, False, webhooks_business), ["webhooks"]),
    ]
    for board, tags in boards:
        name = board.uid.removeprefix("monetization-")
        with open(os.path.join(OUT, f"{name}.json"), "w") as f:
            json.dump(board.json(tags), f, indent=2)
            f.write("\n")


if __name__ == "__main__":
    main()
