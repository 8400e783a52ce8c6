use crate::operations::price;
use crate::store::tiers;
use crate::State;
use actix_web::{web, HttpResponse};
use platform::money::Money;
use platform::Problem;
use serde::Serialize;

#[derive(Serialize)]
struct TierView {
    code: String,
    name: String,
    price: Money,
    interval: &'static str,
    features: Vec<String>,
}

/// `GET /api/subscriptions/tiers` (public).
pub async fn list(state: web::Data<State>) -> Result<HttpResponse, Problem> {
    let mut conn = state.pool.get().await?;
    let features = tiers::features(&mut conn).await?;
    let data = tiers::all(&mut conn)
        .await?
        .into_iter()
        .map(|t| {
            Ok(TierView {
                price: price(&t)?,
                features: features.iter().filter(|(tier, _)| *tier == t.code).map(|(_, f)| f.clone()).collect(),
                code: t.code,
                name: t.name,
                interval: "month",
            })
        })
        .collect::<Result<Vec<_>, crate::error::SubscriptionError>>()?;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "public, max-age=300"))
        .json(serde_json::json!({ "data": data })))
}
