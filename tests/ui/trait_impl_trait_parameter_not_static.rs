// A parameter of the trait and the impl, `Send` but not `'static`, as an argument of an
// offloaded body.
use smartasync::smartasync;

#[smartasync]
trait Sink<T>: Send + Sync {
    fn put(&self, value: T) -> usize;
}

#[derive(Clone)]
struct Counter;

#[smartasync]
impl<T: Send> Sink<T> for Counter {
    fn put(&self, value: T) -> usize {
        std::mem::size_of_val(&value)
    }
}

fn main() {}
