//! Just enough SDP reading to check what a user would notice: which
//! m-lines are live and which are stopped (port 0).

/// One m-line of an SDP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MLine {
    pub kind: String,
    pub port: u16,
    pub mid: Option<String>,
    /// sendrecv, sendonly, recvonly or inactive (sendrecv when not said).
    pub direction: String,
}

impl MLine {
    /// A port of 0 rejects or stops the m-line (RFC 8843, RFC 3264).
    pub fn is_stopped(&self) -> bool {
        self.port == 0
    }
}

pub fn m_lines(sdp: &str) -> Vec<MLine> {
    let mut out: Vec<MLine> = Vec::new();
    for line in sdp.lines() {
        let line = line.trim_end();
        if let Some(rest) = line.strip_prefix("m=") {
            let mut fields = rest.split_whitespace();
            let kind = fields.next().unwrap_or_default().to_string();
            let port = fields.next().and_then(|p| p.parse().ok()).unwrap_or(0);
            out.push(MLine {
                kind,
                port,
                mid: None,
                direction: "sendrecv".into(),
            });
        } else if let Some(m) = out.last_mut() {
            if let Some(mid) = line.strip_prefix("a=mid:") {
                m.mid = Some(mid.to_string());
            } else if let Some(d) = line.strip_prefix("a=")
                && matches!(d, "sendrecv" | "sendonly" | "recvonly" | "inactive")
            {
                m.direction = d.to_string();
            }
        }
    }
    out
}

/// The m-line with this mid, if the SDP has one.
pub fn m_line<'a>(lines: &'a [MLine], mid: &str) -> Option<&'a MLine> {
    lines.iter().find(|m| m.mid.as_deref() == Some(mid))
}
