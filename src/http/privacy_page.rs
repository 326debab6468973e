//! The privacy page, `/privacy`, in German and English.
//!
//! It is rendered from the running configuration (`PrivacyFacts`), so what it
//! says is what this instance does: who operates it, where it stands, how long
//! logs that may hold personal data live, whether media can go peer to peer,
//! whether the built-in TURN relay runs. PRIVACY.md at the repository root is
//! the same statement for people reading the source; change both together.
//!
//! Both languages are written side by side (`pick(lang, de, en)`), so a
//! sentence cannot exist in one language only. Every configured value passes
//! through `escape_html`; the page has no script and no inline style.

use crate::config::{Config, OperatorConfig};
use std::fmt::Write as _;

/// What the privacy page states about this instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrivacyFacts {
    pub operator: OperatorConfig,
    /// Hours after which log entries that may hold personal data are gone.
    pub log_retention_hours: u32,
    /// Two participants alone in a room may send media browser to browser.
    pub peer_to_peer: bool,
    /// The built-in TURN relay is running.
    pub turn_relay: bool,
}

impl PrivacyFacts {
    /// The facts of the server that `config` starts.
    pub fn from_config(config: &Config) -> PrivacyFacts {
        PrivacyFacts {
            operator: config.operator.clone(),
            // The error log's purge and the journald drop-in
            // (systemd/journald-funkraum.conf) both keep to this.
            log_retention_hours: config.log.retention_hours,
            peer_to_peer: config.rooms.p2p,
            turn_relay: config.turn.enabled,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    De,
    En,
}

impl Lang {
    /// The BCP 47 tag, for `lang=` and `Content-Language`.
    pub fn code(self) -> &'static str {
        match self {
            Lang::De => "de",
            Lang::En => "en",
        }
    }

    fn from_tag(tag: &str) -> Option<Lang> {
        let primary = tag.split(['-', '_']).next()?.trim();
        if primary.eq_ignore_ascii_case("de") {
            Some(Lang::De)
        } else if primary.eq_ignore_ascii_case("en") {
            Some(Lang::En)
        } else {
            None
        }
    }
}

/// The page's language: `?lang=de|en` when given (the visible switch), else
/// the browser's preference from `Accept-Language`, else English.
pub fn choose_lang(query: Option<&str>, accept_language: Option<&str>) -> Lang {
    let from_query = query.and_then(|q| {
        q.split('&')
            .filter_map(|pair| pair.strip_prefix("lang="))
            .find_map(Lang::from_tag)
    });
    from_query
        .or_else(|| accept_language.and_then(preferred_lang))
        .unwrap_or(Lang::En)
}

/// The supported language with the highest weight; the earlier one on a tie.
fn preferred_lang(header: &str) -> Option<Lang> {
    let mut best: Option<(Lang, f32)> = None;
    for item in header.split(',') {
        let mut parts = item.split(';');
        let Some(lang) = parts.next().and_then(Lang::from_tag) else {
            continue;
        };
        let q = parts
            .filter_map(|p| p.trim().strip_prefix("q="))
            .find_map(|v| v.trim().parse::<f32>().ok())
            .unwrap_or(1.0);
        if q > 0.0 && best.is_none_or(|(_, b)| q > b) {
            best = Some((lang, q));
        }
    }
    best.map(|(lang, _)| lang)
}

/// Text made safe to put into HTML content and quoted attribute values.
pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn pick<T>(lang: Lang, de: T, en: T) -> T {
    match lang {
        Lang::De => de,
        Lang::En => en,
    }
}

fn hours(lang: Lang, n: u32) -> String {
    match (lang, n) {
        (Lang::De, 1) => "1 Stunde".to_string(),
        (Lang::De, n) => format!("{n} Stunden"),
        (Lang::En, 1) => "1 hour".to_string(),
        (Lang::En, n) => format!("{n} hours"),
    }
}

/// The whole page. Pure: the same facts and language give the same bytes.
pub fn render(facts: &PrivacyFacts, lang: Lang) -> String {
    let t = |de: &'static str, en: &'static str| pick(lang, de, en);
    let retention = hours(lang, facts.log_retention_hours);
    let op = &facts.operator;
    let mut h = String::with_capacity(8192);

    // `write!` into a String cannot fail.
    let _ = write!(
        h,
        "<!doctype html>\n<html lang=\"{code}\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{title} – funkraum</title>\n\
         <link rel=\"stylesheet\" href=\"/assets/privacy.css\">\n</head>\n<body>\n",
        code = lang.code(),
        title = t("Datenschutz", "Privacy"),
    );
    let current = |l: Lang| {
        if l == lang {
            " aria-current=\"page\""
        } else {
            ""
        }
    };
    let _ = write!(
        h,
        "<header>\n<nav aria-label=\"{nav}\">\
         <a href=\"/privacy?lang=de\" hreflang=\"de\" lang=\"de\"{de}>Deutsch</a> \
         <a href=\"/privacy?lang=en\" hreflang=\"en\" lang=\"en\"{en}>English</a>\
         </nav>\n</header>\n<main>\n<h1>{h1}</h1>\n<p class=\"lead\">{lead}</p>\n",
        nav = t("Sprache", "Language"),
        de = current(Lang::De),
        en = current(Lang::En),
        h1 = t("Datenschutz", "Privacy"),
        lead = t(
            "Diese Seite erzeugt der Server, den Sie gerade benutzen, aus seiner \
             laufenden Konfiguration. Sie beschreibt also genau diesen Server.",
            "This page is generated by the server you are using, from its running \
             configuration, so it describes exactly this server.",
        ),
    );

    // Who operates it, and where it stands.
    let _ = write!(
        h,
        "<section>\n<h2>{}</h2>\n<dl>\n",
        t("Wer diesen Dienst betreibt", "Who runs this service")
    );
    let missing = |key: &str| {
        format!(
            "<span class=\"missing\">{} <code>operator.{key}</code>).</span>",
            t(
                "Vom Betreiber nicht angegeben (Konfigurationsschlüssel",
                "Not filled in by the operator (configuration key",
            )
        )
    };
    let rows = [
        (t("Betreiber", "Operator"), &op.name, "name", ""),
        (
            t("Kontakt", "Contact"),
            &op.contact,
            "contact",
            " class=\"lines\"",
        ),
        (
            t("Standort des Servers", "Where the server stands"),
            &op.location,
            "location",
            "",
        ),
    ];
    for (label, value, key, class) in rows {
        let value = if value.trim().is_empty() {
            missing(key)
        } else {
            escape_html(value)
        };
        let _ = writeln!(h, "<dt>{label}</dt><dd{class}>{value}</dd>");
    }
    if !op.url.trim().is_empty() {
        let url = escape_html(&op.url);
        let _ = writeln!(
            h,
            "<dt>{}</dt><dd><a href=\"{url}\" rel=\"noreferrer\">{url}</a></dd>",
            t("Impressum", "Legal notice"),
        );
    }
    h.push_str("</dl>\n</section>\n");

    // The facts that differ between instances, in one place.
    let _ = write!(
        h,
        "<section>\n<h2>{}</h2>\n<ul class=\"facts\">\n",
        t("Dieser Server auf einen Blick", "This server at a glance")
    );
    let _ = writeln!(
        h,
        "<li id=\"retention\">{}</li>",
        pick(
            lang,
            format!(
                "Protokolleinträge, die personenbezogene Daten enthalten können, \
                 werden nach <strong>{retention}</strong> gelöscht."
            ),
            format!(
                "Log entries that may contain personal data are deleted after \
                 <strong>{retention}</strong>."
            ),
        )
    );
    let _ = writeln!(
        h,
        "<li id=\"p2p\">{}</li>",
        if facts.peer_to_peer {
            t(
                "Peer-to-Peer: <strong>an</strong>. Sind genau zwei Personen in einem Raum, \
                 können ihre Browser direkt miteinander verbunden werden.",
                "Peer to peer: <strong>on</strong>. When exactly two people are in a room, \
                 their browsers may connect directly to each other.",
            )
        } else {
            t(
                "Peer-to-Peer: <strong>aus</strong>. Audio und Video laufen immer über \
                 diesen Server.",
                "Peer to peer: <strong>off</strong>. Audio and video always pass through \
                 this server.",
            )
        }
    );
    let _ = writeln!(
        h,
        "<li id=\"turn\">{}</li>",
        if facts.turn_relay {
            t(
                "Eingebautes TURN-Relay: <strong>an</strong>.",
                "Built-in TURN relay: <strong>on</strong>.",
            )
        } else {
            t(
                "Eingebautes TURN-Relay: <strong>aus</strong>.",
                "Built-in TURN relay: <strong>off</strong>.",
            )
        }
    );
    let _ = writeln!(
        h,
        "<li>{}</li>\n</ul>\n</section>",
        t(
            "Keine Benutzerkonten, keine Aufzeichnungen, keine Cookies, keine \
             Analyse, keine Anfragen an Dritte.",
            "No accounts, no recordings, no cookies, no analytics, no requests \
             to third parties.",
        )
    );

    // What is processed, and why.
    let _ = write!(
        h,
        "<section>\n<h2>{h2}</h2>\n<p>{intro}</p>\n<ul>\n<li>{nick}</li>\n<li>{room}</li>\n\
         <li>{media}</li>\n<li>{ip}</li>\n</ul>\n<p>{gone}</p>\n",
        h2 = t(
            "Welche Daten verarbeitet werden, und wozu",
            "What is processed, and why"
        ),
        intro = t(
            "Um eine Konferenz zu ermöglichen, muss der Server einige Daten über Sie \
             verarbeiten. Er hält sie nur im Arbeitsspeicher, nie auf der Festplatte, \
             und nur, solange Sie an der Konferenz teilnehmen:",
            "To hold a conference, the server has to process some data about you. It \
             keeps this data in memory only, never on disk, and only while you take \
             part in the conference:",
        ),
        nick = t(
            "Ihr <strong>Name</strong> (Nickname), den die anderen Teilnehmenden im Raum \
             sehen, solange Sie dort sind.",
            "Your <strong>nickname</strong>, which the other participants in the room \
             see for as long as you are there.",
        ),
        room = t(
            "Der <strong>Name des Raums</strong>, den Sie betreten.",
            "The <strong>name of the room</strong> you enter.",
        ),
        media = t(
            "Ihr <strong>Ton und Bild</strong>, die der Server an die anderen \
             Teilnehmenden im Raum weiterreicht. Nichts davon wird aufgezeichnet.",
            "Your <strong>audio and video</strong>, which the server passes on to the \
             other participants in the room. None of it is recorded.",
        ),
        ip = t(
            "Ihre <strong>IP-Adresse</strong> und Portnummer sowie technische Daten der \
             Verbindung Ihres Browsers (etwa unterstützte Formate und \
             Schlüssel), ohne die Ton und Bild Sie nicht erreichen können.",
            "Your <strong>IP address</strong> and port, and technical data of your \
             browser's connection (such as supported formats and keys), without \
             which audio and video cannot reach you.",
        ),
        gone = t(
            "Wenn Sie den Raum verlassen oder die Verbindung abbricht, vergisst der \
             Server Ihren Namen, Ihre Adresse und Ihre Medien. Ein Raum verschwindet, \
             sobald die letzte Person ihn verlässt.",
            "When you leave the room or the connection drops, the server forgets your \
             nickname, your address and your media. A room is gone as soon as the last \
             person leaves it.",
        ),
    );
    let _ = writeln!(
        h,
        "<p>{}</p>",
        if facts.peer_to_peer {
            t(
                "Ton und Bild laufen über diesen Server, außer wenn genau zwei Personen \
                 in einem Raum sind: Dann können ihre Browser sich direkt verbinden \
                 (Peer-to-Peer), und jeder sieht die IP-Adresse des anderen. Sobald eine \
                 dritte Person dazukommt, läuft alles wieder über den Server.",
                "Audio and video pass through this server, except when exactly two \
                 people are in a room: then their browsers may connect directly (peer to \
                 peer), and each sees the other's IP address. As soon as a third person \
                 joins, everything passes through the server again.",
            )
        } else {
            t(
                "Ton und Bild laufen immer über diesen Server. Die anderen \
                 Teilnehmenden sehen Ihre IP-Adresse nicht, nur die des Servers.",
                "Audio and video always pass through this server. The other \
                 participants do not see your IP address, only the server's.",
            )
        }
    );
    let _ = writeln!(
        h,
        "<p>{}</p>",
        t(
            "Auf dem Weg zwischen Ihrem Browser und dem Server sind Ton und Bild \
             verschlüsselt. Der Server entschlüsselt sie im Arbeitsspeicher, um sie \
             weiterzureichen; es ist also keine Ende-zu-Ende-Verschlüsselung.",
            "Audio and video are encrypted on the way between your browser and the \
             server. The server decrypts them in memory to pass them on, so this is \
             not end-to-end encryption.",
        )
    );
    let _ = writeln!(
        h,
        "<p>{}</p>\n</section>",
        if facts.turn_relay {
            t(
                "Lässt Ihr Netz keine direkte Verbindung zum Medien-Port des Servers zu, \
                 kann Ihr Browser ihn über das in diesen Server eingebaute TURN-Relay \
                 erreichen. Das Relay ist Teil desselben Programms und behandelt Ihre \
                 Daten genauso: nur im Arbeitsspeicher, nur für die Dauer der Konferenz.",
                "If your network does not allow a direct connection to the server's media \
                 port, your browser can reach it through the TURN relay built into this \
                 server. The relay is part of the same program and treats your data the \
                 same way: in memory only, for the duration of the conference only.",
            )
        } else {
            t(
                "Dieser Server betreibt kein TURN-Relay, und es wird auch keines eines \
                 Dritten benutzt.",
                "This server runs no TURN relay, and none run by a third party is used \
                 either.",
            )
        }
    );

    // Logs.
    let _ = writeln!(
        h,
        "<section>\n<h2>{}</h2>\n<p>{}</p>\n</section>",
        t("Protokolle", "Logs"),
        pick(
            lang,
            format!(
                "Der Server schreibt ein Protokoll, damit sein Betreiber ihn am Laufen \
                 halten kann. Ihr Name, der Raumname oder Ihre IP-Adresse stehen darin \
                 nur, wenn ein Fehler auftritt, und solche Einträge werden nach \
                 <strong>{retention}</strong> gelöscht. Es gibt kein Zugriffsprotokoll: \
                 Der Server hält nicht fest, wer welche Seite oder welchen Raum aufruft."
            ),
            format!(
                "The server writes a log so that its operator can keep it running. Your \
                 nickname, the room name or your IP address appear in it only when an \
                 error occurs, and such entries are deleted after \
                 <strong>{retention}</strong>. There is no access log: the server does not \
                 record who opens which page or room."
            ),
        )
    );

    // Never stored.
    let _ = write!(
        h,
        "<section>\n<h2>{h2}</h2>\n<ul>\n<li>{a}</li>\n<li>{b}</li>\n<li>{c}</li>\n\
         <li>{d}</li>\n<li>{e}</li>\n<li>{f}</li>\n</ul>\n</section>\n",
        h2 = t("Was nie gespeichert wird", "What is never stored"),
        a = t(
            "Keine Benutzerkonten: Sie brauchen nur einen Namen, den Sie frei wählen.",
            "No accounts: all you need is a nickname of your choice.",
        ),
        b = t(
            "Keine Aufzeichnungen von Ton oder Bild.",
            "No recordings of audio or video.",
        ),
        c = t(
            "Kein Chat-Archiv: Ein Raum behält seine letzten Chatnachrichten nur im \
             Arbeitsspeicher, damit später Hinzukommende sie lesen können; sie \
             verschwinden mit dem Raum.",
            "No chat archive: a room keeps its latest chat messages in memory only, \
             so that people who join later can read them; they are gone with the room.",
        ),
        d = t(
            "Keine Cookies, keine Analyse, kein Tracking.",
            "No cookies, no analytics, no tracking.",
        ),
        e = t(
            "Keine Anfragen an Dritte: Diese Seite und die Konferenz laden nichts von \
             anderen Servern, weder Schriften noch Skripte, Bilder oder STUN-Server.",
            "No requests to third parties: this page and the conference load nothing \
             from other servers — no fonts, scripts, images or STUN servers.",
        ),
        f = t(
            "Nichts über Sie auf der Festplatte des Servers.",
            "Nothing about you on the server's disk.",
        ),
    );

    // Rights.
    let _ = writeln!(
        h,
        "<section>\n<h2>{}</h2>\n<p>{}</p>\n</section>",
        t("Ihre Rechte", "Your rights"),
        pick(
            lang,
            format!(
                "Nach der Datenschutz-Grundverordnung haben Sie das Recht auf Auskunft, \
                 Berichtigung, Löschung, Einschränkung der Verarbeitung und Widerspruch \
                 sowie auf Beschwerde bei einer Datenschutz-Aufsichtsbehörde. Da dieser \
                 Server Daten über Sie nur hält, solange Sie verbunden sind, und in \
                 Fehlerprotokollen höchstens {retention}, ist danach in der Regel nichts \
                 mehr vorhanden. Fragen beantwortet der Betreiber (Kontakt oben)."
            ),
            format!(
                "Under the General Data Protection Regulation you have the right of \
                 access, rectification, erasure, restriction of processing and objection, \
                 and the right to lodge a complaint with a data-protection supervisory \
                 authority. Because this server holds data about you only while you are \
                 connected, and in error logs for at most {retention}, there is usually \
                 nothing left afterwards. The operator answers questions (contact above)."
            ),
        )
    );

    let _ = write!(
        h,
        "</main>\n<footer>\n<p><a href=\"/\">{home}</a></p>\n<p>{generated}</p>\n\
         </footer>\n</body>\n</html>\n",
        home = t("Zur Startseite", "Back to the start page"),
        generated = pick(
            lang,
            format!(
                "Erzeugt von funkraum {} aus der laufenden Konfiguration.",
                env!("CARGO_PKG_VERSION")
            ),
            format!(
                "Generated by funkraum {} from the running configuration.",
                env!("CARGO_PKG_VERSION")
            ),
        ),
    );
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts() -> PrivacyFacts {
        PrivacyFacts {
            operator: OperatorConfig {
                name: "Freifunk Musterstadt e. V.".into(),
                contact: "datenschutz@musterstadt.example".into(),
                location: "Hetzner, Falkenstein, Germany".into(),
                url: "https://musterstadt.example/impressum".into(),
            },
            log_retention_hours: 24,
            peer_to_peer: false,
            turn_relay: false,
        }
    }

    /// The text of the `<li id="…">` fact, to check one sentence alone.
    fn fact<'a>(page: &'a str, id: &str) -> &'a str {
        let start = page
            .find(&format!("<li id=\"{id}\">"))
            .unwrap_or_else(|| panic!("no fact {id}"));
        let rest = &page[start..];
        &rest[..rest.find("</li>").unwrap()]
    }

    #[test]
    fn both_languages_state_every_fact() {
        let f = facts();
        for lang in [Lang::De, Lang::En] {
            let page = render(&f, lang);
            assert!(page.contains(&format!("<html lang=\"{}\">", lang.code())));
            for value in [
                "Freifunk Musterstadt e. V.",
                "datenschutz@musterstadt.example",
                "Hetzner, Falkenstein, Germany",
                "href=\"https://musterstadt.example/impressum\"",
            ] {
                assert!(page.contains(value), "{lang:?} lacks {value}");
            }
            assert!(fact(&page, "retention").contains(&hours(lang, 24)));
            assert!(fact(&page, "p2p").contains(pick(
                lang,
                "<strong>aus</strong>",
                "<strong>off</strong>"
            )));
            assert!(fact(&page, "turn").contains(pick(
                lang,
                "<strong>aus</strong>",
                "<strong>off</strong>"
            )));
            assert!(!page.contains("class=\"missing\""), "{lang:?}");
            assert!(page.contains("href=\"/privacy?lang=de\""));
            assert!(page.contains("href=\"/privacy?lang=en\""));
        }
        let de = render(&f, Lang::De);
        assert!(de.contains("Wer diesen Dienst betreibt") && de.contains("24 Stunden"));
        assert!(de.contains("lang=\"de\" aria-current=\"page\""));
        let en = render(&f, Lang::En);
        assert!(en.contains("Who runs this service") && en.contains("24 hours"));
        assert!(en.contains("lang=\"en\" aria-current=\"page\""));
    }

    #[test]
    fn the_facts_follow_the_configuration() {
        let mut f = facts();
        f.log_retention_hours = 6;
        f.peer_to_peer = true;
        f.turn_relay = true;
        for lang in [Lang::De, Lang::En] {
            let page = render(&f, lang);
            assert!(fact(&page, "retention").contains(&hours(lang, 6)));
            assert!(!page.contains(&hours(lang, 24)), "{lang:?}");
            let on = pick(lang, "<strong>an</strong>", "<strong>on</strong>");
            assert!(fact(&page, "p2p").contains(on), "{lang:?}");
            assert!(fact(&page, "turn").contains(on), "{lang:?}");
            // The media path is told as it is: the other's IP is visible.
            assert!(page.contains(pick(
                lang,
                "sieht die IP-Adresse des anderen",
                "sees the other's IP address"
            )));
        }
        f.log_retention_hours = 1;
        assert!(render(&f, Lang::De).contains("<strong>1 Stunde</strong>"));
        assert!(render(&f, Lang::En).contains("<strong>1 hour</strong>"));
    }

    #[test]
    fn an_empty_operator_is_said_plainly() {
        let f = PrivacyFacts {
            operator: OperatorConfig::default(),
            ..facts()
        };
        for lang in [Lang::De, Lang::En] {
            let page = render(&f, lang);
            for key in ["name", "contact", "location"] {
                assert!(
                    page.contains(&format!("<code>operator.{key}</code>")),
                    "{lang:?} {key}"
                );
            }
            assert_eq!(page.matches("class=\"missing\"").count(), 3);
            assert!(!page.contains(pick(lang, "Impressum", "Legal notice")));
            assert!(page.contains(pick(
                lang,
                "Vom Betreiber nicht angegeben",
                "Not filled in by the operator"
            )));
        }
    }

    #[test]
    fn hostile_operator_text_stays_text() {
        let f = PrivacyFacts {
            operator: OperatorConfig {
                name: "<script>alert(1)</script>".into(),
                contact: "\"><img src=x onerror=alert(1)>".into(),
                location: "Tom & Jerry's <b>basement</b>".into(),
                url: "https://x.example/\"onmouseover=\"alert(1)".into(),
            },
            ..facts()
        };
        for lang in [Lang::De, Lang::En] {
            let page = render(&f, lang);
            assert!(!page.contains("<script"), "{lang:?}");
            assert!(!page.contains("<img"), "{lang:?}");
            assert!(!page.contains("<b>"), "{lang:?}");
            assert!(!page.contains("\"onmouseover"), "{lang:?}");
            assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
            assert!(page.contains("&quot;&gt;&lt;img src=x onerror=alert(1)&gt;"));
            assert!(page.contains("Tom &amp; Jerry&#39;s &lt;b&gt;basement&lt;/b&gt;"));
            assert!(page.contains("href=\"https://x.example/&quot;onmouseover=&quot;alert(1)\""));
        }
    }

    #[test]
    fn the_page_needs_no_inline_script_or_style() {
        let page = render(&facts(), Lang::En);
        assert!(!page.contains("<script"));
        assert!(!page.contains("<style"));
        assert!(!page.contains("style="));
        let handlers = page.split(" on").skip(1).filter(|rest| {
            let name_len = rest.bytes().take_while(u8::is_ascii_lowercase).count();
            rest[name_len..].starts_with('=')
        });
        assert_eq!(handlers.count(), 0, "no event handler attributes");
        assert!(!page.contains("http://") && page.matches("https://").count() == 2);
    }

    #[test]
    fn escape_html_escapes_the_five() {
        assert_eq!(
            escape_html("a&b<c>d\"e'f"),
            "a&amp;b&lt;c&gt;d&quot;e&#39;f"
        );
        assert_eq!(escape_html("Grüße, 東京"), "Grüße, 東京");
        assert_eq!(escape_html(""), "");
        assert_eq!(escape_html("&amp;"), "&amp;amp;");
    }

    #[test]
    fn language_from_query_then_browser_then_english() {
        assert_eq!(choose_lang(Some("lang=de"), Some("en")), Lang::De);
        assert_eq!(choose_lang(Some("x=1&lang=en"), Some("de")), Lang::En);
        assert_eq!(choose_lang(Some("lang=fr"), Some("de-DE")), Lang::De);
        assert_eq!(choose_lang(None, Some("de-DE,de;q=0.9,en;q=0.8")), Lang::De);
        assert_eq!(choose_lang(None, Some("en-US,en;q=0.9,de;q=0.8")), Lang::En);
        assert_eq!(
            choose_lang(None, Some("fr-FR, de;q=0.5, en;q=0.7")),
            Lang::En
        );
        assert_eq!(choose_lang(None, Some("de;q=0, en;q=0.1")), Lang::En);
        assert_eq!(choose_lang(None, Some("fr, *;q=0.5")), Lang::En);
        assert_eq!(choose_lang(None, Some("DE_at")), Lang::De);
        assert_eq!(choose_lang(None, Some("")), Lang::En);
        assert_eq!(choose_lang(None, None), Lang::En);
    }
}
