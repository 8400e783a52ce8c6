//! Rewards' part of the public API document.

use crate::erasure::{ErasureView, ServiceErasure};
use crate::reports::{Liability, LiabilityRow, TokenFlowRow, VoucherRow};
use crate::routes::award::{AwardRequest, AwardView};
use crate::routes::friends::{FriendRequest, FriendView, PendingRequest, PendingView, RequestView};
use crate::routes::leaderboard::{BoardView, Ranked};
use crate::routes::profile::{ProfileRequest, ProfileView};
use crate::routes::redeem::{RedeemRequest, RedemptionView, VoucherView};
use crate::routes::tokens::{BalanceView, CatalogItemView, CatalogList, TransactionView};
use platform::money::{Currency, Money};
use platform::pagination::Page;
use platform::problem::{FieldError, Problem};
use platform::reports::{Interval, Report};
use utoipa::OpenApi;

#[derive(OpenApi)]
#[openapi(
    paths(
        crate::routes::tokens::balance,
        crate::routes::tokens::transactions,
        crate::routes::tokens::catalog,
        crate::routes::award::award,
        crate::routes::redeem::redeem,
        crate::routes::leaderboard::global,
        crate::routes::leaderboard::weekly,
        crate::routes::leaderboard::friends,
        crate::routes::friends::list,
        crate::routes::friends::pending,
        crate::routes::friends::request,
        crate::routes::friends::accept,
        crate::routes::friends::decline,
        crate::routes::friends::remove,
        crate::routes::profile::get,
        crate::routes::profile::put,
        crate::routes::reports::tokens,
        crate::routes::reports::vouchers,
        crate::routes::reports::liability,
        crate::routes::erasures::request,
        crate::routes::erasures::get,
    ),
    components(schemas(
        BalanceView, TransactionView, Page<TransactionView>, CatalogItemView, CatalogList, AwardRequest, AwardView,
        RedeemRequest, RedemptionView, VoucherView, BoardView, Ranked, FriendRequest, RequestView, FriendView,
        Page<FriendView>, PendingView, PendingRequest, ProfileRequest, ProfileView, Money, Currency, Problem, FieldError,
        TokenFlowRow, Report<TokenFlowRow>, VoucherRow, Report<VoucherRow>, LiabilityRow, Liability, Interval,
        ErasureView, ServiceErasure
    )),
    tags((name = "rewards", description = "Reward tokens (balance, ledger, awards, redemptions), leaderboards and friends"))
)]
pub struct ApiDoc;
