//! Counting connections: at most N per client address and M in all. A few connections
//! past M are still served, but only to say that the server is saturated (`/health`
//! included); past those, and past the per-address cap, a connection gets a canned
//! answer and is closed at once, without reading its request.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};

use super::http::rpc_error_body;
use crate::error;

/// Connections past the total cap still served, to answer "saturated".
pub const OVERFLOW: usize = 16;
/// Refusals being written at once; past it a refused connection is just closed.
const REFUSALS_IN_FLIGHT: usize = 64;

/// What happens to a new connection.
pub enum Admission {
    /// Served as usual.
    Serve(Guard),
    /// Over the total cap: served, but every request is answered "saturated" (503).
    Saturated(Guard),
    /// Answered with this canned response and closed.
    Refuse(Refusal),
}

/// Why a connection is refused without being read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Its address already has the most connections allowed: 429.
    PerAddress,
    /// The server is past its total cap and its overflow: 503.
    Saturated,
}

#[derive(Debug, Default)]
struct Counts {
    total: usize,
    overflow: usize,
    per_address: HashMap<IpAddr, usize>,
}

/// The open connections, counted.
#[derive(Debug)]
pub struct Connections {
    max_total: usize,
    max_per_address: usize,
    counts: Mutex<Counts>,
    /// Woken whenever a connection closes.
    closed: Notify,
    refusals: Arc<Semaphore>,
}

impl Connections {
    pub fn new(max_total: usize, max_per_address: usize) -> Arc<Connections> {
        Arc::new(Connections {
            max_total,
            max_per_address,
            counts: Mutex::new(Counts::default()),
            closed: Notify::new(),
            refusals: Arc::new(Semaphore::new(REFUSALS_IN_FLIGHT)),
        })
    }

    fn counts(&self) -> std::sync::MutexGuard<'_, Counts> {
        self.counts.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Decides what a new connection from `address` gets, and counts it.
    pub fn admit(self: &Arc<Self>, address: IpAddr) -> Admission {
        let mut counts = self.counts();
        let from_address = counts.per_address.get(&address).copied().unwrap_or(0);
        if from_address >= self.max_per_address {
            return Admission::Refuse(Refusal::PerAddress);
        }
        let overflow = if counts.total - counts.overflow < self.max_total {
            false
        } else if counts.overflow < OVERFLOW {
            true
        } else {
            return Admission::Refuse(Refusal::Saturated);
        };
        counts.total += 1;
        counts.overflow += usize::from(overflow);
        *counts.per_address.entry(address).or_default() += 1;
        let guard = Guard { connections: Arc::clone(self), address, overflow };
        if overflow { Admission::Saturated(guard) } else { Admission::Serve(guard) }
    }

    /// Open connections served as usual, and the most there may be.
    pub fn load(&self) -> (usize, usize) {
        let counts = self.counts();
        (counts.total - counts.overflow, self.max_total)
    }

    /// At the total cap: new connections are answered "saturated".
    pub fn saturated(&self) -> bool {
        let (open, max) = self.load();
        open >= max
    }

    /// Waits until no connection is open.
    pub async fn all_closed(&self) {
        loop {
            let closed = self.closed.notified();
            if self.counts().total == 0 {
                return;
            }
            closed.await;
        }
    }

    /// Writes the refusal and closes, in the background and bounded in time; when too
    /// many refusals are already being written, just closes.
    pub fn refuse(&self, stream: TcpStream, refusal: Refusal) {
        let Ok(permit) = Arc::clone(&self.refusals).try_acquire_owned() else { return };
        tokio::spawn(async move {
            let _permit = permit;
            let _ = tokio::time::timeout(Duration::from_secs(2), write_refusal(stream, refusal)).await;
        });
    }
}

/// The memory all request bodies being read and answered may take together, in KiB
/// permits. A body reserves its declared length (the whole limit when chunked) before a
/// byte of it is read; when the budget is spent, the request is refused (503) at once.
#[derive(Debug)]
pub struct BodyBudget(Arc<Semaphore>);

impl BodyBudget {
    /// `bytes`, at least one whole body of `max_body` bytes.
    pub fn new(bytes: usize, max_body: usize) -> BodyBudget {
        BodyBudget(Arc::new(Semaphore::new(bytes.max(max_body).div_ceil(1024))))
    }

    /// Reserves room for a body of `declared` bytes (`max_body` when unknown, or when
    /// more: the body is refused 413 then anyway, after reading nothing); `None` when the
    /// budget is spent.
    pub fn reserve(&self, declared: Option<u64>, max_body: usize) -> Option<OwnedSemaphorePermit> {
        let bytes = declared.map_or(max_body, |len| usize::try_from(len).unwrap_or(max_body).min(max_body));
        let kib = u32::try_from(bytes.div_ceil(1024).max(1)).unwrap_or(u32::MAX);
        Arc::clone(&self.0).try_acquire_many_owned(kib).ok()
    }
}

/// Counts one open connection until dropped.
#[derive(Debug)]
pub struct Guard {
    connections: Arc<Connections>,
    address: IpAddr,
    overflow: bool,
}

impl Drop for Guard {
    fn drop(&mut self) {
        let mut counts = self.connections.counts();
        counts.total -= 1;
        counts.overflow -= usize::from(self.overflow);
        if let Some(n) = counts.per_address.get_mut(&self.address) {
            *n -= 1;
            if *n == 0 {
                counts.per_address.remove(&self.address);
            }
        }
        drop(counts);
        self.connections.closed.notify_waiters();
    }
}

/// A complete HTTP/1.1 answer, then the close. The answer waits (briefly) for the first
/// bytes of the request, so that an HTTP client reads it as the answer to its request;
/// what the client sends is read and dropped so that closing does not reset the
/// connection before the answer is read.
async fn write_refusal(mut stream: TcpStream, refusal: Refusal) {
    let mut sink = [0u8; 4096];
    let _ = tokio::time::timeout(Duration::from_millis(500), stream.read(&mut sink)).await;
    let (status, reason) = match refusal {
        Refusal::PerAddress => ("429 Too Many Requests", "too many connections from this address; retry later"),
        Refusal::Saturated => ("503 Service Unavailable", "the server is at its connection limit; retry later"),
    };
    let body = rpc_error_body(&error::invalid_request(reason));
    let answer = format!(
        "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\nretry-after: 1\r\n\r\n{body}",
        body.len()
    );
    if stream.write_all(answer.as_bytes()).await.is_err() || stream.shutdown().await.is_err() {
        return;
    }
    let mut left = 64 * 1024usize;
    while left > 0 {
        match stream.read(&mut sink).await {
            Ok(0) | Err(_) => break,
            Ok(n) => left = left.saturating_sub(n),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(admission: &Admission) -> &'static str {
        match admission {
            Admission::Serve(_) => "serve",
            Admission::Saturated(_) => "saturated",
            Admission::Refuse(Refusal::PerAddress) => "per-address",
            Admission::Refuse(Refusal::Saturated) => "refused",
        }
    }

    #[test]
    fn the_body_budget_reserves_declared_lengths_and_the_limit_when_unknown() {
        let budget = BodyBudget::new(4 * 1024, 2 * 1024);
        let chunked = budget.reserve(None, 2 * 1024).expect("room for one whole body");
        let small = budget.reserve(Some(1), 2 * 1024).expect("a 1-byte body takes 1 KiB");
        let over_limit = budget.reserve(Some(u64::MAX), 2 * 1024);
        assert!(over_limit.is_none(), "a body over the limit reserves the limit, and there is 1 KiB left");
        let last = budget.reserve(Some(1024), 2 * 1024).expect("the last KiB");
        assert!(budget.reserve(Some(1), 2 * 1024).is_none(), "spent");
        drop((chunked, small, last));
        assert!(budget.reserve(None, 2 * 1024).is_some(), "given back when the answer is built");
        assert_eq!(BodyBudget::new(0, 2048).0.available_permits(), 2, "at least one whole body");
    }

    #[test]
    fn caps_per_address_then_in_total_then_past_the_overflow() {
        let connections = Connections::new(3, 2);
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let first = connections.admit(a);
        let second = connections.admit(a);
        assert_eq!((kind(&first), kind(&second), kind(&connections.admit(a))), ("serve", "serve", "per-address"));
        assert!(!connections.saturated());
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        let third = connections.admit(b);
        assert_eq!(kind(&third), "serve");
        assert!(connections.saturated());
        let mut overflow = Vec::new();
        for n in 0..OVERFLOW {
            let c = IpAddr::from([10, 0, 1, n as u8]);
            overflow.push(connections.admit(c));
            assert_eq!(kind(overflow.last().unwrap()), "saturated");
        }
        assert_eq!(kind(&connections.admit("10.0.2.1".parse().unwrap())), "refused");
        assert_eq!(connections.load(), (3, 3), "overflow connections are not counted as served");
        drop(first);
        assert!(!connections.saturated());
        assert_eq!(kind(&connections.admit(a)), "serve", "a closed connection frees its address's slot");
        drop(overflow);
        assert_eq!(connections.counts().overflow, 0);
    }
}
