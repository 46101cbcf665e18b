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
mod expand;
mod items;
mod lifetime;
mod model;
mod parse;
mod receiver;
mod valid;

use proc_macro::TokenStream;

/// Generates the pair of entries of a function: `foo(..)` for sync callers and
/// `foo_async(..)` for async callers, whichever way the body is written.
///
/// Put it on a free function or on a method in an `impl` block, written as `fn` or as
/// `async fn`:
///
/// | written as | `foo` (blocking entry) | `foo_async` (async entry) |
/// |---|---|---|
/// | `fn foo(..) -> T` | the body as written, unchanged | `fn foo_async(..) -> impl Future<Output = T> + Send + 'static`: runs the body on a blocking-pool thread ([`unblock`]) |
/// | `async fn foo(..) -> T` | `fn foo(..) -> T`: drives the body to completion on the calling thread ([`block_on`]) | the body as written, renamed `async fn foo_async` |
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
/// Dropping the future of the async entry of a `fn` body detaches the body: once it has
/// started it runs to the end on its thread, and its result is dropped. A panic in the body
/// resumes in the awaiting task with its original payload.
///
/// # The blocking entry of an `async fn` body
///
/// It has no extra demands: the future is polled on the calling thread, so `&mut self`,
/// borrowed arguments and futures that are not `Send` all work. [`block_on`] explains what
/// happens in each context (no runtime, a multi-thread worker, a current-thread runtime).
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
/// # Functions without `self`
///
/// Associated functions (constructors such as `async fn connect(url: &str) ->
/// io::Result<Self>`) and free functions get the same pair: `Client::connect(url)` and
/// `Client::connect_async(url)`. The attribute cannot tell an associated function from a
/// free one, so their generated entry holds its own copy of the body rather than a call to
/// the written one. A `static` (or `thread_local!`) declared inside such a body would then
/// exist twice, one per entry, so it is refused: declare it at module level instead.
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
/// `extern` functions, variadic functions, a name that already ends in `_async`, a
/// declaration without a body, and unknown or repeated arguments.
///
/// [`block_on`]: https://docs.rs/smartasync/latest/smartasync/fn.block_on.html
/// [`unblock`]: https://docs.rs/smartasync/latest/smartasync/fn.unblock.html
#[proc_macro_attribute]
pub fn smartasync(args: TokenStream, input: TokenStream) -> TokenStream {
    expand(args.into(), input.into()).into()
}

/// The whole pipeline on `proc_macro2` tokens, so that it can be tested outside a compiler.
fn expand(
    args: proc_macro2::TokenStream,
    input: proc_macro2::TokenStream,
) -> proc_macro2::TokenStream {
    match syn::parse2::<parse::Item>(input.clone()) {
        Ok(parse::Item::Function(function)) => items::function(args, &function),
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
