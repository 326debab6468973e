//! A plain HTTP/1.1 GET over loopback, for the few non-WebSocket checks.

use std::net::SocketAddr;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The same response as over HTTPS.
pub use super::tls::Response;

/// GET `path` with `Connection: close` and read the whole response.
pub async fn get(addr: SocketAddr, path: &str) -> Response {
    let mut stream = TcpStream::connect(addr)
        .await
        .expect("connect over loopback");
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream
        .write_all(request.as_bytes())
        .await
        .expect("send request");
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.expect("read response");
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("not an HTTP response: {text:?}"));
    let mut lines = head.lines();
    let status_line = lines.next().unwrap_or_default();
    let status = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("bad status line {status_line:?}"));
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let chunked = headers
        .iter()
        .any(|(n, v)| n == "transfer-encoding" && v.eq_ignore_ascii_case("chunked"));
    let body = if chunked {
        dechunk(body)
    } else {
        body.to_string()
    };
    Response {
        status,
        headers,
        body,
    }
}

fn dechunk(mut s: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = s.split_once("\r\n") {
        let Ok(n) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        s = rest[n..].trim_start_matches("\r\n");
    }
    out
}

/// The value of the counter or gauge `funkraum_<name>` in `/metrics`.
pub async fn metric(addr: SocketAddr, name: &str) -> u64 {
    let r = get(addr, "/metrics").await;
    r.body
        .lines()
        .find_map(|l| l.strip_prefix(&format!("funkraum_{name} ")))
        .unwrap_or_else(|| panic!("no funkraum_{name} in\n{}", r.body))
        .trim()
        .parse()
        .unwrap_or_else(|e| panic!("funkraum_{name}: {e}"))
}
