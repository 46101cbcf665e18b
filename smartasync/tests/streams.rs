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
