//! The `#[smartasync]` attribute. Depend on the `smartasync` crate, which re-exports it and
//! owns everything the generated code calls; its documentation describes the attribute.
//!
//! One pipeline: `parse` reads the item (a function, an `impl` block or a trait, bodies
//! kept as tokens), `args` the attribute's arguments, `valid` checks each function against
//! what its entries need and fills in the plan (`model`), `expand` writes each pair
//! (`boxed` gives trait methods their dyn-compatible async entry), and `items` runs these
//! steps for each kind of item. An error becomes tokens once, next to a fallback that keeps
//! every entry's signature, so that one mistake does not cascade.
#![forbid(unsafe_code)]

mod args;
mod bound;
mod boxed;
mod enclosing;
mod expand;
mod items;
mod lifetime;
mod model;
mod parse;
mod receiver;
mod signature;
mod streamed;
mod streams;
mod valid;

use proc_macro::TokenStream;

/// Generates the pair of entries of a function: `foo(..)` for sync callers and
/// `foo_async(..)` for async callers, whichever way the body is written.
///
/// Put it on a free function or a method, written as `fn` or as `async fn`, on an `impl`
/// block, or on a trait. What each form generates is tabled in the crate documentation,
/// [What is generated]; a `fn` body's async entry runs it on a blocking-pool thread
/// ([`unblock`]), an `async fn` body's blocking entry drives it on the calling thread
/// ([`block_on`]).
///
/// Both entries keep the visibility, doc comments and attributes of the written function
/// (`#[must_use]`, `#[cfg]`, `#[allow]`, `#[deprecated]`, ...); the generated one adds a
/// paragraph naming its twin.
///
/// ```
/// use smartasync::smartasync;
///
/// #[derive(Clone)]
/// struct Store {
///     prefix: String,
/// }
///
/// impl Store {
///     /// Blocking code (a database driver, a C library, CPU work).
///     #[smartasync]
///     fn lookup(&self, key: &str) -> String {
///         format!("{}{key}", self.prefix)
///     }
///
///     /// Async code (an HTTP client, a timer).
///     #[smartasync]
///     async fn fetch(&self, key: &str) -> String {
///         tokio::task::yield_now().await;
///         format!("{}{key}", self.prefix)
///     }
/// }
///
/// let store = Store { prefix: "user:".into() };
/// // Sync callers: no runtime to build or enter.
/// assert_eq!(store.lookup("1"), "user:1");
/// assert_eq!(store.fetch("2"), "user:2");
///
/// // Async callers: neither call blocks the runtime's threads.
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// assert_eq!(store.lookup_async("3").await, "user:3");
/// assert_eq!(store.fetch_async("4").await, "user:4");
/// # });
/// ```
///
/// # The async entry of a `fn` body
///
/// It runs the body on another thread and returns a `Send + 'static` future, so it takes
/// owned copies of what the body uses when it is called (the caller may drop its arguments
/// before awaiting):
///
/// - `&self` is cloned: `Self` must be `Clone + Send + Sync + 'static`, as services that are
///   cheap handles (state behind `Arc`, a connection pool) already are. `self`,
///   `self: Arc<Self>` and `self: Box<Self>` are moved.
/// - An argument `&T` (`&str`, `&[u8]`, `&Path`, `&MyStruct`) is copied with
///   `ToOwned::to_owned` and lent back to the body as `&T`; owned arguments are moved. Moved
///   and copied values must be `Send + 'static`, and so must the result. Argument patterns
///   (`mut x`, `(a, b): (u8, u8)`) work.
/// - `&mut self`, `&mut T`, a borrow inside an argument's type (`Vec<&str>`, `Cow<'a, str>`)
///   and a return type that borrows are compile errors that name the way out: interior
///   mutability, owned arguments, `self: Arc<Self>`, an `async fn` body, or `in_place`.
///
/// The expansion for a method is equivalent to this hand-written code (the real one reports
/// failed requirements in its own words, at your type):
///
/// ```
/// # #[derive(Clone)] struct Store { prefix: String }
/// impl Store {
///     fn lookup(&self, key: &str) -> String {
///         format!("{}{key}", self.prefix)
///     }
///
///     fn lookup_async(&self, key: &str) -> impl std::future::Future<Output = String> + Send + 'static {
///         let this = self.clone();
///         let key = key.to_owned();
///         smartasync::unblock(move || Self::lookup(&this, &key))
///     }
/// }
/// ```
///
/// Dropping the future of the async entry of a `fn` body cancels the call: a body still
/// waiting for a thread never runs, and a running one sees `smartasync::cancelled()` turn
/// true and has its `smartasync::on_cancel` callbacks run; a body that asks neither runs to
/// its end on its thread, and its result is dropped. A panic in the body
/// resumes in the awaiting task with its original payload.
///
/// # The blocking entry of an `async fn` body
///
/// It has no extra demands: the future is polled on the calling thread, so `&mut self`,
/// borrowed arguments and futures that are not `Send` all work. What happens in each
/// context is tabled in the crate documentation, [Where each call runs].
///
/// ```
/// # struct Client;
/// impl Client {
///     async fn get(&mut self, path: &str) -> usize {
///         path.len()
///     }
///
///     // The blocking entry generated for `#[smartasync] async fn get`:
///     fn get_blocking(&mut self, path: &str) -> usize {
///         smartasync::block_on(self.get(path))
///     }
/// }
/// # assert_eq!(Client.get_blocking("/x"), 2);
/// ```
///
/// # Many items: iterators and streams
///
/// A `fn` body returning `impl Iterator<Item = T>` gets an async entry returning
/// `impl Stream<Item = T> + Send + 'static`: the iterator is made, pulled and dropped on a
/// blocking-pool thread (or the function's lane), its items handed over in batches through
/// a channel that holds one batch ([`unblock_iter`]). A body returning `impl Stream<Item =
/// T>`, written `async fn` or `fn`, is the async entry and gets a blocking entry returning
/// `impl Iterator<Item = T>`, each `next()` driving the stream on the calling thread
/// ([`block_on_stream`]). Either may be the `Ok` of a `Result`. In a trait, the entries
/// are [`BoxIterator`] and [`BoxStream`].
///
/// ```
/// use smartasync::smartasync;
///
/// #[smartasync]
/// fn lines(text: String) -> impl Iterator<Item = String> {
///     text.lines().map(str::to_owned).collect::<Vec<_>>().into_iter()
/// }
///
/// assert_eq!(lines("a\nb".into()).count(), 2);
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// use smartasync::Stream;
/// let mut lines = std::pin::pin!(lines_async("a\nb".into()));
/// let first = std::future::poll_fn(|cx| lines.as_mut().poll_next(cx)).await;
/// assert_eq!(first.as_deref(), Some("a"));
/// # });
/// ```
///
/// The iterator of the async entry may borrow `&self` (it borrows the clone taken for its
/// thread) and need not be `Send`; its items must be `Send + 'static`.
///
/// # Functions without `self`
///
/// Associated functions (constructors such as `async fn connect(url: &str) ->
/// io::Result<Self>`) and free functions get the same pair: `Client::connect(url)` and
/// `Client::connect_async(url)`. The attribute cannot tell an associated function from a
/// free one, so their generated entry holds its own copy of the body rather than a call to
/// the written one. A `static` (or `thread_local!`) declared inside such a body would then
/// exist twice, one per entry, so it is refused: declare it at module level instead.
///
/// # On an `impl` block
///
/// `#[smartasync]` on an `impl` block pairs every method that has a body, by the rules
/// above. Functions without `self` are reached through `Self::` from their twin, so nothing
/// is copied (a `static` in a constructor is one `static` for both entries). Inside the
/// block, `#[smartasync(skip)]` leaves a method alone and `#[smartasync(in_place)]` sets
/// that method's option; `crate = ".."` goes on the block. Constants, types and macros pass
/// through, and so does a method whose twin is written by hand (`foo` next to `foo_async`).
/// One method's mistake is reported at that method; the others are still paired.
///
/// ```
/// use smartasync::smartasync;
///
/// #[derive(Clone, Default)]
/// struct Store {
///     hits: std::sync::Arc<std::sync::atomic::AtomicU32>,
/// }
///
/// #[smartasync]
/// impl Store {
///     fn open() -> Self {
///         Store::default()
///     }
///
///     fn hit(&self) -> u32 {
///         self.hits.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1
///     }
///
///     #[smartasync(skip)]
///     fn raw(&self) -> u32 {
///         0
///     }
/// }
///
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let store = Store::open_async().await;
/// assert_eq!(store.hit_async().await, 1);
/// assert_eq!(store.hit(), 2);
/// # });
/// ```
///
/// # On a trait: one interface, blocking and async implementations
///
/// `#[smartasync]` on a trait declares both entries of every method, written `fn` or
/// `async fn`. The async entry returns a [`BoxFuture`] that may borrow every argument, so
/// the trait stays dyn-compatible: `Arc<dyn Trait>`, `Box<dyn Trait>` and `&dyn Trait`
/// work from sync and async code alike.
///
/// ```text
/// fn get(&self, id: u64) -> Result<User, Error>;
/// fn get_async<'life0, 'fut>(&'life0 self, id: u64) -> smartasync::BoxFuture<'fut, Result<User, Error>>
/// where 'life0: 'fut, Self: 'fut;
/// ```
///
/// Each implementation is an `impl` block under `#[smartasync]` that writes each method
/// once, as `fn` (a blocking driver) or as `async fn` (an async client), in any mix, and
/// gets the other entry by the same rules and dispatch as inherent methods: a `fn` body
/// awaited runs on the blocking pool (so `Self: Clone + Send + Sync + 'static`), an
/// `async fn` body called blocking is driven by [`block_on`]. Callers never know which
/// they hold. An implementation without the attribute fails with rustc's "missing
/// `foo_async`".
///
/// ```
/// use std::sync::Arc;
///
/// use smartasync::smartasync;
///
/// #[smartasync]
/// pub trait Users: Send + Sync {
///     fn name(&self, id: u64) -> Option<String>;
/// }
///
/// #[derive(Clone)]
/// struct OnDisk;
///
/// #[smartasync]
/// impl Users for OnDisk {
///     fn name(&self, id: u64) -> Option<String> {
///         (id == 1).then(|| "ada".to_owned()) // std::fs, rusqlite, a C SDK...
///     }
/// }
///
/// struct OverHttp;
///
/// #[smartasync]
/// impl Users for OverHttp {
///     async fn name(&self, id: u64) -> Option<String> {
///         tokio::task::yield_now().await; // reqwest, tokio-postgres...
///         (id == 2).then(|| "bob".to_owned())
///     }
/// }
///
/// let backends: Vec<Arc<dyn Users>> = vec![Arc::new(OnDisk), Arc::new(OverHttp)];
/// // Sync code:
/// assert_eq!(backends[0].name(1).as_deref(), Some("ada"));
/// assert_eq!(backends[1].name(2).as_deref(), Some("bob"));
/// // Async code:
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// assert_eq!(backends[0].name_async(1).await.as_deref(), Some("ada"));
/// assert_eq!(backends[1].name_async(2).await.as_deref(), Some("bob"));
/// # });
/// ```
///
/// - Provided methods are paired too. A provided `async fn` body is the async entry, and
///   the provided blocking entry drives it. A provided `fn` body's async entry runs it on
///   the awaiting thread ([`in_place`]): it cannot clone `self`, which `dyn` callers could
///   not promise. Either provided entry needs `Self: Sync` (`&self`) or `Self: Send`
///   (other receivers) so that its future is `Send`: free with `Send + Sync` supertraits,
///   otherwise it is callable through `dyn Trait + Sync` only. An implementation that
///   writes the method gets both of its own entries.
/// - `&mut self` methods work with an `async fn` or an `in_place` implementation; an
///   offloaded `fn` body gets the same errors as an inherent method.
/// - `#[smartasync(?Send)]`, on the trait and on each of its impls, makes the async entries
///   return a [`LocalBoxFuture`], for bodies that hold `!Send` values across `.await`.
/// - Generic traits, generic methods, associated types and consts, supertraits and `where`
///   clauses pass through.
/// - The trait and its impls must write each signature the same way: each elided lifetime
///   (`&T`, `'_`) becomes a named lifetime of the async entry, and a lifetime hidden in a
///   path (`Ref` for `Ref<'_>`) cannot be seen by the attribute: write it as `Ref<'_>`.
///
/// # Arguments
///
/// ## `in_place`
///
/// `#[smartasync(in_place)]` on a `fn` body makes the async entry an `async fn` that runs
/// the body on the awaiting thread: with `tokio::task::block_in_place` on a multi-thread
/// runtime, inline elsewhere. There are no `Clone`, `Send` or `'static` demands, and
/// `&mut self` and borrowed arguments and results are allowed. The price: the awaiting task
/// makes no progress on its other branches (`join!`, `select!`) meanwhile, and on a
/// current-thread runtime the whole runtime is stalled.
///
/// ```
/// use smartasync::smartasync;
///
/// struct Parser {
///     lines: usize,
/// }
///
/// impl Parser {
///     #[smartasync(in_place)]
///     fn feed(&mut self, text: &str) -> usize {
///         self.lines += text.lines().count();
///         self.lines
///     }
/// }
///
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let mut parser = Parser { lines: 0 };
/// assert_eq!(parser.feed_async("a\nb").await, 2);
/// # });
/// ```
///
/// which is equivalent to:
///
/// ```
/// # struct Parser { lines: usize }
/// impl Parser {
///     fn feed(&mut self, text: &str) -> usize {
///         self.lines += text.lines().count();
///         self.lines
///     }
///
///     async fn feed_async(&mut self, text: &str) -> usize {
///         smartasync::in_place(|| Self::feed(self, text))
///     }
/// }
/// ```
///
/// ## `limit = N`
///
/// `#[smartasync(limit = N)]` on a function, or on a method inside an annotated `impl`
/// block or trait impl: at most N bodies of that function run at once in the process,
/// through either entry, whichever form the body is written in (one limit per written
/// function, shared by its generic instantiations). Callers over the limit wait their
/// turn, first come first served: an async caller awaits its permit before the body takes
/// a blocking-pool thread, so waiting holds no thread, and dropping its future gives up its
/// place (the body never runs); a sync caller blocks, through [`block_on`], so that on a
/// multi-thread worker the runtime's other tasks keep running. `N` is a constant
/// expression of type `usize`, at least 1.
///
/// ```
/// use smartasync::smartasync;
///
/// #[derive(Clone)]
/// struct Db;
///
/// const WRITERS: usize = 1;
///
/// impl Db {
///     #[smartasync(limit = WRITERS)]
///     fn insert(&self, row: &str) -> usize {
///         row.len()
///     }
/// }
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// assert_eq!(Db.insert_async("a").await + Db.insert("bc"), 3);
/// # });
/// ```
///
/// is equivalent to a semaphore shared by both entries, taken by the async entry before it
/// offloads, and handed to the body's thread:
///
/// ```
/// # #[derive(Clone)] struct Db;
/// static WRITERS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(1);
///
/// impl Db {
///     fn insert(&self, row: &str) -> usize {
///         // (taken here unless this thread already holds it for this body)
///         let _permit = smartasync::block_on(WRITERS.acquire()).unwrap();
///         Self::insert_body(self, row)
///     }
///
///     async fn insert_async(&self, row: &str) -> usize {
///         let this = self.clone();
///         let row = row.to_owned();
///         let permit = WRITERS.acquire().await.unwrap();
///         smartasync::unblock(move || {
///             let _permit = permit;
///             Self::insert_body(&this, &row)
///         })
///         .await
///     }
///
///     fn insert_body(&self, row: &str) -> usize {
///         row.len()
///     }
/// }
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// # assert_eq!(Db.insert_async("a").await + Db.insert("bc"), 3);
/// # });
/// ```
///
/// A thread that runs a limited `fn` body holds its permit for nested blocking calls of
/// the same function, so such a body that calls itself does not wait for itself; an
/// `async fn` body that calls itself waits for a second permit. The crate documentation's
/// limitations say where a blocking caller on a current-thread runtime can wait forever.
///
/// ## `lane = PATH`
///
/// `#[smartasync(lane = L)]` on a `fn` body, where `L` is a `static smartasync::Lane`:
/// every call of the body runs on one of the lane's threads, through either entry, in the
/// order the calls arrived. Both entries take owned copies of the arguments, by the rules
/// of the async entry of a `fn` body (a job for another thread must be `'static`); the
/// blocking entry called on one of the lane's threads runs the body inline. On an
/// `async fn` body, next to `in_place` or `limit` (size the lane instead), or on a trait's
/// declaration, it is a compile error.
///
/// ```
/// use smartasync::{smartasync, Lane};
///
/// static PARSER: Lane = Lane::new("parser");
///
/// #[smartasync(lane = PARSER)]
/// fn words(text: &str) -> usize {
///     text.split_whitespace().count()
/// }
///
/// assert_eq!(words("one two"), 2);
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// assert_eq!(words_async("one two three").await, 3);
/// # });
/// ```
///
/// ## `batch = N`
///
/// On a `fn` body returning `impl Iterator`: its stream hands the items over in batches
/// of at most `N` (a constant `usize`, at least 1) instead of [`DEFAULT_BATCH`] (64).
/// Larger batches cost fewer hand-overs per item; smaller ones hold fewer items in memory.
/// The first batches are smaller (1, 2, 4, ...), so the first item comes at once. It is
/// equivalent to [`IterStream::batch`].
///
/// ## `skip`
///
/// On a method inside an annotated `impl` block or trait: leaves it as written.
///
/// ## `?Send`
///
/// On a trait and on each of its impls: the async entries return a [`LocalBoxFuture`], for
/// bodies that hold values that are not `Send` across `.await`.
///
/// ## `crate = "path"`
///
/// Generated code reaches the runtime crate as `::smartasync`. A crate that re-exports
/// smartasync, and whose users do not depend on it directly, names its own path:
///
/// ```
/// mod deps {
///     pub use ::smartasync;
/// }
///
/// #[deps::smartasync::smartasync(crate = "crate::deps::smartasync")]
/// fn double(value: u32) -> u32 {
///     value * 2
/// }
///
/// fn main() {
///     assert_eq!(double(2), 4);
/// }
/// ```
///
/// # Rejected
///
/// With a compile error at the offending token, and with the item kept as written (plus a
/// stub twin) so that no "cannot find `foo_async`" errors follow: `unsafe`, `const` and
/// `extern` functions, variadic functions, a name that already ends in `_async`, a lone
/// declaration without a body, and unknown, repeated or misplaced arguments. A body that
/// does not parse yet still gets its twin: rustc reports its syntax error once.
///
/// [What is generated]: https://docs.rs/smartasync/latest/smartasync/#what-is-generated
/// [Where each call runs]: https://docs.rs/smartasync/latest/smartasync/#where-each-call-runs
/// [`block_on`]: https://docs.rs/smartasync/latest/smartasync/fn.block_on.html
/// [`in_place`]: https://docs.rs/smartasync/latest/smartasync/fn.in_place.html
/// [`BoxFuture`]: https://docs.rs/smartasync/latest/smartasync/type.BoxFuture.html
/// [`LocalBoxFuture`]: https://docs.rs/smartasync/latest/smartasync/type.LocalBoxFuture.html
/// [`unblock`]: https://docs.rs/smartasync/latest/smartasync/fn.unblock.html
/// [`unblock_iter`]: https://docs.rs/smartasync/latest/smartasync/fn.unblock_iter.html
/// [`block_on_stream`]: https://docs.rs/smartasync/latest/smartasync/fn.block_on_stream.html
/// [`BoxIterator`]: https://docs.rs/smartasync/latest/smartasync/type.BoxIterator.html
/// [`BoxStream`]: https://docs.rs/smartasync/latest/smartasync/type.BoxStream.html
/// [`DEFAULT_BATCH`]: https://docs.rs/smartasync/latest/smartasync/constant.DEFAULT_BATCH.html
/// [`IterStream::batch`]: https://docs.rs/smartasync/latest/smartasync/struct.IterStream.html#method.batch
#[proc_macro_attribute]
pub fn smartasync(args: TokenStream, input: TokenStream) -> TokenStream {
    expand(
        args.into(),
        input.into(),
        enclosing::trait_impl_at_call_site,
    )
    .into()
}

/// The whole pipeline on `proc_macro2` tokens, so that it can be tested outside a compiler;
/// `trait_impl` tells a lone function that stands in a trait impl which one.
fn expand(
    args: proc_macro2::TokenStream,
    input: proc_macro2::TokenStream,
    trait_impl: fn() -> Option<enclosing::TraitImpl>,
) -> proc_macro2::TokenStream {
    let _literals = expand::LiteralCache::start();
    match parse::Item::parse(input.clone()) {
        Ok(parse::Item::Function(function)) => match trait_impl() {
            Some(around) => items::method_of_trait_impl(args, &function, &around),
            None => items::function(args, &function),
        },
        Ok(parse::Item::Impl(block)) => items::impl_block(args, block),
        Ok(parse::Item::Trait(block)) => items::trait_block(args, block),
        Err(error) => {
            let error = error.into_compile_error();
            quote::quote!(#input #error)
        }
    }
}

#[cfg(test)]
mod tests;
