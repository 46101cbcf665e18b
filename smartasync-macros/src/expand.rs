//! Code generation for one function: the written entry, kept as written where it can be,
//! and its generated twin. Every entry is assembled the same way ([`Entry`]): attributes
//! with a note naming its twin, a signature derived from the written one, and a body that
//! reaches the written function (or, for a lone function without `self`, a copy of its
//! body).

use proc_macro2::TokenStream;
use quote::{quote, ToTokens, TokenStreamExt};
use syn::{
    AttrStyle, Attribute, FnArg, Ident, Pat, PatIdent, Path, ReturnType, Signature, WherePredicate,
};

use crate::model::{self, Crossing, Plan, Site, Twin};
use crate::{bound, boxed, lifetime, streamed};

/// The written function and its twin; with `stub`, after an error, the twin keeps its
/// signature but not its body, so that callers of either entry see only the real error.
pub fn pair(plan: &Plan<'_>, stub: bool) -> TokenStream {
    if stub {
        // In a trait or trait impl, a qualifier we refuse (`const`, `extern`, `unsafe`) is left out of
        // the fallback too: the trait's declaration has none, and rustc would report the
        // same mistake a second time.
        let mut function = plan.function.clone();
        if plan.site.boxed() {
            function.verbatim = None;
            function.sig.constness = None;
            function.sig.abi = None;
            function.sig.unsafety = None;
            // `foo_async` written for `foo`: the fallback is the pair the trait declares.
            if let Some(stem) = model::stem(&function.sig.ident.to_string()) {
                function.sig.ident = Ident::new(stem, function.sig.ident.span());
            }
        }
        // As written otherwise: no limit or lane around a body whose plan failed.
        let plan = Plan {
            limit: None,
            lane: None,
            function: &function,
            ..plan.clone()
        };
        let mut tokens = written(&plan);
        tokens.extend(std::iter::once(stub_twin(&plan)));
        return tokens;
    }
    // Joined by value: a stream interpolated by reference is copied first.
    let mut tokens = written(plan);
    tokens.extend(std::iter::once(twin(plan)));
    tokens
}

/// One generated function: attributes, a signature and a body (`None`: a declaration).
pub(crate) struct Entry {
    pub attrs: Vec<Attribute>,
    pub sig: TokenStream,
    pub body: Option<TokenStream>,
    /// A trait method's boxed async entry, whose `T: 'fut` bounds it adds.
    pub boxed: bool,
}

impl Entry {
    /// The entry made of these parts, each printed into one stream (a part that is a token
    /// stream of its own is joined to it, a round trip to the compiler: the common entries
    /// pass parts that print themselves).
    pub(crate) fn emit(
        plan: &Plan<'_>,
        boxed: bool,
        attrs: Vec<Attribute>,
        sig: &dyn ToTokens,
        body: Option<&dyn ToTokens>,
    ) -> TokenStream {
        let attrs = Self::attrs(plan, boxed, attrs);
        let mut tokens = TokenStream::new();
        tokens.append_all(&attrs);
        plan.function.vis.to_tokens(&mut tokens);
        plan.function.defaultness.to_tokens(&mut tokens);
        sig.to_tokens(&mut tokens);
        match body {
            Some(body) => body.to_tokens(&mut tokens),
            None => <syn::Token![;]>::default().to_tokens(&mut tokens),
        }
        tokens
    }

    pub(crate) fn tokens(self, plan: &Plan<'_>) -> TokenStream {
        let Entry {
            attrs,
            sig,
            body,
            boxed,
        } = self;
        Self::emit(
            plan,
            boxed,
            attrs,
            &sig,
            body.as_ref().map(|body| body as _),
        )
    }

    fn attrs(plan: &Plan<'_>, boxed: bool, mut attrs: Vec<Attribute>) -> Vec<Attribute> {
        if boxed && plan.has_type_parameters() {
            // A boxed entry's `T: 'fut` may repeat where a type parameter has its bounds.
            attrs.push(allow(quote!(clippy::multiple_bound_locations)));
        }
        let underscored = || {
            plan.params.iter().any(|param| {
                let name = param.name.to_string();
                name.starts_with('_') && !name.starts_with("__smartasync")
            })
        };
        if plan.copies_body() && underscored() {
            // The copy of the body rebinds an `_x` argument from what crossed (`let _x =
            // &*_x;`): a use of `_x`, and a binding of it, that are ours, not the user's.
            attrs.push(allow(quote!(
                clippy::used_underscore_binding,
                clippy::no_effect_underscore_binding
            )));
        }
        attrs
    }
}

/// The written function: as written, renamed `foo_async` for an `async fn` body; in a
/// trait or trait impl an `async fn` body becomes the boxed async entry.
fn written(plan: &Plan<'_>) -> TokenStream {
    if let Some(written) = plan
        .items
        .as_ref()
        .and_then(|items| streamed::written(plan, items))
    {
        return written;
    }
    let function = plan.function;
    let mut attrs = function.attrs.clone();
    if plan.copies_body() {
        // The generated entry holds its own copy of the body, so using only that one would
        // leave the written one "never used": a warning about our split, not the user's code.
        attrs.push(allow(quote!(dead_code)));
    }
    if plan.twin == Twin::Drive && plan.site.boxed() {
        return boxed_body(plan).tokens(plan);
    }
    let renamed = (plan.twin == Twin::Drive).then(|| model::async_name(&function.sig.ident));
    let declared = plan.twin == Twin::Declare;
    // Copied only where it changes, and not printed back where its tokens are at hand.
    let verbatim = function
        .verbatim
        .as_ref()
        .map(|verbatim| verbatim.written(renamed.as_ref(), declared));
    let mut sig = std::borrow::Cow::Borrowed(&function.sig);
    if verbatim.is_none() {
        if let Some(renamed) = renamed {
            sig.to_mut().ident = renamed;
        }
        if declared {
            sig.to_mut().asyncness = None;
        }
    }
    let sig: &dyn ToTokens = match &verbatim {
        Some(verbatim) => verbatim,
        None => &sig,
    };
    let awaited = plan.twin == Twin::Drive;
    let mut prelude = lane_dispatch(plan);
    prelude.extend(std::iter::once(limit_prelude(plan, awaited)));
    let body = function
        .body
        .as_ref()
        .map(|body| -> Box<dyn ToTokens + '_> {
            if prelude.is_empty() {
                Box::new(body)
            } else {
                Box::new(body.with_prelude(prelude))
            }
        });
    Entry::emit(plan, false, attrs, &sig, body.as_deref())
}

/// The generated entry.
fn twin(plan: &Plan<'_>) -> TokenStream {
    let unparsed = || {
        plan.function
            .body
            .as_ref()
            .is_some_and(|body| body.stmts().is_none())
    };
    if plan.copies_body() && unparsed() {
        // Its body is left out (see `copied_body`), so its arguments go unused.
        let twin = twin_entry(plan);
        return quote!(#[allow(unused_variables)] #twin);
    }
    twin_entry(plan)
}

fn twin_entry(plan: &Plan<'_>) -> TokenStream {
    if let Some(items) = &plan.items {
        return streamed::twin(plan, items);
    }
    match (plan.twin, plan.site.boxed()) {
        (Twin::Drive, _) => blocking(plan),
        (Twin::Offload, false) => offloaded(plan),
        (Twin::Offload, true) => boxed_offloaded(plan),
        (Twin::InPlace, false) => in_place(plan),
        (Twin::InPlace, true) => boxed_in_place(plan),
        (Twin::Declare, _) => declared(plan),
    }
}

/// `async fn foo_async(..) -> T` in a trait or trait impl: the body in a boxed future.
fn boxed_body(plan: &Plan<'_>) -> Entry {
    let mut attrs = plan.function.attrs.clone();
    attrs.extend(inner_as_outer(plan));
    let mut sig = boxed::signature(plan, &plan.function.sig, &provided_bounds(plan));
    let rebind = rename_params(&mut sig, plan);
    // The body is moved here as written: a `mut self` stays `mut`.
    if let (Some(FnArg::Receiver(receiver)), Some(written)) =
        (sig.inputs.first_mut(), plan.function.sig.receiver())
    {
        receiver.mutability = written.mutability;
    }
    let output = output_type(&plan.function.sig.output);
    let boxer = boxer(plan);
    let prelude = limit_prelude(plan, true);
    let body = plan
        .function
        .body
        .as_ref()
        .map(|body| body.as_block(quote!(#rebind #prelude)));
    Entry {
        boxed: true,
        attrs,
        sig: sig.into_token_stream(),
        body: Some(quote!({ #boxer::<#output, _>(async move #body) })),
    }
}

/// The doc paragraph of the blocking entry of an `async fn` body.
const BLOCKING: &str =
    "Blocking entry, generated by the `smartasync` attribute from the `async fn` of the \
     same name with `_async`: runs the same `async` body to completion on the calling thread \
     (`smartasync::block_on`). It can be called from any context, including from inside a \
     Tokio runtime.";

/// `fn foo(..) -> T` for an `async fn foo` body (now `foo_async`): drives it on the
/// caller's thread.
fn blocking(plan: &Plan<'_>) -> TokenStream {
    let private = &plan.private;
    let function = plan.function;
    let async_name = model::async_name(&function.sig.ident);
    let mut attrs = noted(plan, BLOCKING);
    let path = plan.path_to(&async_name);
    // As written without `async`, where its arguments are (a copied body keeps them).
    let verbatim = function
        .verbatim
        .as_ref()
        .filter(|verbatim| path.is_none() || verbatim.plain_arguments())
        .map(|verbatim| verbatim.written(None, true));
    let mut sig = std::borrow::Cow::Borrowed(&function.sig);
    if verbatim.is_none() {
        sig.to_mut().asyncness = None;
    }
    let body: Box<dyn ToTokens> = match path {
        Some(path) => {
            if verbatim.is_none() {
                plain_params(sig.to_mut(), plan);
            }
            let args = arguments(plan);
            let call = quote!(#private::block_on(#path(#(#args),*)));
            Box::new(proc_macro2::Group::new(proc_macro2::Delimiter::Brace, call))
        }
        None => {
            attrs.extend(inner_as_outer(plan));
            let block = copied_body(plan, limit_prelude(plan, true));
            Box::new(match pinned_output(&function.sig.output) {
                Some(output) => {
                    quote!({ #private::block_on_as::<#output, _>(async move #block) })
                }
                None => quote!({ #private::block_on(async move #block) }),
            })
        }
    };
    let sig: &dyn ToTokens = match &verbatim {
        Some(verbatim) => verbatim,
        None => &sig,
    };
    Entry::emit(plan, false, attrs, &sig, Some(&*body))
}

const OFFLOADED: &str = "runs the same body on a blocking-pool thread (`smartasync::unblock`), \
     so awaiting it never blocks the async threads. It takes owned copies of its arguments when \
     it is called (`&self` is cloned, `&T` arguments are copied with `ToOwned`), so the body \
     holds no borrow of the caller's. Nothing runs until the future is first polled; dropped \
     before the body starts, the body never runs; after, the call is cancelled \
     (`smartasync::cancelled`, `smartasync::on_cancel`).";

/// What an offloading entry does, for its doc paragraph.
pub(crate) fn offloaded_text(plan: &Plan<'_>) -> String {
    match &plan.lane {
        None => OFFLOADED.to_owned(),
        Some(lane) => format!(
            "runs the same body on a thread of the lane `{}` (`smartasync::Lane`), after the \
             calls queued before it, so awaiting it never blocks the async threads. It takes \
             owned copies of its arguments when it is called (`&self` is cloned, `&T` \
             arguments are copied with `ToOwned`). Nothing is queued until the future is first \
             polled; dropped before the body starts, the body never runs; after, the call is \
             cancelled (`smartasync::cancelled`, `smartasync::on_cancel`).",
            quote!(#lane).to_string().replace(' ', "")
        ),
    }
}

/// `fn foo_async(..) -> impl Future<Output = T> + Send + 'static` for a `fn foo` body: takes
/// owned copies of what the body uses and runs it on the blocking pool. The requirements on
/// the values that cross are bounds of this function, reported at the user's types.
fn offloaded(plan: &Plan<'_>) -> TokenStream {
    let name = &plan.function.sig.ident;
    let mut attrs = noted(
        plan,
        &format!(
            "Async entry, generated by the `smartasync` attribute from the `fn` of the same \
             name without `_async`: {} Its future is `Send + 'static`.",
            offloaded_text(plan)
        ),
    );
    if plan.has_type_parameters() {
        // The bounds this entry adds may repeat a generic's bounds in the `where` clause.
        attrs.push(allow(quote!(clippy::multiple_bound_locations)));
    }
    let mut sig = plan.function.sig.clone();
    sig.ident = model::async_name(name);
    plain_params(&mut sig, plan);
    let predicates = crossing_bounds(plan, &mut sig);
    if plan.copies_body() {
        attrs.extend(inner_as_outer(plan));
    }
    let body = offload_call(plan, false, Runner::Pool);
    let output = &plan
        .output
        .as_ref()
        .expect("an offloaded body has an output")
        .0;
    // `fn foo_async(args)` copied from the written tokens where it can be: no generics or
    // `where` clause of its own, arguments written as they are.
    let head = plan
        .function
        .verbatim
        .as_ref()
        .and_then(|verbatim| verbatim.entry_head(sig.ident.clone()));
    if let Some(head) = head {
        let where_clause = syn::WhereClause {
            where_token: Default::default(),
            predicates: predicates.into_iter().collect(),
        };
        let sig = OffloadedSignature {
            head,
            output,
            where_clause,
            private: plan
                .private
                .get_ident()
                .filter(|private| *private == model::PRIVATE),
        };
        return Entry::emit(plan, false, attrs, &sig, Some(&body));
    }
    sig.output = ReturnType::Default;
    sig.generics
        .make_where_clause()
        .predicates
        .extend(predicates);
    let output =
        quote!(-> impl ::core::future::Future<Output = #output> + ::core::marker::Send + 'static);
    let sig = signature_with_output(&sig, output);
    Entry::emit(plan, false, attrs, &sig, Some(&body))
}

/// The boxed async entry of a `fn foo` body in a trait impl: as [`offloaded`], but its
/// signature is the trait's, so the requirements are checked in the body, still spanned at
/// the user's tokens.
fn boxed_offloaded(plan: &Plan<'_>) -> TokenStream {
    let output = &plan
        .output
        .as_ref()
        .expect("an offloaded body has an output")
        .0;
    let attrs = noted(
        plan,
        &format!(
            "Async entry, generated by the `smartasync` attribute from the `fn` of the same \
             name without `_async`: {}",
            offloaded_text(plan)
        ),
    );
    let mut sig = boxed::signature(plan, &plan.function.sig, &[]);
    plain_params(&mut sig, plan);
    let checks = requirement_checks(plan);
    let call = offload_call(plan, true, Runner::Pool);
    // At the output's token, as the call it boxes: a requirement of the output that the
    // boxed future inherits is the failure already reported there.
    let output_span = plan.output.as_ref().map(|(_, span)| *span);
    let boxer = boxer(plan);
    let boxer = bound::respan(
        quote!(#boxer::<#output, _>),
        output_span.expect("an output"),
    );
    let arguments = call_arguments(call.into_token_stream(), output_span);
    Entry::emit(
        plan,
        true,
        attrs,
        &sig,
        Some(&quote!({ #checks #boxer #arguments })),
    )
}

/// In an entry whose signature is a trait's (so it cannot carry bounds of its own), each
/// requirement on a value that crosses, checked first, by a call spanned at the user's
/// type: a failure is reported there, with the helper trait's own message and nothing
/// else (no suggestion about the argument, which such a call has none of), and the same
/// failure met again further on is the same error, reported once.
pub(crate) fn requirement_checks(plan: &Plan<'_>) -> TokenStream {
    let private = &plan.private;
    let mut checks = TokenStream::new();
    let mut check = |helper: model::Helper, ty: &syn::Type, span: proc_macro2::Span| {
        if lifetime::has_impl_trait(ty) {
            return;
        }
        // Every token at the user's one, the type's too: the failure is reported there,
        // where the later uses of the value fail the same way and so add nothing.
        let function = helper.check(private);
        let call = bound::respan(quote!(#function::<#ty>()), span);
        checks.extend(std::iter::once(quote!(#call;)));
    };
    for (param, input) in plan.params.iter().zip(&plan.function.sig.inputs) {
        match (&param.crossing, input) {
            (Crossing::Shared(ty) | Crossing::Moved(ty), FnArg::Receiver(_)) => {
                check(param.crossing.helper().expect("crosses"), ty, param.span);
            }
            (Crossing::Copied, FnArg::Typed(arg)) => {
                if let syn::Type::Reference(reference) = crate::valid::ungrouped(&arg.ty) {
                    check(model::Helper::Copyable, &reference.elem, param.span);
                }
            }
            (Crossing::Moved(_), FnArg::Typed(arg)) => {
                check(model::Helper::Movable, &arg.ty, param.span);
            }
            _ => {}
        }
    }
    match (&plan.output, &plan.items) {
        (Some((item, span)), Some(_)) => check(model::Helper::Yieldable, item, *span),
        (Some((output, span)), None) if !crate::valid::always_crosses(output) => {
            check(model::Helper::Returnable, output, *span);
        }
        (Some(_), None) | (None, _) => {}
    }
    checks
}

/// The bounds that make a failed requirement speak of `#[smartasync]` at the user's type:
/// one per value that crosses, and the result.
pub(crate) fn crossing_bounds(plan: &Plan<'_>, sig: &mut Signature) -> Vec<WherePredicate> {
    let private = &plan.private;
    let mut predicates = Vec::new();
    for (param, input) in plan.params.iter().zip(&mut sig.inputs) {
        let Some(helper) = param.crossing.helper() else {
            continue;
        };
        match (&param.crossing, input) {
            (Crossing::Shared(ty) | Crossing::Moved(ty), FnArg::Receiver(_)) => {
                let mut ty = ty.clone();
                predicates.extend(bound::require(&mut ty, private, helper, param.span));
            }
            (Crossing::Copied, FnArg::Typed(arg)) => {
                if let syn::Type::Reference(reference) = crate::valid::ungrouped_mut(&mut arg.ty) {
                    predicates.extend(bound::require_referent(
                        reference, private, helper, param.span,
                    ));
                }
            }
            (_, FnArg::Typed(arg)) => {
                predicates.extend(bound::require(&mut arg.ty, private, helper, param.span));
            }
            (_, FnArg::Receiver(_)) => {}
        }
    }
    match (&plan.output, &plan.items) {
        (Some((item, span)), Some(items)) => {
            // The items cross one by one, and a `Result`'s error crosses back.
            let mut item = item.clone();
            predicates.extend(bound::require(
                &mut item,
                private,
                model::Helper::Yieldable,
                *span,
            ));
            if items.fallible {
                let mut rest = items.replace(&quote!(()));
                let span = bound::end_span(&items.output);
                predicates.extend(bound::require(
                    &mut rest,
                    private,
                    model::Helper::Returnable,
                    span,
                ));
            }
        }
        (Some((output, span)), None) if !crate::valid::always_crosses(output) => {
            let mut output = output.clone();
            predicates.extend(bound::require(
                &mut output,
                private,
                model::Helper::Returnable,
                *span,
            ));
        }
        (Some(_), None) | (None, _) => {}
    }
    predicates
}

/// `fn foo_async(args) -> impl ::core::future::Future<Output = T> + ::core::marker::Send +
/// 'static where ..`, printed in place from the written tokens of `fn foo(args)`.
struct OffloadedSignature<'a> {
    head: crate::signature::Written<'a>,
    output: &'a syn::Type,
    where_clause: syn::WhereClause,
    /// The private module's name where a block imports it, whose re-exports of `Future`
    /// and `Send` are shorter paths than `::core::..`.
    private: Option<&'a Ident>,
}

impl ToTokens for OffloadedSignature<'_> {
    fn to_tokens(&self, tokens: &mut TokenStream) {
        use proc_macro2::{
            Punct,
            Spacing::{Alone, Joint},
        };
        let call_site = proc_macro2::Span::call_site();
        let path = |tokens: &mut TokenStream, names: [&str; 3]| {
            for name in names {
                tokens.append(Punct::new(':', Joint));
                tokens.append(Punct::new(':', Alone));
                tokens.append(Ident::new(name, call_site));
            }
        };
        let std_path = |tokens: &mut TokenStream, names: [&str; 3]| match self.private {
            Some(private) => {
                tokens.append(private.clone());
                tokens.append(Punct::new(':', Joint));
                tokens.append(Punct::new(':', Alone));
                tokens.append(Ident::new(names[2], call_site));
            }
            None => path(tokens, names),
        };
        self.head.to_tokens(tokens);
        tokens.append(Punct::new('-', Joint));
        tokens.append(Punct::new('>', Alone));
        tokens.append(Ident::new("impl", call_site));
        std_path(tokens, ["core", "future", "Future"]);
        tokens.append(Punct::new('<', Alone));
        tokens.append(Ident::new("Output", call_site));
        tokens.append(Punct::new('=', Alone));
        self.output.to_tokens(tokens);
        tokens.append(Punct::new('>', Alone));
        tokens.append(Punct::new('+', Alone));
        std_path(tokens, ["core", "marker", "Send"]);
        tokens.append(Punct::new('+', Alone));
        tokens.append(Punct::new('\'', Joint));
        tokens.append(Ident::new("static", call_site));
        self.where_clause.to_tokens(tokens);
    }
}

/// What [`offload_call`] answers for the common async entry (a method's, without a limit or a lane),
/// written token by token into one group: built from joined token streams, as the general
/// one is, it makes a round trip to the compiler for each of its parts.
///
/// `{ let a = Wrapper::new(a); ..; private::offload(move || Self::foo((&a).lend(), ..)) }`
fn offload_group(plan: &Plan<'_>) -> Option<proc_macro2::Group> {
    use proc_macro2::{
        Delimiter, Group, Punct,
        Spacing::{Alone, Joint},
    };
    if plan.lane.is_some() || plan.limit.is_some() || plan.copies_body() {
        return None;
    }
    let call_site = proc_macro2::Span::call_site();
    let ident = |name: &str| Ident::new(name, call_site);
    let path_sep = |tokens: &mut TokenStream| {
        tokens.append(Punct::new(':', Joint));
        tokens.append(Punct::new(':', Alone));
    };
    let (prelude, given) = take_params(plan, false);
    let mut block = prelude;
    plan.private.to_tokens(&mut block);
    path_sep(&mut block);
    block.append(ident("offload"));
    // No `::<_, Output>`: the output is the called method's, so nothing in the closure is
    // left to infer (a copied body, whose `?` would be, is never written here).
    //
    // `(move || Self::foo(given, ..))`
    let mut call = TokenStream::new();
    call.append(ident("move"));
    call.append(Punct::new('|', Joint));
    call.append(Punct::new('|', Alone));
    plan.path_to(&plan.function.sig.ident)?.to_tokens(&mut call);
    let mut arguments = TokenStream::new();
    for (index, given) in given.iter().enumerate() {
        if index > 0 {
            arguments.append(Punct::new(',', Alone));
        }
        given.to_tokens(&mut arguments);
    }
    call.append(Group::new(Delimiter::Parenthesis, arguments));
    block.append(Group::new(Delimiter::Parenthesis, call));
    Some(Group::new(Delimiter::Brace, block))
}

/// The body of an offloading entry: take each value that crosses, then hand the call (or
/// the copied body) to the blocking pool. With `spanned`, the helpers are named with the
/// spans of the user's tokens, so that a requirement that fails inside this body is
/// reported there.
fn offload_call(plan: &Plan<'_>, spanned: bool, runner: Runner) -> proc_macro2::Group {
    if let (false, Runner::Pool, Some(group)) = (spanned, runner, offload_group(plan)) {
        return group;
    }
    let braced = |tokens| proc_macro2::Group::new(proc_macro2::Delimiter::Brace, tokens);
    let private = &plan.private;
    let runner = match (runner, &plan.lane) {
        (Runner::Pool, Some(_)) => Runner::LaneAsync,
        (runner, _) => runner,
    };
    let (prelude, given) = take_params(plan, spanned);
    let output_span = plan
        .output
        .as_ref()
        .expect("an offloaded body has an output")
        .1;
    let function = match runner {
        Runner::Pool => quote!(offload),
        Runner::LaneAsync => quote!(lane_async),
        Runner::LaneBlocking => quote!(lane_blocking),
    };
    let offload = match pinned_output(&plan.function.sig.output) {
        Some(output) => quote!(#private::#function::<_, #output>),
        None => quote!(#private::#function),
    };
    let offload = if spanned {
        bound::respan(offload, output_span)
    } else {
        offload
    };
    let body = match plan.path_to(&plan.function.sig.ident) {
        Some(path) => quote!(#path(#(#given),*)),
        None => copied_body(plan, rebind(plan, &given)),
    };
    let lane = plan.lane.as_ref().map(|lane| {
        let lane = lane_ref(private, lane);
        quote!(#lane,)
    });
    let Some(site) = limit_site(plan) else {
        let arguments = call_arguments(quote!(#lane move || #body), spanned.then_some(output_span));
        return braced(quote!(#prelude #offload #arguments));
    };
    // The permit is awaited before the body takes a thread, and goes with the body, whose
    // thread holds it so that the written body takes no second one.
    let owner = limit_owner(plan);
    let offload = match pinned_output(&plan.function.sig.output) {
        Some(output) => quote!(#private::offload_limited::<_, #output>),
        None => quote!(#private::offload_limited),
    };
    let offload = if spanned {
        bound::respan(offload, output_span)
    } else {
        offload
    };
    let limited = call_arguments(
        quote!(&__SMARTASYNC_LIMIT, #owner, move || #body),
        spanned.then_some(output_span),
    );
    braced(quote!(#prelude #site #offload #limited))
}

/// The statements that take each value that crosses when an offloading entry is called,
/// and the expressions that give the body its arguments back from what was taken.
pub(crate) fn take_params<'a>(
    plan: &'a Plan<'_>,
    spanned: bool,
) -> (TokenStream, Vec<model::Wrapping<'a>>) {
    let private = &plan.private;
    let mut names = Vec::new();
    let mut takes = Vec::new();
    let mut given = Vec::new();
    // The receiver, if any, is the first parameter (compared without printing names).
    let has_receiver = plan.function.sig.receiver().is_some();
    for (index, param) in plan.params.iter().enumerate() {
        let is_self = index == 0 && has_receiver;
        let name = if is_self && spanned {
            // At the user's `self`, so that the clone's type is checked there too.
            Ident::new("__smartasync_self", param.span)
        } else if is_self {
            model::hidden("self")
        } else {
            param.name.clone()
        };
        let (take, give) =
            param
                .crossing
                .wrap(private, &param.name, &name, spanned.then_some(param.span));
        // A value that crosses as it is, under its own name, needs no statement.
        if !take.is_plain() || is_self {
            names.push(name);
            takes.push(take);
        }
        given.push(give);
    }
    (quote!(#(let #names = #takes;)*), given)
}

/// `(arguments)`, the parentheses at `span` where given: a call whose path and parentheses
/// carry the user's span is reported there as a whole, not at the attribute.
fn call_arguments(arguments: TokenStream, span: Option<proc_macro2::Span>) -> TokenStream {
    let mut group = proc_macro2::Group::new(proc_macro2::Delimiter::Parenthesis, arguments);
    if let Some(span) = span {
        group.set_span(span);
    }
    group.into_token_stream()
}

/// Where an offloaded body runs.
#[derive(Clone, Copy)]
enum Runner {
    /// The blocking pool, or the function's lane if it has one (the async entry).
    Pool,
    /// The function's lane, called from the async entry.
    LaneAsync,
    /// The function's lane, called from the blocking entry on another thread.
    LaneBlocking,
}

/// The start of a lane's written body: run where it is when on the lane, else queued on
/// the lane and waited for, with owned copies of the arguments (a job for another thread
/// is `'static`).
fn lane_dispatch(plan: &Plan<'_>) -> TokenStream {
    let (Some(lane), Twin::Offload) = (&plan.lane, plan.twin) else {
        return TokenStream::new();
    };
    let krate = &plan.krate;
    let private = &plan.private;
    let lane = lane_ref(private, lane);
    let queued = offload_call(plan, true, Runner::LaneBlocking);
    quote! {
        if !#krate::Lane::is_current(#lane) {
            return #queued;
        }
    }
}

/// `&'static Lane` from the user's path, checked by a helper trait spanned at the path so
/// that a path to something else is reported in smartasync's words.
pub(crate) fn lane_ref(private: &Path, lane: &Path) -> TokenStream {
    let span = bound::end_span_of(lane);
    let check = bound::respan(quote!(#private::lane), span);
    // The whole call at the path, so that a failure is reported there, not at the
    // attribute of the block the method is in.
    let borrow = bound::respan(quote!(&), span);
    let arguments = call_arguments(quote!(#borrow #lane), Some(span));
    quote!(#check #arguments)
}

/// `limit = N`: the `static` through which an entry finds the function's limit, shared by
/// both entries through a key made of where the attribute was written and the name.
fn limit_site(plan: &Plan<'_>) -> Option<TokenStream> {
    let permits = plan.limit.as_ref()?;
    let private = &plan.private;
    let name = plan.function.sig.ident.to_string();
    Some(quote! {
        static __SMARTASYNC_LIMIT: #private::LimitSite =
            #private::LimitSite::new(
                ::core::concat!(
                    ::core::file!(), ":", ::core::line!(), ":", ::core::column!(), "::", #name
                ),
                #permits,
            );
    })
}

/// Who a limited function belongs to, which with the place of the attribute and the name
/// identifies it at run time: `Self` for a method (the attribute may have been written by a
/// `macro_rules!` for several types at one place), the module for a function without it.
fn limit_owner(plan: &Plan<'_>) -> TokenStream {
    if plan.copies_body() {
        quote!(::core::module_path!())
    } else {
        quote!(::core::any::type_name::<Self>())
    }
}

/// The statements that take a permit before a body runs: waited for on this thread
/// (unless it holds one handed over by the async entry), or awaited.
fn limit_prelude(plan: &Plan<'_>, awaited: bool) -> TokenStream {
    let Some(site) = limit_site(plan) else {
        return TokenStream::new();
    };
    let permit = model::hidden("permit");
    let owner = limit_owner(plan);
    if awaited {
        quote!(#site let #permit = __SMARTASYNC_LIMIT.acquire(#owner).await;)
    } else {
        quote!(#site let #permit = __SMARTASYNC_LIMIT.enter(#owner);)
    }
}

/// For an entry that runs the body in place: the permit, awaited, then held by this
/// thread while the body runs here.
fn held_prelude(plan: &Plan<'_>) -> TokenStream {
    let Some(site) = limit_site(plan) else {
        return TokenStream::new();
    };
    let permit = model::hidden("permit");
    let owner = limit_owner(plan);
    quote!(#site let #permit = __SMARTASYNC_LIMIT.acquire(#owner).await.hold();)
}

/// The doc paragraph of an `in_place` entry.
const IN_PLACE: &str = "Async entry, generated by the `smartasync` attribute with `in_place` \
     from the `fn` of the same name without `_async`: runs the same body on the awaiting \
     thread, inside `tokio::task::block_in_place` on a multi-thread runtime. Meanwhile the \
     awaiting task makes no progress on its other branches (`join!`, `select!`), and a \
     current-thread runtime is stalled.";

/// `async fn foo_async(..) -> T` for a `fn foo` body under `in_place`: runs the body on the
/// awaiting thread.
fn in_place(plan: &Plan<'_>) -> TokenStream {
    let private = &plan.private;
    let function = plan.function;
    let name = &function.sig.ident;
    let mut attrs = noted(plan, IN_PLACE);
    attrs.push(allow(quote!(clippy::unused_async)));
    let mut sig = function.sig.clone();
    sig.ident = model::async_name(name);
    sig.asyncness = Some(Default::default());
    let held = held_prelude(plan);
    let body = match plan.path_to(name) {
        Some(path) => {
            plain_params(&mut sig, plan);
            let args = arguments(plan);
            quote!({ #held #private::in_place(|| #path(#(#args),*)) })
        }
        None => {
            attrs.extend(inner_as_outer(plan));
            let block = copied_body(plan, TokenStream::new());
            match pinned_output(&function.sig.output) {
                Some(output) => {
                    quote!({ #held #private::in_place::<_, #output>(move || #block) })
                }
                None => quote!({ #held #private::in_place(move || #block) }),
            }
        }
    };
    Entry::emit(plan, false, attrs, &sig, Some(&body))
}

/// The boxed async entry of a `fn foo` body that runs in place: under `in_place` in a trait
/// impl, or provided by a trait (where cloning `self` could not be asked of `dyn` callers).
fn boxed_in_place(plan: &Plan<'_>) -> TokenStream {
    let private = &plan.private;
    let name = &plan.function.sig.ident;
    let attrs = if matches!(plan.site, Site::Trait) {
        noted_once(
            plan,
            &format!(
            "Async entry, provided by the `smartasync` attribute for the `fn` of the same name \
             without `_async`: runs the provided body on the awaiting thread \
             (`smartasync::in_place`), which asks nothing of `Self` beyond what the future's \
             `Send` needs. An implementation that writes `{name}` under the `smartasync` \
             attribute gets its own entry, which runs on the blocking pool."
        ),
        )
    } else {
        noted(plan, IN_PLACE)
    };
    let mut sig = boxed::signature(plan, &plan.function.sig, &provided_bounds(plan));
    plain_params(&mut sig, plan);
    let path = plan.path_to(name);
    let args = arguments(plan);
    let output = output_type(&plan.function.sig.output);
    let boxer = boxer(plan);
    let held = held_prelude(plan);
    let body = quote!({
        #boxer::<#output, _>(async move {
            #held
            #private::in_place(move || #path(#(#args),*))
        })
    });
    Entry::emit(plan, true, attrs, &sig, Some(&body))
}

/// The async entry declared by a trait for a method without a body.
fn declared(plan: &Plan<'_>) -> TokenStream {
    let name = &plan.function.sig.ident;
    let attrs = noted_once(
        plan,
        &format!(
            "Async entry of `{name}`, declared by the `smartasync` attribute. An implementation \
             writes `{name}` once, as `fn` or `async fn`, in an `impl` block under the \
             `smartasync` attribute, which generates this entry."
        ),
    );
    let sig = boxed::signature(plan, &plan.function.sig, &[]);
    Entry::emit(plan, true, attrs, &sig, None)
}

/// The bounds a provided body's boxed future needs of `Self` to be `Send`: it holds the
/// receiver, so `&self` needs `Self: Sync` and an owned or `&mut` receiver `Self: Send`.
/// With `Send + Sync` among the trait's supertraits they cost nothing; without, the
/// provided entry cannot be called through `dyn Trait` (only through `dyn Trait + Sync`).
pub(crate) fn provided_bounds(plan: &Plan<'_>) -> Vec<WherePredicate> {
    if !matches!(plan.site, Site::Trait) || !plan.send || plan.function.body.is_none() {
        return Vec::new();
    }
    match plan.function.sig.receiver() {
        Some(receiver) if receiver.reference.is_some() && receiver.mutability.is_none() => {
            vec![syn::parse_quote!(Self: ::core::marker::Sync)]
        }
        Some(_) => vec![syn::parse_quote!(Self: ::core::marker::Send)],
        None => Vec::new(),
    }
}

/// After an error: the twin with its signature and an unreachable body.
fn stub_twin(plan: &Plan<'_>) -> TokenStream {
    let function = plan.function;
    let name = &function.sig.ident;
    if model::stem(&name.to_string()).is_some() {
        return TokenStream::new();
    }
    if let Some(items) = &plan.items {
        return streamed::stub_twin(plan, items);
    }
    let mut sig = function.sig.clone();
    sig.constness = None;
    sig.unsafety = None;
    sig.abi = None;
    sig.variadic = None;
    if let ReturnType::Type(_, output) = &mut sig.output {
        // An unreachable body gives `impl Trait` nothing to infer: name a boxed one.
        lifetime::box_impl_traits(output);
    }
    let attrs = &function.attrs;
    let vis = &function.vis;
    let body = quote!({ ::core::unreachable!() });
    let sig = match (plan.twin, plan.site.boxed()) {
        (Twin::Drive, _) => {
            sig.asyncness = None;
            sig.into_token_stream()
        }
        (_, true) => {
            let sig = boxed::signature(plan, &sig, &[]);
            let body = if plan.twin == Twin::Declare {
                quote!(;)
            } else {
                body
            };
            return quote! {
                #(#attrs)*
                #[allow(unused_variables, unused_mut)]
                #vis #sig #body
            };
        }
        (_, false) => {
            sig.asyncness = Some(Default::default());
            sig.ident = model::async_name(name);
            sig.into_token_stream()
        }
    };
    quote! {
        #(#attrs)*
        #[allow(unused_variables, unused_mut, clippy::unused_async)]
        #vis #sig #body
    }
}

/// In a body copied into a closure, `let pattern = value;` for each argument as written,
/// from what crossed. None for an argument that crossed as it is under its own name
/// (`let x = x;` would do nothing, and clippy says so of an `_x`).
pub(crate) fn rebind(plan: &Plan<'_>, given: &[model::Wrapping<'_>]) -> TokenStream {
    let mut prelude = TokenStream::new();
    for (param, given) in plan.params.iter().zip(given) {
        let Some(pat) = &param.pat else {
            continue;
        };
        let as_is = matches!(
            pat,
            syn::Pat::Ident(ident)
                if ident.by_ref.is_none() && ident.mutability.is_none() && ident.subpat.is_none()
        ) && given.is_plain();
        if !as_is {
            prelude.extend(quote!(let #pat = #given;));
        }
    }
    prelude
}

/// The body copied into a generated entry (a lone function without `self`), after
/// `prelude`; where it does not parse, it is not copied (rustc reports its syntax error
/// once, in the written entry) and the entry only carries the signature.
pub(crate) fn copied_body(plan: &Plan<'_>, prelude: TokenStream) -> TokenStream {
    match &plan.function.body {
        Some(body) if body.stmts().is_some() => body.as_block(prelude),
        _ => quote!({ ::core::unreachable!() }),
    }
}

/// The function that boxes a trait method's future: `Send` unless the trait says `?Send`.
pub(crate) fn boxer(plan: &Plan<'_>) -> TokenStream {
    let private = &plan.private;
    if plan.send {
        quote!(#private::boxed)
    } else {
        quote!(#private::boxed_local)
    }
}

/// The values a generated entry passes to the written one: `self` and each argument.
pub(crate) fn arguments<'a>(plan: &'a Plan<'_>) -> impl Iterator<Item = &'a Ident> {
    plan.params.iter().map(|param| &param.name)
}

/// Gives every typed parameter a plain name (so that the generated body can pass it on),
/// and drops `mut` from a by-value receiver, which the generated body only moves. Returns
/// the statement that binds the written patterns from those names, for a body moved into
/// a generated entry (it also makes an `async` block capture every argument, as an
/// `async fn` does).
pub(crate) fn rename_params(sig: &mut Signature, plan: &Plan<'_>) -> TokenStream {
    let renamed = plain_params(sig, plan);
    if renamed.is_empty() {
        return TokenStream::new();
    }
    let (pats, names): (Vec<_>, Vec<_>) = renamed.into_iter().unzip();
    // One tuple, so that no `let x = x;` reaches a lint about redundant locals.
    quote!(let (#(#pats,)*) = (#(#names,)*);)
}

/// [`rename_params`] for an entry that calls the written function: the names alone. Returns
/// each written pattern with the name that replaced it.
pub(crate) fn plain_params(sig: &mut Signature, plan: &Plan<'_>) -> Vec<(Pat, Ident)> {
    let mut pats = Vec::new();
    for (input, param) in sig.inputs.iter_mut().zip(&plan.params) {
        match input {
            FnArg::Receiver(receiver) => {
                if receiver.reference.is_none() {
                    receiver.mutability = None;
                }
            }
            FnArg::Typed(arg) => {
                let pat = std::mem::replace(
                    &mut *arg.pat,
                    Pat::Ident(PatIdent {
                        attrs: Vec::new(),
                        by_ref: None,
                        mutability: None,
                        ident: param.name.clone(),
                        subpat: None,
                    }),
                );
                pats.push((pat, param.name.clone()));
            }
        }
    }
    pats
}

/// The written output type, `()` where none is written.
fn output_type(output: &ReturnType) -> TokenStream {
    match output {
        ReturnType::Default => quote!(()),
        ReturnType::Type(_, ty) => ty.to_token_stream(),
    }
}

/// The output type to pin the closure or `async` block to, so that `?` and `.into()` in the
/// body infer as they do in the written function; `None` where it cannot be named there
/// (`impl Trait`).
fn pinned_output(output: &ReturnType) -> Option<TokenStream> {
    match output {
        ReturnType::Type(_, ty) if lifetime::has_impl_trait(ty) => None,
        _ => Some(output_type(output)),
    }
}

/// The body's inner attributes (`#![allow(..)]`), which must become outer attributes of a
/// generated function whose body is a closure or an `async` block.
pub(crate) fn inner_as_outer(plan: &Plan<'_>) -> Vec<Attribute> {
    let Some(body) = &plan.function.body else {
        return Vec::new();
    };
    body.inner_attrs
        .iter()
        .map(|attr| Attribute {
            style: AttrStyle::Outer,
            ..attr.clone()
        })
        .collect()
}

/// The written attributes, then the doc paragraph that presents a generated entry as the
/// other half of its pair.
///
/// The paragraph is one doc line, the same for every entry of a kind (it names the other
/// entry by its rule, not its name), made once per expansion and cloned: each literal made
/// costs an escape of its text and its own trip through the compiler, which were a tenth of
/// the attribute's time on a block of 1,000 methods when each paragraph named its twin.
pub(crate) fn noted(plan: &Plan<'_>, text: &str) -> Vec<Attribute> {
    with_paragraph(
        plan,
        with_literal(text, |lit| doc_attribute(lit.clone().into())),
    )
}

/// [`noted`] for a paragraph that names the function, made for it alone.
pub(crate) fn noted_once(plan: &Plan<'_>, text: &str) -> Vec<Attribute> {
    with_paragraph(plan, doc(&format!(" {text}")))
}

/// The written attributes, then `paragraph`, apart from the written docs.
fn with_paragraph(plan: &Plan<'_>, paragraph: Attribute) -> Vec<Attribute> {
    let mut attrs = plan.function.attrs.clone();
    if attrs.iter().any(|attr| attr.path().is_ident("doc")) {
        attrs.push(doc(""));
    }
    attrs.push(paragraph);
    attrs
}

thread_local! {
    /// The doc literals made during the current expansion, by text: a few (one per kind of
    /// entry, and per lane), so a search of a list compares them faster than a hash, which
    /// the dev profile runs unoptimized, could be computed.
    static LITERALS: std::cell::RefCell<Vec<(String, syn::LitStr)>> =
        const { std::cell::RefCell::new(Vec::new()) };
}

/// While alive, doc literals are kept for reuse; a literal made by the compiler is only
/// valid during the expansion that made it, so they are forgotten when it ends.
pub(crate) struct LiteralCache(());

impl LiteralCache {
    pub(crate) fn start() -> Self {
        LITERALS.with(|literals| literals.borrow_mut().clear());
        LiteralCache(())
    }
}

impl Drop for LiteralCache {
    fn drop(&mut self) {
        LITERALS.with(|literals| literals.borrow_mut().clear());
    }
}

/// `f` of the string literal of ` text` (a doc line's leading space added), made once per
/// expansion: making one escapes its text character by character.
fn with_literal<T>(text: &str, f: impl FnOnce(&syn::LitStr) -> T) -> T {
    LITERALS.with(|literals| {
        let mut literals = literals.borrow_mut();
        let index = match literals.iter().position(|(known, _)| known == text) {
            Some(index) => index,
            None => {
                let lit = syn::LitStr::new(&format!(" {text}"), proc_macro2::Span::call_site());
                literals.push((text.to_owned(), lit));
                literals.len() - 1
            }
        };
        f(&literals[index].1)
    })
}

/// `#[doc = "text"]`, built rather than quoted and parsed: parsing a string literal
/// unescapes it character by character, and every generated entry has a paragraph.
pub(crate) fn doc(text: &str) -> Attribute {
    doc_attribute(syn::LitStr::new(text, proc_macro2::Span::call_site()).into())
}

fn doc_attribute(lit: syn::Lit) -> Attribute {
    Attribute {
        pound_token: Default::default(),
        style: AttrStyle::Outer,
        bracket_token: Default::default(),
        meta: syn::Meta::NameValue(syn::MetaNameValue {
            path: Ident::new("doc", proc_macro2::Span::call_site()).into(),
            eq_token: Default::default(),
            value: syn::Expr::Lit(syn::ExprLit {
                attrs: Vec::new(),
                lit,
            }),
        }),
    }
}

/// `#[allow(lints)]`, built rather than quoted and parsed (it is added to most entries).
pub(crate) fn allow(lints: TokenStream) -> Attribute {
    Attribute {
        pound_token: Default::default(),
        style: AttrStyle::Outer,
        bracket_token: Default::default(),
        meta: syn::Meta::List(syn::MetaList {
            path: Ident::new("allow", proc_macro2::Span::call_site()).into(),
            delimiter: syn::MacroDelimiter::Paren(Default::default()),
            tokens: lints,
        }),
    }
}

fn signature_with_output(sig: &Signature, output: TokenStream) -> TokenStream {
    let Signature {
        constness,
        asyncness,
        unsafety,
        abi,
        fn_token,
        ident,
        generics,
        paren_token,
        inputs,
        ..
    } = sig;
    let mut tokens = quote!(#constness #asyncness #unsafety #abi #fn_token #ident #generics);
    paren_token.surround(&mut tokens, |tokens| inputs.to_tokens(tokens));
    output.to_tokens(&mut tokens);
    generics.where_clause.to_tokens(&mut tokens);
    tokens
}
