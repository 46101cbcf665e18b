//! Every supported signature shape, through both entries of its pair.

use std::borrow::Cow;
use std::fmt::Display;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use smartasync::smartasync;

#[derive(Clone, Debug)]
struct Service {
    base: u32,
    calls: Arc<AtomicU32>,
}

impl Service {
    fn new(base: u32) -> Self {
        Self {
            base,
            calls: Arc::new(AtomicU32::new(0)),
        }
    }

    #[smartasync]
    fn shared(&self, add: u32) -> u32 {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.base + add
    }

    #[smartasync]
    fn borrowed_args(&self, name: &str, bytes: &[u8], path: &Path, other: &Service) -> String {
        format!("{name}:{}:{}:{}", bytes.len(), path.display(), other.base)
    }

    #[smartasync]
    fn static_str(&self, tag: &'static str) -> &'static str {
        tag
    }

    #[smartasync]
    fn explicit_lifetime<'a>(&'a self, name: &'a str) -> String {
        format!("{name}{}", self.base)
    }

    #[allow(clippy::needless_arbitrary_self_type)]
    #[smartasync]
    fn typed_shared(self: &Self) -> u32 {
        self.base
    }

    #[smartasync]
    fn consume(self) -> u32 {
        self.base
    }

    #[smartasync]
    fn consume_mut(mut self, by: u32) -> u32 {
        self.base += by;
        self.base
    }

    #[smartasync]
    fn arc(self: Arc<Self>) -> u32 {
        self.base * 2
    }

    #[allow(clippy::boxed_local)]
    #[smartasync]
    fn boxed(self: Box<Self>) -> u32 {
        self.base * 3
    }

    #[smartasync]
    fn patterns(&self, (a, b): (u32, u32), mut list: Vec<u32>, _: u8, Wrapper(w): Wrapper) -> u32 {
        list.push(a + b + w);
        list.iter().sum::<u32>() + self.base
    }

    #[smartasync]
    fn generic<T>(&self, value: T, list: Vec<T>) -> String
    where
        T: Display + Send + 'static,
    {
        format!("{value}/{}", list.len())
    }

    #[smartasync]
    fn impl_trait(&self, value: impl Display, into: impl Into<String>) -> String {
        format!("{value}{}", into.into())
    }

    #[smartasync]
    fn generic_return<T: std::str::FromStr>(&self, text: &str) -> Option<T> {
        text.parse().ok()
    }

    #[smartasync]
    fn const_generic<const N: usize>(&self, items: [u8; N]) -> usize {
        items.len() + N
    }

    #[smartasync]
    fn unit(&self) {
        self.calls.fetch_add(1, Ordering::SeqCst);
    }

    #[smartasync]
    fn early_return(&self, fail: bool) -> Result<u32, String> {
        if fail {
            return Err("failed".to_owned());
        }
        let parsed: u32 = "7".parse().map_err(|_| "unreachable".to_owned())?;
        Ok(parsed + self.base)
    }

    #[smartasync]
    fn returns_self(&self) -> Self {
        Self::new(self.base + 1)
    }

    #[smartasync]
    fn cow(&self, text: Cow<'static, str>) -> String {
        text.into_owned()
    }

    #[smartasync]
    fn owned_path(&self, path: PathBuf) -> bool {
        path.is_relative()
    }

    // Constructors and associated functions: no receiver, so the attribute cannot tell them
    // from free functions.
    #[smartasync]
    fn open(url: &str) -> Result<Self, std::num::ParseIntError> {
        Ok(Self::new(url.parse()?))
    }

    #[smartasync]
    async fn connect(url: &str) -> Result<Self, std::num::ParseIntError> {
        tokio::task::yield_now().await;
        Ok(Self::new(url.parse()?))
    }

    #[smartasync]
    async fn fetch(&self, key: &str) -> String {
        tokio::time::sleep(std::time::Duration::from_millis(1)).await;
        format!("{key}={}", self.base)
    }

    #[smartasync]
    async fn mutate(&mut self, by: u32) -> u32 {
        tokio::task::yield_now().await;
        self.base += by;
        self.base
    }

    #[smartasync]
    async fn not_send(&self) -> u32 {
        let local = std::rc::Rc::new(self.base);
        tokio::task::yield_now().await;
        *local
    }

    #[smartasync]
    async fn async_patterns(&self, (a, b): (u32, u32), mut extra: Vec<u32>) -> u32 {
        extra.push(a * b);
        extra.iter().sum()
    }

    #[smartasync]
    async fn async_generic<T: Display>(&self, value: &T, prefix: impl AsRef<str>) -> String {
        format!("{}{value}", prefix.as_ref())
    }

    #[smartasync]
    async fn async_borrowed_return<'a>(&self, text: &'a str) -> &'a str {
        &text[1..]
    }

    #[smartasync]
    async fn async_question_mark(text: &str) -> Result<u32, Box<dyn std::error::Error>> {
        let value: u32 = text.parse()?;
        Ok(value)
    }

    #[smartasync(in_place)]
    fn in_place_mut(&mut self, text: &str) -> usize {
        self.base += 1;
        text.len() + self.base as usize
    }

    #[smartasync(in_place)]
    fn in_place_assoc(text: &str) -> &str {
        text.trim()
    }
}

#[derive(Clone, Debug, PartialEq)]
struct Wrapper(u32);

/// A process-lived service: `&'static self` crosses as the reference itself.
struct Registry {
    entries: Vec<&'static str>,
}

impl Registry {
    #[smartasync]
    fn count(&'static self, prefix: &str) -> usize {
        self.entries
            .iter()
            .filter(|entry| entry.starts_with(prefix))
            .count()
    }
}

/// The user's own associated types of the same name as smartasync's helpers stay theirs.
#[smartasync]
fn own_copy<T>(value: &T) -> T::Owned
where
    T: ToOwned + ?Sized + Sync + 'static,
    T::Owned: Send + 'static,
{
    value.to_owned()
}

/// `&impl Trait` with several bounds.
#[smartasync]
fn borrowed_impl(value: &(impl Clone + Display)) -> String {
    value.to_string()
}

#[smartasync]
fn free(mut values: Vec<u32>, scale: &u32) -> u32 {
    values.push(1);
    values.iter().sum::<u32>() * scale
}

#[smartasync]
async fn free_async_body(values: &[u32]) -> u32 {
    tokio::task::yield_now().await;
    values.iter().sum()
}

#[smartasync]
fn free_generic<T>(value: T) -> u64
where
    T: Into<u64>,
{
    value.into() + 1
}

#[smartasync(in_place)]
fn free_in_place(counter: &mut u32) {
    *counter += 1;
}

mod generic_impl {
    use super::smartasync;

    /// A service generic over its backend, as real services often are.
    #[derive(Clone)]
    pub struct Repo<B> {
        pub backend: B,
    }

    impl<B> Repo<B>
    where
        B: Clone + Send + Sync + 'static + AsRef<str>,
    {
        #[smartasync]
        pub fn describe(&self, suffix: &str) -> String {
            format!("{}{suffix}", self.backend.as_ref())
        }

        #[smartasync]
        pub async fn describe_later(&self, suffix: &str) -> String {
            format!("{}{suffix}", self.backend.as_ref())
        }

        #[smartasync]
        pub fn replace(&self, backend: B) -> Repo<B> {
            Repo { backend }
        }
    }
}

#[test]
fn blocking_entries_run_the_written_bodies() {
    let service = Service::new(10);
    assert_eq!(service.shared(1), 11);
    assert_eq!(
        service.borrowed_args("n", b"abc", Path::new("p"), &Service::new(4)),
        "n:3:p:4"
    );
    assert_eq!(service.static_str("tag"), "tag");
    assert_eq!(service.explicit_lifetime("x"), "x10");
    assert_eq!(service.typed_shared(), 10);
    assert_eq!(service.clone().consume(), 10);
    assert_eq!(service.clone().consume_mut(5), 15);
    assert_eq!(Arc::new(service.clone()).arc(), 20);
    assert_eq!(Box::new(service.clone()).boxed(), 30);
    assert_eq!(service.patterns((1, 2), vec![3], 0, Wrapper(4)), 10 + 10);
    assert_eq!(service.generic(5u8, vec![1, 2]), "5/2");
    assert_eq!(service.impl_trait(1, "a"), "1a");
    assert_eq!(service.generic_return::<u16>("12"), Some(12));
    assert_eq!(service.const_generic([1, 2, 3]), 6);
    service.unit();
    assert_eq!(service.early_return(false), Ok(17));
    assert_eq!(service.early_return(true), Err("failed".to_owned()));
    assert_eq!(service.returns_self().base, 11);
    assert_eq!(service.cow(Cow::Borrowed("c")), "c");
    assert!(service.owned_path(PathBuf::from("rel")));
    assert_eq!(Service::open("3").map(|s| s.base), Ok(3));
    assert!(Service::open("x").is_err());
    assert_eq!(Service::connect("4").map(|s| s.base), Ok(4));
    assert_eq!(service.fetch("k"), "k=10");
    let mut mutable = service.clone();
    assert_eq!(mutable.mutate(2), 12);
    assert_eq!(mutable.base, 12);
    assert_eq!(service.not_send(), 10);
    assert_eq!(service.async_patterns((2, 3), vec![1]), 7);
    assert_eq!(service.async_generic(&7, "n"), "n7");
    assert_eq!(service.async_borrowed_return("xyz"), "yz");
    assert_eq!(Service::async_question_mark("9").unwrap(), 9);
    assert!(Service::async_question_mark("nine").is_err());
    assert_eq!(mutable.in_place_mut("ab"), 2 + 13);
    assert_eq!(Service::in_place_assoc(" t "), "t");
    assert_eq!(free(vec![1, 2], &2), 8);
    assert_eq!(free_async_body(&[1, 2, 3]), 6);
    assert_eq!(free_generic(2u8), 3);
    let mut counter = 0;
    free_in_place(&mut counter);
    assert_eq!(counter, 1);
    let registry: &'static Registry = Box::leak(Box::new(Registry {
        entries: vec!["ab", "ac", "b"],
    }));
    assert_eq!(registry.count("a"), 2);
    assert_eq!(own_copy("text"), "text");
    assert_eq!(borrowed_impl(&3), "3");
    let repo = generic_impl::Repo {
        backend: "b".to_owned(),
    };
    assert_eq!(repo.describe("!"), "b!");
    assert_eq!(repo.describe_later("?"), "b?");
    assert_eq!(repo.replace("c".to_owned()).backend, "c");
    assert_eq!(service.calls.load(Ordering::SeqCst), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_entries_run_the_written_bodies() {
    let service = Service::new(10);
    assert_eq!(service.shared_async(1).await, 11);
    assert_eq!(
        service
            .borrowed_args_async("n", b"abc", Path::new("p"), &Service::new(4))
            .await,
        "n:3:p:4"
    );
    assert_eq!(service.static_str_async("tag").await, "tag");
    assert_eq!(service.explicit_lifetime_async("x").await, "x10");
    assert_eq!(service.typed_shared_async().await, 10);
    assert_eq!(service.clone().consume_async().await, 10);
    assert_eq!(service.clone().consume_mut_async(5).await, 15);
    assert_eq!(Arc::new(service.clone()).arc_async().await, 20);
    assert_eq!(Box::new(service.clone()).boxed_async().await, 30);
    assert_eq!(
        service.patterns_async((1, 2), vec![3], 0, Wrapper(4)).await,
        20
    );
    assert_eq!(service.generic_async(5u8, vec![1, 2]).await, "5/2");
    assert_eq!(service.impl_trait_async(1, "a").await, "1a");
    assert_eq!(service.generic_return_async::<u16>("12").await, Some(12));
    assert_eq!(service.const_generic_async([1, 2, 3]).await, 6);
    service.unit_async().await;
    assert_eq!(service.early_return_async(false).await, Ok(17));
    assert_eq!(
        service.early_return_async(true).await,
        Err("failed".to_owned())
    );
    assert_eq!(service.returns_self_async().await.base, 11);
    assert_eq!(service.cow_async(Cow::Borrowed("c")).await, "c");
    assert!(service.owned_path_async(PathBuf::from("rel")).await);
    assert_eq!(Service::open_async("3").await.map(|s| s.base), Ok(3));
    assert_eq!(Service::connect_async("4").await.map(|s| s.base), Ok(4));
    assert_eq!(service.fetch_async("k").await, "k=10");
    let mut mutable = service.clone();
    assert_eq!(mutable.mutate_async(2).await, 12);
    assert_eq!(service.not_send_async().await, 10);
    assert_eq!(service.async_patterns_async((2, 3), vec![1]).await, 7);
    assert_eq!(service.async_generic_async(&7, "n").await, "n7");
    assert_eq!(service.async_borrowed_return_async("xyz").await, "yz");
    assert_eq!(Service::async_question_mark_async("9").await.unwrap(), 9);
    assert_eq!(mutable.in_place_mut_async("ab").await, 2 + 13);
    assert_eq!(Service::in_place_assoc_async(" t ").await, "t");
    assert_eq!(free_async(vec![1, 2], &2).await, 8);
    assert_eq!(free_async_body_async(&[1, 2, 3]).await, 6);
    assert_eq!(free_generic_async(2u8).await, 3);
    let mut counter = 0;
    free_in_place_async(&mut counter).await;
    assert_eq!(counter, 1);
    let registry: &'static Registry = Box::leak(Box::new(Registry {
        entries: vec!["ab", "ac", "b"],
    }));
    assert_eq!(registry.count_async("a").await, 2);
    assert_eq!(own_copy_async("text").await, "text");
    assert_eq!(own_copy_async(&[1u8, 2][..]).await, vec![1, 2]);
    assert_eq!(borrowed_impl_async(&3).await, "3");
    let repo = generic_impl::Repo {
        backend: "b".to_owned(),
    };
    assert_eq!(repo.describe_async("!").await, "b!");
    assert_eq!(repo.describe_later_async("?").await, "b?");
    assert_eq!(repo.replace_async("c".to_owned()).await.backend, "c");
    assert_eq!(service.calls.load(Ordering::SeqCst), 2);
}

/// The async entry of a `fn` body owns copies of its arguments: the caller may drop what it
/// lent before awaiting, and the future is `Send + 'static` (it can be spawned).
#[tokio::test]
async fn async_entry_of_fn_body_owns_its_arguments() {
    let service = Service::new(1);
    let name = String::from("temporary");
    let future = service.borrowed_args_async(&name, &[1, 2], Path::new("q"), &Service::new(2));
    drop(name);
    drop(service);
    let spawned = tokio::spawn(future);
    assert_eq!(spawned.await.unwrap(), "temporary:2:q:2");
}

/// The copy is taken when the entry is called, not when the future is first polled.
#[tokio::test]
async fn arguments_are_copied_at_call_time() {
    let service = Service::new(1);
    let mut name = String::from("before");
    let future = service.explicit_lifetime_async(&name);
    name.replace_range(.., "after");
    assert_eq!(future.await, "before1");
    assert_eq!(name, "after");
}

fn assert_send_static<T: Send + 'static>(_: &T) {}

#[test]
fn async_entries_of_fn_bodies_are_send_and_static() {
    let service = Service::new(1);
    let text = String::from("x");
    let future = service.borrowed_args_async(&text, &[], Path::new(""), &service);
    assert_send_static(&future);
    let future = Service::open_async(&text);
    assert_send_static(&future);
    drop(text);
}
