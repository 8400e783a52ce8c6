//! HTTP routes: the Stripe API under `/v1`, the test controls under `/_fake`.

pub(crate) mod control;
pub(crate) mod gate;
pub(crate) mod v1;
