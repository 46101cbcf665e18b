//! What is planned for one function, shared by every kind of item the attribute takes (a
//! function, a method of an impl block, of a trait impl, of a trait): which entry is written
//! and which generated, where the function lives, how the generated entry reaches the
//! written one, and how each value crosses to another thread. Naming rules live here too.

use proc_macro2::{Delimiter, Group, Punct, Spacing, Span, TokenStream};
use quote::{format_ident, quote, ToTokens, TokenStreamExt};
use syn::{Ident, Path, Type};

use crate::parse::Function;

/// The suffix of the async entry's name.
pub const SUFFIX: &str = "_async";

/// The async entry's name for `foo`: `foo_async`, spanned at `foo`.
pub fn async_name(ident: &Ident) -> Ident {
    format_ident!("{}{}", ident, SUFFIX, span = ident.span())
}

/// `foo` for `foo_async`, if `name` is an async entry's name.
pub fn stem(name: &str) -> Option<&str> {
    name.strip_suffix(SUFFIX).filter(|stem| !stem.is_empty())
}

/// A hidden local of generated code: mixed-site, so that it never meets a user's name.
pub fn hidden(name: &str) -> Ident {
    Ident::new(&format!("__smartasync_{name}"), Span::mixed_site())
}

/// Where the written function lives, which decides how its twin is shaped and reaches it.
#[derive(Clone)]
pub enum Site {
    /// A lone function under the attribute. With `self` it is a method; without, the
    /// attribute cannot tell a free function from an associated one, so the twin holds a
    /// copy of the body.
    Function,
    /// A method of an `#[smartasync]` inherent impl block.
    Inherent,
    /// A method of an `#[smartasync]` trait impl (the trait's path as written).
    TraitImpl(Path),
    /// A method of an `#[smartasync]` trait.
    Trait,
}

impl Site {
    /// Whether the async entry is the trait's boxed, dyn-compatible form.
    pub fn boxed(&self) -> bool {
        matches!(self, Site::TraitImpl(_) | Site::Trait)
    }
}

/// What the generated entry does to run the written body.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Twin {
    /// `async fn` body: the twin is the blocking entry, which drives the body (`block_on`).
    Drive,
    /// `fn` body: the twin is the async entry, which runs the body on the blocking pool.
    Offload,
    /// `fn` body under `in_place` (or provided in a trait): the async entry runs the body
    /// on the awaiting thread.
    InPlace,
    /// A trait method without a body: both entries are declared.
    Declare,
}

/// How a value reaches the body when the twin runs it on another thread.
#[derive(Clone)]
pub enum Crossing {
    /// `&self`, `self: &Arc<Self>`: the referent (this type) is cloned and lent back.
    Shared(Type),
    /// `self`, `self: Arc<Self>`, owned arguments, `&'static T`: moved (this type).
    Moved(Type),
    /// A `&T` argument: copied with `ToOwned` and lent back as `&T`.
    Copied,
    /// A `&str` argument: copied into a `String` (`private::own`) and lent back. A `str`
    /// always crosses, so it needs no bound, nor the wrapper that explains a failure.
    Str,
    /// Passed on as it is: the twin runs the body where it is called, or the value is of a
    /// primitive type, always `Send + 'static` (it needs no wrapper, nor a bound to explain a
    /// failure).
    AsIs,
}

/// A helper trait of the runtime crate, required of a type that crosses, for its message.
#[derive(Clone, Copy)]
pub enum Helper {
    SharedReceiver,
    Movable,
    Copyable,
    Returnable,
    Yieldable,
}

impl Helper {
    /// The trait's name in the runtime crate's private module.
    pub fn name(self) -> &'static str {
        match self {
            Helper::SharedReceiver => "SharedReceiver",
            Helper::Movable => "Movable",
            Helper::Copyable => "Copyable",
            Helper::Returnable => "Returnable",
            Helper::Yieldable => "Yieldable",
        }
    }
}

impl Helper {
    /// `private::check_trait`, the function that checks it of a type argument.
    pub fn check(self, private: &Path) -> TokenStream {
        let name = match self {
            Helper::SharedReceiver => quote!(check_shared_receiver),
            Helper::Movable => quote!(check_movable),
            Helper::Copyable => quote!(check_copyable),
            Helper::Returnable => quote!(check_returnable),
            Helper::Yieldable => quote!(check_yieldable),
        };
        quote!(#private::#name)
    }
}

impl Crossing {
    /// The helper trait the crossing type must implement, for its message.
    pub fn helper(&self) -> Option<Helper> {
        match self {
            Crossing::Shared(_) => Some(Helper::SharedReceiver),
            Crossing::Moved(_) => Some(Helper::Movable),
            Crossing::Copied => Some(Helper::Copyable),
            Crossing::Str | Crossing::AsIs => None,
        }
    }

    /// The wrapper taken at call time from `value`, and the expression that gives the body
    /// its argument back from the wrapper bound to `name`. With `span`, the wrapper's
    /// constructor carries that span, so that a requirement it fails is reported there.
    pub fn wrap<'a>(
        &self,
        private: &'a Path,
        value: &Ident,
        name: &Ident,
        span: Option<Span>,
    ) -> (Wrapping<'a>, Wrapping<'a>) {
        let (take, give, borrow): (&[&str], &[&str], bool) = match self {
            Crossing::Shared(_) => (&["Shared", "new"], &["Shared", "lend"], true),
            Crossing::Moved(_) => (&["Moved", "new"], &["Moved", "into_inner"], false),
            Crossing::Copied => (&["Copied", "new"], &["Copied", "lend"], true),
            Crossing::Str => {
                let take = Wrapping {
                    path: Some((&["own"], None)),
                    ..Wrapping::as_is(private, value.clone())
                };
                let give = Wrapping {
                    borrow: true,
                    ..Wrapping::as_is(private, name.clone())
                };
                return (take, give);
            }
            Crossing::AsIs => {
                return (
                    Wrapping::as_is(private, value.clone()),
                    Wrapping::as_is(private, name.clone()),
                )
            }
        };
        // Located at the user's token, resolved where it was made (a hidden name stays
        // hidden).
        let at = |ident: &Ident| {
            let mut ident = ident.clone();
            if let Some(span) = span {
                ident.set_span(span.resolved_at(ident.span()));
            }
            ident
        };
        let take = Wrapping {
            private,
            // Both at the user's token: a requirement they fail is reported once, there.
            path: Some((take, span)),
            borrow: false,
            arg: at(value),
            // The call's parentheses and its argument carry the span too, so that the
            // whole expression does, and a failure here is the one already reported there.
            parens: span,
            method: false,
        };
        let give = Wrapping {
            private,
            path: Some((give, span)),
            borrow,
            arg: at(name),
            parens: None,
            // Unspanned, a method call: `(&a).lend()` is 5 tokens where the path is 10.
            method: span.is_none(),
        };
        (take, give)
    }
}

/// `private::Wrapper::method(&arg)`, or `arg` alone, printed where it is
/// interpolated: written once or twice for every value that crosses, it has no token stream
/// of its own to be joined (each join is a round trip to the compiler).
pub struct Wrapping<'a> {
    private: &'a Path,
    /// The wrapper and its method (or a function), with the span of every token of the path.
    path: Option<(&'static [&'static str], Option<Span>)>,
    /// `&arg`, or, with no path, `&*arg`.
    borrow: bool,
    arg: Ident,
    /// The span of the parentheses, if not the call site.
    parens: Option<Span>,
    /// Written `arg.method()`, the wrapper's own method, not as a path.
    method: bool,
}

impl<'a> Wrapping<'a> {
    /// Whether this is the value alone, with no wrapper.
    pub fn is_plain(&self) -> bool {
        self.path.is_none() && !self.borrow
    }

    fn as_is(private: &'a Path, arg: Ident) -> Self {
        Wrapping {
            private,
            path: None,
            borrow: false,
            arg,
            parens: None,
            method: false,
        }
    }
}

impl ToTokens for Wrapping<'_> {
    fn to_tokens(&self, tokens: &mut TokenStream) {
        let Some((names, span)) = self.path else {
            if self.borrow {
                tokens.append(Punct::new('&', Spacing::Alone));
                tokens.append(Punct::new('*', Spacing::Alone));
            }
            self.arg.to_tokens(tokens);
            return;
        };
        if self.method {
            if self.borrow {
                // `(&a).lend()`: on `&Wrapper`, the wrapper's `&self` method is found by
                // value, before a trait's `self` method of the same name could be.
                let mut borrowed = TokenStream::new();
                borrowed.append(Punct::new('&', Spacing::Alone));
                borrowed.append(self.arg.clone());
                tokens.append(Group::new(Delimiter::Parenthesis, borrowed));
            } else {
                tokens.append(self.arg.clone());
            }
            tokens.append(Punct::new('.', Spacing::Alone));
            tokens.append(Ident::new(names[names.len() - 1], Span::call_site()));
            tokens.append(Group::new(Delimiter::Parenthesis, TokenStream::new()));
            return;
        }
        private_path(tokens, self.private, names, span);
        let mut arguments = TokenStream::new();
        if self.borrow {
            arguments.append(Punct::new('&', Spacing::Alone));
        }
        arguments.append(self.arg.clone());
        let mut arguments = Group::new(Delimiter::Parenthesis, arguments);
        if let Some(span) = self.parens {
            arguments.set_span(span);
        }
        tokens.append(arguments);
    }
}

/// Appends `private::a::b` to `tokens`, every token at `span` where one is given.
pub fn private_path(tokens: &mut TokenStream, private: &Path, names: &[&str], span: Option<Span>) {
    match span {
        Some(span) => tokens.extend(std::iter::once(crate::bound::respan(
            private.to_token_stream(),
            span,
        ))),
        None => private.to_tokens(tokens),
    }
    let span = span.unwrap_or_else(Span::call_site);
    for name in names {
        let mut colon = Punct::new(':', Spacing::Joint);
        colon.set_span(span);
        tokens.append(colon);
        let mut colon = Punct::new(':', Spacing::Alone);
        colon.set_span(span);
        tokens.append(colon);
        tokens.append(Ident::new(name, span));
    }
}

/// The name an `impl` block's expansion imports the runtime crate's private module as:
/// one identifier in place of `::smartasync::__private` in every path it writes, which is
/// most of the tokens an entry adds (and the attribute's run time is per token).
pub const PRIVATE: &str = "__smartasync";

/// `krate::__private`.
pub fn private_module(krate: &Path) -> Path {
    let mut path = krate.clone();
    path.segments
        .push(Ident::new("__private", Span::call_site()).into());
    path
}

/// A parameter of the written function and how it reaches the body.
#[derive(Clone)]
pub struct Param {
    /// `self` for the receiver; for a typed argument, the written identifier, or a hidden
    /// one for a pattern such as `(a, b): (u8, u8)`.
    pub name: Ident,
    /// The written pattern, bound from `name` where the body is copied.
    pub pat: Option<syn::Pat>,
    pub crossing: Crossing,
    /// Where a failed requirement on this value is reported: its type, as written.
    pub span: Span,
}

/// `Self::name`, or `<Self as Trait>::name` in a trait impl, printed where it is
/// interpolated.
pub struct PathTo<'a> {
    trait_path: Option<&'a Path>,
    name: Ident,
}

impl ToTokens for PathTo<'_> {
    fn to_tokens(&self, tokens: &mut TokenStream) {
        let call_site = Span::call_site();
        match self.trait_path {
            Some(path) => {
                tokens.append(Punct::new('<', Spacing::Alone));
                tokens.append(Ident::new("Self", call_site));
                tokens.append(Ident::new("as", call_site));
                path.to_tokens(tokens);
                tokens.append(Punct::new('>', Spacing::Alone));
            }
            None => tokens.append(Ident::new("Self", call_site)),
        }
        tokens.append(Punct::new(':', Spacing::Joint));
        tokens.append(Punct::new(':', Spacing::Alone));
        tokens.append(self.name.clone());
    }
}

/// Everything the expansion of one function needs, decided.
#[derive(Clone)]
pub struct Plan<'a> {
    /// The runtime crate (`::smartasync`, or `crate = ".."`), for its public items.
    pub krate: Path,
    /// Its private module, which the generated code calls: `krate::__private`, or in a
    /// block, the name the block's expansion imports it as ([`PRIVATE`]).
    pub private: Path,
    pub function: &'a Function,
    pub site: Site,
    pub twin: Twin,
    /// Whether the trait's async entries return `Send` futures (`?Send` clears it).
    pub send: bool,
    /// The receiver first, if any, then the typed arguments in order.
    pub params: Vec<Param>,
    /// The type a `fn` body's result crosses back as, with where to report it.
    pub output: Option<(Type, Span)>,
    /// The type parameters of the enclosing trait or impl, which a boxed future outlives.
    pub block_types: Vec<Ident>,
    /// `limit = N`: at most N bodies at once.
    pub limit: Option<syn::Expr>,
    /// `lane = PATH`: every call of the body runs on this lane's threads.
    pub lane: Option<Path>,
    /// The many items the body returns (`impl Iterator`, `impl Stream`), if it does.
    pub items: Option<crate::streams::Items>,
    /// `batch = N`: the largest batch of an iterator's items handed to its stream.
    pub batch: Option<syn::Expr>,
}

impl Plan<'_> {
    pub fn receiver(&self) -> Option<&Param> {
        // The receiver is the first parameter; asked of the signature, not by name.
        self.params
            .first()
            .filter(|_| self.function.sig.receiver().is_some())
    }

    /// How a generated entry names the written one: `Self::foo`, `<Self as Trait>::foo`, or
    /// nothing where the body is copied (a lone function without `self`).
    pub fn path_to(&self, name: &Ident) -> Option<PathTo<'_>> {
        match &self.site {
            Site::Function if self.receiver().is_none() => None,
            Site::TraitImpl(path) => Some(PathTo {
                trait_path: Some(path),
                name: name.clone(),
            }),
            _ => Some(PathTo {
                trait_path: None,
                name: name.clone(),
            }),
        }
    }

    /// Whether the function or its block has type parameters, whose bounds a generated
    /// `where` clause may repeat (`clippy::multiple_bound_locations`).
    pub fn has_type_parameters(&self) -> bool {
        self.function.sig.generics.type_params().next().is_some() || !self.block_types.is_empty()
    }

    /// Whether the generated entry holds a copy of the body instead of a call.
    pub fn copies_body(&self) -> bool {
        // As `path_to` decides, without writing the path.
        matches!(self.site, Site::Function) && self.receiver().is_none()
    }
}
