//! The `self` parameter: how the async entry of a `fn` body takes it to another thread.

use std::fmt::Display;

use quote::quote;
use syn::{Error, Receiver, Type};

use crate::lifetime;
use crate::model::Crossing;
use crate::valid::ways_out;

/// Classifies `receiver` for an offloaded body, or says which token makes it impossible:
/// `&self` and `self: &Arc<Self>` share their referent (cloned at call time, lent back);
/// `self`, `self: Arc<Self>`, `self: Box<Self>` and `&'static self` are moved.
pub fn crossing(receiver: &Receiver) -> syn::Result<Crossing> {
    let ty = &*receiver.ty;
    if let Type::Reference(reference) = ty {
        if let Some(mutability) = reference.mutability {
            let message = refusal("`&mut self`");
            return Err(match (&receiver.reference, receiver.colon_token) {
                (Some((and, _)), None) => Error::new_spanned(quote!(#and #mutability), message),
                _ => Error::new_spanned(ty, message),
            });
        }
        if let Some(span) = lifetime::first_borrow(&reference.elem) {
            return Err(Error::new(span, refusal("a receiver that borrows")));
        }
        if lifetime::is_static(reference.lifetime.as_ref()) {
            // `&'static self`: the reference itself crosses (it needs `Self: Sync`).
            return Ok(Crossing::Moved(ty.clone()));
        }
        return Ok(Crossing::Shared((*reference.elem).clone()));
    }
    if let Some(span) = lifetime::first_borrow(ty) {
        return Err(Error::new(span, refusal("a receiver that borrows")));
    }
    Ok(Crossing::Moved(ty.clone()))
}

fn refusal(what: impl Display) -> String {
    format!(
        "{what} cannot cross to the blocking pool: the `_async` entry of a `fn` body runs the \
         body on another thread and returns a `'static` future\n{}",
        ways_out(
            "take `&self` and keep mutable state behind a `Mutex` (interior mutability), \
             take `self: Arc<Self>`"
        )
    )
}
