//! Bodies that return many items: `impl Iterator<Item = T>` (a blocking body, whose async
//! entry is a stream) and `impl Stream<Item = T>` (an async one, whose blocking entry is an
//! iterator), returned as they are or as the `Ok` of a `Result`.
//!
//! ```text
//! fn rows(&self) -> impl Iterator<Item = Row>            // written
//! fn rows_async(&self) -> impl Stream<Item = Row> + Send + 'static
//!
//! async fn pages(&self) -> Result<impl Stream<Item = Page>, E>   // written, as `pages_async`
//! fn pages<'life0, 'fut>(&'life0 self) -> Result<impl Iterator<Item = Page> + 'fut, E>
//! ```

use proc_macro2::{Span, TokenStream};
use quote::{quote, ToTokens};
use syn::spanned::Spanned;
use syn::visit::{self, Visit};
use syn::{Error, GenericArgument, PathArguments, ReturnType, Type, TypeImplTrait};

/// Which kind of many items the written body returns.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    /// `impl Iterator<Item = T>`: pulled by blocking code.
    Iter,
    /// `impl Stream<Item = T>`: polled by async code.
    Stream,
}

/// A body's many items: what they are and where they stand in the written output.
#[derive(Clone)]
pub struct Items {
    pub flow: Flow,
    /// `T` of `Item = T`.
    pub item: Type,
    /// The trait as written (`Stream<Item = T>`, `futures::Stream<Item = T>`).
    pub bound: syn::Path,
    /// The written output type.
    pub output: Type,
    /// Whether the items are the `Ok` of a `Result` (its first argument).
    pub fallible: bool,
}

impl Items {
    /// The written output with the `impl Iterator` or `impl Stream` replaced by `ty`:
    /// `Result<impl Iterator<Item = T>, E>` with `BoxIterator<'fut, T>` is
    /// `Result<BoxIterator<'fut, T>, E>`.
    pub fn replace(&self, ty: &impl ToTokens) -> Type {
        let ty: Type = syn::parse2(ty.to_token_stream())
            .unwrap_or_else(|_| Type::Verbatim(ty.to_token_stream()));
        if !self.fallible {
            return ty;
        }
        let mut output = self.output.clone();
        if let Some(slot) = ok_slot(&mut output) {
            *slot = ty;
        }
        output
    }

    /// The output with `_` for the items, for a closure or block whose `?` must infer the
    /// written error type: `Result<_, E>`.
    pub fn inferred(&self) -> Type {
        self.replace(&quote!(_))
    }

    /// A statement that names the trait as written, where the entry's signature no longer
    /// does (a trait's boxed entries): the user's `use` of it stays used.
    pub fn named(&self) -> TokenStream {
        let bound = &self.bound;
        quote!(let _: ::core::marker::PhantomData<dyn #bound>;)
    }

    /// Where a failed requirement on the items is reported: their type.
    pub fn span(&self) -> Span {
        crate::bound::end_span(&self.item)
    }
}

/// The many items `output` returns, if it does: `impl Iterator<Item = T>` or
/// `impl Stream<Item = T>`, alone or as the first argument of a `Result`. One nested
/// anywhere else cannot be paired and is an error.
pub fn classify(output: &ReturnType) -> syn::Result<Option<Items>> {
    let ReturnType::Type(_, ty) = output else {
        return Ok(None);
    };
    if let Some((flow, item, bound)) = flow_of(ty) {
        return Ok(Some(Items {
            flow,
            item,
            bound,
            output: (**ty).clone(),
            fallible: false,
        }));
    }
    let mut output = (**ty).clone();
    if let Some((flow, item, bound)) = ok_slot(&mut output).and_then(|slot| flow_of(slot)) {
        return Ok(Some(Items {
            flow,
            item,
            bound,
            output,
            fallible: true,
        }));
    }
    match nested(ty) {
        Some((span, flow)) => {
            let name = match flow {
                Flow::Iter => "impl Iterator",
                Flow::Stream => "impl Stream",
            };
            Err(Error::new(
                span,
                format!(
                    "`{name}` nested in another type: `#[smartasync]` pairs an iterator with a \
                     stream when the function returns it as it is (`-> {name}<Item = T>`) or as \
                     the `Ok` of a `Result` (`-> Result<{name}<Item = T>, E>`)\n\
                     ways out: return it on its own or in a `Result`, or return a named \
                     type (`Vec<T>`, a struct of yours), which crosses as one value"
                ),
            ))
        }
        None => Ok(None),
    }
}

/// The first type argument of a path type named `Result` (`Result<T, E>`,
/// `io::Result<T>`).
fn ok_slot(ty: &mut Type) -> Option<&mut Type> {
    let Type::Path(path) = ty else {
        return None;
    };
    let last = path.path.segments.last_mut()?;
    if last.ident != "Result" {
        return None;
    }
    let PathArguments::AngleBracketed(arguments) = &mut last.arguments else {
        return None;
    };
    match arguments.args.first_mut()? {
        GenericArgument::Type(ty) => Some(ty),
        _ => None,
    }
}

/// `impl Iterator<Item = T>` or `impl Stream<Item = T>` (any path ending so, with any other
/// bounds), and `T`.
fn flow_of(ty: &Type) -> Option<(Flow, Type, syn::Path)> {
    match ty {
        Type::Paren(paren) => flow_of(&paren.elem),
        Type::Group(group) => flow_of(&group.elem),
        Type::ImplTrait(bounds) => impl_flow(bounds),
        _ => None,
    }
}

fn impl_flow(bounds: &TypeImplTrait) -> Option<(Flow, Type, syn::Path)> {
    bounds.bounds.iter().find_map(|bound| {
        let syn::TypeParamBound::Trait(bound) = bound else {
            return None;
        };
        let last = bound.path.segments.last()?;
        let flow = if last.ident == "Iterator" {
            Flow::Iter
        } else if last.ident == "Stream" {
            Flow::Stream
        } else {
            return None;
        };
        let PathArguments::AngleBracketed(arguments) = &last.arguments else {
            return None;
        };
        arguments.args.iter().find_map(|argument| match argument {
            GenericArgument::AssocType(assoc) if assoc.ident == "Item" => {
                Some((flow, assoc.ty.clone(), bound.path.clone()))
            }
            _ => None,
        })
    })
}

/// The first `impl Iterator<..>` or `impl Stream<..>` anywhere in `ty`.
fn nested(ty: &Type) -> Option<(Span, Flow)> {
    struct Finder(Option<(Span, Flow)>);
    impl<'ast> Visit<'ast> for Finder {
        fn visit_type_impl_trait(&mut self, ty: &'ast TypeImplTrait) {
            if let Some((flow, _, _)) = impl_flow(ty) {
                self.0.get_or_insert((ty.span(), flow));
            }
            visit::visit_type_impl_trait(self, ty);
        }
    }
    let mut finder = Finder(None);
    finder.visit_type(ty);
    finder.0
}
