//! Webhooks' part of the public API document.

use crate::routes::endpoints::{CreateEndpoint, EndpointView, EndpointWithSecret, RotatedSecret, UpdateEndpoint};
use crate::routes::log::AttemptView;
use crate::routes::replay::{ReplayRequest, ReplayView};
use platform::pagination::Page;
use platform::problem::{FieldError, Problem};
use utoipa::OpenApi;

#[derive(OpenApi)]
#[openapi(
    paths(
        crate::routes::endpoints::create,
        crate::routes::endpoints::list,
        crate::routes::endpoints::get,
        crate::routes::endpoints::update,
        crate::routes::endpoints::delete,
        crate::routes::endpoints::rotate,
        crate::routes::log::by_endpoint,
        crate::routes::log::by_event,
        crate::routes::replay::replay,
    ),
    components(schemas(
        CreateEndpoint, UpdateEndpoint, EndpointView, EndpointWithSecret, Page<EndpointView>, RotatedSecret,
        AttemptView, Page<AttemptView>, ReplayRequest, ReplayView, Problem, FieldError
    )),
    tags((name = "webhooks", description = "Signed outgoing webhooks (Standard Webhooks): endpoints, secrets, delivery log, replay"))
)]
pub struct ApiDoc;
