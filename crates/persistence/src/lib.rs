//! keyward's storage: one diesel code path over PostgreSQL and SQLite.
//!
//! Architecture invariants: every query of tenant data filters on `org_id`; every
//! mutation writes its audit event in the same transaction ([`Db::write`]); a status
//! change is one conditional UPDATE. Where the SQL must differ between the databases,
//! the difference lives here, behind one function.

pub mod connection;
mod error;
mod org_lock;
mod pool;
pub mod repo;
pub mod schema;
pub mod secrets;
pub mod time;

pub use connection::DatabaseUrl;
pub use error::{StoreError, StoreResult};
pub use pool::{Db, PoolStatus, let_go_of_connection};
pub use secrets::{Sealer, SecretKey};
