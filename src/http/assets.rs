//! The browser client, compiled into the binary from web/ (see build.rs).

include!(concat!(env!("OUT_DIR"), "/web_files.rs"));

/// The embedded file at `path` (relative to web/) and its media type.
pub fn get(path: &str) -> Option<(&'static [u8], &'static str)> {
    let (_, body) = WEB_FILES.iter().find(|(p, _)| *p == path)?;
    Some((body, content_type(path)))
}

fn content_type(path: &str) -> &'static str {
    match path.rsplit('.').next() {
        Some("html") => "text/html; charset=utf-8",
        Some("js") | Some("mjs") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("ico") => "image/x-icon",
        Some("json") => "application/json",
        Some("woff2") => "font/woff2",
        Some("txt") => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_client_is_embedded() {
        assert!(get("index.html").is_some(), "web/index.html must exist");
        assert!(get("protocol.js").is_some(), "web/protocol.js must exist");
        assert!(get("../Cargo.toml").is_none());
    }
}
