//! Marketplace's pure rules: no IO here.

pub mod course;
pub mod earnings;
pub mod listing;
pub mod promotion;
pub mod purchase;
pub mod review;
pub mod split;
pub mod voucher;
