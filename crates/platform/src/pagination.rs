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

#[derive(Debug, Clone, Default, Deserialize)]
pub struct PageQuery {
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

impl PageQuery {
    /// The limit clamped to 1..=100.
    pub fn limit(&self) -> i64 {
        self.limit.unwrap_or(DEFAULT_LIMIT).clamp(1, MAX_LIMIT)
    }

    /// The decoded cursor, or a 422 naming `cursor` when it was tampered with.
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
        .ok_or_else(|| Problem::field("cursor", "is not a cursor this API issued"))
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
}
