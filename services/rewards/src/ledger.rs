//! Posting to the ledger: every balance change is one ledger entry, the balance and leaderboard
//! updates it implies, and its event, all inside the caller's transaction. Routes and event
//! handlers go through here; nothing else writes balances or scores.

use crate::domain::week::IsoWeek;
use crate::store::accounts::{self, NewTransaction, Transaction};
use crate::store::catalog::{Item, Voucher};
use crate::store::credit::{self, Posting};
use crate::store::leaderboard::{self, Board};
use chrono::{DateTime, Duration, SubsecRound, Utc};
use diesel::QueryResult;
use diesel_async::AsyncPgConnection;
use events::catalog::rewards::{TokensAwarded, TokensClawedBack, TokensRedeemed};
use platform::code_hash::CodeHasher;
use uuid::Uuid;

pub const EARN: &str = "earn";
pub const AWARD: &str = "award";
pub const REDEEM: &str = "redeem";
pub const CLAWBACK: &str = "clawback";
/// Reserved for token expiry, which no rule uses yet.
pub const EXPIRE: &str = "expire";
pub const KINDS: [&str; 5] = [EARN, AWARD, REDEEM, CLAWBACK, EXPIRE];

/// `source` values: who caused an entry. With `idempotency_ref` they are unique.
pub const SOURCE_ADMIN: &str = "admin";
pub const SOURCE_REDEMPTION: &str = "redemption";

/// Tokens credited: by an admin ([`award`]) or by an earning rule ([`earn`]), which decide the
/// entry's kind and rule.
pub struct Credit<'a> {
    pub user: Uuid,
    pub amount: i64,
    pub reason: &'a str,
    pub reference: Option<&'a str>,
    pub source: &'a str,
    pub idempotency_ref: &'a str,
}

/// An admin's award ([`AWARD`], no rule): balance (repaying clawback debt first), global and
/// weekly scores, ledger entry, `rewards.tokens.awarded.v1`. `None` when `source` already posted
/// `idempotency_ref`. The credit itself is one round trip (`store::credit::credit_tokens`); a
/// concurrent post of the same reference fails it on the ledger's unique (source, idempotency_ref).
pub async fn award(
    conn: &mut AsyncPgConnection,
    now: DateTime<Utc>,
    c: &Credit<'_>,
) -> QueryResult<Option<Transaction>> {
    if accounts::posted(conn, c.source, c.idempotency_ref).await?.is_some() {
        return Ok(None);
    }
    let event = awarded(now, AWARD, None, c);
    let balance_after = credit::credit_tokens(conn, &event, &posting(c)).await?;
    Ok(Some(Transaction {
        id: event.transaction_id,
        user_id: event.user_id,
        kind: event.kind,
        amount: event.amount,
        reason: event.reason,
        reference: event.reference,
        source: c.source.to_string(),
        idempotency_ref: c.idempotency_ref.to_string(),
        rule: event.rule,
        balance_after,
        created_at: event.awarded_at,
    }))
}

/// An occurrence of the earning rule `rule` ([`EARN`]; `c.amount` is what the rule asks for):
/// credited once per (source, idempotency_ref), within `daily_cap` tokens a UTC day. `None` when
/// already posted; else the tokens granted (0 when the cap left nothing). One round trip:
/// `store::credit::earn_once`.
pub async fn earn(
    conn: &mut AsyncPgConnection,
    now: DateTime<Utc>,
    rule: &str,
    c: &Credit<'_>,
    daily_cap: Option<i64>,
) -> QueryResult<Option<i64>> {
    credit::earn_once(conn, &awarded(now, EARN, Some(rule), c), &posting(c), daily_cap).await
}

fn posting<'a>(c: &Credit<'a>) -> Posting<'a> {
    Posting { source: c.source, idempotency_ref: c.idempotency_ref }
}

/// The credit's event before the statement sets what the account decides: `balance_after`, and
/// for an earning the `amount` its daily cap allows. The statement writes the ledger entry from
/// it. Its time is cut to the microsecond the database keeps, so the entry, its event and the
/// answer show the same instant.
fn awarded(now: DateTime<Utc>, kind: &str, rule: Option<&str>, c: &Credit<'_>) -> TokensAwarded {
    TokensAwarded {
        transaction_id: Uuid::now_v7(),
        user_id: c.user,
        kind: kind.to_string(),
        amount: c.amount,
        rule: rule.map(str::to_string),
        reason: c.reason.to_string(),
        reference: c.reference.map(str::to_string),
        balance_after: 0,
        awarded_at: now.trunc_subsecs(6),
    }
}

/// Tokens taken back because what earned them was undone.
pub struct Clawback<'a> {
    pub user: Uuid,
    pub amount: i64,
    pub reason: &'a str,
    pub reference: Option<&'a str>,
    pub source: &'a str,
    pub idempotency_ref: &'a str,
    /// The week the tokens were earned in: that week's score loses them.
    pub earned_week: IsoWeek,
}

/// Take tokens back: from the spendable balance, the rest as debt (the only way a balance goes
/// negative); the global score and the earning week's score drop too.
pub async fn claw_back(
    conn: &mut AsyncPgConnection,
    now: DateTime<Utc>,
    c: &Clawback<'_>,
) -> QueryResult<Option<Transaction>> {
    if accounts::posted(conn, c.source, c.idempotency_ref).await?.is_some() {
        return Ok(None);
    }
    let account = accounts::lock(conn, c.user, now).await?;
    let state = account.state().claw_back(c.amount);
    let score = crate::domain::balance::score_after(account.lifetime_earned, -c.amount);
    accounts::save(conn, c.user, state, Some((score, now)), now).await?;
    let (old, new) = leaderboard::add_weekly(conn, c.earned_week, c.user, -c.amount, now).await?;
    leaderboard::move_in_histograms(
        conn,
        &[(Board::Global, account.lifetime_earned, score), (Board::Week(c.earned_week), old, new)],
    )
    .await?;
    let tx = accounts::insert(
        conn,
        &NewTransaction {
            id: Uuid::now_v7(),
            user_id: c.user,
            kind: CLAWBACK,
            amount: -c.amount,
            reason: c.reason,
            reference: c.reference,
            source: c.source,
            idempotency_ref: c.idempotency_ref,
            rule: None,
            balance_after: state.signed(),
            created_at: now,
        },
    )
    .await?;
    events::outbox::enqueue(
        conn,
        &TokensClawedBack {
            transaction_id: tx.id,
            user_id: tx.user_id,
            amount: c.amount,
            reason: tx.reason.clone(),
            reference: tx.reference.clone(),
            balance_after: tx.balance_after,
            clawed_back_at: now,
        },
    )
    .await?;
    Ok(Some(tx))
}

/// A redemption of `item`, ready to be written as one statement (`store::redeem`): everything that
/// does not depend on the debit. The event's `balance_after` is set by the statement.
pub struct Redemption {
    pub redemption_id: Uuid,
    pub transaction_id: Uuid,
    /// The voucher row (its code's hash and prefix only) and the code itself: the only time the
    /// code exists outside the buyer's hands is the answer that issues it.
    pub voucher: Option<(Voucher, String)>,
    pub event: TokensRedeemed,
}

/// Spending is not losing: scores are untouched, so a redemption is one guarded debit, its ledger
/// entry, the redemption, a voucher for voucher items and `rewards.tokens.redeemed.v1`.
pub fn redemption(
    now: DateTime<Utc>,
    user: Uuid,
    item: &Item,
    voucher_valid_days: i64,
    codes: &CodeHasher,
) -> Redemption {
    let redemption_id = Uuid::now_v7();
    let transaction_id = Uuid::now_v7();
    let voucher = match (item.voucher_discount, &item.voucher_currency) {
        (Some(discount), Some(currency)) => {
            let code = crate::domain::voucher::generate();
            let v = Voucher {
                code_hash: codes.hash(&code),
                code_prefix: crate::domain::voucher::prefix(&code),
                redemption_id,
                user_id: user,
                discount,
                currency: currency.trim().to_string(),
                status: "issued".into(),
                issued_at: now,
                expires_at: now + Duration::days(voucher_valid_days),
                consumed_at: None,
                purchase_id: None,
                reserved_at: None,
            };
            Some((v, code))
        }
        _ => None,
    };
    let event = TokensRedeemed {
        redemption_id,
        user_id: user,
        item: item.item.clone(),
        cost: item.cost,
        transaction_id,
        balance_after: 0,
        redeemed_at: now,
    };
    Redemption { redemption_id, transaction_id, voucher, event }
}
