//! The one logging setup. Every log output — journald or stderr, and the
//! error log — sits behind the [`PrivacyGate`]:
//!
//! - an ERROR event is written with its personal values (the gate turns on
//!   [`RevealForErrorEvent`] while the outputs format it), and is also kept
//!   in the error log;
//! - any other event is written with personal types redacted (their
//!   `Display`/`Debug`), and is withheld entirely if any field still names
//!   an IP address that is not the server's own — that is how third-party
//!   crates' events (str0m, hyper, rustls, via the `log` bridge too) are
//!   kept clean without trusting them.
//!
//! Our own events run at `log.level`; other crates' at
//! `log.third_party_level` (WARN by default). There is no HTTP access log.

use super::GateInputs;
use super::error_log::ErrorLog;
use super::personal::RevealForErrorEvent;
use crate::config::{LogConfig, LogOutput};
use std::cell::RefCell;
use std::fmt::Write as _;
use std::io::IsTerminal;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;
use tracing::field::{Field, Visit};
use tracing::span;
use tracing::subscriber::Interest;
use tracing::{Event, Level, Metadata, Subscriber};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::prelude::*;
use tracing_subscriber::registry::LookupSpan;

/// Events withheld because they named a foreign address (for /metrics).
#[derive(Debug, Default)]
pub struct LogCounters {
    pub withheld: AtomicU64,
}

/// Installs the process-wide logging. Call once, before anything logs.
pub fn init(
    config: &LogConfig,
    error_log: Arc<ErrorLog>,
    inputs: GateInputs,
) -> Result<Arc<LogCounters>, String> {
    let counters = inputs.counters.clone();
    let filter = level_filter(config);
    let use_journald = match config.output {
        LogOutput::Journald => true,
        LogOutput::Stderr => false,
        // systemd sets JOURNAL_STREAM for services whose stderr goes to the journal.
        LogOutput::Auto => std::env::var_os("JOURNAL_STREAM").is_some(),
    };
    let output: Box<dyn Layer<_> + Send + Sync> = if use_journald {
        let journald = tracing_journald::layer()
            .map_err(|e| format!("cannot reach journald (log.output): {e}"))?
            .with_syslog_identifier("funkraum".into());
        Box::new(journald)
    } else {
        Box::new(
            tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                .with_ansi(std::io::stderr().is_terminal()),
        )
    };
    let gate = PrivacyGate {
        inner: output.and_then(ErrorLogLayer { log: error_log }),
        inputs,
        counters: counters.clone(),
    };
    tracing_subscriber::registry()
        .with(gate.with_filter(filter))
        .try_init()
        .map_err(|e| format!("logging is already set up: {e}"))?;
    Ok(counters)
}

/// Our events at `log.level`, everyone else's at `log.third_party_level`.
fn level_filter(config: &LogConfig) -> EnvFilter {
    // A bare level is the default for every target; ours follows. The TURN
    // crates name client and peer addresses in their warnings and debug
    // events: only their errors are worth passing to the gate — except
    // stun_proto's, which reports the 401 that starts every TURN
    // allocation (RFC 8489's normal challenge) as an error.
    //
    // tungstenite writes every WebSocket frame, payload and all, at trace:
    // it never logs below debug here, whatever the configuration says.
    let tungstenite = match config.third_party_level {
        crate::config::LogLevel::Trace => "debug",
        other => other.as_str(),
    };
    EnvFilter::builder().parse_lossy(format!(
        "{},funkraum={},turn_server_proto=error,stun_proto=off,turn_types=error,\
         tungstenite={tungstenite},tokio_tungstenite={tungstenite}",
        config.third_party_level.as_str(),
        config.level.as_str()
    ))
}

/// Wraps the outputs; see the module documentation.
pub struct PrivacyGate<L> {
    inner: L,
    inputs: GateInputs,
    counters: Arc<LogCounters>,
}

impl<L> PrivacyGate<L> {
    pub fn new(inner: L, inputs: GateInputs, counters: Arc<LogCounters>) -> Self {
        PrivacyGate {
            inner,
            inputs,
            counters,
        }
    }
}

thread_local! {
    /// Reused buffer for formatting field values while checking them.
    static SCRATCH: RefCell<String> = const { RefCell::new(String::new()) };
}

/// Visits an event's fields and notes whether any names a foreign address
/// or a personal string in memory.
struct PersonalFinder<'a> {
    inputs: &'a GateInputs,
    found: bool,
}

impl PersonalFinder<'_> {
    fn check(&mut self, text: &str) {
        if self.inputs.own.text_names_foreign_address(text)
            || self.inputs.watchlist.appears_in(text)
        {
            self.found = true;
        }
    }
}

impl Visit for PersonalFinder<'_> {
    fn record_str(&mut self, _field: &Field, value: &str) {
        if !self.found {
            self.check(value);
        }
    }

    fn record_debug(&mut self, _field: &Field, value: &dyn std::fmt::Debug) {
        if self.found {
            return;
        }
        SCRATCH.with(|s| {
            let mut s = s.borrow_mut();
            s.clear();
            let _ = write!(s, "{value:?}");
            self.check(&s);
        });
    }
}

impl<S, L> Layer<S> for PrivacyGate<L>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    L: Layer<S>,
{
    fn on_register_dispatch(&self, subscriber: &tracing::Dispatch) {
        self.inner.on_register_dispatch(subscriber);
    }

    fn on_layer(&mut self, subscriber: &mut S) {
        self.inner.on_layer(subscriber);
    }

    fn register_callsite(&self, metadata: &'static Metadata<'static>) -> Interest {
        self.inner.register_callsite(metadata)
    }

    fn enabled(&self, metadata: &Metadata<'_>, ctx: Context<'_, S>) -> bool {
        self.inner.enabled(metadata, ctx)
    }

    fn max_level_hint(&self) -> Option<LevelFilter> {
        self.inner.max_level_hint()
    }

    fn on_new_span(&self, attrs: &span::Attributes<'_>, id: &span::Id, ctx: Context<'_, S>) {
        self.inner.on_new_span(attrs, id, ctx);
    }

    fn on_record(&self, span: &span::Id, values: &span::Record<'_>, ctx: Context<'_, S>) {
        self.inner.on_record(span, values, ctx);
    }

    fn on_follows_from(&self, span: &span::Id, follows: &span::Id, ctx: Context<'_, S>) {
        self.inner.on_follows_from(span, follows, ctx);
    }

    fn event_enabled(&self, event: &Event<'_>, ctx: Context<'_, S>) -> bool {
        self.inner.event_enabled(event, ctx)
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        if *event.metadata().level() == Level::ERROR {
            let _reveal = RevealForErrorEvent::start();
            self.inner.on_event(event, ctx);
            return;
        }
        let mut finder = PersonalFinder {
            inputs: &self.inputs,
            found: false,
        };
        event.record(&mut finder);
        if finder.found {
            self.counters.withheld.fetch_add(1, Ordering::Relaxed);
            return;
        }
        self.inner.on_event(event, ctx);
    }

    fn on_enter(&self, id: &span::Id, ctx: Context<'_, S>) {
        self.inner.on_enter(id, ctx);
    }

    fn on_exit(&self, id: &span::Id, ctx: Context<'_, S>) {
        self.inner.on_exit(id, ctx);
    }

    fn on_close(&self, id: span::Id, ctx: Context<'_, S>) {
        self.inner.on_close(id, ctx);
    }

    fn on_id_change(&self, old: &span::Id, new: &span::Id, ctx: Context<'_, S>) {
        self.inner.on_id_change(old, new, ctx);
    }
}

/// Keeps ERROR events (formatted while personal values are revealed) in
/// the error log.
pub struct ErrorLogLayer {
    log: Arc<ErrorLog>,
}

struct LineWriter(String);

impl Visit for LineWriter {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.0.insert_str(0, value);
        } else {
            let _ = write!(self.0, " {}={value:?}", field.name());
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            self.0.insert_str(0, &format!("{value:?}"));
        } else {
            let _ = write!(self.0, " {}={value:?}", field.name());
        }
    }
}

impl<S: Subscriber> Layer<S> for ErrorLogLayer {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        if *event.metadata().level() != Level::ERROR {
            return;
        }
        let mut line = LineWriter(String::new());
        event.record(&mut line);
        self.log
            .record(SystemTime::now(), event.metadata().target(), line.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::privacy::{Nickname, PeerAddr};
    use std::sync::Mutex;
    use std::time::Duration;

    /// Collects what reached the output, as text.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<String>>>);

    impl<S: Subscriber> Layer<S> for Captured {
        fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
            let mut line = LineWriter(String::new());
            event.record(&mut line);
            self.0.lock().unwrap().push(line.0);
        }
    }

    #[test]
    fn levels_apply_to_ours_and_theirs_separately() {
        let captured = Captured::default();
        let config = LogConfig {
            level: crate::config::LogLevel::Debug,
            ..LogConfig::default()
        };
        let subscriber = tracing_subscriber::registry()
            .with(captured.clone().with_filter(level_filter(&config)));
        tracing::subscriber::with_default(subscriber, || {
            tracing::debug!(target: "funkraum::x", "ours at debug");
            tracing::trace!(target: "funkraum::x", "ours at trace");
            tracing::warn!(target: "str0m::x", "theirs at warn");
            tracing::info!(target: "str0m::x", "theirs at info");
        });
        let lines = captured.0.lock().unwrap().clone();
        assert_eq!(lines, vec!["ours at debug", "theirs at warn"]);
    }

    #[test]
    fn the_gate_reveals_at_error_redacts_below_and_withholds_foreign_addresses() {
        let captured = Captured::default();
        let inputs = GateInputs::default();
        inputs.own.add("127.0.0.1".parse().unwrap());
        inputs.watchlist.add("secret-room-name");
        let counters = inputs.counters.clone();
        let error_log = Arc::new(ErrorLog::new(None, Duration::from_secs(3600)).unwrap());
        let gate = PrivacyGate::new(
            captured.clone().and_then(ErrorLogLayer {
                log: error_log.clone(),
            }),
            inputs,
            counters.clone(),
        );
        let subscriber = tracing_subscriber::registry().with(gate);
        let nick = Nickname::from_validated("CanaryNick".into());
        let peer = PeerAddr::new("203.0.113.5:4444".parse().unwrap());
        tracing::subscriber::with_default(subscriber, || {
            tracing::info!(nickname = %nick, peer = %peer, "someone joined");
            tracing::warn!(target: "str0m::ice", "pair 203.0.113.5:4444 failed");
            tracing::debug!("listening on 127.0.0.1:8080");
            tracing::trace!(target: "tungstenite", "frame {{\"room\":\"Secret-Room-Name\"}}");
            tracing::error!(nickname = %nick, peer = %peer, "could not serve");
        });
        let lines = captured.0.lock().unwrap().clone();
        assert_eq!(lines.len(), 3, "{lines:?}");
        assert!(lines[0].contains("<nickname>") && lines[0].contains("<address>"));
        assert!(!lines[0].contains("CanaryNick"));
        assert!(lines[1].contains("127.0.0.1:8080"));
        assert!(lines[2].contains("CanaryNick") && lines[2].contains("203.0.113.5:4444"));
        assert_eq!(counters.withheld.load(Ordering::Relaxed), 2);
        let kept = error_log.entries();
        assert_eq!(kept.len(), 1);
        assert!(kept[0].message.contains("CanaryNick"));
        assert!(kept[0].message.starts_with("could not serve"));
    }
}
