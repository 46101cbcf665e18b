//! Signature rules: what each entry of the pair demands of the written function, checked
//! before anything is generated, with every independent mistake reported at its own token.

use proc_macro2::Span;
use quote::{format_ident, quote};
use syn::visit::Visit;
use syn::{Error, FnArg, Ident, Pat, PatType, Path, Receiver, ReturnType, Type};

use crate::args::Args;
use crate::lifetime;
use crate::parse::Function;
use crate::receiver::{self, Crossing};

pub const SUFFIX: &str = "_async";

/// Everything the expansion needs, decided.
pub struct Plan<'a> {
    pub krate: Path,
    pub function: &'a Function,
    pub shape: Shape,
    pub receiver: Option<&'a Receiver>,
    pub params: Vec<Param<'a>>,
}

/// What the written body is, and so which entry is generated and how.
pub enum Shape {
    /// `async fn`: the async entry is the body; the blocking entry drives it.
    Async,
    /// `fn`: the blocking entry is the body; the async entry runs it on the blocking pool,
    /// taking the receiver this way (`None` for functions without one).
    Offloaded(Option<Crossing>),
    /// `fn` with `in_place`: the async entry runs the body on the calling thread.
    InPlace,
}

/// A typed parameter and how it reaches the body.
pub struct Param<'a> {
    pub arg: &'a PatType,
    /// The name the generated entry gives it: the written identifier, or a hidden one for
    /// patterns such as `(a, b): (u8, u8)`.
    pub name: Ident,
    pub passing: Passing,
}

pub enum Passing {
    /// Moved (or, outside offloading, passed on as it is).
    Moved,
    /// A `&T` argument of an offloaded body: copied with `ToOwned`, lent back as `&T`.
    Copied,
}

pub fn plan(args: Args, function: &Function) -> syn::Result<Plan<'_>> {
    let mut errors = Errors::default();
    let sig = &function.sig;
    if let Some(constness) = sig.constness {
        errors.push(Error::new(
            constness.span,
            "`#[smartasync]` does not support `const fn`: neither entry can run in a const context",
        ));
    }
    if let Some(unsafety) = sig.unsafety {
        errors.push(Error::new(
            unsafety.span,
            "`#[smartasync]` does not support `unsafe fn`: annotate a safe function that wraps the unsafe call, \
             so that its safety argument is written once",
        ));
    }
    if let Some(abi) = &sig.abi {
        errors.push(Error::new_spanned(
            abi,
            "`#[smartasync]` does not support `extern` functions: annotate a Rust function that calls it",
        ));
    }
    if let Some(variadic) = &sig.variadic {
        errors.push(Error::new_spanned(
            variadic,
            "`#[smartasync]` does not support variadic functions",
        ));
    }
    let name = sig.ident.to_string();
    if let Some(stem) = name.strip_suffix(SUFFIX).filter(|stem| !stem.is_empty()) {
        errors.push(Error::new(
            sig.ident.span(),
            format!(
                "`{name}` already ends in `{SUFFIX}`: name it `{stem}` and `#[smartasync]` generates \
                 `{name}` beside it, whether the body is `fn` or `async fn`"
            ),
        ));
    }

    let receiver = sig.receiver();
    let shape = match (sig.asyncness, args.in_place) {
        (Some(_), Some(in_place)) => {
            errors.push(Error::new(
                in_place.span,
                "`in_place` applies to a `fn` body: the async entry of an `async fn` is its body as written",
            ));
            Shape::Async
        }
        (Some(_), None) => Shape::Async,
        (None, Some(_)) => Shape::InPlace,
        (None, None) => Shape::Offloaded(receiver.and_then(|receiver| {
            receiver::crossing(receiver)
                .map_err(|error| errors.push(error))
                .ok()
        })),
    };
    let offloaded = matches!(shape, Shape::Offloaded(_));

    let mut params = Vec::new();
    for (index, input) in sig.inputs.iter().enumerate() {
        let FnArg::Typed(arg) = input else { continue };
        let name = match &*arg.pat {
            Pat::Ident(pat) if pat.by_ref.is_none() && pat.subpat.is_none() => pat.ident.clone(),
            _ => format_ident!("__smartasync_arg{}", index, span = Span::mixed_site()),
        };
        let passing = if offloaded {
            match crossing(arg) {
                Ok(passing) => passing,
                Err(error) => {
                    errors.push(error);
                    Passing::Moved
                }
            }
        } else {
            Passing::Moved
        };
        params.push(Param { arg, name, passing });
    }

    if offloaded {
        if let ReturnType::Type(_, ty) = &sig.output {
            if let Some(span) = lifetime::first_borrow(ty) {
                errors.push(Error::new(
                    span,
                    "the return type borrows: the `_async` entry of a `fn` body sends its result back from \
                     another thread through a `'static` future, so it cannot borrow from the arguments\n\
                     ways out: return an owned value (`String`, `Vec<T>`, `Arc<T>`), write the body as \
                     `async fn`, or use `#[smartasync(in_place)]`",
                ));
            }
        }
    }

    if receiver.is_none() {
        if let Some((span, what)) = state_in_body(function) {
            errors.push(Error::new(
                span,
                format!(
                    "{what} in the body of a function without `self`: the attribute cannot name the \
                     written function from the generated entry (it may be a free or an associated \
                     function), so each entry holds its own copy of the body, and this would exist \
                     twice, one per entry\n\
                     ways out: declare it at module level, outside the function, or give the \
                     function a receiver"
                ),
            ));
        }
    }

    errors.finish()?;
    Ok(Plan {
        krate: args
            .krate
            .unwrap_or_else(|| syn::parse_quote!(::smartasync)),
        function,
        shape,
        receiver,
        params,
    })
}

/// The first item in the body whose identity matters (a `static`, a `thread_local!` or
/// `lazy_static!` declaration), at any depth, with what to call it.
fn state_in_body(function: &Function) -> Option<(Span, &'static str)> {
    struct Finder(Option<(Span, &'static str)>);
    impl<'ast> Visit<'ast> for Finder {
        fn visit_item_static(&mut self, item: &'ast syn::ItemStatic) {
            self.0.get_or_insert((item.static_token.span, "a `static`"));
        }

        fn visit_macro(&mut self, mac: &'ast syn::Macro) {
            let Some(last) = mac.path.segments.last() else {
                return;
            };
            let what = if last.ident == "thread_local" {
                "a `thread_local!`"
            } else if last.ident == "lazy_static" {
                "a `lazy_static!`"
            } else {
                return;
            };
            self.0.get_or_insert((last.ident.span(), what));
        }
    }
    let mut finder = Finder(None);
    for stmt in &function.body.stmts {
        finder.visit_stmt(stmt);
    }
    finder.0
}

/// How a typed argument crosses to the blocking pool.
fn crossing(arg: &PatType) -> syn::Result<Passing> {
    let describe = describe(&arg.pat);
    if let Type::Reference(reference) = &*arg.ty {
        if let Some(mutability) = reference.mutability {
            let and = reference.and_token;
            return Err(Error::new_spanned(
                quote!(#and #mutability),
                format!(
                    "{describe} is `&mut`: the `_async` entry of a `fn` body runs the body on another \
                     thread and returns a `'static` future, so it cannot hold the caller's mutable borrow\n\
                     ways out: take the value by value and return it, share it as `Arc<Mutex<..>>`, \
                     write the body as `async fn`, or use `#[smartasync(in_place)]`"
                ),
            ));
        }
        let is_static = lifetime::is_static(reference.lifetime.as_ref());
        if let Some(span) = lifetime::first_borrow(&reference.elem) {
            return Err(nested_borrow(span, &describe));
        }
        if let Some(span) = lifetime::elided_object_lifetime(&reference.elem).filter(|_| !is_static)
        {
            return Err(Error::new(
                span,
                format!(
                    "{describe} is a borrowed trait object: the `_async` entry of a `fn` body copies a \
                     `&T` argument with `ToOwned` when it is called, and a `dyn Trait` cannot be copied\n\
                     ways out: take an owned `Box<dyn Trait + Send>` or `Arc<dyn Trait + Send + Sync>`, \
                     write the body as `async fn`, or use `#[smartasync(in_place)]`"
                ),
            ));
        }
        return Ok(if is_static {
            Passing::Moved
        } else {
            Passing::Copied
        });
    }
    match lifetime::first_borrow(&arg.ty) {
        Some(span) => Err(nested_borrow(span, &describe)),
        None => Ok(Passing::Moved),
    }
}

fn nested_borrow(span: Span, describe: &str) -> Error {
    Error::new(
        span,
        format!(
            "{describe} borrows here: the `_async` entry of a `fn` body copies a top-level `&T` argument \
             with `ToOwned` when it is called, but cannot own a borrow held inside a type or a \
             non-`'static` lifetime\n\
             ways out: take an owned type (`String`, `Vec<T>`, `Arc<T>`), write the body as \
             `async fn`, or use `#[smartasync(in_place)]`"
        ),
    )
}

fn describe(pat: &Pat) -> String {
    match pat {
        Pat::Ident(pat) => format!("argument `{}`", pat.ident),
        _ => format!("argument `{}`", quote!(#pat)),
    }
}

/// Independent errors, combined so that the user sees all of them at once.
#[derive(Default)]
struct Errors(Option<Error>);

impl Errors {
    fn push(&mut self, error: Error) {
        match &mut self.0 {
            Some(combined) => combined.combine(error),
            None => self.0 = Some(error),
        }
    }

    fn finish(self) -> syn::Result<()> {
        self.0.map_or(Ok(()), Err)
    }
}

/// The generated twin's name: `foo` for `foo_async`'s pair, or `foo_async` for `foo`.
pub fn async_name(ident: &Ident) -> Ident {
    format_ident!("{}{}", ident, SUFFIX, span = ident.span())
}

impl Param<'_> {
    /// Where a failed bound on the argument's type points: the whole type.
    pub fn span(&self) -> Span {
        crate::bound::end_span(&self.arg.ty)
    }
}
