//! A balance is `spendable - debt`. Redemptions only lower `spendable` (never below zero); only a
//! clawback creates `debt`, and every credit repays debt first (in the statement that credits:
//! migration 2026-12-16-100001_credit_tokens). So the one way to a negative balance is a clawback
//! of tokens already spent, and while it lasts nothing can be redeemed.

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Balance {
    pub spendable: i64,
    pub debt: i64,
}

impl Balance {
    /// The signed balance: the sum of the ledger.
    pub fn signed(&self) -> i64 {
        self.spendable - self.debt
    }

    /// After taking back `amount` (> 0): from what is spendable, the rest becomes debt.
    pub fn claw_back(self, amount: i64) -> Balance {
        let taken = amount.min(self.spendable);
        Balance { spendable: self.spendable - taken, debt: self.debt + amount - taken }
    }

    pub fn can_redeem(&self, cost: i64) -> bool {
        self.debt == 0 && self.spendable >= cost
    }
}

/// A leaderboard score after a change: never below zero.
pub fn score_after(score: i64, delta: i64) -> i64 {
    (score + delta).max(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clawback_takes_spendable_then_goes_into_debt() {
        let b = Balance { spendable: 10, debt: 0 };
        assert_eq!(b.claw_back(4), Balance { spendable: 6, debt: 0 });
        assert_eq!(b.claw_back(25), Balance { spendable: 0, debt: 15 });
        assert_eq!(b.claw_back(25).signed(), -15);
        assert!(!b.claw_back(25).can_redeem(1));
    }

    #[test]
    fn redemption_needs_enough_and_no_debt() {
        let b = Balance { spendable: 10, debt: 0 };
        assert!(b.can_redeem(10));
        assert!(!b.can_redeem(11));
        assert!(!Balance { spendable: 0, debt: 1 }.can_redeem(1));
    }

    #[test]
    fn scores_floor_at_zero() {
        assert_eq!(score_after(10, -4), 6);
        assert_eq!(score_after(3, -4), 0);
        assert_eq!(score_after(3, 4), 7);
    }
}
