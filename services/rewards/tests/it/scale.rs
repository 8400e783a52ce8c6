//! The caller's rank among a million accounts, answered without scanning them.

use crate::support::Rewards;
use diesel::sql_types::{BigInt, Uuid as SqlUuid};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use std::time::{Duration, Instant};
use uuid::Uuid;

#[derive(diesel::QueryableByName)]
struct One {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

#[derive(diesel::QueryableByName)]
struct Id {
    #[diesel(sql_type = SqlUuid)]
    id: Uuid,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rank_among_a_million_accounts_needs_no_scan() {
    let s = Rewards::start().await;
    let mut pooled = s.conn().await;
    let conn: &mut AsyncPgConnection = &mut pooled;
    let started = Instant::now();
    // 1,000,000 accounts, 50,000 distinct scores (20 users each), reached one second apart.
    // Generated in board order (ids too), so both indexes fill by appending: a few seconds.
    diesel::sql_query(
        "INSERT INTO token_balances (user_id, spendable, lifetime_earned, score_reached_at, updated_at)
         SELECT lpad(to_hex(i), 32, '0')::uuid, 0, 50000 - (i - 1) / 20,
                timestamptz '2026-01-01' + i * interval '1 second', timestamptz '2026-11-01'
           FROM generate_series(1, 1000000) AS i",
    )
    .execute(conn)
    .await
    .unwrap();
    diesel::sql_query(
        "INSERT INTO score_histogram (board, score, users)
         SELECT 'global', lifetime_earned, count(*) FROM token_balances GROUP BY lifetime_earned",
    )
    .execute(conn)
    .await
    .unwrap();
    diesel::sql_query("ANALYZE token_balances").execute(conn).await.unwrap();
    diesel::sql_query("ANALYZE score_histogram").execute(conn).await.unwrap();
    eprintln!("seeded 1,000,000 accounts in {:?}", started.elapsed());

    let caller: Id =
        diesel::sql_query("SELECT lpad(to_hex(123457), 32, '0')::uuid AS id").get_result(conn).await.unwrap();
    let expected: One = diesel::sql_query(
        "SELECT 1 + count(*) AS n FROM token_balances
          WHERE lifetime_earned > (SELECT lifetime_earned FROM token_balances WHERE user_id = $1)",
    )
    .bind::<SqlUuid, _>(caller.id)
    .get_result(conn)
    .await
    .unwrap();

    let plans = rewards::store::leaderboard::explain_global(conn, caller.id, 20).await.unwrap();
    for plan in &plans {
        eprintln!("{plan}\n");
        assert!(!plan.contains("Seq Scan on token_balances"), "a board query scans the table:\n{plan}");
    }
    drop(pooled);

    s.json(caller.id, "/api/leaderboard/global?limit=1").await; // warm the connection
    let asked = Instant::now();
    let board = s.json(caller.id, "/api/leaderboard/global?limit=20").await;
    let took = asked.elapsed();
    assert!(took < Duration::from_millis(500), "took {took:?}");
    assert_eq!(board["me"]["rank"], expected.n);
    assert_eq!(expected.n, 1 + 20 * (123_456 / 20), "20 users per score above the caller's");
    assert_eq!(board["data"][0]["rank"], 1);
    assert_eq!(board["data"][0]["score"], 50000);
    assert_eq!(board["data"][19]["rank"], 1, "the top 20 share the top score");
    let cursor = board["next_cursor"].as_str().unwrap();
    let next = s.json(caller.id, &format!("/api/leaderboard/global?limit=20&cursor={cursor}")).await;
    assert_eq!(next["data"][0]["rank"], 21);
    assert_eq!(next["data"][0]["score"], 49999);
    s.stop().await;
}
