//! Friendships and the friends board.

use crate::support::Rewards;
use platform::auth::Role;
use serde_json::{json, Value};
use uuid::Uuid;

fn members(board: &Value) -> Vec<(i64, String)> {
    board["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["rank"].as_i64().unwrap(), r["user_id"].as_str().unwrap().to_string()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_friends_board_shows_only_accepted_friends() {
    let s = Rewards::start().await;
    let [me, friend, pending, declined, stranger] =
        [Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7()];
    for (user, amount) in [(me, 10), (friend, 40), (pending, 30), (declined, 20), (stranger, 50)] {
        s.award(user, amount).await;
    }
    let ask =
        |from: Uuid, to: Uuid| s.post(from, &[Role::Learner], "/api/friends/requests", None, json!({"user_id": to}));
    assert_eq!(ask(me, friend).await.status(), 201);
    assert_eq!(ask(me, pending).await.status(), 201);
    assert_eq!(ask(declined, me).await.status(), 201);
    let incoming: Value = s.json(friend, "/api/friends/requests").await;
    assert_eq!(incoming["incoming"][0]["user_id"], me.to_string());
    let accept = s.post(friend, &[Role::Learner], &format!("/api/friends/requests/{me}/accept"), None, json!({})).await;
    assert_eq!(accept.status(), 200);
    let decline =
        s.post(me, &[Role::Learner], &format!("/api/friends/requests/{declined}/decline"), None, json!({})).await;
    assert_eq!(decline.status(), 204);
    let again =
        s.post(me, &[Role::Learner], &format!("/api/friends/requests/{declined}/accept"), None, json!({})).await;
    assert_eq!(again.status(), 404, "a declined request cannot be accepted later");
    assert_eq!(ask(me, me).await.status(), 422);
    assert_eq!(ask(friend, me).await.status(), 409, "already friends");

    let board = s.json(me, "/api/leaderboard/friends").await;
    assert_eq!(members(&board), vec![(1, friend.to_string()), (2, me.to_string())]);
    assert_eq!(board["me"]["rank"], 2);
    // Friends are named (the caller has their ids from `GET /api/friends` anyway), with the same
    // handle as on the big boards; only the caller's own entry is `is_me`.
    assert_eq!(board["data"][0]["handle"], crate::support::handle(friend).as_str());
    assert_eq!(board["data"][0]["is_me"], false);
    assert_eq!(board["data"][1]["is_me"], true);
    assert_eq!(board["me"]["is_me"], true);
    let theirs = s.json(friend, "/api/leaderboard/friends").await;
    assert_eq!(members(&theirs), vec![(1, friend.to_string()), (2, me.to_string())]);
    let alone = s.json(pending, "/api/leaderboard/friends").await;
    assert_eq!(members(&alone), vec![(1, pending.to_string())]);
    let list = s.json(me, "/api/friends").await;
    assert_eq!(list["data"].as_array().unwrap().len(), 1);
    assert_eq!(list["data"][0]["user_id"], friend.to_string());

    // Asking someone who already asked you is accepting.
    let crossed = ask(pending, me).await;
    assert_eq!(crossed.status(), 200);
    assert_eq!(crossed.json::<Value>().await.unwrap()["status"], "accepted");
    let board = s.json(me, "/api/leaderboard/friends").await;
    assert_eq!(members(&board), vec![(1, friend.to_string()), (2, pending.to_string()), (3, me.to_string())]);
    let paged = s.json(me, "/api/leaderboard/friends?limit=2").await;
    assert_eq!(members(&paged).len(), 2);
    let cursor = paged["next_cursor"].as_str().unwrap();
    let rest = s.json(me, &format!("/api/leaderboard/friends?limit=2&cursor={cursor}")).await;
    assert_eq!(members(&rest), vec![(3, me.to_string())]);

    assert_eq!(s.delete(me, &format!("/api/friends/{friend}")).await.status(), 204);
    assert_eq!(s.delete(me, &format!("/api/friends/{friend}")).await.status(), 404);
    let board = s.json(me, "/api/leaderboard/friends").await;
    assert_eq!(members(&board), vec![(1, pending.to_string()), (2, me.to_string())]);
    s.stop().await;
}
