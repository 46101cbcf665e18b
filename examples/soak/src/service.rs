//! What the soak calls: both body forms, as methods of a cheap `Clone` service and as free
//! functions, a nested chain that crosses between them, and one limited method.
//!
//! Every body ends in [`settle`], which turns the call's [`Plan`] into its outcome: a value
//! the caller can predict, an `Err` the caller can compare, or a panic whose payload names
//! the call. So the caller checks each answer exactly, whichever path it took.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use smartasync::smartasync;

/// How many bodies of [`Service::metered`] may run at once.
pub const METERED_LIMIT: usize = 2;

/// The deepest nested chain a plan asks for (each level crosses sync ↔ async once).
pub const MAX_DEPTH: u32 = 4;

/// What one call must do, derived from its id alone.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Plan {
    /// The call's number in this run.
    pub id: u64,
    /// Which function the caller calls (the caller picks the entry).
    pub call: Call,
    /// How the body ends.
    pub outcome: Outcome,
    /// Levels of sync ↔ async crossings, for the chain functions.
    pub depth: u32,
    /// Whether the body waits a little (a timer, a short sleep) instead of finishing at once.
    pub pause: bool,
}

/// How a body ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// `Ok(expected value)`.
    Value,
    /// `Err(Refused { .. })`, which must reach the caller unchanged.
    Refuse,
    /// `std::panic::panic_any(SoakPanic { .. })`, which must reach the caller with its payload.
    Panic,
}

/// The functions a plan can name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Call {
    /// [`Service::compute`], a `fn` body.
    Compute,
    /// [`Service::fetch`], an `async fn` body.
    Fetch,
    /// [`checksum`], a free `fn`.
    Checksum,
    /// [`lookup`], a free `async fn`.
    Lookup,
    /// [`Service::descend`], a chain that starts with a `fn` body.
    Descend,
    /// [`Service::ascend`], a chain that starts with an `async fn` body.
    Ascend,
    /// [`Service::metered`], a `fn` body under `limit = 2`.
    Metered,
}

impl Call {
    /// Every function, in the order plans pick them.
    pub const ALL: [Self; 7] = [
        Self::Compute,
        Self::Fetch,
        Self::Checksum,
        Self::Lookup,
        Self::Descend,
        Self::Ascend,
        Self::Metered,
    ];

    /// Whether the async entry is that of a `fn` body, which needs no Tokio context from
    /// its caller (it offloads the body to a blocking pool).
    pub fn offloads(self) -> bool {
        matches!(
            self,
            Self::Compute | Self::Checksum | Self::Descend | Self::Metered
        )
    }
}

impl Plan {
    /// The plan of call `id`: about 5% of bodies panic and 10% return `Err`.
    pub fn of(id: u64) -> Self {
        let h = mix(id);
        let outcome = match h % 100 {
            0..5 => Outcome::Panic,
            5..15 => Outcome::Refuse,
            _ => Outcome::Value,
        };
        Self {
            id,
            call: Call::ALL[((h >> 8) % Call::ALL.len() as u64) as usize],
            outcome,
            depth: ((h >> 16) % u64::from(MAX_DEPTH + 1)) as u32,
            pause: (h >> 24).is_multiple_of(16),
        }
    }

    /// Which route a caller takes for this plan (sync call, awaited, spawned, ...).
    pub fn route(&self, routes: u64) -> u64 {
        (mix(self.id) >> 32) % routes
    }

    /// The value a body returns for this plan before any chain level adds to it.
    pub fn value(&self) -> u64 {
        self.id.wrapping_mul(0x9E37_79B9_7F4A_7C15)
    }

    /// The `Ok` value the call must return: [`Plan::value`], plus 1 per level of a chain.
    pub fn expected(&self) -> u64 {
        match self.call {
            Call::Descend | Call::Ascend => self.value() + u64::from(self.depth),
            _ => self.value(),
        }
    }
}

/// splitmix64's finalizer: cheap, deterministic, well spread.
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// The error a body returns on purpose.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refused {
    /// The call that refused.
    pub id: u64,
    /// A heap-allocated part, so that "unchanged" covers more than a number.
    pub reason: String,
}

impl Refused {
    /// The error that call `id` returns.
    pub fn of(id: u64) -> Self {
        Self {
            id,
            reason: format!("call {id} refused on purpose"),
        }
    }
}

/// The payload of a deliberate panic. The soak's panic hook stays quiet for this type only.
#[derive(Debug, PartialEq, Eq)]
pub struct SoakPanic {
    /// The call that panicked.
    pub id: u64,
}

/// Ends a body as its plan says.
fn settle(plan: Plan, value: u64) -> Result<u64, Refused> {
    match plan.outcome {
        Outcome::Value => Ok(value),
        Outcome::Refuse => Err(Refused::of(plan.id)),
        Outcome::Panic => std::panic::panic_any(SoakPanic { id: plan.id }),
    }
}

/// A service handle, cheap to clone as `_async` entries of `fn` bodies require.
#[derive(Clone, Default)]
pub struct Service {
    /// Bodies of [`Service::metered`] running now, and the most seen at once.
    metered: Arc<(AtomicUsize, AtomicUsize)>,
}

impl Service {
    /// A blocking body: its async entry runs it on a blocking-pool thread.
    #[smartasync]
    pub fn compute(&self, plan: Plan) -> Result<u64, Refused> {
        if plan.pause {
            std::thread::sleep(Duration::from_micros(50));
        }
        settle(plan, plan.value())
    }

    /// An async body: its blocking entry drives it on the calling thread.
    #[smartasync]
    pub async fn fetch(&self, plan: Plan) -> Result<u64, Refused> {
        if plan.pause {
            tokio::time::sleep(Duration::from_micros(100)).await;
        } else {
            tokio::task::yield_now().await;
        }
        settle(plan, plan.value())
    }

    /// The sync half of a nested chain: calls the blocking entry of [`Service::ascend`],
    /// adding 1 to its value, until `depth` reaches 0.
    #[smartasync]
    pub fn descend(&self, depth: u32, plan: Plan) -> Result<u64, Refused> {
        if depth == 0 {
            return self.compute(plan);
        }
        self.ascend(depth - 1, plan).map(|value| value + 1)
    }

    /// The async half of a nested chain: awaits the async entry of [`Service::descend`],
    /// adding 1 to its value, until `depth` reaches 0.
    #[smartasync]
    pub async fn ascend(&self, depth: u32, plan: Plan) -> Result<u64, Refused> {
        if depth == 0 {
            return self.fetch_async(plan).await;
        }
        self.descend_async(depth - 1, plan)
            .await
            .map(|value| value + 1)
    }

    /// A blocking body of which at most [`METERED_LIMIT`] run at once in the process.
    #[smartasync(limit = METERED_LIMIT)]
    pub fn metered(&self, plan: Plan) -> Result<u64, Refused> {
        let (running, peak) = &*self.metered;
        let now = running.fetch_add(1, Ordering::SeqCst) + 1;
        peak.fetch_max(now, Ordering::SeqCst);
        if plan.pause {
            std::thread::sleep(Duration::from_micros(50));
        } else {
            std::thread::yield_now();
        }
        running.fetch_sub(1, Ordering::SeqCst);
        settle(plan, plan.value())
    }

    /// The most bodies of [`Service::metered`] seen running at once.
    pub fn metered_peak(&self) -> usize {
        self.metered.1.load(Ordering::SeqCst)
    }
}

/// A blocking free function with a borrowed argument (copied by its async entry).
#[smartasync]
pub fn checksum(bytes: &[u8], plan: Plan) -> Result<u64, Refused> {
    let id = u64::from_le_bytes(bytes.try_into().unwrap_or_default());
    settle(plan, Plan::of(id).value())
}

/// An async free function with a borrowed argument.
#[smartasync]
pub async fn lookup(key: &str, plan: Plan) -> Result<u64, Refused> {
    tokio::task::yield_now().await;
    let id = key.parse().unwrap_or(u64::MAX);
    settle(plan, Plan::of(id).value())
}
