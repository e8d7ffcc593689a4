//! `?page=N&per_page=M` for every list: page from 1, `per_page` capped.

use serde::Serialize;

use crate::domain::{FieldErrors, Username};
use crate::error::{AppError, PageError};
use crate::store::Page;

pub const PAGE_SIZE: u64 = 20;
pub const MAX_PER_PAGE: u64 = 100;
/// The highest page asked for that is looked up as such; a higher one is
/// this one (empty all the same).
pub const MAX_PAGE: u64 = i64::MAX as u64 / MAX_PER_PAGE;
/// Longest search text accepted.
pub const MAX_QUERY_CHARS: usize = 200;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Paging {
    pub page: u64,
    pub per_page: u64,
}

impl Paging {
    /// Missing values take defaults; a `per_page` above the cap is lowered to
    /// it; anything else that is not a whole number from 1 is refused.
    pub fn parse(page: Option<&str>, per_page: Option<&str>) -> Result<Self, FieldErrors> {
        let mut errors = FieldErrors::new();
        let mut number = |field: &str, raw: Option<&str>, default: u64| match raw.map(str::trim) {
            None | Some("") => default,
            Some(raw) => match raw.parse::<u64>() {
                Ok(n) if n >= 1 => n,
                Ok(_) | Err(_) if raw.bytes().all(|b| b.is_ascii_digit()) && raw.len() > 18 => u64::MAX,
                _ => {
                    errors.add(field, format!("{field} must be a whole number, 1 or more."));
                    default
                }
            },
        };
        let page = number("page", page, 1);
        let per_page = number("per_page", per_page, PAGE_SIZE).min(MAX_PER_PAGE);
        // Keeps the offset within a signed 64-bit integer, the most any
        // database takes (a larger one was a 500); such a page is empty.
        let page = page.min(MAX_PAGE);
        errors.into_result(|| Self { page, per_page })
    }
}

/// A search term: trimmed, at most `MAX_QUERY_CHARS`, `None` when blank.
pub fn search_term(q: Option<&str>) -> Result<Option<&str>, FieldErrors> {
    match q.map(str::trim) {
        None | Some("") => Ok(None),
        Some(q) if q.chars().count() > MAX_QUERY_CHARS => {
            Err(FieldErrors::single("q", format!("A search has at most {MAX_QUERY_CHARS} characters.")))
        }
        // PostgreSQL cannot hold a NUL in text, nor SQLite's FTS5 in a query.
        Some(q) if q.contains('\0') => Err(FieldErrors::single("q", "A search cannot contain a NUL character.")),
        Some(q) => Ok(Some(q)),
    }
}

/// Bad paging or search parameters on a page: a 400 page with the message.
pub fn bad_query(errors: FieldErrors) -> PageError {
    PageError(AppError::BadRequest(errors.first_message().unwrap_or("Bad request").to_owned()))
}

/// Where a page sits in its list, for a template's pager.
#[derive(Debug, Serialize)]
pub struct Pager {
    pub page: u64,
    pub last_page: u64,
    pub total: u64,
    /// The page before, if any (from past the end: the last page).
    pub prev: Option<u64>,
    pub next: Option<u64>,
}

impl Pager {
    pub fn of<T>(found: &Page<T>) -> Self {
        let last_page = found.last_page();
        Self {
            page: found.page,
            last_page,
            total: found.total,
            prev: (found.page > 1).then(|| found.page.min(last_page + 1) - 1),
            next: (found.page < last_page).then_some(found.page + 1),
        }
    }
}

/// An `author` filter: a trimmed username, `None` when blank. Anything that
/// could not be a username is refused rather than looked up: no account
/// has it, and a page would echo it in every pager link.
pub fn author_term(author: Option<&str>) -> Result<Option<Username>, FieldErrors> {
    match author.map(str::trim) {
        None | Some("") => Ok(None),
        Some(author) => Username::parse(author)
            .map(Some)
            .map_err(|why| FieldErrors::single("author", format!("author must be a username. {}", why.0))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paging_defaults_caps_and_refusals() {
        assert_eq!(Paging::parse(None, None), Ok(Paging { page: 1, per_page: 20 }));
        assert_eq!(Paging::parse(Some("3"), Some("500")), Ok(Paging { page: 3, per_page: 100 }));
        for (page, per_page) in [(Some("0"), None), (Some("abc"), None), (Some("-1"), None), (None, Some("0")), (Some("1.5"), None)] {
            assert!(Paging::parse(page, per_page).is_err(), "case {page:?} {per_page:?}");
        }
        assert!(Paging::parse(Some("99999999999999999999999"), None).is_ok(), "huge pages are just empty");
    }

    #[test]
    fn an_author_is_a_username_or_nothing() {
        assert_eq!(author_term(None), Ok(None));
        assert_eq!(author_term(Some("  ")), Ok(None));
        assert_eq!(author_term(Some(" cook.1 ")), Ok(Some(Username::parse("cook.1").unwrap())));
        for bad in ["ab", "a b c", "<script>", &"x".repeat(63_000)] {
            assert!(author_term(Some(bad)).is_err(), "case {bad:.20}");
        }
    }

    #[test]
    fn the_largest_offset_fits_a_signed_64_bit_integer() {
        let paging = Paging::parse(Some("135963666789254368"), Some("1596")).unwrap();
        let offset = (paging.page - 1) * paging.per_page;
        assert!(i64::try_from(offset).is_ok(), "offset {offset}");
    }
}
