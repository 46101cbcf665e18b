//! The attribute's arguments: `#[smartasync]`, `#[smartasync(in_place)]`,
//! `#[smartasync(crate = "path")]`.

use syn::ext::IdentExt;
use syn::parse::{Parse, ParseStream};
use syn::{Error, Ident, LitStr, Path, Token};

mod kw {
    syn::custom_keyword!(in_place);
}

const EXPECTED: &str = "expected `in_place` or `crate = \"path\"`";

#[derive(Default)]
pub struct Args {
    /// Present when the async entry of a `fn` body runs it in place instead of offloading.
    pub in_place: Option<kw::in_place>,
    /// The path generated code uses to reach the runtime crate.
    pub krate: Option<Path>,
}

impl Parse for Args {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let mut args = Args::default();
        while !input.is_empty() {
            if input.peek(kw::in_place) {
                let keyword: kw::in_place = input.parse()?;
                if input.peek(Token![=]) {
                    return Err(Error::new(
                        input.span(),
                        "`in_place` takes no value: write `#[smartasync(in_place)]`",
                    ));
                }
                if args.in_place.replace(keyword).is_some() {
                    return Err(Error::new(keyword.span, "duplicate argument `in_place`"));
                }
            } else if input.peek(Token![crate]) {
                let keyword: Token![crate] = input.parse()?;
                if !input.peek(Token![=]) {
                    return Err(Error::new(
                        keyword.span,
                        "`crate` needs the path to smartasync: `crate = \"path::to::smartasync\"`",
                    ));
                }
                input.parse::<Token![=]>()?;
                let path = parse_crate_path(input)?;
                if args.krate.replace(path).is_some() {
                    return Err(Error::new(keyword.span, "duplicate argument `crate`"));
                }
            } else {
                let message = match input.fork().call(Ident::parse_any) {
                    Ok(name) => format!("unknown argument `{name}`: {EXPECTED}"),
                    Err(_) => format!("unexpected token: {EXPECTED}"),
                };
                return Err(Error::new(input.span(), message));
            }
            if input.is_empty() {
                break;
            }
            if !input.peek(Token![,]) {
                return Err(Error::new(
                    input.span(),
                    format!("expected `,` between arguments: {EXPECTED}"),
                ));
            }
            input.parse::<Token![,]>()?;
        }
        Ok(args)
    }
}

fn parse_crate_path(input: ParseStream) -> syn::Result<Path> {
    if !input.peek(LitStr) {
        return Err(Error::new(
            input.span(),
            "expected the path as a string: `crate = \"path::to::smartasync\"`",
        ));
    }
    let literal: LitStr = input.parse()?;
    literal.parse_with(Path::parse_mod_style).map_err(|_| {
        Error::new(
            literal.span(),
            "expected a path such as `\"my_crate::smartasync\"`",
        )
    })
}
