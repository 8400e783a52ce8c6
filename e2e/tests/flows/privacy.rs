//! Issue 15, point 7: privacy and scope through the gateway, with real JWTs for two users and an
//! admin. Leaderboards name other users by handle or display name, never by user id; a support
//! ticket is its author's, the organisation admin's and the agents' business only.

use crate::support::{str_of, Platform, User};
use base64::Engine;
use chrono::Duration;
use serde_json::{json, Value};
use uuid::Uuid;

/// The ids among `others` that appear in `body`, hyphenated or bare, in clear or inside the
/// (base64url JSON) cursor.
fn leaked(body: &Value, others: &[&User]) -> Vec<Uuid> {
    let mut text = body.to_string();
    if let Some(cursor) = body["next_cursor"].as_str() {
        let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(cursor).expect("a base64url cursor");
        text.push_str(&String::from_utf8_lossy(&raw));
    }
    let text = text.to_lowercase();
    others
        .iter()
        .map(|u| u.id)
        .filter(|id| text.contains(&id.to_string()) || text.contains(&id.simple().to_string()))
        .collect()
}

/// `is_me` on the caller's entry only; a `user_id` only where `ids_allowed` says.
fn check_entries(board: &Value, me: &User, ids_allowed: bool) {
    let mine: Vec<&Value> = board["data"].as_array().expect("data").iter().filter(|e| e["is_me"] == true).collect();
    assert!(mine.len() <= 1, "{board}");
    for entry in board["data"].as_array().expect("data") {
        assert!(entry["handle"].as_str().is_some_and(|h| h.starts_with("u_")), "{entry}");
        let is_me = entry["is_me"] == true;
        match entry.get("user_id") {
            Some(id) if is_me => assert_eq!(id, &json!(me.id), "{entry}"),
            Some(id) => assert!(ids_allowed, "another user's id {id} on {board}"),
            None => assert!(!is_me && !ids_allowed, "{entry}"),
        }
    }
    assert_eq!(board["me"]["is_me"], true, "{board}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leaderboards_name_other_users_by_handle_never_by_user_id() {
    let p = Platform::start().await;
    let (admin, ada, bob) = (User::admin(), User::learner(), User::learner());
    for (user, amount) in [(&ada, 30), (&bob, 20)] {
        let award = json!({"user_id": user.id, "amount": amount, "reason": "e2e: privacy"});
        let res = p.post_key(&admin, "/api/tokens/award", award, &Uuid::new_v4().to_string()).await;
        assert_eq!(res.status, 201, "{}", res.body);
    }
    let named = p
        .call(reqwest::Method::PUT, "/api/rewards/profile", Some(&ada), Some(json!({"display_name": "Ada"})), None)
        .await;
    assert_eq!(named.status, 200, "{}", named.body);

    for board in ["global", "weekly"] {
        // Both users are on the board; each sees only themselves as `is_me`, and the other by
        // handle (and Ada by the name she chose), never by id, not even inside the cursor.
        let by_bob = p.get(Some(&bob), &format!("/api/leaderboard/{board}")).await;
        assert_eq!(by_bob.status, 200, "{}", by_bob.body);
        check_entries(&by_bob.body, &bob, false);
        assert_eq!(leaked(&by_bob.body, &[&ada]), Vec::<Uuid>::new(), "{}", by_bob.body);
        let top = &by_bob.body["data"][0];
        assert_eq!((top["display_name"].clone(), top["is_me"].clone()), (json!("Ada"), json!(false)), "{top}");
        assert_eq!(by_bob.body["data"][1]["is_me"], true);
        assert_eq!(by_bob.body["me"]["rank"], 2);

        let first = p.get(Some(&ada), &format!("/api/leaderboard/{board}?limit=1")).await;
        check_entries(&first.body, &ada, false);
        assert_eq!(leaked(&first.body, &[&bob]), Vec::<Uuid>::new(), "{}", first.body);
        let cursor = str_of(&first.body["next_cursor"]);
        // The cursor Ada got hides her own id too: handed to Bob, it tells him nothing.
        let cursor_only = json!({"next_cursor": cursor});
        assert_eq!(leaked(&cursor_only, &[&ada]), Vec::<Uuid>::new(), "{cursor}");
        let second = p.get(Some(&ada), &format!("/api/leaderboard/{board}?limit=1&cursor={cursor}")).await;
        assert_eq!(second.status, 200, "{}", second.body);
        check_entries(&second.body, &ada, false);
        assert_eq!(leaked(&second.body, &[&bob]), Vec::<Uuid>::new(), "{}", second.body);
        // The same user has the same handle whoever asks.
        assert_eq!(second.body["data"][0]["handle"], by_bob.body["data"][1]["handle"]);
        assert_eq!(first.body["data"][0]["handle"], by_bob.body["data"][0]["handle"]);
    }

    // The friends board may name friends: Bob's id is already Ada's through `GET /api/friends`.
    let asked = p.post(&ada, "/api/friends/requests", json!({"user_id": bob.id})).await;
    assert_eq!(asked.status, 201, "{}", asked.body);
    let accepted = p.post(&bob, &format!("/api/friends/requests/{}/accept", ada.id), json!({})).await;
    assert_eq!(accepted.status, 200, "{}", accepted.body);
    let friends = p.get(Some(&ada), "/api/leaderboard/friends").await;
    assert_eq!(friends.status, 200, "{}", friends.body);
    check_entries(&friends.body, &ada, true);
    assert_eq!(friends.body["data"][1]["user_id"], json!(bob.id));
    assert_eq!(friends.body["data"][1]["is_me"], false);
    p.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_cannot_read_or_change_another_members_ticket_the_org_admin_can() {
    let p = Platform::start().await;
    let admin = User::admin();
    let now = platform::clock::Clock::now(&p.licensing_clock);
    let suffix = &Uuid::new_v4().simple().to_string()[..10];
    let license = json!({
        "organization": {"name": format!("Privacy {suffix}"), "domain": format!("privacy-{suffix}.example.com")},
        "seats": 3, "tier": "enterprise",
        "starts_at": now - Duration::hours(1), "expires_at": now + Duration::days(365),
    });
    let created = p.post_key(&admin, "/api/enterprise/licenses/create", license, &Uuid::new_v4().to_string()).await;
    assert_eq!(created.status, 201, "{}", created.body);
    let org: Uuid = str_of(&created.body["organization"]["id"]).parse().expect("uuid");
    let key = str_of(&created.body["license_key"]);
    // Two ordinary members, each in by their seat.
    let (author, colleague) = (User::learner(), User::learner());
    for member in [&author, &colleague] {
        let seat = p.post(member, "/api/enterprise/licenses/activate", json!({"license_key": key})).await;
        assert_eq!(seat.status, 201, "{}", seat.body);
    }
    let org_admin = User::org_admin(org);
    let tickets = "/api/enterprise/support/tickets";
    let filed = p
        .post(&author, tickets, json!({"subject": "SSO broken", "description": "since Monday", "priority": "P2"}))
        .await;
    assert_eq!(filed.status, 201, "{}", filed.body);
    let id = str_of(&filed.body["id"]);
    let ticket = format!("{tickets}/{id}");
    let listed = |res: &crate::support::Res| -> Vec<String> {
        res.body["data"].as_array().expect("data").iter().map(|t| str_of(&t["id"])).collect()
    };

    // The colleague: not listed, 404 to read, comment on or change.
    assert!(listed(&p.get(Some(&colleague), tickets).await).is_empty());
    assert!(listed(&p.get(Some(&colleague), &format!("{tickets}?organization_id={org}")).await).is_empty());
    assert_eq!(p.get(Some(&colleague), &ticket).await.status, 404);
    assert_eq!(p.get(Some(&colleague), &format!("{ticket}/comments")).await.status, 404);
    let res = p.post(&colleague, &format!("{ticket}/comments"), json!({"body": "me too"})).await;
    assert_eq!((res.status, res.body["code"].clone()), (404, json!("not_found")), "{}", res.body);
    let res = p.post(&colleague, &format!("{ticket}/status"), json!({"status": "closed"})).await;
    assert_eq!((res.status, res.body["code"].clone()), (404, json!("not_found")), "{}", res.body);
    let unchanged = p.get(Some(&author), &ticket).await;
    assert_eq!(unchanged.status, 200, "{}", unchanged.body);
    assert_eq!(unchanged.body["status"], "open");
    assert_eq!(unchanged.body["comments"], json!([]));

    // The author and the org admin list and read it; the agent works it; the org admin closes it.
    assert_eq!(listed(&p.get(Some(&author), tickets).await), vec![id.clone()]);
    assert_eq!(listed(&p.get(Some(&org_admin), tickets).await), vec![id.clone()]);
    assert_eq!(p.get(Some(&org_admin), &ticket).await.status, 200);
    let working = p.post(&admin, &format!("{ticket}/status"), json!({"status": "in_progress"})).await;
    assert_eq!(working.status, 200, "{}", working.body);
    let closed = p.post(&org_admin, &format!("{ticket}/status"), json!({"status": "closed"})).await;
    assert_eq!((closed.status, closed.body["status"].clone()), (200, json!("closed")), "{}", closed.body);
    p.stop().await;
}
