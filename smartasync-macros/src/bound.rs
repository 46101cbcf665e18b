//! The requirements the async entry of a `fn` body places on the types it moves to another
//! thread, written as bounds on our helper traits so that a failure speaks of
//! `#[smartasync]` (their `#[diagnostic::on_unimplemented]` messages), at the user's type.

use proc_macro2::{Group, Span, TokenStream, TokenTree};
use quote::ToTokens;
use syn::punctuated::Punctuated;
use syn::visit_mut::{self, VisitMut};
use syn::{
    token, Path, PredicateType, Token, TraitBound, TraitBoundModifier, Type, TypeImplTrait,
    TypeParamBound, TypeParen, TypeReference, WherePredicate,
};

use crate::lifetime;
use crate::model::Helper;

/// The span of the last token of `ty`. A bound whose own tokens carry it is reported by
/// rustc over the whole type, from its first token (which keeps its span) to this one.
pub fn end_span(ty: &Type) -> Span {
    // The common shapes read off the syntax tree; others printed (this runs for every
    // argument, and printing is a round trip to the compiler).
    match ty {
        Type::Reference(reference) => end_span(&reference.elem),
        Type::Path(path) if path.qself.is_none() => match path.path.segments.last() {
            Some(segment) => match &segment.arguments {
                syn::PathArguments::None => segment.ident.span(),
                syn::PathArguments::AngleBracketed(arguments) => arguments.gt_token.span,
                syn::PathArguments::Parenthesized(arguments) => match &arguments.output {
                    syn::ReturnType::Default => arguments.paren_token.span.join(),
                    syn::ReturnType::Type(_, output) => end_span(output),
                },
            },
            None => end_span_of(ty),
        },
        _ => end_span_of(ty),
    }
}

/// The span of the last token of `tokens`.
pub fn end_span_of(tokens: &impl ToTokens) -> Span {
    tokens
        .to_token_stream()
        .into_iter()
        .last()
        .map_or_else(Span::call_site, |token| token.span())
}

/// `ty: Helper`, spanned at `span`; for a type that mentions `impl Trait`, which a `where`
/// clause cannot name, the bound is added to each `impl` in `ty` instead.
pub fn require(
    ty: &mut Type,
    private: &Path,
    helper: Helper,
    span: Span,
) -> Option<WherePredicate> {
    let bound = helper_bound(private, helper, span)?;
    if lifetime::has_impl_trait(ty) {
        BoundImplTraits(bound).visit_type_mut(ty);
        return None;
    }
    Some(WherePredicate::Type(PredicateType {
        lifetimes: None,
        bounded_ty: ty.clone(),
        colon_token: Token![:](span),
        bounds: Punctuated::from_iter([bound]),
    }))
}

/// [`require`] for the referent of a `&T` argument, keeping `&impl A + B` unambiguous.
pub fn require_referent(
    reference: &mut TypeReference,
    private: &Path,
    helper: Helper,
    span: Span,
) -> Option<WherePredicate> {
    let predicate = require(&mut reference.elem, private, helper, span);
    parenthesize_impl_trait(reference);
    predicate
}

/// `&impl A + B` is ambiguous; `&(impl A + B)` is what we mean.
fn parenthesize_impl_trait(reference: &mut TypeReference) {
    if let Type::ImplTrait(_) = &*reference.elem {
        let elem = std::mem::replace(&mut *reference.elem, Type::Verbatim(TokenStream::new()));
        *reference.elem = Type::Paren(TypeParen {
            paren_token: token::Paren::default(),
            elem: Box::new(elem),
        });
    }
}

/// The helper trait's path, every token spanned at `span` so that rustc points there.
fn helper_bound(private: &Path, helper: Helper, span: Span) -> Option<TypeParamBound> {
    // Built, not parsed: this runs for every value that crosses.
    let mut path = private.clone();
    if let Some(colon) = &mut path.leading_colon {
        colon.spans = [span; 2];
    }
    for segment in &mut path.segments {
        segment.ident.set_span(span);
    }
    for pair in path.segments.pairs_mut() {
        if let syn::punctuated::Pair::Punctuated(_, colon) = pair {
            colon.spans = [span; 2];
        }
    }
    path.segments
        .push(syn::Ident::new(helper.name(), span).into());
    for pair in path.segments.pairs_mut() {
        if let syn::punctuated::Pair::Punctuated(_, colon) = pair {
            colon.spans = [span; 2];
        }
    }
    Some(TypeParamBound::Trait(TraitBound {
        paren_token: None,
        modifier: TraitBoundModifier::None,
        lifetimes: None,
        path,
    }))
}

/// `tokens` with every token, groups included, spanned at `span`.
pub fn respan(tokens: TokenStream, span: Span) -> TokenStream {
    tokens
        .into_iter()
        .map(|mut token| {
            if let TokenTree::Group(group) = &token {
                let mut respanned = Group::new(group.delimiter(), respan(group.stream(), span));
                respanned.set_span(span);
                token = TokenTree::Group(respanned);
            } else {
                token.set_span(span);
            }
            token
        })
        .collect()
}

struct BoundImplTraits(TypeParamBound);

impl VisitMut for BoundImplTraits {
    fn visit_type_impl_trait_mut(&mut self, ty: &mut TypeImplTrait) {
        visit_mut::visit_type_impl_trait_mut(self, ty);
        ty.bounds.push(self.0.clone());
    }

    fn visit_type_reference_mut(&mut self, reference: &mut TypeReference) {
        visit_mut::visit_type_reference_mut(self, reference);
        parenthesize_impl_trait(reference);
    }
}
