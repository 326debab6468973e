//! The command line: load the configuration, start, wait for a signal.

#![forbid(unsafe_code)]

use funkraum::Server;
use funkraum::config::{Config, DEFAULT_CONFIG_TOML};
use std::path::PathBuf;
use std::process::ExitCode;

const USAGE: &str = "\
usage: funkraum [--config PATH]        run the server
       funkraum --print-default-config print a complete, commented config file
       funkraum --help | --version

Without --config, built-in defaults serve http://localhost:8080.";

enum Action {
    Run(Option<PathBuf>),
    PrintDefaultConfig,
    Help,
    Version,
}

fn parse_args() -> Result<Action, String> {
    let mut args = std::env::args().skip(1);
    let mut config = None;
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--config" | "-c" => {
                let path = args.next().ok_or("--config needs a path")?;
                config = Some(PathBuf::from(path));
            }
            "--print-default-config" => return Ok(Action::PrintDefaultConfig),
            "--help" | "-h" => return Ok(Action::Help),
            "--version" | "-V" => return Ok(Action::Version),
            other => return Err(format!("unknown argument: {other}")),
        }
    }
    Ok(Action::Run(config))
}

fn main() -> ExitCode {
    let action = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("funkraum: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let config_path = match action {
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
        Action::Run(path) => path,
    };
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
    init_logging(&config);

    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("funkraum: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async {
        let server = match Server::start(config).await {
            Ok(s) => s,
            Err(e) => {
                tracing::error!("cannot start: {e}");
                eprintln!("funkraum: {e}");
                return ExitCode::FAILURE;
            }
        };
        println!("funkraum serving {}", server.url());
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
        wait_for_shutdown_signal().await;
        tracing::info!("shutting down");
        server.shutdown().await;
        ExitCode::SUCCESS
    })
}

fn init_logging(config: &Config) {
    use tracing_subscriber::EnvFilter;
    // Our own events at the configured level; other crates' at WARN.
    let filter = EnvFilter::new(format!("warn,funkraum={}", config.log.level.as_str()));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
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
