//! Code generation for bodies that return many items (`streams`): the stream that is the
//! async entry of an iterator body, the iterator that is the blocking entry of a stream
//! body, and, in traits, both entries boxed so that the trait stays dyn-compatible.
//!
//! ```text
//! // fn rows(&self) -> impl Iterator<Item = Row>   (the body pulls the iterator)
//! fn rows_async(&self) -> impl Stream<Item = Row> + Send + 'static {
//!     let this = Shared::new(self);
//!     offload_iter::<Row, _>(DEFAULT_BATCH, move |pump| pump.drain(Self::rows(this.lend())))
//! }
//!
//! // async fn pages(&self) -> impl Stream<Item = Page>   (now `pages_async`)
//! fn pages<'life0, 'fut>(&'life0 self) -> impl Iterator<Item = Page> + 'fut
//! where 'life0: 'fut, Self: 'fut {
//!     stream_iter(flatten(Self::pages_async(self)))
//! }
//!
//! // in a trait: fn rows<..>(&'life0 self) -> BoxIterator<'fut, Row>;
//! //             fn rows_async<..>(&'life0 self) -> BoxStream<'fut, Row>;
//! ```

use proc_macro2::TokenStream;
use quote::{quote, ToTokens};
use syn::{ReturnType, Signature};

use crate::expand::{self, Entry};
use crate::model::{self, Plan, Twin};
use crate::streams::Items;
use crate::{bound, boxed};

/// The written entry where a streaming body changes it: in a trait or trait impl (boxed),
/// in a trait's declaration, and for a lane's iterator (which runs on the lane when called
/// off it). `None`: as for any body.
pub fn written(plan: &Plan<'_>, items: &Items) -> Option<TokenStream> {
    match (plan.twin, plan.site.boxed()) {
        (Twin::Declare, _) => Some(declared(plan, items, false)),
        (Twin::Drive, true) => Some(boxed_stream_body(plan, items)),
        (Twin::Offload | Twin::InPlace, true) => Some(boxed_iter_body(plan, items)),
        (Twin::Offload, false) if plan.lane.is_some() => Some(lane_iter_body(plan, items)),
        _ => None,
    }
}

/// The generated entry.
pub fn twin(plan: &Plan<'_>, items: &Items) -> TokenStream {
    match (plan.twin, plan.site.boxed()) {
        (Twin::Declare, _) => declared(plan, items, true),
        (Twin::Drive, false) => iter_of_stream(plan, items),
        (Twin::Drive, true) => boxed_iter_of_stream(plan, items),
        (Twin::Offload, false) => stream_of_iter(plan, items),
        (Twin::Offload, true) => boxed_stream_of_iter(plan, items),
        // Refused (a provided iterator body), reported already.
        (Twin::InPlace, _) => stub_twin(plan, items),
    }
}

/// After an error: the twin's signature, with a concrete (boxed) type where the entry
/// would return `impl Trait`, and an unreachable body.
pub fn stub_twin(plan: &Plan<'_>, items: &Items) -> TokenStream {
    let blocking = plan.twin == Twin::Drive;
    let sig = match (blocking, plan.site.boxed()) {
        (true, true) => blocking_boxed_signature(plan, items).into_token_stream(),
        (false, true) if plan.twin == Twin::Declare => return declared(plan, items, true),
        (false, true) => async_boxed_signature(plan, items, &[]).into_token_stream(),
        (true, false) => {
            let mut sig = boxed::outliving(plan, &plan.function.sig, &[]);
            let fut = boxed::future_lifetime();
            let krate = &plan.krate;
            set_output(
                &mut sig,
                items.replace(&iterator_box(krate, &fut, &items.item)),
            );
            sig.into_token_stream()
        }
        (false, false) => {
            let mut sig = plan.function.sig.clone();
            sig.asyncness = None;
            sig.ident = model::async_name(&sig.ident);
            let krate = &plan.krate;
            let stream = stream_box_static(krate, items);
            let output = if items.fallible {
                let output = items.replace(&stream);
                quote!(#krate::BoxFuture<'static, #output>)
            } else {
                stream
            };
            set_output(&mut sig, syn::parse_quote!(#output));
            sig.into_token_stream()
        }
    };
    let attrs = &plan.function.attrs;
    let vis = &plan.function.vis;
    quote! {
        #(#attrs)*
        #[allow(unused_variables, unused_mut)]
        #vis #sig { ::core::unreachable!() }
    }
}

fn stream_box_static(krate: &syn::Path, items: &Items) -> TokenStream {
    let item = &items.item;
    quote!(#krate::BoxStream<'static, #item>)
}

fn set_output(sig: &mut Signature, ty: syn::Type) {
    sig.output = ReturnType::Type(Default::default(), Box::new(ty));
}

fn iterator_box(krate: &syn::Path, lifetime: &syn::Lifetime, item: &syn::Type) -> TokenStream {
    quote!(#krate::BoxIterator<#lifetime, #item>)
}

/// The trait's stream type for `item`: `BoxStream`, or `LocalBoxStream` under `?Send`.
fn stream_box(plan: &Plan<'_>, lifetime: &syn::Lifetime, item: &syn::Type) -> TokenStream {
    let krate = &plan.krate;
    if plan.send {
        quote!(#krate::BoxStream<#lifetime, #item>)
    } else {
        quote!(#krate::LocalBoxStream<#lifetime, #item>)
    }
}

/// The function that boxes a trait method's stream.
fn stream_boxer(plan: &Plan<'_>) -> TokenStream {
    let private = &plan.private;
    if plan.send {
        quote!(#private::boxed_stream)
    } else {
        quote!(#private::boxed_local_stream)
    }
}

/// The blocking entry of a trait method with many items: the written signature, each
/// argument's lifetime outliving `'fut`, returning `BoxIterator<'fut, T>` (in its
/// `Result`, if fallible).
fn blocking_boxed_signature(plan: &Plan<'_>, items: &Items) -> Signature {
    let mut sig = boxed::outliving(plan, &plan.function.sig, &[]);
    let fut = boxed::future_lifetime();
    set_output(
        &mut sig,
        items.replace(&iterator_box(&plan.krate, &fut, &items.item)),
    );
    sig
}

/// The async entry of a trait method with many items: `BoxStream<'fut, T>`, or, if
/// fallible, `BoxFuture<'fut, Result<BoxStream<'fut, T>, E>>`.
fn async_boxed_signature(
    plan: &Plan<'_>,
    items: &Items,
    extra: &[syn::WherePredicate],
) -> Signature {
    let mut sig = boxed::outliving(plan, &plan.function.sig, extra);
    sig.ident = model::async_name(&sig.ident);
    let fut = boxed::future_lifetime();
    let stream = stream_box(plan, &fut, &items.item);
    let output = if items.fallible {
        let krate = &plan.krate;
        let output = items.replace(&stream);
        let future = if plan.send {
            quote!(#krate::BoxFuture)
        } else {
            quote!(#krate::LocalBoxFuture)
        };
        quote!(#future<#fut, #output>)
    } else {
        stream
    };
    set_output(&mut sig, syn::parse_quote!(#output));
    sig
}

/// Both entries of a trait's declaration without a body: `async_entry` chooses which.
fn declared(plan: &Plan<'_>, items: &Items, async_entry: bool) -> TokenStream {
    let name = &plan.function.sig.ident;
    let (attrs, sig) = if async_entry {
        let attrs = expand::noted_once(
            plan,
            &format!(
                "Async entry of `{name}`, declared by the `smartasync` attribute: the items as \
                 a stream. An implementation writes `{name}` once, as a `fn` returning `impl \
                 Iterator` or a function returning `impl Stream`, in an `impl` block under the \
                 `smartasync` attribute, which generates this entry."
            ),
        );
        (attrs, async_boxed_signature(plan, items, &[]))
    } else {
        (
            plan.function.attrs.clone(),
            blocking_boxed_signature(plan, items),
        )
    };
    Entry::emit(plan, true, attrs, &sig, None)
}

/// The blocking entry of a trait impl's (or a provided) `fn` body returning an iterator:
/// the body, its iterator boxed.
fn boxed_iter_body(plan: &Plan<'_>, items: &Items) -> TokenStream {
    let private = &plan.private;
    let mut sig = blocking_boxed_signature(plan, items);
    let mut rebind = expand::rename_params(&mut sig, plan);
    rebind.extend(std::iter::once(items.named()));
    let mut attrs = plan.function.attrs.clone();
    attrs.extend(expand::inner_as_outer(plan));
    attrs.push(expand::allow(quote!(clippy::redundant_closure_call)));
    let block = body_block(plan, rebind);
    let body = if items.fallible {
        let inferred = items.inferred();
        quote!({ (move || -> #inferred #block)().map(#private::boxed_iter) })
    } else {
        quote!({ #private::boxed_iter((move || #block)()) })
    };
    Entry::emit(plan, true, attrs, &sig, Some(&body))
}

/// The async entry of a trait impl's (or a provided) body returning a stream, written
/// `async fn` or `fn`: its stream boxed.
fn boxed_stream_body(plan: &Plan<'_>, items: &Items) -> TokenStream {
    let private = &plan.private;
    let mut sig = async_boxed_signature(plan, items, &expand::provided_bounds(plan));
    let mut rebind = expand::rename_params(&mut sig, plan);
    rebind.extend(std::iter::once(items.named()));
    let mut attrs = plan.function.attrs.clone();
    attrs.extend(expand::inner_as_outer(plan));
    let block = body_block(plan, rebind);
    let boxer = expand::boxer(plan);
    let stream_boxer = stream_boxer(plan);
    let fut = boxed::future_lifetime();
    let output = items.replace(&stream_box(plan, &fut, &items.item));
    let inferred = items.inferred();
    let is_async = plan.function.sig.asyncness.is_some();
    let body = match (is_async, items.fallible) {
        (true, false) => quote!({ #stream_boxer(#private::flatten(async move #block)) }),
        (true, true) => quote!({
            #boxer::<#output, _>(async move {
                #private::typed::<#inferred, _>(async move #block)
                    .await
                    .map(#stream_boxer)
            })
        }),
        (false, false) => {
            attrs.push(expand::allow(quote!(clippy::redundant_closure_call)));
            quote!({ #stream_boxer((move || #block)()) })
        }
        (false, true) => {
            attrs.push(expand::allow(quote!(clippy::redundant_closure_call)));
            quote!({
                #boxer::<#output, _>(::core::future::ready(
                    (move || -> #inferred #block)().map(#stream_boxer),
                ))
            })
        }
    };
    Entry::emit(plan, true, attrs, &sig, Some(&body))
}

/// The body as a block after `prelude`, or, where it does not parse, an unreachable one
/// (rustc reports its syntax error once, in the entry that keeps it).
fn body_block(plan: &Plan<'_>, prelude: TokenStream) -> TokenStream {
    match &plan.function.body {
        Some(body) => body.as_block(prelude),
        None => quote!({ ::core::unreachable!() }),
    }
}

/// The call that runs an iterator body where it belongs and streams its items: the values
/// that cross taken now, the body called (or its copy run) on the pool or the lane, and
/// its iterator drained there. A block expression of type `Unpacked<T>`, or, if fallible, a
/// future of `Result<Unpacked<T>, E>`.
fn stream_call(plan: &Plan<'_>, items: &Items, spanned: bool) -> TokenStream {
    let private = &plan.private;
    let (prelude, given) = expand::take_params(plan, spanned);
    let pump = model::hidden("pump");
    let iter = model::hidden("iter");
    let call = match plan.path_to(&plan.function.sig.ident) {
        Some(path) => quote!(#path(#(#given),*)),
        None => {
            let block = expand::copied_body(plan, expand::rebind(plan, &given));
            if items.fallible {
                let inferred = items.inferred();
                quote!((move || -> #inferred #block)())
            } else {
                quote!((move || #block)())
            }
        }
    };
    let drain = if items.fallible {
        quote!(#call.map(|#iter| #pump.drain(#iter)))
    } else {
        quote!(#pump.drain(#call))
    };
    let function = match (&plan.lane, items.fallible) {
        (None, false) => quote!(offload_iter),
        (None, true) => quote!(offload_try_iter),
        (Some(_), false) => quote!(lane_iter),
        (Some(_), true) => quote!(lane_try_iter),
    };
    let item = &items.item;
    let pinned = if crate::lifetime::has_impl_trait(item) {
        None
    } else if items.fallible {
        Some(quote!(::<#item, _, _>))
    } else {
        Some(quote!(::<#item, _>))
    };
    let mut function = quote!(#private::#function #pinned);
    if spanned {
        // A requirement of the items that fails is reported at their type.
        function = bound::respan(function, items.span());
    }
    let lane = plan.lane.as_ref().map(|lane| {
        let lane = expand::lane_ref(private, lane);
        quote!(#lane,)
    });
    let batch = match &plan.batch {
        // A constant of type `usize`, checked where it is written.
        Some(items) => quote!({ const BATCH: usize = #items; BATCH }),
        None => quote!(#private::DEFAULT_BATCH),
    };
    quote!({
        #prelude
        #function(#lane #batch, move |#pump| #drain)
    })
}

/// `fn foo_async(..) -> impl Stream<Item = T> + Send + 'static` for a `fn foo` body
/// returning `impl Iterator<Item = T>` (or the future of `Result<that, E>`).
fn stream_of_iter(plan: &Plan<'_>, items: &Items) -> TokenStream {
    let krate = &plan.krate;
    let name = &plan.function.sig.ident;
    let mut attrs = expand::noted(
        plan,
        &format!(
            "Async entry, generated by the `smartasync` attribute from the `fn` of the same \
             name without `_async`: the same iterator as a stream. {} The iterator is made and \
             pulled there, its items handed over in batches; dropping the stream stops it \
             before its next item (and cancels the call: `smartasync::cancelled`) and drops it \
             on its thread. The stream is `Send + 'static`.",
            where_it_runs(plan)
        ),
    );
    if plan.has_type_parameters() {
        attrs.push(expand::allow(quote!(clippy::multiple_bound_locations)));
    }
    let mut sig = plan.function.sig.clone();
    sig.ident = model::async_name(name);
    expand::plain_params(&mut sig, plan);
    let predicates = expand::crossing_bounds(plan, &mut sig);
    if plan.copies_body() {
        attrs.extend(expand::inner_as_outer(plan));
        attrs.push(expand::allow(quote!(clippy::redundant_closure_call)));
    }
    let body = stream_call(plan, items, false);
    sig.generics
        .make_where_clause()
        .predicates
        .extend(predicates);
    let item = &items.item;
    let stream = quote!(impl #krate::Stream<Item = #item> + ::core::marker::Send + 'static);
    let output = if items.fallible {
        let output = items.replace(&stream);
        quote!(impl ::core::future::Future<Output = #output> + ::core::marker::Send + 'static)
    } else {
        stream
    };
    set_output(&mut sig, syn::parse_quote!(#output));
    Entry::emit(plan, false, attrs, &sig, Some(&body))
}

/// The doc paragraph of the blocking entry of a stream.
const STREAM_BLOCKING: &str =
    "Blocking entry, generated by the `smartasync` attribute from the function \
     of the same name with `_async`: the same stream as an iterator, each `next()` driving the \
     stream on the calling thread (`smartasync::block_on_stream`). It can be called from any \
     context, including from inside a Tokio runtime.";

/// The boxed async entry of a trait impl's `fn` body returning an iterator.
fn boxed_stream_of_iter(plan: &Plan<'_>, items: &Items) -> TokenStream {
    let attrs = expand::noted(
        plan,
        &format!(
            "Async entry, generated by the `smartasync` attribute from the `fn` of the same \
             name without `_async`: the same iterator as a stream. {} The iterator is made and \
             pulled there, its items handed over in batches; dropping the stream stops it \
             before its next item (and cancels the call: `smartasync::cancelled`) and drops it \
             on its thread.",
            where_it_runs(plan)
        ),
    );
    let mut sig = async_boxed_signature(plan, items, &[]);
    expand::plain_params(&mut sig, plan);
    let checks = expand::requirement_checks(plan);
    let call = stream_call(plan, items, true);
    let stream_boxer = stream_boxer(plan);
    let body = if items.fallible {
        let boxer = expand::boxer(plan);
        let fut = boxed::future_lifetime();
        let output = items.replace(&stream_box(plan, &fut, &items.item));
        let opened = model::hidden("opened");
        quote!({
            #checks
            let #opened = #call;
            #boxer::<#output, _>(async move { #opened.await.map(#stream_boxer) })
        })
    } else {
        quote!({ #checks #stream_boxer(#call) })
    };
    Entry::emit(plan, true, attrs, &sig, Some(&body))
}

/// Where an offloaded iterator runs, for the docs.
fn where_it_runs(plan: &Plan<'_>) -> String {
    match &plan.lane {
        None => "It runs the body on a blocking-pool thread (`smartasync::unblock_iter`), with \
                 owned copies of its arguments taken when it is called."
            .to_owned(),
        Some(lane) => format!(
            "It runs the body on a thread of the lane `{}` (`smartasync::Lane`), after the \
             calls queued before it, with owned copies of its arguments taken when it is \
             called; the stream holds that thread until it ends or is dropped.",
            quote!(#lane).to_string().replace(' ', "")
        ),
    }
}

/// The written entry of a lane's iterator body: called off the lane, it streams the body's
/// items from the lane and iterates them here; on the lane, it is the body.
fn lane_iter_body(plan: &Plan<'_>, items: &Items) -> TokenStream {
    let krate = &plan.krate;
    let private = &plan.private;
    let function = plan.function;
    let lane = expand::lane_ref(private, plan.lane.as_ref().expect("a lane body"));
    let call = stream_call(plan, items, true);
    let private = &plan.private;
    let call = quote!(#private::for_blocking_caller(move || #call));
    let block = body_block(plan, TokenStream::new());
    let (left, right) = if items.fallible {
        let inferred = items.inferred();
        (
            quote!(#private::block_on(#call).map(|s| #private::Either::Left(#private::stream_iter(s)))),
            quote!((move || -> #inferred #block)().map(#private::Either::Right)),
        )
    } else {
        (
            quote!(#private::Either::Left(#private::stream_iter(#call))),
            quote!(#private::Either::Right((move || #block)())),
        )
    };
    let mut attrs = function.attrs.clone();
    attrs.extend(expand::inner_as_outer(plan));
    attrs.push(expand::allow(quote!(clippy::redundant_closure_call)));
    Entry {
        boxed: false,
        attrs,
        sig: function.sig.to_token_stream(),
        body: Some(quote!({
            if !#krate::Lane::is_current(#lane) {
                return #left;
            }
            #right
        })),
    }
    .tokens(plan)
}

/// `fn foo(..) -> impl Iterator<Item = T> + 'fut` for a body returning a stream (`async
/// fn` or `fn`, now `foo_async`): each `next()` driving the stream on the calling thread.
fn iter_of_stream(plan: &Plan<'_>, items: &Items) -> TokenStream {
    let private = &plan.private;
    let function = plan.function;
    let async_name = model::async_name(&function.sig.ident);
    let mut attrs = expand::noted(plan, STREAM_BLOCKING);
    let mut sig = boxed::outliving(plan, &function.sig, &[]);
    let fut = boxed::future_lifetime();
    let item = &items.item;
    set_output(
        &mut sig,
        items.replace(&quote!(impl ::core::iter::Iterator<Item = #item> + #fut)),
    );
    let is_async = function.sig.asyncness.is_some();
    let inferred = items.inferred();
    let body = match plan.path_to(&async_name) {
        Some(path) => {
            expand::plain_params(&mut sig, plan);
            let args = expand::arguments(plan);
            let call = quote!(#path(#(#args),*));
            match (is_async, items.fallible) {
                (true, false) => quote!(#private::stream_iter(#private::flatten(#call))),
                (true, true) => quote!(#private::block_on(#call).map(#private::stream_iter)),
                // A `fn` body makes its stream when called: where the stream is driven.
                (false, false) => {
                    quote!(#private::stream_iter(#private::made_in_context(|| #call)))
                }
                (false, true) => {
                    quote!(#private::made_in_context(|| #call).map(#private::stream_iter))
                }
            }
        }
        None => {
            attrs.extend(expand::inner_as_outer(plan));
            let block = expand::copied_body(plan, TokenStream::new());
            match (is_async, items.fallible) {
                (true, false) => {
                    quote!(#private::stream_iter(#private::flatten(async move #block)))
                }
                (true, true) => quote!(
                    #private::block_on_as::<#inferred, _>(async move #block)
                        .map(#private::stream_iter)
                ),
                (false, false) => {
                    quote!(#private::stream_iter(#private::made_in_context(move || #block)))
                }
                (false, true) => quote!(
                    #private::made_in_context(move || -> #inferred #block)
                        .map(#private::stream_iter)
                ),
            }
        }
    };
    Entry::emit(plan, false, attrs, &sig, Some(&quote!({ #body })))
}

/// The blocking entry of a trait impl's body returning a stream: the boxed stream of the
/// async entry, iterated.
fn boxed_iter_of_stream(plan: &Plan<'_>, items: &Items) -> TokenStream {
    let private = &plan.private;
    let async_name = model::async_name(&plan.function.sig.ident);
    let attrs = expand::noted(plan, STREAM_BLOCKING);
    let mut sig = blocking_boxed_signature(plan, items);
    expand::plain_params(&mut sig, plan);
    let path = plan
        .path_to(&async_name)
        .expect("a trait's entries name each other");
    let args = expand::arguments(plan);
    let call = quote!(#path(#(#args),*));
    // The async entry of a `fn` body makes its stream when called: made where the stream
    // is driven.
    let body = if items.fallible {
        quote!({ #private::block_on(async { #call.await }).map(#private::block_on_stream) })
    } else if plan.function.sig.asyncness.is_none() {
        quote!({ #private::block_on_stream(#private::made_in_context(|| #call)) })
    } else {
        quote!({ #private::block_on_stream(#call) })
    };
    Entry::emit(plan, true, attrs, &sig, Some(&body))
}
