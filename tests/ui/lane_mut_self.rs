use smartasync::{smartasync, Lane};

static DB: Lane = Lane::new("db");

#[derive(Clone)]
struct Store {
    rows: u32,
}

impl Store {
    #[smartasync(lane = DB)]
    fn insert(&mut self) -> u32 {
        self.rows += 1;
        self.rows
    }
}

fn main() {}
