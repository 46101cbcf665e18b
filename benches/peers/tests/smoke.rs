//! The peers command in its smoke mode: every contender of both scenarios serves its
//! requests without an error, the tables and pictures come out, and the last line has
//! every figure. A few seconds, in a debug build; the figures themselves mean nothing here.

use smartasync_peers::{Options, http, run, sqlite};

#[test]
fn every_contender_serves_and_the_report_is_complete() {
    let plots = std::env::temp_dir().join(format!("smartasync-peers-smoke-{}", std::process::id()));
    let options = Options {
        plots: Some(plots.clone()),
        ..Options::smoke()
    };
    let mut out = Vec::new();
    let report = run(&options, &mut out).expect("the smoke run");
    let text = String::from_utf8(out).unwrap();

    assert_eq!(report.errors(), 0, "{text}");
    assert_eq!(
        report.sqlite.len(),
        sqlite::Store::ALL.len() * options.clients.len()
    );
    assert_eq!(
        report.http.len(),
        http::Client::ALL.len() * options.clients.len()
    );
    for entry in report.sqlite.iter().chain(&report.http) {
        assert!(
            entry.summary.median.rps > 0.0,
            "{} at {} served nothing\n{text}",
            entry.name,
            entry.clients
        );
    }
    // Every store runs the same pragmas.
    let pragmas: Vec<&str> = text
        .lines()
        .filter_map(|line| line.split_once(": journal_mode=").map(|(_, rest)| rest))
        .collect();
    assert_eq!(pragmas.len(), sqlite::Store::ALL.len(), "{text}");
    assert!(
        pragmas
            .iter()
            .all(|p| *p == "wal synchronous=1 busy_timeout=5000"),
        "{pragmas:?}"
    );
    // The tables and the pictures.
    assert!(text.contains("| smartasync-lane | 8 |"), "{text}");
    assert!(text.contains("| ureq | 8 |"), "{text}");
    // The per-round ratios under each table.
    assert!(text.contains("8 clients: smartasync-lane / "), "{text}");
    assert!(
        text.contains("8 clients: smartasync+reqwest / reqwest::blocking: "),
        "{text}"
    );
    for picture in [
        "sqlite-throughput",
        "sqlite-p99",
        "http-throughput",
        "http-p99",
    ] {
        let svg = std::fs::read_to_string(plots.join(format!("{picture}.svg"))).unwrap();
        assert!(
            svg.contains("<svg") && svg.contains("smartasync"),
            "{picture}"
        );
    }
    let _ = std::fs::remove_dir_all(&plots);

    let line = report.last_line();
    let figures: Vec<(&str, &str)> = line
        .strip_prefix("peers: ")
        .expect("the prefix")
        .split(' ')
        .map(|pair| pair.split_once('=').expect("key=value"))
        .collect();
    let keys: Vec<&str> = figures.iter().map(|(key, _)| *key).collect();
    assert_eq!(
        keys,
        ["sqlite_ratio", "sqlite_best", "http_ratio", "ureq_ratio"]
    );
    for (key, value) in figures {
        if key == "sqlite_best" {
            assert!(
                ["deadpool-sqlite", "tokio-rusqlite", "sqlx"].contains(&value),
                "{line}"
            );
        } else {
            assert!(value.parse::<f64>().is_ok_and(|x| x > 0.0), "{line}");
        }
    }
}
