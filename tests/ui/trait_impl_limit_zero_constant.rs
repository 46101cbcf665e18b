use smartasync::smartasync;

const WRITERS: usize = 0;

#[smartasync]
trait Write: Send + Sync {
    fn write(&self, value: u32) -> u32;
}

#[derive(Clone)]
struct Store;

#[smartasync]
impl Write for Store {
    #[smartasync(limit = WRITERS)]
    fn write(&self, value: u32) -> u32 {
        value
    }
}

fn main() {}
