//! With two media threads (`media.threads = 2`), four rooms land on both
//! threads — `/metrics` counts media sessions on each, and both threads
//! spend CPU time — while every participant receives the audio and video
//! of its own room and nothing of another. Leaving and coming back works:
//! into a room that still has people (its thread), and into a room that
//! emptied (placed anew).

mod common;

use common::{FLOWING, TestClient, within};
use std::collections::{BTreeSet, HashMap};
use std::net::SocketAddr;
use std::time::Duration;

const ROOMS: [(&str, &[&str]); 4] = [
    ("faden-eins", &["Anna", "Bernd", "Carla"]),
    ("faden-zwei", &["Dora", "Emil"]),
    ("faden-drei", &["Frida", "Gustav"]),
    ("faden-vier", &["Hanna", "Ingo"]),
];

/// `funkraum_media_thread_sessions{thread="i"}` for every thread listed.
async fn sessions_per_thread(addr: SocketAddr) -> Vec<u64> {
    let r = common::http::get(addr, "/metrics").await;
    assert_eq!(r.status, 200);
    let mut per_thread = Vec::new();
    for i in 0.. {
        let prefix = format!("funkraum_media_thread_sessions{{thread=\"{i}\"}} ");
        let Some(v) = r.body.lines().find_map(|l| l.strip_prefix(&prefix)) else {
            break;
        };
        per_thread.push(v.trim().parse().unwrap());
    }
    per_thread
}

/// CPU time (user + system, clock ticks) of this process's media threads,
/// by thread id: what `top -H` shows an admin. The kernel keeps 15 bytes
/// of a thread's name: "funkraum-media-".
fn media_thread_cpu() -> HashMap<String, u64> {
    let mut cpu = HashMap::new();
    for task in std::fs::read_dir("/proc/self/task").unwrap().flatten() {
        let dir = task.path();
        let comm = std::fs::read_to_string(dir.join("comm")).unwrap_or_default();
        if !comm.trim().starts_with("funkraum-media") {
            continue;
        }
        let stat = std::fs::read_to_string(dir.join("stat")).unwrap_or_default();
        // After the ")" that ends the name: state is field 3, utime 14, stime 15.
        let rest = &stat[stat.rfind(')').unwrap() + 2..];
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let ticks = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
        cpu.insert(task.file_name().to_string_lossy().into_owned(), ticks);
    }
    cpu
}

/// Waits until everyone in `room` receives audio and video from everyone
/// else in it.
async fn all_hear_and_see_each_other(room: &mut [TestClient]) {
    common::everyone_receives_everyone(room.iter_mut().collect(), FLOWING).await;
}

/// Nobody received anything from outside its room (`ever`: everyone who
/// was in it), and no media arrived on a track signalled as someone
/// else's.
fn nothing_from_other_rooms(room: &[TestClient], ever: &BTreeSet<String>) {
    for c in room {
        for (publisher, _) in c.received_all().keys() {
            assert!(
                ever.contains(publisher),
                "{} received media of {publisher}, who was never in its room",
                c.nickname
            );
        }
        c.assert_no_problems();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rooms_are_spread_over_media_threads_and_keep_to_themselves() {
    within(Duration::from_secs(150), async {
        let mut config = common::server::test_config();
        config.media.threads = 2;
        config.rooms.p2p = false;
        let server = common::server::start(config).await;
        let addr = server.http_addr;
        assert_eq!(sessions_per_thread(addr).await, vec![0, 0]);

        let mut rooms: Vec<Vec<TestClient>> = Vec::new();
        let mut ever: Vec<BTreeSet<String>> = Vec::new();
        for (room, names) in ROOMS {
            let mut clients = Vec::new();
            for name in names {
                clients.push(TestClient::join(addr, room, name).await);
            }
            ever.push(clients.iter().map(|c| c.id.clone()).collect());
            rooms.push(clients);
        }
        for room in &mut rooms {
            all_hear_and_see_each_other(room).await;
        }

        // Both threads carry rooms (nine sessions in all), and both work.
        let spread = sessions_per_thread(addr).await;
        eprintln!("media sessions per thread: {spread:?}");
        assert_eq!(spread.len(), 2);
        assert_eq!(spread.iter().sum::<u64>(), 9);
        assert!(spread.iter().all(|&n| n > 0), "{spread:?}");
        let before = media_thread_cpu();
        tokio::time::sleep(Duration::from_secs(3)).await;
        let after = media_thread_cpu();
        assert_eq!(after.len(), 2, "two media threads: {after:?}");
        for (tid, ticks) in &after {
            let spent = ticks - before.get(tid).copied().unwrap_or(0);
            eprintln!("media thread {tid}: {spent} ticks in 3 s");
            assert!(spent > 0, "media thread {tid} did no work: {after:?}");
        }
        eprintln!(
            "datagrams handed over between the threads: {}",
            common::http::metric(addr, "media_datagrams_handed_over_total").await
        );
        for (room, ever) in rooms.iter().zip(&ever) {
            nothing_from_other_rooms(room, ever);
        }

        // Bernd leaves the first room and comes back (a new participant in
        // a room that never emptied: its thread).
        let bernd = rooms[0].remove(1);
        bernd.leave().await;
        rooms[0].push(TestClient::join(addr, ROOMS[0].0, "Bernd").await);
        ever[0].insert(rooms[0][2].id.clone());
        // The second room empties and fills again: placed anew.
        for c in rooms[1].drain(..) {
            c.leave().await;
        }
        for name in ROOMS[1].1 {
            rooms[1].push(TestClient::join(addr, ROOMS[1].0, name).await);
        }
        ever[1].extend(rooms[1].iter().map(|c| c.id.clone()));
        for room in &mut rooms[..2] {
            all_hear_and_see_each_other(room).await;
        }
        // The rooms that stayed kept flowing all along.
        for room in &mut rooms[2..] {
            let marks: Vec<_> = room
                .iter()
                .map(|c| c.received_all().values().sum::<u64>())
                .collect();
            tokio::time::sleep(Duration::from_millis(500)).await;
            for (c, mark) in room.iter().zip(marks) {
                assert!(c.received_all().values().sum::<u64>() > mark);
            }
        }
        let spread = sessions_per_thread(addr).await;
        eprintln!("media sessions per thread after leaving and coming back: {spread:?}");
        assert_eq!(spread.iter().sum::<u64>(), 9, "{spread:?}");
        assert!(spread.iter().all(|&n| n > 0), "{spread:?}");
        for (room, ever) in rooms.iter().zip(&ever) {
            nothing_from_other_rooms(room, ever);
        }

        for room in rooms {
            for c in room {
                c.leave().await;
            }
        }
        let mut spread = sessions_per_thread(addr).await;
        for _ in 0..50 {
            if spread == [0, 0] {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
            spread = sessions_per_thread(addr).await;
        }
        assert_eq!(spread, vec![0, 0], "everyone left");
    })
    .await;
}
