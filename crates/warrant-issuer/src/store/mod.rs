//! Storage: one code path over sqlx's `Any` driver, SQLite by default, PostgreSQL by URL.
//!
//! Pitfalls this module is written around: the `Any` driver carries only bools, integers,
//! floats, strings and bytes (times are Unix seconds, booleans 0/1 `BIGINT`s); the two
//! databases get two migration folders, picked at run time; and everything that must be
//! ordered across replicas (the audit chain, the revocation feed) is appended under a row
//! lock taken by a no-op `UPDATE` of a head row, which both databases honour.
//!
//! One file per concern; [`Store`] and its errors are in `db`.

mod admin;
mod agents;
mod audit;
mod bounds;
mod challenges;
mod console;
mod db;
mod humans;
mod keys;
mod oauth;
mod passkeys;
mod requests;
mod revocations;

pub use admin::AdminCredentialRow;
pub use agents::AgentRow;
pub use audit::AuditEntry;
pub use bounds::TableSizes;
pub use challenges::Challenge;
pub use db::{Backend, Store, StoreError, Tx, EPHEMERAL_CONNECTIONS, SQLITE_JOURNAL_MODE};
pub use humans::{HumanRow, RoleRow};
pub use keys::{KeyRow, KeyVersion};
pub use oauth::{Approved, AuthorizationRow, ConsentRow, FamilyRow, Refreshed};
pub use passkeys::{CeremonyRow, PasskeyRow, SessionRow};
pub use requests::{Approval, RequestRow};
pub use revocations::{RevocationRow, TokenRow};
