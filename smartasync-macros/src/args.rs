//! The attribute's arguments: `in_place`, `skip`, `?Send`, `crate = "path"`, `limit = N`,
//! and where each one may stand.

use proc_macro2::Span;
use syn::ext::IdentExt;
use syn::parse::ParseStream;
use syn::spanned::Spanned;
use syn::{Attribute, Error, Ident, LitStr, Path, Token};

mod kw {
    syn::custom_keyword!(in_place);
    syn::custom_keyword!(skip);
    syn::custom_keyword!(limit);
    syn::custom_keyword!(lane);
    syn::custom_keyword!(batch);
    syn::custom_keyword!(Send);
}

/// Where an argument list was written, which decides the arguments it may hold.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Place {
    /// On a lone function.
    Function,
    /// On an inherent `impl` block.
    Inherent,
    /// On a trait or a trait impl.
    Trait,
    /// On a method inside an annotated `impl` block.
    Method,
    /// On a method of an annotated trait.
    TraitMethod,
}

impl Place {
    fn is_method(self) -> bool {
        matches!(self, Place::Method | Place::TraitMethod)
    }

    fn accepts(self) -> &'static str {
        match self {
            Place::Function => {
                "`in_place`, `limit = N`, `lane = PATH`, `batch = N` or `crate = \"path\"`"
            }
            Place::Inherent => "`crate = \"path\"` (and, on its methods, `skip` or `in_place`)",
            Place::Trait => {
                "`?Send` or `crate = \"path\"` (and, on its methods, `skip` or `in_place`)"
            }
            Place::Method => {
                "`skip`, `in_place`, `limit = N`, `lane = PATH` or `batch = N` (block-wide \
                 options go on the block)"
            }
            Place::TraitMethod => {
                "`skip` (`in_place`, `limit = N`, `lane = PATH` and `batch = N` go on the \
                 methods of the trait's implementations)"
            }
        }
    }
}

#[derive(Clone, Default)]
pub struct Args {
    /// The async entry of a `fn` body runs it in place instead of offloading.
    pub in_place: Option<Span>,
    /// The method is left as written.
    pub skip: Option<Span>,
    /// The trait's async entries return futures that are not `Send`.
    pub not_send: Option<Span>,
    /// The path generated code uses to reach the runtime crate.
    pub krate: Option<Path>,
    /// At most this many bodies of the function run at once.
    pub limit: Option<syn::Expr>,
    /// Every call of the body runs on this lane's threads.
    pub lane: Option<Path>,
    /// The largest batch in which an iterator's items are handed to its stream.
    pub batch: Option<syn::Expr>,
}

impl Args {
    /// Parses `tokens`, written at `place`: an argument that does not belong there is an
    /// error that says what does.
    pub fn parse_at(tokens: proc_macro2::TokenStream, place: Place) -> syn::Result<Args> {
        let parser = |input: ParseStream| parse_list(input, place);
        syn::parse::Parser::parse2(parser, tokens)
    }

    /// Takes the `#[smartasync(..)]` options off a method inside an annotated block.
    pub fn take_from(attrs: &mut Vec<Attribute>, place: Place) -> syn::Result<Args> {
        let mut args = Args::default();
        let mut errors: Option<Error> = None;
        let mut found = false;
        let mut kept = Vec::new();
        for attr in attrs.drain(..) {
            let ours = attr
                .path()
                .segments
                .last()
                .is_some_and(|segment| segment.ident == "smartasync");
            if !ours {
                kept.push(attr);
                continue;
            }
            if std::mem::replace(&mut found, true) {
                let error = Error::new(
                    attr.span(),
                    "one `#[smartasync(..)]` per method: list its options in one attribute",
                );
                errors.get_or_insert(error.clone()).combine(error);
                continue;
            }
            let tokens = match &attr.meta {
                syn::Meta::Path(_) => proc_macro2::TokenStream::new(),
                syn::Meta::List(list) => list.tokens.clone(),
                syn::Meta::NameValue(meta) => {
                    let error = Error::new(meta.eq_token.span, "expected `#[smartasync(..)]`");
                    errors.get_or_insert(error.clone()).combine(error);
                    continue;
                }
            };
            match Args::parse_at(tokens, place) {
                Ok(parsed) => args = parsed,
                Err(error) => match &mut errors {
                    Some(errors) => errors.combine(error),
                    None => errors = Some(error),
                },
            }
        }
        *attrs = kept;
        errors.map_or(Ok(args), Err)
    }
}

fn parse_list(input: ParseStream, place: Place) -> syn::Result<Args> {
    let mut args = Args::default();
    let allowed = |span: Span, name: &str, ok: bool| {
        if ok {
            Ok(())
        } else {
            Err(Error::new(
                span,
                format!("`{name}` does not apply here: expected {}", place.accepts()),
            ))
        }
    };
    let once = |slot: &mut Option<Span>, span: Span, name: &str| {
        if slot.replace(span).is_some() {
            Err(Error::new(span, format!("duplicate argument `{name}`")))
        } else {
            Ok(())
        }
    };
    while !input.is_empty() {
        if input.peek(kw::in_place) {
            let span = input.parse::<kw::in_place>()?.span;
            no_value(input, "in_place")?;
            allowed(
                span,
                "in_place",
                matches!(place, Place::Function | Place::Method | Place::TraitMethod),
            )?;
            once(&mut args.in_place, span, "in_place")?;
        } else if input.peek(kw::skip) {
            let span = input.parse::<kw::skip>()?.span;
            no_value(input, "skip")?;
            allowed(span, "skip", place.is_method())?;
            once(&mut args.skip, span, "skip")?;
        } else if input.peek(Token![?]) {
            let question = input.parse::<Token![?]>()?;
            if !input.peek(kw::Send) {
                return Err(Error::new(input.span(), "expected `?Send`"));
            }
            let span = question
                .span
                .join(input.parse::<kw::Send>()?.span)
                .unwrap_or(question.span);
            allowed(span, "?Send", place == Place::Trait)?;
            once(&mut args.not_send, span, "?Send")?;
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
            allowed(keyword.span, "crate", !place.is_method())?;
            if args.krate.replace(path).is_some() {
                return Err(Error::new(keyword.span, "duplicate argument `crate`"));
            }
        } else if input.peek(kw::lane) {
            let keyword: kw::lane = input.parse()?;
            if !input.peek(Token![=]) {
                return Err(Error::new(
                    keyword.span,
                    "`lane` needs the path of a `static` `smartasync::Lane`: `lane = DB`",
                ));
            }
            input.parse::<Token![=]>()?;
            let lane: Path = input.parse()?;
            allowed(
                keyword.span,
                "lane",
                matches!(place, Place::Function | Place::Method | Place::TraitMethod),
            )?;
            if args.lane.replace(lane).is_some() {
                return Err(Error::new(keyword.span, "duplicate argument `lane`"));
            }
        } else if input.peek(kw::limit) {
            let keyword: kw::limit = input.parse()?;
            let permits = count(
                input,
                keyword.span,
                "`limit` needs the number of bodies that may run at once: `limit = 4`",
                "`limit = 0` would let no body run: give at least 1",
            )?;
            allowed(
                keyword.span,
                "limit",
                matches!(place, Place::Function | Place::Method | Place::TraitMethod),
            )?;
            if args.limit.replace(permits).is_some() {
                return Err(Error::new(keyword.span, "duplicate argument `limit`"));
            }
        } else if input.peek(kw::batch) {
            let keyword: kw::batch = input.parse()?;
            let items = count(
                input,
                keyword.span,
                "`batch` needs the largest number of items handed over at once: `batch = 256`",
                "`batch = 0` would hand over no item: give at least 1",
            )?;
            allowed(
                keyword.span,
                "batch",
                matches!(place, Place::Function | Place::Method | Place::TraitMethod),
            )?;
            if args.batch.replace(items).is_some() {
                return Err(Error::new(keyword.span, "duplicate argument `batch`"));
            }
        } else {
            let message = match input.fork().call(Ident::parse_any) {
                Ok(name) => format!("unknown argument `{name}`: expected {}", place.accepts()),
                Err(_) => format!("unexpected token: expected {}", place.accepts()),
            };
            return Err(Error::new(input.span(), message));
        }
        if input.is_empty() {
            break;
        }
        if !input.peek(Token![,]) {
            return Err(Error::new(
                input.span(),
                format!(
                    "expected `,` between arguments: expected {}",
                    place.accepts()
                ),
            ));
        }
        input.parse::<Token![,]>()?;
    }
    Ok(args)
}

/// `= N` after `limit` or `batch`: a constant expression, refused where it is a literal 0.
fn count(input: ParseStream, keyword: Span, missing: &str, zero: &str) -> syn::Result<syn::Expr> {
    if !input.peek(Token![=]) {
        return Err(Error::new(keyword, missing));
    }
    input.parse::<Token![=]>()?;
    let value: syn::Expr = input.parse()?;
    if let syn::Expr::Lit(syn::ExprLit {
        lit: syn::Lit::Int(int),
        ..
    }) = &value
    {
        if int.base10_parse::<usize>().ok() == Some(0) {
            return Err(Error::new(int.span(), zero));
        }
    }
    Ok(value)
}

fn no_value(input: ParseStream, name: &str) -> syn::Result<()> {
    if input.peek(Token![=]) || input.peek(syn::token::Paren) {
        return Err(Error::new(
            input.span(),
            format!("`{name}` takes no value: write `#[smartasync({name})]`"),
        ));
    }
    Ok(())
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
