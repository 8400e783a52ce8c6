//! The revenue split of a sale and its reversal on refunds.
//!
//! One rule for both: `instructor = round_half_even(amount * rate, minor unit)` and
//! `platform = amount - instructor`. A refund reverses the rule applied to the *cumulative*
//! refunded amount, minus what earlier refunds already reversed, so partial refunds always add up
//! to exactly the booked shares once the whole price is refunded, and never exceed them.

use platform::money::{Currency, Money};
use rust_decimal::Decimal;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shares {
    pub instructor: Money,
    pub platform: Money,
}

impl Shares {
    pub fn zero(currency: Currency) -> Self {
        Self { instructor: Money::zero(currency), platform: Money::zero(currency) }
    }

    /// `self - other`, share by share.
    pub fn minus(&self, other: &Shares) -> Shares {
        let c = self.instructor.currency;
        Shares {
            instructor: Money::round(self.instructor.amount - other.instructor.amount, c),
            platform: Money::round(self.platform.amount - other.platform.amount, c),
        }
    }
}

/// Split `gross` at `rate` (the instructor's fraction, 0..=1).
pub fn split(gross: Money, rate: Decimal) -> Shares {
    let currency = gross.currency;
    let instructor = Money::round(gross.amount * rate, currency);
    Shares { instructor, platform: Money::round(gross.amount - instructor.amount, currency) }
}

/// The split of a sale the platform discounted (a reward voucher): the instructor earns `rate` of
/// the LIST price as if no voucher were used; the platform's share is what was paid minus that,
/// so it absorbs the discount and is negative when the discount exceeds its cut.
pub fn split_discounted(list: Money, rate: Decimal, paid: Money) -> Shares {
    let instructor = split(list, rate).instructor;
    Shares { instructor, platform: Money::round(paid.amount - instructor.amount, list.currency) }
}

/// The list price net of tax, for the split of a discounted sale. Billing computes tax on what it
/// charges (`paid`) and reports its net: an exclusive tax leaves `net == paid` (the list price is
/// already net); an inclusive one takes the same fraction out of every amount, so the list price
/// loses it too. Nothing charged (a voucher covering the price) means no tax was computed.
pub fn net_list(list: Money, paid: Money, net: Money) -> Money {
    if paid.amount <= Decimal::ZERO || net.amount >= paid.amount {
        return list;
    }
    Money::round(list.amount * net.amount / paid.amount, list.currency)
}

/// The reversal a refund of a discounted sale adds: each booked share in proportion to the part of
/// the PAID amount refunded so far (cumulative), minus what earlier refunds reversed. A full refund
/// reverses exactly the booked shares, the platform's negative share included (by a negative
/// amount); each refund's two reversals sum to the money it gives back.
pub fn paid_reversal(paid: Money, booked: &Shares, refunded_total: Decimal, already: &Shares) -> Shares {
    let currency = paid.currency;
    let target = if refunded_total >= paid.amount {
        *booked
    } else if refunded_total <= Decimal::ZERO || paid.amount <= Decimal::ZERO {
        Shares::zero(currency)
    } else {
        let instructor = Money::round(booked.instructor.amount * refunded_total / paid.amount, currency);
        let instructor = Money::round(instructor.amount.clamp(Decimal::ZERO, booked.instructor.amount), currency);
        Shares { instructor, platform: Money::round(refunded_total - instructor.amount, currency) }
    };
    let delta = target.minus(already);
    Shares { instructor: Money::round(delta.instructor.amount.max(Decimal::ZERO), currency), platform: delta.platform }
}

/// What must have been reversed in total once `refunded_total` of `gross` is refunded.
pub fn cumulative_reversal(gross: Money, rate: Decimal, booked: &Shares, refunded_total: Decimal) -> Shares {
    let currency = gross.currency;
    if refunded_total >= gross.amount {
        return *booked;
    }
    if refunded_total <= Decimal::ZERO {
        return Shares::zero(currency);
    }
    let instructor =
        Money::round(refunded_total * rate, currency).amount.clamp(Decimal::ZERO, booked.instructor.amount);
    // Rounding is monotone and `rate <= 1`, so this stays within 0..=booked; the clamp only guards
    // against a booked split that did not come from `split`.
    let platform = (refunded_total - instructor).clamp(Decimal::ZERO, booked.platform.amount);
    Shares { instructor: Money::round(instructor, currency), platform: Money::round(platform, currency) }
}

/// The reversal this refund adds, given the cumulative refunded total after it and what earlier
/// refunds already reversed. Never negative.
pub fn reversal(gross: Money, rate: Decimal, booked: &Shares, refunded_total: Decimal, already: &Shares) -> Shares {
    let target = cumulative_reversal(gross, rate, booked, refunded_total);
    let currency = gross.currency;
    let delta = target.minus(already);
    Shares {
        instructor: Money::round(delta.instructor.amount.max(Decimal::ZERO), currency),
        platform: Money::round(delta.platform.amount.max(Decimal::ZERO), currency),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).expect("decimal")
    }

    fn usd(s: &str) -> Money {
        Money::new(d(s), Currency::USD).expect("money")
    }

    /// A tiny deterministic PRNG (SplitMix64): reproducible "random" cases without a dependency.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        }
        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }
    }

    fn rates() -> Vec<Decimal> {
        vec![d("0.70"), d("0.5"), d("0.3333"), d("0.85"), d("0"), d("1"), d("0.6667"), d("0.999")]
    }

    #[test]
    fn examples_round_half_even_at_the_minor_unit() {
        let s = split(usd("9.99"), d("0.70"));
        assert_eq!(s.instructor.amount, d("6.99")); // 6.993
        assert_eq!(s.platform.amount, d("3.00"));
        // 0.15 * 0.70 = 0.105 -> 0.10 (half to even), platform 0.05
        let s = split(usd("0.15"), d("0.70"));
        assert_eq!((s.instructor.amount, s.platform.amount), (d("0.10"), d("0.05")));
        // 0.25 * 0.70 = 0.175 -> 0.18
        assert_eq!(split(usd("0.25"), d("0.70")).instructor.amount, d("0.18"));
        let jpy: Currency = "JPY".parse().expect("jpy");
        let s = split(Money::new(d("1005"), jpy).expect("jpy"), d("0.70"));
        // 703.5 -> 704 (even)
        assert_eq!((s.instructor.amount, s.platform.amount), (d("704"), d("301")));
        let free = split(usd("0"), d("0.70"));
        assert_eq!((free.instructor.amount, free.platform.amount), (Decimal::ZERO, Decimal::ZERO));
    }

    #[test]
    fn the_70_30_split_and_its_reversal_stay_in_eur_and_brl() {
        for (code, gross, instructor, platform) in
            [("EUR", "9.49", "6.64", "2.85"), ("BRL", "49.90", "34.93", "14.97"), ("EUR", "0.15", "0.10", "0.05")]
        {
            let currency: Currency = code.parse().expect("currency");
            let gross = Money::new(d(gross), currency).expect("money");
            let shares = split(gross, d("0.70"));
            assert_eq!((shares.instructor.currency, shares.platform.currency), (currency, currency));
            assert_eq!((shares.instructor.amount, shares.platform.amount), (d(instructor), d(platform)), "{code}");
            assert_eq!(shares.instructor.amount + shares.platform.amount, gross.amount);
            // Refunded in two halves: exactly the booked shares back, in the same currency.
            let half = Money::round(gross.amount / d("2"), currency).amount;
            let first = reversal(gross, d("0.70"), &shares, half, &Shares::zero(currency));
            let second = reversal(gross, d("0.70"), &shares, gross.amount, &first);
            assert_eq!(first.instructor.amount + second.instructor.amount, shares.instructor.amount, "{code}");
            assert_eq!(first.platform.amount + second.platform.amount, shares.platform.amount, "{code}");
            assert_eq!(second.instructor.currency, currency);
        }
    }

    #[test]
    fn property_shares_sum_to_the_gross_and_are_never_negative() {
        let mut rng = Rng(0x5eed);
        let currencies: Vec<Currency> = Currency::all().collect();
        let rates = rates();
        for _ in 0..20_000 {
            let currency = currencies[rng.below(currencies.len() as u64) as usize];
            // Up to 100 000.00 in major units, any number of minor units.
            let units = rng.below(10_000_000 * 10u64.pow(currency.exponent())) as i64;
            let gross = Money::from_minor_units(units, currency);
            let rate = rates[rng.below(rates.len() as u64) as usize];
            let s = split(gross, rate);
            assert_eq!(s.instructor.amount + s.platform.amount, gross.amount, "{gross} at {rate}");
            assert!(s.instructor.amount >= Decimal::ZERO && s.platform.amount >= Decimal::ZERO, "{gross} at {rate}");
            assert!(s.instructor.amount.scale() <= currency.exponent());
            assert!(Money::new(s.instructor.amount, currency).is_ok(), "instructor share on the minor unit");
            // Within half a minor unit of the exact product.
            let exact = gross.amount * rate;
            let half = Decimal::new(5, currency.exponent() + 1);
            assert!((s.instructor.amount - exact).abs() <= half);
        }
    }

    #[test]
    fn property_partial_refunds_reverse_exactly_the_booked_shares() {
        let mut rng = Rng(42);
        let currencies: Vec<Currency> = Currency::all().collect();
        let rates = rates();
        for _ in 0..5_000 {
            let currency = currencies[rng.below(currencies.len() as u64) as usize];
            let units = 1 + rng.below(100_000) as i64;
            let gross = Money::from_minor_units(units, currency);
            let rate = rates[rng.below(rates.len() as u64) as usize];
            let booked = split(gross, rate);
            let mut refunded = 0i64;
            let mut reversed = Shares::zero(currency);
            while refunded < units {
                let step = 1 + rng.below((units - refunded) as u64) as i64;
                refunded += step;
                let total = Money::from_minor_units(refunded, currency).amount;
                let r = reversal(gross, rate, &booked, total, &reversed);
                assert!(r.instructor.amount >= Decimal::ZERO && r.platform.amount >= Decimal::ZERO);
                // Each refund's reversals add up to the refunded step.
                assert_eq!(
                    r.instructor.amount + r.platform.amount,
                    Money::from_minor_units(step, currency).amount,
                    "{gross} at {rate}, step {step}"
                );
                reversed = Shares {
                    instructor: Money::round(reversed.instructor.amount + r.instructor.amount, currency),
                    platform: Money::round(reversed.platform.amount + r.platform.amount, currency),
                };
                assert!(reversed.instructor.amount <= booked.instructor.amount);
                assert!(reversed.platform.amount <= booked.platform.amount);
            }
            assert_eq!(reversed, booked, "fully refunded {gross} at {rate}");
        }
    }

    #[test]
    fn a_voucher_sale_pays_the_instructor_on_the_list_price_and_reverses_exactly() {
        // 19.99 list, 5.00 voucher: 14.99 paid; instructor 70 % of 19.99 = 13.99; platform 1.00.
        let s = split_discounted(usd("19.99"), d("0.70"), usd("14.99"));
        assert_eq!((s.instructor.amount, s.platform.amount), (d("13.99"), d("1.00")));
        // 9.99 list, 5.00 voucher: 4.99 paid; instructor 6.99; the platform is 2.00 out of pocket.
        let booked = split_discounted(usd("9.99"), d("0.70"), usd("4.99"));
        assert_eq!((booked.instructor.amount, booked.platform.amount), (d("6.99"), d("-2.00")));
        let full = paid_reversal(usd("4.99"), &booked, d("4.99"), &Shares::zero(Currency::USD));
        assert_eq!(full, booked);
        // In two halves: the parts sum to the booked shares and each refund to its money.
        let first = paid_reversal(usd("4.99"), &booked, d("2.00"), &Shares::zero(Currency::USD));
        assert_eq!(first.instructor.amount + first.platform.amount, d("2.00"));
        let rest = paid_reversal(usd("4.99"), &booked, d("4.99"), &first);
        assert_eq!(rest.instructor.amount + rest.platform.amount, d("2.99"));
        assert_eq!(first.instructor.amount + rest.instructor.amount, booked.instructor.amount);
        assert_eq!(first.platform.amount + rest.platform.amount, booked.platform.amount);
        assert_eq!(paid_reversal(usd("4.99"), &booked, d("4.99"), &booked), Shares::zero(Currency::USD));
    }

    #[test]
    fn an_inclusive_tax_comes_out_of_the_list_price_before_the_split() {
        // 20.00 at 19 % inclusive: 3.19 tax, 16.81 net; 70 % of 16.81 = 11.767 -> 11.77.
        let s = split(usd("16.81"), d("0.70"));
        assert_eq!((s.instructor.amount, s.platform.amount), (d("11.77"), d("5.04")));
        // A 5.00 voucher on 20.00: 15.00 charged, 2.39 tax in it, 12.61 net. The list price net
        // of the same tax is 20.00 * 12.61 / 15.00 = 16.8133 -> 16.81, the instructor's base.
        let list = net_list(usd("20.00"), usd("15.00"), usd("12.61"));
        assert_eq!(list, usd("16.81"));
        let s = split_discounted(list, d("0.70"), usd("12.61"));
        assert_eq!((s.instructor.amount, s.platform.amount), (d("11.77"), d("0.84")));
        // Exclusive tax (net == charged) and nothing charged leave the list price alone.
        assert_eq!(net_list(usd("20.00"), usd("15.00"), usd("15.00")), usd("20.00"));
        assert_eq!(net_list(usd("20.00"), usd("0.00"), usd("0.00")), usd("20.00"));
    }

    #[test]
    fn a_replayed_or_stale_refund_total_reverses_nothing_more() {
        let gross = usd("10.00");
        let booked = split(gross, d("0.70"));
        let after_half = reversal(gross, d("0.70"), &booked, d("5.00"), &Shares::zero(Currency::USD));
        assert_eq!((after_half.instructor.amount, after_half.platform.amount), (d("3.50"), d("1.50")));
        let again = reversal(gross, d("0.70"), &booked, d("5.00"), &after_half);
        assert_eq!(again, Shares::zero(Currency::USD));
        let rest = reversal(gross, d("0.70"), &booked, d("10.00"), &after_half);
        assert_eq!((rest.instructor.amount, rest.platform.amount), (d("3.50"), d("1.50")));
        // 3 x 3.33 then the last cent of 9.99 at 70%.
        let gross = usd("9.99");
        let booked = split(gross, d("0.70"));
        let mut done = Shares::zero(Currency::USD);
        let mut sum_i = Decimal::ZERO;
        for total in ["3.33", "6.66", "9.99"] {
            let r = reversal(gross, d("0.70"), &booked, d(total), &done);
            sum_i += r.instructor.amount;
            done = cumulative_reversal(gross, d("0.70"), &booked, d(total));
        }
        assert_eq!(sum_i, booked.instructor.amount);
    }
}
