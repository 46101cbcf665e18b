use smartasync::{smartasync, Lane};

static DB: Lane = Lane::new("db");

#[smartasync]
trait Write: Send + Sync {
    #[smartasync(lane = DB)]
    fn write(&self, id: u32) -> u32;
}

fn main() {}
