use smartasync::{smartasync, Lane};

static DB: Lane = Lane::new("db");

#[smartasync]
trait Write: Send + Sync {
    fn write(&self, id: u32) -> u32;
}

#[derive(Clone)]
struct Store;

#[smartasync]
impl Write for Store {
    #[smartasync(lane = DB, limit = 2)]
    fn write(&self, id: u32) -> u32 {
        id
    }
}

fn main() {}
