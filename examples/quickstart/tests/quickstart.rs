//! Runs the quickstart's walk-through (the README's main command) and checks each line:
//! the entry called, the value returned and the thread the body ran on.

use std::thread;

#[allow(dead_code)] // the example's `main`
#[path = "../main.rs"]
mod quickstart;

const CALLER: &str = "quickstart-caller";

/// The walk-through's output, run on a thread with a known name (as `main` is in the example).
fn walk_through() -> String {
    thread::Builder::new()
        .name(CALLER.into())
        .spawn(|| {
            let mut out = Vec::new();
            quickstart::run(&mut out).expect("the walk-through runs");
            String::from_utf8(out).expect("UTF-8 output")
        })
        .unwrap()
        .join()
        .expect("no panic")
}

#[test]
fn quickstart_walks_both_directions_and_says_where_each_body_ran() {
    let output = walk_through();
    let lines: Vec<&str> = output.lines().collect();
    assert_eq!(lines.len(), 10, "{output}");

    // (line, section heading or call, value, thread the body ran on)
    let caller = format!("{CALLER:?}");
    let expected: [(usize, &str, &str, &str); 6] = [
        (1, "svc.checksum(&data)", "6", &caller),
        (2, "svc.lookup(\"key\")", "\"KEY\"", &caller),
        (
            4,
            "svc.checksum_async(&data).await",
            "6",
            "\"app-blocking\"",
        ),
        (5, "svc.lookup_async(\"key\").await", "\"KEY\"", &caller),
        (6, "svc.lookup(\"key\")", "\"KEY\"", &caller),
        (8, "svc.lookup(\"key\")", "\"KEY\"", "\"app-worker\""),
    ];
    for (index, call, value, thread) in expected {
        let line = lines[index];
        let rest = line
            .strip_prefix("   ")
            .and_then(|line| line.strip_prefix(call))
            .unwrap_or_else(|| panic!("line {index} should show `{call}`: {line}"));
        let rest = rest.trim_start();
        assert!(
            rest.starts_with(&format!("-> {value} ")),
            "line {index} should return {value}: {line}"
        );
        assert!(
            rest.contains(&format!("body ran on {thread} ")),
            "line {index} should run on {thread}: {line}"
        );
    }

    assert!(lines[0].starts_with("1. plain sync code on \"quickstart-caller\""));
    assert!(lines[3].starts_with("2. "), "{}", lines[3]);
    assert!(lines[7].starts_with("3. "), "{}", lines[7]);

    // The target is well under 2 s; only a generous bound here (timing belongs in benches).
    let millis: u64 = lines[9]
        .strip_prefix("done in ")
        .and_then(|rest| rest.strip_suffix(" ms"))
        .and_then(|ms| ms.parse().ok())
        .unwrap_or_else(|| panic!("last line: {}", lines[9]));
    assert!(millis < 20_000, "{millis} ms");
}
