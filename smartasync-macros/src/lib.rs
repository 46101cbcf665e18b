//! The `#[smartasync]` attribute. Depend on the `smartasync` crate, which re-exports it and
//! owns everything the generated code calls; its documentation describes the attribute.
//!
//! One pipeline: [`parse`] reads the item, [`args`] the attribute's arguments, [`valid`]
//! checks the signature against what each entry needs and plans the expansion, [`expand`]
//! writes the pair. Every step returns `syn::Result`; the error becomes tokens here, once,
//! next to the item as written so that one mistake does not cascade.
#![forbid(unsafe_code)]

mod args;
mod bound;
mod expand;
mod lifetime;
mod parse;
mod receiver;
mod valid;

use proc_macro::TokenStream;

/// Generates the blocking and async entries of a `fn` or `async fn`. See the `smartasync`
/// crate.
#[proc_macro_attribute]
pub fn smartasync(args: TokenStream, input: TokenStream) -> TokenStream {
    let input = proc_macro2::TokenStream::from(input);
    let function = match syn::parse2::<parse::Function>(input.clone()) {
        Ok(function) => function,
        Err(error) => {
            let error = error.into_compile_error();
            return quote::quote!(#input #error).into();
        }
    };
    let expanded = syn::parse2::<args::Args>(args.into())
        .and_then(|args| valid::plan(args, &function))
        .map(expand::pair);
    match expanded {
        Ok(tokens) => tokens.into(),
        Err(error) => {
            let kept = expand::fallback(&function);
            let error = error.into_compile_error();
            quote::quote!(#kept #error).into()
        }
    }
}
