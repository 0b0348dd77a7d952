//! End-to-end tests: the real `keyward` binary over real HTTP, each test on its own
//! fresh database, every test on SQLite and on PostgreSQL (`NAME::sqlite`,
//! `NAME::postgres`).

mod support;

mod access_codes;
mod audit;
mod audit_chain;
mod auth;
mod bad_input;
mod cli;
mod clock;
mod code_ledger;
mod cors;
mod crash;
mod developments;
mod doors;
mod faults;
mod fuzz;
mod grant_lifecycle;
mod grants;
mod handover;
mod isolation;
mod jobs;
mod jsonrpc;
mod key_sets;
mod keycards;
mod keys;
mod limits;
mod log_hygiene;
mod metrics;
mod offboarding;
mod openrpc;
mod paging;
mod people;
mod protocol;
mod races;
mod reminders;
mod roles;
mod scale_out;
mod smoke;
mod sms;
mod sms_status;
mod transitions;
mod transport;
mod webhooks;
mod websocket;
