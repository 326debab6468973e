//! The command line: load the configuration, harden the process, set up
//! logging, start, wait for a signal.

#![forbid(unsafe_code)]

use funkraum::Server;
use funkraum::config::{Config, DEFAULT_CONFIG_TOML};
use funkraum::hardening;
use funkraum::hardening::notify::{self, Notifier};
use funkraum::privacy::error_log::{self, ErrorLog, PURGE_INTERVAL};
use funkraum::privacy::{GateInputs, logging, runtime_dir};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

const USAGE: &str = "\
usage: funkraum [--config PATH]          run the server
       funkraum errors [--config PATH]   print the error log (entries of the last 24 h)
       funkraum --check --config PATH    check a config file (exit 0) or name the bad key (exit 2)
       funkraum --print-default-config   print a complete, commented config file
       funkraum --help | --version

Without --config, built-in defaults serve http://localhost:8080.";

enum Action {
    Run,
    Errors,
    Check,
    PrintDefaultConfig,
    Help,
    Version,
}

fn parse_args() -> Result<(Action, Option<PathBuf>), String> {
    let mut args = std::env::args().skip(1);
    let mut config = None;
    let mut action = Action::Run;
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--config" | "-c" => {
                let path = args.next().ok_or("--config needs a path")?;
                config = Some(PathBuf::from(path));
            }
            "errors" => action = Action::Errors,
            "--check" => action = Action::Check,
            "--print-default-config" => action = Action::PrintDefaultConfig,
            "--help" | "-h" => action = Action::Help,
            "--version" | "-V" => action = Action::Version,
            other => return Err(format!("unknown argument: {other}")),
        }
    }
    Ok((action, config))
}

fn main() -> ExitCode {
    let (action, config_path) = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("funkraum: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match action {
        Action::PrintDefaultConfig => {
            print!("{DEFAULT_CONFIG_TOML}");
            return ExitCode::SUCCESS;
        }
        Action::Help => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Action::Version => {
            println!("funkraum {}", env!("CARGO_PKG_VERSION"));
            return ExitCode::SUCCESS;
        }
        Action::Run | Action::Errors | Action::Check => {}
    }
    let config = match &config_path {
        Some(path) => Config::load(path),
        None => Ok(Config::default()),
    };
    let config = match config {
        Ok(c) => c,
        Err(e) => {
            eprintln!("funkraum: {e}");
            return ExitCode::from(2);
        }
    };
    match action {
        Action::Errors => print_error_log(&config),
        // Reached only when the file loaded: it is valid. (For tools that
        // write the file, e.g. ansible's `validate`.)
        Action::Check => {
            match &config_path {
                Some(path) => println!("funkraum: {} is valid", path.display()),
                None => println!("funkraum: the built-in defaults are valid"),
            }
            ExitCode::SUCCESS
        }
        _ => run(config),
    }
}

/// `funkraum errors`: the admin's view of the error log.
fn print_error_log(config: &Config) -> ExitCode {
    let dir = runtime_dir::choose(&config.log.runtime_dir)
        .unwrap_or_else(|| PathBuf::from(runtime_dir::SYSTEMD_RUNTIME_DIR));
    let path = dir.join(error_log::FILE_NAME);
    match error_log::read_entries(&path) {
        Ok(entries) => {
            println!(
                "# {} — {} entries; each is deleted {} h after it was written",
                path.display(),
                entries.len(),
                config.log.retention_hours
            );
            for e in entries {
                println!(
                    "{}  {}: {}",
                    error_log::format_utc(e.time),
                    e.target,
                    e.message
                );
            }
            ExitCode::SUCCESS
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            println!(
                "# no error log at {} (no errors, or the server keeps it in memory)",
                path.display()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("funkraum: cannot read {}: {e}", path.display());
            ExitCode::FAILURE
        }
    }
}

fn run(config: Config) -> ExitCode {
    // Before anything personal exists in memory.
    let hardening = hardening::harden_process(&config.process);

    let (error_dir, error_dir_problem) = match runtime_dir::choose(&config.log.runtime_dir) {
        Some(d) if runtime_dir::is_ram_backed(&d) => (Some(d), None),
        Some(d) => (
            None,
            Some(format!(
                "{} is not on tmpfs; the error log stays in memory (log.runtime_dir)",
                d.display()
            )),
        ),
        None => (None, None),
    };
    let error_log = match ErrorLog::new(error_dir.as_deref(), config.log.retention()) {
        Ok(l) => Arc::new(l),
        Err(e) => {
            eprintln!("funkraum: cannot create the error log: {e}");
            return ExitCode::FAILURE;
        }
    };
    let gate = GateInputs::default();
    if let Err(e) = logging::init(&config.log, error_log.clone(), gate.clone()) {
        eprintln!("funkraum: {e}");
        return ExitCode::FAILURE;
    }
    install_panic_hook();
    tracing::info!(
        core_dumps_off = hardening.core_dumps_off,
        not_dumpable = hardening.not_dumpable,
        memory_locked = hardening.memory_locked,
        "hardening applied"
    );
    if let Some(why) = &hardening.memory_lock_problem {
        tracing::warn!("memory is not locked against swap: {why}");
    }
    if let Some(why) = error_dir_problem {
        tracing::warn!("{why}");
    }
    // Connected while still root, if started as root: the socket's path may
    // not be writable for the user we become.
    let notifier = match Notifier::from_env() {
        Ok(n) => n.map(Arc::new),
        Err(e) => {
            tracing::warn!("cannot reach the service manager (NOTIFY_SOCKET): {e}");
            None
        }
    };

    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            tracing::error!("cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async move {
        let process = config.process.clone();
        let tls_state_dir = config.tls.state_dir.clone();
        let server = match Server::start_with(config, gate).await {
            Ok(s) => s,
            Err(e) => {
                tracing::error!("cannot start: {e}");
                eprintln!("funkraum: {e}");
                return ExitCode::FAILURE;
            }
        };
        tracing::info!(
            http = %server.http_addr,
            https = ?server.https_addrs,
            redirect = ?server.redirect_addrs,
            media = ?server.media_addrs,
            "funkraum is serving"
        );
        // Directories the daemon keeps writing to after dropping root: the
        // error log, and with TLS on the certificate state.
        let mut hand_over: Vec<&std::path::Path> = error_dir.iter().map(|d| d.as_path()).collect();
        if server.certificates.is_some() {
            hand_over.push(&tls_state_dir);
        }
        match hardening::drop_privileges(&process, &hand_over) {
            Ok(Some(user)) => tracing::info!(user, "no longer root"),
            Ok(None) => {}
            Err(e) => {
                tracing::error!("cannot drop root privileges: {e}");
                server.shutdown().await;
                return ExitCode::FAILURE;
            }
        }
        let purge_log = error_log.clone();
        tokio::spawn(async move {
            let mut every = tokio::time::interval(PURGE_INTERVAL);
            loop {
                every.tick().await;
                if let Err(e) = purge_log.purge(SystemTime::now()) {
                    tracing::warn!("error log purge failed: {e}");
                }
            }
        });
        println!("{}{}", funkraum::server::SERVING, server.url());
        if let Some(store) = &server.certificates {
            let status = store.status();
            println!(
                "TLS certificate ({}{}): SHA-256 {}",
                status.mode,
                if status.trusted {
                    ""
                } else {
                    ", not trusted by browsers"
                },
                status.fingerprint_sha256
            );
        }
        if let Some(n) = &notifier {
            if let Err(e) = n.ready(&format!("serving {}", server.url())) {
                tracing::warn!("cannot notify {:?}: {e}", n.name());
            }
            if let Some(every) = notify::watchdog_interval() {
                tokio::spawn(keep_watchdog_fed(n.clone(), server.health_probe(), every));
            }
        }
        wait_for_shutdown_signal().await;
        tracing::info!("shutting down");
        if let Some(n) = &notifier {
            let _ = n.stopping();
        }
        server.shutdown().await;
        ExitCode::SUCCESS
    })
}

/// Tells systemd every `every` that the service is healthy: the async
/// runtime schedules this task and every media thread answers a ping. When
/// either stalls, the pings stop and systemd restarts the service after
/// WatchdogSec.
async fn keep_watchdog_fed(
    notifier: Arc<Notifier>,
    media: funkraum::sfu::HealthProbe,
    every: Duration,
) {
    let mut ticks = tokio::time::interval(every);
    loop {
        ticks.tick().await;
        match media.check(every / 2).await {
            Ok(()) => {
                if let Err(e) = notifier.watchdog() {
                    tracing::warn!("cannot notify the watchdog: {e}");
                }
            }
            Err(why) => tracing::error!("unhealthy, not feeding the watchdog: {why}"),
        }
    }
}

/// Panics (str0m's are contained per participant) go to the log at ERROR,
/// so they reach the error log like any other error.
fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        let location = info
            .location()
            .map(|l| format!("{}:{}", l.file(), l.line()))
            .unwrap_or_default();
        let message = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_default();
        tracing::error!(location, "panic: {message}");
    }));
}

async fn wait_for_shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler installs");
    // SIGHUP (`systemctl reload`) re-reads the certificate files in
    // tls.mode = "files" (the tls module listens for it); it never ends the
    // process, whatever the mode.
    let mut hangup = signal(SignalKind::hangup()).expect("SIGHUP handler installs");
    loop {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => return,
            _ = term.recv() => return,
            _ = hangup.recv() => {}
        }
    }
}
