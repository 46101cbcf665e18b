use smartasync::smartasync;

static DB: u32 = 7;

#[smartasync]
trait Write: Send + Sync {
    fn write(&self, id: u32) -> u32;
}

#[derive(Clone)]
struct Store;

#[smartasync]
impl Write for Store {
    #[smartasync(lane = DB)]
    fn write(&self, id: u32) -> u32 {
        id
    }
}

fn main() {}
