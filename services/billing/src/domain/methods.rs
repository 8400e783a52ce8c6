//! Which saved card may be removed. Removing a card must never leave a subscriber without a card
//! by accident: the default card (the one renewals charge) can go only once another card is the
//! default, or, when it is the customer's last card, only if they say so (`allow_no_default`);
//! their next renewal then fails with `no_saved_payment_method` and dunning runs as for a decline.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Removal {
    /// Not the default: it just goes.
    Remove,
    /// The last card, which was the default: it goes and the customer has no default any more.
    RemoveAndClearDefault,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Other cards exist: make one of them the default first.
    IsDefault,
    /// The only card: removing it needs `allow_no_default=true`.
    LastCard,
}

/// `others`: how many other cards the customer has saved.
pub fn removal(is_default: bool, others: usize, allow_no_default: bool) -> Result<Removal, Refusal> {
    match (is_default, others, allow_no_default) {
        (false, _, _) => Ok(Removal::Remove),
        (true, 0, true) => Ok(Removal::RemoveAndClearDefault),
        (true, 0, false) => Err(Refusal::LastCard),
        (true, _, _) => Err(Refusal::IsDefault),
    }
}

/// Whether a card saved through a SetupIntent becomes the default: when asked, or when the
/// customer has none (a first card is always the one renewals charge).
pub fn becomes_default(make_default: bool, has_default: bool) -> bool {
    make_default || !has_default
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_card_that_is_not_the_default_always_goes() {
        for others in [0, 1, 5] {
            assert_eq!(removal(false, others, false), Ok(Removal::Remove));
        }
    }

    #[test]
    fn the_default_goes_only_when_nothing_is_left_silently_without_a_card() {
        assert_eq!(removal(true, 1, false), Err(Refusal::IsDefault));
        assert_eq!(removal(true, 1, true), Err(Refusal::IsDefault), "choose another default instead");
        assert_eq!(removal(true, 0, false), Err(Refusal::LastCard));
        assert_eq!(removal(true, 0, true), Ok(Removal::RemoveAndClearDefault));
    }

    #[test]
    fn a_first_card_is_the_default() {
        assert!(becomes_default(false, false));
        assert!(becomes_default(true, true));
        assert!(!becomes_default(false, true));
    }
}
