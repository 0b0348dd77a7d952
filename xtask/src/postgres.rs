//! Where the test PostgreSQL is, and whether it answers.

use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

pub const URL_VAR: &str = "KEYWARD_TEST_POSTGRES_URL";
pub const DEFAULT_URL: &str = "postgres://root@127.0.0.1:5432/test";
const DEFAULT_PORT: u16 = 5432;
const TIMEOUT: Duration = Duration::from_secs(2);

/// The URL the tests will use: `$KEYWARD_TEST_POSTGRES_URL` or the default.
pub fn url() -> String {
    std::env::var(URL_VAR).ok().filter(|v| !v.trim().is_empty()).unwrap_or_else(|| DEFAULT_URL.to_owned())
}

/// Where a URL points: a TCP `host:port`, or (no host, or `?host=/dir`) a Unix socket.
#[derive(Debug, PartialEq, Eq)]
pub enum Target {
    Tcp(String, u16),
    Socket(String),
}

impl Target {
    pub fn parse(url: &str) -> Result<Target, String> {
        let (host, port) = host_port(url)?;
        let query_host = url
            .split_once('?')
            .into_iter()
            .flat_map(|(_, q)| q.split('&'))
            .find_map(|kv| kv.strip_prefix("host="))
            .filter(|h| !h.is_empty());
        Ok(match (host, query_host) {
            (Some(host), _) => Target::Tcp(host, port),
            (None, Some(dir)) if dir.starts_with('/') => Target::Socket(format!("{dir}/.s.PGSQL.{port}")),
            (None, Some(host)) => Target::Tcp(host.to_owned(), port),
            // libpq's default socket folder on Debian.
            (None, None) => Target::Socket(format!("/var/run/postgresql/.s.PGSQL.{port}")),
        })
    }

    /// Connect once (TCP: every address the host resolves to, 2 s each) and hang up.
    pub fn check(&self) -> Result<(), String> {
        match self {
            Target::Tcp(host, port) => reachable(host, *port),
            Target::Socket(path) => {
                std::os::unix::net::UnixStream::connect(path).map(drop).map_err(|e| format!("{path}: {e}"))
            }
        }
    }
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Target::Tcp(host, port) if host.contains(':') => write!(f, "[{host}]:{port}"),
            Target::Tcp(host, port) => write!(f, "{host}:{port}"),
            Target::Socket(path) => write!(f, "{path}"),
        }
    }
}

/// Host and port of a `postgres://` / `postgresql://` URL:
/// `scheme://[user[:password]@]host[:port][/db][?params]`, IPv6 hosts in brackets.
/// A URL without a host (a Unix socket) gives `None` for the host.
fn host_port(url: &str) -> Result<(Option<String>, u16), String> {
    let rest = url
        .strip_prefix("postgres://")
        .or_else(|| url.strip_prefix("postgresql://"))
        .ok_or_else(|| format!("`{url}` is not a postgres:// or postgresql:// URL"))?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    // The password may contain '@' only percent-encoded, so the last '@' ends the user info.
    let hostport = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let (host, port) = if let Some(v6) = hostport.strip_prefix('[') {
        let (host, after) = v6.split_once(']').ok_or_else(|| format!("`{url}`: unclosed '[' in the host"))?;
        (host, after.strip_prefix(':'))
    } else {
        match hostport.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (hostport, None),
        }
    };
    let port = match port {
        None | Some("") => DEFAULT_PORT,
        Some(p) => p.parse().map_err(|_| format!("`{url}`: bad port `{p}`"))?,
    };
    let host = (!host.is_empty()).then(|| host.to_owned());
    Ok((host, port))
}

fn reachable(host: &str, port: u16) -> Result<(), String> {
    let addrs: Vec<_> = (host, port).to_socket_addrs().map_err(|e| format!("cannot resolve {host}: {e}"))?.collect();
    let mut last = format!("{host} resolves to no address");
    for addr in addrs {
        match TcpStream::connect_timeout(&addr, TIMEOUT) {
            Ok(_) => return Ok(()),
            Err(e) => last = format!("{addr}: {e}"),
        }
    }
    Err(last)
}

#[cfg(test)]
mod tests {
    use super::{Target, host_port};

    fn hp(url: &str) -> (Option<String>, u16) {
        host_port(url).unwrap()
    }

    #[test]
    fn parses_the_usual_shapes() {
        assert_eq!(hp("postgres://root@127.0.0.1:5432/test"), (Some("127.0.0.1".into()), 5432));
        assert_eq!(hp("postgres://root@127.0.0.1:1/test"), (Some("127.0.0.1".into()), 1));
        assert_eq!(hp("postgresql://db.example/test"), (Some("db.example".into()), 5432));
        assert_eq!(hp("postgres://u:p%40ss@h:6543"), (Some("h".into()), 6543));
        assert_eq!(hp("postgres://u:pw@h:7000?sslmode=disable"), (Some("h".into()), 7000));
        assert_eq!(hp("postgres://[::1]:5433/test"), (Some("::1".into()), 5433));
        assert_eq!(hp("postgres://[::1]/test"), (Some("::1".into()), 5432));
        assert_eq!(hp("postgres:///test"), (None, 5432));
    }

    #[test]
    fn targets() {
        let t = |u: &str| Target::parse(u).unwrap();
        assert_eq!(t("postgres://root@127.0.0.1:1/test"), Target::Tcp("127.0.0.1".into(), 1));
        assert_eq!(t("postgres:///test"), Target::Socket("/var/run/postgresql/.s.PGSQL.5432".into()));
        assert_eq!(t("postgres://:5433/test?host=/tmp"), Target::Socket("/tmp/.s.PGSQL.5433".into()));
        assert_eq!(t("postgres:///test?sslmode=disable&host=db"), Target::Tcp("db".into(), 5432));
        assert_eq!(t("postgres://[::1]:5433/test").to_string(), "[::1]:5433");
    }

    #[test]
    fn rejects_bad_urls() {
        assert!(host_port("mysql://root@127.0.0.1/test").is_err());
        assert!(host_port("postgres://h:notaport/test").is_err());
        assert!(host_port("postgres://[::1/test").is_err());
    }
}
