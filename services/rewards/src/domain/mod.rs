//! Pure rules: no IO, unit-tested.

pub mod balance;
pub mod earning;
pub mod handle;
pub mod liability;
pub mod ranking;
pub mod validate;
pub mod voucher;
pub mod week;
