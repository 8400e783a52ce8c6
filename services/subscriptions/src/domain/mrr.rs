//! Monthly recurring revenue: what a subscription contributes, and how a change of its tier or
//! status moves MRR, in ChartMogul's terms (docs/api.md, "Subscriptions report"). Pure rules: the
//! store writes what [`movements`] returns in the transaction of the change.

use super::lifecycle::Status;
use rust_decimal::Decimal;

/// Which statuses are recurring revenue. `past_due` counts (Stripe and ChartMogul keep it in MRR
/// while the renewal is retried); `incomplete` has never paid, `paused` pays nothing until it
/// resumes (ChartMogul's treatment: churn at the pause, reactivation at the resume), `trialing`
/// pays nothing yet (Stripe: a trial enters MRR with its first successful charge), and
/// `canceled`/`incomplete_expired` pay no more.
pub fn is_recurring(status: Status) -> bool {
    matches!(status, Status::Active | Status::PastDue)
}

/// A subscription as MRR sees it: its tier, status, and the tier's monthly price.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Standing {
    pub tier: String,
    pub status: Status,
    /// What the customer pays per month: the tier's price less a recurring discount covering the
    /// period (Stripe's MRR is net of discounts); proration, one-off charges and `once`
    /// discounts are never MRR.
    pub monthly_price: Decimal,
    pub currency: String,
}

impl Standing {
    pub fn mrr(&self) -> Decimal {
        if is_recurring(self.status) {
            self.monthly_price
        } else {
            Decimal::ZERO
        }
    }

    fn state(&self) -> (String, Status) {
        (self.tier.clone(), self.status)
    }
}

/// The five MRR movements.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A first paying subscription of the customer.
    New,
    /// A paying subscription's MRR went up (an upgrade, once paid).
    Expansion,
    /// A paying subscription's MRR went down (a downgrade, when it takes effect at renewal).
    Contraction,
    /// A paying subscription stopped paying (canceled now or at the period end, dunning exhausted,
    /// refunded).
    Churn,
    /// A customer who had paid before and churned pays again.
    Reactivation,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::New => "new",
            Kind::Expansion => "expansion",
            Kind::Contraction => "contraction",
            Kind::Churn => "churn",
            Kind::Reactivation => "reactivation",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Kind::New, Kind::Expansion, Kind::Contraction, Kind::Churn, Kind::Reactivation]
            .into_iter()
            .find(|k| k.as_str() == s)
    }
}

/// One row of the history: a change of MRR in one currency, and the (tier, status) the
/// subscription left and entered (`None`: it did not exist, or left this currency).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Movement {
    pub currency: String,
    pub mrr_before: Decimal,
    pub mrr_after: Decimal,
    pub kind: Option<Kind>,
    pub from: Option<(String, Status)>,
    pub to: Option<(String, Status)>,
}

/// How MRR moves from `before` to `after` (`None`: a subscription just created).
/// `returning` tells whether the customer has paid before (a start is then a reactivation).
fn classify(before: Decimal, after: Decimal, returning: bool) -> Option<Kind> {
    if before == after {
        None
    } else if before.is_zero() {
        Some(if returning { Kind::Reactivation } else { Kind::New })
    } else if after.is_zero() {
        Some(Kind::Churn)
    } else if after > before {
        Some(Kind::Expansion)
    } else {
        Some(Kind::Contraction)
    }
}

/// Whether a change from `before` to `after` starts paying: only then does the caller need to know
/// whether the customer is returning.
pub fn starts_paying(before: Option<&Standing>, after: &Standing) -> bool {
    before.is_none_or(|b| b.mrr().is_zero()) && !after.mrr().is_zero()
}

/// The history rows for a subscription going from `before` to `after`: none when neither its
/// state nor its MRR changed (a flag such as `cancel_at_period_end`, a renewal at the same tier);
/// two when it changed currency (churn in the old one, a start in the new one), so MRR is never
/// moved across currencies; one otherwise.
pub fn movements(before: Option<&Standing>, after: &Standing, returning: bool) -> Vec<Movement> {
    let Some(before) = before else {
        return vec![Movement {
            currency: after.currency.clone(),
            mrr_before: Decimal::ZERO,
            mrr_after: after.mrr(),
            kind: classify(Decimal::ZERO, after.mrr(), returning),
            from: None,
            to: Some(after.state()),
        }];
    };
    if before.currency != after.currency {
        let left = Movement {
            currency: before.currency.clone(),
            mrr_before: before.mrr(),
            mrr_after: Decimal::ZERO,
            kind: classify(before.mrr(), Decimal::ZERO, false),
            from: Some(before.state()),
            to: None,
        };
        let returning = returning || !before.mrr().is_zero();
        let entered = Movement {
            currency: after.currency.clone(),
            mrr_before: Decimal::ZERO,
            mrr_after: after.mrr(),
            kind: classify(Decimal::ZERO, after.mrr(), returning),
            from: None,
            to: Some(after.state()),
        };
        return vec![left, entered];
    }
    if before.state() == after.state() && before.mrr() == after.mrr() {
        return Vec::new();
    }
    vec![Movement {
        currency: after.currency.clone(),
        mrr_before: before.mrr(),
        mrr_after: after.mrr(),
        kind: classify(before.mrr(), after.mrr(), returning),
        from: Some(before.state()),
        to: Some(after.state()),
    }]
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).expect("decimal")
    }

    fn standing(tier: &str, status: Status) -> Standing {
        let price = match tier {
            "pro" => d("9.99"),
            "enterprise" => d("99"),
            _ => Decimal::ZERO,
        };
        Standing { tier: tier.into(), status, monthly_price: price, currency: "USD".into() }
    }

    fn kinds(before: Option<Standing>, after: Standing, returning: bool) -> Vec<Option<Kind>> {
        movements(before.as_ref(), &after, returning).into_iter().map(|m| m.kind).collect()
    }

    #[test]
    fn only_active_and_past_due_are_recurring() {
        assert_eq!(standing("pro", Status::Active).mrr(), d("9.99"));
        assert_eq!(standing("pro", Status::PastDue).mrr(), d("9.99"));
        for s in [Status::Incomplete, Status::IncompleteExpired, Status::Canceled] {
            assert_eq!(standing("pro", s).mrr(), Decimal::ZERO, "{s:?}");
        }
    }

    #[test]
    fn a_created_subscription_is_history_without_mrr_until_it_pays() {
        let m = movements(None, &standing("pro", Status::Incomplete), false);
        assert_eq!(m.len(), 1);
        assert_eq!((m[0].kind, m[0].mrr_after, m[0].from.clone()), (None, Decimal::ZERO, None));
        assert_eq!(m[0].to, Some(("pro".into(), Status::Incomplete)));
    }

    #[test]
    fn starting_to_pay_is_new_or_a_reactivation() {
        let pending = Some(standing("pro", Status::Incomplete));
        assert_eq!(kinds(pending.clone(), standing("pro", Status::Active), false), vec![Some(Kind::New)]);
        assert_eq!(kinds(pending, standing("pro", Status::Active), true), vec![Some(Kind::Reactivation)]);
        assert!(starts_paying(Some(&standing("pro", Status::Incomplete)), &standing("pro", Status::Active)));
        assert!(!starts_paying(Some(&standing("pro", Status::PastDue)), &standing("pro", Status::Active)));
    }

    #[test]
    fn tier_changes_of_a_paying_subscription_expand_or_contract() {
        let m = movements(Some(&standing("pro", Status::Active)), &standing("enterprise", Status::Active), true);
        assert_eq!((m[0].kind, m[0].mrr_before, m[0].mrr_after), (Some(Kind::Expansion), d("9.99"), d("99")));
        let m = movements(Some(&standing("enterprise", Status::PastDue)), &standing("pro", Status::Active), true);
        assert_eq!(m[0].kind, Some(Kind::Contraction));
    }

    #[test]
    fn stopping_to_pay_is_churn_and_dunning_moves_no_mrr() {
        assert_eq!(
            kinds(Some(standing("pro", Status::Active)), standing("pro", Status::Canceled), true),
            vec![Some(Kind::Churn)]
        );
        assert_eq!(
            kinds(Some(standing("pro", Status::PastDue)), standing("pro", Status::Canceled), true),
            vec![Some(Kind::Churn)]
        );
        // A failed renewal and its recovery change the status only.
        assert_eq!(kinds(Some(standing("pro", Status::Active)), standing("pro", Status::PastDue), false), vec![None]);
        assert_eq!(kinds(Some(standing("pro", Status::PastDue)), standing("pro", Status::Active), false), vec![None]);
        // An unpaid subscription closing moves no MRR either.
        assert_eq!(
            kinds(Some(standing("pro", Status::Incomplete)), standing("pro", Status::IncompleteExpired), false),
            vec![None]
        );
    }

    #[test]
    fn a_pause_moves_mrr_out_and_the_resume_back_in() {
        assert_eq!(standing("pro", Status::Paused).mrr(), Decimal::ZERO);
        // A trial is not MRR; its first charge makes it new MRR.
        assert_eq!(standing("pro", Status::Trialing).mrr(), Decimal::ZERO);
        let m = movements(Some(&standing("pro", Status::Trialing)), &standing("pro", Status::Active), false);
        assert_eq!(m[0].kind, Some(Kind::New));
        let m = movements(Some(&standing("pro", Status::Active)), &standing("pro", Status::Paused), true);
        assert_eq!((m[0].kind, m[0].mrr_before, m[0].mrr_after), (Some(Kind::Churn), d("9.99"), Decimal::ZERO));
        assert!(starts_paying(Some(&standing("pro", Status::Paused)), &standing("pro", Status::Active)));
        let m = movements(Some(&standing("pro", Status::Paused)), &standing("pro", Status::Active), true);
        assert_eq!((m[0].kind, m[0].mrr_after), (Some(Kind::Reactivation), d("9.99")));
    }

    #[test]
    fn nothing_is_written_when_nothing_changed() {
        assert!(movements(Some(&standing("pro", Status::Active)), &standing("pro", Status::Active), true).is_empty());
    }

    #[test]
    fn a_change_of_currency_churns_in_one_and_starts_in_the_other() {
        let eur = Standing { currency: "EUR".into(), monthly_price: d("9"), ..standing("pro", Status::Active) };
        let m = movements(Some(&standing("enterprise", Status::Active)), &eur, false);
        assert_eq!(m.len(), 2);
        assert_eq!((m[0].currency.as_str(), m[0].kind, m[0].to.clone()), ("USD", Some(Kind::Churn), None));
        assert_eq!((m[1].currency.as_str(), m[1].kind, m[1].from.clone()), ("EUR", Some(Kind::Reactivation), None));
    }
}
