//! Which item the attribute was given: a function with a body, free or in an `impl` block.

use proc_macro2::TokenStream;
use quote::{ToTokens, TokenStreamExt};
use syn::parse::{Parse, ParseStream};
use syn::{braced, token, Attribute, Error, Signature, Stmt, Token, Visibility};

/// A free function or a method, as written.
pub struct Function {
    pub attrs: Vec<Attribute>,
    pub vis: Visibility,
    pub defaultness: Option<Token![default]>,
    pub sig: Signature,
    pub body: Body,
}

/// A function body: its inner attributes and statements, with their own spans.
#[derive(Clone)]
pub struct Body {
    pub brace: token::Brace,
    pub inner_attrs: Vec<Attribute>,
    pub stmts: Vec<Stmt>,
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
                "`#[smartasync]` goes on a `fn` or `async fn`: a free function or a method in an `impl` block",
            ));
        }
        let sig: Signature = input.parse()?;
        if input.peek(Token![;]) {
            return Err(Error::new(
                input.span(),
                "`#[smartasync]` needs the function's body: declarations without one (as in a trait) are not supported",
            ));
        }
        let content;
        let brace = braced!(content in input);
        let inner_attrs = content.call(Attribute::parse_inner)?;
        let stmts = content.call(syn::Block::parse_within)?;
        Ok(Function {
            attrs,
            vis,
            defaultness,
            sig,
            body: Body {
                brace,
                inner_attrs,
                stmts,
            },
        })
    }
}

impl Function {
    /// The item exactly as written.
    pub fn written(&self) -> TokenStream {
        let mut tokens = TokenStream::new();
        tokens.append_all(&self.attrs);
        self.vis.to_tokens(&mut tokens);
        self.defaultness.to_tokens(&mut tokens);
        self.sig.to_tokens(&mut tokens);
        self.body.to_tokens(&mut tokens);
        tokens
    }
}

impl ToTokens for Body {
    fn to_tokens(&self, tokens: &mut TokenStream) {
        self.brace.surround(tokens, |tokens| {
            tokens.append_all(&self.inner_attrs);
            tokens.append_all(&self.stmts);
        });
    }
}

impl Body {
    /// The body as a block expression for a closure or an `async` block, after `prelude`. Inner attributes
    /// cannot stay there; the caller moves them onto the generated function.
    pub fn as_block(&self, prelude: TokenStream) -> TokenStream {
        let mut tokens = TokenStream::new();
        self.brace.surround(&mut tokens, |tokens| {
            tokens.extend(prelude);
            tokens.append_all(&self.stmts);
        });
        tokens
    }
}
