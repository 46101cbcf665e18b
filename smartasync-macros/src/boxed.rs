//! The async entry of a trait method: a boxed future that may borrow every argument, so
//! that the trait stays dyn-compatible. The trait's declaration and each impl's entry are
//! built here from the signature as written, so they match exactly when both sides write
//! the same signature.
//!
//! ```text
//! fn get(&self, key: &str, n: T) -> R          // as written, in the trait and the impl
//! fn get_async<'life0, 'life1, 'fut>(&'life0 self, key: &'life1 str, n: T)
//!     -> ::smartasync::BoxFuture<'fut, R>
//! where 'life0: 'fut, 'life1: 'fut, T: 'fut, Self: 'fut;
//! ```

use proc_macro2::Span;
use quote::quote;
use syn::punctuated::Punctuated;
use syn::visit_mut::{self, VisitMut};
use syn::{
    FnArg, GenericParam, Lifetime, LifetimeParam, ParenthesizedGenericArguments, ReturnType,
    Signature, TypeBareFn, TypeReference, WherePredicate,
};

use crate::model::{self, Plan};

/// The future's lifetime.
pub fn future_lifetime() -> Lifetime {
    Lifetime::new("'fut", Span::call_site())
}

/// `sig` turned into the boxed async entry's signature; `extra` are further bounds (a
/// provided body's `Self: Sync`).
pub fn signature(plan: &Plan<'_>, sig: &Signature, extra: &[WherePredicate]) -> Signature {
    let krate = &plan.krate;
    let mut sig = outliving(plan, sig, extra);
    sig.ident = model::async_name(&sig.ident);
    let fut = future_lifetime();
    let output = match &sig.output {
        ReturnType::Default => quote!(()),
        ReturnType::Type(_, ty) => quote!(#ty),
    };
    let alias = if plan.send {
        quote!(#krate::BoxFuture)
    } else {
        quote!(#krate::LocalBoxFuture)
    };
    sig.output = syn::parse_quote!(-> #alias<#fut, #output>);
    sig
}

/// `sig`, not `async`, with every elided lifetime of its arguments named, and `'fut`
/// declared and outlived by each of them, by the type parameters and by `Self`: the
/// signature of an entry whose result (a future, a stream, an iterator) may hold every
/// argument for `'fut`. The output's elided lifetimes are named as elision would.
pub fn outliving(plan: &Plan<'_>, sig: &Signature, extra: &[WherePredicate]) -> Signature {
    let mut sig = sig.clone();
    sig.asyncness = None;
    let fut = future_lifetime();

    let mut namer = Namer::default();
    for input in &mut sig.inputs {
        match input {
            FnArg::Receiver(receiver) if receiver.colon_token.is_some() => {
                namer.visit_type_mut(&mut receiver.ty);
            }
            FnArg::Receiver(receiver) => {
                if let Some((_, lifetime @ None)) = &mut receiver.reference {
                    let named = namer.fresh();
                    *lifetime = Some(named.clone());
                    if let syn::Type::Reference(reference) = &mut *receiver.ty {
                        reference.lifetime = Some(named);
                    }
                }
            }
            FnArg::Typed(arg) => {
                namer.visit_type_mut(&mut arg.ty);
                // An `impl Trait` argument is a type parameter the future holds.
                OutlivesFuture(&fut).visit_type_mut(&mut arg.ty);
            }
        }
    }
    // The output's elided lifetimes are the receiver's (or the one input's), as elision
    // says: named here too, since the inputs now name theirs.
    let receiver_lifetime = sig.receiver().and_then(|receiver| match &*receiver.ty {
        syn::Type::Reference(reference) => reference.lifetime.clone(),
        _ => None,
    });
    let elided = receiver_lifetime.or_else(|| match namer.named.as_slice() {
        [only] => Some(only.clone()),
        _ => None,
    });
    if let (Some(lifetime), ReturnType::Type(_, ty)) = (elided, &mut sig.output) {
        FillElided(lifetime).visit_type_mut(ty);
    }

    let mut outlived: Vec<Lifetime> = sig
        .generics
        .lifetimes()
        .map(|param| param.lifetime.clone())
        .collect();
    outlived.extend(namer.named.iter().cloned());
    let types: Vec<syn::Ident> = plan
        .block_types
        .iter()
        .cloned()
        .chain(sig.generics.type_params().map(|param| param.ident.clone()))
        .collect();

    let mut params: Punctuated<GenericParam, syn::Token![,]> = namer
        .named
        .iter()
        .chain([&fut])
        .map(|lifetime| GenericParam::Lifetime(LifetimeParam::new(lifetime.clone())))
        .collect();
    // Lifetimes come first, as rustc demands.
    let (lifetimes, others): (Vec<_>, Vec<_>) = sig
        .generics
        .params
        .iter()
        .cloned()
        .partition(|param| matches!(param, GenericParam::Lifetime(_)));
    let mut all: Punctuated<GenericParam, syn::Token![,]> = lifetimes.into_iter().collect();
    all.extend(std::mem::take(&mut params));
    all.extend(others);
    sig.generics.params = all;
    if sig.generics.lt_token.is_none() {
        sig.generics.lt_token = Some(Default::default());
        sig.generics.gt_token = Some(Default::default());
    }

    let where_clause = sig.generics.make_where_clause();
    for lifetime in &outlived {
        where_clause
            .predicates
            .push(syn::parse_quote!(#lifetime: #fut));
    }
    for ty in &types {
        where_clause.predicates.push(syn::parse_quote!(#ty: #fut));
    }
    if plan.receiver().is_some() || !matches!(plan.site, model::Site::Function) {
        // A lone function without `self` may be a free function, where `Self` is not.
        where_clause.predicates.push(syn::parse_quote!(Self: #fut));
    }
    where_clause.predicates.extend(extra.iter().cloned());
    sig
}

/// Names every elided lifetime of the arguments (`&T`, `'_`): `'life0`, `'life1`, ...
/// Lifetimes inside `fn(..)` pointer types and `Fn(..)` bounds are higher-ranked and stay.
#[derive(Default)]
struct Namer {
    named: Vec<Lifetime>,
}

impl Namer {
    fn fresh(&mut self) -> Lifetime {
        let lifetime = Lifetime::new(&format!("'life{}", self.named.len()), Span::call_site());
        self.named.push(lifetime.clone());
        lifetime
    }
}

impl VisitMut for Namer {
    fn visit_type_reference_mut(&mut self, reference: &mut TypeReference) {
        if reference.lifetime.is_none() {
            reference.lifetime = Some(self.fresh());
        }
        visit_mut::visit_type_reference_mut(self, reference);
    }

    fn visit_lifetime_mut(&mut self, lifetime: &mut Lifetime) {
        if lifetime.ident == "_" {
            *lifetime = self.fresh();
        }
    }

    fn visit_type_bare_fn_mut(&mut self, _: &mut TypeBareFn) {}

    fn visit_parenthesized_generic_arguments_mut(&mut self, _: &mut ParenthesizedGenericArguments) {
    }
}

/// Adds `+ 'fut` to each `impl Trait` in an argument's type.
struct OutlivesFuture<'a>(&'a Lifetime);

impl VisitMut for OutlivesFuture<'_> {
    fn visit_type_impl_trait_mut(&mut self, ty: &mut syn::TypeImplTrait) {
        visit_mut::visit_type_impl_trait_mut(self, ty);
        ty.bounds
            .push(syn::TypeParamBound::Lifetime(self.0.clone()));
    }
}

/// Gives each elided lifetime of the output (`&T`, `'_`) the lifetime elision would.
struct FillElided(Lifetime);

impl VisitMut for FillElided {
    fn visit_type_reference_mut(&mut self, reference: &mut TypeReference) {
        if reference.lifetime.is_none() {
            reference.lifetime = Some(self.0.clone());
        }
        visit_mut::visit_type_reference_mut(self, reference);
    }

    fn visit_lifetime_mut(&mut self, lifetime: &mut Lifetime) {
        if lifetime.ident == "_" {
            *lifetime = self.0.clone();
        }
    }

    fn visit_type_bare_fn_mut(&mut self, _: &mut TypeBareFn) {}

    fn visit_parenthesized_generic_arguments_mut(&mut self, _: &mut ParenthesizedGenericArguments) {
    }
}
