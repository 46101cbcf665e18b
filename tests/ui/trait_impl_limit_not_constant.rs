use smartasync::smartasync;

#[smartasync]
trait Write: Send + Sync {
    fn write(&self, value: u32) -> u32;
}

#[derive(Clone)]
struct Store;

#[smartasync]
impl Write for Store {
    #[smartasync(limit = pool_size())]
    fn write(&self, value: u32) -> u32 {
        value
    }
}

fn pool_size() -> usize {
    4
}

fn main() {}
