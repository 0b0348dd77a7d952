//! keyward's SMS: the port ([`SmsSender`]) the server sends through, its Twilio adapter
//! ([`twilio::TwilioClient`], a thin reqwest client whose base URL is configurable so that
//! tests point it at a local fake), E.164 phone numbers ([`phone`]), message segments
//! ([`segments`]), the per-organisation burst limiter ([`burst`]), and the signature
//! check of Twilio's status callbacks ([`signature`]).
//!
//! Architecture invariant: no database and no JSON-RPC here. The pipeline that decides
//! whether to send, records the attempt and answers the caller lives in the rpc crate;
//! the database counts (per recipient, per day) live in the persistence crate.

pub mod burst;
pub mod phone;
pub mod segments;
pub mod signature;
pub mod twilio;

use std::future::Future;
use std::pin::Pin;

pub use twilio::{Credentials, Delivery, OutboundSms, SendFailure};

/// The port: sends one message and says what became of it.
pub trait SmsSender: Send + Sync {
    fn send<'a>(
        &'a self,
        credentials: &'a Credentials,
        message: &'a OutboundSms,
    ) -> Pin<Box<dyn Future<Output = Result<Delivery, SendFailure>> + Send + 'a>>;
}
