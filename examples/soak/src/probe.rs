//! The process's thread count and resident memory, read from `/proc/self/status` (Linux).
//! Elsewhere every reading is `None` and the soak skips the checks that need them.

use std::fs;

/// One reading of `/proc/self/status`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Status {
    /// `Threads:`, the threads of this process.
    pub threads: u64,
    /// `VmRSS:`, resident memory in KiB.
    pub rss_kib: u64,
}

/// Reads the process's status, or `None` where `/proc` is not available.
pub fn status() -> Option<Status> {
    let text = fs::read_to_string("/proc/self/status").ok()?;
    parse(&text)
}

fn parse(text: &str) -> Option<Status> {
    let field = |name: &str| {
        text.lines()
            .find_map(|line| line.strip_prefix(name))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|number| number.parse().ok())
    };
    Some(Status {
        threads: field("Threads:")?,
        rss_kib: field("VmRSS:")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_threads_and_rss() {
        let text = "Name:\tsoak\nVmRSS:\t   10240 kB\nThreads:\t17\n";
        assert_eq!(
            parse(text),
            Some(Status {
                threads: 17,
                rss_kib: 10240
            })
        );
        assert_eq!(parse("Name:\tsoak\n"), None);
    }

    #[test]
    #[cfg(target_os = "linux")]
    fn this_process_has_threads() {
        let status = status().expect("Linux has /proc/self/status");
        assert!(status.threads >= 1 && status.rss_kib > 0, "{status:?}");
    }
}
