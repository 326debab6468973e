//! The one configuration file: typed, every key optional with a safe default,
//! validated once at start. An error names the file and the key.
//!
//! Each key's default and meaning is written three times, and tests keep the
//! three in step: in the `Default` impls here, in `DEFAULT_CONFIG_TOML` (what
//! `funkraum --print-default-config` prints) and in docs/config.md.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The whole configuration. Every section and key is optional.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub http: HttpConfig,
    pub media: MediaConfig,
    pub limits: LimitsConfig,
    pub signaling: SignalingConfig,
    pub rooms: RoomsConfig,
    pub turn: TurnConfig,
    pub log: LogConfig,
    pub process: ProcessConfig,
    pub operator: OperatorConfig,
    pub tls: TlsConfig,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpConfig {
    /// Address and port of the plain-HTTP listener.
    pub listen: SocketAddr,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MediaConfig {
    /// The one UDP port that carries every participant's media.
    pub port: u16,
    /// Addresses announced to browsers as ICE candidates. Empty: detect.
    pub addresses: Vec<IpAddr>,
    /// Media threads, rooms spread over them. 0: one per CPU core.
    pub threads: u32,
}

impl Default for MediaConfig {
    fn default() -> Self {
        MediaConfig {
            port: 10000,
            addresses: Vec::new(),
            // One: a room lives on one thread, and with more threads
            // half of its datagrams arrive on another thread's socket and
            // are handed over, which costs its thread ~15 % more
            // (docs/performance.md, "Media threads"). Hosts with many rooms
            // set 0 (one per core).
            threads: 1,
        }
    }
}

/// Most media threads `media.threads` allows (and 0 picks).
pub const MAX_MEDIA_THREADS: u32 = 64;

impl MediaConfig {
    /// How many media threads to run: `threads`, or with 0 one per CPU
    /// core this process may use (affinity and cgroup quota count), at
    /// most [`MAX_MEDIA_THREADS`].
    pub fn thread_count(&self) -> usize {
        let n = match self.threads {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            n => n as usize,
        };
        n.clamp(1, MAX_MEDIA_THREADS as usize)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsConfig {
    pub max_participants_per_room: u32,
    pub max_rooms: u32,
    pub max_participants: u32,
    pub max_message_bytes: u32,
    pub messages_per_second: u32,
    pub message_burst: u32,
    pub max_connections_per_address: u32,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        LimitsConfig {
            max_participants_per_room: 50,
            max_rooms: 200,
            max_participants: 500,
            max_message_bytes: 262_144,
            messages_per_second: 20,
            message_burst: 60,
            max_connections_per_address: 64,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SignalingConfig {
    /// Seconds of silence from a client after which the server sends `ping`.
    pub ping_after_secs: u64,
    /// Seconds of silence after which the server closes the connection.
    pub timeout_secs: u64,
}

impl Default for SignalingConfig {
    fn default() -> Self {
        SignalingConfig {
            ping_after_secs: 20,
            timeout_secs: 45,
        }
    }
}

impl SignalingConfig {
    pub fn ping_after(&self) -> Duration {
        Duration::from_secs(self.ping_after_secs)
    }
    pub fn timeout(&self) -> Duration {
        Duration::from_secs(self.timeout_secs)
    }
}

/// What happens inside a room: peer-to-peer for two, chat, and the
/// community-uplink defaults the client applies (docs/protocol.md).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RoomsConfig {
    /// Two participants alone in a room send media browser to browser.
    pub p2p: bool,
    /// A joiner starts with microphone and camera off when the room already
    /// has this many participants (0: always).
    pub start_muted_after: u32,
    /// Largest video height the client sends, in pixels.
    pub video_max_height: u32,
    /// Highest camera frame rate the client sends.
    pub video_max_framerate: u32,
    /// Highest screen-sharing frame rate the client sends.
    pub screen_max_framerate: u32,
    /// Chat messages a room keeps for people who join later (0: none).
    pub chat_history: u32,
    /// Longest chat message, in characters.
    pub chat_max_chars: u32,
    /// Chat messages one connection may send per minute.
    pub chat_per_minute: u32,
    /// Each participant receives the camera video of this many most
    /// recently active participants (0: all); audio always.
    pub last_n: u32,
}

impl Default for RoomsConfig {
    fn default() -> Self {
        RoomsConfig {
            p2p: true,
            start_muted_after: 8,
            video_max_height: 720,
            video_max_framerate: 30,
            screen_max_framerate: 5,
            chat_history: 100,
            chat_max_chars: 2000,
            chat_per_minute: 30,
            last_n: 9,
        }
    }
}

impl RoomsConfig {
    /// Upper bounds, so that a typo cannot make a room hold megabytes of
    /// chat or ask browsers for absurd video.
    pub const MAX_CHAT_HISTORY: u32 = 1000;
    pub const MAX_CHAT_CHARS: u32 = 10_000;
    pub const MAX_LAST_N: u32 = 1000;
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TurnConfig {
    /// Run the built-in TURN server.
    pub enabled: bool,
    /// Where TURN listens, UDP and TCP: "auto" (the IP http.listen is on)
    /// or an IP address.
    pub address: ListenIp,
    pub port: u16,
    /// Ports of relay sockets (one per allocation), inclusive.
    pub relay_port_min: u16,
    pub relay_port_max: u16,
    /// Seconds a participant's TURN credential is valid at most; it is
    /// revoked earlier, when the participant leaves.
    pub credential_lifetime_secs: u64,
    /// Relay allocations on this server at the same time.
    pub max_allocations: u32,
    /// Relay allocations one participant's credential may hold.
    pub max_allocations_per_credential: u32,
    /// Bytes per second one allocation may relay, in each direction.
    pub allocation_bytes_per_second: u64,
    /// Tell every browser to use only relayed (TURN) candidates: for
    /// checking the relay path, or networks where nothing else works.
    pub force_relay: bool,
}

impl Default for TurnConfig {
    fn default() -> Self {
        TurnConfig {
            enabled: true,
            address: ListenIp::Auto,
            port: 3478,
            relay_port_min: 49152,
            relay_port_max: 65535,
            credential_lifetime_secs: 28_800,
            max_allocations: 1000,
            max_allocations_per_credential: 10,
            allocation_bytes_per_second: 2_500_000,
            force_relay: false,
        }
    }
}

/// "auto" or an IP address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum ListenIp {
    Auto,
    Ip(IpAddr),
}

impl TryFrom<String> for ListenIp {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        if s == "auto" {
            return Ok(ListenIp::Auto);
        }
        s.parse()
            .map(ListenIp::Ip)
            .map_err(|_| format!("\"{s}\" is neither \"auto\" nor an IP address"))
    }
}

impl From<ListenIp> for String {
    fn from(l: ListenIp) -> String {
        match l {
            ListenIp::Auto => "auto".to_string(),
            ListenIp::Ip(ip) => ip.to_string(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// error, warn, info, debug or trace: the level of funkraum's own events.
    pub level: LogLevel,
    /// The level of other libraries' events (str0m, hyper, rustls, …).
    pub third_party_level: LogLevel,
    /// Where log events go: journald, stderr, or auto (journald when
    /// started by systemd with its output in the journal).
    pub output: LogOutput,
    /// Hours an error-log entry (which may hold personal data) is kept.
    pub retention_hours: u32,
    /// RAM-backed directory for the error log file. Empty: systemd's
    /// RuntimeDirectory, else $XDG_RUNTIME_DIR/funkraum, else memory only.
    pub runtime_dir: String,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            level: LogLevel::Info,
            third_party_level: LogLevel::Warn,
            output: LogOutput::Auto,
            retention_hours: 24,
            runtime_dir: String::new(),
        }
    }
}

impl LogConfig {
    pub fn retention(&self) -> Duration {
        Duration::from_secs(u64::from(self.retention_hours) * 3600)
    }
}

/// The privacy promise: personal data in logs is gone after at most a day.
pub const MAX_LOG_RETENTION_HOURS: u32 = 24;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogOutput {
    Auto,
    Journald,
    Stderr,
}

/// What the process does to itself at start (see src/hardening.rs).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ProcessConfig {
    /// The user to switch to after binding the ports, when started as root.
    /// If it does not exist, `nobody`.
    pub user: String,
    /// Lock all memory against swap (needs RLIMIT_MEMLOCK unlimited or
    /// CAP_IPC_LOCK; without, a warning and no lock).
    pub lock_memory: bool,
}

impl Default for ProcessConfig {
    fn default() -> Self {
        ProcessConfig {
            user: "funkraum".into(),
            lock_memory: true,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogLevel {
    Error,
    Warn,
    Info,
    Debug,
    Trace,
}

impl LogLevel {
    pub fn as_str(self) -> &'static str {
        match self {
            LogLevel::Error => "error",
            LogLevel::Warn => "warn",
            LogLevel::Info => "info",
            LogLevel::Debug => "debug",
            LogLevel::Trace => "trace",
        }
    }
}

/// Who runs this server and where it stands, for the privacy page
/// (`/privacy`). Free text; empty means "not filled in", and the page says so.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct OperatorConfig {
    /// The person, association or group responsible for this server.
    pub name: String,
    /// How to reach them: e-mail, web address or postal address (may span lines).
    pub contact: String,
    /// Where the server stands, e.g. "Hetzner, Falkenstein, Germany".
    pub location: String,
    /// A fuller legal notice (imprint), linked from the privacy page.
    pub url: String,
}

impl OperatorConfig {
    /// Longest accepted value of each key, in characters.
    pub const MAX_NAME: usize = 200;
    pub const MAX_CONTACT: usize = 500;
    pub const MAX_LOCATION: usize = 200;
    pub const MAX_URL: usize = 500;
}

/// HTTPS: where the certificate comes from and where HTTPS listens.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TlsConfig {
    /// off, acme, self-signed or files.
    pub mode: TlsMode,
    /// Names (and IP addresses) the certificate is for.
    pub domains: Vec<String>,
    /// Where HTTPS (and WSS) listens when TLS is on.
    pub https_listen: Vec<SocketAddr>,
    /// Plain HTTP that only redirects to HTTPS and answers ACME HTTP-01
    /// challenges. Empty: no such listener.
    pub http_listen: Vec<SocketAddr>,
    /// Account key, certificates and keys (directory 0700, files 0600).
    pub state_dir: PathBuf,
    /// Contact address given to the ACME CA. Empty: none.
    pub acme_email: String,
    /// "letsencrypt", "letsencrypt-staging" or the https:// URL of a directory.
    pub acme_directory: String,
    /// PEM file with the CA that signed the ACME directory's own HTTPS
    /// certificate. Empty: the system's trust store.
    pub acme_directory_ca_file: PathBuf,
    /// http-01 or tls-alpn-01.
    pub acme_challenge: AcmeChallenge,
    /// Seconds before the first retry after a failed ACME attempt; each
    /// further failure doubles the wait, up to six hours.
    pub acme_retry_secs: u64,
    /// PEM certificate chain for mode = "files".
    pub cert_file: PathBuf,
    /// PEM private key for mode = "files".
    pub key_file: PathBuf,
}

impl Default for TlsConfig {
    fn default() -> Self {
        TlsConfig {
            mode: TlsMode::Off,
            domains: Vec::new(),
            https_listen: vec![
                SocketAddr::from(([0, 0, 0, 0], 443)),
                SocketAddr::from(([0u16; 8], 443)),
            ],
            http_listen: vec![
                SocketAddr::from(([0, 0, 0, 0], 80)),
                SocketAddr::from(([0u16; 8], 80)),
            ],
            state_dir: PathBuf::from("/var/lib/funkraum"),
            acme_email: String::new(),
            acme_directory: "letsencrypt".to_string(),
            acme_directory_ca_file: PathBuf::new(),
            acme_challenge: AcmeChallenge::Http01,
            acme_retry_secs: 60,
            cert_file: PathBuf::new(),
            key_file: PathBuf::new(),
        }
    }
}

impl TlsConfig {
    /// The longest wait between two ACME attempts after failures.
    pub const MAX_RETRY_SECS: u64 = 6 * 3600;

    /// The ACME directory URL `acme_directory` names.
    pub fn acme_directory_url(&self) -> &str {
        match self.acme_directory.as_str() {
            "letsencrypt" => "https://acme-v02.api.letsencrypt.org/directory",
            "letsencrypt-staging" => "https://acme-staging-v02.api.letsencrypt.org/directory",
            url => url,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TlsMode {
    /// Plain HTTP on `http.listen` only.
    Off,
    /// A certificate from an ACME CA (Let's Encrypt by default).
    Acme,
    /// A certificate this server makes and signs itself.
    SelfSigned,
    /// A certificate and key from PEM files, re-read on SIGHUP.
    Files,
}

impl TlsMode {
    pub fn as_str(self) -> &'static str {
        match self {
            TlsMode::Off => "off",
            TlsMode::Acme => "acme",
            TlsMode::SelfSigned => "self-signed",
            TlsMode::Files => "files",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum AcmeChallenge {
    /// The CA fetches a token from http://name/.well-known/acme-challenge/
    /// (port 80, served by `tls.http_listen`).
    #[serde(rename = "http-01")]
    Http01,
    /// The CA opens TLS to port 443 with ALPN acme-tls/1 (served by
    /// `tls.https_listen`).
    #[serde(rename = "tls-alpn-01")]
    TlsAlpn01,
}

/// Whether `name` is a DNS name a certificate can carry: letters, digits and
/// hyphens in dot-separated labels, no wildcard.
pub fn is_dns_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
        && name
            .rsplit('.')
            .next()
            .is_some_and(|tld| !tld.bytes().all(|b| b.is_ascii_digit()))
}

/// The complete default configuration, commented; printed by
/// `funkraum --print-default-config`. A test checks that it parses to
/// `Config::default()`.
pub const DEFAULT_CONFIG_TOML: &str = include_str!("default-config.toml");

/// Why the configuration was refused. Always names the file; names the key
/// where one is at fault.
#[derive(Debug)]
pub struct ConfigError {
    pub file: Option<PathBuf>,
    pub key: Option<String>,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.file {
            Some(p) => write!(f, "{}: ", p.display())?,
            None => write!(f, "built-in configuration: ")?,
        }
        if let Some(k) = &self.key {
            write!(f, "{k}: ")?;
        }
        f.write_str(&self.message)
    }
}

impl std::error::Error for ConfigError {}

impl Config {
    /// Reads and validates a configuration file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            file: Some(path.to_owned()),
            key: None,
            message: format!("cannot read: {e}"),
        })?;
        Config::from_toml_str(&text).map_err(|mut e| {
            e.file = Some(path.to_owned());
            e
        })
    }

    /// Parses and validates configuration text (no file name in errors).
    pub fn from_toml_str(text: &str) -> Result<Config, ConfigError> {
        let table: toml::Table = toml::from_str(text).map_err(|e| ConfigError {
            file: None,
            key: None,
            message: format!("not valid TOML: {}", e.message()),
        })?;
        reject_unknown_keys(&table)?;
        let config: Config =
            serde_path_to_error::deserialize(toml::Value::Table(table)).map_err(|e| {
                ConfigError {
                    file: None,
                    key: Some(e.path().to_string()),
                    message: e.inner().message().to_string(),
                }
            })?;
        config.validate()?;
        Ok(config)
    }

    /// Checks values that are well-typed but unusable.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let err = |key: &str, message: &str| ConfigError {
            file: None,
            key: Some(key.to_string()),
            message: message.to_string(),
        };
        let l = &self.limits;
        let at_least_one = [
            (
                "limits.max_participants_per_room",
                l.max_participants_per_room,
            ),
            ("limits.max_rooms", l.max_rooms),
            ("limits.max_participants", l.max_participants),
            ("limits.messages_per_second", l.messages_per_second),
            ("limits.message_burst", l.message_burst),
            (
                "limits.max_connections_per_address",
                l.max_connections_per_address,
            ),
        ];
        for (key, value) in at_least_one {
            if value == 0 {
                return Err(err(key, "must be at least 1"));
            }
        }
        if l.max_participants_per_room > 500 {
            return Err(err(
                "limits.max_participants_per_room",
                "must be at most 500 (every participant receives every other's media)",
            ));
        }
        if l.max_message_bytes < 16_384 || l.max_message_bytes > 4_194_304 {
            return Err(err(
                "limits.max_message_bytes",
                "must be between 16384 and 4194304 (an SDP offer needs room)",
            ));
        }
        if l.message_burst < l.messages_per_second {
            return Err(err(
                "limits.message_burst",
                "must be at least limits.messages_per_second",
            ));
        }
        let s = &self.signaling;
        if s.ping_after_secs == 0 {
            return Err(err("signaling.ping_after_secs", "must be at least 1"));
        }
        if s.timeout_secs <= s.ping_after_secs {
            return Err(err(
                "signaling.timeout_secs",
                "must be greater than signaling.ping_after_secs",
            ));
        }
        let r = &self.rooms;
        let ranges = [
            ("rooms.video_max_height", r.video_max_height, 90, 2160),
            ("rooms.video_max_framerate", r.video_max_framerate, 1, 60),
            ("rooms.screen_max_framerate", r.screen_max_framerate, 1, 60),
            (
                "rooms.chat_history",
                r.chat_history,
                0,
                RoomsConfig::MAX_CHAT_HISTORY,
            ),
            (
                "rooms.chat_max_chars",
                r.chat_max_chars,
                1,
                RoomsConfig::MAX_CHAT_CHARS,
            ),
            ("rooms.chat_per_minute", r.chat_per_minute, 1, 600),
            ("rooms.last_n", r.last_n, 0, RoomsConfig::MAX_LAST_N),
        ];
        for (key, value, min, max) in ranges {
            if value < min || value > max {
                return Err(err(key, &format!("must be between {min} and {max}")));
            }
        }
        // A chat message must fit into one signaling message (4 bytes per
        // character at most, JSON escaping aside).
        if u64::from(r.chat_max_chars) * 6 + 1024 > u64::from(l.max_message_bytes) {
            return Err(err(
                "rooms.chat_max_chars",
                "is too large for limits.max_message_bytes (6 bytes per character)",
            ));
        }
        let t = &self.turn;
        if t.enabled {
            if t.port == 0 {
                return Err(err("turn.port", "must be between 1 and 65535"));
            }
            if t.relay_port_min == 0 || t.relay_port_min > t.relay_port_max {
                return Err(err(
                    "turn.relay_port_min",
                    "must be at least 1 and at most turn.relay_port_max",
                ));
            }
            if (t.relay_port_min..=t.relay_port_max).contains(&t.port) {
                return Err(err(
                    "turn.relay_port_min",
                    "the relay port range must not contain turn.port",
                ));
            }
            if (t.relay_port_min..=t.relay_port_max).contains(&self.media.port) {
                return Err(err(
                    "turn.relay_port_min",
                    "the relay port range must not contain media.port",
                ));
            }
            if t.credential_lifetime_secs < 60 || t.credential_lifetime_secs > 86_400 {
                return Err(err(
                    "turn.credential_lifetime_secs",
                    "must be between 60 and 86400",
                ));
            }
            if t.max_allocations == 0 {
                return Err(err("turn.max_allocations", "must be at least 1"));
            }
            if t.max_allocations_per_credential == 0
                || t.max_allocations_per_credential > t.max_allocations
            {
                return Err(err(
                    "turn.max_allocations_per_credential",
                    "must be at least 1 and at most turn.max_allocations",
                ));
            }
            if t.allocation_bytes_per_second < 16_000 {
                return Err(err(
                    "turn.allocation_bytes_per_second",
                    "must be at least 16000 (one audio stream needs a few kB/s)",
                ));
            }
            if let ListenIp::Ip(ip) = t.address
                && (ip.is_multicast()
                    || matches!(ip, IpAddr::V6(v6) if v6.to_ipv4_mapped().is_some()))
            {
                return Err(err("turn.address", &format!("cannot listen on {ip}")));
            }
        }
        let o = &self.operator;
        let texts = [
            ("operator.name", &o.name, OperatorConfig::MAX_NAME, false),
            (
                "operator.contact",
                &o.contact,
                OperatorConfig::MAX_CONTACT,
                true,
            ),
            (
                "operator.location",
                &o.location,
                OperatorConfig::MAX_LOCATION,
                false,
            ),
            ("operator.url", &o.url, OperatorConfig::MAX_URL, false),
        ];
        for (key, value, max, multi_line) in texts {
            if value.chars().count() > max {
                return Err(err(key, &format!("must be at most {max} characters")));
            }
            if value
                .chars()
                .any(|c| c.is_control() && !(multi_line && (c == '\n' || c == '\r')))
            {
                return Err(err(
                    key,
                    if multi_line {
                        "must not contain control characters other than line breaks"
                    } else {
                        "must not contain control characters or line breaks"
                    },
                ));
            }
        }
        let url = o.url.to_ascii_lowercase();
        if !o.url.is_empty()
            && (!(url.starts_with("https://") || url.starts_with("http://"))
                || o.url.chars().any(char::is_whitespace))
        {
            return Err(err(
                "operator.url",
                "must be an https:// or http:// address without spaces",
            ));
        }
        if self.log.retention_hours == 0 || self.log.retention_hours > MAX_LOG_RETENTION_HOURS {
            return Err(err(
                "log.retention_hours",
                "must be between 1 and 24 (personal data in logs is gone within a day)",
            ));
        }
        if !self.log.runtime_dir.is_empty() && !self.log.runtime_dir.starts_with('/') {
            return Err(err("log.runtime_dir", "must be an absolute path"));
        }
        if self.process.user.is_empty() {
            return Err(err("process.user", "must name a user"));
        }
        self.validate_tls()?;
        if self.media.threads > MAX_MEDIA_THREADS {
            return Err(err(
                "media.threads",
                &format!("must be at most {MAX_MEDIA_THREADS} (0: one per CPU core)"),
            ));
        }
        for a in &self.media.addresses {
            if a.is_unspecified() || a.is_multicast() {
                return Err(err(
                    "media.addresses",
                    &format!("{a} cannot be announced to browsers"),
                ));
            }
        }
        Ok(())
    }
}

impl Config {
    fn validate_tls(&self) -> Result<(), ConfigError> {
        let err = |key: &str, message: String| ConfigError {
            file: None,
            key: Some(format!("tls.{key}")),
            message,
        };
        let t = &self.tls;
        for name in &t.domains {
            match name.parse::<IpAddr>() {
                Ok(ip) if ip.is_unspecified() || ip.is_multicast() => {
                    return Err(err("domains", format!("{ip} cannot be in a certificate")));
                }
                Ok(_) => {}
                Err(_) if name.starts_with("*.") => {
                    return Err(err(
                        "domains",
                        format!("{name}: wildcard names need DNS-01, which funkraum does not do"),
                    ));
                }
                Err(_) if !is_dns_name(name) => {
                    return Err(err(
                        "domains",
                        format!("{name:?} is neither a DNS name nor an IP address"),
                    ));
                }
                Err(_) => {}
            }
        }
        if t.acme_email.chars().count() > 254
            || (!t.acme_email.is_empty()
                && (!t.acme_email.contains('@')
                    || t.acme_email
                        .chars()
                        .any(|c| c.is_whitespace() || c.is_control())))
        {
            return Err(err(
                "acme_email",
                "must be an e-mail address (or empty)".to_string(),
            ));
        }
        let directory = t.acme_directory.as_str();
        let named = matches!(directory, "letsencrypt" | "letsencrypt-staging");
        let url = directory.len() > "https://".len() && directory.starts_with("https://");
        if !(named || url) {
            return Err(err(
                "acme_directory",
                "must be \"letsencrypt\", \"letsencrypt-staging\" or an https:// URL".to_string(),
            ));
        }
        if t.acme_retry_secs == 0 || t.acme_retry_secs > TlsConfig::MAX_RETRY_SECS {
            return Err(err(
                "acme_retry_secs",
                format!("must be between 1 and {}", TlsConfig::MAX_RETRY_SECS),
            ));
        }
        if !t.state_dir.is_absolute() {
            return Err(err("state_dir", "must be an absolute path".to_string()));
        }
        match t.mode {
            TlsMode::Off => return Ok(()),
            TlsMode::Acme => {
                if t.domains.is_empty() {
                    return Err(err(
                        "domains",
                        "mode = \"acme\" needs at least one name".to_string(),
                    ));
                }
                if t.acme_challenge == AcmeChallenge::Http01 && t.http_listen.is_empty() {
                    return Err(err(
                        "http_listen",
                        "acme_challenge = \"http-01\" needs a port-80 listener".to_string(),
                    ));
                }
            }
            TlsMode::SelfSigned => {}
            TlsMode::Files => {
                for (key, path) in [("cert_file", &t.cert_file), ("key_file", &t.key_file)] {
                    if path.as_os_str().is_empty() {
                        return Err(err(key, "mode = \"files\" needs this file".to_string()));
                    }
                }
            }
        }
        if t.https_listen.is_empty() {
            return Err(err(
                "https_listen",
                "TLS is on but there is no address to listen on".to_string(),
            ));
        }
        Ok(())
    }
}

/// Unknown keys are refused with their full dotted name, so a typo never
/// silently falls back to a default.
fn reject_unknown_keys(table: &toml::Table) -> Result<(), ConfigError> {
    let known = toml::Value::try_from(Config::default()).expect("default config serializes");
    check_keys(table, known.as_table().expect("config is a table"), "")
}

fn check_keys(given: &toml::Table, known: &toml::Table, prefix: &str) -> Result<(), ConfigError> {
    for (key, value) in given {
        let path = if prefix.is_empty() {
            key.clone()
        } else {
            format!("{prefix}.{key}")
        };
        match known.get(key) {
            None => {
                return Err(ConfigError {
                    file: None,
                    key: Some(path),
                    message: "unknown key".to_string(),
                });
            }
            Some(toml::Value::Table(known_sub)) => {
                if let toml::Value::Table(given_sub) = value {
                    check_keys(given_sub, known_sub, &path)?;
                }
            }
            Some(_) => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn printed_default_config_is_the_default() {
        let parsed = Config::from_toml_str(DEFAULT_CONFIG_TOML).expect("default config parses");
        assert_eq!(parsed, Config::default());
    }

    #[test]
    fn printed_default_config_names_every_key() {
        // Every key must appear uncommented, so the file is complete.
        let known = toml::Value::try_from(Config::default()).unwrap();
        let printed: toml::Table = toml::from_str(DEFAULT_CONFIG_TOML).unwrap();
        fn walk(known: &toml::Table, printed: &toml::Table, prefix: &str) {
            for (k, v) in known {
                let path = format!("{prefix}{k}");
                let p = printed.get(k).unwrap_or_else(|| panic!("{path} missing"));
                if let (toml::Value::Table(kt), toml::Value::Table(pt)) = (v, p) {
                    walk(kt, pt, &format!("{path}."));
                }
            }
        }
        walk(known.as_table().unwrap(), &printed, "");
    }

    #[test]
    fn empty_file_is_the_default() {
        assert_eq!(Config::from_toml_str("").unwrap(), Config::default());
    }

    #[test]
    fn media_threads_zero_means_one_per_core() {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let mut media = MediaConfig::default();
        assert_eq!(media.thread_count(), 1, "one by default");
        media.threads = 0;
        assert_eq!(media.thread_count(), cores.min(MAX_MEDIA_THREADS as usize));
        media.threads = 3;
        assert_eq!(media.thread_count(), 3);
    }

    #[test]
    fn unknown_key_is_named() {
        let e = Config::from_toml_str("[limits]\nmax_roms = 3\n").unwrap_err();
        assert_eq!(e.key.as_deref(), Some("limits.max_roms"));
        let e = Config::from_toml_str("[limit]\n").unwrap_err();
        assert_eq!(e.key.as_deref(), Some("limit"));
    }

    #[test]
    fn wrong_type_is_named() {
        let e = Config::from_toml_str("[media]\nport = \"ten\"\n").unwrap_err();
        assert_eq!(e.key.as_deref(), Some("media.port"));
        let e = Config::from_toml_str("[media]\nport = 70000\n").unwrap_err();
        assert_eq!(e.key.as_deref(), Some("media.port"));
    }

    #[test]
    fn invalid_value_is_named() {
        let e = Config::from_toml_str("[limits]\nmax_rooms = 0\n").unwrap_err();
        assert_eq!(e.key.as_deref(), Some("limits.max_rooms"));
        let e = Config::from_toml_str("[signaling]\ntimeout_secs = 5\n").unwrap_err();
        assert_eq!(e.key.as_deref(), Some("signaling.timeout_secs"));
        let e = Config::from_toml_str("[media]\naddresses = [\"0.0.0.0\"]\n").unwrap_err();
        assert_eq!(e.key.as_deref(), Some("media.addresses"));
        let e = Config::from_toml_str("[media]\nthreads = 65\n").unwrap_err();
        assert_eq!(e.key.as_deref(), Some("media.threads"));
    }

    #[test]
    fn turn_keys_are_checked() {
        let e = Config::from_toml_str("[turn]\naddress = \"nowhere\"\n").unwrap_err();
        assert_eq!(e.key.as_deref(), Some("turn.address"));
        let c = Config::from_toml_str("[turn]\naddress = \"::\"\n").unwrap();
        assert_eq!(c.turn.address, ListenIp::Ip("::".parse().unwrap()));
        for (text, key) in [
            ("[turn]\nport = 0\n", "turn.port"),
            (
                "[turn]\nrelay_port_min = 60000\nrelay_port_max = 50000\n",
                "turn.relay_port_min",
            ),
            (
                "[turn]\nrelay_port_min = 3000\nrelay_port_max = 4000\n",
                "turn.relay_port_min",
            ),
            (
                "[turn]\ncredential_lifetime_secs = 5\n",
                "turn.credential_lifetime_secs",
            ),
            ("[turn]\nmax_allocations = 0\n", "turn.max_allocations"),
            (
                "[turn]\nmax_allocations_per_credential = 2000\n",
                "turn.max_allocations_per_credential",
            ),
            (
                "[turn]\nallocation_bytes_per_second = 10\n",
                "turn.allocation_bytes_per_second",
            ),
            ("[turn]\naddress = \"224.0.0.1\"\n", "turn.address"),
            ("[turn]\nenable = false\n", "turn.enable"),
        ] {
            let e = Config::from_toml_str(text).unwrap_err();
            assert_eq!(e.key.as_deref(), Some(key), "{text}");
        }
        // Switched off, its other keys are not in the way.
        let c = Config::from_toml_str("[turn]\nenabled = false\nport = 0\n").unwrap();
        assert!(!c.turn.enabled);
    }

    #[test]
    fn rooms_keys_are_checked() {
        let c = Config::from_toml_str("[rooms]\np2p = false\nstart_muted_after = 0\n").unwrap();
        assert!(!c.rooms.p2p);
        assert_eq!(c.rooms.start_muted_after, 0);
        for (text, key) in [
            ("[rooms]\nvideo_max_height = 10\n", "rooms.video_max_height"),
            (
                "[rooms]\nvideo_max_framerate = 0\n",
                "rooms.video_max_framerate",
            ),
            (
                "[rooms]\nscreen_max_framerate = 61\n",
                "rooms.screen_max_framerate",
            ),
            ("[rooms]\nchat_history = 100000\n", "rooms.chat_history"),
            ("[rooms]\nchat_max_chars = 0\n", "rooms.chat_max_chars"),
            ("[rooms]\nchat_per_minute = 0\n", "rooms.chat_per_minute"),
            ("[rooms]\np2p = \"yes\"\n", "rooms.p2p"),
            ("[rooms]\npeer_to_peer = true\n", "rooms.peer_to_peer"),
            (
                "[limits]\nmax_message_bytes = 16384\n[rooms]\nchat_max_chars = 5000\n",
                "rooms.chat_max_chars",
            ),
        ] {
            let e = Config::from_toml_str(text).unwrap_err();
            assert_eq!(e.key.as_deref(), Some(key), "{text}");
        }
    }

    #[test]
    fn operator_values_are_bounded_and_checked() {
        let ok = Config::from_toml_str(
            "[operator]\nname = \"Freifunk Musterstadt e. V.\"\n\
             contact = \"\"\"Musterweg 1\n12345 Musterstadt\"\"\"\n\
             location = \"in our community centre\"\n\
             url = \"https://musterstadt.freifunk.net/impressum\"\n",
        )
        .unwrap();
        assert_eq!(ok.operator.contact, "Musterweg 1\n12345 Musterstadt");

        let long = "x".repeat(OperatorConfig::MAX_NAME + 1);
        let e = Config::from_toml_str(&format!("[operator]\nname = \"{long}\"\n")).unwrap_err();
        assert_eq!(e.key.as_deref(), Some("operator.name"));
        let e = Config::from_toml_str("[operator]\nlocation = \"a\\nb\"\n").unwrap_err();
        assert_eq!(e.key.as_deref(), Some("operator.location"));
        let e = Config::from_toml_str("[operator]\ncontact = \"a\\u001bb\"\n").unwrap_err();
        assert_eq!(e.key.as_deref(), Some("operator.contact"));
        for bad in ["javascript:alert(1)", "example.org", "https://a b"] {
            let e = Config::from_toml_str(&format!("[operator]\nurl = \"{bad}\"\n")).unwrap_err();
            assert_eq!(e.key.as_deref(), Some("operator.url"), "{bad}");
        }
        let e = Config::from_toml_str("[operator]\nnmae = \"x\"\n").unwrap_err();
        assert_eq!(e.key.as_deref(), Some("operator.nmae"));
    }

    #[test]
    fn tls_values_are_checked_and_named() {
        let ok = Config::from_toml_str(
            "[tls]\nmode = \"acme\"\ndomains = [\"meet.example.org\", \"192.0.2.1\"]\n\
             acme_email = \"admin@example.org\"\nacme_challenge = \"tls-alpn-01\"\n",
        )
        .unwrap();
        assert_eq!(ok.tls.mode, TlsMode::Acme);
        assert_eq!(ok.tls.acme_challenge, AcmeChallenge::TlsAlpn01);
        assert_eq!(
            ok.tls.acme_directory_url(),
            "https://acme-v02.api.letsencrypt.org/directory"
        );
        let refused = [
            ("[tls]\nmode = \"acme\"\n", "tls.domains"),
            ("[tls]\nmode = \"on\"\n", "tls.mode"),
            ("[tls]\ndomains = [\"*.example.org\"]\n", "tls.domains"),
            ("[tls]\ndomains = [\"bad name\"]\n", "tls.domains"),
            ("[tls]\ndomains = [\"0.0.0.0\"]\n", "tls.domains"),
            ("[tls]\nacme_email = \"nobody\"\n", "tls.acme_email"),
            (
                "[tls]\nacme_directory = \"http://ca\"\n",
                "tls.acme_directory",
            ),
            ("[tls]\nacme_challenge = \"dns-01\"\n", "tls.acme_challenge"),
            ("[tls]\nacme_retry_secs = 0\n", "tls.acme_retry_secs"),
            ("[tls]\nstate_dir = \"relative\"\n", "tls.state_dir"),
            (
                "[tls]\nmode = \"files\"\ncert_file = \"/c.pem\"\n",
                "tls.key_file",
            ),
            (
                "[tls]\nmode = \"self-signed\"\nhttps_listen = []\n",
                "tls.https_listen",
            ),
            (
                "[tls]\nmode = \"acme\"\ndomains = [\"a.example\"]\nhttp_listen = []\n",
                "tls.http_listen",
            ),
            ("[tls]\ncert = \"x\"\n", "tls.cert"),
        ];
        for (text, key) in refused {
            let e = Config::from_toml_str(text).unwrap_err();
            assert_eq!(e.key.as_deref(), Some(key), "{text}");
        }
    }

    #[test]
    fn error_names_the_file() {
        let dir = std::env::temp_dir().join(format!("funkraum-cfg-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("bad.toml");
        std::fs::write(&path, "[log]\nlevel = \"loud\"\n").unwrap();
        let text = Config::load(&path).unwrap_err().to_string();
        assert!(
            text.contains("bad.toml") && text.contains("log.level"),
            "{text}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

#[cfg(test)]
mod docs_tests {
    use super::*;

    /// docs/config.md must describe every key with its default, so the
    /// documentation cannot drift from the code.
    #[test]
    fn docs_list_every_key_with_its_default() {
        let docs = include_str!("../docs/config.md");
        let defaults = toml::Value::try_from(Config::default()).unwrap();
        for (section, table) in defaults.as_table().unwrap() {
            assert!(
                docs.contains(&format!("## `[{section}]`")),
                "docs/config.md lacks a section for [{section}]"
            );
            let section_docs = docs
                .split(&format!("## `[{section}]`"))
                .nth(1)
                .unwrap()
                .split("\n## ")
                .next()
                .unwrap();
            for (key, value) in table.as_table().unwrap() {
                let row = section_docs
                    .lines()
                    .find(|l| l.starts_with(&format!("| `{key}` |")))
                    .unwrap_or_else(|| panic!("docs/config.md lacks {section}.{key}"));
                let default = format!("`{value}`");
                assert!(
                    row.contains(&default),
                    "docs/config.md gives {section}.{key} another default than {default}: {row}"
                );
            }
        }
    }
}
