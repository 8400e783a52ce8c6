//! The subscriptions report (`GET /api/admin/reports/subscriptions`): MRR, its movements, churn
//! and subscribers per bucket and currency, read from the MRR history (`mrr_movements`). The
//! definitions are in docs/api.md ("Subscriptions report").

use crate::domain::mrr::Kind;
use crate::store::mrr::{self as history, MovementTotal, StateChange};
use chrono::{DateTime, Utc};
use diesel_async::AsyncPgConnection;
use platform::money::{Currency, Money};
use platform::reports::{self, Cell, Csv, CsvTable, Series};
use platform::Problem;
use rust_decimal::Decimal;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// Statuses counted in `subscribers`: the live ones. Closed subscriptions are not subscribers;
/// they show as churn in the bucket they closed in.
const SUBSCRIBER_STATUSES: [&str; 4] = ["active", "past_due", "paused", "incomplete"];

/// One bucket of one currency.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[schema(as = SubscriptionsReportRow)]
pub struct Row {
    pub period_start: chrono::DateTime<chrono::Utc>,
    pub period_end: chrono::DateTime<chrono::Utc>,
    pub currency: Currency,
    /// MRR at the start of the bucket.
    #[schema(value_type = String, example = "999.00")]
    pub mrr_start: Decimal,
    /// MRR at the end of the bucket: `mrr_start + new + expansion + reactivation - contraction - churned`.
    #[schema(value_type = String, example = "1098.00")]
    pub mrr: Decimal,
    /// 12 x `mrr`.
    #[schema(value_type = String, example = "13176.00")]
    pub arr: Decimal,
    #[schema(value_type = String)]
    pub new_mrr: Decimal,
    #[schema(value_type = String)]
    pub expansion_mrr: Decimal,
    #[schema(value_type = String)]
    pub reactivation_mrr: Decimal,
    /// MRR lost to downgrades (a positive amount).
    #[schema(value_type = String)]
    pub contraction_mrr: Decimal,
    /// MRR lost to subscriptions that stopped paying (a positive amount).
    #[schema(value_type = String)]
    pub churned_mrr: Decimal,
    /// `mrr - mrr_start`.
    #[schema(value_type = String)]
    pub net_new_mrr: Decimal,
    /// Paying (active or past_due) subscriptions at the start and at the end of the bucket.
    pub paying_subscribers_start: i64,
    pub paying_subscribers: i64,
    pub new_subscribers: i64,
    pub reactivated_subscribers: i64,
    pub churned_subscribers: i64,
    /// `churned_subscribers / paying_subscribers_start`, 4 decimals; null when nobody paid at the start.
    #[schema(value_type = Option<String>, example = "0.0125")]
    pub logo_churn_rate: Option<Decimal>,
    /// Gross MRR churn: `(churned_mrr + contraction_mrr) / mrr_start`; null when `mrr_start` is 0.
    #[schema(value_type = Option<String>)]
    pub revenue_churn_rate: Option<Decimal>,
    /// Net MRR churn: `(churned + contraction - expansion - reactivation) / mrr_start` (negative
    /// when expansion outgrows losses); null when `mrr_start` is 0.
    #[schema(value_type = Option<String>)]
    pub net_revenue_churn_rate: Option<Decimal>,
    /// Average revenue per paying subscription: `mrr / paying_subscribers`, rounded half-even to
    /// the currency's minor unit; null when nobody pays.
    #[schema(value_type = Option<String>, example = "9.99")]
    pub arpu: Option<Decimal>,
    /// Live subscriptions at the end of the bucket, by tier then status (`active`, `past_due`,
    /// `paused`, `incomplete`); zero counts are left out.
    pub subscribers: BTreeMap<String, BTreeMap<String, i64>>,
}

/// The running state of one currency while folding the buckets in order.
#[derive(Debug, Default, Clone)]
struct Running {
    mrr: Decimal,
    paying: i64,
    states: BTreeMap<(String, String), i64>,
}

/// One bucket's movements in one currency.
#[derive(Debug, Default)]
struct Moved {
    mrr: BTreeMap<&'static str, Decimal>,
    count: BTreeMap<&'static str, i64>,
}

impl Moved {
    fn mrr(&self, kind: Kind) -> Decimal {
        self.mrr.get(kind.as_str()).copied().unwrap_or_default()
    }

    fn count(&self, kind: Kind) -> i64 {
        self.count.get(kind.as_str()).copied().unwrap_or_default()
    }
}

/// Summarise the closed days not done yet, then read the history in one snapshot (both queries
/// add up): closed days from the per-day summary, the rest live.
pub async fn subscriptions(
    conn: &mut AsyncPgConnection,
    series: &Series,
    now: DateTime<Utc>,
) -> Result<Vec<Row>, Problem> {
    let h = history::History::prepare(conn, series.from(), series.to(), now).await?;
    let starts = series.starts();
    let (totals, states) = conn
        .build_transaction()
        .read_only()
        .repeatable_read()
        .run(async |c| {
            let totals = history::movement_totals(c, &h, &starts).await?;
            let states = history::state_changes(c, &h, &starts).await?;
            Ok::<_, Problem>((totals, states))
        })
        .await?;
    fold(series, &totals, &states)
}

/// Fold the per-bucket totals (bucket 0: everything before the range) into rows: every currency
/// seen gets a row in every bucket.
pub fn fold(series: &Series, totals: &[MovementTotal], states: &[StateChange]) -> Result<Vec<Row>, Problem> {
    let currencies: BTreeSet<&str> =
        totals.iter().map(|t| t.currency.as_str()).chain(states.iter().map(|s| s.currency.as_str())).collect();
    let mut rows = Vec::new();
    for code in currencies {
        let currency: Currency = code.parse().map_err(Problem::internal)?;
        let mut running = Running::default();
        let mut moved: Vec<Moved> = (0..=series.buckets().len()).map(|_| Moved::default()).collect();
        for t in totals.iter().filter(|t| t.currency == code) {
            let Some(slot) = usize::try_from(t.bucket).ok().and_then(|b| moved.get_mut(b)) else { continue };
            // Kinds are stored as text the store wrote from `Kind`; `None` moved no MRR.
            if let Some(kind) = t.kind.as_deref().and_then(Kind::parse) {
                *slot.mrr.entry(kind.as_str()).or_default() += t.delta.abs();
                *slot.count.entry(kind.as_str()).or_default() += t.count;
            }
        }
        let mut state_moves: Vec<Vec<&StateChange>> = (0..=series.buckets().len()).map(|_| Vec::new()).collect();
        for s in states.iter().filter(|s| s.currency == code) {
            if let Some(slot) = usize::try_from(s.bucket).ok().and_then(|b| state_moves.get_mut(b)) {
                slot.push(s);
            }
        }
        apply(&mut running, &moved[0], &state_moves[0]);
        for (i, bucket) in series.buckets().iter().enumerate() {
            let start = running.clone();
            apply(&mut running, &moved[i + 1], &state_moves[i + 1]);
            rows.push(row(bucket, currency, &start, &running, &moved[i + 1]));
        }
    }
    rows.sort_by(|a, b| (a.period_start, a.currency.code()).cmp(&(b.period_start, b.currency.code())));
    Ok(rows)
}

fn apply(running: &mut Running, moved: &Moved, states: &[&StateChange]) {
    running.mrr += moved.mrr(Kind::New) + moved.mrr(Kind::Expansion) + moved.mrr(Kind::Reactivation)
        - moved.mrr(Kind::Contraction)
        - moved.mrr(Kind::Churn);
    running.paying += moved.count(Kind::New) + moved.count(Kind::Reactivation) - moved.count(Kind::Churn);
    for s in states {
        *running.states.entry((s.tier.clone(), s.status.clone())).or_default() += s.delta;
    }
}

fn row(bucket: &reports::Bucket, currency: Currency, start: &Running, end: &Running, moved: &Moved) -> Row {
    let money = |d: Decimal| Money::round(d, currency).amount;
    let losses = moved.mrr(Kind::Churn) + moved.mrr(Kind::Contraction);
    let gains = moved.mrr(Kind::Expansion) + moved.mrr(Kind::Reactivation);
    let mut subscribers: BTreeMap<String, BTreeMap<String, i64>> = BTreeMap::new();
    for ((tier, status), n) in &end.states {
        if *n != 0 && SUBSCRIBER_STATUSES.contains(&status.as_str()) {
            subscribers.entry(tier.clone()).or_default().insert(status.clone(), *n);
        }
    }
    Row {
        period_start: bucket.start,
        period_end: bucket.end,
        currency,
        mrr_start: money(start.mrr),
        mrr: money(end.mrr),
        arr: money(end.mrr * Decimal::from(12)),
        new_mrr: money(moved.mrr(Kind::New)),
        expansion_mrr: money(moved.mrr(Kind::Expansion)),
        reactivation_mrr: money(moved.mrr(Kind::Reactivation)),
        contraction_mrr: money(moved.mrr(Kind::Contraction)),
        churned_mrr: money(moved.mrr(Kind::Churn)),
        net_new_mrr: money(end.mrr - start.mrr),
        paying_subscribers_start: start.paying,
        paying_subscribers: end.paying,
        new_subscribers: moved.count(Kind::New),
        reactivated_subscribers: moved.count(Kind::Reactivation),
        churned_subscribers: moved.count(Kind::Churn),
        logo_churn_rate: reports::rate(Decimal::from(moved.count(Kind::Churn)), Decimal::from(start.paying)),
        revenue_churn_rate: reports::rate(losses, start.mrr),
        net_revenue_churn_rate: reports::rate(losses - gains, start.mrr),
        arpu: (end.paying > 0).then(|| money(end.mrr / Decimal::from(end.paying))),
        subscribers,
    }
}

const COLUMNS: [&str; 21] = [
    "period_start",
    "period_end",
    "currency",
    "mrr_start",
    "mrr",
    "arr",
    "new_mrr",
    "expansion_mrr",
    "reactivation_mrr",
    "contraction_mrr",
    "churned_mrr",
    "net_new_mrr",
    "paying_subscribers_start",
    "paying_subscribers",
    "new_subscribers",
    "reactivated_subscribers",
    "churned_subscribers",
    "logo_churn_rate",
    "revenue_churn_rate",
    "net_revenue_churn_rate",
    "arpu",
];

/// The CSV form: the fixed columns, then `subscribers.<tier>.<status>` for every pair any row has
/// (0 where a row has none), so each line holds one bucket and currency, as in JSON.
impl CsvTable for Row {
    fn csv(rows: &[Self]) -> Csv {
        let pairs: BTreeSet<(&str, &str)> = rows
            .iter()
            .flat_map(|r| r.subscribers.iter().flat_map(|(t, m)| m.keys().map(move |s| (t.as_str(), s.as_str()))))
            .collect();
        let header: Vec<String> = COLUMNS
            .iter()
            .map(|c| c.to_string())
            .chain(pairs.iter().map(|(t, s)| format!("subscribers.{t}.{s}")))
            .collect();
        let mut csv = Csv::new(&header);
        for r in rows {
            let fixed: [Cell; 21] = [
                r.period_start.into(),
                r.period_end.into(),
                r.currency.code().into(),
                r.mrr_start.into(),
                r.mrr.into(),
                r.arr.into(),
                r.new_mrr.into(),
                r.expansion_mrr.into(),
                r.reactivation_mrr.into(),
                r.contraction_mrr.into(),
                r.churned_mrr.into(),
                r.net_new_mrr.into(),
                r.paying_subscribers_start.into(),
                r.paying_subscribers.into(),
                r.new_subscribers.into(),
                r.reactivated_subscribers.into(),
                r.churned_subscribers.into(),
                r.logo_churn_rate.into(),
                r.revenue_churn_rate.into(),
                r.net_revenue_churn_rate.into(),
                r.arpu.into(),
            ];
            let counts = pairs
                .iter()
                .map(|(t, s)| Cell::Int(r.subscribers.get(*t).and_then(|m| m.get(*s)).copied().unwrap_or_default()));
            csv.row(fixed.into_iter().chain(counts));
        }
        csv
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{DateTime, Utc};
    use platform::reports::Interval;
    use std::str::FromStr;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).expect("time").with_timezone(&Utc)
    }

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).expect("decimal")
    }

    fn total(bucket: i32, kind: Option<&str>, count: i64, delta: &str) -> MovementTotal {
        MovementTotal { bucket, currency: "USD".into(), kind: kind.map(str::to_string), count, delta: d(delta) }
    }

    fn state(bucket: i32, tier: &str, status: &str, delta: i64) -> StateChange {
        StateChange { bucket, currency: "USD".into(), tier: tier.into(), status: status.into(), delta }
    }

    #[test]
    fn buckets_carry_the_state_forward_and_movements_add_up() {
        let series =
            Series::new(t("2026-01-01T00:00:00Z"), t("2026-03-01T00:00:00Z"), Interval::Month).expect("series");
        let totals = [
            // Before the range: two Pro subscribers.
            total(0, Some("new"), 2, "19.98"),
            // January: one upgrades to Enterprise, a third subscribes.
            total(1, Some("expansion"), 1, "89.01"),
            total(1, Some("new"), 1, "9.99"),
            // February: the Enterprise one churns, one Pro reactivates.
            total(2, Some("churn"), 1, "-99.0000"),
            total(2, Some("reactivation"), 1, "9.99"),
            total(2, None, 3, "0"),
        ];
        let states = [
            state(0, "pro", "active", 2),
            state(1, "pro", "active", 0),
            state(1, "enterprise", "active", 1),
            state(2, "enterprise", "active", -1),
            state(2, "pro", "past_due", 1),
            state(2, "pro", "active", 0),
        ];
        let rows = fold(&series, &totals, &states).expect("rows");
        assert_eq!(rows.len(), 2);
        let (jan, feb) = (&rows[0], &rows[1]);
        assert_eq!((jan.mrr_start, jan.mrr, jan.arr), (d("19.98"), d("118.98"), d("1427.76")));
        assert_eq!((jan.new_mrr, jan.expansion_mrr, jan.net_new_mrr), (d("9.99"), d("89.01"), d("99.00")));
        assert_eq!((jan.paying_subscribers_start, jan.paying_subscribers), (2, 3));
        assert_eq!(jan.logo_churn_rate, Some(d("0")));
        assert_eq!(jan.net_revenue_churn_rate, Some(d("-4.4550")), "expansion outgrew losses");
        assert_eq!(jan.arpu, Some(d("39.66")));
        assert_eq!(feb.mrr_start, jan.mrr);
        assert_eq!((feb.churned_mrr, feb.reactivation_mrr, feb.mrr), (d("99.00"), d("9.99"), d("29.97")));
        assert_eq!(
            feb.mrr_start + feb.new_mrr + feb.expansion_mrr + feb.reactivation_mrr
                - feb.contraction_mrr
                - feb.churned_mrr,
            feb.mrr
        );
        assert_eq!(feb.logo_churn_rate, Some(d("0.3333")));
        assert_eq!(feb.revenue_churn_rate, Some(d("0.8321")), "99 / 118.98");
        assert_eq!(feb.subscribers["pro"]["active"], 2);
        assert_eq!(feb.subscribers["pro"]["past_due"], 1);
        assert!(!feb.subscribers.contains_key("enterprise"), "zero counts are left out");
    }

    #[test]
    fn an_empty_history_has_no_rows_and_nobody_pays_means_no_rates() {
        let series = Series::new(t("2026-01-01T00:00:00Z"), t("2026-02-01T00:00:00Z"), Interval::Week).expect("s");
        assert!(fold(&series, &[], &[]).expect("rows").is_empty());
        let rows = fold(&series, &[total(1, None, 1, "0")], &[state(1, "pro", "incomplete", 1)]).expect("rows");
        assert_eq!(rows.len(), series.buckets().len(), "every bucket of a currency seen");
        assert!(rows.iter().all(|r| r.logo_churn_rate.is_none() && r.arpu.is_none()));
    }

    #[test]
    fn csv_has_a_column_per_tier_and_status_seen() {
        let series = Series::new(t("2026-01-01T00:00:00Z"), t("2026-02-01T00:00:00Z"), Interval::Month).expect("s");
        let rows = fold(&series, &[total(1, Some("new"), 1, "9.99")], &[state(1, "pro", "active", 1)]).expect("rows");
        let csv = Row::csv(&rows).finish();
        let mut lines = csv.split("\r\n");
        let header = lines.next().expect("header");
        assert!(header.starts_with("period_start,period_end,currency,mrr_start,mrr,arr,"), "{header}");
        assert!(header.ends_with(",arpu,subscribers.pro.active"), "{header}");
        assert_eq!(
            lines.next().expect("row"),
            "2026-01-01T00:00:00Z,2026-02-01T00:00:00Z,USD,0.00,9.99,119.88,9.99,0.00,0.00,0.00,0.00,9.99,0,1,1,0,0,,,,9.99,1"
        );
    }
}
