//! funkraum's load generator: synthetic participants join rooms through a
//! server's real signaling (funkraum's protocol, or Janus' VideoRoom API for
//! the side-by-side comparison), publish Opus-like audio and VP8-like video
//! carrying send stamps, receive everyone else, and the run reports what the
//! server cost and what the participants got. Loopback only; every run is
//! bounded by its duration and stops by itself.
//!
//! ```text
//! cargo bench --bench load -- --target funkraum --spawn target/release/funkraum --scenario 10x10
//! cargo bench --bench load -- --target janus --url ws://127.0.1.1:8188 --pid PID --scenario 10x10
//! cargo bench --bench load -- summarize results/*.json
//! ```
//! See docs/performance.md for the method.

#![forbid(unsafe_code)]

#[path = "load/funkraum.rs"]
mod funkraum;
#[path = "load/janus.rs"]
mod janus;
#[path = "load/media.rs"]
mod media;
#[path = "load/participant.rs"]
mod participant;
#[path = "load/procfs.rs"]
mod procfs;
#[path = "load/report.rs"]
mod report;
#[path = "load/server_latency.rs"]
mod server_latency;
#[path = "load/stats.rs"]
mod stats;

use media::{MediaPlan, PeerFactory};
use participant::{Outcome, Signaling, Spec};
use stats::Window;
use std::net::IpAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

const USAGE: &str = "\
usage: load [options]            one run, table on stdout
       load summarize FILE...    compare runs (JSON files of earlier runs)

  --target funkraum|janus      server under test (funkraum)
  --spawn PATH                 start this funkraum binary with a benchmark config
  --media-threads N            with --spawn: media.threads of that config (the
                               server's default when not given)
  --url URL                    signaling URL of a running server
  --pid PID                    its process (for CPU and memory)
  --scenario PxR               P publishers (who also receive) and R receive-only
                               participants per room; PxP means P publishers only
  --publishers N --receivers N the same, spelled out
  --rooms N                    rooms, each with that scenario (1)
  --audio-only                 no video
  --video-kbps N               video bitrate (1500: ~180 packets/s)
  --duration S                 measured seconds (20)
  --settle S                   seconds between the last join and the window (5)
  --join-interval-ms N         between two joins (100)
  --bind IP                    client address (127.0.0.1)
  --threads N                  generator worker threads (2)
  --nice N                     the generator's threads run at nice N once the
                               server is up (unchanged when not given), so that
                               they do not take the CPU from the server under
                               test (which keeps its own)
  --json PATH                  also write the result as JSON
  --label TEXT                 name of the run in the JSON
  --round N                    round of a comparison (pairs runs in summarize)
  --receiver-offer KIND        funkraum receive-only participants offer a data
                               channel only (datachannel, like a Janus subscriber)
                               or muted audio+video m-lines like the browser
                               client (browser)
";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    Funkraum,
    Janus,
}

#[derive(Debug, Clone)]
struct Args {
    target: Target,
    spawn: Option<PathBuf>,
    url: Option<String>,
    pid: Option<u32>,
    publishers: u32,
    receivers: u32,
    rooms: u32,
    audio: bool,
    video: bool,
    video_kbps: u32,
    duration: f64,
    settle: f64,
    join_interval: Duration,
    bind: IpAddr,
    threads: usize,
    nice: Option<i32>,
    media_threads: Option<u32>,
    json: Option<PathBuf>,
    label: String,
    round: u32,
    receiver_offer: funkraum::ReceiverOffer,
}

fn parse_args(mut raw: Vec<String>) -> Result<Args, String> {
    let mut a = Args {
        target: Target::Funkraum,
        spawn: None,
        url: None,
        pid: None,
        publishers: 10,
        receivers: 0,
        rooms: 1,
        audio: true,
        video: true,
        video_kbps: 1500,
        duration: 20.0,
        settle: 5.0,
        join_interval: Duration::from_millis(100),
        bind: [127, 0, 0, 1].into(),
        threads: 2,
        nice: None,
        media_threads: None,
        json: None,
        label: String::new(),
        round: 0,
        receiver_offer: funkraum::ReceiverOffer::DataChannel,
    };
    raw.reverse();
    let value = |raw: &mut Vec<String>, name: &str| -> Result<String, String> {
        raw.pop().ok_or(format!("{name} needs a value"))
    };
    fn num<T: std::str::FromStr>(s: String, name: &str) -> Result<T, String> {
        s.parse().map_err(|_| format!("{name}: not a number: {s}"))
    }
    while let Some(arg) = raw.pop() {
        match arg.as_str() {
            "--target" => {
                a.target = match value(&mut raw, "--target")?.as_str() {
                    "funkraum" => Target::Funkraum,
                    "janus" => Target::Janus,
                    t => return Err(format!("unknown target {t}")),
                }
            }
            "--spawn" => a.spawn = Some(value(&mut raw, "--spawn")?.into()),
            "--url" => a.url = Some(value(&mut raw, "--url")?),
            "--pid" => a.pid = Some(num(value(&mut raw, "--pid")?, "--pid")?),
            "--scenario" => {
                let s = value(&mut raw, "--scenario")?;
                let (p, r) = s.split_once('x').ok_or("--scenario: PxR")?;
                a.publishers = num(p.into(), "--scenario")?;
                let r: u32 = num(r.into(), "--scenario")?;
                a.receivers = if r == a.publishers { 0 } else { r };
            }
            "--publishers" => a.publishers = num(value(&mut raw, &arg)?, &arg)?,
            "--receivers" => a.receivers = num(value(&mut raw, &arg)?, &arg)?,
            "--rooms" => a.rooms = num(value(&mut raw, &arg)?, &arg)?,
            "--audio-only" => a.video = false,
            "--video-kbps" => a.video_kbps = num(value(&mut raw, &arg)?, &arg)?,
            "--media-threads" => a.media_threads = Some(num(value(&mut raw, &arg)?, &arg)?),
            "--duration" => a.duration = num(value(&mut raw, &arg)?, &arg)?,
            "--settle" => a.settle = num(value(&mut raw, &arg)?, &arg)?,
            "--join-interval-ms" => {
                a.join_interval = Duration::from_millis(num(value(&mut raw, &arg)?, &arg)?)
            }
            "--bind" => a.bind = num(value(&mut raw, &arg)?, &arg)?,
            "--threads" => a.threads = num(value(&mut raw, &arg)?, &arg)?,
            "--nice" => a.nice = Some(num(value(&mut raw, &arg)?, &arg)?),
            "--json" => a.json = Some(value(&mut raw, &arg)?.into()),
            "--label" => a.label = value(&mut raw, &arg)?,
            "--round" => a.round = num(value(&mut raw, &arg)?, &arg)?,
            "--receiver-offer" => {
                a.receiver_offer = match value(&mut raw, &arg)?.as_str() {
                    "datachannel" => funkraum::ReceiverOffer::DataChannel,
                    "browser" => funkraum::ReceiverOffer::Browser,
                    o => return Err(format!("--receiver-offer: datachannel or browser, not {o}")),
                }
            }
            // cargo bench passes this to every bench target.
            "--bench" => {}
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown argument {other}")),
        }
    }
    if a.publishers == 0 && a.receivers == 0 || a.rooms == 0 {
        return Err("nobody to join".into());
    }
    if !(1.0..=600.0).contains(&a.duration) || !(0.0..=120.0).contains(&a.settle) {
        return Err("--duration 1..600 s, --settle 0..120 s".into());
    }
    if a.spawn.is_none() && (a.url.is_none() || a.pid.is_none()) {
        return Err("either --spawn, or --url with --pid".into());
    }
    if a.spawn.is_some() && a.target != Target::Funkraum {
        return Err("--spawn starts funkraum only".into());
    }
    if a.label.is_empty() {
        a.label = format!(
            "{:?} {}x{}{}",
            a.target,
            a.publishers,
            if a.receivers == 0 {
                a.publishers
            } else {
                a.receivers
            },
            if a.video { "" } else { " audio" }
        )
        .to_lowercase();
    }
    Ok(a)
}

fn main() {
    let raw: Vec<String> = std::env::args().skip(1).collect();
    if raw.first().map(String::as_str) == Some("summarize") {
        let files: Vec<PathBuf> = raw[1..].iter().map(PathBuf::from).collect();
        match report::summarize(&files) {
            Ok(text) => print!("{text}"),
            Err(e) => {
                eprintln!("load: {e}");
                std::process::exit(2);
            }
        }
        return;
    }
    let args = match parse_args(raw) {
        Ok(a) => a,
        Err(e) => {
            if !e.is_empty() {
                eprintln!("load: {e}\n");
            }
            eprint!("{USAGE}");
            std::process::exit(2);
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.threads.max(1))
        .enable_all()
        .build()
        .expect("a tokio runtime builds");
    let result = runtime.block_on(run(args.clone()));
    runtime.shutdown_timeout(Duration::from_secs(2));
    match result {
        Ok(r) => {
            print!("{}", report::table(&r));
            if let Some(path) = &args.json {
                let text = serde_json::to_string_pretty(&report::json(&r)).unwrap();
                if let Err(e) = std::fs::write(path, text + "\n") {
                    eprintln!("load: {}: {e}", path.display());
                    std::process::exit(1);
                }
            }
        }
        Err(e) => {
            eprintln!("load: {e}");
            std::process::exit(1);
        }
    }
}

/// A funkraum started for one run, stopped when dropped.
struct Spawned {
    child: Child,
    dir: PathBuf,
}

impl Drop for Spawned {
    fn drop(&mut self) {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(self.child.id() as i32),
            nix::sys::signal::Signal::SIGTERM,
        );
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The configuration a benchmark run needs: loopback, limits raised,
/// media always through the server, no TURN.
fn bench_config(bind: IpAddr, media_threads: Option<u32>) -> String {
    let threads = media_threads
        .map(|n| format!("threads = {n}\n"))
        .unwrap_or_default();
    format!(
        "[http]\nlisten = \"{bind}:0\"\n\
         [media]\nport = 0\naddresses = [\"{bind}\"]\n{threads}\
         [limits]\nmax_participants_per_room = 500\nmax_rooms = 200\nmax_participants = 500\n\
         max_message_bytes = 4194304\nmessages_per_second = 1000\nmessage_burst = 5000\n\
         max_connections_per_address = 100000\n\
         [rooms]\np2p = false\nlast_n = 0\n\
         [turn]\nenabled = false\n\
         [log]\nlevel = \"warn\"\noutput = \"stderr\"\n\
         [process]\nlock_memory = false\n"
    )
}

fn spawn_funkraum(
    binary: &PathBuf,
    bind: IpAddr,
    media_threads: Option<u32>,
) -> Result<(Spawned, String), String> {
    let dir = PathBuf::from(format!("/dev/shm/funkraum-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let config = dir.join("funkraum.toml");
    std::fs::write(&config, bench_config(bind, media_threads)).map_err(|e| e.to_string())?;
    let mut child = Command::new(binary)
        .arg("--config")
        .arg(&config)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| format!("{}: {e}", binary.display()))?;
    let served = ::funkraum::server::watch_for_serving(child.stdout.take().expect("piped stdout"));
    let spawned = Spawned { child, dir };
    let url = served
        .recv_timeout(Duration::from_secs(30))
        .map_err(|_| "funkraum did not start within 30 s".to_string())?;
    let addr = url.strip_prefix("http://").unwrap_or(&url);
    Ok((spawned, format!("ws://{addr}/ws")))
}

/// Everything one run found.
pub struct RunResult {
    pub label: String,
    pub round: u32,
    pub target: String,
    pub publishers: u32,
    pub receivers: u32,
    pub rooms: u32,
    pub video: bool,
    pub video_kbps: u32,
    /// The generator's nice value during the run (`--nice`), if set.
    pub generator_nice: Option<i32>,
    pub window_s: f64,
    pub idle: procfs::Reading,
    pub start: procfs::Reading,
    pub end: procfs::Reading,
    pub outcomes: Vec<Outcome>,
    /// Participants whose task did not finish in time.
    pub missing: usize,
    /// funkraum's forwarding-latency histogram at the window's edges.
    pub server_latency: Option<(server_latency::Buckets, server_latency::Buckets)>,
}

async fn run(args: Args) -> Result<RunResult, String> {
    let (spawned, url, pid) = match &args.spawn {
        Some(binary) => {
            let (s, url) = spawn_funkraum(binary, args.bind, args.media_threads)?;
            let pid = s.child.id();
            (Some(s), url, pid)
        }
        None => (None, args.url.clone().unwrap(), args.pid.unwrap()),
    };
    if procfs::cpu_seconds(pid).is_none() {
        return Err(format!("no process {pid} to measure"));
    }
    // After the spawn: a server started later would inherit the nice value.
    if let Some(nice) = args.nice {
        procfs::renice_own_threads(nice)?;
    }
    let room_ids: Vec<u64> = (0..args.rooms as u64).map(|r| 4_242_000 + r).collect();
    if args.target == Target::Janus {
        let members = (args.publishers + args.receivers) as usize;
        janus::create_rooms(&url, &room_ids, members.max(1), 4_000_000).await?;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let idle = procfs::read(pid);

    let per_room = args.publishers + args.receivers;
    let total = per_room * args.rooms;
    let epoch = Instant::now();
    let window = Arc::new(Window::new(epoch));
    let factory = PeerFactory::new(args.bind);
    let first_join = epoch + Duration::from_millis(200);
    let ramp_end = first_join + args.join_interval * total;
    let open_at = ramp_end + Duration::from_secs_f64(args.settle);
    let close_at = open_at + Duration::from_secs_f64(args.duration);
    let leave_at = close_at + Duration::from_millis(1500);
    let plan = MediaPlan {
        audio: args.audio,
        video: args.video,
        video_kbps: args.video_kbps,
    };

    let mut tasks = Vec::new();
    for index in 0..total {
        let room = index / per_room;
        let publishes = index % per_room < args.publishers;
        let spec = Spec {
            index,
            room,
            plan: publishes.then_some(plan),
            url: url.clone(),
            subprotocol: (args.target == Target::Janus).then_some(janus::SUBPROTOCOL),
            leave_at,
        };
        let signaling: Box<dyn Signaling> = match args.target {
            Target::Funkraum => Box::new(funkraum::Funkraum::new(
                format!("bench-{room}"),
                args.receiver_offer,
            )),
            Target::Janus => Box::new(janus::Janus::new(room_ids[room as usize])),
        };
        let join_at = first_join + args.join_interval * index;
        let factory = factory.clone();
        let window = window.clone();
        tasks.push(tokio::spawn(async move {
            tokio::time::sleep_until(join_at.into()).await;
            participant::run(spec, signaling, factory, window).await
        }));
    }

    // The window's edges are taken on a thread of their own, so that a busy
    // runtime does not delay them; the participants see them through `window`.
    let metrics_addr = (args.target == Target::Funkraum).then(|| {
        let addr = url.strip_prefix("ws://").unwrap_or(&url);
        addr.strip_suffix("/ws").unwrap_or(addr).to_string()
    });
    let edges = {
        let window = window.clone();
        std::thread::spawn(move || {
            sleep_until(open_at);
            let start = procfs::read(pid);
            let latency_start = metrics_addr.as_deref().and_then(server_latency::read);
            let opened = Instant::now();
            window.open(opened);
            sleep_until(close_at);
            let closed = Instant::now();
            window.close(closed);
            let end = procfs::read(pid);
            let latency_end = metrics_addr.as_deref().and_then(server_latency::read);
            let latency = latency_start.zip(latency_end);
            (start, end, (closed - opened).as_secs_f64(), latency)
        })
    };

    let mut outcomes = Vec::new();
    let mut missing = 0;
    let give_up = leave_at + Duration::from_secs(5);
    for t in tasks {
        match tokio::time::timeout_at(give_up.into(), t).await {
            Ok(Ok(o)) => outcomes.push(o),
            _ => missing += 1,
        }
    }
    let (start, end, window_s, server_latency) = tokio::task::spawn_blocking(move || edges.join())
        .await
        .map_err(|e| e.to_string())?
        .map_err(|_| "measurement thread failed".to_string())?;
    drop(spawned);
    Ok(RunResult {
        label: args.label,
        round: args.round,
        target: format!("{:?}", args.target).to_lowercase(),
        publishers: args.publishers,
        receivers: args.receivers,
        rooms: args.rooms,
        video: args.video,
        video_kbps: args.video_kbps,
        generator_nice: args.nice,
        window_s,
        idle,
        start,
        end,
        outcomes,
        missing,
        server_latency,
    })
}

fn sleep_until(t: Instant) {
    let now = Instant::now();
    if t > now {
        std::thread::sleep(t - now);
    }
}
