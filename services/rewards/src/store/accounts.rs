//! Balances and the ledger.

use super::schema::{token_balances, token_transactions};
use crate::domain::balance::Balance;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Nullable, Uuid as SqlUuid};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = token_balances)]
pub struct Account {
    pub user_id: Uuid,
    pub spendable: i64,
    pub debt: i64,
    pub balance: i64,
    pub lifetime_earned: i64,
    pub score_reached_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Account {
    pub fn state(&self) -> Balance {
        Balance { spendable: self.spendable, debt: self.debt }
    }
}

pub async fn find(conn: &mut AsyncPgConnection, user: Uuid) -> QueryResult<Option<Account>> {
    token_balances::table.find(user).select(Account::as_select()).first(conn).await.optional()
}

/// The user's account, created empty if needed, locked until the end of the transaction: every
/// credit and clawback of one user is serialised here.
pub async fn lock(conn: &mut AsyncPgConnection, user: Uuid, now: DateTime<Utc>) -> QueryResult<Account> {
    let locked = || token_balances::table.find(user).for_update().select(Account::as_select());
    // Most credits go to an account that exists: one statement. A new one is inserted (a racing
    // first credit's insert is waited for by the conflict) and then locked.
    if let Some(account) = locked().first(conn).await.optional()? {
        return Ok(account);
    }
    diesel::insert_into(token_balances::table)
        .values((
            token_balances::user_id.eq(user),
            token_balances::score_reached_at.eq(now),
            token_balances::updated_at.eq(now),
        ))
        .on_conflict_do_nothing()
        .execute(conn)
        .await?;
    locked().first(conn).await
}

/// Write a locked account's new state. `score` is `(lifetime_earned, reached_at)` when it changed.
pub async fn save(
    conn: &mut AsyncPgConnection,
    user: Uuid,
    state: Balance,
    score: Option<(i64, DateTime<Utc>)>,
    now: DateTime<Utc>,
) -> QueryResult<Account> {
    let target = token_balances::table.find(user);
    let values = (
        token_balances::spendable.eq(state.spendable),
        token_balances::debt.eq(state.debt),
        token_balances::updated_at.eq(now),
    );
    match score {
        Some((lifetime, at)) => {
            diesel::update(target)
                .set((values, token_balances::lifetime_earned.eq(lifetime), token_balances::score_reached_at.eq(at)))
                .returning(Account::as_returning())
                .get_result(conn)
                .await
        }
        None => diesel::update(target).set(values).returning(Account::as_returning()).get_result(conn).await,
    }
}

/// The guarded debit of a redemption: one statement that only succeeds while enough is spendable
/// (and, by the table's CHECK, no debt is owed). Concurrent redemptions queue on the row lock and
/// re-check the condition against the committed balance, so no two can spend the same tokens.
/// Returns the balance after, or `None` when there is not enough.
pub async fn debit(
    conn: &mut AsyncPgConnection,
    user: Uuid,
    cost: i64,
    now: DateTime<Utc>,
) -> QueryResult<Option<i64>> {
    diesel::update(
        token_balances::table
            .filter(token_balances::user_id.eq(user))
            .filter(token_balances::spendable.ge(cost))
            .filter(token_balances::debt.eq(0)),
    )
    .set((token_balances::spendable.eq(token_balances::spendable - cost), token_balances::updated_at.eq(now)))
    .returning(token_balances::balance)
    .get_result(conn)
    .await
    .optional()
}

#[derive(Debug, Clone, Queryable, Selectable, Serialize)]
#[diesel(table_name = token_transactions)]
pub struct Transaction {
    pub id: Uuid,
    pub user_id: Uuid,
    pub kind: String,
    pub amount: i64,
    pub reason: String,
    pub reference: Option<String>,
    pub source: String,
    pub idempotency_ref: String,
    pub rule: Option<String>,
    pub balance_after: i64,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = token_transactions)]
pub struct NewTransaction<'a> {
    pub id: Uuid,
    pub user_id: Uuid,
    pub kind: &'a str,
    pub amount: i64,
    pub reason: &'a str,
    pub reference: Option<&'a str>,
    pub source: &'a str,
    pub idempotency_ref: &'a str,
    pub rule: Option<&'a str>,
    pub balance_after: i64,
    pub created_at: DateTime<Utc>,
}

pub async fn insert(conn: &mut AsyncPgConnection, new: &NewTransaction<'_>) -> QueryResult<Transaction> {
    diesel::insert_into(token_transactions::table)
        .values(new)
        .returning(Transaction::as_returning())
        .get_result(conn)
        .await
}

/// The entry `source` already posted for `idempotency_ref`, if any.
pub async fn posted(
    conn: &mut AsyncPgConnection,
    source: &str,
    idempotency_ref: &str,
) -> QueryResult<Option<Transaction>> {
    token_transactions::table
        .filter(token_transactions::source.eq(source))
        .filter(token_transactions::idempotency_ref.eq(idempotency_ref))
        .select(Transaction::as_select())
        .first(conn)
        .await
        .optional()
}

/// Keyset position: newest first, ties broken by id.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Cursor {
    pub at: DateTime<Utc>,
    pub id: Uuid,
}

#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub kind: Option<String>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
}

/// One page of `user`'s ledger, newest first; fetches `limit + 1` to know if more exist.
pub async fn page(
    conn: &mut AsyncPgConnection,
    user: Uuid,
    filter: &Filter,
    after: Option<Cursor>,
    limit: i64,
) -> QueryResult<Vec<Transaction>> {
    use token_transactions as t;
    let mut query = t::table
        .filter(t::user_id.eq(user))
        .select(Transaction::as_select())
        .order((t::created_at.desc(), t::id.desc()))
        .limit(limit + 1)
        .into_boxed();
    if let Some(kind) = &filter.kind {
        query = query.filter(t::kind.eq(kind.clone()));
    }
    if let Some(from) = filter.from {
        query = query.filter(t::created_at.ge(from));
    }
    if let Some(to) = filter.to {
        query = query.filter(t::created_at.lt(to));
    }
    if let Some(c) = after {
        query = query.filter(t::created_at.lt(c.at).or(t::created_at.eq(c.at).and(t::id.lt(c.id))));
    }
    query.load(conn).await
}

/// An account whose stored numbers disagree with its ledger.
#[derive(Debug, Clone, PartialEq, Eq, QueryableByName)]
pub struct Mismatch {
    #[diesel(sql_type = SqlUuid)]
    pub user_id: Uuid,
    #[diesel(sql_type = Nullable<BigInt>)]
    pub balance: Option<i64>,
    #[diesel(sql_type = BigInt)]
    pub ledger_sum: i64,
    #[diesel(sql_type = Nullable<BigInt>)]
    pub lifetime_earned: Option<i64>,
    #[diesel(sql_type = BigInt)]
    pub ledger_earned: i64,
}

/// The consistency check: for every user, balance = sum of their ledger, and the global score =
/// everything earned or awarded minus clawbacks. Returns the users for whom it does not hold
/// (empty when the books agree). A full scan: for audits and tests, not for requests.
pub async fn inconsistencies(conn: &mut AsyncPgConnection) -> QueryResult<Vec<Mismatch>> {
    diesel::sql_query(
        "SELECT COALESCE(b.user_id, l.user_id) AS user_id, b.balance, COALESCE(l.total, 0)::bigint AS ledger_sum,
                b.lifetime_earned, COALESCE(l.earned, 0)::bigint AS ledger_earned
           FROM token_balances b
           FULL JOIN (SELECT user_id, sum(amount) AS total,
                             sum(amount) FILTER (WHERE kind IN ('earn', 'award', 'clawback')) AS earned
                        FROM token_transactions GROUP BY user_id) l ON l.user_id = b.user_id
          WHERE b.balance IS DISTINCT FROM COALESCE(l.total, 0)
             OR b.lifetime_earned IS DISTINCT FROM COALESCE(l.earned, 0)",
    )
    .load(conn)
    .await
}
