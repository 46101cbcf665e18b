//! What `#[smartasync]` costs at compile time: a crate of N methods paired by the attribute,
//! the same pairs written by hand, and the same methods under `#[async_trait]`, each
//! rebuilt alone (`cargo check`, then `cargo build`, debug) after its source changes.
//!
//! `cargo run --release -p smartasync-benches --example compile_cost -- [--methods N]
//! [--rounds R]` generates the three crates in `target/compile-cost/` (a workspace of its
//! own, with its own target directory, outside the tracked tree), builds their dependencies
//! once, then times R rebuilds of each crate per command and kind of edit, and prints the
//! medians, ranges and ratios to the hand-written pairs. Half the methods are written `fn`,
//! half `async fn`.
//!
//! Two kinds of edit, the two ends of what a keystroke does to incremental compilation:
//! - `comment`: a comment at the top changes, every token keeps its place. rustc reuses
//!   every query it can, so the attributes' own run (repeated in full at every build) weighs
//!   the most.
//! - `lines`: a line is added or removed at the top, so every item below moves and every
//!   query of the crate runs again, as after an edit above the methods.
//!
//! With `--optimized-macros`, the generated workspace compiles the proc macros and their
//! parsing crates with `opt-level = 3` in the dev profile (`target/compile-cost-optimized/`),
//! as an application can in its own manifest. The last line is machine-readable:
//! `compile_cost: check_ratio=.. build_ratio=.. check_ratio_lines=.. build_ratio_lines=..
//! check_ratio_async_trait=.. build_ratio_async_trait=..` (without a suffix: the `comment`
//! edit).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// A crate's source for N methods, at a generation.
type Source = fn(usize, usize) -> String;

/// The contenders: a package name, and its source.
const CRATES: [(&str, Source); 3] = [
    ("cost-hand", hand),
    ("cost-smartasync", attribute),
    ("cost-async-trait", async_trait),
];

const PRELUDE: &str = "#![allow(clippy::all, dead_code)]\n\
    #[derive(Clone, Default)]\n\
    pub struct Service {\n    base: std::sync::Arc<u64>,\n}\n";

fn main() {
    let mut methods = 1000;
    let mut rounds = 5;
    let mut optimized = false;
    let mut smartasync = workspace_root().join("smartasync");
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        if arg == "--optimized-macros" {
            optimized = true;
            continue;
        }
        if arg == "--smartasync" {
            match args.next() {
                Some(path) => smartasync = PathBuf::from(path),
                None => usage(),
            }
            continue;
        }
        let value = args.next().and_then(|value| value.parse().ok());
        match (arg.as_str(), value) {
            ("--methods", Some(value)) => methods = value,
            ("--rounds", Some(value)) => rounds = value,
            _ => usage(),
        }
    }
    let root = workspace_root().join(if optimized {
        "target/compile-cost-optimized"
    } else {
        "target/compile-cost"
    });
    let workspace = Workspace {
        root: root.clone(),
        methods,
        optimized,
        smartasync,
    };
    workspace.write(0, false);
    eprintln!(
        "compile_cost: building dependencies once in {}",
        root.display()
    );
    run(&root, &["build", "--workspace"]);

    println!(
        "| {methods} methods, debug | command | edit | median | min-max | ratio to hand-written |"
    );
    println!("|---|---|---|---:|---:|---:|");
    let mut medians = Vec::new();
    let mut generation = 1;
    for (command, edit) in [
        ("check", Edit::Comment),
        ("check", Edit::Lines),
        ("build", Edit::Comment),
        ("build", Edit::Lines),
    ] {
        // Dependencies checked (or built) once, and each crate once, before timing.
        workspace.write(generation, false);
        generation += 1;
        run(&root, &[command, "--workspace"]);
        let mut times = vec![Vec::new(); CRATES.len()];
        // Round-robin, so that what the machine does meanwhile falls on every contender.
        for round in 0..rounds {
            for (index, (name, _)) in CRATES.iter().enumerate() {
                // With `lines`, the blank line comes and goes from one build to the next.
                workspace.write_crate(index, generation, edit == Edit::Lines && round % 2 == 0);
                generation += 1;
                let start = Instant::now();
                run(&root, &[command, "-p", name]);
                times[index].push(start.elapsed());
            }
        }
        let mut hand = Duration::ZERO;
        for ((name, _), mut times) in CRATES.iter().zip(times) {
            times.sort();
            let median = times[times.len() / 2];
            if *name == "cost-hand" {
                hand = median;
            }
            let ratio = median.as_secs_f64() / hand.as_secs_f64();
            println!(
                "| {name} | cargo {command} | {} | {:.2} s | {:.2}-{:.2} s | {ratio:.2}x |",
                edit.name(),
                median.as_secs_f64(),
                times[0].as_secs_f64(),
                times[times.len() - 1].as_secs_f64(),
            );
            medians.push((command, edit, *name, ratio));
        }
    }
    let ratio = |command: &str, edit: Edit, name: &str| {
        medians
            .iter()
            .find(|(c, e, n, _)| *c == command && *e == edit && *n == name)
            .map_or(f64::NAN, |(_, _, _, ratio)| *ratio)
    };
    println!(
        "compile_cost: check_ratio={:.2} build_ratio={:.2} check_ratio_lines={:.2} \
         build_ratio_lines={:.2} check_ratio_async_trait={:.2} build_ratio_async_trait={:.2}",
        ratio("check", Edit::Comment, "cost-smartasync"),
        ratio("build", Edit::Comment, "cost-smartasync"),
        ratio("check", Edit::Lines, "cost-smartasync"),
        ratio("build", Edit::Lines, "cost-smartasync"),
        ratio("check", Edit::Comment, "cost-async-trait"),
        ratio("build", Edit::Comment, "cost-async-trait"),
    );
}

fn usage() -> ! {
    eprintln!(
        "usage: compile_cost [--methods N] [--rounds R] [--optimized-macros] \
         [--smartasync DIR (another checkout's smartasync/, to compare)]"
    );
    std::process::exit(2);
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("benches/ is in the workspace")
        .to_path_buf()
}

fn run(root: &Path, args: &[&str]) {
    let status = Command::new(env!("CARGO"))
        .args(args)
        .arg("--quiet")
        .current_dir(root)
        .env("CARGO_TARGET_DIR", root.join("target"))
        .status()
        .expect("cargo runs");
    assert!(
        status.success(),
        "cargo {args:?} failed in {}",
        root.display()
    );
}

/// The generated workspace.
struct Workspace {
    root: PathBuf,
    methods: usize,
    /// Proc macros and their parsing crates compiled with optimizations in the dev profile.
    optimized: bool,
    /// The runtime crate measured.
    smartasync: PathBuf,
}

/// What an application adds to its manifest to run the attributes' code optimized.
const OPTIMIZED_MACROS: &str = "\n[profile.dev.package.smartasync-macros]\nopt-level = 3\n\
    [profile.dev.package.async-trait]\nopt-level = 3\n\
    [profile.dev.package.syn]\nopt-level = 3\n\
    [profile.dev.package.proc-macro2]\nopt-level = 3\n\
    [profile.dev.package.quote]\nopt-level = 3\n";

/// How each crate's source changes between two timed builds.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Edit {
    /// The first line's comment: nothing moves.
    Comment,
    /// Also a blank line added or removed after it: everything below moves.
    Lines,
}

impl Edit {
    fn name(self) -> &'static str {
        match self {
            Edit::Comment => "comment",
            Edit::Lines => "lines",
        }
    }
}

impl Workspace {
    /// Writes the workspace and every crate (see [`Workspace::write_crate`]).
    fn write(&self, generation: usize, moved: bool) {
        let (root, smartasync) = (&self.root, &self.smartasync);
        let mut manifest = format!(
            "[workspace]\nmembers = [{members}]\nresolver = \"3\"\n\n\
         [workspace.dependencies]\n\
         smartasync = {{ path = {path:?} }}\n\
         async-trait = \"0.1\"\n\
         tokio = {{ version = \"1\", default-features = false, features = [\"rt\"] }}\n",
            members = CRATES
                .iter()
                .map(|(name, _)| format!("{name:?}"))
                .collect::<Vec<_>>()
                .join(", "),
            path = smartasync.display().to_string(),
        );
        if self.optimized {
            manifest.push_str(OPTIMIZED_MACROS);
        }
        write_if_changed(&root.join("Cargo.toml"), &manifest);
        for index in 0..CRATES.len() {
            self.write_crate(index, generation, moved);
        }
    }

    /// Writes one crate; `generation` changes its source (a comment), so that the next
    /// command rebuilds it, and nothing else; with `moved`, a blank line after the comment
    /// moves everything below.
    fn write_crate(&self, index: usize, generation: usize, moved: bool) {
        let (name, source) = CRATES[index];
        let dir = self.root.join(name);
        let package = format!(
            "[package]\nname = {name:?}\nversion = \"0.0.0\"\nedition = \"2021\"\npublish = false\n\n\
             [dependencies]\nsmartasync.workspace = true\nasync-trait.workspace = true\n\
             tokio.workspace = true\n"
        );
        write_if_changed(&dir.join("Cargo.toml"), &package);
        let mut text = source(self.methods, generation);
        if moved {
            let first = text.find('\n').map_or(0, |end| end + 1);
            text.insert(first, '\n');
        }
        write_if_changed(&dir.join("src/lib.rs"), &text);
    }
}

fn write_if_changed(path: &Path, text: &str) {
    if std::fs::read_to_string(path).ok().as_deref() == Some(text) {
        return;
    }
    std::fs::create_dir_all(path.parent().expect("a file in a folder")).expect("a folder");
    std::fs::write(path, text).expect("the file is written");
}

/// The body every method has: uses each argument, returns a `Result`.
fn body(index: usize) -> String {
    format!("Ok(*self.base + n + key.len() as u64 + {index})")
}

/// The pairs written by hand, as `#[smartasync]` documents its expansion.
fn hand(methods: usize, generation: usize) -> String {
    let mut source = format!("// generation {generation}\n{PRELUDE}\nimpl Service {{\n");
    for index in 0..methods / 2 {
        let body = body(index);
        let _ = write!(
            source,
            "    pub fn get_{index}(&self, key: &str, n: u64) -> Result<u64, String> {{ {body} }}\n\
             \x20   pub fn get_{index}_async(&self, key: &str, n: u64) \
             -> impl std::future::Future<Output = Result<u64, String>> + Send + 'static {{\n\
             \x20       let this = self.clone();\n\
             \x20       let key = key.to_owned();\n\
             \x20       smartasync::unblock(move || Self::get_{index}(&this, &key, n))\n    }}\n\
             \x20   pub async fn fetch_{index}_async(&self, key: &str, n: u64) -> Result<u64, String> {{ {body} }}\n\
             \x20   pub fn fetch_{index}(&self, key: &str, n: u64) -> Result<u64, String> {{\n\
             \x20       smartasync::block_on(self.fetch_{index}_async(key, n))\n    }}\n"
        );
    }
    source.push_str("}\n");
    source
}

/// The same pairs from `#[smartasync]` on the block.
fn attribute(methods: usize, generation: usize) -> String {
    let mut source = format!(
        "// generation {generation}\n{PRELUDE}\n#[smartasync::smartasync]\nimpl Service {{\n"
    );
    for index in 0..methods / 2 {
        let body = body(index);
        let _ = write!(
            source,
            "    pub fn get_{index}(&self, key: &str, n: u64) -> Result<u64, String> {{ {body} }}\n\
             \x20   pub async fn fetch_{index}(&self, key: &str, n: u64) -> Result<u64, String> {{ {body} }}\n"
        );
    }
    source.push_str("}\n");
    source
}

/// The same methods, all `async fn`, in a trait and its impl under `#[async_trait]`.
fn async_trait(methods: usize, generation: usize) -> String {
    let mut source = format!(
        "// generation {generation}\n{PRELUDE}\n#[async_trait::async_trait]\npub trait Api {{\n"
    );
    for index in 0..methods {
        let _ = writeln!(
            source,
            "    async fn get_{index}(&self, key: &str, n: u64) -> Result<u64, String>;"
        );
    }
    source.push_str("}\n\n#[async_trait::async_trait]\nimpl Api for Service {\n");
    for index in 0..methods {
        let body = body(index);
        let _ = writeln!(
            source,
            "    async fn get_{index}(&self, key: &str, n: u64) -> Result<u64, String> {{ {body} }}"
        );
    }
    source.push_str("}\n");
    source
}
