//! The ingest side of Throughline over HTTP: tracking beacons, lead forms and CRM webhooks.
//! One router serves the `collect` and `crm-webhook` Lambda functions and
//! `throughline serve`, so there is one implementation of every handler. This crate holds
//! what is HTTP's: routes, API keys, tracked links' redirects, bot detection and the
//! mapping of ingest errors to statuses; the steps themselves are `throughline-ingest`'s.
//!
//! Routes (a public interface, see docs/HTTP.md):
//! - `POST /v1/events`, `GET /v1/t.gif` — touchpoints
//! - `POST /v1/leads` — lead forms
//! - `GET /r/{code}` — tracked links; `GET /v1/throughline.js` — the snippet
//! - `POST /v1/webhooks/{crm}` — CRM webhooks (HubSpot, Pipedrive, KeyCRM, Bitrix24, Kommo,
//!   Shopify, generic)

mod api;
pub mod auth;
mod bots;
mod error;
mod links;
pub mod listener;
mod routes;
pub mod runtime;

pub use error::ApiError;
pub use routes::{BODY_LIMIT, collect_router, ingest_router, webhook_router};
