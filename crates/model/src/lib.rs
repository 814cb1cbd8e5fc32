//! Throughline's domain: the tables of the money path (touchpoints, leads, deal events,
//! orders, ad costs, and the exchange rates and ad clicks that explain them), how an
//! incoming record becomes a valid row of one of them, and the rules that give a
//! touchpoint its channel. Nothing here does I/O, so every edge (file import, webhooks,
//! Lambda) validates a record the same way.

pub mod channel;
pub mod contact;
pub mod error;
pub mod field;
pub mod money;
pub mod rejected;
pub mod table;
pub mod tenant;
pub mod tracking;

pub use error::{Error, Result, RowError};
pub use rejected::Rejected;
pub use table::{Row, Table, Value};
pub use tenant::TenantId;
