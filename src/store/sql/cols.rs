//! Reading a row of the SQL store: one reader for every table, so that each `…_from_row`
//! names its columns and their meaning, not the decoding. Times are stored as milliseconds,
//! flags as integers and ids as text; a value that does not read is `StoreError::Invalid`
//! naming the column, or the driver's error mapped as every other store error is.

use chrono::{DateTime, Utc};
use sqlx::Row as _;
use sqlx::any::AnyRow;
use uuid::Uuid;

use super::map_err;
use crate::clock::from_millis;
use crate::store::StoreError;

/// A stored value that the application could not have written.
pub(super) fn invalid(what: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Invalid(format!("{what}: {e}"))
}

pub(super) struct Cols<'r>(pub(super) &'r AnyRow);

impl Cols<'_> {
    pub(super) fn text(&self, c: &str) -> Result<String, StoreError> {
        self.0.try_get(c).map_err(map_err)
    }

    pub(super) fn opt_text(&self, c: &str) -> Result<Option<String>, StoreError> {
        self.0.try_get(c).map_err(map_err)
    }

    pub(super) fn int(&self, c: &str) -> Result<i64, StoreError> {
        self.0.try_get(c).map_err(map_err)
    }

    pub(super) fn time(&self, c: &str) -> Result<DateTime<Utc>, StoreError> {
        self.int(c).map(from_millis)
    }

    pub(super) fn opt_time(&self, c: &str) -> Result<Option<DateTime<Utc>>, StoreError> {
        let v: Option<i64> = self.0.try_get(c).map_err(map_err)?;
        Ok(v.map(from_millis))
    }

    pub(super) fn flag(&self, c: &str) -> Result<bool, StoreError> {
        self.int(c).map(|v| v != 0)
    }

    pub(super) fn uuid(&self, c: &str) -> Result<Uuid, StoreError> {
        Uuid::parse_str(&self.text(c)?).map_err(|e| invalid(c, e))
    }

    pub(super) fn opt_uuid(&self, c: &str) -> Result<Option<Uuid>, StoreError> {
        self.opt_text(c)?
            .map(|s| Uuid::parse_str(&s).map_err(|e| invalid(c, e)))
            .transpose()
    }

    /// A text column read by the domain type's own parser (a kind, a status).
    pub(super) fn parsed<T>(
        &self,
        c: &str,
        parse: impl FnOnce(&str) -> Option<T>,
    ) -> Result<T, StoreError> {
        let s = self.text(c)?;
        parse(&s).ok_or_else(|| invalid(c, format!("`{s}`")))
    }

    /// A JSON text column.
    pub(super) fn json<T: serde::de::DeserializeOwned>(&self, c: &str) -> Result<T, StoreError> {
        serde_json::from_str(&self.text(c)?).map_err(|e| invalid(c, e))
    }
}
