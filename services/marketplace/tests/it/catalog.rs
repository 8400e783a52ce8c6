use crate::support::{Market, Options};
use platform::auth::Role;
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use uuid::Uuid;

fn ids(page: &Value) -> Vec<String> {
    page["data"].as_array().unwrap().iter().map(|c| c["id"].as_str().unwrap().to_string()).collect()
}

fn id(course: &Value) -> String {
    course["id"].as_str().unwrap().to_string()
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

/// Follow `next_cursor` to the end, collecting ids.
async fn all_pages(m: &Market, query: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/courses/list?{query}&cursor={c}"),
            None => format!("/api/courses/list?{query}"),
        };
        let page = m.get_json(None, &path).await;
        out.extend(ids(&page));
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => return out,
        }
        assert!(out.len() < 50, "pagination does not end");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_ranks_relevant_courses_first_and_honours_every_filter_and_sort() {
    let m = Market::start().await;
    let a = Uuid::now_v7();
    let b = Uuid::now_v7();
    let title = m
        .course(a, json!({"title": "Advanced Rust Programming", "description": "Systems course.", "level": "advanced", "tags": ["systems"], "price": {"amount": "49.00", "currency": "USD"}}), true)
        .await;
    let tags = m
        .course(a, json!({"title": "Systems Programming Fundamentals", "description": "Low level.", "level": "intermediate", "tags": ["rust", "c"], "price": {"amount": "19.00", "currency": "USD"}}), true)
        .await;
    let desc = m
        .course(b, json!({"title": "Gardening Basics", "description": "Protect your tools from rust and weather.", "category": "lifestyle", "tags": ["garden"], "price": {"amount": "0", "currency": "USD"}}), true)
        .await;
    let german = m
        .course(b, json!({"title": "Rust für Einsteiger", "description": "Grundlagen.", "language": "de", "tags": [], "price": {"amount": "9.99", "currency": "USD"}}), true)
        .await;
    let _draft = m.course(a, json!({"title": "Rust Draft Course"}), false).await;
    let cooking = m
        .course(b, json!({"title": "Cooking Pasta", "description": "Fresh pasta at home.", "category": "lifestyle", "tags": ["food"], "price": {"amount": "0", "currency": "USD"}}), true)
        .await;

    // Ratings and popularity: free courses bought and reviewed.
    for (course, rating) in [(&cooking, 5), (&cooking, 5), (&desc, 2)] {
        let buyer = Uuid::now_v7();
        assert_eq!(m.buy(buyer, &id(course), &Uuid::new_v4().to_string()).await.status(), 201);
        let res = m
            .post(buyer, &[Role::Learner], &format!("/api/courses/{}/reviews", id(course)), json!({"rating": rating}))
            .await;
        assert_eq!(res.status(), 201, "{:?}", res.text().await);
    }
    // The purchases counted now rather than at the next fold (MARKETPLACE_PURCHASE_COUNT_FOLD_MS).
    let mut conn = m.svc.pool.get().await.unwrap();
    marketplace::store::courses::PURCHASE_COUNT_FOLD.run_waiting_on(&mut conn).await.unwrap();
    drop(conn);

    // Relevance: title matches, then tags, then description; drafts never.
    let found = ids(&m.get_json(None, "/api/courses/list?q=rust").await);
    assert_eq!(found.len(), 4, "{found:?}");
    assert_eq!(sorted(found[..2].to_vec()), sorted(vec![id(&title), id(&german)]));
    assert_eq!(found[2..], [id(&tags), id(&desc)]);
    assert_eq!(all_pages(&m, "q=rust&limit=1").await, found, "relevance pages with an opaque cursor");

    let by_b = format!("instructor={b}");
    let cases: Vec<(&str, Vec<String>)> = vec![
        ("category=lifestyle", vec![id(&desc), id(&cooking)]),
        ("level=advanced", vec![id(&title)]),
        ("language=de", vec![id(&german)]),
        ("min_price=10&max_price=20", vec![id(&tags)]),
        ("free=true", vec![id(&desc), id(&cooking)]),
        (&by_b, vec![id(&desc), id(&german), id(&cooking)]),
        ("min_rating=4", vec![id(&cooking)]),
        ("q=rust&free=true", vec![id(&desc)]),
        ("q=rust&category=programming&max_price=20", vec![id(&tags), id(&german)]),
        ("q=rust&category=lifestyle", vec![id(&desc)]),
    ];
    for (query, expected) in cases {
        let got = ids(&m.get_json(None, &format!("/api/courses/list?{query}")).await);
        assert_eq!(sorted(got), sorted(expected), "{query}");
    }

    let newest = all_pages(&m, "sort=newest&limit=2").await;
    assert_eq!(newest, vec![id(&cooking), id(&german), id(&desc), id(&tags), id(&title)]);
    let prices = |page: &Value| -> Vec<String> {
        page["data"].as_array().unwrap().iter().map(|c| c["price"]["amount"].as_str().unwrap().to_string()).collect()
    };
    let asc = m.get_json(None, "/api/courses/list?sort=price_asc").await;
    assert_eq!(prices(&asc), vec!["0.00", "0.00", "9.99", "19.00", "49.00"]);
    assert_eq!(all_pages(&m, "sort=price_asc&limit=2").await, ids(&asc));
    let desc_prices = m.get_json(None, "/api/courses/list?sort=price_desc").await;
    assert_eq!(prices(&desc_prices), vec!["49.00", "19.00", "9.99", "0.00", "0.00"]);
    let rated = all_pages(&m, "sort=rating&limit=2").await;
    assert_eq!(rated[..2], [id(&cooking), id(&desc)]);
    let popular = all_pages(&m, "sort=popularity&limit=3").await;
    assert_eq!(popular[..2], [id(&cooking), id(&desc)]);
    assert_eq!(popular.len(), 5);

    let rating = m.get_json(None, &format!("/api/courses/{}", id(&cooking))).await["rating"].clone();
    assert_eq!(rating, json!({"average": "5.00", "count": 2}));

    for bad in ["cursor=nonsense", "sort=cheapest", "level=guru", "min_price=5&max_price=1", "colour=red"] {
        let res = m.get(None, &format!("/api/courses/list?{bad}")).await;
        assert_eq!(res.status(), 422, "{bad}");
    }
    m.stop().await;
}

/// Measures the catalogue over 100k published courses (run with `--ignored`; prints timings).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore]
async fn search_over_100k_courses_stays_fast() {
    use diesel_async::RunQueryDsl;
    let m = Market::start().await;
    let mut conn = m.svc.pool.get().await.unwrap();
    let started = Instant::now();
    diesel::sql_query(
        "INSERT INTO courses (id, instructor_id, title, description, category, level, language, tags, price, currency, \
           status, content_key, content_type, content_size, content_sha256, content_filename, published_at, purchase_count) \
         SELECT gen_random_uuid(), gen_random_uuid(), \
           (ARRAY['Rust','Python','Gardening','Cooking','Finance','Design','Guitar','Spanish'])[1 + i % 8] || ' course ' || i, \
           'Learn ' || (ARRAY['systems','data','plants','pasta','markets','colour','chords','grammar'])[1 + (i / 8) % 8] || ' step by step', \
           (ARRAY['programming','lifestyle','business','music'])[1 + i % 4], 'beginner', 'en', ARRAY['tag' || (i % 50)], \
           (i % 100)::numeric, 'USD', 'published', 'k' || i, 'application/zip', 1, 'x', 'p.zip', \
           now() - make_interval(secs => i), i % 1000 \
         FROM generate_series(1, 100000) AS i",
    )
    .execute(&mut conn)
    .await
    .unwrap();
    diesel::sql_query("ANALYZE courses").execute(&mut conn).await.unwrap();
    for sql in [
        "SELECT id FROM courses WHERE status = 'published' \
           AND search @@ websearch_to_tsquery('english', 'gardening') AND price <= 10 \
           ORDER BY ts_rank(search, websearch_to_tsquery('english', 'gardening')) DESC, id DESC LIMIT 21",
        "SELECT id FROM courses WHERE status = 'published' \
           AND (rating_avg, id) < (5, 'ffffffff-ffff-ffff-ffff-ffffffffffff') ORDER BY rating_avg DESC, id DESC LIMIT 21",
    ] {
        println!("{}", testkit::plan::explain(&mut conn, sql, true).await);
    }
    drop(conn);
    println!("inserted 100k courses in {:?}", started.elapsed());
    for query in [
        "q=rust",
        "q=rust%20systems&sort=relevance",
        "q=gardening&max_price=10",
        "sort=newest",
        "sort=rating&category=music",
        "sort=popularity",
        "sort=price_asc&min_price=50",
        "free=true",
    ] {
        let path = format!("/api/courses/list?{query}");
        m.get_json(None, &path).await;
        let runs = 20;
        let t = Instant::now();
        for _ in 0..runs {
            m.get_json(None, &path).await;
        }
        let per = t.elapsed() / runs;
        println!("{query:40} {per:?} per request");
        assert!(per < Duration::from_millis(500), "{query} took {per:?}");
    }
    m.stop().await;
}

/// The public catalogue is served from memory for `catalog_cache_ms`: a course published after a
/// page was read shows up once that page is older than the setting, and clients are told so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn catalogue_pages_are_cached_for_the_configured_time() {
    let m =
        Market::start_with(Options { billing: false, rewards: false, tweak: Box::new(|c| c.catalog_cache_ms = 3_000) })
            .await;
    let author = Uuid::now_v7();
    let first = m.course(author, json!({"title": "Knitting Patterns", "tags": ["wool"]}), true).await;
    let res = m.get(None, "/api/courses/list?q=knitting").await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["cache-control"], "public, max-age=3");
    let page: Value = res.json().await.unwrap();
    assert_eq!(ids(&page), vec![id(&first)]);

    let second = m.course(author, json!({"title": "Knitting Socks", "tags": ["wool"]}), true).await;
    let read_again = Instant::now();
    assert_eq!(ids(&m.get_json(None, "/api/courses/list?q=knitting").await), vec![id(&first)], "the cached page");
    assert_eq!(ids(&m.get_json(None, "/api/courses/list?q=knitting&limit=5").await).len(), 2, "another query reads");
    tokio::time::sleep(Duration::from_millis(3_100).saturating_sub(read_again.elapsed())).await;
    let fresh = ids(&m.get_json(None, "/api/courses/list?q=knitting").await);
    assert_eq!(sorted(fresh), sorted(vec![id(&first), id(&second)]));
    m.stop().await;
}
