use chrono::{DateTime, Utc};
use diesel_async::AsyncPgConnection;
use events::{CloudEvent, DomainEvent};
use platform::auth::Role;
use platform::clock::{Clock, ManualClock, SystemClock};
use runtime::RunningService;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;
use testkit::TestEnv;
use uuid::Uuid;

/// The handle key the tests' rewards runs with (not the dev default, so a test that derives a
/// handle shows the configured key is the one used).
pub const HANDLE_SECRET: &str = "rewards-it-leaderboard-handle-secret";

/// The leaderboard handle of `user` under [`HANDLE_SECRET`].
pub fn handle(user: Uuid) -> String {
    rewards::domain::handle::Pseudonyms::new(HANDLE_SECRET).handle(user)
}

/// The rewards service in its own schema, exchange and queue, with a clock tests may move.
pub struct Rewards {
    pub env: TestEnv,
    pub svc: RunningService,
    pub http: reqwest::Client,
    pub clock: Option<Arc<ManualClock>>,
}

impl Rewards {
    pub async fn start() -> Self {
        Self::start_inner(None, 0).await
    }

    /// Started with a stopped clock at `at`.
    pub async fn start_at(at: &str) -> Self {
        Self::start_inner(Some(Arc::new(ManualClock::new(at.parse().unwrap()))), 0).await
    }

    /// Started with leaderboard snapshots kept for `ms` (the others read a fresh one every time,
    /// so their ranks are exact right after a change).
    pub async fn start_with_board_snapshots(ms: u64) -> Self {
        Self::start_inner(None, ms).await
    }

    async fn start_inner(clock: Option<Arc<ManualClock>>, leaderboard_snapshot_ms: u64) -> Self {
        let env = TestEnv::new();
        let service_clock: Arc<dyn Clock> = match &clock {
            Some(c) => c.clone(),
            None => Arc::new(SystemClock),
        };
        let svc = testkit::service::start(&env, &rewards::SPEC, |ctx| {
            let config = rewards::Config {
                leaderboard_snapshot_ms,
                leaderboard_handle_secret: platform::config::Secret::new(HANDLE_SECRET),
                ..rewards::Config::default()
            };
            rewards::setup_with_clock(ctx, config, service_clock)
        })
        .await;
        Self { env, svc, http: testkit::http(), clock }
    }

    /// A second replica on the same schema, queue and clock, keeping snapshots for `ms`.
    pub async fn start_replica(&self, leaderboard_snapshot_ms: u64) -> RunningService {
        let clock: Arc<dyn Clock> = match &self.clock {
            Some(c) => c.clone(),
            None => Arc::new(SystemClock),
        };
        runtime::start(&rewards::SPEC, self.env.service_config("rewards"), |ctx| {
            let config = rewards::Config {
                leaderboard_snapshot_ms,
                leaderboard_handle_secret: platform::config::Secret::new(HANDLE_SECRET),
                ..rewards::Config::default()
            };
            rewards::setup_with_clock(ctx, config, clock)
        })
        .await
        .expect("a second rewards replica starts")
    }

    pub async fn stop(self) {
        self.svc.stop().await;
        self.env.cleanup(&["rewards"]).await;
    }

    pub fn set_time(&self, at: &str) {
        self.clock.as_ref().expect("a manual clock").set(at.parse::<DateTime<Utc>>().unwrap());
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.svc.url())
    }

    fn token(user: Uuid, roles: &[Role]) -> String {
        testkit::internal_token("rewards", &user.to_string(), roles)
    }

    pub async fn get(&self, user: Uuid, path: &str) -> reqwest::Response {
        self.get_as(user, &[Role::Learner], path).await
    }

    pub async fn get_as(&self, user: Uuid, roles: &[Role], path: &str) -> reqwest::Response {
        self.http.get(self.url(path)).header("x-internal-token", Self::token(user, roles)).send().await.unwrap()
    }

    pub async fn json(&self, user: Uuid, path: &str) -> Value {
        let res = self.get(user, path).await;
        assert_eq!(res.status(), 200, "GET {path}");
        res.json().await.unwrap()
    }

    pub async fn post(
        &self,
        user: Uuid,
        roles: &[Role],
        path: &str,
        key: Option<&str>,
        body: Value,
    ) -> reqwest::Response {
        let mut req = self.http.post(self.url(path)).header("x-internal-token", Self::token(user, roles)).json(&body);
        if let Some(key) = key {
            req = req.header("idempotency-key", key);
        }
        req.send().await.unwrap()
    }

    pub async fn delete(&self, user: Uuid, path: &str) -> reqwest::Response {
        self.http
            .delete(self.url(path))
            .header("x-internal-token", Self::token(user, &[Role::Learner]))
            .send()
            .await
            .unwrap()
    }

    /// An admin award (asserting 201), returning its body.
    pub async fn award(&self, user: Uuid, amount: i64) -> Value {
        let res = self.award_with_key(Uuid::now_v7(), user, amount, &Uuid::new_v4().to_string()).await;
        assert_eq!(res.status(), 201, "{:?}", res.text().await);
        res.json().await.unwrap()
    }

    pub async fn award_with_key(&self, admin: Uuid, user: Uuid, amount: i64, key: &str) -> reqwest::Response {
        let body = json!({"user_id": user, "amount": amount, "reason": "Community hero"});
        self.post(admin, &[Role::Admin], "/api/tokens/award", Some(key), body).await
    }

    pub async fn redeem(&self, user: Uuid, item: &str, key: &str) -> reqwest::Response {
        self.post(user, &[Role::Learner], "/api/tokens/redeem", Some(key), json!({"item": item})).await
    }

    pub async fn balance(&self, user: Uuid) -> Value {
        self.json(user, "/api/tokens/balance").await
    }

    pub async fn balance_of(&self, user: Uuid) -> i64 {
        self.balance(user).await["balance"].as_i64().unwrap()
    }

    /// Wait until `user`'s balance is `expected`.
    pub async fn wait_balance(&self, user: Uuid, expected: i64) {
        testkit::eventually(&format!("balance {expected}"), Duration::from_secs(15), || async move {
            (self.balance_of(user).await == expected).then_some(())
        })
        .await;
    }

    pub async fn conn(&self) -> platform::db::Pooled<'_> {
        self.svc.pool.get().await.unwrap()
    }

    /// The consistency check holds: every balance equals the sum of its ledger.
    pub async fn assert_books_balance(&self) {
        let mut conn = self.conn().await;
        let conn: &mut AsyncPgConnection = &mut conn;
        let bad = rewards::store::accounts::inconsistencies(conn).await.unwrap();
        assert!(bad.is_empty(), "balances disagree with the ledger: {bad:?}");
    }

    /// `rewards.tokens.awarded.v1` for `user` as written to the outbox, oldest first:
    /// (amount, balance_after) from each envelope's data.
    pub async fn awarded_events(&self, user: Uuid) -> Vec<(i64, i64)> {
        #[derive(diesel::QueryableByName)]
        struct Row {
            #[diesel(sql_type = diesel::sql_types::Text)]
            envelope: String,
        }
        let mut conn = self.conn().await;
        let conn: &mut AsyncPgConnection = &mut conn;
        let rows: Vec<Row> = diesel_async::RunQueryDsl::load(
            diesel::sql_query(
                "SELECT envelope FROM outbox WHERE event_type = 'rewards.tokens.awarded.v1' ORDER BY seq",
            ),
            conn,
        )
        .await
        .unwrap();
        rows.iter()
            .map(|r| serde_json::from_str::<Value>(&r.envelope).unwrap())
            .filter(|e| e["data"]["user_id"] == json!(user))
            .map(|e| (e["data"]["amount"].as_i64().unwrap(), e["data"]["balance_after"].as_i64().unwrap()))
            .collect()
    }

    /// The consumer's queue exists (events published now are routed to it).
    pub async fn wait_consumer(&self) {
        let queue = self.env.topology().queue("rewards");
        testkit::eventually("the rewards queue", Duration::from_secs(15), || {
            let queue = queue.clone();
            async move { testkit::bus::queue_depth(&queue).await }
        })
        .await;
    }

    /// Wait until the consumer has taken everything from its queue, then a little for commits.
    pub async fn wait_drained(&self) {
        let queue = self.env.topology().queue("rewards");
        testkit::eventually("the rewards queue to drain", Duration::from_secs(15), || {
            let queue = queue.clone();
            async move { (testkit::bus::queue_depth(&queue).await == Some(0)).then_some(()) }
        })
        .await;
        tokio::time::sleep(Duration::from_millis(300)).await;
    }

    pub async fn publish<E: DomainEvent>(&self, event: &E) -> CloudEvent {
        let envelope = CloudEvent::new(event, None).unwrap();
        testkit::bus::publish_raw(&self.env, &envelope).await;
        envelope
    }
}
