//! SMS settings and the record of every send that reached the provider stage.
//!
//! A send is two transactions around the provider call (the contract's pipeline):
//! [`begin`] settles idempotency, checks the limits and commits a `pending` row — the
//! outbox — and [`finish`] records the outcome with its audit event. Rows left `pending`
//! by a crash become `unknown` ([`mark_stale_pending`]); nothing is ever re-sent.
//! The message body is never stored: it may hold an access code.

mod inbound;
mod reports;
mod sends;
mod settings;

pub use inbound::{answer, opted_out, organisations_for, set_opt_out};
pub use reports::{apply_report, mark_stale_pending};
pub use sends::{Attempt, Begun, Caps, CodeSent, Outcome, Recorded, begin, finish, replay};
pub(crate) use settings::configured;
pub use settings::{Account, NewSettings, account, save, view};
pub(crate) use settings::{reseal_token, sealed_tokens};
