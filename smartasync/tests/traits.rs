//! `#[smartasync]` on traits and trait impls: one interface with blocking and async
//! implementations side by side, called through `dyn` and generics from sync and async
//! code, on both runtime flavors, from plain threads and spawned tasks.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use smartasync::smartasync;

mod support;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct User {
    pub id: u64,
    pub name: String,
}

#[derive(Debug, PartialEq, Eq)]
pub enum Error {
    NotFound(u64),
    Invalid(String),
}

/// The interface: one method declared blocking, one async, one provided each way.
#[smartasync]
pub trait Users: Send + Sync {
    /// Looks a user up.
    fn get(&self, id: u64) -> Result<User, Error>;

    /// Creates a user.
    async fn create(&self, name: &str) -> Result<User, Error>;

    /// Where the body ran.
    fn thread_name(&self) -> String;

    /// Provided, blocking: counts by listing one by one.
    fn count_up_to(&self, max: u64) -> usize {
        (1..=max).filter(|id| self.get(*id).is_ok()).count()
    }

    /// Provided, async: the names of `ids`, awaiting each lookup.
    async fn names(&self, ids: &[u64]) -> Result<Vec<String>, Error> {
        let mut names = Vec::new();
        for id in ids {
            names.push(self.get_async(*id).await?.name);
        }
        Ok(names)
    }
}

/// A blocking implementation: a cheap `Clone` handle over a locked map, every method a
/// `fn` body.
#[derive(Clone, Default)]
struct Blocking {
    users: Arc<Mutex<HashMap<u64, User>>>,
}

#[smartasync]
impl Users for Blocking {
    fn get(&self, id: u64) -> Result<User, Error> {
        self.users
            .lock()
            .unwrap()
            .get(&id)
            .cloned()
            .ok_or(Error::NotFound(id))
    }

    fn create(&self, name: &str) -> Result<User, Error> {
        if name.is_empty() {
            return Err(Error::Invalid("empty name".into()));
        }
        let mut users = self.users.lock().unwrap();
        let id = users.len() as u64 + 1;
        let user = User {
            id,
            name: name.to_owned(),
        };
        users.insert(id, user.clone());
        Ok(user)
    }

    fn thread_name(&self) -> String {
        thread::current().name().unwrap_or("").to_owned()
    }
}

/// An async implementation: every method an `async fn` body, with a timer in each, and
/// not `Clone`.
#[derive(Default)]
struct Async {
    users: tokio::sync::Mutex<Vec<User>>,
}

#[smartasync]
impl Users for Async {
    async fn get(&self, id: u64) -> Result<User, Error> {
        tokio::time::sleep(Duration::from_millis(1)).await;
        let users = self.users.lock().await;
        let user = users.iter().find(|user| user.id == id).cloned();
        user.ok_or(Error::NotFound(id))
    }

    async fn create(&self, name: &str) -> Result<User, Error> {
        tokio::time::sleep(Duration::from_millis(1)).await;
        if name.is_empty() {
            return Err(Error::Invalid("empty name".into()));
        }
        let mut users = self.users.lock().await;
        let user = User {
            id: users.len() as u64 + 1,
            name: name.to_owned(),
        };
        users.push(user.clone());
        Ok(user)
    }

    async fn thread_name(&self) -> String {
        tokio::task::yield_now().await;
        thread::current().name().unwrap_or("").to_owned()
    }

    // Overrides the provided blocking body with an async one: both entries follow.
    async fn count_up_to(&self, max: u64) -> usize {
        let users = self.users.lock().await;
        users.iter().filter(|user| user.id <= max).count()
    }
}

/// Mixed: one body of each kind in one impl, `in_place` on one.
#[derive(Clone, Default)]
struct Mixed {
    inner: Blocking,
}

#[smartasync]
impl Users for Mixed {
    #[smartasync(in_place)]
    fn get(&self, id: u64) -> Result<User, Error> {
        self.inner.get(id)
    }

    async fn create(&self, name: &str) -> Result<User, Error> {
        self.inner.create_async(name).await
    }

    fn thread_name(&self) -> String {
        thread::current().name().unwrap_or("").to_owned()
    }
}

fn backends() -> Vec<(&'static str, Arc<dyn Users>)> {
    vec![
        ("blocking", Arc::new(Blocking::default())),
        ("async", Arc::new(Async::default())),
        ("mixed", Arc::new(Mixed::default())),
    ]
}

fn exercise_sync(users: &dyn Users) {
    assert_eq!(users.create("ada").unwrap().id, 1);
    assert_eq!(users.create("grace").unwrap().name, "grace");
    assert_eq!(users.get(1).unwrap().name, "ada");
    assert_eq!(users.get(9), Err(Error::NotFound(9)));
    assert_eq!(users.create(""), Err(Error::Invalid("empty name".into())));
    assert_eq!(users.count_up_to(5), 2);
    assert_eq!(users.names(&[2, 1]).unwrap(), ["grace", "ada"]);
    assert_eq!(users.names(&[1, 7]), Err(Error::NotFound(7)));
}

async fn exercise_async(users: &dyn Users) {
    assert_eq!(users.create_async("ada").await.unwrap().id, 1);
    assert_eq!(users.create_async("grace").await.unwrap().name, "grace");
    assert_eq!(users.get_async(1).await.unwrap().name, "ada");
    assert_eq!(users.get_async(9).await, Err(Error::NotFound(9)));
    assert_eq!(
        users.create_async("").await,
        Err(Error::Invalid("empty name".into()))
    );
    assert_eq!(users.count_up_to_async(5).await, 2);
    assert_eq!(users.names_async(&[2, 1]).await.unwrap(), ["grace", "ada"]);
    assert_eq!(users.names_async(&[1, 7]).await, Err(Error::NotFound(7)));
}

#[test]
fn every_implementation_through_dyn_from_a_plain_thread() {
    for (name, users) in backends() {
        eprintln!("{name}");
        exercise_sync(&*users);
    }
}

#[test]
fn every_implementation_through_dyn_from_both_runtime_flavors() {
    for runtime in [
        support::current_thread("traits-ct"),
        support::multi_thread("traits-mt", 2),
    ] {
        for (name, users) in backends() {
            eprintln!("{name}");
            runtime.block_on(exercise_async(&*users));
        }
        // And the blocking entries, called inside the runtime: no panic.
        for (_, users) in backends() {
            runtime.block_on(async { exercise_sync(&*users) });
        }
    }
}

#[test]
fn spawned_tasks_hold_arc_dyn_and_await_every_entry() {
    let runtime = support::multi_thread("traits-mt", 2);
    for (_, users) in backends() {
        let tasks: Vec<_> = (0..8)
            .map(|index| {
                let users = Arc::clone(&users);
                runtime.spawn(async move {
                    users.create_async(&format!("user{index}")).await.unwrap();
                    users.thread_name_async().await
                })
            })
            .collect();
        runtime.block_on(async {
            for task in tasks {
                task.await.unwrap();
            }
        });
        assert_eq!(users.count_up_to(100), 8);
    }
}

/// Generic callers see no difference between the implementations.
async fn first_name<U: Users + ?Sized>(users: &U) -> String {
    users.get_async(1).await.unwrap().name
}

fn first_name_blocking<U: Users>(users: U) -> String {
    users.get(1).unwrap().name
}

#[test]
fn generic_callers() {
    let blocking = Blocking::default();
    blocking.create("ada").unwrap();
    let runtime = support::current_thread("traits-ct");
    assert_eq!(runtime.block_on(first_name(&blocking)), "ada");
    let boxed: Box<dyn Users> = Box::new(Async::default());
    boxed.create("bob").unwrap();
    assert_eq!(runtime.block_on(first_name(&*boxed)), "bob");
    assert_eq!(first_name_blocking(blocking), "ada");
}

#[test]
fn a_blocking_body_awaited_runs_on_the_blocking_pool_and_an_async_body_called_blocking_on_the_caller(
) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("traits-rt")
        .enable_all()
        .build()
        .unwrap();
    let blocking: Arc<dyn Users> = Arc::new(Blocking::default());
    let on = runtime.block_on(blocking.thread_name_async());
    assert_eq!(
        on, "traits-rt",
        "blocking-pool threads take the runtime's name"
    );

    // The async implementation called blocking from 8 plain threads runs on each caller.
    let asynchronous: Arc<dyn Users> = Arc::new(Async::default());
    let names: Vec<String> = (0..8)
        .map(|index| {
            let users = Arc::clone(&asynchronous);
            thread::Builder::new()
                .name(format!("caller-{index}"))
                .spawn(move || {
                    users.create(&format!("u{index}")).unwrap();
                    users.thread_name()
                })
                .unwrap()
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|handle| handle.join().unwrap())
        .collect();
    let expected: Vec<String> = (0..8).map(|index| format!("caller-{index}")).collect();
    assert_eq!(names, expected);
    assert_eq!(asynchronous.count_up_to(100), 8);
}

/// A slow blocking implementation: awaited, three calls overlap and the event loop keeps
/// ticking meanwhile.
#[derive(Clone)]
struct Slow {
    running: Arc<AtomicUsize>,
    peak: Arc<AtomicUsize>,
}

#[smartasync]
pub trait Work: Send + Sync {
    fn work(&self, millis: u64) -> u64;
}

#[smartasync]
impl Work for Slow {
    fn work(&self, millis: u64) -> u64 {
        let now = self.running.fetch_add(1, Ordering::SeqCst) + 1;
        self.peak.fetch_max(now, Ordering::SeqCst);
        thread::sleep(Duration::from_millis(millis));
        self.running.fetch_sub(1, Ordering::SeqCst);
        millis
    }
}

#[test]
fn awaited_blocking_bodies_overlap_and_leave_the_event_loop_free() {
    for runtime in [
        support::current_thread("traits-ct"),
        support::multi_thread("traits-mt", 2),
    ] {
        let slow = Slow {
            running: Arc::default(),
            peak: Arc::default(),
        };
        let work: Arc<dyn Work> = Arc::new(slow.clone());
        let ticks = Arc::new(AtomicUsize::new(0));
        let started = Instant::now();
        runtime.block_on(async {
            let ticker = {
                let ticks = Arc::clone(&ticks);
                tokio::spawn(async move {
                    loop {
                        tokio::time::sleep(Duration::from_millis(10)).await;
                        ticks.fetch_add(1, Ordering::SeqCst);
                    }
                })
            };
            let (a, b, c) = tokio::join!(
                work.work_async(300),
                work.work_async(300),
                work.work_async(300)
            );
            ticker.abort();
            assert_eq!(a + b + c, 900);
        });
        let elapsed = started.elapsed();
        assert_eq!(
            slow.peak.load(Ordering::SeqCst),
            3,
            "the three bodies overlapped"
        );
        assert!(elapsed < Duration::from_millis(850), "took {elapsed:?}");
        assert!(
            ticks.load(Ordering::SeqCst) >= 5,
            "the ticker ticked {} times",
            ticks.load(Ordering::SeqCst)
        );
    }
}

/// Panics keep their payload through every entry of a trait method.
#[smartasync]
pub trait Fails: Send + Sync {
    fn fail(&self, message: &str) -> u8;
    async fn fail_later(&self, message: &str) -> u8;
}

#[derive(Clone)]
struct Panicky;

#[smartasync]
impl Fails for Panicky {
    fn fail(&self, message: &str) -> u8 {
        std::panic::panic_any(message.to_owned())
    }

    async fn fail_later(&self, message: &str) -> u8 {
        tokio::task::yield_now().await;
        std::panic::panic_any(message.to_owned())
    }
}

fn payload(result: thread::Result<u8>) -> String {
    *result
        .expect_err("the body panicked")
        .downcast::<String>()
        .expect("the payload is the body's String")
}

#[test]
fn panics_keep_their_payload_through_every_trait_entry() {
    let fails: Arc<dyn Fails> = Arc::new(Panicky);
    let runtime = support::multi_thread("traits-mt", 2);
    use std::panic::{catch_unwind, AssertUnwindSafe};
    assert_eq!(
        payload(catch_unwind(AssertUnwindSafe(|| fails.fail("a")))),
        "a"
    );
    assert_eq!(
        payload(catch_unwind(AssertUnwindSafe(|| fails.fail_later("b")))),
        "b"
    );
    let awaited = |future: smartasync::BoxFuture<'_, u8>| {
        catch_unwind(AssertUnwindSafe(|| runtime.block_on(future)))
    };
    assert_eq!(payload(awaited(fails.fail_async("c"))), "c");
    assert_eq!(payload(awaited(fails.fail_later_async("d"))), "d");
}

/// `&mut self` methods: an `async fn` implementation and an `in_place` one.
#[smartasync]
pub trait Counter {
    fn bump(&mut self, by: u32) -> u32;
}

struct AsyncCounter(u32);

#[smartasync]
impl Counter for AsyncCounter {
    async fn bump(&mut self, by: u32) -> u32 {
        tokio::task::yield_now().await;
        self.0 += by;
        self.0
    }
}

struct InPlaceCounter(u32);

#[smartasync]
impl Counter for InPlaceCounter {
    #[smartasync(in_place)]
    fn bump(&mut self, by: u32) -> u32 {
        self.0 += by;
        self.0
    }
}

#[test]
fn mut_self_methods_through_async_and_in_place_implementations() {
    let runtime = support::multi_thread("traits-mt", 2);
    let mut counters: Vec<Box<dyn Counter + Send>> =
        vec![Box::new(AsyncCounter(0)), Box::new(InPlaceCounter(0))];
    for counter in &mut counters {
        assert_eq!(counter.bump(2), 2);
        assert_eq!(runtime.block_on(counter.bump_async(3)), 5);
        assert_eq!(counter.bump(1), 6);
    }
}

/// Generic traits, generic methods, associated types and consts, supertraits and `where`
/// clauses pass through.
#[smartasync]
pub trait Repository<K>: Send + Sync
where
    K: Clone + Send + Sync + 'static,
{
    type Item: Clone + Send + 'static;
    const NAME: &'static str;

    fn load(&self, key: K) -> Option<Self::Item>;

    async fn describe<D: std::fmt::Display + Send>(&self, prefix: D) -> String;
}

#[derive(Clone)]
struct Names(Arc<HashMap<u32, String>>);

#[smartasync]
impl Repository<u32> for Names {
    type Item = String;
    const NAME: &'static str = "names";

    fn load(&self, key: u32) -> Option<String> {
        self.0.get(&key).cloned()
    }

    async fn describe<D: std::fmt::Display + Send>(&self, prefix: D) -> String {
        format!("{prefix}{}:{}", Self::NAME, self.0.len())
    }
}

#[test]
fn generic_traits_with_associated_items() {
    let names = Names(Arc::new(HashMap::from([(1, "ada".to_owned())])));
    let runtime = support::current_thread("traits-ct");
    assert_eq!(names.load(1).as_deref(), Some("ada"));
    assert_eq!(
        runtime.block_on(names.load_async(1)).as_deref(),
        Some("ada")
    );
    assert_eq!(runtime.block_on(names.load_async(2)), None);
    assert_eq!(names.describe("> "), "> names:1");
    assert_eq!(runtime.block_on(names.describe_async(7)), "7names:1");
    assert_eq!(<Names as Repository<u32>>::NAME, "names");
}

/// `?Send`: async bodies that hold an `Rc` across `.await`.
#[smartasync(?Send)]
pub trait Local {
    async fn shared_len(&self) -> usize;
    fn plain(&self) -> usize;
}

struct RcHolder(std::rc::Rc<Vec<u8>>);

#[smartasync(?Send)]
impl Local for RcHolder {
    async fn shared_len(&self) -> usize {
        let held = std::rc::Rc::clone(&self.0);
        tokio::task::yield_now().await;
        held.len()
    }

    #[smartasync(in_place)]
    fn plain(&self) -> usize {
        self.0.len() * 2
    }
}

#[test]
fn not_send_traits() {
    let holder = RcHolder(std::rc::Rc::new(vec![1, 2, 3]));
    let local: &dyn Local = &holder;
    assert_eq!(local.shared_len(), 3);
    assert_eq!(local.plain(), 6);
    let runtime = support::current_thread("traits-ct");
    assert_eq!(runtime.block_on(local.shared_len_async()), 3);
    assert_eq!(runtime.block_on(local.plain_async()), 6);
}
