//! Generated code names everything by absolute path: a user who shadows the prelude and
//! `core`/`std` at the crate root still gets a working pair.
#![allow(dead_code, non_camel_case_types, clippy::disallowed_names)]

mod core {}
mod std {}

struct Box;
struct Pin;
struct Future;
struct Arc;
struct Option;
struct String;
struct Vec;
struct Send;
struct Sync;
struct Clone;
struct Borrow;
struct ToOwned;
type Result = ();
mod smartasync {}

#[derive(::core::clone::Clone)]
struct Service {
    base: u32,
}

impl Service {
    #[::smartasync::smartasync]
    fn shared(&self, text: &str, extra: u32) -> ::std::string::String {
        ::std::format!("{text}{}", self.base + extra)
    }

    #[::smartasync::smartasync]
    async fn fetch(&self, text: &str) -> ::std::string::String {
        ::std::format!("{text}{}", self.base)
    }

    #[::smartasync::smartasync]
    fn consume(self: ::std::sync::Arc<Self>) -> u32 {
        self.base
    }

    #[::smartasync::smartasync]
    fn build(text: &str) -> ::core::result::Result<Self, ::std::num::ParseIntError> {
        ::core::result::Result::Ok(Self {
            base: text.parse()?,
        })
    }

    #[::smartasync::smartasync(in_place)]
    fn bump(&mut self) -> u32 {
        self.base += 1;
        self.base
    }
}

#[::smartasync::smartasync]
async fn free(values: &[u32]) -> u32 {
    values.iter().sum()
}

#[test]
fn pair_works_with_shadowed_names() {
    let mut service = Service { base: 1 };
    ::core::assert_eq!(service.shared("a", 1), "a2");
    ::core::assert_eq!(service.fetch("b"), "b1");
    ::core::assert_eq!(
        Service::build("7").map(|s| s.base),
        ::core::result::Result::Ok(7)
    );
    ::core::assert_eq!(free(&[1, 2]), 3);
    let runtime = ::tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        ::core::assert_eq!(service.shared_async("a", 1).await, "a2");
        ::core::assert_eq!(service.fetch_async("b").await, "b1");
        ::core::assert_eq!(
            ::std::sync::Arc::new(service.clone()).consume_async().await,
            1
        );
        ::core::assert_eq!(
            Service::build_async("8").await.map(|s| s.base),
            ::core::result::Result::Ok(8)
        );
        ::core::assert_eq!(service.bump_async().await, 2);
        ::core::assert_eq!(free_async(&[3]).await, 3);
    });
}

static LANE: ::smartasync::Lane = ::smartasync::Lane::new("hygiene-lane");

#[::smartasync::smartasync]
trait Store: ::core::marker::Send + ::core::marker::Sync {
    fn get(&self, key: &str) -> u32;
    async fn put(&self, key: &str, value: u32) -> ::core::result::Result<u32, ()>;
    fn doubled(&self, key: &str) -> u32 {
        self.get(key) * 2
    }
}

#[::smartasync::smartasync]
impl Store for Service {
    #[::smartasync::smartasync(limit = 2)]
    fn get(&self, key: &str) -> u32 {
        self.base + key.len() as u32
    }

    async fn put(&self, key: &str, value: u32) -> ::core::result::Result<u32, ()> {
        ::core::result::Result::Ok(value + key.len() as u32)
    }
}

#[::smartasync::smartasync]
impl Service {
    #[::smartasync::smartasync(lane = LANE)]
    fn on_lane(&self, key: &str) -> u32 {
        self.base + key.len() as u32
    }
}

#[test]
fn traits_limits_and_lanes_work_with_shadowed_names() {
    let service = Service { base: 1 };
    let store: &dyn Store = &service;
    ::core::assert_eq!(store.get("ab"), 3);
    ::core::assert_eq!(store.doubled("ab"), 6);
    ::core::assert_eq!(service.on_lane("abc"), 4);
    let runtime = ::tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        ::core::assert_eq!(store.get_async("a").await, 2);
        ::core::assert_eq!(store.put_async("a", 1).await, ::core::result::Result::Ok(2));
        ::core::assert_eq!(store.doubled_async("a").await, 4);
        ::core::assert_eq!(service.on_lane_async("a").await, 2);
    });
}
