use super::PROBLEM;
use crate::operations::price;
use crate::store::tiers;
use crate::State;
use actix_web::{web, HttpResponse};
use platform::money::{Currency, Money};
use platform::Problem;
use serde::Serialize;

#[derive(Serialize, utoipa::ToSchema)]
pub struct TierView {
    /// `free`, `pro`, `enterprise`, ...: what `POST /api/subscriptions` takes.
    code: String,
    name: String,
    /// Per `interval`, in the tier's default currency (what a subscribe without `currency` is billed in).
    price: Money,
    /// Every currency the tier is sold in (USD, EUR, GBP, BRL), per `interval`.
    prices: Vec<Money>,
    /// Always `month`.
    #[schema(example = "month")]
    interval: &'static str,
    /// The features the tier unlocks (as checked by `GET /api/features/{feature}`).
    features: Vec<String>,
    /// Days of free trial a user's first subscription to this tier gets (0: none).
    #[schema(example = 14)]
    trial_days: i32,
    /// `card_required` (a saved default card is needed to start the trial; it is charged at the
    /// trial's end) or `no_card` (nothing needed; without a card by the end, the subscription ends).
    #[schema(example = "card_required")]
    trial_mode: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct TierList {
    data: Vec<TierView>,
}

/// Every tier, Free included, lowest rank first. Cacheable for five minutes.
#[utoipa::path(get, path = "/api/subscriptions/tiers", tag = "subscriptions", operation_id = "listTiers", security(()),
    responses((status = 200, body = TierList,
            headers(("Cache-Control" = String, description = "public, max-age=300"))),
        (status = 401, body = Problem, content_type = PROBLEM, description = "unauthorized: a token was sent and is not valid"),
        (status = 503, body = Problem, content_type = PROBLEM, description = "unavailable")))]
pub async fn list(state: web::Data<State>) -> Result<HttpResponse, Problem> {
    let mut conn = state.pool.get().await?;
    let features = tiers::features(&mut conn).await?;
    let prices = tiers::prices(&mut conn).await?;
    let data = tiers::all(&mut conn)
        .await?
        .into_iter()
        .map(|t| {
            let prices = prices
                .iter()
                .filter(|(tier, _, _)| *tier == t.code)
                .map(|(_, currency, amount)| {
                    let currency: Currency = currency.trim().parse().map_err(Problem::internal)?;
                    Ok(Money::round(*amount, currency))
                })
                .collect::<Result<Vec<_>, Problem>>()?;
            Ok(TierView {
                price: price(&t)?,
                prices,
                features: features.iter().filter(|(tier, _)| *tier == t.code).map(|(_, f)| f.clone()).collect(),
                trial_days: t.trial_days,
                trial_mode: t.trial_mode,
                code: t.code,
                name: t.name,
                interval: "month",
            })
        })
        .collect::<Result<Vec<_>, crate::error::SubscriptionError>>()?;
    Ok(HttpResponse::Ok().insert_header(("Cache-Control", "public, max-age=300")).json(TierList { data }))
}
