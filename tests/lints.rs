//! Generated items stay clean under the strictest lint sets (rustc's here, clippy's when
//! `cargo clippy --all-targets` checks this file): users who deny warnings can annotate
//! their code without allowing anything.
#![deny(
    warnings,
    clippy::all,
    clippy::pedantic,
    unused_qualifications,
    missing_docs
)]

use std::path::Path;
use std::sync::Arc;

use smartasync::smartasync;

/// Items as a library would publish them.
pub mod library {
    use super::{Arc, Path, smartasync};
    use smartasync::Stream;

    /// A cheap handle to a service.
    #[derive(Clone, Debug, Default)]
    pub struct Service {
        base: u32,
    }

    /// An error.
    #[derive(Debug, PartialEq, Eq)]
    pub struct Failure;

    impl Service {
        /// Creates the service.
        ///
        /// # Errors
        ///
        /// When `url` is not a number.
        #[smartasync]
        pub fn open(url: &str) -> Result<Self, Failure> {
            url.parse().map(|base| Self { base }).map_err(|_| Failure)
        }

        /// Connects.
        ///
        /// # Errors
        ///
        /// When `url` is not a number.
        #[smartasync]
        pub async fn connect(url: &str) -> Result<Self, Failure> {
            tokio::task::yield_now().await;
            url.parse().map(|base| Self { base }).map_err(|_| Failure)
        }

        /// Reads.
        #[must_use]
        #[smartasync]
        pub fn read(&self, key: &str, path: &Path) -> String {
            format!("{key}{}{}", self.base, path.display())
        }

        /// Reads later.
        #[must_use]
        #[smartasync]
        pub async fn fetch(&self, key: &str) -> String {
            tokio::task::yield_now().await;
            format!("{key}{}", self.base)
        }

        /// Writes.
        #[smartasync]
        pub async fn write(&mut self, base: u32) {
            tokio::task::yield_now().await;
            self.base = base;
        }

        /// Consumes a shared handle.
        #[must_use]
        #[smartasync]
        pub fn shared(self: Arc<Self>, extra: u32) -> u32 {
            self.base + extra
        }

        /// Adjusts in place.
        #[smartasync(in_place)]
        pub fn adjust(&mut self, by: u32) {
            self.base += by;
        }

        /// Sums a pattern.
        #[must_use]
        #[smartasync]
        pub fn pair(&self, (left, right): (u32, u32)) -> u32 {
            left + right + self.base
        }
    }

    /// Sums.
    #[must_use]
    #[smartasync]
    pub fn sum(values: &[u32]) -> u32 {
        values.iter().sum()
    }

    /// Ignores its arguments, which cross as they are or as a copy.
    #[must_use]
    #[smartasync]
    pub fn ignore(_count: u32, _name: &str) -> u32 {
        0
    }

    /// Shows a value whose type has bounds where it is declared.
    #[must_use]
    #[smartasync]
    pub fn show<T: std::fmt::Debug + Clone + Send + Sync + 'static>(value: &T) -> String {
        format!("{value:?}")
    }

    /// A repository, blocking or async.
    #[smartasync]
    pub trait Repository: Send + Sync {
        /// Loads.
        fn load(&self, key: &str, tags: &[String]) -> Option<String>;

        /// Stores.
        async fn store(&self, key: String, pair: (u32, u32)) -> u32;

        /// Counts, provided.
        fn count(&self) -> usize {
            usize::from(self.load("count", &[]).is_some())
        }

        /// A name borrowed from `self` (an elided output lifetime).
        async fn label(&self) -> &str;

        /// Lists, provided.
        async fn list(&self, mut limit: usize) -> Vec<String> {
            limit = limit.min(1);
            self.load_async("list", &[])
                .await
                .into_iter()
                .take(limit)
                .collect()
        }
    }

    /// Shows values: an `impl Trait` argument that the async entry's future holds.
    #[smartasync]
    pub trait Shows: Send + Sync {
        /// Shows any value.
        fn show(&self, value: impl std::fmt::Display + Send + Sync) -> String;
    }

    #[smartasync]
    impl Shows for Remote {
        async fn show(&self, value: impl std::fmt::Display + Send + Sync) -> String {
            tokio::task::yield_now().await;
            value.to_string()
        }
    }

    /// A blocking repository.
    #[derive(Clone, Debug, Default)]
    pub struct Blocking;

    #[smartasync]
    impl Repository for Blocking {
        fn load(&self, key: &str, tags: &[String]) -> Option<String> {
            Some(format!("{key}{}", tags.len()))
        }

        fn store(&self, key: String, (left, right): (u32, u32)) -> u32 {
            u32::try_from(key.len()).unwrap_or(u32::MAX) + left + right
        }

        async fn label(&self) -> &str {
            tokio::task::yield_now().await;
            "blocking"
        }
    }

    /// An async repository.
    #[derive(Debug, Default)]
    pub struct Remote;

    #[smartasync]
    impl Repository for Remote {
        async fn load(&self, key: &str, tags: &[String]) -> Option<String> {
            tokio::task::yield_now().await;
            Some(format!("{key}{}", tags.len()))
        }

        async fn store(&self, key: String, (left, right): (u32, u32)) -> u32 {
            u32::try_from(key.len()).unwrap_or(u32::MAX) + left + right
        }

        // The test's own choice of a literal, not the attribute's code.
        #[allow(clippy::unnecessary_literal_bound)]
        #[smartasync(in_place)]
        fn label(&self) -> &str {
            "remote"
        }

        #[smartasync(in_place)]
        fn count(&self) -> usize {
            2
        }
    }

    /// An inherent block.
    #[smartasync]
    impl Service {
        /// The base, later.
        #[must_use]
        pub fn base(&self) -> u32 {
            self.base
        }

        /// A constructor.
        #[must_use]
        pub async fn zero() -> Self {
            tokio::task::yield_now().await;
            Self { base: 0 }
        }
    }

    /// Rows, one at a time.
    #[smartasync]
    pub fn rows(count: u32) -> impl Iterator<Item = u32> {
        0..count
    }

    /// Rows of a service, or its failure.
    #[smartasync]
    impl Service {
        /// Rows from the base.
        ///
        /// # Errors
        ///
        /// When `count` is 0.
        pub fn rows_from(&self, count: u32) -> Result<impl Iterator<Item = u32> + '_, Failure> {
            if count == 0 {
                return Err(Failure);
            }
            Ok((0..count).map(|row| row + self.base))
        }

        /// Pages, later.
        pub async fn pages(&self, count: u32) -> impl Stream<Item = u32> {
            tokio::task::yield_now().await;
            futures::stream::iter(self.base..self.base + count)
        }
    }

    /// A source of rows written either way.
    #[smartasync]
    pub trait Source: Send + Sync {
        /// The rows.
        fn rows(&self, count: u32) -> impl Iterator<Item = u32>;

        /// The rows, or a failure.
        ///
        /// # Errors
        ///
        /// When `count` is 0.
        fn try_rows(&self, count: u32) -> Result<impl Iterator<Item = u32>, Failure>;
    }

    #[smartasync]
    impl Source for Blocking {
        fn rows(&self, count: u32) -> impl Iterator<Item = u32> {
            0..count
        }

        fn try_rows(&self, count: u32) -> Result<impl Iterator<Item = u32>, Failure> {
            if count == 0 {
                Err(Failure)
            } else {
                Ok(0..count)
            }
        }
    }

    #[smartasync]
    impl Source for Remote {
        async fn rows(&self, count: u32) -> impl Stream<Item = u32> {
            futures::stream::iter(0..count)
        }

        async fn try_rows(&self, count: u32) -> Result<impl Stream<Item = u32>, Failure> {
            tokio::task::yield_now().await;
            if count == 0 {
                Err(Failure)
            } else {
                Ok(futures::stream::iter(0..count))
            }
        }
    }

    /// Sums later.
    #[must_use]
    #[smartasync]
    pub async fn sum_later(values: Vec<u32>) -> u32 {
        tokio::task::yield_now().await;
        values.iter().sum()
    }
}

/// A trait impl's boxed entries no longer name the stream trait its method writes: the
/// import of it must still count as used.
pub mod imported_stream {
    use smartasync::{Stream, smartasync};

    /// Numbers.
    #[smartasync]
    pub trait Numbers: Send + Sync {
        /// Up to `n`.
        fn upto(&self, n: u32) -> impl Iterator<Item = u32>;
    }

    /// Numbers from an async source.
    pub struct Remote;

    #[smartasync]
    impl Numbers for Remote {
        async fn upto(&self, n: u32) -> impl Stream<Item = u32> + Send {
            futures::stream::iter(0..n)
        }
    }
}

#[test]
fn linted_items_work() {
    use library::{Service, sum, sum_async, sum_later, sum_later_async};

    let mut service = Service::open("1").expect("a number");
    assert_eq!(Service::connect("x").map(|_| ()), Err(library::Failure));
    assert_eq!(service.read("k", Path::new("p")), "k1p");
    assert_eq!(service.fetch("k"), "k1");
    service.write(2);
    assert_eq!(Arc::new(service.clone()).shared(1), 3);
    assert_eq!(service.pair((1, 1)), 4);
    assert_eq!(sum(&[1, 2]), 3);
    assert_eq!(sum_later(vec![1, 2]), 3);
    assert_eq!(library::show(&1), "1");
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    runtime.block_on(async {
        let mut service = Service::open_async("1").await.expect("a number");
        assert_eq!(service.read_async("k", Path::new("p")).await, "k1p");
        service.adjust_async(1).await;
        assert_eq!(service.fetch_async("k").await, "k2");
        assert_eq!(sum_async(&[1, 2]).await + sum_later_async(vec![3]).await, 6);
        for repository in [
            Box::new(library::Blocking) as Box<dyn library::Repository>,
            Box::new(library::Remote),
        ] {
            assert_eq!(
                repository
                    .load_async("k", &["t".to_owned()])
                    .await
                    .as_deref(),
                Some("k1")
            );
            assert_eq!(repository.store_async("ab".into(), (1, 2)).await, 5);
            assert_eq!(repository.list_async(3).await, ["list0"]);
            assert!(repository.count_async().await >= 1);
            assert!(!repository.label_async().await.is_empty());
        }
        assert_eq!(Service::zero_async().await.base_async().await, 0);
        assert_eq!(library::Shows::show_async(&library::Remote, 7).await, "7");
    });
    let repository: &dyn library::Repository = &library::Remote;
    assert_eq!(repository.store("a".into(), (0, 0)), 1);
    assert_eq!(repository.count(), 2);
    assert_eq!(Service::zero().base(), 0);
}

#[test]
fn linted_streams_work() {
    use futures::StreamExt;
    use library::{Service, Source};

    let service = Service::open("1").expect("a number");
    assert_eq!(library::rows(2).collect::<Vec<_>>(), [0, 1]);
    assert_eq!(
        service.rows_from(2).expect("rows").collect::<Vec<_>>(),
        [1, 2]
    );
    assert_eq!(service.pages(2).collect::<Vec<_>>(), [1, 2]);
    let sources: [&dyn Source; 2] = [&library::Blocking, &library::Remote];
    for source in sources {
        assert_eq!(source.rows(2).collect::<Vec<_>>(), [0, 1]);
        assert!(source.try_rows(0).is_err());
    }
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    runtime.block_on(async {
        assert_eq!(library::rows_async(2).collect::<Vec<_>>().await, [0, 1]);
        let rows = service.rows_from_async(2).await.expect("rows");
        assert_eq!(rows.collect::<Vec<_>>().await, [1, 2]);
        for source in sources {
            assert_eq!(source.rows_async(3).collect::<Vec<_>>().await, [0, 1, 2]);
            let rows = source.try_rows_async(1).await.expect("rows");
            assert_eq!(rows.collect::<Vec<_>>().await, [0]);
        }
    });
}
