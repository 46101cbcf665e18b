use smartasync::{smartasync, Lane};

static DB: Lane = Lane::new("db");

#[smartasync]
trait Insert: Send + Sync {
    fn insert(&mut self) -> u32;
}

#[derive(Clone)]
struct Store {
    rows: u32,
}

#[smartasync]
impl Insert for Store {
    #[smartasync(lane = DB)]
    fn insert(&mut self) -> u32 {
        self.rows += 1;
        self.rows
    }
}

fn main() {}
