fn push(&mut self, item: &mut Vec<u8>) -> usize {
    item.len()
}
#[allow(unused_variables, unused_mut, clippy::unused_async)]
async fn push_async(&mut self, item: &mut Vec<u8>) -> usize {
    ::core::unreachable!()
}
::core::compile_error! {
    "`&mut self` cannot cross to the blocking pool: the `_async` entry of a `fn` body runs the body on another thread and returns a `'static` future\nways out: take `&self` and keep mutable state behind a `Mutex` (interior mutability), take `self: Arc<Self>`, write the body as `async fn`, or use `#[smartasync(in_place)]`"
}
::core::compile_error! {
    "argument `item` is `&mut`: the `_async` entry of a `fn` body runs the body on another thread and returns a `'static` future, so it cannot hold the caller's mutable borrow\nways out: take the value by value and return it, share it as `Arc<Mutex<..>>`, write the body as `async fn`, or use `#[smartasync(in_place)]`"
}
