//! Each service's part of the data-subject export (`platform::privacy`), as its tests check it:
//! who may ask, the audit entry an admin's read leaves, and that nothing of another user is in it.

use platform::auth::Role;
use serde_json::Value;
use uuid::Uuid;

/// `user`'s export at `service` (base URL `base_url`), asked by `caller` with `roles`, as the
/// gateway's fan-out asks: the status and the body.
pub async fn fetch(base_url: &str, service: &str, user: Uuid, caller: Uuid, roles: &[Role]) -> (u16, Value) {
    let res = crate::http()
        .get(format!("{base_url}{}", platform::privacy::internal_path(user)))
        .header("x-internal-token", crate::internal_token(service, &caller.to_string(), roles))
        .send()
        .await
        .expect("the export request");
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

/// `user`'s own export (asserting 200).
pub async fn own(base_url: &str, service: &str, user: Uuid) -> Value {
    let (status, body) = fetch(base_url, service, user, user, &[Role::Learner]).await;
    assert_eq!(status, 200, "{service}: {body}");
    body
}

/// Panics naming the first of `others` (ids of other users and of their records, their strings)
/// found anywhere in `export`.
pub fn assert_mentions_none(export: &Value, others: &[String]) {
    let text = export.to_string().to_lowercase();
    for other in others {
        assert!(!text.contains(&other.to_lowercase()), "the export names {other}, which is not the user's: {export}");
    }
}

/// The rows of section `name`, panicking when the service has no such section.
pub fn rows<'a>(export: &'a Value, name: &str) -> &'a Vec<Value> {
    export[name].as_array().unwrap_or_else(|| panic!("no section {name:?} in {export}"))
}

/// Who may ask for `user`'s export at `service`: the user (not audited), an admin (the same
/// document, and an `admin.read` entry of resource `export` in the service's audit log), nobody
/// else (403: another learner, an org admin, another service).
pub async fn assert_access(base_url: &str, service: &str, pool: &platform::db::Pool, user: Uuid) {
    let reads = |pool: platform::db::Pool| async move {
        let mut conn = pool.get().await.expect("a connection");
        let filter = platform::audit::AuditFilter {
            action: Some("admin.read".into()),
            target: Some(format!("user:{user}")),
            ..Default::default()
        };
        platform::audit::list(&mut conn, &filter, None, 100).await.expect("the audit log")
    };
    let before = reads(pool.clone()).await.len();
    let own = own(base_url, service, user).await;
    assert_eq!(reads(pool.clone()).await.len(), before, "{service}: reading one's own data is not audited");
    let admin = Uuid::now_v7();
    let (status, by_admin) = fetch(base_url, service, user, admin, &[Role::Admin]).await;
    assert_eq!(status, 200, "{service}: {by_admin}");
    assert_eq!(by_admin, own, "{service}: an admin gets the same document");
    let entries = reads(pool.clone()).await;
    assert_eq!(entries.len(), before + 1, "{service}: an admin's export is audited once");
    let entry = &entries[0];
    assert_eq!(entry.actor_sub, admin.to_string());
    assert_eq!(entry.changes["resource"], platform::privacy::AUDIT_RESOURCE);
    for (caller, roles) in [
        (Uuid::now_v7().to_string(), vec![Role::Learner]),
        (Uuid::now_v7().to_string(), vec![Role::OrgAdmin, Role::Instructor]),
        (format!("service:{service}"), vec![Role::Service]),
    ] {
        let res = crate::http()
            .get(format!("{base_url}{}", platform::privacy::internal_path(user)))
            .header("x-internal-token", crate::internal_token(service, &caller, &roles))
            .send()
            .await
            .expect("the export request");
        assert_eq!(res.status().as_u16(), 403, "{service}: {caller} {roles:?} may not export another user's data");
    }
    let anonymous = crate::http()
        .get(format!("{base_url}{}", platform::privacy::internal_path(user)))
        .send()
        .await
        .expect("the export request");
    assert_eq!(anonymous.status().as_u16(), 401, "{service}: an export needs a caller");
}
