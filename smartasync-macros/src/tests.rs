//! The pipeline never panics and always keeps the item: whatever it is given, it returns
//! tokens, and either a pair of functions or the item as written plus an error.

use proc_macro2::{TokenStream, TokenTree};

/// The pipeline, on an item that stands in no trait impl.
fn expand(args: TokenStream, input: TokenStream) -> TokenStream {
    crate::expand(args, input, || None)
}

const VALID: &[&str] = &[
    "fn f(&self, a: &str, (b, c): (u8, u8), mut d: Vec<u8>) -> Result<u8, E> { Ok(b) }",
    "pub async fn f<'a, T: Clone>(&'a mut self, a: &'a T, b: impl Into<String>) -> &'a T { a }",
    "fn connect<const N: usize>(url: &str, _: [u8; N]) -> io::Result<Self> where Self: Sized { todo!() }",
    "#[doc = \"d\"] #[must_use] pub(crate) fn f(self: Arc<Self>) -> u32 { #![allow(unused)] 1 }",
    "default fn f(self) {}",
    "fn f(x: &'static str, y: fn(&str) -> &str, z: Box<dyn for<'a> Fn(&'a str) + Send>) {}",
];

/// Valid with arguments.
const VALID_WITH_ARGS: &[(&str, &str)] = &[
    ("limit = 2", "fn f(&self, a: &str) -> u8 { 1 }"),
    ("limit = N", "async fn f(&self) -> u8 { 1 }"),
    ("in_place, limit = 1", "fn f(&mut self) {}"),
    ("lane = DB", "fn f(&self, (a, b): (u8, u8)) -> u8 { a + b }"),
    ("lane = crate::DB", "fn f(x: &[u8]) -> usize { x.len() }"),
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
    ("limit = 0", "fn f() {}"),
    ("lane = DB", "async fn f(&self) -> u8 { 1 }"),
    ("lane = DB, limit = 2", "fn f(&self) {}"),
    ("lane = DB, in_place", "fn f(&self) {}"),
    ("lane = DB", "fn f(&mut self) {}"),
];

const NOT_A_FUNCTION: &[&str] = &["struct S;", "fn f(&self);", "impl X", "", "fn", "{}"];

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
    let cases = VALID
        .iter()
        .map(|text| ("", *text))
        .chain(VALID_WITH_ARGS.iter().copied());
    for (args, text) in cases {
        let output = expand(tokens(args), tokens(text));
        assert!(!mentions(&output, "compile_error"), "{text} -> {output}");
        // Inside an `impl` block, where methods and `default fn` are at home.
        let block: syn::ItemImpl = syn::parse2(quote::quote!(impl X { #output }))
            .unwrap_or_else(|error| panic!("{text}: {error}\n{output}"));
        assert_eq!(block.items.len(), 2, "{text} -> {output}");
    }
}

/// The functions in `output`, read inside an `impl` block, with its `compile_error!`s
/// left out.
fn functions(output: &TokenStream) -> Vec<syn::ImplItemFn> {
    let block: syn::ItemImpl = syn::parse2(quote::quote!(impl X { #output }))
        .unwrap_or_else(|error| panic!("{error}\n{output}"));
    block
        .items
        .into_iter()
        .filter_map(|item| match item {
            syn::ImplItem::Fn(function) => Some(function),
            _ => None,
        })
        .collect()
}

#[test]
fn invalid_items_are_kept_with_an_error_and_a_stub_twin() {
    for (args, text) in INVALID {
        let output = expand(tokens(args), tokens(text));
        assert!(
            mentions(&output, "compile_error"),
            "{args} {text} -> {output}"
        );
        let written: syn::ImplItemFn = syn::parse_str(text).expect("test input parses");
        let functions = functions(&output);
        if written.sig.ident.to_string().ends_with("_async") {
            // Its twin would be named after a name that is itself the mistake.
            assert_eq!(functions.len(), 1, "{text} -> {output}");
            continue;
        }
        let names: Vec<String> = functions.iter().map(|f| f.sig.ident.to_string()).collect();
        assert_eq!(names.len(), 2, "{args} {text} -> {output}");
        assert!(names.contains(&"f".to_owned()), "{text} -> {output}");
        assert!(names.contains(&"f_async".to_owned()), "{text} -> {output}");
        let stub = functions
            .iter()
            .find(|f| {
                f.block
                    .stmts
                    .iter()
                    .any(|stmt| quote::quote!(#stmt).to_string().contains("unreachable"))
            })
            .unwrap_or_else(|| panic!("no stub twin: {text} -> {output}"));
        assert_eq!(
            stub.sig.inputs.len(),
            written.sig.inputs.len(),
            "{text} -> {output}"
        );
        let (stub_output, written_output) = (&stub.sig.output, &written.sig.output);
        assert_eq!(
            quote::quote!(#stub_output).to_string(),
            quote::quote!(#written_output).to_string(),
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
        .chain(VALID_WITH_ARGS.iter().copied())
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

/// The expansion of every supported shape, pretty-printed and compared with a checked-in
/// file: `tests/expand/NAME.rs` holds items under `#[smartasync]`, and
/// `tests/expand/NAME.expanded.rs` what the attribute makes of them. After a change to the
/// expansion, `UPDATE_EXPECT=1 cargo test -p smartasync-macros` rewrites them; read the
/// diff as a reviewer would.
#[test]
fn expansion_snapshots() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/expand");
    let mut inputs: Vec<_> = std::fs::read_dir(&dir)
        .expect("tests/expand exists")
        .map(|entry| entry.expect("readable entry").path())
        .filter(|path| {
            path.extension().is_some_and(|ext| ext == "rs")
                && !path.to_string_lossy().ends_with(".expanded.rs")
        })
        .collect();
    inputs.sort();
    assert!(inputs.len() >= 10, "only {} snapshot inputs", inputs.len());
    for input in inputs {
        let text = std::fs::read_to_string(&input).expect("readable input");
        let file: syn::File =
            syn::parse_str(&text).unwrap_or_else(|error| panic!("{}: {error}", input.display()));
        let mut output = TokenStream::new();
        for mut item in file.items {
            let attrs = item_attrs(&mut item);
            let position = attrs.iter().position(|attr| {
                attr.path()
                    .segments
                    .last()
                    .is_some_and(|segment| segment.ident == "smartasync")
            });
            match position {
                Some(position) => {
                    let attr = attrs.remove(position);
                    let args = match attr.meta {
                        syn::Meta::List(list) => list.tokens,
                        _ => TokenStream::new(),
                    };
                    output.extend(expand(args, quote::quote!(#item)));
                }
                None => output.extend(quote::quote!(#item)),
            }
        }
        let expanded: syn::File = syn::parse2(output.clone())
            .unwrap_or_else(|error| panic!("{}: {error}\n{output}", input.display()));
        let expected = input.with_extension("expanded.rs");
        expect_test::expect_file![expected].assert_eq(&prettyplease::unparse(&expanded));
    }
}

fn item_attrs(item: &mut syn::Item) -> &mut Vec<syn::Attribute> {
    match item {
        syn::Item::Fn(item) => &mut item.attrs,
        syn::Item::Impl(item) => &mut item.attrs,
        syn::Item::Trait(item) => &mut item.attrs,
        syn::Item::Struct(item) => &mut item.attrs,
        syn::Item::Use(item) => &mut item.attrs,
        other => panic!(
            "unexpected item in a snapshot input: {}",
            quote::quote!(#other)
        ),
    }
}

#[test]
#[ignore = "a measurement: cargo test -p smartasync-macros -- --ignored --nocapture expansion_time"]
fn expansion_time() {
    let mut source = String::from("impl Service {");
    for index in 0..500 {
        source.push_str(&format!(
            "pub fn get_{index}(&self, key: &str, n: u64) -> Result<u64, String> {{ Ok(*self.base + n + key.len() as u64) }}\
             pub async fn fetch_{index}(&self, key: &str, n: u64) -> Result<u64, String> {{ Ok(*self.base + n + key.len() as u64) }}"
        ));
    }
    source.push('}');
    let input = tokens(&source);
    let start = std::time::Instant::now();
    let output = expand(TokenStream::new(), input);
    let elapsed = start.elapsed();
    let text = output.to_string();
    eprintln!("expanded 1000 methods in {elapsed:?}: {} bytes", text.len());
}

/// The results left without a bound are the ones that always cross back; anything that
/// names a type of the user's, or a `Result` alias whose error it cannot see, keeps it.
#[test]
fn only_results_that_always_cross_go_without_a_bound() {
    let crosses = |ty: &str| crate::valid::always_crosses(&syn::parse_str(ty).expect("a type"));
    for ty in [
        "u64",
        "()",
        "bool",
        "String",
        "(u8, String)",
        "Option<Vec<u8>>",
        "Result<u64, String>",
        "Result<(), (char, i128)>",
    ] {
        assert!(crosses(ty), "{ty}");
    }
    for ty in [
        "Result<u64>",
        "io::Result<u64>",
        "Rc<u8>",
        "Vec<Rc<u8>>",
        "Result<u64, Error>",
        "std::string::String",
        "Box<u8>",
        "Option<&'static str>",
        "impl Send",
        "Vec<u8, A>",
    ] {
        assert!(!crosses(ty), "{ty}");
    }
}
