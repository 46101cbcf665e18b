//! `#[smartasync]` on an inherent `impl` block: every method paired by the rules of a
//! single function, with per-method options, functions without `self` reached through
//! `Self::`, and other items passed through.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::thread;

use smartasync::smartasync;

mod support;

#[derive(Clone, Default)]
struct Service {
    calls: Arc<AtomicU32>,
}

#[smartasync]
impl Service {
    /// An associated constant passes through.
    const STEP: u32 = 10;

    /// A constructor without `self`: its twin calls it, so the `static` inside is one.
    fn new() -> Self {
        static BUILT: AtomicU32 = AtomicU32::new(0);
        BUILT.fetch_add(1, Ordering::SeqCst);
        Service {
            calls: Arc::new(AtomicU32::new(BUILT.load(Ordering::SeqCst) * 1000)),
        }
    }

    /// An async constructor.
    async fn connect(start: u32) -> Self {
        tokio::task::yield_now().await;
        Service {
            calls: Arc::new(AtomicU32::new(start)),
        }
    }

    fn add(&self, by: u32) -> u32 {
        self.calls.fetch_add(by, Ordering::SeqCst) + by
    }

    async fn step(&self) -> u32 {
        tokio::task::yield_now().await;
        self.calls.fetch_add(Self::STEP, Ordering::SeqCst) + Self::STEP
    }

    #[smartasync(in_place)]
    fn reset(&mut self, to: &str) -> String {
        self.calls = Arc::new(AtomicU32::new(to.len() as u32));
        thread::current().name().unwrap_or("").to_owned()
    }

    /// Left alone: no `skipped_async` is generated.
    #[smartasync(skip)]
    fn skipped(&self) -> u32 {
        1
    }

    /// Paired by hand: `by_hand_async` below is its twin, and neither is touched.
    fn by_hand(&self) -> u32 {
        2
    }

    async fn by_hand_async(&self) -> u32 {
        3
    }

    fn where_ran(&self) -> String {
        thread::current().name().unwrap_or("").to_owned()
    }
}

/// `skipped_async` is only generated if `skip` is ignored; this trait gives the name a
/// meaning so that the test can tell.
trait SkippedAsync {
    fn skipped_async(&self) -> &'static str {
        "not generated"
    }
}
impl SkippedAsync for Service {}

#[test]
fn every_method_is_paired_through_both_entries() {
    let runtime = support::multi_thread("impl-mt", 2);
    let service = Service::default();
    assert_eq!(service.add(1), 1);
    assert_eq!(runtime.block_on(service.add_async(2)), 3);
    assert_eq!(service.step(), 13);
    assert_eq!(runtime.block_on(service.step_async()), 23);
    assert_eq!(runtime.block_on(service.where_ran_async()), "impl-mt");
    assert_eq!(service.where_ran(), thread::current().name().unwrap_or(""));
}

#[test]
fn functions_without_self_are_reached_through_self_and_share_their_statics() {
    let runtime = support::current_thread("impl-ct");
    let first = Service::new();
    let second = runtime.block_on(Service::new_async());
    let third = Service::new();
    // One `static BUILT` for both entries: 1, 2, 3 in call order.
    let starts: Vec<u32> = [first, second, third]
        .iter()
        .map(|service| service.calls.load(Ordering::SeqCst) / 1000)
        .collect();
    let base = starts[0];
    assert_eq!(starts, [base, base + 1, base + 2]);
    assert_eq!(Service::connect(5).add(1), 6);
    assert_eq!(runtime.block_on(Service::connect_async(7)).add(1), 8);
}

#[test]
fn in_place_runs_a_mut_self_body_on_the_awaiting_thread() {
    let runtime = support::current_thread("impl-ct");
    let mut service = Service::default();
    let ran_on = runtime.block_on(service.reset_async("four"));
    assert_eq!(ran_on, thread::current().name().unwrap_or(""));
    assert_eq!(service.add(0), 4);
    service.reset("xy");
    assert_eq!(service.add(0), 2);
}

#[test]
fn skipped_and_hand_paired_methods_are_left_alone() {
    let runtime = support::current_thread("impl-ct");
    let service = Service::default();
    assert_eq!(service.skipped(), 1);
    assert_eq!(service.skipped_async(), "not generated");
    assert_eq!(service.by_hand(), 2);
    assert_eq!(runtime.block_on(service.by_hand_async()), 3);
    assert_eq!(Service::STEP, 10);
}

/// Generic impl blocks and generic methods.
#[derive(Clone)]
struct Wrapper<T>(T);

#[smartasync]
impl<T: Clone + Send + Sync + std::fmt::Debug + 'static> Wrapper<T> {
    fn show(&self, prefix: &str) -> String {
        format!("{prefix}{:?}", self.0)
    }

    async fn pair_with<U: std::fmt::Debug>(&self, other: U) -> String {
        format!("{:?}/{other:?}", self.0)
    }
}

#[test]
fn generic_impl_blocks() {
    let runtime = support::current_thread("impl-ct");
    let wrapper = Wrapper(vec![1, 2]);
    assert_eq!(wrapper.show("v="), "v=[1, 2]");
    assert_eq!(runtime.block_on(wrapper.show_async("w=")), "w=[1, 2]");
    assert_eq!(wrapper.pair_with('x'), "[1, 2]/'x'");
    assert_eq!(runtime.block_on(wrapper.pair_with_async(3)), "[1, 2]/3");
}

/// An `impl` block is expanded in an anonymous constant of its own: its bodies still see
/// the module's items and macros, two blocks of one type coexist, and a block written by
/// `macro_rules!` with its types as `$t:ty` is paired too.
const SCALE: u32 = 3;

macro_rules! scaled {
    ($value:expr) => {
        $value * SCALE
    };
}

#[derive(Clone)]
struct Split(u32);

#[smartasync]
impl Split {
    fn scaled(&self) -> u32 {
        scaled!(self.0)
    }
}

#[smartasync]
impl Split {
    async fn plus(&self, by: u32) -> u32 {
        self.0 + by
    }
}

macro_rules! counter_impl {
    ($name:ident, $arg:ty, $out:ty) => {
        #[derive(Clone)]
        struct $name(u32);

        #[smartasync]
        impl $name {
            fn add(&self, by: $arg) -> $out {
                <$out>::from(self.0 + u32::from(by))
            }
        }
    };
}

counter_impl!(Counter, u8, u64);

#[test]
fn blocks_see_their_module_and_may_come_from_macros() {
    let runtime = support::current_thread("impl-const");
    let split = Split(2);
    assert_eq!(split.scaled(), 6);
    assert_eq!(runtime.block_on(split.scaled_async()), 6);
    assert_eq!(split.plus(1), 3);
    assert_eq!(runtime.block_on(split.plus_async(2)), 4);
    let counter = Counter(40);
    assert_eq!(counter.add(2), 42_u64);
    assert_eq!(runtime.block_on(counter.add_async(3)), 43_u64);
}

/// A trait of the user's whose by-value methods share the names of the wrappers' own, for
/// every type, in scope where the pairs are generated: the generated code still calls the
/// wrappers' methods.
mod same_method_names {
    pub trait Unwrap {
        fn lend(self) -> u8;
        fn into_inner(self) -> u8;
    }

    impl<T> Unwrap for T {
        fn lend(self) -> u8 {
            0
        }
        fn into_inner(self) -> u8 {
            0
        }
    }

    #[derive(Clone)]
    pub struct Echo(pub String);

    #[smartasync::smartasync]
    impl Echo {
        pub fn echo(&self, text: &str, times: usize) -> String {
            format!("{}{}", self.0, text.repeat(times))
        }
    }
}

#[test]
fn a_trait_with_the_wrappers_method_names_does_not_capture_their_calls() {
    use same_method_names::Unwrap as _;
    assert_eq!(().lend() + ().into_inner(), 0);
    let echo = same_method_names::Echo("> ".to_owned());
    assert_eq!(echo.echo("ab", 2), "> abab");
    let awaited = smartasync::block_on(echo.echo_async("ab", 2));
    assert_eq!(awaited, "> abab");
}

/// A type of the user's own named `str`, taken by reference: the argument is copied as what
/// the name stands for where the attribute is used.
mod own_str {
    #![allow(non_camel_case_types)]

    #[derive(Clone)]
    pub struct str(pub u8);

    #[derive(Clone)]
    pub struct Reader;

    #[smartasync::smartasync]
    impl Reader {
        pub fn read(&self, value: &str) -> u8 {
            value.0
        }
    }
}

#[test]
fn a_type_of_the_users_named_str_is_copied_as_itself() {
    let reader = own_str::Reader;
    let value = own_str::str(7);
    assert_eq!(reader.read(&value), 7);
    assert_eq!(smartasync::block_on(reader.read_async(&value)), 7);
}

/// Borrowed argument types given to `macro_rules!` as `$t:ty`, which arrive in an invisible
/// group: copied as they are when written out.
macro_rules! measurer {
    ($name:ident, $text:ty, $bytes:ty) => {
        #[derive(Clone)]
        struct $name;

        #[smartasync]
        impl $name {
            fn measure(&self, text: $text, bytes: $bytes) -> usize {
                text.len() + bytes.len()
            }
        }
    };
}

measurer!(Measurer, &str, &[u8]);

#[test]
fn borrowed_types_from_a_macros_fragments_are_copied() {
    assert_eq!(Measurer.measure("abc", &[1, 2]), 5);
    let text = String::from("abcd");
    let awaited = smartasync::block_on(Measurer.measure_async(&text, &[1]));
    assert_eq!(awaited, 5);
}
