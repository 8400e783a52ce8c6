//! A crafted friends-board cursor (a bare position) is range-checked: 422 `invalid_cursor`,
//! never an overflow of `offset + limit`.

use crate::support::Rewards;
use platform::pagination::{encode_cursor, MAX_OFFSET};
use serde_json::{json, Value};
use uuid::Uuid;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crafted_friends_board_cursor_is_422_invalid_cursor_never_a_crash() {
    let s = Rewards::start().await;
    let me = Uuid::now_v7();
    s.award(me, 10).await;
    for position in [json!(u64::MAX), json!(i64::MAX), json!(-1), json!(MAX_OFFSET + 1), json!("ten"), json!(1.5)] {
        let path = format!("/api/leaderboard/friends?cursor={}", encode_cursor(&position));
        let res = s.get(me, &path).await;
        assert_eq!(res.status(), 422, "{position}");
        let problem: Value = res.json().await.unwrap();
        assert_eq!(problem["code"], "invalid_cursor", "{position}: {problem}");
        assert_eq!(problem["errors"][0]["field"], "cursor");
    }
    // In range but past the end: an empty page, and still the caller's own rank.
    let far = s.json(me, &format!("/api/leaderboard/friends?limit=100&cursor={}", encode_cursor(&MAX_OFFSET))).await;
    assert_eq!(far["data"], json!([]));
    assert!(far["next_cursor"].is_null());
    assert_eq!(far["me"]["rank"], 1);
    s.stop().await;
}
