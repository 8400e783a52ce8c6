//! The Stripe endpoints: thin handlers over the store's rules.

use actix_web::{web, HttpRequest, HttpResponse};

use crate::error::ApiError;
use crate::form::Params;
use crate::objects::to_value;
use crate::state::Shared;

type Body = web::Bytes;
type State = web::Data<Shared>;

pub(crate) fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/customers", web::post().to(create_customer))
        .route("/customers/{id}", web::get().to(retrieve_customer))
        .route("/customers/{id}", web::post().to(update_customer))
        .route("/customers/{id}", web::delete().to(delete_customer))
        .route("/setup_intents", web::post().to(create_setup_intent))
        .route("/setup_intents/{id}", web::get().to(retrieve_setup_intent))
        .route("/setup_intents/{id}/confirm", web::post().to(confirm_setup_intent))
        .route("/setup_intents/{id}/cancel", web::post().to(cancel_setup_intent))
        .route("/payment_methods", web::get().to(list_payment_methods))
        .route("/payment_methods/{id}", web::get().to(retrieve_payment_method))
        .route("/payment_methods/{id}/attach", web::post().to(attach_payment_method))
        .route("/payment_methods/{id}/detach", web::post().to(detach_payment_method))
        .route("/payment_intents", web::post().to(create_payment_intent))
        .route("/payment_intents/{id}", web::get().to(retrieve_payment_intent))
        .route("/payment_intents/{id}/confirm", web::post().to(confirm_payment_intent))
        .route("/payment_intents/{id}/cancel", web::post().to(cancel_payment_intent))
        .route("/charges/{id}", web::get().to(retrieve_charge))
        .route("/refunds", web::post().to(create_refund))
        .route("/refunds/{id}", web::get().to(retrieve_refund))
        .default_service(web::to(unrecognized));
}

async fn create_customer(req: HttpRequest, body: Body, state: State) -> HttpResponse {
    state.mutate(&req, &body, |store, p, ctx| store.create_customer(p, ctx))
}

async fn retrieve_customer(id: web::Path<String>, state: State) -> HttpResponse {
    state.read(|store| store.customer_value(&id))
}

async fn delete_customer(req: HttpRequest, id: web::Path<String>, body: Body, state: State) -> HttpResponse {
    state.mutate(&req, &body, |store, p, ctx| {
        p.only(&[])?;
        store.delete_customer(&id, ctx)
    })
}

async fn update_customer(req: HttpRequest, id: web::Path<String>, body: Body, state: State) -> HttpResponse {
    state.mutate(&req, &body, |store, p, ctx| store.update_customer(&id, p, ctx))
}

async fn create_setup_intent(req: HttpRequest, body: Body, state: State) -> HttpResponse {
    state.mutate(&req, &body, |store, p, ctx| store.create_setup_intent(p, ctx))
}

async fn retrieve_setup_intent(id: web::Path<String>, state: State) -> HttpResponse {
    state.read(|store| store.setup_intent(&id).map(to_value))
}

async fn confirm_setup_intent(req: HttpRequest, id: web::Path<String>, body: Body, state: State) -> HttpResponse {
    state.mutate(&req, &body, |store, p, ctx| store.confirm_setup_intent(&id, p, ctx))
}

async fn cancel_setup_intent(req: HttpRequest, id: web::Path<String>, body: Body, state: State) -> HttpResponse {
    state.mutate(&req, &body, |store, p, ctx| store.cancel_setup_intent(&id, p, ctx))
}

async fn list_payment_methods(req: HttpRequest, state: State) -> HttpResponse {
    state.read(|store| store.list_payment_methods(&Params::parse_query(req.query_string())?))
}

async fn retrieve_payment_method(id: web::Path<String>, state: State) -> HttpResponse {
    state.read(|store| store.payment_method(&id, "id", 404).map(to_value))
}

async fn attach_payment_method(req: HttpRequest, id: web::Path<String>, body: Body, state: State) -> HttpResponse {
    state.mutate(&req, &body, |store, p, ctx| store.attach_payment_method(&id, p, ctx))
}

async fn detach_payment_method(req: HttpRequest, id: web::Path<String>, body: Body, state: State) -> HttpResponse {
    state.mutate(&req, &body, |store, p, ctx| store.detach_payment_method(&id, p, ctx))
}

async fn create_payment_intent(req: HttpRequest, body: Body, state: State) -> HttpResponse {
    state.mutate(&req, &body, |store, p, ctx| store.create_payment_intent(p, ctx))
}

async fn retrieve_payment_intent(id: web::Path<String>, state: State) -> HttpResponse {
    state.read(|store| store.payment_intent(&id).map(to_value))
}

async fn confirm_payment_intent(req: HttpRequest, id: web::Path<String>, body: Body, state: State) -> HttpResponse {
    state.mutate(&req, &body, |store, p, ctx| store.confirm_payment_intent(&id, p, ctx))
}

async fn cancel_payment_intent(req: HttpRequest, id: web::Path<String>, body: Body, state: State) -> HttpResponse {
    state.mutate(&req, &body, |store, p, ctx| store.cancel_payment_intent(&id, p, ctx))
}

/// `expand[]=refunds` (or `expand[0]=refunds`) adds the charge's refunds, as Stripe does.
async fn retrieve_charge(req: HttpRequest, id: web::Path<String>, state: State) -> HttpResponse {
    let expand_refunds = req.query_string().split('&').any(|pair| {
        let decoded = pair.replace("%5B", "[").replace("%5D", "]").replace("%5b", "[").replace("%5d", "]");
        decoded.split_once('=').is_some_and(|(k, v)| k.starts_with("expand[") && v == "refunds")
    });
    state.read(|store| store.charge_value(&id, expand_refunds))
}

async fn create_refund(req: HttpRequest, body: Body, state: State) -> HttpResponse {
    state.mutate(&req, &body, |store, p, ctx| store.create_refund(p, ctx))
}

async fn retrieve_refund(id: web::Path<String>, state: State) -> HttpResponse {
    state.read(|store| store.refund(&id).map(to_value))
}

async fn unrecognized(req: HttpRequest) -> HttpResponse {
    let mut error = ApiError::invalid_state(
        "resource_missing",
        None,
        format!("Unrecognized request URL ({}: {}).", req.method(), req.path()),
    );
    error.status = 404;
    error.response()
}
