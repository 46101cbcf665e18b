//! The attribute on each kind of item: a lone function, an `impl` block (inherent or of a
//! trait) and a trait. A block pairs each of its methods by the same plan as a function,
//! with each method's options taken off its own `#[smartasync(..)]`; one method's mistake
//! is reported at that method, next to its fallback, while the others are still paired.

use std::collections::HashSet;

use proc_macro2::Span;
use proc_macro2::TokenStream;
use quote::{quote, ToTokens, TokenStreamExt};
use syn::{Attribute, Ident, Path};

use crate::args::{Args, Place};
use crate::expand;
use crate::model::{self, Site};
use crate::parse::{Function, ImplBlock, Member, TraitBlock};
use crate::valid::{self, Errors};

/// The runtime crate's path: `crate = ".."`, or `::smartasync`.
fn krate(args: &Args) -> Path {
    args.krate
        .clone()
        .unwrap_or_else(|| syn::parse_quote!(::smartasync))
}

/// A lone function: its pair, or after an error, the fallback and the error.
pub fn function(args: TokenStream, function: &Function) -> TokenStream {
    let args = Args::parse_at(args, Place::Function);
    let krate = args
        .as_ref()
        .map_or_else(|_| krate(&Args::default()), krate);
    let options = args.as_ref().ok().cloned().unwrap_or_default();
    let (plan, checked) = valid::plan(
        &options,
        &krate,
        Site::Function,
        &syn::Generics::default(),
        true,
        function,
    );
    match args.and(checked) {
        Ok(()) => expand::pair(&plan, false),
        Err(error) => {
            let fallback = expand::pair(&plan, true);
            let error = error.into_compile_error();
            quote!(#fallback #error)
        }
    }
}

/// A lone function that stands in a trait impl: its entries must be members of the trait,
/// which only the block's attribute can make, so it is refused. Next to the error it
/// leaves what the trait expects, so that no error about the trait's members follows: the
/// pair the block's attribute would write (stubbed) for a trait under `#[smartasync]`, or
/// the method as written for one that is not.
pub fn method_of_trait_impl(
    args: TokenStream,
    function: &Function,
    around: &crate::enclosing::TraitImpl,
) -> TokenStream {
    let header = &around.header;
    let Some((_, path, _)) = &header.trait_ else {
        return self::function(args, function);
    };
    let fallback = if around.paired_trait == Some(false) {
        function.written().into_token_stream()
    } else {
        let options = Args::parse_at(args, Place::Function).unwrap_or_default();
        let (plan, _) = valid::plan(
            &options,
            &krate(&options),
            Site::TraitImpl(path.clone()),
            &header.generics,
            true,
            function,
        );
        expand::pair(&plan, true)
    };
    let name = &function.sig.ident;
    let trait_name = path
        .segments
        .last()
        .map_or_else(String::new, |segment| segment.ident.to_string());
    let message = format!(
        "put `#[smartasync]` on the `impl` block, not on one of its methods\n\
         in an impl of `{trait_name}`, `{name}{suffix}` must be a member of the trait, which \
         an attribute on one method cannot add; on the block, it pairs each method as \
         `#[smartasync] trait {trait_name}` declares it",
        suffix = model::SUFFIX,
    );
    let error = syn::Error::new(proc_macro2::Span::call_site(), message).into_compile_error();
    quote!(#fallback #error)
}

/// An `impl` block: every method with a body paired, at the block's site.
pub fn impl_block(args: TokenStream, block: ImplBlock) -> TokenStream {
    let place = if block.header.trait_.is_some() {
        Place::Trait
    } else {
        Place::Inherent
    };
    let site = match &block.header.trait_ {
        Some((_, path, _)) => Site::TraitImpl(path.clone()),
        None => Site::Inherent,
    };
    let mut errors = Errors::default();
    // The block is expanded in an anonymous constant that imports the private module under
    // one identifier, unless that could change what the user's code means: another
    // attribute after ours (an attribute macro there could generate items that must stay
    // nameable, as `#[mockall::automock]` does), or a `crate = ".."` path (resolved as a
    // `use` path, it may differ from the expression path it is everywhere else).
    let args = Args::parse_at(args, place);
    let named_crate = args.as_ref().is_ok_and(|args| args.krate.is_some());
    let wrapped = !named_crate && block.header.attrs.iter().all(inert);
    let private = wrapped.then(|| Ident::new(model::PRIVATE, Span::call_site()));
    let (items, krate) = members(
        args,
        &site,
        &block.header.generics,
        block.items,
        &mut errors,
        private.as_ref(),
    );

    let ImplBlock {
        header,
        inner_attrs,
        ..
    } = block;
    let syn::ItemImpl {
        attrs,
        defaultness,
        unsafety,
        impl_token,
        generics,
        trait_,
        self_ty,
        ..
    } = header;
    let (bang, path, for_token) = match trait_ {
        Some((bang, path, for_token)) => (bang, Some(path), Some(for_token)),
        None => (None, None, None),
    };
    let where_clause = &generics.where_clause;
    let errors = errors.finish().err().map(syn::Error::into_compile_error);
    // In an anonymous constant, where an import of the private module is seen by this block
    // alone: an impl there is an impl of the type wherever it is named, documented with it.
    // The members are joined by value: a stream interpolated by reference is copied first.
    let mut members = TokenStream::new();
    members.append_all(inner_attrs);
    members.extend(items);
    let members = proc_macro2::Group::new(proc_macro2::Delimiter::Brace, members);
    let block = quote! {
        #(#attrs)*
        #defaultness #unsafety #impl_token #generics #bang #path #for_token #self_ty #where_clause #members
    };
    match private {
        Some(private) => quote! {
            const _: () = {
                #[allow(unused_imports)]
                use #krate::__private as #private;
                #block
            };
            #errors
        },
        None => quote!(#block #errors),
    }
}

/// Whether an attribute on the block is one that generates nothing (docs, lints, `cfg`),
/// so that the block may move into an anonymous constant.
fn inert(attr: &Attribute) -> bool {
    let path = attr.path();
    let Some(first) = path.segments.first() else {
        return false;
    };
    let name = first.ident.to_string();
    if path.segments.len() > 1 {
        // Tool attributes: `#[rustfmt::skip]`, `#[clippy::..]`.
        return name == "rustfmt" || name == "clippy";
    }
    matches!(
        name.as_str(),
        "doc"
            | "allow"
            | "warn"
            | "deny"
            | "forbid"
            | "expect"
            | "cfg"
            | "must_use"
            | "deprecated"
            | "automatically_derived"
    )
}

/// A trait: both entries of every method declared, provided bodies paired.
pub fn trait_block(args: TokenStream, block: TraitBlock) -> TokenStream {
    let mut errors = Errors::default();
    // A trait must stay nameable where it is written: its entries name the private module
    // in full.
    let (items, _) = members(
        Args::parse_at(args, Place::Trait),
        &Site::Trait,
        &block.header.generics,
        block.items,
        &mut errors,
        None,
    );

    let TraitBlock {
        header,
        inner_attrs,
        ..
    } = block;
    let syn::ItemTrait {
        mut attrs,
        vis,
        unsafety,
        auto_token,
        restriction: _,
        trait_token,
        ident,
        generics,
        colon_token,
        supertraits,
        ..
    } = header;
    // Once per trait, so it may name the attribute as written: a `[` in a method's generated
    // paragraph would have rustc look for links in every one of them.
    let note = " Declared with `#[smartasync]`: each method has a blocking entry and an async \
        entry (`_async`, a boxed future, so the trait stays dyn-compatible). Implement it in an \
        `impl` block under `#[smartasync]`, writing each method once, as `fn` or `async fn`; the \
        attribute generates the other entry.";
    let note: Attribute = syn::parse_quote!(#[doc = #note]);
    if attrs.iter().any(|attr| attr.path().is_ident("doc")) {
        attrs.push(syn::parse_quote!(#[doc = ""]));
    }
    attrs.push(note);
    let where_clause = &generics.where_clause;
    let errors = errors.finish().err().map(syn::Error::into_compile_error);
    quote! {
        #(#attrs)*
        #vis #unsafety #auto_token #trait_token #ident #generics #colon_token #supertraits #where_clause {
            #(#inner_attrs)*
            #(#items)*
        }
        #errors
    }
}

/// The members of a block, each method paired unless skipped or paired by hand, under
/// the block's arguments `args` (an error is reported and the defaults used), and the
/// runtime crate's path. The
/// generated code names the private module `private` where given (the block imports it
/// so), else in full.
fn members(
    args: syn::Result<Args>,
    site: &Site,
    generics: &syn::Generics,
    items: Vec<Member>,
    errors: &mut Errors,
    private: Option<&Ident>,
) -> (Vec<TokenStream>, Path) {
    let args = args.unwrap_or_else(|error| {
        errors.push(error);
        Args::default()
    });
    let krate = krate(&args);
    let send = args.not_send.is_none();
    let names: HashSet<String> = items
        .iter()
        .filter_map(|item| match item {
            Member::Function(function) => Some(function.sig.ident.to_string()),
            Member::Other(_) => None,
        })
        .collect();
    let paired_by_hand = |name: &str| match model::stem(name) {
        Some(stem) => names.contains(stem),
        None => names.contains(&format!("{name}{}", model::SUFFIX)),
    };
    let members = items
        .into_iter()
        .map(|item| match item {
            Member::Other(tokens) => tokens,
            Member::Function(mut function) => {
                let method = if matches!(site, Site::Trait) {
                    Place::TraitMethod
                } else {
                    Place::Method
                };
                let options = Args::take_from(&mut function.attrs, method);
                // Bad options are reported, and the method still gets its twin's signature
                // (a stub), so that no "missing `foo_async`" follows in a trait impl.
                let (options, refused) = match options {
                    Ok(options) => (options, false),
                    Err(error) => {
                        errors.push(error);
                        (Args::default(), true)
                    }
                };
                let hand = paired_by_hand(&function.sig.ident.to_string());
                if let (Some(span), Site::TraitImpl(_), false) = (options.skip, site, hand) {
                    errors.push(syn::Error::new(
                        span,
                        "`skip` in a trait impl leaves the trait's other entry unwritten: the \
                         trait declares both\n\
                         ways out: write the other entry by hand next to this one, or remove \
                         `skip`",
                    ));
                } else if options.skip.is_some() || hand {
                    return function.written();
                }
                if function.body.is_none() && !matches!(site, Site::Trait) {
                    return function.written();
                }
                let (mut plan, checked) =
                    valid::plan(&options, &krate, site.clone(), generics, send, &function);
                if let Some(private) = private {
                    plan.private = private.clone().into();
                }
                match checked {
                    Ok(()) if !refused && options.skip.is_none() => expand::pair(&plan, false),
                    Ok(()) => expand::pair(&plan, true),
                    Err(error) => {
                        errors.push(error);
                        expand::pair(&plan, true)
                    }
                }
            }
        })
        .map(|tokens| tokens.into_token_stream())
        .collect();
    (members, krate)
}
