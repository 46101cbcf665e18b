// `#[derive(Clone)]` makes `Wrapper<T>: Clone` only when `T: Clone`.
use smartasync::smartasync;

#[smartasync]
trait Store: Send + Sync {
    fn len(&self) -> usize;
}

#[derive(Clone)]
struct Wrapper<T>(Vec<T>);

#[smartasync]
impl<T: Send + Sync + 'static> Store for Wrapper<T> {
    fn len(&self) -> usize {
        self.0.len()
    }
}

fn main() {}
