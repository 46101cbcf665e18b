//! `GET /users/export` of a million users keeps the server's memory flat, and sends the
//! first rows while the rest are still unread. The API runs in this process, so its memory
//! is this process's resident set; this binary has this one test, so nothing else runs
//! beside it.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use reqwest::{Client, StatusCode};
use smartasync::smartasync;
use smartasync_example_users::{NewUser, User, UserError, UserStore, Users};
use support::{TempDb, fill, get_json, serve};

const USERS: u64 = 1_000_000;

/// Growth of the resident set allowed while the export runs. A `Vec` of a million users
/// alone would take more than 100 MiB (three heap allocations each); the NDJSON body 60 MiB.
const GROWTH_LIMIT_KIB: u64 = 32 * 1024;

/// The pooled store, counting the rows its exports have read: the server's progress, as
/// seen from the test.
#[derive(Clone)]
struct Counted {
    store: UserStore,
    read: Arc<AtomicU64>,
}

#[smartasync]
impl Users for Counted {
    fn list(&self, after: i64, limit: u32) -> Result<Vec<User>, UserError> {
        self.store.list(after, limit)
    }

    fn get(&self, id: i64) -> Result<User, UserError> {
        self.store.get(id)
    }

    fn create(&self, new: &NewUser) -> Result<User, UserError> {
        self.store.create(new)
    }

    fn import(&self, users: Vec<NewUser>) -> Result<Vec<User>, UserError> {
        self.store.import(users)
    }

    fn update(&self, id: i64, new: &NewUser) -> Result<User, UserError> {
        self.store.update(id, new)
    }

    fn delete(&self, id: i64) -> Result<(), UserError> {
        self.store.delete(id)
    }

    fn export(&self) -> Result<impl Iterator<Item = Result<User, UserError>>, UserError> {
        let read = &self.read;
        Ok(self.store.export()?.inspect(move |_| {
            read.fetch_add(1, Ordering::Relaxed);
        }))
    }
}

/// This process's resident set, in KiB (`VmRSS` of `/proc/self/status`).
fn resident_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("a VmRSS line")
}

/// The count once it has not moved for 300 ms (at most 20 s): where the server's export
/// stops while the client reads nothing.
async fn settled(count: &AtomicU64) -> u64 {
    let mut last = count.load(Ordering::Relaxed);
    let mut still = 0;
    for _ in 0..400 {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let now = count.load(Ordering::Relaxed);
        if now == last {
            still += 1;
            if still == 6 {
                return now;
            }
        } else {
            (last, still) = (now, 0);
        }
    }
    panic!("the export kept reading for 20 s with no client reading: {last} rows");
}

/// The id of an NDJSON line of a user, `{"id":<id>,...}`.
fn id_of(line: &[u8]) -> u64 {
    let digits = line
        .strip_prefix(br#"{"id":"#)
        .and_then(|rest| rest.split(|&byte| byte == b',').next())
        .unwrap_or_else(|| panic!("not a user line: {}", String::from_utf8_lossy(line)));
    std::str::from_utf8(digits).unwrap().parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_million_users_are_exported_in_flat_memory_as_they_are_read() {
    let db = TempDb::new("million");
    let started = Instant::now();
    let path = db.path().to_owned();
    tokio::task::spawn_blocking(move || fill(&path, USERS))
        .await
        .unwrap();
    let filled = started.elapsed();

    let read = Arc::new(AtomicU64::new(0));
    let store = UserStore::open_async(db.path()).await.unwrap();
    let base = serve(Arc::new(Counted {
        store,
        read: Arc::clone(&read),
    }))
    .await;
    // Longer than the support's client would wait for a whole body: only between reads.
    let http = Client::builder()
        .no_proxy()
        .read_timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    // One request first, so that what serving any request allocates is in the idle figure.
    let first: User = get_json(&http, &format!("{base}/users/1")).await;
    let idle = resident_kib();

    let exporting = Instant::now();
    let mut response = http
        .get(format!("{base}/users/export"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let mut pending = Vec::new();
    let mut lines = 0;
    let mut peak = idle;
    let mut chunks = 0_u64;
    let mut checkpoints = [USERS / 4, USERS / 2, 3 * USERS / 4].into_iter().peekable();
    while let Some(chunk) = response.chunk().await.unwrap() {
        pending.extend_from_slice(&chunk);
        let mut start = 0;
        while let Some(end) = pending[start..].iter().position(|&byte| byte == b'\n') {
            let line = &pending[start..start + end];
            start += end + 1;
            lines += 1;
            assert_eq!(id_of(line), lines, "out of order");
            if lines == 1 {
                assert_eq!(serde_json::from_slice::<User>(line).unwrap(), first);
                // The first row is here, and the server has not read the last: the client
                // reads nothing more for a while, and the server's export stops short.
                assert!(read.load(Ordering::Relaxed) < USERS);
                let stalled = settled(&read).await;
                assert!(
                    stalled < USERS,
                    "the server read every row ahead of the client"
                );
                peak = peak.max(resident_kib());
                eprintln!("export: first line read; the server stopped after {stalled} rows");
            }
            if checkpoints.next_if_eq(&lines).is_some() {
                // A slow client, with the pipeline full.
                settled(&read).await;
                peak = peak.max(resident_kib());
            }
        }
        pending.drain(..start);
        chunks += 1;
        if chunks.is_multiple_of(64) {
            peak = peak.max(resident_kib());
        }
    }
    let exported = exporting.elapsed();
    assert!(pending.is_empty(), "a last line without its newline");
    assert_eq!(lines, USERS);
    assert_eq!(read.load(Ordering::Relaxed), USERS);

    let growth = peak.saturating_sub(idle);
    eprintln!(
        "export: {USERS} users; filled in {filled:.2?}, exported in {exported:.2?} ({chunks} \
         chunks); resident {idle} KiB idle, {peak} KiB at peak, growth {growth} KiB"
    );
    assert!(
        growth < GROWTH_LIMIT_KIB,
        "the server's memory grew by {growth} KiB during the export"
    );
}
