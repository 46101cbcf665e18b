//! Which item the attribute was given: a function, an `impl` block or a trait. Function
//! bodies are kept as tokens: once a signature parses, both entries are emitted whatever the
//! body holds, so a body being typed keeps its twin (and the IDE its completions), and a
//! syntax error in it is reported once, by rustc, at its own line.

use proc_macro2::{Delimiter, Group, Span, TokenStream, TokenTree};
use quote::{ToTokens, TokenStreamExt};
use syn::parse::{Parse, ParseStream, Parser};
use syn::{Attribute, Error, Signature, Stmt, Token, Visibility};

/// The items the attribute takes.
pub enum Item {
    Function(Function),
    Impl(ImplBlock),
    Trait(TraitBlock),
}

/// A function or method, with its body as tokens (`None`: a trait method's declaration).
#[derive(Clone)]
pub struct Function {
    pub attrs: Vec<Attribute>,
    pub vis: Visibility,
    pub defaultness: Option<Token![default]>,
    pub sig: Signature,
    /// The signature's tokens as written, where it has a common shape: `None` once `sig`
    /// is changed.
    pub verbatim: Option<crate::signature::Verbatim>,
    pub body: Option<Body>,
}

/// A function body: its inner attributes, then the rest as tokens with their own spans.
#[derive(Clone)]
pub struct Body {
    pub group: Group,
    pub inner_attrs: Vec<Attribute>,
    pub rest: TokenStream,
    /// The statements, where they parse (they are only looked at, never re-emitted):
    /// parsed on first need, which only a body copied into its twin has.
    stmts: std::cell::OnceCell<Option<Vec<Stmt>>>,
}

/// An `impl` block: the header as syn reads it (with no items), then its items.
pub struct ImplBlock {
    pub header: syn::ItemImpl,
    pub inner_attrs: Vec<Attribute>,
    pub items: Vec<Member>,
}

/// A trait: the header as syn reads it (with no items), then its items.
pub struct TraitBlock {
    pub header: syn::ItemTrait,
    pub inner_attrs: Vec<Attribute>,
    pub items: Vec<Member>,
}

/// An item inside an `impl` block or a trait.
pub enum Member {
    Function(Box<Function>),
    /// Anything else (constants, types, macros), passed through as written.
    Other(TokenStream),
}

impl Item {
    /// Reads the item. A block is split on its tokens, before syn reads anything, so that
    /// only the block's contents are walked into (once, by [`parse_members`]).
    pub fn parse(tokens: TokenStream) -> syn::Result<Item> {
        match leading_keyword(&tokens) {
            Some(keyword) if keyword == "impl" => {
                let (header, body) = split_block(tokens)?;
                let header: syn::ItemImpl = syn::parse2(header)?;
                let (inner_attrs, items) = parse_members(body)?;
                Ok(Item::Impl(ImplBlock {
                    header,
                    inner_attrs,
                    items,
                }))
            }
            Some(keyword) if keyword == "trait" => {
                let (header, body) = split_block(tokens)?;
                let header: syn::ItemTrait = syn::parse2(header)?;
                let (inner_attrs, items) = parse_members(body)?;
                Ok(Item::Trait(TraitBlock {
                    header,
                    inner_attrs,
                    items,
                }))
            }
            _ => {
                let function: Function = syn::parse2(tokens)?;
                if function.body.is_none() {
                    return Err(Error::new_spanned(
                        &function.sig.ident,
                        "`#[smartasync]` on a function needs its body; to declare the pair in a \
                         trait, put `#[smartasync]` on the trait",
                    ));
                }
                Ok(Item::Function(function))
            }
        }
    }
}

/// The first of `fn`, `impl` and `trait` at the top level of the item's tokens: an
/// `fn f() -> impl Trait` has `fn` first, an `impl` block has no `fn` before its braces.
fn leading_keyword(tokens: &TokenStream) -> Option<String> {
    tokens.clone().into_iter().find_map(|token| match token {
        TokenTree::Ident(ident) if ident == "fn" || ident == "impl" || ident == "trait" => {
            Some(ident.to_string())
        }
        _ => None,
    })
}

/// The header of a block item with empty braces, and the braces' contents.
fn split_block(tokens: TokenStream) -> syn::Result<(TokenStream, TokenStream)> {
    let mut tokens: Vec<TokenTree> = tokens.into_iter().collect();
    match tokens.pop() {
        Some(TokenTree::Group(group)) if group.delimiter() == Delimiter::Brace => {
            let mut header: TokenStream = tokens.into_iter().collect();
            let mut empty = Group::new(Delimiter::Brace, TokenStream::new());
            empty.set_span(group.span());
            header.append(empty);
            Ok((header, group.stream()))
        }
        _ => Err(Error::new(
            Span::call_site(),
            "expected the block's items in braces",
        )),
    }
}

fn parse_members(body: TokenStream) -> syn::Result<(Vec<Attribute>, Vec<Member>)> {
    let parser = |input: ParseStream| {
        let inner_attrs = input.call(Attribute::parse_inner)?;
        let mut items = Vec::new();
        while !input.is_empty() {
            if is_function(&input.fork()) {
                items.push(Member::Function(Box::new(input.parse()?)));
            } else {
                items.push(Member::Other(parse_other(input)?));
            }
        }
        Ok((inner_attrs, items))
    };
    parser.parse2(body)
}

/// Whether the next item is a function: attributes, visibility and `default` first.
fn is_function(input: ParseStream) -> bool {
    let prefix = || -> syn::Result<()> {
        input.call(Attribute::parse_outer)?;
        input.parse::<Visibility>()?;
        input.parse::<Option<Token![default]>>()?;
        input.parse::<Option<Token![const]>>()?;
        input.parse::<Option<Token![async]>>()?;
        input.parse::<Option<Token![unsafe]>>()?;
        input.parse::<Option<syn::Abi>>()?;
        Ok(())
    };
    prefix().is_ok() && input.peek(Token![fn])
}

/// Any other item of a block, up to its end: a `;`-terminated item, or one that ends in
/// braces (a macro call such as `m! { .. }`).
fn parse_other(input: ParseStream) -> syn::Result<TokenStream> {
    let mut tokens = TokenStream::new();
    input
        .call(Attribute::parse_outer)?
        .iter()
        .for_each(|attr| attr.to_tokens(&mut tokens));
    loop {
        if input.is_empty() {
            return Ok(tokens);
        }
        if input.peek(Token![;]) {
            input.parse::<Token![;]>()?.to_tokens(&mut tokens);
            return Ok(tokens);
        }
        let token: TokenTree = input.parse()?;
        let ends = matches!(&token, TokenTree::Group(group) if group.delimiter() == Delimiter::Brace)
            && !input.peek(Token![;]);
        tokens.append(token);
        if ends {
            return Ok(tokens);
        }
    }
}

impl Parse for Function {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let attrs = input.call(Attribute::parse_outer)?;
        let vis: Visibility = input.parse()?;
        let defaultness: Option<Token![default]> = input.parse()?;
        let lookahead = input.fork();
        lookahead.parse::<Option<Token![const]>>()?;
        lookahead.parse::<Option<Token![async]>>()?;
        lookahead.parse::<Option<Token![unsafe]>>()?;
        lookahead.parse::<Option<syn::Abi>>()?;
        if !lookahead.peek(Token![fn]) {
            return Err(Error::new(
                input.span(),
                "`#[smartasync]` goes on a `fn` or `async fn`, an `impl` block or a trait",
            ));
        }
        let (sig, verbatim) = crate::signature::parse(input)?;
        let body = if input.peek(Token![;]) {
            input.parse::<Token![;]>()?;
            None
        } else {
            let group: Group = input.parse()?;
            if group.delimiter() != Delimiter::Brace {
                return Err(Error::new(group.span(), "expected the function's body"));
            }
            Some(Body::new(group))
        };
        Ok(Function {
            attrs,
            vis,
            defaultness,
            sig,
            verbatim,
            body,
        })
    }
}

impl Body {
    fn new(group: Group) -> Self {
        let mut tokens = group.stream().into_iter();
        let inner = matches!(
            (tokens.next(), tokens.next()),
            (Some(TokenTree::Punct(pound)), Some(TokenTree::Punct(bang)))
                if pound.as_char() == '#' && bang.as_char() == '!'
        );
        if !inner {
            // Most bodies: kept as they are, not walked and rebuilt token by token.
            return Body {
                rest: group.stream(),
                group,
                inner_attrs: Vec::new(),
                stmts: std::cell::OnceCell::new(),
            };
        }
        let split = |input: ParseStream| {
            let inner_attrs = input.call(Attribute::parse_inner)?;
            Ok((inner_attrs, input.parse::<TokenStream>()?))
        };
        let (inner_attrs, rest) = split
            .parse2(group.stream())
            .unwrap_or_else(|_: Error| (Vec::new(), group.stream()));
        Body {
            group,
            inner_attrs,
            rest,
            stmts: std::cell::OnceCell::new(),
        }
    }

    /// The body's statements, or `None` where they do not parse.
    pub fn stmts(&self) -> Option<&[Stmt]> {
        self.stmts
            .get_or_init(|| syn::Block::parse_within.parse2(self.rest.clone()).ok())
            .as_deref()
    }

    /// The body with `prelude` before its statements, after its inner attributes, in its
    /// own braces: no extra block around the user's code.
    pub fn with_prelude(&self, prelude: TokenStream) -> TokenStream {
        let mut tokens = TokenStream::new();
        tokens.append_all(&self.inner_attrs);
        tokens.extend([prelude, self.rest.clone()]);
        let mut group = Group::new(Delimiter::Brace, tokens);
        group.set_span(self.group.span());
        group.into_token_stream()
    }

    /// The body as a block for a closure or an `async` block, after `prelude`. Inner
    /// attributes cannot stay there; the caller moves them onto the generated function.
    pub fn as_block(&self, prelude: TokenStream) -> TokenStream {
        let mut group = Group::new(Delimiter::Brace, {
            let mut tokens = prelude;
            tokens.extend(std::iter::once(self.rest.clone()));
            tokens
        });
        group.set_span(self.group.span());
        group.into_token_stream()
    }
}

impl ToTokens for Body {
    fn to_tokens(&self, tokens: &mut TokenStream) {
        self.group.to_tokens(tokens);
    }
}

impl Function {
    /// The function exactly as written, with `attrs` in place of its own.
    pub fn written_with(&self, attrs: &[Attribute]) -> TokenStream {
        let mut tokens = TokenStream::new();
        tokens.append_all(attrs);
        self.vis.to_tokens(&mut tokens);
        self.defaultness.to_tokens(&mut tokens);
        self.sig.to_tokens(&mut tokens);
        match &self.body {
            Some(body) => body.to_tokens(&mut tokens),
            None => <Token![;]>::default().to_tokens(&mut tokens),
        }
        tokens
    }

    /// The function exactly as written.
    pub fn written(&self) -> TokenStream {
        self.written_with(&self.attrs)
    }
}
