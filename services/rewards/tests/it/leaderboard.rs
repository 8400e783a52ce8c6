//! Global and weekly boards: competition ranking, cursors, the caller's own rank, the weekly reset.

use crate::support::{handle, Rewards};
use platform::auth::Role;
use serde_json::{json, Value};
use uuid::Uuid;

fn rows(board: &Value) -> Vec<(i64, String, i64)> {
    board["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["rank"].as_i64().unwrap(), r["handle"].as_str().unwrap().to_string(), r["score"].as_i64().unwrap()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ties_rank_1_2_2_4_in_the_order_scores_were_reached() {
    let s = Rewards::start().await;
    let [a, b, c, d] = [Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7()];
    // c reaches 20 after b does, so b is listed first among the tied.
    s.award(c, 5).await;
    s.award(b, 20).await;
    s.award(c, 15).await;
    s.award(a, 30).await;
    s.award(d, 10).await;
    let put = s
        .http
        .put(s.url("/api/rewards/profile"))
        .header("x-internal-token", testkit::internal_token("rewards", &a.to_string(), &[Role::Learner]));
    assert_eq!(put.json(&json!({"display_name": "Ada"})).send().await.unwrap().status(), 200);

    let board = s.json(d, "/api/leaderboard/global").await;
    let expected = vec![(1, handle(a), 30), (2, handle(b), 20), (2, handle(c), 20), (4, handle(d), 10)];
    assert_eq!(rows(&board), expected);
    assert_eq!(board["data"][0]["display_name"], "Ada");
    assert!(board["data"][1]["display_name"].is_null());
    assert_eq!(board["me"]["rank"], 4);

    // Paged two at a time: the second page still knows c shares rank 2.
    let first = s.json(d, "/api/leaderboard/global?limit=2").await;
    assert_eq!(rows(&first), expected[..2].to_vec());
    let cursor = first["next_cursor"].as_str().unwrap();
    let second = s.json(d, &format!("/api/leaderboard/global?limit=2&cursor={cursor}")).await;
    assert_eq!(rows(&second), expected[2..].to_vec());
    assert!(second["next_cursor"].is_null());
    // The caller's own rank comes with every page, on it or not.
    let one = s.json(d, "/api/leaderboard/global?limit=1").await;
    assert_eq!(one["me"]["rank"], 4);
    assert_eq!(one["me"]["score"], 10);
    let stranger = s.json(Uuid::now_v7(), "/api/leaderboard/global").await;
    assert!(stranger["me"]["rank"].is_null());
    assert_eq!(stranger["me"]["score"], 0);

    // Spending does not lower a score.
    s.award(d, 290).await;
    assert_eq!(s.redeem(d, "course_voucher", "spend").await.status(), 201);
    let board = s.json(d, "/api/leaderboard/global").await;
    assert_eq!(board["me"]["rank"], 1);
    assert_eq!(board["me"]["score"], 300);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_weekly_board_resets_at_monday_midnight_utc() {
    let s = Rewards::start_at("2026-11-29T23:59:00Z").await;
    let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
    s.award(a, 50).await;
    let sunday = s.json(a, "/api/leaderboard/weekly").await;
    assert_eq!(sunday["week"], "2026-W48");
    assert_eq!(rows(&sunday), vec![(1, handle(a), 50)]);

    s.set_time("2026-11-30T00:00:00Z");
    let monday = s.json(a, "/api/leaderboard/weekly").await;
    assert_eq!(monday["week"], "2026-W49");
    assert!(rows(&monday).is_empty());
    assert!(monday["me"]["rank"].is_null());
    assert_eq!(monday["me"]["score"], 0);
    s.award(b, 5).await;
    let monday = s.json(a, "/api/leaderboard/weekly").await;
    assert_eq!(rows(&monday), vec![(1, handle(b), 5)]);
    let past = s.json(a, "/api/leaderboard/weekly?week=2026-W48").await;
    assert_eq!(rows(&past), vec![(1, handle(a), 50)]);
    assert_eq!(past["me"]["rank"], 1);
    let global = s.json(a, "/api/leaderboard/global").await;
    assert_eq!(rows(&global), vec![(1, handle(a), 50), (2, handle(b), 5)]);
    for bad in ["2026-W54", "2026-48", "now"] {
        let res = s.get(a, &format!("/api/leaderboard/weekly?week={bad}")).await;
        assert_eq!(res.status(), 422, "{bad}");
    }
    let res = s.get(a, "/api/leaderboard/global?week=2026-W48").await;
    assert_eq!(res.status(), 422, "the global board has no week");
    s.stop().await;
}

/// With snapshots kept (as in production), the first page and the caller's rank may trail the
/// ledger by the snapshot's age, never by more than twice it; the caller's own score is always
/// current, and a later page is exact.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn board_snapshots_trail_the_ledger_by_their_age_at_most() {
    let s = Rewards::start_with_board_snapshots(1000).await;
    let [a, b, c] = [Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7()];
    s.award(a, 30).await;
    s.award(b, 20).await;
    let board = s.json(b, "/api/leaderboard/global").await;
    assert_eq!(rows(&board), vec![(1, handle(a), 30), (2, handle(b), 20)]);
    assert_eq!(board["me"]["rank"], 2);

    // b overtakes a and c joins; the snapshot read just now is still young.
    s.award(b, 20).await;
    s.award(c, 5).await;
    let stale = s.json(b, "/api/leaderboard/global").await;
    assert_eq!(rows(&stale), vec![(1, handle(a), 30), (2, handle(b), 20)], "served from the snapshot");
    assert_eq!(stale["me"]["score"], 40, "the caller's score is read every time");
    assert_eq!(stale["me"]["rank"], 1, "ranked against the snapshot's histogram");
    // A later page is read exactly.
    let first = s.json(c, "/api/leaderboard/global?limit=1").await;
    let cursor = first["next_cursor"].as_str().expect("a next page");
    let later = s.json(c, &format!("/api/leaderboard/global?limit=1&cursor={cursor}")).await;
    assert_eq!(rows(&later), vec![(3, handle(c), 5)], "read and ranked against the ledger as it is now");

    // Past twice the age a reader waits for a fresh snapshot.
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    let fresh = s.json(c, "/api/leaderboard/global").await;
    assert_eq!(rows(&fresh), vec![(1, handle(b), 40), (2, handle(a), 30), (3, handle(c), 5)]);
    assert_eq!(fresh["me"]["rank"], 3);
    s.stop().await;
}

/// Every form a user id can take in a response: hyphenated, bare hex, and inside a cursor.
fn leaked_ids(body: &Value, others: &[Uuid]) -> Vec<String> {
    let mut text = body.to_string();
    if let Some(cursor) = body["next_cursor"].as_str() {
        use base64::Engine;
        let decoded = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(cursor).expect("base64url cursor");
        text.push_str(&String::from_utf8_lossy(&decoded));
    }
    let text = text.to_lowercase();
    others
        .iter()
        .filter(|u| text.contains(&u.to_string()) || text.contains(&u.simple().to_string()))
        .map(|u| u.to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_big_boards_show_handles_and_is_me_never_another_users_id() {
    let s = Rewards::start().await;
    let [a, b, c] = [Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7()];
    s.award(a, 30).await;
    s.award(b, 20).await;
    s.award(c, 10).await;
    for board in ["global", "weekly"] {
        for path in [format!("/api/leaderboard/{board}"), format!("/api/leaderboard/{board}?limit=1")] {
            let body = s.json(b, &path).await;
            assert_eq!(leaked_ids(&body, &[a, c]), Vec::<String>::new(), "{path}: {body}");
            for entry in body["data"].as_array().unwrap() {
                let mine = entry["handle"] == handle(b).as_str();
                assert_eq!(entry["is_me"], mine, "{path}: {entry}");
                if mine {
                    assert_eq!(entry["user_id"], b.to_string(), "the caller's own entry may name them");
                } else {
                    assert!(entry.get("user_id").is_none(), "{path}: {entry}");
                }
            }
            assert_eq!(body["me"]["is_me"], true);
            assert_eq!(body["me"]["handle"], handle(b).as_str());
        }
        // Paging by cursor: the later pages hide ids as well, and the caller is found on page 2.
        let first = s.json(b, &format!("/api/leaderboard/{board}?limit=1")).await;
        assert_eq!(rows(&first), vec![(1, handle(a), 30)]);
        let cursor = first["next_cursor"].as_str().unwrap();
        let second = s.json(b, &format!("/api/leaderboard/{board}?limit=1&cursor={cursor}")).await;
        assert_eq!(rows(&second), vec![(2, handle(b), 20)]);
        assert_eq!(second["data"][0]["is_me"], true);
        assert_eq!(leaked_ids(&second, &[a, c]), Vec::<String>::new(), "{second}");
        let cursor = second["next_cursor"].as_str().unwrap();
        let third = s.json(b, &format!("/api/leaderboard/{board}?limit=1&cursor={cursor}")).await;
        assert_eq!(rows(&third), vec![(3, handle(c), 10)]);
        assert_eq!(third["data"][0]["is_me"], false);
        assert_eq!(leaked_ids(&third, &[a, c]), Vec::<String>::new(), "{third}");
    }
    // The handle is the same for every caller and every request.
    let by_a = s.json(a, "/api/leaderboard/global").await;
    let by_c = s.json(c, "/api/leaderboard/global").await;
    assert_eq!(by_a["data"][1]["handle"], by_c["data"][1]["handle"]);
    assert_eq!(by_a["data"][1]["handle"], handle(b).as_str());
    // A cursor that names a user in clear (the old shape) is refused, not followed.
    use platform::pagination::encode_cursor;
    let clear = encode_cursor(&json!({"score": 30, "at": "2026-01-01T00:00:00Z", "user": a}));
    let res = s.get(b, &format!("/api/leaderboard/global?cursor={clear}")).await;
    assert_eq!(res.status(), 422);
    assert_eq!(res.json::<Value>().await.unwrap()["code"], "invalid_cursor");
    s.stop().await;
}

#[derive(diesel::QueryableByName)]
struct Count {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

async fn count(s: &Rewards, sql: &str) -> i64 {
    use diesel_async::RunQueryDsl;
    let mut conn = s.conn().await;
    let c: Count = diesel::sql_query(sql).get_result(&mut *conn).await.unwrap();
    c.n
}

/// Learners earning the same tokens at once all land on one score. Their awards no longer update
/// that histogram row (they queued on its lock, one commit at a time): each records its move, and
/// folds add the moves in while the awards go on. Every award counts, in the ranks before the
/// fold and in the histogram after it, whichever replica's fold ran.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn awards_landing_on_one_score_at_once_all_count_before_and_after_the_fold() {
    let s = Rewards::start().await;
    let users: Vec<Uuid> = (0..30).map(|_| Uuid::now_v7()).collect();
    let folding = std::sync::atomic::AtomicBool::new(true);
    let fold = || async {
        let mut folded = 0;
        while folding.load(std::sync::atomic::Ordering::Relaxed) {
            let mut conn = s.conn().await;
            folded += rewards::store::leaderboard::HISTOGRAM_FOLD.run_on(&mut conn).await.expect("a fold fails");
            drop(conn);
            tokio::time::sleep(std::time::Duration::from_millis(3)).await;
        }
        folded
    };
    let awards = async {
        futures_util::future::join_all(users.iter().map(|&u| s.award(u, 10))).await;
        folding.store(false, std::sync::atomic::Ordering::Relaxed);
    };
    let ((), a, b) = tokio::join!(awards, fold(), fold());
    assert!(a + b > 0, "the folds ran during the awards and found nothing");

    // Whatever is folded or pending, a learner below them sees all 30 above.
    let below = Uuid::now_v7();
    s.award(below, 5).await;
    assert_eq!(s.json(below, "/api/leaderboard/global").await["me"]["rank"], 31);
    assert_eq!(s.json(below, "/api/leaderboard/weekly").await["me"]["rank"], 31);
    // A page after the first ranks from the histogram too: the last of the 30 and the learner below.
    let first = s.json(below, "/api/leaderboard/global?limit=29").await;
    let cursor = first["next_cursor"].as_str().unwrap();
    let next = s.json(below, &format!("/api/leaderboard/global?limit=29&cursor={cursor}")).await;
    assert_eq!(rows(&next).iter().map(|r| (r.0, r.2)).collect::<Vec<_>>(), vec![(1, 10), (31, 5)]);

    // Folded, the histogram holds them all, and nothing is left pending.
    let mut conn = s.conn().await;
    rewards::store::leaderboard::HISTOGRAM_FOLD.run_waiting_on(&mut conn).await.unwrap();
    drop(conn);
    assert_eq!(count(&s, "SELECT count(*) AS n FROM score_histogram_deltas").await, 0);
    assert_eq!(count(&s, "SELECT users AS n FROM score_histogram WHERE board = 'global' AND score = 10").await, 30);
    assert_eq!(
        count(&s, "SELECT coalesce(sum(users), 0)::bigint AS n FROM score_histogram WHERE board = 'global'").await,
        31
    );
    assert_eq!(s.json(below, "/api/leaderboard/global").await["me"]["rank"], 31);
    // A learner moving on leaves the score row they were counted in.
    s.award(users[0], 1).await;
    let mut conn = s.conn().await;
    rewards::store::leaderboard::HISTOGRAM_FOLD.run_waiting_on(&mut conn).await.unwrap();
    drop(conn);
    assert_eq!(count(&s, "SELECT users AS n FROM score_histogram WHERE board = 'global' AND score = 10").await, 29);
    s.stop().await;
}

/// A move out of a score row that does not exist would be lost if the fold applied it: the whole
/// fold is refused and the moves wait (never the case when each user's moves fold in order; this
/// is the guard if that ever breaks).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fold_that_would_lose_a_move_is_refused_and_its_moves_wait() {
    use diesel_async::RunQueryDsl;
    let s = Rewards::start().await;
    let mut conn = s.conn().await;
    diesel::sql_query(
        "INSERT INTO score_histogram_deltas (board, score, delta) VALUES ('global', 777, -1), ('global', 778, 1)",
    )
    .execute(&mut *conn)
    .await
    .unwrap();
    // Waiting, not skipping, while the service's own periodic fold holds the lock (that one is
    // refused too): `run_on` would return Ok(0) then, having folded nothing.
    let refused = rewards::store::leaderboard::HISTOGRAM_FOLD.run_waiting_on(&mut conn).await;
    assert!(refused.is_err(), "a move out of a missing row was folded: {refused:?}");
    drop(conn);
    assert_eq!(
        count(&s, "SELECT count(*) AS n FROM score_histogram_deltas").await,
        2,
        "the refused fold dropped moves"
    );
    assert_eq!(count(&s, "SELECT count(*) AS n FROM score_histogram WHERE score IN (777, 778)").await, 0);
    s.stop().await;
}
