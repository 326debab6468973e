//! The personal strings currently in memory — nicknames and room names of
//! everyone connected — so the logging gate can withhold any event below
//! ERROR that contains one, whichever library wrote it. A second line of
//! defence behind the personal types: it catches what no type wraps (a
//! library logging a WebSocket frame, say).

use aho_corasick::AhoCorasick;
use std::collections::HashMap;
use std::sync::{Arc, RwLock};

/// Shorter strings are not watched: a two-letter nickname would withhold
/// nearly every log line while its owner is connected.
pub const MIN_WATCHED_CHARS: usize = 3;

#[derive(Clone, Default)]
pub struct PersonalWatchlist(Arc<RwLock<Inner>>);

#[derive(Default)]
struct Inner {
    /// String → how many holders (two people may share a nickname; a room
    /// name is held by each member).
    counts: HashMap<String, usize>,
    matcher: Option<AhoCorasick>,
}

impl std::fmt::Debug for PersonalWatchlist {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = self.0.read().map(|i| i.counts.len()).unwrap_or(0);
        write!(f, "PersonalWatchlist({n} strings)")
    }
}

impl PersonalWatchlist {
    pub fn add(&self, personal: &str) {
        if personal.chars().count() < MIN_WATCHED_CHARS {
            return;
        }
        let mut inner = self.0.write().unwrap_or_else(|e| e.into_inner());
        *inner.counts.entry(personal.to_string()).or_insert(0) += 1;
        inner.rebuild();
    }

    pub fn remove(&self, personal: &str) {
        let mut inner = self.0.write().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = inner.counts.get_mut(personal) {
            *n -= 1;
            if *n == 0 {
                inner.counts.remove(personal);
                inner.rebuild();
            }
        }
    }

    /// True if `text` contains a watched string (ASCII case ignored).
    pub fn appears_in(&self, text: &str) -> bool {
        let inner = self.0.read().unwrap_or_else(|e| e.into_inner());
        inner.matcher.as_ref().is_some_and(|m| m.is_match(text))
    }
}

impl Inner {
    /// Joins and leaves are rare next to log events: rebuild on change,
    /// match fast.
    fn rebuild(&mut self) {
        self.matcher = if self.counts.is_empty() {
            None
        } else {
            AhoCorasick::builder()
                .ascii_case_insensitive(true)
                .build(self.counts.keys())
                .ok()
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn watches_while_held_and_forgets_after() {
        let w = PersonalWatchlist::default();
        w.add("Kanarienvogel");
        w.add("Kanarienvogel");
        w.add("kaffee-raum");
        w.add("Al");
        assert!(w.appears_in(r#"Received {"nickname":"kanarienvogel"}"#));
        assert!(w.appears_in("path /KAFFEE-RAUM"));
        assert!(!w.appears_in("Al was here"), "too short to watch");
        w.remove("Kanarienvogel");
        assert!(w.appears_in("Kanarienvogel"), "still held once");
        w.remove("Kanarienvogel");
        assert!(!w.appears_in("Kanarienvogel"));
        w.remove("kaffee-raum");
        assert!(!w.appears_in("kaffee-raum"));
    }
}
