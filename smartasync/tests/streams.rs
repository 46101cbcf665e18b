//! Streams: a blocking iterator awaited as a `Stream` (`unblock_iter`, the async entry of a
//! `fn` body returning `impl Iterator`), and a `Stream` iterated from sync code
//! (`block_on_stream`, the blocking entry of a body returning `impl Stream`).

use std::pin::Pin;

use smartasync::Stream;

async fn next<S: Stream + Unpin>(stream: &mut S) -> Option<S::Item> {
    std::future::poll_fn(|cx| Pin::new(&mut *stream).poll_next(cx)).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_iterator_is_awaited_as_a_stream_in_order() {
    let mut stream = smartasync::unblock_iter(|| 0..10_000u32);
    let mut expected = 0;
    while let Some(item) = next(&mut stream).await {
        assert_eq!(item, expected);
        expected += 1;
    }
    assert_eq!(expected, 10_000);
    assert_eq!(next(&mut stream).await, None);
}

#[test]
fn a_stream_is_iterated_from_sync_code() {
    let stream = smartasync::unblock_iter(|| 0..1000u32);
    let items: Vec<u32> = smartasync::block_on_stream(stream).collect();
    assert_eq!(items, (0..1000).collect::<Vec<_>>());
}

mod shapes {
    use std::sync::Arc;

    use smartasync::{smartasync, Lane, Stream};

    #[derive(Clone)]
    pub struct Table {
        pub rows: Arc<Vec<u32>>,
    }

    impl Table {
        #[smartasync]
        pub fn scan(&self, from: u32) -> impl Iterator<Item = u32> + '_ {
            self.rows.iter().copied().filter(move |row| *row >= from)
        }

        #[smartasync]
        pub fn try_scan(&self, prefix: &str) -> Result<impl Iterator<Item = String>, String> {
            if prefix.is_empty() {
                return Err("empty prefix".to_owned());
            }
            let prefix = prefix.to_owned();
            let rows = Arc::clone(&self.rows);
            Ok((0..rows.len()).map(move |i| format!("{prefix}{}", rows[i])))
        }

        #[smartasync]
        pub async fn pages(&self, count: u32) -> impl Stream<Item = u32> {
            tokio::task::yield_now().await;
            let start = self.rows.len() as u32;
            futures::stream::iter(start..start + count)
        }

        #[smartasync]
        pub async fn try_pages(&self, count: u32) -> Result<impl Stream<Item = u32>, String> {
            if count == 0 {
                return Err("no pages".to_owned());
            }
            Ok(futures::stream::iter(0..count))
        }

        #[smartasync]
        pub fn ticks(&self, count: u32) -> impl Stream<Item = u32> + Send + 'static {
            futures::stream::iter(0..count)
        }
    }

    #[smartasync]
    pub fn numbers(n: u32) -> impl Iterator<Item = u32> {
        0..n
    }

    #[smartasync]
    pub async fn countdown(n: u32) -> impl Stream<Item = u32> {
        futures::stream::iter((0..n).rev())
    }

    pub static LANE: Lane = Lane::new("streams-lane");

    #[smartasync(lane = LANE)]
    pub fn on_lane(n: u32) -> impl Iterator<Item = String> {
        let thread = std::thread::current().name().unwrap_or("").to_owned();
        (0..n).map(move |i| format!("{thread}:{i}"))
    }

    #[smartasync]
    pub trait Source: Send + Sync {
        fn items(&self, n: u32) -> impl Iterator<Item = u32>;
        fn named(&self, prefix: &str) -> Result<impl Iterator<Item = String>, String>;
    }

    #[derive(Clone)]
    pub struct Blocking;

    #[smartasync]
    impl Source for Blocking {
        fn items(&self, n: u32) -> impl Iterator<Item = u32> {
            0..n
        }

        fn named(&self, prefix: &str) -> Result<impl Iterator<Item = String>, String> {
            let prefix = prefix.to_owned();
            Ok((0..2).map(move |i| format!("{prefix}{i}")))
        }
    }

    pub struct Async;

    #[smartasync]
    impl Source for Async {
        async fn items(&self, n: u32) -> impl Stream<Item = u32> {
            futures::stream::iter(0..n)
        }

        async fn named(&self, prefix: &str) -> Result<impl Stream<Item = String>, String> {
            let prefix = prefix.to_owned();
            Ok(futures::stream::iter(
                (0..2).map(move |i| format!("{prefix}{i}")),
            ))
        }
    }
}

#[test]
fn shapes_from_sync_code() {
    use shapes::*;
    let table = Table {
        rows: std::sync::Arc::new(vec![1, 2, 3]),
    };
    assert_eq!(table.scan(2).collect::<Vec<_>>(), [2, 3]);
    assert_eq!(table.pages(2).collect::<Vec<_>>(), [3, 4]);
    assert_eq!(table.try_pages(2).unwrap().collect::<Vec<_>>(), [0, 1]);
    assert!(table.try_pages(0).is_err());
    assert_eq!(table.ticks(2).collect::<Vec<_>>(), [0, 1]);
    assert_eq!(numbers(3).collect::<Vec<_>>(), [0, 1, 2]);
    assert_eq!(countdown(3).collect::<Vec<_>>(), [2, 1, 0]);
    let on = on_lane(2).collect::<Vec<_>>();
    assert_eq!(on, ["streams-lane-0:0", "streams-lane-0:1"]);
    let sources: Vec<std::sync::Arc<dyn Source>> =
        vec![std::sync::Arc::new(Blocking), std::sync::Arc::new(Async)];
    for source in &sources {
        assert_eq!(source.items(3).collect::<Vec<_>>(), [0, 1, 2]);
        assert_eq!(source.named("x").unwrap().collect::<Vec<_>>(), ["x0", "x1"]);
    }
}

#[tokio::test]
async fn shapes_from_async_code() {
    use shapes::*;
    let table = Table {
        rows: std::sync::Arc::new(vec![1, 2, 3]),
    };
    let mut scan = table.scan_async(2);
    assert_eq!(next(&mut scan).await, Some(2));
    let mut all = table.try_scan_async("r").await.unwrap();
    assert_eq!(next(&mut all).await.as_deref(), Some("r1"));
    assert!(table.try_scan_async("").await.is_err());
    let mut n = std::pin::pin!(numbers_async(2));
    assert_eq!(
        std::future::poll_fn(|cx| n.as_mut().poll_next(cx)).await,
        Some(0)
    );
    let mut lane = std::pin::pin!(on_lane_async(1));
    assert_eq!(
        std::future::poll_fn(|cx| lane.as_mut().poll_next(cx))
            .await
            .as_deref(),
        Some("streams-lane-0:0")
    );
    let sources: Vec<std::sync::Arc<dyn Source>> =
        vec![std::sync::Arc::new(Blocking), std::sync::Arc::new(Async)];
    for source in &sources {
        let mut items = source.items_async(3);
        assert_eq!(next(&mut items).await, Some(0));
        let mut named = source.named_async("y").await.unwrap();
        assert_eq!(next(&mut named).await.as_deref(), Some("y0"));
    }
}
