//! /privacy, fetched from a running server, names this instance's operator,
//! contact, location and log retention (`log.retention_hours`), in German and in English, chosen by
//! the browser's language or by the visible switch, with the operator's text
//! shown as text and never as markup.
//!
//! Self-contained on purpose: a plain HTTP/1.1 GET over a TCP stream.

use funkraum::{Config, Server};
use std::net::SocketAddr;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const CONFIG: &str = r#"
[http]
listen = "127.0.0.1:0"

[media]
port = 0
addresses = ["127.0.0.1"]

[log]
retention_hours = 7

[rooms]
p2p = false

[turn]
enabled = false

[operator]
name = "Canary <script>alert('op')</script> e. V."
contact = """canary-7f3a@example.org
Kanarienweg 7 & 9"""
location = "Rack \"K7\" in the canary cellar"
url = "https://canary.example/impressum?a=1&b=2"
"#;

struct Reply {
    status: u16,
    headers: String,
    body: String,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.lines().find_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.trim().eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }
}

async fn get(addr: SocketAddr, path: &str, accept_language: Option<&str>) -> Reply {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    let mut request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    if let Some(al) = accept_language {
        request.push_str(&format!("Accept-Language: {al}\r\n"));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes()).await.expect("send");
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.expect("receive");
    let raw = String::from_utf8(raw).expect("UTF-8 reply");
    let (head, body) = raw.split_once("\r\n\r\n").expect("header end");
    let (status_line, headers) = head.split_once("\r\n").unwrap_or((head, ""));
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("status code");
    let mut reply = Reply {
        status,
        headers: headers.to_string(),
        body: body.to_string(),
    };
    if reply
        .header("transfer-encoding")
        .is_some_and(|v| v.contains("chunked"))
    {
        reply.body = dechunk(&reply.body);
    }
    reply
}

fn dechunk(mut rest: &str) -> String {
    let mut out = String::new();
    while let Some((size, after)) = rest.split_once("\r\n") {
        let size = usize::from_str_radix(size.split(';').next().unwrap().trim(), 16).unwrap();
        if size == 0 {
            break;
        }
        out.push_str(&after[..size]);
        rest = &after[size + 2..];
    }
    out
}

/// What both languages must show, escaped, whatever the browser asked for.
fn assert_states_this_instance(reply: &Reply, lang: &str) {
    assert_eq!(reply.status, 200, "{lang}");
    assert_eq!(reply.header("content-language"), Some(lang));
    assert!(
        reply
            .header("content-type")
            .is_some_and(|v| v.starts_with("text/html")),
        "{lang}"
    );
    let csp = reply
        .header("content-security-policy")
        .expect("the strict CSP covers the page");
    assert!(csp.contains("script-src 'self'") && csp.contains("style-src 'self'"));

    let page = &reply.body;
    assert!(page.contains(&format!("<html lang=\"{lang}\">")), "{lang}");
    for canary in [
        "Canary &lt;script&gt;alert(&#39;op&#39;)&lt;/script&gt; e. V.",
        "canary-7f3a@example.org\nKanarienweg 7 &amp; 9",
        "Rack &quot;K7&quot; in the canary cellar",
        "href=\"https://canary.example/impressum?a=1&amp;b=2\"",
    ] {
        assert!(page.contains(canary), "{lang}: the page lacks {canary}");
    }
    assert!(
        !page.contains("<script"),
        "{lang}: operator text became markup"
    );
    assert!(
        !page.contains("K7\" in"),
        "{lang}: a quote escaped the attribute"
    );
    let retention = if lang == "de" {
        "<strong>7 Stunden</strong>"
    } else {
        "<strong>7 hours</strong>"
    };
    assert!(page.contains(retention), "{lang}: retention missing");
    assert!(
        !page.contains(" 24 "),
        "{lang}: a retention not from the config"
    );
    let off = if lang == "de" {
        [
            "Peer-to-Peer: <strong>aus</strong>",
            "TURN-Relay: <strong>aus</strong>",
        ]
    } else {
        [
            "Peer to peer: <strong>off</strong>",
            "TURN relay: <strong>off</strong>",
        ]
    };
    for fact in off {
        assert!(page.contains(fact), "{lang}: {fact}");
    }
    assert!(
        page.contains("href=\"/privacy?lang=de\"") && page.contains("href=\"/privacy?lang=en\"")
    );
    assert!(page.contains("href=\"/assets/privacy.css\""));
}

#[tokio::test]
async fn privacy_page_tells_the_truth() {
    let config = Config::from_toml_str(CONFIG).expect("test config is valid");
    let server = Server::start(config).await.expect("server starts");
    let addr = server.http_addr;

    // The browser's language decides…
    let de = get(addr, "/privacy", Some("de-DE,de;q=0.9,en;q=0.5")).await;
    assert_states_this_instance(&de, "de");
    assert!(de.body.contains("Wer diesen Dienst betreibt"));
    assert_eq!(de.header("vary"), Some("Accept-Language"));
    let en = get(addr, "/privacy", Some("en-GB,en;q=0.9")).await;
    assert_states_this_instance(&en, "en");
    assert!(en.body.contains("Who runs this service"));

    // …unless the visitor uses the switch.
    assert_states_this_instance(&get(addr, "/privacy?lang=en", Some("de")).await, "en");
    assert_states_this_instance(&get(addr, "/privacy?lang=de", Some("en")).await, "de");
    // No preference at all: English.
    assert_states_this_instance(&get(addr, "/privacy", None).await, "en");

    // The stylesheet the page links is served from the same origin.
    let css = get(addr, "/assets/privacy.css", None).await;
    assert_eq!(css.status, 200);
    assert!(
        css.header("content-type")
            .is_some_and(|v| v.starts_with("text/css"))
    );

    server.shutdown().await;
}

/// With the defaults (`rooms.p2p` and `turn.enabled` on), the page says
/// both are on and what peer to peer means for one's IP address.
#[tokio::test]
async fn peer_to_peer_and_turn_follow_the_configuration() {
    let config = Config::from_toml_str(
        "[http]\nlisten = \"127.0.0.1:0\"\n[media]\nport = 0\naddresses = [\"127.0.0.1\"]\n",
    )
    .expect("test config is valid");
    let server = Server::start(config).await.expect("server starts");
    for (lang, facts) in [
        (
            "de",
            [
                "Peer-to-Peer: <strong>an</strong>",
                "TURN-Relay: <strong>an</strong>",
                "sieht die IP-Adresse des anderen",
            ],
        ),
        (
            "en",
            [
                "Peer to peer: <strong>on</strong>",
                "TURN relay: <strong>on</strong>",
                "sees the other's IP address",
            ],
        ),
    ] {
        let reply = get(server.http_addr, &format!("/privacy?lang={lang}"), None).await;
        for fact in facts {
            assert!(reply.body.contains(fact), "{lang}: {fact}");
        }
    }
    server.shutdown().await;
}

#[tokio::test]
async fn an_unconfigured_operator_is_named_as_missing() {
    let config = Config::from_toml_str(
        "[http]\nlisten = \"127.0.0.1:0\"\n[media]\nport = 0\naddresses = [\"127.0.0.1\"]\n",
    )
    .expect("test config is valid");
    let server = Server::start(config).await.expect("server starts");
    for (lang, says) in [
        ("de", "Vom Betreiber nicht angegeben"),
        ("en", "Not filled in by the operator"),
    ] {
        let reply = get(server.http_addr, &format!("/privacy?lang={lang}"), None).await;
        assert_eq!(reply.status, 200);
        assert_eq!(reply.body.matches(says).count(), 3, "{lang}");
        for key in ["operator.name", "operator.contact", "operator.location"] {
            assert!(reply.body.contains(key), "{lang}: {key}");
        }
    }
    server.shutdown().await;
}
