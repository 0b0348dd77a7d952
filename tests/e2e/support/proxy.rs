//! A TCP proxy of the test's own between keyward and PostgreSQL, to break the network on
//! purpose: `stall()` stops forwarding but keeps every socket open (a partition, or a
//! stalled peer that still acknowledges packets), `cut()` closes every socket and refuses
//! new ones (the database is gone), `restore()` forwards again. `hold_after` stalls one
//! connection right after a given statement went through (a COMMIT whose answer is lost).

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::watch;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Forward,
    Stalled,
    Cut,
}

/// Which way the bytes go on one proxied connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// keyward → PostgreSQL (statements).
    Requests,
    /// PostgreSQL → keyward (answers).
    Answers,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Rules {
    mode: Mode,
    /// One connection's one direction held back (by [`Proxy::hold_after`]).
    held: Option<(u64, Direction)>,
}

impl Rules {
    fn may_forward(&self, conn: u64, direction: Direction) -> bool {
        self.mode == Mode::Forward && self.held != Some((conn, direction))
    }
}

struct Shared {
    rules: watch::Sender<Rules>,
    /// Armed by `hold_after`: the statement text to watch for, and what to hold after it.
    trap: Mutex<Option<(&'static str, Direction)>>,
    next_id: Mutex<u64>,
}

pub struct Proxy {
    addr: SocketAddr,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl Proxy {
    /// A proxy in front of the PostgreSQL database at `database_url`; returns it and the
    /// URL that reaches the same database through it.
    pub async fn in_front_of(database_url: &str) -> (Proxy, String) {
        let (scheme, rest) = database_url.split_once("://").expect("a URL");
        let (authority, path) = rest.split_once('/').expect("a database path");
        let (user, host_port) = authority.rsplit_once('@').map_or(("", authority), |(u, h)| (u, h));
        let upstream = if host_port.contains(':') { host_port.to_owned() } else { format!("{host_port}:5432") };
        let proxy = Proxy::start(upstream).await;
        let at = if user.is_empty() { String::new() } else { format!("{user}@") };
        // In clear, so that `hold_after` can see the statements.
        let sep = if path.contains('?') { '&' } else { '?' };
        let url = format!("{scheme}://{at}{}/{path}{sep}sslmode=disable", proxy.addr);
        (proxy, url)
    }

    async fn start(upstream: String) -> Proxy {
        let listener = listen("127.0.0.1:0".parse().unwrap());
        let addr = listener.local_addr().expect("the proxy's address");
        let shared = Arc::new(Shared {
            rules: watch::Sender::new(Rules { mode: Mode::Forward, held: None }),
            trap: Mutex::new(None),
            next_id: Mutex::new(0),
        });
        let task = tokio::spawn(accept_loop(listener, addr, upstream, Arc::clone(&shared)));
        Proxy { addr, shared, task }
    }

    /// Stops forwarding in both directions; sockets stay open, new ones are accepted and
    /// stalled too.
    pub fn stall(&self) {
        self.shared.rules.send_modify(|r| r.mode = Mode::Stalled);
    }

    /// Closes every proxied socket and refuses new connections.
    pub fn cut(&self) {
        self.shared.rules.send_modify(|r| r.mode = Mode::Cut);
    }

    /// Forwards again (what was held back goes through), and accepts again after a cut.
    pub fn restore(&self) {
        *self.shared.trap.lock().unwrap() = None;
        self.shared.rules.send_modify(|r| *r = Rules { mode: Mode::Forward, held: None });
    }

    /// The first connection whose request bytes contain `statement` (e.g. `"COMMIT"`)
    /// has that request forwarded, and from then on its `direction` held back until
    /// [`Proxy::restore`].
    pub fn hold_after(&self, statement: &'static str, direction: Direction) {
        *self.shared.trap.lock().unwrap() = Some((statement, direction));
    }

    /// Whether an armed `hold_after` has caught its connection.
    pub fn is_holding(&self) -> bool {
        self.shared.rules.borrow().held.is_some()
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.cut();
        self.task.abort();
    }
}

fn listen(addr: SocketAddr) -> tokio::net::TcpListener {
    let socket = TcpSocket::new_v4().expect("a socket");
    // Listening again on the same port after a cut.
    socket.set_reuseaddr(true).expect("SO_REUSEADDR");
    socket.bind(addr).unwrap_or_else(|e| panic!("bind the proxy to {addr}: {e}"));
    socket.listen(128).expect("listen")
}

async fn accept_loop(first: tokio::net::TcpListener, addr: SocketAddr, upstream: String, shared: Arc<Shared>) {
    let mut listener = Some(first);
    let mut rules = shared.rules.subscribe();
    loop {
        let Some(open) = &listener else {
            // Cut: nothing listens (connections are refused) until restored.
            if rules.wait_for(|r| r.mode != Mode::Cut).await.is_err() {
                return;
            }
            listener = Some(listen(addr));
            continue;
        };
        tokio::select! {
            accepted = open.accept() => {
                let Ok((client, _)) = accepted else { continue };
                let id = {
                    let mut next = shared.next_id.lock().unwrap();
                    *next += 1;
                    *next
                };
                tokio::spawn(proxy_connection(id, client, upstream.clone(), Arc::clone(&shared)));
            }
            changed = rules.wait_for(|r| r.mode == Mode::Cut) => {
                if changed.is_err() {
                    return;
                }
                listener = None;
            }
        }
    }
}

async fn proxy_connection(id: u64, client: TcpStream, upstream: String, shared: Arc<Shared>) {
    let Ok(server) = TcpStream::connect(&upstream).await else { return };
    let (client_read, client_write) = client.into_split();
    let (server_read, server_write) = server.into_split();
    let requests = pump(id, Direction::Requests, client_read, server_write, Arc::clone(&shared));
    let answers = pump(id, Direction::Answers, server_read, client_write, shared);
    // When either side ends (or a cut), both sockets close.
    tokio::select! {
        () = requests => {}
        () = answers => {}
    }
}

async fn pump(
    id: u64,
    direction: Direction,
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    shared: Arc<Shared>,
) {
    let mut rules = shared.rules.subscribe();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = tokio::select! {
            read = from.read(&mut buf) => match read {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            },
            _ = rules.wait_for(|r| r.mode == Mode::Cut) => return,
        };
        if direction == Direction::Requests && sprung(&shared, id, &buf[..n]) == Some(Direction::Requests) {
            // This request goes through; the ones after it wait.
            if to.write_all(&buf[..n]).await.is_err() {
                return;
            }
            continue;
        }
        // Read but not yet forwarded: a stalled peer holds it.
        let cut =
            rules.wait_for(|r| r.mode == Mode::Cut || r.may_forward(id, direction)).await.map(|r| r.mode == Mode::Cut);
        if !matches!(cut, Ok(false)) {
            return;
        }
        if to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}

/// Springs an armed `hold_after` trap if `request` holds its statement: the connection's
/// held direction is set before the request is forwarded, so that its answer cannot slip
/// through first. Returns the direction now held.
fn sprung(shared: &Shared, id: u64, request: &[u8]) -> Option<Direction> {
    let mut trap = shared.trap.lock().unwrap();
    let (statement, hold) = (*trap)?;
    if !request.windows(statement.len()).any(|w| w == statement.as_bytes()) {
        return None;
    }
    *trap = None;
    shared.rules.send_modify(|r| r.held = Some((id, hold)));
    Some(hold)
}
