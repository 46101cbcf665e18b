//! The pipeline never panics and always keeps the item: whatever it is given, it returns
//! tokens, and either a pair of functions or the item as written plus an error.

use proc_macro2::{TokenStream, TokenTree};

use crate::expand;

const VALID: &[&str] = &[
    "fn f(&self, a: &str, (b, c): (u8, u8), mut d: Vec<u8>) -> Result<u8, E> { Ok(b) }",
    "pub async fn f<'a, T: Clone>(&'a mut self, a: &'a T, b: impl Into<String>) -> &'a T { a }",
    "fn connect<const N: usize>(url: &str, _: [u8; N]) -> io::Result<Self> where Self: Sized { todo!() }",
    "#[doc = \"d\"] #[must_use] pub(crate) fn f(self: Arc<Self>) -> u32 { #![allow(unused)] 1 }",
    "default fn f(self) {}",
    "fn f(x: &'static str, y: fn(&str) -> &str, z: Box<dyn for<'a> Fn(&'a str) + Send>) {}",
];

const INVALID: &[(&str, &str)] = &[
    ("", "fn f(&mut self) {}"),
    ("", "fn f(a: &mut u8, b: Vec<&str>) -> &str { \"\" }"),
    ("", "unsafe extern \"C\" fn f(a: u8, ...) {}"),
    ("", "const fn f() {}"),
    ("", "async fn f_async() {}"),
    ("in_place", "async fn f() {}"),
    ("in_place, in_place", "fn f() {}"),
    ("crate = 1", "fn f() {}"),
    ("crate = \"not a path\"", "fn f() {}"),
    ("bogus = [1, 2]", "fn f() {}"),
    ("", "fn f(self: Pin<&mut Self>) {}"),
    ("", "fn f(x: Cow<'a, str>) -> Ref<'_, u8> { todo!() }"),
];

const NOT_A_FUNCTION: &[&str] = &[
    "struct S;",
    "trait T { fn f(&self); }",
    "fn f(&self);",
    "",
    "fn",
    "{}",
];

fn tokens(text: &str) -> TokenStream {
    text.parse().expect("test input tokenizes")
}

fn mentions(output: &TokenStream, word: &str) -> bool {
    output.clone().into_iter().any(|token| match token {
        TokenTree::Ident(ident) => ident == word,
        TokenTree::Group(group) => mentions(&group.stream(), word),
        _ => false,
    })
}

#[test]
fn valid_items_expand_to_a_pair_of_items() {
    for text in VALID {
        let output = expand(TokenStream::new(), tokens(text));
        assert!(!mentions(&output, "compile_error"), "{text} -> {output}");
        // Inside an `impl` block, where methods and `default fn` are at home.
        let block: syn::ItemImpl = syn::parse2(quote::quote!(impl X { #output }))
            .unwrap_or_else(|error| panic!("{text}: {error}\n{output}"));
        assert_eq!(block.items.len(), 2, "{text} -> {output}");
    }
}

#[test]
fn invalid_items_are_kept_with_an_error_and_a_stub_twin() {
    for (args, text) in INVALID {
        let output = expand(tokens(args), tokens(text));
        assert!(
            mentions(&output, "compile_error"),
            "{args} {text} -> {output}"
        );
        assert!(
            mentions(&output, "f") || mentions(&output, "f_async"),
            "{text} -> {output}"
        );
    }
}

#[test]
fn other_items_are_kept_with_an_error() {
    for text in NOT_A_FUNCTION {
        let input = tokens(text);
        let output = expand(TokenStream::new(), input.clone());
        assert!(mentions(&output, "compile_error"), "{text} -> {output}");
        assert!(
            output.to_string().starts_with(&input.to_string()),
            "{text} -> {output}"
        );
    }
}

/// Every prefix of every test input, and every input with one token removed: the macro
/// must answer each with tokens (never a panic, which rustc reports as an ICE-like
/// "proc macro panicked").
#[test]
fn mangled_inputs_never_panic() {
    let inputs = VALID
        .iter()
        .map(|text| ("", *text))
        .chain(INVALID.iter().copied())
        .chain(NOT_A_FUNCTION.iter().map(|text| ("", *text)));
    let mut cases = 0;
    for (args, text) in inputs {
        let args = tokens(args);
        let all: Vec<TokenTree> = tokens(text).into_iter().collect();
        for cut in 0..=all.len() {
            let prefix: TokenStream = all[..cut].iter().cloned().collect();
            let without: TokenStream = all
                .iter()
                .enumerate()
                .filter(|(index, _)| *index != cut)
                .map(|(_, token)| token.clone())
                .collect();
            let _ = expand(args.clone(), prefix);
            let _ = expand(args.clone(), without.clone());
            let _ = expand(without, tokens(text));
            cases += 3;
        }
    }
    assert!(cases > 300, "only {cases} cases");
}
