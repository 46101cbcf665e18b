//! Signature rules: what each entry of the pair demands of the written function, checked
//! before anything is generated. Each check is a small function that reports its own
//! mistake at the offending token; independent mistakes are reported together.

use proc_macro2::Span;
use quote::{format_ident, quote};
use syn::visit::Visit;
use syn::{Error, FnArg, Pat, PatType, Path, ReturnType, Signature, Type};

use crate::args::Args;
use crate::model::{self, Crossing, Param, Plan, Site, Twin};
use crate::parse::Function;
use crate::streams::{self, Flow, Items};
use crate::{bound, lifetime, receiver};

/// The advice that ends every refusal of an offloaded `fn` body: `first`, then the two
/// ways out that always exist.
pub fn ways_out(first: &str) -> String {
    format!("ways out: {first}, write the body as `async fn`, or use `#[smartasync(in_place)]`")
}

/// Independent errors, combined so that the user sees all of them at once.
#[derive(Default)]
pub struct Errors(Option<Error>);

impl Errors {
    pub fn push(&mut self, error: Error) {
        match &mut self.0 {
            Some(combined) => combined.combine(error),
            None => self.0 = Some(error),
        }
    }

    pub fn finish(self) -> syn::Result<()> {
        self.0.map_or(Ok(()), Err)
    }
}

/// Checks `function` written at `site` under `args`, and plans its pair. The plan is made
/// even where a check fails (with the failing values passed as they are), so that the
/// fallback can give the twin the signature it would have had.
pub fn plan<'a>(
    args: &Args,
    krate: &Path,
    site: Site,
    block: &syn::Generics,
    send: bool,
    function: &'a Function,
) -> (Plan<'a>, syn::Result<()>) {
    let block_types: Vec<syn::Ident> = block
        .type_params()
        .map(|param| param.ident.clone())
        .collect();
    let mut errors = Errors::default();
    let sig = &function.sig;
    unsupported_qualifiers(sig, &mut errors);
    async_suffix(sig, &mut errors);
    let items = items(function, &mut errors);
    let twin = twin(args, &site, function, items.as_ref(), &mut errors);
    let offloaded = twin == Twin::Offload;

    let mut params = Vec::new();
    for (index, input) in sig.inputs.iter().enumerate() {
        let param = match input {
            FnArg::Receiver(receiver) => Param {
                name: syn::Ident::new("self", receiver.self_token.span),
                pat: None,
                crossing: if offloaded {
                    receiver::crossing(receiver).unwrap_or_else(|error| {
                        errors.push(error);
                        Crossing::AsIs
                    })
                } else {
                    Crossing::AsIs
                },
                span: receiver.self_token.span,
            },
            FnArg::Typed(arg) => Param {
                name: match &*arg.pat {
                    Pat::Ident(pat) if pat.by_ref.is_none() && pat.subpat.is_none() => {
                        pat.ident.clone()
                    }
                    _ => format_ident!("__smartasync_arg{}", index, span = Span::mixed_site()),
                },
                pat: Some((*arg.pat).clone()),
                crossing: if offloaded {
                    crossing(arg).unwrap_or_else(|error| {
                        errors.push(error);
                        Crossing::AsIs
                    })
                } else {
                    Crossing::AsIs
                },
                span: bound::end_span(&arg.ty),
            },
        };
        params.push(param);
    }

    let output = offloaded.then(|| match &items {
        Some(items) => items_output(items, &mut errors),
        None => output(sig, &mut errors),
    });
    let plan = Plan {
        krate: krate.clone(),
        private: model::private_module(krate),
        function,
        site,
        twin,
        send,
        params,
        output,
        block_types,
        limit: args.limit.clone(),
        lane: args.lane.clone(),
        items,
        batch: args.batch.clone(),
    };
    limit_in_trait(&plan, &mut errors);
    if offloaded && matches!(plan.site, Site::TraitImpl(_)) {
        generics_not_static(&plan, block, &mut errors);
    }
    streaming_options(args, &plan, &mut errors);
    lane_options(args, &plan, &mut errors);
    if plan.copies_body() {
        state_in_copied_body(function, &mut errors);
    }
    (plan, errors.finish())
}

fn unsupported_qualifiers(sig: &Signature, errors: &mut Errors) {
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
}

fn async_suffix(sig: &Signature, errors: &mut Errors) {
    let name = sig.ident.to_string();
    if let Some(stem) = model::stem(&name) {
        errors.push(Error::new(
            sig.ident.span(),
            format!(
                "`{name}` already ends in `{}`: name it `{stem}` and `#[smartasync]` generates \
                 `{name}` beside it, whether the body is `fn` or `async fn`",
                model::SUFFIX
            ),
        ));
    }
}

/// In a trait impl, a type parameter that crosses to another thread must be declared
/// `'static`: the trait's signature decides its bounds, so the entry cannot ask for it
/// (on a lone function or inherent method the entry's own bounds do, for its callers).
fn generics_not_static(plan: &Plan<'_>, block: &syn::Generics, errors: &mut Errors) {
    let generics = [&plan.function.sig.generics, block];
    let unbounded: Vec<&syn::Ident> = generics
        .iter()
        .flat_map(|generics| generics.type_params())
        .filter(|param| {
            !generics
                .iter()
                .any(|generics| is_static(generics, &param.ident))
        })
        .map(|param| &param.ident)
        .collect();
    if unbounded.is_empty() {
        return;
    }
    let crossing = plan
        .function
        .sig
        .inputs
        .iter()
        .zip(&plan.params)
        .filter_map(|(input, param)| match (input, &param.crossing) {
            (FnArg::Typed(arg), Crossing::Moved(_) | Crossing::Copied) => {
                Some((&*arg.ty, describe(&arg.pat)))
            }
            _ => None,
        });
    let output = plan
        .output
        .as_ref()
        .map(|(ty, _)| (ty, "the result".to_owned()));
    for (ty, what) in crossing.chain(output) {
        if let Some((mention, span)) = mentions(ty, &unbounded) {
            errors.push(Error::new(
                span,
                format!(
                    "`{mention}` is not declared `'static`: the `_async` entry of a `fn` body \
                     sends {what} to another thread, so each type in it must be \
                     `Send + 'static`, and in a trait impl the trait's signature decides \
                     `{mention}`'s bounds\n{}",
                    ways_out(&format!(
                        "declare `{mention}: Send + 'static` in the trait and in this impl"
                    ))
                ),
            ));
            return;
        }
    }
}

/// Whether `generics` bound `name` by `'static`, on the parameter or in the `where` clause.
fn is_static(generics: &syn::Generics, name: &syn::Ident) -> bool {
    // `'static`, or `Any`, whose supertrait it is (a trait of the user's that has it as a
    // supertrait cannot be seen from here: `'static` is then asked for too).
    let static_bound = |bound: &syn::TypeParamBound| match bound {
        syn::TypeParamBound::Lifetime(lifetime) => lifetime.ident == "static",
        syn::TypeParamBound::Trait(bound) => bound
            .path
            .segments
            .last()
            .is_some_and(|segment| segment.ident == "Any"),
        _ => false,
    };
    let on_param = generics
        .type_params()
        .any(|param| param.ident == *name && param.bounds.iter().any(static_bound));
    let in_where = generics.where_clause.iter().any(|clause| {
        clause.predicates.iter().any(|predicate| match predicate {
            syn::WherePredicate::Type(predicate) => {
                matches!(&predicate.bounded_ty, Type::Path(path) if path.qself.is_none() && path.path.is_ident(name))
                    && predicate.bounds.iter().any(static_bound)
            }
            _ => false,
        })
    });
    on_param || in_where
}

/// The first of `names` that `ty` mentions as a type, and where.
fn mentions<'n>(ty: &Type, names: &[&'n syn::Ident]) -> Option<(&'n syn::Ident, Span)> {
    struct Finder<'a, 'n> {
        names: &'a [&'n syn::Ident],
        found: Option<(&'n syn::Ident, Span)>,
    }
    impl<'ast> Visit<'ast> for Finder<'_, '_> {
        fn visit_type_path(&mut self, path: &'ast syn::TypePath) {
            if let (None, Some(ident)) = (&path.qself, path.path.get_ident()) {
                if let Some(name) = self.names.iter().find(|name| **name == ident) {
                    self.found.get_or_insert((name, ident.span()));
                }
            }
            syn::visit::visit_type_path(self, path);
        }
    }
    let mut finder = Finder { names, found: None };
    finder.visit_type(ty);
    finder.found
}

/// A trait's declaration has no body to limit: the implementations choose.
fn limit_in_trait(plan: &Plan<'_>, errors: &mut Errors) {
    if let (Some(permits), Site::Trait) = (&plan.limit, &plan.site) {
        errors.push(Error::new_spanned(
            permits,
            "`limit` goes on a trait's implementations, which run the bodies",
        ));
    }
}

/// `lane` runs a `fn` body on the lane's threads: it has nothing to do for an `async fn`
/// body, in place, in a trait's declaration, or next to `limit`.
fn lane_options(args: &Args, plan: &Plan<'_>, errors: &mut Errors) {
    let Some(lane) = &args.lane else {
        return;
    };
    let refusal = if plan.function.sig.asyncness.is_some() {
        Some(
            "`lane` applies to a `fn` body: an `async fn` body waits without a thread to move, \
             and its blocking entry drives it on the caller's thread; put the blocking work it \
             calls in a `fn` on the lane",
        )
    } else if matches!(plan.site, Site::Trait) {
        Some("`lane` goes on a trait's implementations, which run the bodies")
    } else if args.in_place.is_some() {
        Some("`lane` and `in_place` contradict each other: choose where the body runs")
    } else if args.limit.is_some() {
        Some(
            "`lane` and `limit` together: a lane of k threads already runs at most k bodies \
             at once; size the lane with `Lane::new(..).threads(k)`",
        )
    } else {
        None
    };
    if let Some(message) = refusal {
        errors.push(Error::new_spanned(lane, message));
    }
}

/// The many items the function returns: an iterator of a `fn` (a body or a trait's
/// declaration), or a stream of either form. An `async fn` returning `impl Iterator` returns
/// one value, the iterator.
fn items(function: &Function, errors: &mut Errors) -> Option<Items> {
    let items = streams::classify(&function.sig.output).unwrap_or_else(|error| {
        errors.push(error);
        None
    })?;
    let is_async = function.sig.asyncness.is_some();
    (items.flow == Flow::Stream || !is_async).then_some(items)
}

/// What a streaming body cannot be given: `limit` (a stream holds its body open for as
/// long as it is consumed), `in_place` (the iterator would be pulled on the awaiting
/// thread), and, in a trait, a provided `fn` body returning an iterator (its stream would
/// need `Self: Clone` or a `Send` iterator).
fn streaming_options(args: &Args, plan: &Plan<'_>, errors: &mut Errors) {
    let iterated = plan.twin == Twin::Offload
        && plan
            .items
            .as_ref()
            .is_some_and(|items| items.flow == Flow::Iter);
    if let (Some(batch), Site::Trait) = (&args.batch, &plan.site) {
        errors.push(Error::new_spanned(
            batch,
            "`batch` goes on a trait's implementations, which run the iterators",
        ));
    } else if let (Some(batch), false) = (&args.batch, iterated) {
        errors.push(Error::new_spanned(
            batch,
            "`batch` applies to a `fn` body returning `impl Iterator`, whose items its async \
             entry hands to a stream in batches",
        ));
    }
    let Some(items) = &plan.items else {
        return;
    };
    if let Some(permits) = &args.limit {
        errors.push(Error::new_spanned(
            permits,
            "`limit` does not apply to a function that returns many items: its body stays \
             open for as long as its iterator or stream is consumed\n\
             ways out: a lane sized for the resource (`lane = L`, `Lane::new(..).threads(k)`), \
             or `limit` on the functions the body calls",
        ));
    }
    if let (Some(span), Flow::Iter) = (args.in_place, items.flow) {
        errors.push(Error::new(
            span,
            "`in_place` does not apply to a `fn` body returning `impl Iterator`: its async entry \
             is a stream whose iterator runs on a thread of its own",
        ));
    }
    let provided = plan.function.body.is_some() && plan.function.sig.asyncness.is_none();
    if matches!(plan.site, Site::Trait) && provided && items.flow == Flow::Iter {
        errors.push(Error::new_spanned(
            &plan.function.sig.ident,
            "a provided `fn` body returning `impl Iterator` cannot be paired in a trait: its \
             stream would run the iterator on another thread, which needs `Self: Clone` or a \
             `Send` iterator, neither of which `dyn` callers can promise\n\
             ways out: write the body in each implementation, or provide it as an `async fn` \
             returning `impl Stream`",
        ));
    }
}

/// The items an offloaded iterator sends back, and where a failure is reported; items (or
/// an error) that borrow are refused. The iterator itself may borrow: it is made and
/// pulled where the owned copies of the arguments live.
fn items_output(items: &Items, errors: &mut Errors) -> (Type, Span) {
    if let Some(span) = lifetime::first_borrow(&items.item) {
        errors.push(Error::new(
            span,
            String::from(
                "the items borrow: the `_async` entry of a `fn` body returning `impl Iterator` \
                 runs the iterator on another thread and sends its items to the stream's \
                 consumer, so they cannot borrow from the arguments\n\
                 ways out: yield owned items (`String`, `Vec<T>`, `Arc<T>`), or write the body \
                 as `async fn` returning `impl Stream`",
            ),
        ));
    } else if let Some(span) = lifetime::first_borrow(&items.replace(&quote!(()))) {
        errors.push(Error::new(
            span,
            String::from(
                "the error type borrows: the `_async` entry of a `fn` body sends it back from \
                 another thread\n\
                 ways out: return an owned error, or write the body as `async fn` returning \
                 `impl Stream`",
            ),
        ));
    }
    (items.item.clone(), items.span())
}

/// Which entry is generated, and how, from the body's form and the options.
fn twin(
    args: &Args,
    site: &Site,
    function: &Function,
    items: Option<&Items>,
    errors: &mut Errors,
) -> Twin {
    let is_async = function.sig.asyncness.is_some();
    if let Some(span) = args.in_place {
        if is_async {
            errors.push(Error::new(
                span,
                "`in_place` applies to a `fn` body: the async entry of an `async fn` is its body as written",
            ));
        } else if matches!(site, Site::Trait) {
            errors.push(Error::new(
                span,
                "`in_place` goes on a trait's implementations: a provided `fn` body already runs \
                 in place, and a declaration's implementation chooses for itself",
            ));
        }
    }
    let stream = items.is_some_and(|items| items.flow == Flow::Stream);
    match (function.body.is_some(), is_async) {
        (false, _) => Twin::Declare,
        (true, true) => Twin::Drive,
        // A `fn` returning a stream is an async entry already: its twin drives the stream.
        (true, false) if stream => Twin::Drive,
        // A provided body cannot demand `Self: Clone` and stay usable through `dyn`.
        (true, false) if matches!(site, Site::Trait) => Twin::InPlace,
        (true, false) if args.in_place.is_some() && items.is_none() => Twin::InPlace,
        (true, false) => Twin::Offload,
    }
}

/// The type an offloaded body's result crosses back as, and where a failure is reported;
/// a borrowing return type is refused.
fn output(sig: &Signature, errors: &mut Errors) -> (Type, Span) {
    match &sig.output {
        ReturnType::Default => (syn::parse_quote!(()), sig.ident.span()),
        ReturnType::Type(_, ty) => {
            if let Some(span) = lifetime::first_borrow(ty) {
                errors.push(Error::new(
                    span,
                    format!(
                        "the return type borrows: the `_async` entry of a `fn` body sends its result back \
                         from another thread through a `'static` future, so it cannot borrow from the \
                         arguments\n{}",
                        ways_out("return an owned value (`String`, `Vec<T>`, `Arc<T>`)")
                    ),
                ));
            }
            ((**ty).clone(), bound::end_span(ty))
        }
    }
}

/// How a typed argument crosses to the blocking pool.
fn crossing(arg: &PatType) -> syn::Result<Crossing> {
    let describe = describe(&arg.pat);
    let Type::Reference(reference) = ungrouped(&arg.ty) else {
        // What always crosses needs no wrapper, nor a bound to explain a failure.
        if always_crosses(ungrouped(&arg.ty)) {
            return Ok(Crossing::AsIs);
        }
        return match lifetime::first_borrow(&arg.ty) {
            Some(span) => Err(nested_borrow(span, &describe)),
            None => Ok(Crossing::Moved((*arg.ty).clone())),
        };
    };
    if let Some(mutability) = reference.mutability {
        let and = reference.and_token;
        return Err(Error::new_spanned(
            quote!(#and #mutability),
            format!(
                "{describe} is `&mut`: the `_async` entry of a `fn` body runs the body on another \
                 thread and returns a `'static` future, so it cannot hold the caller's mutable borrow\n{}",
                ways_out("take the value by value and return it, share it as `Arc<Mutex<..>>`")
            ),
        ));
    }
    let is_static = lifetime::is_static(reference.lifetime.as_ref());
    if let Some(span) = lifetime::first_borrow(&reference.elem) {
        return Err(nested_borrow(span, &describe));
    }
    if let Some(span) = lifetime::elided_object_lifetime(&reference.elem).filter(|_| !is_static) {
        return Err(Error::new(
            span,
            format!(
                "{describe} is a borrowed trait object: the `_async` entry of a `fn` body copies a \
                 `&T` argument with `ToOwned` when it is called, and a `dyn Trait` cannot be copied\n{}",
                ways_out(
                    "take an owned `Box<dyn Trait + Send>` or `Arc<dyn Trait + Send + Sync>`"
                )
            ),
        ));
    }
    let is_str = matches!(ungrouped(&reference.elem), Type::Path(path)
        if path.qself.is_none() && path.path.is_ident("str"));
    Ok(if is_static {
        Crossing::Moved((*arg.ty).clone())
    } else if is_str {
        Crossing::Str
    } else {
        Crossing::Copied
    })
}

/// `ty` without the invisible group a `macro_rules!` `$t:ty` fragment arrives in.
pub(crate) fn ungrouped(ty: &Type) -> &Type {
    match ty {
        Type::Group(group) => ungrouped(&group.elem),
        _ => ty,
    }
}

/// [`ungrouped`], to change.
pub(crate) fn ungrouped_mut(ty: &mut Type) -> &mut Type {
    match ty {
        Type::Group(group) => ungrouped_mut(&mut group.elem),
        _ => ty,
    }
}

/// Whether a value of type `ty` always crosses threads (`Send + 'static` whatever the
/// program): primitives, `String`, `()` and tuples, and `Option`, `Vec` and two-argument
/// `Result` of those. An argument or result of such a type needs no wrapper, and no bound
/// (which only explains a failure). By the names alone: a type of the user's own named so
/// is still required to cross, by the bound of the function that runs the body, in rustc's
/// words at the attribute.
pub(crate) fn always_crosses(ty: &Type) -> bool {
    match ty {
        Type::Tuple(tuple) => tuple.elems.iter().all(always_crosses),
        Type::Paren(paren) => always_crosses(&paren.elem),
        Type::Path(path) if path.qself.is_none() && path.path.segments.len() == 1 => {
            let segment = &path.path.segments[0];
            let name = segment.ident.to_string();
            let arguments: Vec<&Type> = match &segment.arguments {
                syn::PathArguments::None => Vec::new(),
                syn::PathArguments::AngleBracketed(arguments) => {
                    let mut types = Vec::new();
                    for argument in &arguments.args {
                        match argument {
                            syn::GenericArgument::Type(ty) => types.push(ty),
                            _ => return false,
                        }
                    }
                    types
                }
                syn::PathArguments::Parenthesized(_) => return false,
            };
            match (name.as_str(), arguments.as_slice()) {
                (name, []) => name == "String" || is_primitive_name(name),
                ("Option" | "Vec", [item]) => always_crosses(item),
                ("Result", [value, error]) => always_crosses(value) && always_crosses(error),
                _ => false,
            }
        }
        _ => false,
    }
}

fn is_primitive_name(name: &str) -> bool {
    matches!(
        name,
        "u8" | "u16"
            | "u32"
            | "u64"
            | "u128"
            | "usize"
            | "i8"
            | "i16"
            | "i32"
            | "i64"
            | "i128"
            | "isize"
            | "f32"
            | "f64"
            | "bool"
            | "char"
    )
}

fn nested_borrow(span: Span, describe: &str) -> Error {
    Error::new(
        span,
        format!(
            "{describe} borrows here: the `_async` entry of a `fn` body copies a top-level `&T` argument \
             with `ToOwned` when it is called, but cannot own a borrow held inside a type or a \
             non-`'static` lifetime\n{}",
            ways_out("take an owned type (`String`, `Vec<T>`, `Arc<T>`)")
        ),
    )
}

fn describe(pat: &Pat) -> String {
    match pat {
        Pat::Ident(pat) => format!("argument `{}`", pat.ident),
        _ => format!("argument `{}`", quote!(#pat)),
    }
}

/// A body copied into the generated entry must not declare an item whose identity
/// matters (a `static`, a `thread_local!` or `lazy_static!`): it would exist twice. Looked
/// for only where the body parses; a body that does not is not copied.
fn state_in_copied_body(function: &Function, errors: &mut Errors) {
    let Some(stmts) = function.body.as_ref().and_then(|body| body.stmts()) else {
        return;
    };
    let Some((span, what)) = state_in(stmts) else {
        return;
    };
    errors.push(Error::new(
        span,
        format!(
            "{what} in the body of a function without `self`: the attribute cannot name the \
             written function from the generated entry (it may be a free or an associated \
             function), so each entry holds its own copy of the body, and this would exist \
             twice, one per entry\n\
             ways out: declare it at module level, outside the function, give the function a \
             receiver, or put `#[smartasync]` on the `impl` block instead"
        ),
    ));
}

/// The first `static`, `thread_local!` or `lazy_static!` at any depth, with its name.
fn state_in(stmts: &[syn::Stmt]) -> Option<(Span, &'static str)> {
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
    for stmt in stmts {
        finder.visit_stmt(stmt);
    }
    finder.0
}
