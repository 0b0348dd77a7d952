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
    let authority = url.strip_prefix("http://").and_then(|rest| rest.split('/').next()).expect("an http:// URL");
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
    let length =
        headers.iter().find(|(n, _)| n == "content-length").map(|(_, v)| v.parse::<usize>().expect("a content-length"));
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
