//! The data the scenarios act on, made through the API before any fault: an instructor's
//! published paid courses, and redeemers holding exactly the tokens their redemptions cost (so a
//! doubled redemption cannot hide: the last one would be refused for want of tokens).

use crate::client::Api;
use serde_json::{json, Value};
use std::time::Duration;
use uuid::Uuid;

/// The catalogue item redeemed, and what it costs (rewards' seeded catalogue).
pub const ITEM: &str = "course_voucher";
pub const ITEM_COST: i64 = 300;
pub const PRICE: &str = "20.00";

pub struct World {
    pub courses: Vec<String>,
    /// Redeemers and how many redemptions each makes.
    pub redeemers: Vec<Uuid>,
    pub redemptions_each: i64,
}

async fn publish_course(api: &Api, instructor: Uuid, n: usize) -> Result<String, String> {
    let title = format!("Chaos course {n}: surviving kill -9");
    let metadata = json!({
        "title": title,
        "description": format!("{title}, a course bought while its services crash."),
        "category": "programming",
        "level": "intermediate",
        "language": "en",
        "tags": ["chaos"],
        "price": {"amount": PRICE, "currency": "USD"},
    });
    let boundary = format!("chaos-{}", Uuid::new_v4().simple());
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"metadata\"\r\nContent-Type: application/json\r\n\r\n\
         {metadata}\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"course.pdf\"\r\n\
         Content-Type: application/pdf\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(b"%PDF-1.7\n% a chaos course package\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n");
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let res = api
        .http
        .post(format!("{}/api/courses/upload", api.gateway))
        .header("authorization", api.bearer(instructor, "instructor")?)
        .header("content-type", format!("multipart/form-data; boundary={boundary}"))
        .body(body)
        .send()
        .await
        .map_err(|e| format!("upload: {e}"))?;
    let status = res.status().as_u16();
    let uploaded: Value = res.json().await.map_err(|e| format!("upload: {e}"))?;
    let id = uploaded["id"].as_str().ok_or_else(|| format!("upload: {status} {uploaded}"))?.to_string();
    let published = api
        .http
        .post(format!("{}/api/courses/{id}/publish", api.gateway))
        .header("authorization", api.bearer(instructor, "instructor")?)
        .send()
        .await
        .map_err(|e| format!("publish: {e}"))?;
    if published.status() != 200 {
        return Err(format!("publish {id}: {}", published.status()));
    }
    Ok(id)
}

/// `courses` paid courses, and `redeemers` users each awarded `redemptions_each` redemptions'
/// worth of tokens by an admin.
pub async fn build(api: &Api, courses: usize, redeemers: usize, redemptions_each: i64) -> Result<World, String> {
    let instructor = Uuid::new_v4();
    let mut ids = Vec::new();
    for n in 0..courses {
        ids.push(publish_course(api, instructor, n).await?);
    }
    let admin = Uuid::new_v4();
    let mut users = Vec::new();
    for _ in 0..redeemers {
        let user = Uuid::new_v4();
        let award =
            json!({"user_id": user, "amount": ITEM_COST * redemptions_each, "reason": "chaos: tokens to redeem"});
        let key = Uuid::new_v4().to_string();
        api.post_until_done(admin, "admin", "/api/tokens/award", &award, &key, Duration::from_secs(10)).await?;
        users.push(user);
    }
    Ok(World { courses: ids, redeemers: users, redemptions_each })
}
