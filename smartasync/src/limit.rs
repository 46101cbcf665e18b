//! Back-pressure for `#[smartasync(limit = N)]`: at most N bodies of one written function
//! run at once in the process, through either entry, first come first served.
//!
//! Each entry of a limited function holds a [`LimitSite`] in a `static`; sites of the same
//! function (its blocking and async entries, every generic instantiation) find one shared
//! `Limit` by a key made of where the attribute was written and the function's name. The
//! async entry takes its permit before the body takes a thread, and marks the thread that
//! runs the body as holding it, so that the written body (which is also the blocking entry)
//! does not take a second one.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use tokio::sync::{Semaphore, SemaphorePermit};

use std::future::Future;

use tokio::runtime::{Handle, RuntimeFlavor};
use tokio::task::JoinHandle;

use crate::block_on::block_on;
use crate::cancel::{self, CancelOnDrop, Token};
use crate::runtime;
use crate::unblock::{in_current_span, resume, run_on};

/// The permits of one limited function, for the life of the process.
pub struct Limit {
    semaphore: Semaphore,
}

/// Where an entry of a limited function finds its limit.
pub struct LimitSite {
    key: &'static str,
    permits: usize,
    limit: OnceLock<&'static Limit>,
}

impl LimitSite {
    /// A site of the function named by `key`, which lets `permits` bodies run at once.
    ///
    /// # Panics
    ///
    /// When `permits` is 0; in the `static` that generated code declares, that is a
    /// compile-time error.
    pub const fn new(key: &'static str, permits: usize) -> Self {
        assert!(
            permits > 0,
            "`#[smartasync(limit = N)]` needs N of at least 1"
        );
        Self {
            key,
            permits,
            limit: OnceLock::new(),
        }
    }

    /// The function's limit, shared with every other site of the same key and `owner`:
    /// the type the function is a method of (`type_name::<Self>()`, whose generic
    /// arguments are left out so that every instantiation shares one limit), or the
    /// module of a function without `self`. The owner tells apart functions that one
    /// `macro_rules!` call writes at one place for several types.
    pub fn limit(&'static self, owner: &str) -> &'static Limit {
        self.limit.get_or_init(|| {
            static LIMITS: OnceLock<Mutex<HashMap<String, &'static Limit>>> = OnceLock::new();
            let owner = owner.split('<').next().unwrap_or(owner);
            let mut limits = LIMITS
                .get_or_init(Mutex::default)
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            limits
                .entry(format!("{owner}@{}", self.key))
                .or_insert_with(|| {
                    Box::leak(Box::new(Limit {
                        semaphore: Semaphore::new(self.permits),
                    }))
                })
        })
    }

    /// For the written body (the blocking entry): a permit, waited for here and held by
    /// this thread while the body runs, unless this thread holds one of this limit already
    /// (handed over by the async entry, or taken by an outer call of the same function).
    pub fn enter(&'static self, owner: &str) -> Entered {
        let limit = self.limit(owner);
        if limit.is_held_here() {
            return Entered(None);
        }
        let permit = match limit.semaphore.try_acquire() {
            Ok(permit) => permit,
            Err(_) => block_on(limit.semaphore.acquire()).expect("the semaphore is never closed"),
        };
        Entered(Some(
            Permit {
                limit,
                _permit: permit,
            }
            .hold(),
        ))
    }

    /// For the async entry: a permit, awaited without holding a thread. Dropping the future
    /// gives up its place in the queue.
    pub async fn acquire(&'static self, owner: &str) -> Permit {
        let limit = self.limit(owner);
        let permit = limit
            .semaphore
            .acquire()
            .await
            .expect("the semaphore is never closed");
        Permit {
            limit,
            _permit: permit,
        }
    }
}

/// One of a limit's permits, released when dropped.
pub struct Permit {
    limit: &'static Limit,
    /// Kept only to be released when the permit is dropped.
    _permit: SemaphorePermit<'static>,
}

/// What [`LimitSite::enter`] took: a permit held by this thread, or nothing where the
/// thread held one already.
pub struct Entered(#[allow(dead_code)] Option<Held>);

impl Permit {
    /// Marks this thread as holding the permit while the body runs here, so that the
    /// written body takes no second one; released, with the mark, when dropped.
    pub fn hold(self) -> Held {
        HELD.with(|held| held.borrow_mut().push(self.limit.address()));
        Held { permit: self }
    }
}

/// A permit held by the thread that runs the body.
pub struct Held {
    permit: Permit,
}

impl Drop for Held {
    fn drop(&mut self) {
        let address = self.permit.limit.address();
        HELD.with(|held| {
            let mut held = held.borrow_mut();
            if let Some(index) = held.iter().rposition(|&other| other == address) {
                held.remove(index);
            }
        });
    }
}

impl Limit {
    fn address(&'static self) -> usize {
        std::ptr::from_ref(self) as usize
    }

    fn is_held_here(&'static self) -> bool {
        let address = self.address();
        HELD.with(|held| held.borrow().contains(&address))
    }
}

thread_local! {
    /// The limits whose permit this thread holds for the body it is running.
    static HELD: RefCell<Vec<usize>> = const { RefCell::new(Vec::new()) };
}

/// The async entry of a limited `fn` body: waits for a permit without holding a thread,
/// then runs the body on the awaiting runtime's blocking pool with the permit, which its
/// thread holds for nested blocking calls.
///
/// On a current-thread runtime the wait happens in a task of the process-wide runtime,
/// which then hands the body to the awaiting runtime's pool. Tokio's semaphore gives a
/// freed permit to the first waiter in line: were that a task of a current-thread runtime
/// whose thread is blocked in a sync call of the same function (as in a `#[tokio::test]`
/// that mixes both entries), the permit would wait for a task that cannot run, and the
/// sync caller for the permit. Dropping the future before the body starts gives up its
/// place; the body then never runs.
pub fn offload<F, R>(
    site: &'static LimitSite,
    owner: &'static str,
    body: F,
) -> impl Future<Output = R> + Send + 'static
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    let token = Token::for_call();
    let body = cancel::with_token(std::sync::Arc::clone(&token), in_current_span(body));
    let mut call = CancelOnDrop::new(token);
    async move {
        let current = Handle::try_current().ok();
        let output = match current {
            Some(handle) if handle.runtime_flavor() == RuntimeFlavor::CurrentThread => {
                let task = runtime::handle().spawn(async move {
                    let permit = site.acquire(owner).await;
                    run_on(&handle, move || {
                        let _held = permit.hold();
                        body()
                    })
                    .await
                });
                let mut task = AbortOnDrop(task);
                match (&mut task.0).await {
                    Ok(output) => output,
                    Err(error) => resume(error),
                }
            }
            current => {
                let permit = site.acquire(owner).await;
                let handle = current.unwrap_or_else(|| runtime::handle().clone());
                run_on(&handle, move || {
                    let _held = permit.hold();
                    body()
                })
                .await
            }
        };
        call.disarm();
        output.expect("a call is abandoned only when its future is dropped")
    }
}

/// A task aborted when its awaiting future is dropped: waiting for a permit, it leaves the
/// queue; running a body on the blocking pool, the body goes on to its end.
struct AbortOnDrop<T>(JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}
