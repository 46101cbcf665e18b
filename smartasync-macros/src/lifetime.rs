//! Finding borrows in types: what cannot cross to another thread as an owned value.

use proc_macro2::Span;
use syn::spanned::Spanned;
use syn::visit::{self, Visit};
use syn::{
    BoundLifetimes, Lifetime, ParenthesizedGenericArguments, Type, TypeBareFn, TypeImplTrait,
    TypeReference,
};

/// The span of the first borrow in `ty` that is not `'static`: a reference, or a named or
/// anonymous lifetime. Lifetimes bound by `for<..>`, and the insides of `fn(..)` pointer
/// types and `Fn(..)` bounds, are higher-ranked and so do not borrow from the caller.
pub fn first_borrow(ty: &Type) -> Option<Span> {
    let mut finder = BorrowFinder::default();
    finder.visit_type(ty);
    finder.found
}

/// Whether a reference's lifetime is written as `'static`.
pub fn is_static(lifetime: Option<&Lifetime>) -> bool {
    lifetime.is_some_and(|lifetime| lifetime.ident == "static")
}

/// The `dyn` of a trait object whose lifetime is left to its default: behind a reference,
/// the reference's own lifetime, so a copy through `ToOwned` could not be `'static`.
pub fn elided_object_lifetime(ty: &Type) -> Option<Span> {
    match ty {
        Type::Paren(paren) => elided_object_lifetime(&paren.elem),
        Type::Group(group) => elided_object_lifetime(&group.elem),
        Type::TraitObject(object) => {
            let explicit = object
                .bounds
                .iter()
                .any(|bound| matches!(bound, syn::TypeParamBound::Lifetime(_)));
            (!explicit).then(|| {
                object
                    .dyn_token
                    .map_or_else(|| object.bounds.span(), |token| token.span)
            })
        }
        _ => None,
    }
}

/// Whether `ty` mentions `impl Trait`, which cannot be named in a `where` clause.
pub fn has_impl_trait(ty: &Type) -> bool {
    struct Finder(bool);
    impl Visit<'_> for Finder {
        fn visit_type_impl_trait(&mut self, _: &TypeImplTrait) {
            self.0 = true;
        }
    }
    let mut finder = Finder(false);
    finder.visit_type(ty);
    finder.0
}

#[derive(Default)]
struct BorrowFinder {
    found: Option<Span>,
    higher_ranked: Vec<String>,
}

impl BorrowFinder {
    fn is_static(&self, lifetime: &Lifetime) -> bool {
        lifetime.ident == "static" || self.higher_ranked.iter().any(|name| lifetime.ident == name)
    }

    fn record(&mut self, span: Span) {
        self.found.get_or_insert(span);
    }
}

impl<'ast> Visit<'ast> for BorrowFinder {
    fn visit_type_reference(&mut self, reference: &'ast TypeReference) {
        match &reference.lifetime {
            Some(lifetime) if self.is_static(lifetime) => visit::visit_type(self, &reference.elem),
            _ => self.record(reference.and_token.span()),
        }
    }

    fn visit_lifetime(&mut self, lifetime: &'ast Lifetime) {
        if !self.is_static(lifetime) {
            self.record(lifetime.span());
        }
    }

    fn visit_bound_lifetimes(&mut self, bound: &'ast BoundLifetimes) {
        for param in bound.lifetimes.iter() {
            if let syn::GenericParam::Lifetime(param) = param {
                self.higher_ranked.push(param.lifetime.ident.to_string());
            }
        }
    }

    fn visit_type_bare_fn(&mut self, _: &'ast TypeBareFn) {}

    fn visit_parenthesized_generic_arguments(&mut self, _: &'ast ParenthesizedGenericArguments) {}
}

/// Replaces each `impl Trait` in `ty` by `Box<dyn Trait>`, a type an unreachable body can
/// stand for.
pub fn box_impl_traits(ty: &mut Type) {
    struct Boxer;
    impl syn::visit_mut::VisitMut for Boxer {
        fn visit_type_mut(&mut self, ty: &mut Type) {
            syn::visit_mut::visit_type_mut(self, ty);
            if let Type::ImplTrait(bounds) = ty {
                let bounds = &bounds.bounds;
                *ty = syn::parse_quote!(::std::boxed::Box<dyn #bounds>);
            }
        }
    }
    syn::visit_mut::VisitMut::visit_type_mut(&mut Boxer, ty);
}
