use smartasync::smartasync;

#[derive(Clone)]
struct Store;

impl Store {
    #[smartasync(limit = pool_size())]
    fn write(&self, value: u32) -> u32 {
        value
    }
}

fn pool_size() -> usize {
    4
}

fn main() {}
