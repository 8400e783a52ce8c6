//! Who an audit entry names: the actor, roles and organisation of the principal, the request id,
//! and the client's address as the ingress saw it (the first `X-Forwarded-For` hop, never a
//! forged overlong value), or the service itself for what no person asked for.

use actix_web::test::TestRequest;
use platform::audit::AuditContext;
use platform::auth::{Principal, Role};

fn principal() -> Principal {
    Principal {
        sub: "0192f0c4-0000-7000-8000-0000000000aa".into(),
        roles: vec![Role::Admin, Role::OrgAdmin],
        org_id: Some(uuid::Uuid::from_u128(7)),
        request_id: Some("req-42".into()),
    }
}

#[test]
fn the_actor_and_the_first_forwarded_hop_are_recorded() {
    let req = TestRequest::default()
        .insert_header(("x-forwarded-for", " 203.0.113.7 , 10.0.0.1"))
        .peer_addr("10.1.2.3:5000".parse().unwrap())
        .to_http_request();
    let ctx = AuditContext::from_request(&req, &principal());
    assert_eq!(ctx.actor_sub, "0192f0c4-0000-7000-8000-0000000000aa");
    assert_eq!(ctx.actor_roles, ["admin", "org_admin"]);
    assert_eq!(ctx.actor_org, Some(uuid::Uuid::from_u128(7)));
    assert_eq!(ctx.request_id.as_deref(), Some("req-42"));
    assert_eq!(ctx.client_addr.as_deref(), Some("203.0.113.7"));
}

#[test]
fn an_empty_or_overlong_forwarded_header_falls_back_to_the_peer_address() {
    for forwarded in ["", &"9".repeat(65)] {
        let req = TestRequest::default()
            .insert_header(("x-forwarded-for", forwarded))
            .peer_addr("198.51.100.4:443".parse().unwrap())
            .to_http_request();
        let ctx = AuditContext::from_request(&req, &Principal { request_id: None, ..principal() });
        assert_eq!(ctx.client_addr.as_deref(), Some("198.51.100.4"), "{forwarded:?}");
        // No request id from the principal or the request: none, never an empty string.
        assert_eq!(ctx.request_id, None);
    }
}

#[test]
fn a_services_own_actions_name_the_service() {
    let ctx = AuditContext::service("billing");
    assert_eq!((ctx.actor_sub.as_str(), ctx.actor_roles.as_slice()), ("service:billing", &["service".to_string()][..]));
    assert_eq!((ctx.actor_org, ctx.request_id, ctx.client_addr), (None, None, None));
}
