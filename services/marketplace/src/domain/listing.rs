//! The catalogue query: filters, sort orders and the opaque cursor of each order.

use platform::money::Currency;
use platform::pagination::{checked_offset, invalid_cursor};
use platform::problem::FieldError;
use platform::Problem;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Catalogue order: `relevance` needs `q` (and is its default); otherwise `newest` is the default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(as = CourseSort)]
pub enum Sort {
    Relevance,
    Newest,
    Rating,
    Popularity,
    PriceAsc,
    PriceDesc,
}

/// `GET /api/courses/list` query string.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Full-text search (web search syntax: words, "phrases", -exclusions, or); at most 200 characters.
    pub q: Option<String>,
    /// Exact category, e.g. `programming`.
    pub category: Option<String>,
    /// `beginner`, `intermediate`, `advanced` or `all_levels`.
    pub level: Option<String>,
    /// ISO 639-1 code, e.g. `en` or `pt-BR`.
    pub language: Option<String>,
    /// Lowest price (decimal string, major units), not negative.
    #[param(value_type = Option<String>, example = "10.00")]
    pub min_price: Option<Decimal>,
    /// Highest price (decimal string, major units), not below `min_price`.
    #[param(value_type = Option<String>, example = "50.00")]
    pub max_price: Option<Decimal>,
    /// Only courses priced in this currency.
    pub currency: Option<Currency>,
    /// Only free courses.
    pub free: Option<bool>,
    /// Lowest average rating, 0-5 (decimal string).
    #[param(value_type = Option<String>, example = "4.5")]
    pub min_rating: Option<Decimal>,
    /// Only this instructor's courses.
    pub instructor: Option<Uuid>,
    /// `relevance` (default with `q`), `newest` (default without), `rating`, `popularity`,
    /// `price_asc` or `price_desc`.
    pub sort: Option<Sort>,
    /// Page size, 1-100 (default 20).
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page (same filters and sort).
    pub cursor: Option<String>,
}

/// Where the next page starts. Keyset on the sort key for every order but relevance, whose rank
/// is computed per query: there, an offset.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ListCursor {
    pub sort: Sort,
    /// The sort key of the last row served (time, decimal or count, as text).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<Uuid>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset: Option<i64>,
}

/// The validated query, ready for the store.
#[derive(Debug, Clone)]
pub struct Search {
    pub text: Option<String>,
    pub category: Option<String>,
    pub level: Option<String>,
    pub language: Option<String>,
    pub min_price: Option<Decimal>,
    pub max_price: Option<Decimal>,
    pub currency: Option<Currency>,
    pub free_only: bool,
    pub min_rating: Option<Decimal>,
    pub instructor: Option<Uuid>,
    pub sort: Sort,
    pub after: Option<ListCursor>,
    pub limit: i64,
}

impl ListQuery {
    pub fn validate(self) -> Result<Search, Problem> {
        let mut errors = Vec::new();
        let mut err =
            |field: &str, message: &str| errors.push(FieldError { field: field.into(), message: message.into() });
        let text = self.q.map(|q| q.trim().to_string()).filter(|q| !q.is_empty());
        if text.as_ref().is_some_and(|q| q.chars().count() > 200) {
            err("q", "must be at most 200 characters");
        }
        if self.level.as_deref().is_some_and(|l| !super::course::LEVELS.contains(&l)) {
            err("level", "must be one of beginner, intermediate, advanced, all_levels");
        }
        if self.language.as_deref().is_some_and(|l| !super::course::is_language(l)) {
            err("language", "must be an ISO 639-1 code such as en or pt-BR");
        }
        if self.min_price.is_some_and(|p| p < Decimal::ZERO) {
            err("min_price", "must not be negative");
        }
        if let (Some(lo), Some(hi)) = (self.min_price, self.max_price) {
            if lo > hi {
                err("max_price", "must not be below min_price");
            }
        }
        if self.min_rating.is_some_and(|r| r < Decimal::ZERO || r > Decimal::from(5)) {
            err("min_rating", "must be between 0 and 5");
        }
        // Relevance needs words to rank by; without them the newest come first.
        let sort = match (self.sort, &text) {
            (Some(Sort::Relevance), None) | (None, None) => Sort::Newest,
            (None, Some(_)) => Sort::Relevance,
            (Some(s), _) => s,
        };
        if !errors.is_empty() {
            return Err(Problem::validation(errors));
        }
        let page = platform::pagination::PageQuery { limit: self.limit, cursor: self.cursor };
        let after: Option<ListCursor> = page.cursor()?;
        if let Some(c) = &after {
            let usable = c.sort == sort
                && if sort == Sort::Relevance { c.offset.is_some() } else { c.key.is_some() && c.id.is_some() };
            if !usable {
                return Err(invalid_cursor("does not belong to this query's sort order"));
            }
            // A crafted offset must not reach `offset + limit` (the next cursor) or the query.
            c.offset.map(checked_offset).transpose()?;
        }
        Ok(Search {
            text,
            category: self.category,
            level: self.level,
            language: self.language,
            min_price: self.min_price,
            max_price: self.max_price,
            currency: self.currency,
            free_only: self.free.unwrap_or(false),
            min_rating: self.min_rating,
            instructor: self.instructor,
            sort,
            after,
            limit: page.limit(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sort_defaults_to_relevance_with_words_else_newest() {
        let q = ListQuery { q: Some("rust".into()), ..Default::default() };
        assert_eq!(q.validate().expect("ok").sort, Sort::Relevance);
        assert_eq!(ListQuery::default().validate().expect("ok").sort, Sort::Newest);
        let q = ListQuery { sort: Some(Sort::Relevance), q: Some("  ".into()), ..Default::default() };
        assert_eq!(q.validate().expect("ok").sort, Sort::Newest);
    }

    #[test]
    fn bad_filters_are_named() {
        let q = ListQuery {
            level: Some("guru".into()),
            min_price: Some(Decimal::from(10)),
            max_price: Some(Decimal::from(5)),
            min_rating: Some(Decimal::from(6)),
            ..Default::default()
        };
        let p = q.validate().expect_err("invalid");
        let fields: Vec<_> = p.errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, vec!["level", "max_price", "min_rating"]);
    }

    #[test]
    fn a_cursor_of_another_sort_is_refused() {
        let c = ListCursor { sort: Sort::Rating, key: Some("4.5".into()), id: Some(Uuid::nil()), offset: None };
        let q = ListQuery {
            sort: Some(Sort::Newest),
            cursor: Some(platform::pagination::encode_cursor(&c)),
            ..Default::default()
        };
        assert_eq!(q.validate().expect_err("refused").errors[0].field, "cursor");
        let q = ListQuery { cursor: Some("garbage!".into()), ..Default::default() };
        assert_eq!(q.validate().expect_err("refused").code, "invalid_cursor");
    }

    #[test]
    fn a_relevance_offset_out_of_range_is_refused() {
        let words = |offset: i64| ListQuery {
            q: Some("rust".into()),
            cursor: Some(platform::pagination::encode_cursor(&ListCursor {
                sort: Sort::Relevance,
                key: None,
                id: None,
                offset: Some(offset),
            })),
            ..Default::default()
        };
        assert_eq!(words(40).validate().expect("in range").after.and_then(|c| c.offset), Some(40));
        for bad in [i64::MAX, -1, i64::MIN, platform::pagination::MAX_OFFSET + 1] {
            let p = words(bad).validate().expect_err("out of range");
            assert_eq!((p.status, p.code.as_str(), p.errors[0].field.as_str()), (422, "invalid_cursor", "cursor"));
        }
    }
}
