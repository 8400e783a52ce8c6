//! Reading one's tokens: balance, ledger history, and the catalogue of what they buy.

use super::PROBLEM;
use crate::ledger::KINDS;
use crate::store::{accounts, catalog};
use crate::State;
use actix_web::{web, HttpResponse};
use chrono::{DateTime, Utc};
use platform::auth::Principal;
use platform::http::Query;
use platform::money::Money;
use platform::pagination::{Page, PageQuery};
use platform::problem::FieldError;
use platform::Problem;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct OwnerQuery {
    /// Admins only: whose tokens.
    pub user_id: Option<Uuid>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct BalanceView {
    pub user_id: Uuid,
    /// The ledger sum; negative only after a clawback of tokens already spent.
    pub balance: i64,
    /// What can be redeemed now (0 while the balance is negative).
    pub spendable: i64,
    /// Tokens earned or awarded all time minus clawbacks: the global leaderboard score.
    pub lifetime_earned: i64,
}

/// The caller's token balance (admins: anyone's).
#[utoipa::path(get, path = "/api/tokens/balance", tag = "rewards", operation_id = "getTokenBalance",
    security(("bearer" = [])), params(OwnerQuery),
    responses((status = 200, body = BalanceView),
        (status = 401, body = Problem, content_type = PROBLEM, description = "unauthorized"),
        (status = 403, body = Problem, content_type = PROBLEM, description = "forbidden: `user_id` given by a non-admin, or the caller is not a user"),
        (status = 422, body = Problem, content_type = PROBLEM, description = "validation_failed (query)")))]
pub async fn balance(
    state: web::Data<State>,
    principal: Principal,
    http: actix_web::HttpRequest,
    q: Query<OwnerQuery>,
) -> Result<HttpResponse, Problem> {
    let user = super::audited_subject(&state.pool, &http, &principal, q.user_id, "token_balance").await?;
    let mut conn = state.pool.get().await?;
    let view = match accounts::find(&mut conn, user).await? {
        Some(a) => BalanceView {
            user_id: user,
            balance: a.balance,
            spendable: a.spendable,
            lifetime_earned: a.lifetime_earned,
        },
        None => BalanceView { user_id: user, balance: 0, spendable: 0, lifetime_earned: 0 },
    };
    Ok(HttpResponse::Ok().json(view))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct TransactionsQuery {
    /// Page size, 1-100 (default 20).
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// earn | award | redeem | clawback | expire
    pub kind: Option<String>,
    /// Entries at or after this instant (RFC 3339).
    pub from: Option<DateTime<Utc>>,
    /// Entries before this instant (RFC 3339).
    pub to: Option<DateTime<Utc>>,
    /// Admins only: whose ledger.
    pub user_id: Option<Uuid>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TransactionView {
    pub id: Uuid,
    /// earn | award | redeem | clawback | expire
    pub kind: String,
    /// Signed: credits positive, debits negative.
    pub amount: i64,
    pub reason: String,
    pub reference: Option<String>,
    pub balance_after: i64,
    pub created_at: DateTime<Utc>,
}

impl From<accounts::Transaction> for TransactionView {
    fn from(t: accounts::Transaction) -> Self {
        Self {
            id: t.id,
            kind: t.kind,
            amount: t.amount,
            reason: t.reason,
            reference: t.reference,
            balance_after: t.balance_after,
            created_at: t.created_at,
        }
    }
}

/// The caller's token ledger, newest first, optionally filtered by kind and time.
#[utoipa::path(get, path = "/api/tokens/transactions", tag = "rewards", operation_id = "listTokenTransactions",
    security(("bearer" = [])), params(TransactionsQuery),
    responses((status = 200, body = Page<TransactionView>),
        (status = 401, body = Problem, content_type = PROBLEM, description = "unauthorized"),
        (status = 403, body = Problem, content_type = PROBLEM, description = "forbidden: `user_id` given by a non-admin, or the caller is not a user"),
        (status = 422, body = Problem, content_type = PROBLEM, description = "validation_failed (`kind`, `to` before `from`); invalid_cursor (`cursor`)")))]
pub async fn transactions(
    state: web::Data<State>,
    principal: Principal,
    http: actix_web::HttpRequest,
    q: Query<TransactionsQuery>,
) -> Result<HttpResponse, Problem> {
    let q = q.into_inner();
    let user = super::audited_subject(&state.pool, &http, &principal, q.user_id, "token_ledger").await?;
    let mut errors = Vec::new();
    if q.kind.as_deref().is_some_and(|k| !KINDS.contains(&k)) {
        errors.push(FieldError { field: "kind".into(), message: format!("must be one of {}", KINDS.join(", ")) });
    }
    if let (Some(from), Some(to)) = (q.from, q.to) {
        if from > to {
            errors.push(FieldError { field: "to".into(), message: "must not be before `from`".into() });
        }
    }
    if !errors.is_empty() {
        return Err(Problem::validation(errors));
    }
    let page = PageQuery { limit: q.limit, cursor: q.cursor };
    let filter = accounts::Filter { kind: q.kind, from: q.from, to: q.to };
    let mut conn = state.pool.get().await?;
    let rows = accounts::page(&mut conn, user, &filter, page.cursor()?, page.limit()).await?;
    let page = Page::from_rows(rows, page.limit(), |t| accounts::Cursor { at: t.created_at, id: t.id });
    let data: Vec<TransactionView> = page.data.into_iter().map(Into::into).collect();
    Ok(HttpResponse::Ok().json(Page { data, next_cursor: page.next_cursor }))
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CatalogItemView {
    /// What `POST /api/tokens/redeem` takes.
    pub item: String,
    pub title: String,
    pub cost: i64,
    /// For vouchers: what the voucher takes off a course price.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub voucher_value: Option<Money>,
}

pub fn voucher_value(amount: Option<rust_decimal::Decimal>, currency: Option<&str>) -> Result<Option<Money>, Problem> {
    match (amount, currency) {
        (Some(amount), Some(currency)) => {
            let currency = currency.trim().parse().map_err(Problem::internal)?;
            Ok(Some(Money::round(amount, currency)))
        }
        _ => Ok(None),
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CatalogList {
    pub data: Vec<CatalogItemView>,
}

/// What tokens can be redeemed for, and at what cost.
#[utoipa::path(get, path = "/api/tokens/catalog", tag = "rewards", operation_id = "listTokenCatalog",
    security(("bearer" = [])),
    responses((status = 200, body = CatalogList),
        (status = 401, body = Problem, content_type = PROBLEM, description = "unauthorized")))]
pub async fn catalog(state: web::Data<State>, _principal: Principal) -> Result<HttpResponse, Problem> {
    let mut conn = state.pool.get().await?;
    let items = catalog::active_items(&mut conn).await?;
    let data = items
        .into_iter()
        .map(|i| {
            Ok(CatalogItemView {
                voucher_value: voucher_value(i.voucher_discount, i.voucher_currency.as_deref())?,
                item: i.item,
                title: i.title,
                cost: i.cost,
            })
        })
        .collect::<Result<Vec<_>, Problem>>()?;
    Ok(HttpResponse::Ok().json(CatalogList { data }))
}
