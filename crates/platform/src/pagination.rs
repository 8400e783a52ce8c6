//! Cursor pagination: `?limit=` (default 20, max 100) and an opaque `?cursor=`.
//!
//! The cursor is the sort key of the last row served (time + id), base64url-encoded JSON, so
//! pages stay stable while rows are inserted and queries use keyset conditions, not OFFSET.

use crate::problem::Problem;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

pub const DEFAULT_LIMIT: i64 = 20;
pub const MAX_LIMIT: i64 = 100;

/// Deepest position an offset cursor may name. Offsets serve only where no keyset exists (a
/// relevance rank computed per query, a small board ranked in memory); no such list is this deep,
/// and the bound keeps `offset + limit` and every conversion of it far from overflow, whatever a
/// crafted cursor says.
pub const MAX_OFFSET: i64 = 1_000_000;

/// `?limit=&cursor=`: the query of every list with nothing else to filter by, and the page part
/// of those that filter (they copy both fields and build one of these).
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// Page size, 1-100 (default 20).
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

impl PageQuery {
    /// The limit clamped to 1..=100.
    pub fn limit(&self) -> i64 {
        self.limit.unwrap_or(DEFAULT_LIMIT).clamp(1, MAX_LIMIT)
    }

    /// The decoded cursor, or a 422 `invalid_cursor` when it was tampered with.
    pub fn cursor<C: DeserializeOwned>(&self) -> Result<Option<C>, Problem> {
        self.cursor.as_deref().map(decode_cursor).transpose()
    }
}

/// A page of a list: `next_cursor` is null on the last page.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Page<T> {
    pub data: Vec<T>,
    pub next_cursor: Option<String>,
}

impl<T> Page<T> {
    /// Build a page from `limit + 1` fetched rows: the extra row only tells that more exist.
    pub fn from_rows<C: Serialize>(mut rows: Vec<T>, limit: i64, cursor_of: impl Fn(&T) -> C) -> Self {
        let more = rows.len() as i64 > limit;
        rows.truncate(limit.max(0) as usize);
        let next_cursor = if more { rows.last().map(|last| encode_cursor(&cursor_of(last))) } else { None };
        Page { data: rows, next_cursor }
    }
}

pub fn encode_cursor<C: Serialize>(cursor: &C) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(cursor).unwrap_or_default())
}

pub fn decode_cursor<C: DeserializeOwned>(raw: &str) -> Result<C, Problem> {
    URL_SAFE_NO_PAD
        .decode(raw)
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .ok_or_else(|| invalid_cursor("is not a cursor this API issued"))
}

/// 422 `invalid_cursor`, naming the `cursor` field: a cursor this API did not issue (garbage, a
/// foreign query's, or a number out of range). Nothing is read with it.
pub fn invalid_cursor(message: &str) -> Problem {
    Problem {
        code: "invalid_cursor".into(),
        type_uri: "https://errors.monetization.example/invalid_cursor".into(),
        title: "The cursor is not valid".into(),
        ..Problem::field("cursor", message)
    }
}

/// An offset read from a cursor, checked against `0..=MAX_OFFSET`.
pub fn checked_offset(offset: i64) -> Result<i64, Problem> {
    if (0..=MAX_OFFSET).contains(&offset) {
        Ok(offset)
    } else {
        Err(invalid_cursor("names a position out of range"))
    }
}

/// Where the page after `served` rows from `offset` starts; `None` (no next page) past
/// `MAX_OFFSET`, so no cursor this API issues is one it would refuse.
pub fn next_offset(offset: i64, served: i64) -> Option<i64> {
    offset.checked_add(served).filter(|next| (0..=MAX_OFFSET).contains(next))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limit_is_clamped() {
        assert_eq!(PageQuery::default().limit(), 20);
        assert_eq!(PageQuery { limit: Some(1000), cursor: None }.limit(), 100);
        assert_eq!(PageQuery { limit: Some(0), cursor: None }.limit(), 1);
    }

    #[test]
    fn page_from_extra_row_sets_cursor() {
        let page = Page::from_rows(vec![1, 2, 3], 2, |n| *n);
        assert_eq!(page.data, vec![1, 2]);
        let c: i32 = decode_cursor(page.next_cursor.as_deref().expect("more")).expect("decodes");
        assert_eq!(c, 2);
        assert!(Page::from_rows(vec![1, 2], 2, |n| *n).next_cursor.is_none());
        assert!(decode_cursor::<i32>("not-base64!").is_err());
    }

    #[test]
    fn a_bad_cursor_is_an_invalid_cursor_problem() {
        let p = decode_cursor::<i64>("bm9wZQ").expect_err("not JSON");
        assert_eq!((p.status, p.code.as_str()), (422, "invalid_cursor"));
        assert_eq!(p.errors[0].field, "cursor");
        // 2^64 does not fit the number the cursor is read into.
        assert!(decode_cursor::<i64>(&URL_SAFE_NO_PAD.encode("18446744073709551616")).is_err());
    }

    #[test]
    fn offsets_are_range_checked() {
        assert_eq!(checked_offset(0).ok(), Some(0));
        assert_eq!(checked_offset(MAX_OFFSET).ok(), Some(MAX_OFFSET));
        for bad in [-1, MAX_OFFSET + 1, i64::MAX, i64::MIN] {
            assert_eq!(checked_offset(bad).expect_err("out of range").code, "invalid_cursor");
        }
        assert_eq!(next_offset(20, 20), Some(40));
        assert_eq!(next_offset(MAX_OFFSET - 10, 20), None);
        assert_eq!(next_offset(i64::MAX, MAX_LIMIT), None);
    }
}
