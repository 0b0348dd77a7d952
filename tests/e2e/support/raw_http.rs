//! Raw HTTP/1.1 over TCP, for what reqwest cannot send (a chunked body) or cannot read
//! reliably: an answer the server sends, and then closes the connection, before it has
//! read the whole body (hyper's client then fails the request with a broken pipe instead
//! of returning the answer). The body is written while the answer is read, and writing
//! stops, silently, when the server stops reading.

use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// How a request body goes on the wire.
pub enum RawBody {
    /// With `content-length`.
    Sized(Vec<u8>),
    /// With `transfer-encoding: chunked`, in chunks of this many bytes, as a streaming
    /// client sends it.
    Chunked(Vec<u8>, usize),
}

#[derive(Debug)]
pub struct RawResponse {
    pub status: u16,
    /// Names lower-cased.
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl RawResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    /// The body as JSON (`Value::String` of the text if it is not JSON).
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|_| Value::String(self.body.clone()))
    }
}

/// `POST /` to the server at `url` (`http://HOST:PORT/`) with `headers` and `body`.
pub async fn post(url: &str, headers: &[(&str, &str)], body: RawBody) -> RawResponse {
    let authority = authority(url);
    let mut head = format!("POST / HTTP/1.1\r\nhost: {authority}\r\ncontent-type: application/json\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    let mut wire = Vec::new();
    match body {
        RawBody::Sized(bytes) => {
            head.push_str(&format!("content-length: {}\r\n\r\n", bytes.len()));
            wire.extend_from_slice(head.as_bytes());
            wire.extend_from_slice(&bytes);
        }
        RawBody::Chunked(bytes, size) => {
            head.push_str("transfer-encoding: chunked\r\n\r\n");
            wire.extend_from_slice(head.as_bytes());
            for chunk in bytes.chunks(size.max(1)) {
                wire.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
                wire.extend_from_slice(chunk);
                wire.extend_from_slice(b"\r\n");
            }
            wire.extend_from_slice(b"0\r\n\r\n");
        }
    }
    let exchange = async {
        let stream = TcpStream::connect(authority).await.expect("connect to the server");
        let (mut reader, mut writer) = stream.into_split();
        // The server may answer and close before it has read everything: write errors
        // are expected then, and the answer is what counts.
        let write = tokio::spawn(async move {
            let _ = writer.write_all(&wire).await;
            let _ = writer.flush().await;
            writer
        });
        let response = read_response(&mut reader).await;
        write.abort();
        response
    };
    tokio::time::timeout(Duration::from_secs(60), exchange).await.expect("the server answers within 60 s")
}

async fn read_response(reader: &mut tokio::net::tcp::OwnedReadHalf) -> RawResponse {
    read_response_from(reader).await
}

async fn read_response_from<R: tokio::io::AsyncRead + Unpin>(reader: &mut R) -> RawResponse {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 16 * 1024];
    let header_end = loop {
        if let Some(at) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break at;
        }
        let n = reader.read(&mut chunk).await.expect("read the answer");
        assert!(n > 0, "the connection closed before an answer: {:?}", String::from_utf8_lossy(&buf));
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..header_end]).into_owned();
    let mut lines = head.split("\r\n");
    let status_line = lines.next().expect("a status line");
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP status line: {status_line:?}"));
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    // 1xx and 204 have no body, whatever the headers say.
    let length = if status == 204 || status < 200 {
        Some(0)
    } else {
        headers.iter().find(|(n, _)| n == "content-length").map(|(_, v)| v.parse::<usize>().expect("a content-length"))
    };
    let mut body = buf[header_end + 4..].to_vec();
    loop {
        if length.is_some_and(|len| body.len() >= len) {
            break;
        }
        match reader.read(&mut chunk).await {
            Ok(0) | Err(_) => break,
            Ok(n) => body.extend_from_slice(&chunk[..n]),
        }
    }
    if let Some(len) = length {
        assert!(body.len() >= len, "the answer's body was cut short");
        body.truncate(len);
    }
    RawResponse { status, headers, body: String::from_utf8_lossy(&body).into_owned() }
}

/// One raw TCP connection to the server, for what needs control over the bytes and the
/// timing: half-sent requests, malformed framing, many connections at once.
pub struct RawConnection {
    stream: TcpStream,
}

impl RawConnection {
    /// Connects to the server at `url` (`http://HOST:PORT/`).
    pub async fn open(url: &str) -> RawConnection {
        let stream = TcpStream::connect(authority(url)).await.expect("connect to the server");
        RawConnection { stream }
    }

    /// Connects from another loopback address (`127.0.0.2`…): another client address.
    pub async fn open_from(local: std::net::IpAddr, url: &str) -> RawConnection {
        let socket = tokio::net::TcpSocket::new_v4().expect("a socket");
        socket.bind(std::net::SocketAddr::new(local, 0)).expect("bind a loopback address");
        let address = authority(url).parse().expect("a socket address");
        RawConnection { stream: socket.connect(address).await.expect("connect to the server") }
    }

    pub async fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).await.expect("send");
        self.stream.flush().await.expect("flush");
    }

    /// Sends a whole request and reads its answer (keep-alive: the connection stays open).
    pub async fn request(&mut self, wire: &[u8]) -> RawResponse {
        self.send(wire).await;
        self.response().await
    }

    /// Reads one answer, within 30 s.
    pub async fn response(&mut self) -> RawResponse {
        let (mut reader, _) = self.stream.split();
        tokio::time::timeout(Duration::from_secs(30), read_response_from(&mut reader))
            .await
            .expect("the server answers within 30 s")
    }

    /// Everything the server sends until it closes the connection (at most `bound`);
    /// `None` if it is still open then.
    pub async fn all_until_closed(&mut self, bound: Duration) -> Option<Vec<u8>> {
        let mut all = Vec::new();
        let wait = async {
            let mut buf = [0u8; 4096];
            loop {
                match self.stream.read(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => all.extend_from_slice(&buf[..n]),
                }
            }
        };
        tokio::time::timeout(bound, wait).await.ok().map(|()| all)
    }

    /// Waits (at most `bound`) for the server to close the connection; true if it did.
    pub async fn closed_within(&mut self, bound: Duration) -> bool {
        let mut buf = [0u8; 1024];
        let wait = async {
            loop {
                match self.stream.read(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    Ok(_) => continue,
                }
            }
        };
        tokio::time::timeout(bound, wait).await.is_ok()
    }
}

/// `GET {path}` with keep-alive, as raw bytes.
pub fn get(url: &str, path: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nhost: {}\r\n\r\n", authority(url)).into_bytes()
}

/// `POST /` with a JSON body, as raw bytes.
pub fn post_json(url: &str, body: &str) -> Vec<u8> {
    format!(
        "POST / HTTP/1.1\r\nhost: {}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
        authority(url),
        body.len()
    )
    .into_bytes()
}

fn authority(url: &str) -> &str {
    url.strip_prefix("http://").and_then(|rest| rest.split('/').next()).expect("an http:// URL")
}
