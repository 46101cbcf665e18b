//! What surrounds a lone attribute: whether it stands on a method of a trait impl, where
//! the generated entry must be a member of the trait, which an attribute on one method
//! cannot add. A macro sees only its own item, so this reads the source file the
//! attribute is written in and finds the block around it; wherever that cannot be done
//! with certainty (a file that is not on disk, a header it cannot read, a span that does
//! not point at the attribute), it answers `None` and the attribute expands as usual.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::SystemTime;

/// A trait impl around a lone attribute.
pub struct TraitImpl {
    pub header: syn::ItemImpl,
    /// Whether the trait, declared in the same file, is under `#[smartasync]` too (so it
    /// declares the `_async` entries); `None` when its declaration is elsewhere.
    pub paired_trait: Option<bool>,
}

/// The trait impl whose member the attribute at the call site stands on.
pub fn trait_impl_at_call_site() -> Option<TraitImpl> {
    let span = proc_macro::Span::call_site();
    let path = span.local_file()?;
    let written = span.source_text()?;
    let source = source(path)?;
    let offset = offset_of(&source.text, span.line(), span.column())?;
    if !source.text[offset..].starts_with(&written) {
        return None;
    }
    let header = trait_impl_around(&source.text, &source.blocks, offset)?;
    let name = header.trait_.as_ref()?.1.segments.last()?.ident.to_string();
    Some(TraitImpl {
        paired_trait: trait_paired(&source.text, &source.blocks, &name),
        header,
    })
}

/// The header of the trait impl whose body directly holds `offset`, if any.
fn trait_impl_around(text: &str, blocks: &[Block], offset: usize) -> Option<syn::ItemImpl> {
    // Blocks are listed by their opening brace: the last one open around `offset` is
    // the innermost.
    let block = blocks
        .iter()
        .rev()
        .find(|block| block.open < offset && offset < block.close)?;
    let header = text.get(block.header..block.open)?;
    let header: syn::ItemImpl = syn::parse_str(&format!("{header}{{}}")).ok()?;
    header.trait_.is_some().then_some(header)
}

/// Whether the trait `name` declared in `text` is under `#[smartasync]`; `None` if it is
/// not declared there.
fn trait_paired(text: &str, blocks: &[Block], name: &str) -> Option<bool> {
    blocks.iter().find_map(|block| {
        let header = text.get(block.header..block.open)?;
        if !header.contains("trait") || !header.contains(name) {
            return None;
        }
        let declared: syn::ItemTrait = syn::parse_str(&format!("{header}{{}}")).ok()?;
        (declared.ident == name).then(|| {
            declared.attrs.iter().any(|attr| {
                attr.path()
                    .segments
                    .last()
                    .is_some_and(|segment| segment.ident == "smartasync")
            })
        })
    })
}

/// A file's text and its blocks, read once per version of the file.
struct Source {
    text: String,
    blocks: Vec<Block>,
    version: (u64, Option<SystemTime>),
}

/// The files read so far: a crate's lone attributes are many to a file.
static SOURCES: Mutex<Option<HashMap<PathBuf, Arc<Source>>>> = Mutex::new(None);

fn source(path: PathBuf) -> Option<Arc<Source>> {
    let metadata = std::fs::metadata(&path).ok()?;
    let version = (metadata.len(), metadata.modified().ok());
    let mut sources = SOURCES.lock().unwrap_or_else(PoisonError::into_inner);
    let sources = sources.get_or_insert_with(HashMap::new);
    if let Some(source) = sources
        .get(&path)
        .filter(|source| source.version == version)
    {
        return Some(Arc::clone(source));
    }
    let text = std::fs::read_to_string(&path).ok()?;
    let source = Arc::new(Source {
        blocks: blocks(&text),
        text,
        version,
    });
    sources.insert(path, Arc::clone(&source));
    Some(source)
}

/// The byte offset of a 1-based line and a 1-based column counted in characters.
fn offset_of(text: &str, line: usize, column: usize) -> Option<usize> {
    let start = if line <= 1 {
        0
    } else {
        text.match_indices('\n').nth(line - 2)?.0 + 1
    };
    let rest = &text[start..];
    let within = match rest.char_indices().nth(column.checked_sub(1)?) {
        Some((index, _)) => index,
        None => return None,
    };
    Some(start + within)
}

/// A `{ .. }` block of the source: where its header (the text since the previous item
/// ended) starts, and where its braces are.
#[derive(Debug, PartialEq)]
struct Block {
    header: usize,
    open: usize,
    close: usize,
}

/// Every block of `text`, in the order they open. Comments, strings and character
/// literals are skipped; a block left open runs to the end.
fn blocks(text: &str) -> Vec<Block> {
    let bytes = text.as_bytes();
    let mut blocks = Vec::new();
    // For each open block: its index, and the bracket depth of the level around it,
    // restored when it closes.
    let mut open: Vec<(usize, usize)> = Vec::new();
    let mut header = 0;
    let mut brackets = 0usize;
    let mut at = 0;
    while at < bytes.len() {
        let byte = bytes[at];
        let next = bytes.get(at + 1).copied();
        at = match byte {
            b'/' if next == Some(b'/') => line_end(bytes, at),
            b'/' if next == Some(b'*') => comment_end(bytes, at),
            b'"' => quoted_end(bytes, at + 1, b'"'),
            b'\'' => quote_end(text, at),
            b'{' => {
                blocks.push(Block {
                    header,
                    open: at,
                    close: bytes.len(),
                });
                open.push((blocks.len() - 1, brackets));
                header = at + 1;
                brackets = 0;
                at + 1
            }
            b'}' => {
                if let Some((index, outer_brackets)) = open.pop() {
                    blocks[index].close = at;
                    brackets = outer_brackets;
                }
                // What follows a block at its level starts a new header.
                header = at + 1;
                at + 1
            }
            b'(' | b'[' => {
                brackets += 1;
                at + 1
            }
            b')' | b']' => {
                brackets = brackets.saturating_sub(1);
                at + 1
            }
            b';' => {
                if brackets == 0 {
                    header = at + 1;
                }
                at + 1
            }
            byte if byte == b'_' || byte.is_ascii_alphanumeric() || byte >= 0x80 => {
                word_end(bytes, at)
            }
            _ => at + 1,
        };
    }
    blocks
}

fn line_end(bytes: &[u8], from: usize) -> usize {
    bytes[from..]
        .iter()
        .position(|&byte| byte == b'\n')
        .map_or(bytes.len(), |end| from + end + 1)
}

/// The end of a block comment, which may nest.
fn comment_end(bytes: &[u8], from: usize) -> usize {
    let mut depth = 0usize;
    let mut at = from;
    while at + 1 < bytes.len() {
        match (bytes[at], bytes[at + 1]) {
            (b'/', b'*') => {
                depth += 1;
                at += 2;
            }
            (b'*', b'/') => {
                depth -= 1;
                at += 2;
                if depth == 0 {
                    return at;
                }
            }
            _ => at += 1,
        }
    }
    bytes.len()
}

/// The end of a literal quoted by `quote` whose text starts at `from`, with escapes.
fn quoted_end(bytes: &[u8], from: usize, quote: u8) -> usize {
    let mut at = from;
    while at < bytes.len() {
        match bytes[at] {
            b'\\' => at += 2,
            byte if byte == quote => return at + 1,
            _ => at += 1,
        }
    }
    bytes.len()
}

/// After a `'`: the end of a character literal, or of a lifetime's quote.
fn quote_end(text: &str, at: usize) -> usize {
    let bytes = text.as_bytes();
    if bytes.get(at + 1) == Some(&b'\\') {
        return quoted_end(bytes, at + 1, b'\'');
    }
    match text[at + 1..].chars().next() {
        // `'x'`: a character; otherwise `'a` is a lifetime, read on as a word.
        Some(character) if bytes.get(at + 1 + character.len_utf8()) == Some(&b'\'') => {
            at + 2 + character.len_utf8()
        }
        _ => at + 1,
    }
}

/// The end of a word, or of the string it prefixes (`r"..."`, `r#"..."#`, `b"..."`,
/// `br"..."`, `c"..."`, `b'x'`).
fn word_end(bytes: &[u8], from: usize) -> usize {
    let end = from
        + bytes[from..]
            .iter()
            .position(|&byte| !(byte == b'_' || byte.is_ascii_alphanumeric() || byte >= 0x80))
            .unwrap_or(bytes.len() - from);
    let word = &bytes[from..end];
    match (word, bytes.get(end)) {
        (b"r" | b"br" | b"cr", Some(b'"' | b'#')) => raw_end(bytes, end),
        (b"b" | b"c", Some(b'"')) => quoted_end(bytes, end + 1, b'"'),
        (b"b", Some(b'\'')) => quoted_end(bytes, end + 1, b'\''),
        _ => end,
    }
}

/// After the prefix of a raw string: its end (`"` and as many `#` as opened it). A raw
/// identifier (`r#match`) is not a string: it ends after its `#`.
fn raw_end(bytes: &[u8], from: usize) -> usize {
    let hashes = bytes[from..]
        .iter()
        .take_while(|&&byte| byte == b'#')
        .count();
    if bytes.get(from + hashes) != Some(&b'"') {
        return from + hashes;
    }
    let mut at = from + hashes + 1;
    while at < bytes.len() {
        if bytes[at] == b'"'
            && bytes[at + 1..]
                .iter()
                .take(hashes)
                .filter(|&&byte| byte == b'#')
                .count()
                == hashes
        {
            return at + 1 + hashes;
        }
        at += 1;
    }
    bytes.len()
}

#[cfg(test)]
mod tests {
    use super::{blocks, offset_of, trait_impl_around, trait_paired};

    /// Whether the attribute marked `#[here]` stands directly in a trait impl, and which.
    fn around(text: &str) -> Option<String> {
        let offset = text.find("#[here]").expect("a marked attribute");
        let header = trait_impl_around(text, &blocks(text), offset)?;
        let (_, path, _) = header.trait_?;
        Some(quote::quote!(#path).to_string())
    }

    #[test]
    fn finds_the_trait_impl_around_an_attribute() {
        let text = "
            /// Docs with a brace { and a quote \" in them.
            #[cfg(all())]
            impl<T: Fn() -> u32> store::Store<T> for Memory<T> where T: Clone {
                fn other(&self) { let _ = \"}\"; let _ = '}'; let _: &'static str = r#\"}\"#; }
                #[here]
                fn load(&self) {}
            }";
        assert_eq!(around(text).as_deref(), Some("store :: Store < T >"));
    }

    #[test]
    fn an_inherent_impl_or_a_body_is_not_a_trait_impl() {
        assert_eq!(around("impl Memory { #[here] fn load(&self) {} }"), None);
        assert_eq!(
            around("impl<F> Memory<F> where F: for<'a> Fn(&'a str) { #[here] fn load(&self) {} }"),
            None
        );
        assert_eq!(
            around("impl Store for Memory { fn load(&self) { #[here] fn inner() {} } }"),
            None
        );
        assert_eq!(around("mod m { #[here] fn load() {} }"), None);
        assert_eq!(around("#[here] fn load() {}"), None);
    }

    #[test]
    fn what_precedes_a_header_is_not_part_of_it() {
        let text = "
            const SIZES: [u8; 2] = [1, 2];
            fn before() { if true {} }
            /* a comment { with /* nested */ braces */
            unsafe impl Store for [u8; 4] {
                #[here]
                fn load(&self) {}
            }";
        assert_eq!(around(text).as_deref(), Some("Store"));
    }

    #[test]
    fn tells_a_paired_trait_from_a_plain_one() {
        let text = "
            #[smartasync::smartasync]
            pub trait Store: Send { fn load(&self); }
            /// Not paired.
            trait Plain { fn load(&self); }";
        let blocks = blocks(text);
        assert_eq!(trait_paired(text, &blocks, "Store"), Some(true));
        assert_eq!(trait_paired(text, &blocks, "Plain"), Some(false));
        assert_eq!(trait_paired(text, &blocks, "Elsewhere"), None);
    }

    #[test]
    fn offsets_count_characters_within_a_line() {
        let text = "first\n/* é */ #[here]";
        let offset = offset_of(text, 2, 9).unwrap();
        assert!(text[offset..].starts_with("#[here]"));
        assert_eq!(offset_of(text, 3, 1), None);
    }
}
