//! Pagination: `page` ≥ 1 (default 1), `limit` 1–100 (default 50). Out of range is an
//! error, never silently clamped.

use serde::Serialize;
use specta::Type;

use crate::{Error, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest {
    pub page: i32,
    pub limit: i32,
}

impl PageRequest {
    pub const MAX_LIMIT: i32 = 100;

    pub fn new(page: Option<i32>, limit: Option<i32>) -> Result<Self> {
        let page = page.unwrap_or(1);
        let limit = limit.unwrap_or(50);
        if page < 1 {
            return Err(Error::invalid("page", "must be 1 or more"));
        }
        if !(1..=Self::MAX_LIMIT).contains(&limit) {
            return Err(Error::invalid("limit", "must be between 1 and 100"));
        }
        Ok(PageRequest { page, limit })
    }

    pub fn offset(self) -> i64 {
        i64::from(self.page - 1) * i64::from(self.limit)
    }
}

/// One page of a list, with the total number of matching items.
#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Every match or, when `totalCapped`, a lower bound.
    pub total: i32,
    /// The total stopped counting at its cap: there are more matches than `total`.
    pub total_capped: bool,
    /// The page asked for; 0 when the page was asked by cursor.
    pub page: i32,
    pub limit: i32,
    /// Where the next page starts (`keys.listKeys`); null on the last page and in the other lists.
    pub next_cursor: Option<String>,
}

impl<T> Page<T> {
    /// A page of a list whose total is counted exactly and that has no cursor.
    pub fn counted(items: Vec<T>, total: i32, request: PageRequest) -> Page<T> {
        Page { items, total, total_capped: false, page: request.page, limit: request.limit, next_cursor: None }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_bounds() {
        assert_eq!(PageRequest::new(None, None).unwrap(), PageRequest { page: 1, limit: 50 });
        assert_eq!(PageRequest::new(Some(3), Some(100)).unwrap().offset(), 200);
        assert_eq!(PageRequest::new(Some(0), None).unwrap_err(), Error::invalid("page", "must be 1 or more"));
        assert!(PageRequest::new(None, Some(0)).is_err());
        assert!(PageRequest::new(None, Some(101)).is_err());
        assert_eq!(PageRequest::new(Some(i32::MAX), Some(100)).unwrap().offset(), (i64::from(i32::MAX) - 1) * 100);
    }
}
